import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InfoDictionary } from '../../src/metainfo/index.js';
import { holesOnlyFile } from '../../src/storage/fs-files.js';
import { bitfieldCount, FsChunkStore, HashPool } from '../../src/storage/index.js';
import { makeTorrent } from './fixtures.js';

/** A hash pool on the calling thread that counts the pieces it is asked to read and hash. */
function countingPool(): { pool: HashPool; reads: () => number } {
  const pool = new HashPool({ size: 0 });
  let reads = 0;
  const hashRanges = pool.hashRanges.bind(pool);
  pool.hashRanges = (ranges, kind) => {
    reads++;
    return hashRanges(ranges, kind);
  };
  return { pool, reads: () => reads };
}

/** A torrent of `count` pieces of zeros (every piece has the same SHA-1), in `files` files. */
function zeros(count: number, pieceLength: number, files = 1): InfoDictionary {
  const length = count * pieceLength;
  const hash = createHash('sha1').update(new Uint8Array(pieceLength)).digest();
  const pieceHashes = new Uint8Array(count * 20);
  for (let i = 0; i < count; i++) pieceHashes.set(hash, i * 20);
  const each = Math.floor(length / files);
  const list = Array.from({ length: files }, (_, i) => {
    const l = i === files - 1 ? length - each * (files - 1) : each;
    return { path: `d/f${i}`, segments: ['d', `f${i}`], length: l, offset: i * each, padding: false };
  });
  return {
    infoHash: 'ab'.repeat(20),
    infoHashBytes: new Uint8Array(20).fill(0xab),
    infoBytes: new Uint8Array(0),
    info: new Map(),
    name: 'z',
    pieceLength,
    pieceCount: count,
    lastPieceLength: pieceLength,
    length,
    pieceHashes,
    files: list,
    multiFile: true,
    private: false,
  };
}

/** Sparse files of their full size (nothing written) for every file of `meta` under `dir`. */
function sparse(meta: InfoDictionary, dir: string): void {
  for (const f of meta.files) {
    const p = join(dir, meta.name, ...f.segments);
    mkdirSync(join(p, '..'), { recursive: true });
    const fd = openSync(p, 'w');
    ftruncateSync(fd, f.length);
    closeSync(fd);
  }
}

describe('FsChunkStore recheck without reading what cannot hold data', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-sparse-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a fresh folder: every piece missing, none read (262,144 pieces)', async () => {
    const meta = zeros(262_144, 16 * 1024);
    const { pool, reads } = countingPool();
    const store = new FsChunkStore(meta, { path: dir, hashPool: pool });
    const bits = await store.recheck();
    expect(bitfieldCount(bits)).toBe(0);
    expect(reads()).toBe(0);
    await store.close();
  });

  it('files of full size that are all holes: zero pieces verified against the zero-piece hash, unread', async () => {
    const meta = zeros(262_144, 16 * 1024, 100);
    sparse(meta, dir);
    const { pool, reads } = countingPool();
    const store = new FsChunkStore(meta, { path: dir, hashPool: pool });
    let progress = 0;
    const bits = await store.recheck({ onProgress: (p) => (progress = p.checked) });
    expect(bitfieldCount(bits)).toBe(262_144);
    expect(progress).toBe(262_144);
    expect(reads()).toBe(0);
    await store.close();
  });

  it('a sparse file of a torrent whose pieces are not zeros: every piece missing, unread', async () => {
    const fx = makeTorrent([{ length: 1024 * 1024, path: ['a.bin'] }], 64 * 1024);
    sparse(fx.meta, dir);
    const { pool, reads } = countingPool();
    const store = new FsChunkStore(fx.meta, { path: dir, hashPool: pool });
    expect(bitfieldCount(await store.recheck())).toBe(0);
    expect(reads()).toBe(0);
    await store.close();
  });

  it('a file with data is read and hashed piece by piece', async () => {
    const fx = makeTorrent([{ length: 1024 * 1024, path: ['a.bin'] }], 64 * 1024);
    mkdirSync(join(dir, 'tor'));
    writeFileSync(join(dir, 'tor', 'a.bin'), fx.data);
    const { pool, reads } = countingPool();
    const store = new FsChunkStore(fx.meta, { path: dir, hashPool: pool });
    expect(bitfieldCount(await store.recheck())).toBe(16);
    expect(reads()).toBe(16);
    await store.close();
  });

  it('files under a missing folder and a file present, in one torrent', async () => {
    const fx = makeTorrent(
      [
        { length: 64 * 1024, path: ['gone', 'a.bin'] },
        { length: 64 * 1024, path: ['gone', 'b.bin'] },
        { length: 128 * 1024, path: ['here.bin'] },
      ],
      64 * 1024,
    );
    mkdirSync(join(dir, 'tor'));
    writeFileSync(join(dir, 'tor', 'here.bin'), fx.data.subarray(128 * 1024));
    const { pool, reads } = countingPool();
    const store = new FsChunkStore(fx.meta, { path: dir, hashPool: pool });
    const bits = await store.recheck();
    expect([0, 1, 2, 3].map((i) => store.has(i))).toEqual([false, false, true, true]);
    expect(bitfieldCount(bits)).toBe(2);
    expect(reads()).toBe(2);
    await store.close();
  });

  it('a partly written sparse file: the worker takes zero chunks for zeros without hashing them, same digests', async () => {
    // 8 pieces of 64 KiB: data in pieces 0–3, holes after; piece 7 is expected to hold data.
    const pieceLength = 64 * 1024;
    const data = new Uint8Array(8 * pieceLength);
    data.set(randomBytes(4 * pieceLength));
    const fx = makeTorrent([{ length: data.length, path: ['p.bin'] }], pieceLength);
    for (let i = 0; i < 8; i++) {
      const piece = data.subarray(i * pieceLength, (i + 1) * pieceLength);
      fx.meta.pieceHashes.set(createHash('sha1').update(piece).digest(), i * 20);
    }
    fx.meta.pieceHashes.set(createHash('sha1').update(randomBytes(pieceLength)).digest(), 7 * 20);
    mkdirSync(join(dir, 'tor'));
    const fd = openSync(join(dir, 'tor', 'p.bin'), 'w');
    writeSync(fd, data, 0, 4 * pieceLength, 0);
    ftruncateSync(fd, data.length);
    closeSync(fd);
    const pool = new HashPool({ size: 1 });
    const store = new FsChunkStore(fx.meta, { path: dir, hashPool: pool });
    await store.recheck();
    expect(Array.from({ length: 8 }, (_, i) => store.has(i))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    await store.close();
    await pool.close();
  });

  it('trusts "no allocated block" only for files of at least 64 KiB, and never on Windows', () => {
    expect(holesOnlyFile({ size: 1 << 20, blocks: 0 })).toBe(process.platform !== 'win32');
    expect(holesOnlyFile({ size: 1 << 20, blocks: 8 })).toBe(false);
    expect(holesOnlyFile({ size: 100, blocks: 0 })).toBe(false);
  });
});
