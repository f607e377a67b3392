// The queue that lets the merge run ahead of the writer: it waits only over its
// limits, and keeps the first failure for the next add() or drain().
import { describe, expect, it } from '@jest/globals';
import { SinkQueue } from '../../../../src/build/merge/sink-queue.js';

function deferred(): { p: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const p = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { p, resolve, reject };
}

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('SinkQueue', () => {
  it('waits only while the calls in flight exceed the count or byte limit', async () => {
    const q = new SinkQueue({ calls: 2, bytes: 100 });
    const [a, b, c] = [deferred(), deferred(), deferred()];
    expect(await settled(q.add(a.p, 10))).toBe(true);
    expect(await settled(q.add(b.p, 10))).toBe(true);
    const third = q.add(c.p, 10); // three in flight: waits for the oldest
    expect(await settled(third)).toBe(false);
    a.resolve();
    expect(await settled(third)).toBe(true);
    const big = q.add(deferred().p, 200); // over the byte limit: waits for b, c and itself
    b.resolve();
    c.resolve();
    expect(await settled(big)).toBe(false);
  });

  it('keeps the first failure and throws it from the next add() and from drain()', async () => {
    const q = new SinkQueue({ calls: 10, bytes: 1000 });
    const first = new Error('first');
    await q.add(Promise.reject(first));
    await expect(q.add(Promise.reject(new Error('second')))).rejects.toBe(first);
    await new Promise((r) => setImmediate(r));
    await expect(q.add(Promise.resolve())).rejects.toBe(first);
    await expect(q.drain()).rejects.toBe(first);
  });

  it('drain() waits for everything; settle() ignores failures', async () => {
    const q = new SinkQueue();
    const d = deferred();
    await q.add(d.p);
    const drained = q.drain();
    expect(await settled(drained)).toBe(false);
    d.resolve();
    await drained;
    const e = deferred();
    await q.add(e.p);
    e.reject(new Error('x'));
    await q.settle();
  });
});
