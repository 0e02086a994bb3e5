/** Environment variables by which well-known CI systems announce themselves, with the system's name. */
const CI_MARKERS: readonly (readonly [variable: string, name: string])[] = [
  ['GITHUB_ACTIONS', 'GitHub Actions'],
  ['GITLAB_CI', 'GitLab CI'],
  ['CIRCLECI', 'CircleCI'],
  ['TRAVIS', 'Travis CI'],
  ['BUILDKITE', 'Buildkite'],
  ['JENKINS_URL', 'Jenkins'],
  ['HUDSON_URL', 'Hudson'],
  ['TEAMCITY_VERSION', 'TeamCity'],
  ['TF_BUILD', 'Azure Pipelines'],
  ['CODEBUILD_BUILD_ID', 'AWS CodeBuild'],
  ['BITBUCKET_BUILD_NUMBER', 'Bitbucket Pipelines'],
  ['DRONE', 'Drone'],
  ['WOODPECKER_CI', 'Woodpecker'],
  ['APPVEYOR', 'AppVeyor'],
  ['SEMAPHORE', 'Semaphore'],
  ['CIRRUS_CI', 'Cirrus CI'],
  ['CF_BUILD_ID', 'Codefresh'],
  ['HARNESS_BUILD_ID', 'Harness'],
  ['BUDDY_WORKSPACE_ID', 'Buddy'],
  ['NETLIFY', 'Netlify'],
  ['VERCEL', 'Vercel'],
  ['HEROKU_TEST_RUN_ID', 'Heroku CI'],
  ['BUILD_BUILDID', 'Azure Pipelines'],
  ['SCREWDRIVER', 'Screwdriver'],
  ['BITRISE_IO', 'Bitrise'],
  ['TASKCLUSTER_ROOT_URL', 'Taskcluster'],
];

const FALSE_VALUES = new Set(['', '0', 'false', 'no', 'off']);

export interface TerminalState {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** Whether someone is at the keyboard, as far as the process can tell, and why not when not. */
export interface RunContext {
  /** A person can see what we print and act on it. */
  attended: boolean;
  /** A person can also answer a prompt (press Enter to open the browser). */
  interactive: boolean;
  /** Why the run is unattended, in words for the person reading a CI log. Empty when attended. */
  reasons: string[];
  /** The CI system detected, if any. */
  ci?: string;
}

/**
 * Tells a person's terminal from automation: a CI system (the `CI` variable or a well-known system's own), or no
 * terminal on any standard stream (cron, systemd, a pipe in a script). A device login there would leave a code
 * that nobody is meant to approve lying in a log, which is how device-code phishing starts.
 */
export function detectRunContext(env: NodeJS.ProcessEnv, tty: TerminalState): RunContext {
  const reasons: string[] = [];
  let ci: string | undefined;
  const marker = CI_MARKERS.find(([variable]) => !FALSE_VALUES.has((env[variable] ?? '').trim().toLowerCase()));
  if (marker) {
    ci = marker[1];
    reasons.push(`this looks like ${ci} (${marker[0]} is set)`);
  } else if (!FALSE_VALUES.has((env['CI'] ?? '').trim().toLowerCase())) {
    ci = 'a CI system';
    reasons.push('CI is set, so this looks like a CI job');
  }
  if (!tty.stdin && !tty.stdout && !tty.stderr) reasons.push('no terminal is attached (standard input and output are not a TTY)');
  const attended = reasons.length === 0;
  return { attended, interactive: attended && tty.stdin && tty.stderr, reasons, ...(ci ? { ci } : {}) };
}

/** The TTY state of a set of streams (an injected stream without `isTTY` counts as not a terminal). */
export function terminalState(streams: { stdin: unknown; stdout: unknown; stderr: unknown }): TerminalState {
  const isTty = (s: unknown) => Boolean((s as { isTTY?: boolean } | null)?.isTTY);
  return { stdin: isTty(streams.stdin), stdout: isTty(streams.stdout), stderr: isTty(streams.stderr) };
}
