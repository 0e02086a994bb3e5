import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectRunContext } from './attended.js';

const terminal = { stdin: true, stdout: true, stderr: true };
const none = { stdin: false, stdout: false, stderr: false };

test('a terminal without CI variables is attended and interactive', () => {
  const context = detectRunContext({ HOME: '/home/a' }, terminal);
  assert.deepEqual(context, { attended: true, interactive: true, reasons: [] });
});

test('CI=true, or a CI system\'s own variable, means nobody is at the keyboard, even with a pseudo-terminal', () => {
  for (const [env, name] of [
    [{ CI: 'true' }, 'a CI system'],
    [{ CI: '1' }, 'a CI system'],
    [{ GITHUB_ACTIONS: 'true' }, 'GitHub Actions'],
    [{ GITLAB_CI: 'true' }, 'GitLab CI'],
    [{ JENKINS_URL: 'https://ci.example/' }, 'Jenkins'],
    [{ BUILDKITE: 'true', CI: 'true' }, 'Buildkite'],
    [{ TF_BUILD: 'True' }, 'Azure Pipelines'],
  ] as const) {
    const context = detectRunContext(env, terminal);
    assert.equal(context.attended, false, JSON.stringify(env));
    assert.equal(context.interactive, false);
    assert.equal(context.ci, name);
    assert.equal(context.reasons.length, 1);
  }
});

test('CI set to a false value does not count', () => {
  for (const value of ['', '0', 'false', 'FALSE', 'no']) assert.equal(detectRunContext({ CI: value }, terminal).attended, true);
});

test('no terminal on any stream is unattended; a terminal on any one is someone watching', () => {
  const context = detectRunContext({}, none);
  assert.equal(context.attended, false);
  assert.match(context.reasons[0] ?? '', /no terminal/);
  const piped = detectRunContext({}, { stdin: false, stdout: true, stderr: false });
  assert.equal(piped.attended, true);
  assert.equal(piped.interactive, false, 'no prompt without a terminal on stdin and stderr');
  assert.equal(detectRunContext({ CI: 'true' }, none).reasons.length, 2, 'every reason is named');
});
