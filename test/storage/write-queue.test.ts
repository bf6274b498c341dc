/**
 * The file store's write queue alone, on a fake disk whose writes finish when the test says so.
 */
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/storage/index.js';
import { type QueuedBlock, WriteQueue } from '../../src/storage/write-queue.js';

interface FakeWrite {
  run: readonly QueuedBlock[];
  bytes: number;
  done(): Promise<void>;
  fail(e: unknown): Promise<void>;
}

/** A queue over a fake disk; `settle()` lets the queue's promise callbacks run. */
function setup(cap: number, concurrency = 1) {
  const writes: FakeWrite[] = [];
  let stalls = 0;
  const q = new WriteQueue({
    cap,
    concurrency,
    write: (run, bytes) =>
      new Promise<void>((resolve, reject) => {
        writes.push({
          run: [...run],
          bytes,
          done: async () => {
            resolve();
            await settle();
          },
          fail: async (e) => {
            reject(e);
            await settle();
          },
        });
      }),
    stalled: () => {
      stalls++;
    },
  });
  let drains = 0;
  const seen: number[] = [];
  q.onDrain(() => {
    drains++;
    seen.push(q.pendingBytes);
  });
  const put = (piece: number, offset: number, length: number) => {
    q.charge(length);
    q.enqueue({ piece, offset, bytes: new Uint8Array(length), charge: length });
  };
  return {
    q,
    writes,
    put,
    stalls: () => stalls,
    drains: () => drains,
    seen,
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('WriteQueue', () => {
  it('writes back-to-back blocks of a piece as one run; each finished run signals one drain', async () => {
    const t = setup(100);
    t.put(1, 0, 4); // starts at once (concurrency 1)
    t.put(0, 0, 4);
    t.put(0, 4, 4);
    t.put(0, 8, 4);
    t.put(2, 0, 4); // another piece: a run of its own
    expect(t.q.pendingBytes).toBe(20);
    expect(t.writes).toHaveLength(1);
    await t.writes[0]?.done();
    expect(t.drains()).toBe(1);
    expect(t.seen).toEqual([16]);
    expect(t.writes).toHaveLength(2);
    expect(t.writes[1]?.run.map((b) => b.offset)).toEqual([0, 4, 8]);
    expect(t.writes[1]?.bytes).toBe(12);
    await t.writes[1]?.done();
    await t.writes[2]?.done();
    expect(t.seen).toEqual([16, 4, 0]);
    expect(t.q.pendingBytes).toBe(0);
    await t.q.idle();
  });

  it('wakes waiting puts in arrival order, only as many as fit, and says when it stalls', async () => {
    const t = setup(10);
    t.put(0, 0, 8);
    const order: string[] = [];
    const a = t.q.waitSpace(undefined, 5).then(() => order.push('a'));
    const b = t.q.waitSpace(undefined, 2).then(() => order.push('b'));
    expect(t.q.waiting).toBe(true);
    t.q.release(0); // nothing released: nobody woken
    t.q.charge(1);
    t.q.release(1); // 1 byte freed: 'a' (5) still does not fit, and 'b' may not pass it
    await settle();
    expect(order).toEqual([]);
    expect(t.stalls()).toBeGreaterThan(0);
    await t.writes[0]?.done();
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(t.q.waiting).toBe(false);
    expect(t.drains()).toBe(2); // the release of 1 byte and the write
  });

  it('settles a piece after its writes; a failed write rejects it and is reported once', async () => {
    const t = setup(100, 2);
    t.put(0, 0, 4);
    t.put(1, 0, 4);
    expect(t.q.writing(0)).toBe(true);
    let ok = false;
    const s0 = t.q.settled(0).then(() => {
      ok = true;
    });
    const s1 = t.q.settled(1).catch((e: unknown) => e);
    await t.writes[0]?.done();
    await s0;
    expect(ok).toBe(true);
    expect(t.q.writing(0)).toBe(false);
    await t.writes[1]?.fail(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
    const err = await s1;
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('STORAGE_IO');
    expect(t.q.pendingBytes).toBe(0);
    expect(t.q.takeError()?.code).toBe('STORAGE_IO');
    expect(t.q.takeError()).toBeUndefined();
  });

  it('dropQueued releases what was not being written and rejects its pieces', async () => {
    const t = setup(100);
    t.put(0, 0, 4); // in flight
    t.put(1, 0, 6); // queued
    const s1 = t.q.settled(1).catch((e: unknown) => e);
    t.q.dropQueued(new StorageError('STORAGE_CLOSED', 'closed'));
    expect(((await s1) as StorageError).code).toBe('STORAGE_CLOSED');
    expect(t.q.pendingBytes).toBe(4);
    expect(t.seen).toEqual([4]);
    let idle = false;
    const done = t.q.idle().then(() => {
      idle = true;
    });
    await settle();
    expect(idle).toBe(false);
    await t.writes[0]?.done();
    await done;
    expect(t.writes).toHaveLength(1);
    expect(t.q.takeError()).toBeUndefined();
  });

  it('unsubscribes one subscription of a listener at a time', async () => {
    const t = setup(100);
    let calls = 0;
    const f = () => {
      calls++;
    };
    const off1 = t.q.onDrain(f);
    t.q.onDrain(f);
    t.q.charge(2);
    t.q.release(1);
    expect(calls).toBe(2);
    off1();
    off1();
    t.q.release(1);
    expect(calls).toBe(3);
  });
});
