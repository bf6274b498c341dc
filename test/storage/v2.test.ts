import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo } from '../../src/metainfo/index.js';
import {
  type ChunkStore,
  FsChunkStore,
  HashPool,
  MemoryChunkStore,
  pieceDataLengths,
  pieceVerifier,
  StorageError,
} from '../../src/storage/index.js';
import { pseudoRandomBytes } from '../helpers/run.js';

const PIECE = 64 * 1024;

/** A folder with a nested file, a file under a block, one of exactly a piece, an empty one. */
function makeFolder(root: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>([
    ['a/big.bin', pseudoRandomBytes(5 * PIECE + 12_345, 1)],
    ['a/b/tiny.txt', pseudoRandomBytes(300, 2)],
    ['one-piece.bin', pseudoRandomBytes(PIECE, 3)],
    ['empty', new Uint8Array(0)],
    ['z.bin', pseudoRandomBytes(2 * 16384 + 5, 4)],
  ]);
  for (const [p, data] of files) {
    const full = join(root, 'src', p);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, data);
  }
  return files;
}

/** The torrent's piece stream (padding as zeros). */
function stream(meta: Metainfo, files: Map<string, Uint8Array>): Uint8Array {
  const out = new Uint8Array(meta.pieceCount * meta.pieceLength);
  for (const f of meta.files) {
    if (f.padding) continue;
    const data = files.get(f.path);
    if (!data) throw new Error(`no ${f.path}`);
    out.set(data, f.offset);
  }
  return out.subarray(0, meta.length);
}

describe('v2 pieces verified against the Merkle trees', () => {
  let dir = '';
  let files: Map<string, Uint8Array>;
  const metas: Record<'v2' | 'hybrid', Metainfo> = {} as Record<'v2' | 'hybrid', Metainfo>;
  const pools = [new HashPool({ size: 0 }), new HashPool({ size: 1 })];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-v2s-'));
    files = makeFolder(dir);
    metas.v2 = (await createTorrent(join(dir, 'src'), { version: 2, pieceLength: PIECE })).metainfo;
    metas.hybrid = (
      await createTorrent(join(dir, 'src'), { version: 'hybrid', pieceLength: PIECE })
    ).metainfo;
  });
  afterAll(async () => {
    for (const p of pools) await p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the verifier takes each piece of a v2-only torrent as leaves of its file bytes only', () => {
    const meta = metas.v2;
    expect(meta.version).toBe(2);
    const v = pieceVerifier(meta);
    expect(v.algo).toBe('merkle');
    const lengths = pieceDataLengths(meta);
    expect(lengths).toBeDefined();
    // big.bin: 5 whole pieces, then 12,345 bytes; tiny.txt: 300 bytes in a piece of its own.
    const big = meta.files.findIndex((f) => f.path === 'a/big.bin');
    const first = Math.floor((meta.files[big]?.offset ?? 0) / PIECE);
    expect(v.kind(first + 5)).toEqual({ algo: 'leaves', length: 12_345, width: PIECE / 16384 });
    expect(lengths?.[first + 5]).toBe(12_345);
    expect(lengths?.[first]).toBe(PIECE);
    expect(pieceVerifier(metas.hybrid).algo).toBe('sha1');
  });

  for (const version of ['v2', 'hybrid'] as const) {
    for (const [name, open] of [
      ['memory', (m: Metainfo, pool: HashPool) => new MemoryChunkStore(m, { hashPool: pool })],
      [
        'fs',
        (m: Metainfo, pool: HashPool) =>
          new FsChunkStore(m, { path: join(dir, `out-${version}-${pool.size}`), hashPool: pool }),
      ],
    ] as const) {
      for (const poolIndex of [0, 1]) {
        it(`${version}, ${name} store, ${poolIndex === 0 ? 'inline' : 'worker'} hashing: good pieces pass, a bad block fails`, async () => {
          const meta = metas[version];
          const pool = pools[poolIndex] as HashPool;
          const data = stream(meta, files);
          const store: ChunkStore = open(meta, pool);
          const lengths = pieceDataLengths(meta);
          try {
            for (let p = 0; p < meta.pieceCount; p++) {
              // Only the bytes peers send: the padding at a piece's end never comes.
              const n = lengths?.[p] ?? meta.pieceLength;
              const piece = data.subarray(p * meta.pieceLength, p * meta.pieceLength + n);
              const bad = p === 1;
              for (let off = 0; off < piece.length; off += 16384) {
                const block = piece.slice(off, Math.min(piece.length, off + 16384));
                if (bad && off === 16384) block[7] = (block[7] as number) ^ 1;
                await store.put(p, off, block);
              }
              expect(await store.verify(p)).toBe(!bad);
            }
            if (name === 'fs') {
              // Resume: a recheck from disk agrees.
              await store.close();
              const again = open(meta, pool);
              const bits = await again.recheck();
              const have = Array.from({ length: meta.pieceCount }, (_, p) =>
                Boolean(((bits[p >> 3] as number) >> (7 - (p & 7))) & 1),
              );
              expect(have).toEqual(Array.from({ length: meta.pieceCount }, (_, p) => p !== 1));
              await again.close();
            }
          } finally {
            if (!store.closed) await store.close();
          }
        });
      }
    }
  }

  it('a v2 torrent without its piece layers is refused with a typed error', () => {
    const { pieceLayers: _, ...bare } = metas.v2;
    expect(() => new MemoryChunkStore(bare)).toThrow(StorageError);
    try {
      new MemoryChunkStore(bare);
    } catch (e) {
      expect((e as StorageError).code).toBe('STORAGE_BAD_LAYOUT');
      expect(String((e as Error).message)).toMatch(/piece layer/);
    }
  });
});

describe('the hash pool builds v2 roots', () => {
  it('gives the root of the leaves padded to the width, in a worker and inline, as merkle.ts does', async () => {
    const { pieceRoot, fileRoot } = await import('../../src/metainfo/index.js');
    const pools = [new HashPool({ size: 0 }), new HashPool({ size: 1 })];
    try {
      for (const pool of pools) {
        for (const n of [1, 16384, 16385, 50_000, 65536]) {
          const data = pseudoRandomBytes(n, n);
          const root = await pool.hash(data, { algo: 'leaves', length: n, width: 4 });
          expect(root).toEqual(pieceRoot(data, 65536));
          const own = 2 ** Math.ceil(Math.log2(Math.ceil(n / 16384)));
          expect(await pool.hash(data, { algo: 'leaves', length: n, width: own })).toEqual(fileRoot(data));
        }
        await expect(
          pool.hash(new Uint8Array(70_000), { algo: 'leaves', length: 70_000, width: 4 }),
        ).rejects.toThrow(StorageError);
      }
    } finally {
      for (const p of pools) await p.close();
    }
  });
});

describe('a single-file v2 torrent', () => {
  it('is taken by the file store despite the padding file after its one file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bttkit-v2one-'));
    try {
      const data = pseudoRandomBytes(3 * 16384 + 10, 77);
      writeFileSync(join(dir, 'one.bin'), data);
      const { metainfo } = await createTorrent(join(dir, 'one.bin'), { version: 2, pieceLength: 32768 });
      expect(metainfo.multiFile).toBe(false);
      expect(metainfo.files.some((f) => f.padding)).toBe(true);
      const store = new FsChunkStore(metainfo, { path: dir });
      const bits = await store.recheck();
      expect(bits[0]).toBe(0b11000000);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
