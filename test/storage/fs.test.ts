import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bitfieldCount,
  FsChunkStore,
  HashPool,
  type LentHashResult,
  type PieceHashKind,
  StorageError,
} from '../../src/storage/index.js';
import { chunkStoreCompliance } from './compliance.js';
import { makeTorrent, pieceBytes, singleFile } from './fixtures.js';

chunkStoreCompliance({
  name: 'FsChunkStore',
  open: (meta, dir, options) => new FsChunkStore(meta, { path: dir, ...options }),
  persistent: true,
  makesFiles: true,
});

describe('FsChunkStore: the download folder', () => {
  let dir = '';
  let outside = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-fs-'));
    outside = mkdtempSync(join(tmpdir(), 'bttkit-outside-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const fx = makeTorrent(
    [
      { length: 3000, path: ['sub', 'a.bin'] },
      { length: 2000, path: ['b.bin'] },
    ],
    1024,
  );

  async function code(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'OK';
    } catch (e) {
      return e instanceof StorageError ? e.code : String(e);
    }
  }

  it('lays files out as <path>/<name>/<file path>, single-file as <path>/<name>', async () => {
    const store = new FsChunkStore(fx.meta, { path: dir });
    expect(store.filePath(0)).toBe(join(dir, 'tor', 'sub', 'a.bin'));
    await store.put(0, 0, fx.data.slice(0, 1024));
    await store.close();
    expect(readFileSync(join(dir, 'tor', 'sub', 'a.bin')).subarray(0, 1024)).toEqual(
      Buffer.from(fx.data.subarray(0, 1024)),
    );
    const single = singleFile(100, 1024);
    const s2 = new FsChunkStore(single.meta, { path: dir });
    await s2.put(0, 0, single.data.slice());
    expect(await s2.verify(0)).toBe(true);
    await s2.close();
    expect(readFileSync(join(dir, 'single.bin'))).toEqual(Buffer.from(single.data));
  });

  for (const [what, link, target] of [
    ['the torrent folder', ['tor'], 'dir'],
    ['a sub-folder', ['tor', 'sub'], 'dir'],
    ['a file', ['tor', 'sub', 'a.bin'], 'file'],
  ] as const) {
    it(`never writes through a symlink: ${what}`, async () => {
      const linkPath = join(dir, ...link);
      mkdirSync(join(linkPath, '..'), { recursive: true });
      const victim = join(outside, 'victim');
      if (target === 'file') writeFileSync(victim, 'keep');
      else mkdirSync(victim);
      symlinkSync(victim, linkPath);
      const store = new FsChunkStore(fx.meta, { path: dir });
      await store.put(0, 0, fx.data.slice(0, 1024));
      expect(await code(store.flush())).toBe('STORAGE_UNSAFE_PATH');
      expect(await code(store.get(0, 0, 10))).toBe('STORAGE_UNSAFE_PATH');
      expect(await code(store.recheck())).toBe('STORAGE_UNSAFE_PATH');
      expect(await code(store.destroy())).toBe('STORAGE_UNSAFE_PATH');
      expect(lstatSync(linkPath).isSymbolicLink()).toBe(true);
      if (target === 'file') expect(readFileSync(victim, 'utf8')).toBe('keep');
      else expect(readdirSync(victim)).toEqual([]);
    });
  }

  it('keeps using a skipped file that already exists', async () => {
    const store = new FsChunkStore(fx.meta, { path: dir });
    await store.put(0, 0, fx.data.slice(0, 1024));
    await store.flush();
    await store.setFileSkipped(0, true);
    for (let p = 0; p < fx.meta.pieceCount; p++) {
      await store.put(p, 0, fx.data.slice(p * 1024, Math.min(fx.meta.length, (p + 1) * 1024)));
    }
    for (let p = 0; p < fx.meta.pieceCount; p++) expect(await store.verify(p)).toBe(true);
    await store.close();
    expect(statSync(join(dir, 'tor', 'sub', 'a.bin')).size).toBe(3000);
    expect(existsSync(join(dir, `.${fx.meta.infoHash}.parts`))).toBe(false);
  });

  it('skipped file bytes survive a restart in the part file', async () => {
    const store = new FsChunkStore(fx.meta, { path: dir });
    await store.setFileSkipped(0, true);
    for (let p = 0; p < fx.meta.pieceCount; p++) {
      await store.put(p, 0, fx.data.slice(p * 1024, Math.min(fx.meta.length, (p + 1) * 1024)));
    }
    await store.close();
    expect(existsSync(join(dir, 'tor', 'sub', 'a.bin'))).toBe(false);
    const again = new FsChunkStore(fx.meta, { path: dir });
    await again.setFileSkipped(0, true);
    expect(bitfieldCount(await again.recheck())).toBe(fx.meta.pieceCount);
    await again.destroy();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps open files under its cap', async () => {
    const many = makeTorrent(
      Array.from({ length: 40 }, (_, i) => ({ length: 100, path: [`f${i}`] })),
      1024,
    );
    const store = new FsChunkStore(many.meta, { path: dir, maxOpenFiles: 3 });
    for (let p = 0; p < many.meta.pieceCount; p++) {
      await store.put(p, 0, many.data.slice(p * 1024, Math.min(many.meta.length, (p + 1) * 1024)));
    }
    expect(bitfieldCount(await store.recheck())).toBe(many.meta.pieceCount);
    await store.close();
  });
});

describe('FsChunkStore: pieces assembled in memory', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-asm-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const blocks = (fx: ReturnType<typeof singleFile>, i: number, size: number) => {
    const p = pieceBytes(fx, i);
    const out: [number, Uint8Array][] = [];
    for (let o = 0; o < p.length; o += size) out.push([o, p.slice(o, o + size)]);
    return out;
  };

  it('a whole piece verifies from memory and is on disk when verify resolves', async () => {
    const fx = singleFile(10 * 4096 + 100, 4096);
    const store = new FsChunkStore(fx.meta, { path: dir });
    for (let i = 0; i < fx.meta.pieceCount; i++) {
      // Out of order and with a duplicate, as an endgame delivers them.
      const bs = blocks(fx, i, 1024).reverse();
      for (const [o, b] of bs) await store.put(i, o, b);
      if (bs[0]) await store.put(i, bs[0][0], bs[0][1].slice());
      expect(store.pendingBytes).toBeGreaterThan(0);
      expect(await store.verify(i)).toBe(true);
      const size = pieceBytes(fx, i).length;
      const onDisk = readFileSync(join(dir, 'single.bin')).subarray(i * 4096, i * 4096 + size);
      expect(onDisk).toEqual(Buffer.from(pieceBytes(fx, i)));
    }
    expect(store.pendingBytes).toBe(0);
    await store.close();
  });

  it('a corrupt assembled piece fails, is still readable (for blame), and a good copy then verifies', async () => {
    const fx = singleFile(3 * 4096, 4096);
    const store = new FsChunkStore(fx.meta, { path: dir });
    const bad = pieceBytes(fx, 1).slice();
    bad[77] = (bad[77] as number) ^ 1;
    await store.put(1, 0, bad.slice(0, 2048));
    await store.put(1, 2048, bad.slice(2048));
    expect(await store.verify(1)).toBe(false);
    expect(await store.get(1, 0, 4096)).toEqual(bad);
    for (const [o, b] of blocks(fx, 1, 2048)) await store.put(1, o, b);
    expect(await store.verify(1)).toBe(true);
    await store.close();
  });

  it('an assembled piece counts in pendingBytes until its hash is back, then its buffer serves the next piece', async () => {
    const fx = singleFile(8 * 4096, 4096);
    const held: (() => void)[] = [];
    const lent: Uint8Array[] = [];
    /** Hashes on the calling thread, each hash held until the test lets it go (a busy CPU). */
    class HeldPool extends HashPool {
      override async hashLent(bytes: Uint8Array, kind?: PieceHashKind): Promise<LentHashResult> {
        lent.push(bytes);
        await new Promise<void>((r) => held.push(r));
        return super.hashLent(bytes, kind);
      }
    }
    const store = new FsChunkStore(fx.meta, {
      path: dir,
      hashPool: new HeldPool({ size: 0 }),
      maxQueuedBytes: 8 * 4096,
    });
    const round = async (first: number) => {
      const verified: Promise<boolean>[] = [];
      for (let i = first; i < first + 4; i++) {
        for (const [o, b] of blocks(fx, i, 1024)) await store.put(i, o, b);
        verified.push(store.verify(i));
      }
      // Written, hashes waiting: the four buffers still count against the cap.
      for (let n = 0; n < 1000 && held.length < 4; n++) await new Promise((r) => setImmediate(r));
      expect(held).toHaveLength(4);
      expect(store.pendingBytes).toBe(4 * 4096);
      for (const go of held.splice(0)) go();
      expect(await Promise.all(verified)).toEqual([true, true, true, true]);
      expect(store.pendingBytes).toBe(0);
    };
    await round(0);
    expect(store.spareBytes).toBe(4 * 4096); // given back, kept for the next pieces
    await round(4);
    // Eight pieces assembled in the four buffers of the first round; every piece here, the
    // store keeps none of them (a seeding store holds no spares).
    expect(lent).toHaveLength(8);
    expect(new Set(lent.map((b) => b.buffer)).size).toBe(4);
    expect(store.spareBytes).toBe(0);
    expect(readFileSync(join(dir, 'single.bin'))).toEqual(Buffer.from(fx.data));
    await store.close();
  });

  it('partial pieces stay under the cap: assemblies left behind are written out, never lost', async () => {
    const fx = singleFile(64 * 4096, 4096);
    const cap = 6 * 4096;
    const store = new FsChunkStore(fx.meta, { path: dir, maxQueuedBytes: cap });
    let peak = 0;
    // The first half of every piece (a peer that went away mid-piece), then the second halves.
    for (let i = 0; i < fx.meta.pieceCount; i++) {
      await store.put(i, 0, pieceBytes(fx, i).slice(0, 2048));
      peak = Math.max(peak, store.pendingBytes);
    }
    for (let i = 0; i < fx.meta.pieceCount; i++) {
      await store.put(i, 2048, pieceBytes(fx, i).slice(2048));
      peak = Math.max(peak, store.pendingBytes);
    }
    expect(peak).toBeLessThanOrEqual(cap);
    for (let i = 0; i < fx.meta.pieceCount; i++) expect(await store.verify(i)).toBe(true);
    await store.flush();
    expect(store.pendingBytes).toBe(0);
    expect(readFileSync(join(dir, 'single.bin'))).toEqual(Buffer.from(fx.data));
    await store.close();
  });

  it('partial pieces are written by flush and close (resume finds the completed ones)', async () => {
    const fx = singleFile(4 * 4096, 4096);
    const store = new FsChunkStore(fx.meta, { path: dir });
    for (const [o, b] of blocks(fx, 0, 4096)) await store.put(0, o, b);
    await store.put(1, 0, pieceBytes(fx, 1).slice(0, 1000));
    await store.close();
    const file = readFileSync(join(dir, 'single.bin'));
    expect(file.subarray(0, 4096)).toEqual(Buffer.from(pieceBytes(fx, 0)));
    expect(file.subarray(4096, 5096)).toEqual(Buffer.from(pieceBytes(fx, 1).subarray(0, 1000)));
    const again = new FsChunkStore(fx.meta, { path: dir });
    expect(bitfieldCount(await again.recheck())).toBe(1);
    await again.close();
  });

  it('with assembling off, or pieces above half the cap, blocks are written as they come', async () => {
    const fx = singleFile(8 * 4096, 4096);
    for (const options of [{ assemblePieces: false }, { maxQueuedBytes: 6000 }]) {
      const sub = mkdtempSync(join(dir, 'o-'));
      const store = new FsChunkStore(fx.meta, { path: sub, ...options });
      for (let i = 0; i < fx.meta.pieceCount; i++) {
        for (const [o, b] of blocks(fx, i, 1024)) await store.put(i, o, b);
      }
      await store.flush();
      expect(readFileSync(join(sub, 'single.bin'))).toEqual(Buffer.from(fx.data));
      for (let i = 0; i < fx.meta.pieceCount; i++) expect(await store.verify(i)).toBe(true);
      await store.close();
    }
  });
});
