import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
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
  async function add(bytes = zerosTorrent()): Promise<Torrent> {
    const pool = new HashPool({ size: 0 });
    const hashRanges = pool.hashRanges.bind(pool);
    pool.hashRanges = (ranges, kind) => {
      reads++;
      return hashRanges(ranges, kind);
    };
    const t = client.add(bytes, {
      store: (info) => new FsChunkStore(info, { path: dir, hashPool: pool }),
    });
    await new Promise<void>((resolve, reject) => {
      t.once('ready', () => resolve());
      t.once('error', reject);
    });
    return t;
  }

  // Live objects (after a full GC) by prototype: Node ≥ 20.13 (experimental there).
  const live = (ctor: new (...args: never[]) => unknown): number =>
    (v8 as unknown as { queryObjects: (c: unknown, o: { format: 'count' }) => number }).queryObjects(ctor, {
      format: 'count',
    });
  const canCount = typeof (v8 as { queryObjects?: unknown }).queryObjects === 'function';

  it.skipIf(!canCount)('makes no object per piece: live objects grow by far fewer than 262,144', async () => {
    const bytes = zerosTorrent();
    const before = { objects: live(Object), views: live(Uint8Array) };
    const t = await add(bytes);
    const grew = { objects: live(Object) - before.objects, views: live(Uint8Array) - before.views };
    expect(t.state).toBe('downloading');
    // A few hundred objects for the torrent, its parts and its one file (210 when written); a
    // per-piece object, array or view would add 262,144.
    expect(grew.objects).toBeLessThan(10_000);
    expect(grew.views).toBeLessThan(1000);
  });

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
