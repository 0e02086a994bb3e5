import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayMark } from './replay-mark.js';

/** A store whose writes finish only when the test says so. */
function slowStore(initial?: number) {
  const saved: number[] = [];
  const pending: Array<() => void> = [];
  return {
    saved,
    finish: () => pending.shift()?.(),
    store: {
      load: async () => initial,
      save: (mark: number) =>
        new Promise<void>((resolve) => {
          pending.push(() => {
            saved.push(mark);
            resolve();
          });
        }),
    },
  };
}

test('a proof is answered only once a mark covering it is stored, and a rising mark is written once per second', async () => {
  const { store, saved, finish } = slowStore();
  const mark = await ReplayMark.open(store);
  assert.equal(mark.previous, undefined);
  let firstDone = false;
  let secondDone = false;
  const first = mark.record(100.2)?.then(() => (firstDone = true));
  // Same second, while the first write is in flight: it must wait for it too, or a crash could forget it.
  const second = mark.record(100.9)?.then(() => (secondDone = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(firstDone || secondDone, false);
  finish();
  await Promise.all([first, second]);
  assert.deepEqual(saved, [101]);
  assert.equal(mark.record(99), undefined, 'older: nothing to write, nothing to wait for');
  assert.deepEqual(saved, [101]);
});

test('the previous process mark is what proofs must postdate', async () => {
  const { store } = slowStore(1234);
  assert.equal((await ReplayMark.open(store)).previous, 1234);
});
