// Runs every test with Node's own runner. Node 20's `--test` cannot glob TypeScript files, so we list them here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/**
 * Test files run side by side, one process each: most of a file's time is its own start-up (tsx, the modules it
 * loads, the servers and clusters it starts) or waiting on a child process, so two at once on two cores cut the
 * suite by about a third (474 s to 325-341 s here). Every file already keeps to itself: free ports, its own
 * temporary HOME, runtime folder, tmux socket and PostgreSQL cluster. Capped at 4 (tried here: 4 at once on two
 * cores passed in 293 s); TETHER_TEST_CONCURRENCY overrides (1 runs them one after another, as before).
 */
const concurrency = Number(process.env['TETHER_TEST_CONCURRENCY']) || Math.min(4, availableParallelism());

const only = process.argv.slice(2);
const files = only.length > 0 ? only : [...find('src'), ...find('test')].sort();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
