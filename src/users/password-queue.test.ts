import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PasswordQueue, PasswordQueueFull } from './password-queue.js';

test('runs at most `concurrency` checks at once, in order, and refuses past the waiting room', async () => {
  const queue = new PasswordQueue(2, 3);
  let running = 0;
  let peak = 0;
  const release: Array<() => void> = [];
  const check = () =>
    new Promise<number>((resolve) => {
      running++;
      peak = Math.max(peak, running);
      release.push(() => {
        running--;
        resolve(peak);
      });
    });
  const accepted = Array.from({ length: 5 }, () => queue.run(check));
  await assert.rejects(queue.run(check), PasswordQueueFull);
  assert.deepEqual(queue.load, { running: 2, waiting: 3 });
  while (release.length > 0 || queue.load.running > 0) {
    release.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(accepted);
  assert.equal(peak, 2);
  assert.deepEqual(queue.load, { running: 0, waiting: 0 });
});

test('a failing check frees its slot', async () => {
  const queue = new PasswordQueue(1, 0);
  await assert.rejects(queue.run(() => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await queue.run(() => Promise.resolve(7)), 7);
});
