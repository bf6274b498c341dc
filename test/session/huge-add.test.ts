import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { FsChunkStore, HashPool } from '../../src/storage/index.js';

/** A .torrent of 262,144 pieces of 16 KiB zeros (4 GiB): every piece has the same hash. */
const PIECES = 262_144;
const PIECE = 16 * 1024;
function zerosTorrent(): Uint8Array {
  const hash = createHash('sha1').update(new Uint8Array(PIECE)).digest();
  const pieces = new Uint8Array(PIECES * 20);
  for (let i = 0; i < PIECES; i++) pieces.set(hash, i * 20);
  return encode({ info: { name: 'zeros.bin', 'piece length': PIECE, pieces, length: PIECES * PIECE } });
}

describe('adding a torrent of 262,144 pieces', () => {
  let dir = '';
  let client: Client;
  let reads = 0;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-huge-'));
    client = new Client({ settings: { portMapping: false, lsd: false }, utp: false });
    reads = 0;
  });
  afterEach(async () => {
    await client.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Adds it with a file store whose hash pool counts the pieces read back. */
  async function add(): Promise<Torrent> {
    const pool = new HashPool({ size: 0 });
    const hashRanges = pool.hashRanges.bind(pool);
    pool.hashRanges = (ranges, kind) => {
      reads++;
      return hashRanges(ranges, kind);
    };
    const t = client.add(zerosTorrent(), {
      store: (info) => new FsChunkStore(info, { path: dir, hashPool: pool }),
    });
    await new Promise<void>((resolve, reject) => {
      t.once('ready', () => resolve());
      t.once('error', reject);
    });
    return t;
  }

  it('into an empty folder: downloading, no file created, nothing read', async () => {
    const t = await add();
    expect(t.state).toBe('downloading');
    expect(t.stats().progress).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    expect(reads).toBe(0);
  });

  it('over a sparse file of its full size: seeding at once, no piece read (zero-piece hash)', async () => {
    const fd = openSync(join(dir, 'zeros.bin'), 'w');
    ftruncateSync(fd, PIECES * PIECE);
    closeSync(fd);
    const t = await add();
    expect(t.state).toBe('seeding');
    expect(t.stats().progress).toBe(1);
    expect(reads).toBe(0);
  });
});
