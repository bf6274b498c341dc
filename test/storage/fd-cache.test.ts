import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FdCache } from '../../src/storage/fd-cache.js';

/** A FileHandle stand-in that only records whether it was closed. */
function fakeHandle(): FileHandle & { closed: boolean } {
  const h = {
    closed: false,
    async close() {
      h.closed = true;
    },
  };
  return h as unknown as FileHandle & { closed: boolean };
}

describe('FdCache', () => {
  it('closeAll closes a handle whose open was in flight when it was called', async () => {
    const cache = new FdCache(8);
    const scope = cache.scope();
    const fh = fakeHandle();
    let finishOpen: (h: FileHandle) => void = () => {};
    const opening = new Promise<FileHandle>((r) => {
      finishOpen = r;
    });
    // A read of the store starts opening a file; the store closes before the open ends.
    const acquired = cache.acquire(`${scope}a`, false, () => opening);
    const closed = cache.closeAll(scope);
    finishOpen(fh);
    const entry = await acquired;
    await closed;
    if (entry) cache.release(entry);
    expect(fh.closed).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('closeAll of one scope leaves another scope open', async () => {
    const cache = new FdCache(8);
    const a = cache.scope();
    const b = cache.scope();
    const ha = fakeHandle();
    const hb = fakeHandle();
    const ea = await cache.acquire(`${a}f`, false, async () => ha);
    const eb = await cache.acquire(`${b}f`, false, async () => hb);
    if (ea) cache.release(ea);
    if (eb) cache.release(eb);
    await cache.closeAll(a);
    expect(ha.closed).toBe(true);
    expect(hb.closed).toBe(false);
    expect(cache.size).toBe(1);
  });
});
