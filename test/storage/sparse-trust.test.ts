import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InfoDictionary } from '../../src/metainfo/index.js';
import { bitfieldCount, FsChunkStore, HashPool } from '../../src/storage/index.js';

// A file system that reports no allocated block for `lying.bin`, whatever it holds.
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  const lstat = async (...args: Parameters<typeof orig.lstat>) => {
    const st = await orig.lstat(...args);
    if (String(args[0]).endsWith('lying.bin')) Object.assign(st, { blocks: 0 });
    return st;
  };
  return { ...orig, lstat, default: { ...orig, lstat } };
});

/** 16 pieces of 64 KiB zeros in one file `lying.bin`. */
function zeros(): InfoDictionary {
  const pieceLength = 64 * 1024;
  const hash = createHash('sha1').update(new Uint8Array(pieceLength)).digest();
  const pieceHashes = new Uint8Array(16 * 20);
  for (let i = 0; i < 16; i++) pieceHashes.set(hash, i * 20);
  const length = 16 * pieceLength;
  return {
    infoHash: 'cd'.repeat(20),
    infoHashBytes: new Uint8Array(20).fill(0xcd),
    infoBytes: new Uint8Array(0),
    info: new Map(),
    name: 't',
    pieceLength,
    pieceCount: 16,
    lastPieceLength: pieceLength,
    length,
    pieceHashes,
    files: [{ path: 'lying.bin', segments: ['lying.bin'], length, offset: 0, padding: false }],
    multiFile: true,
    private: false,
  };
}

describe('recheck does not take a file system at its word', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-lying-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a file reported with no block but holding data is read, not taken for zeros', async () => {
    const meta = zeros();
    mkdirSync(join(dir, 't'));
    writeFileSync(join(dir, 't', 'lying.bin'), randomBytes(meta.length));
    const pool = new HashPool({ size: 0 });
    let reads = 0;
    const hashRanges = pool.hashRanges.bind(pool);
    pool.hashRanges = (ranges, kind) => {
      reads++;
      return hashRanges(ranges, kind);
    };
    const store = new FsChunkStore(meta, { path: dir, hashPool: pool });
    expect(bitfieldCount(await store.recheck())).toBe(0);
    expect(reads).toBe(16);
    await store.close();
  });
});
