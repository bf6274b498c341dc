/**
 * The app developer's conveniences of the session, without sockets: `client.seed()`,
 * `torrent.magnetURI` / `torrentFile`, `client.add(path)`, `client.remove()`, the client's events
 * and aggregate numbers, and the coalescing of byte events.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTorrent, encode, parseMagnet, parseTorrent } from '../../src/metainfo/index.js';
import { BYTE_EVENT_INTERVAL_MS, ByteEvents } from '../../src/session/byte-events.js';
import { Client, SessionError, type Torrent } from '../../src/session/index.js';
import type { ChunkStore } from '../../src/storage/types.js';
import { ManualClock } from '../../src/util/index.js';
import { pseudoRandomBytes, tempDir, waitFor } from '../helpers/run.js';

const tmp = tempDir('bttkit-conv-');
afterAll(tmp.cleanup);
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
});
function client(): Client {
  const c = new Client();
  clients.push(c);
  return c;
}
const codeOf = async (p: Promise<unknown> | (() => unknown)): Promise<string | undefined> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('client.seed', () => {
  it('seeds one buffer from memory: seeding at once, a magnet and a .torrent to share, events', async () => {
    const c = client();
    const added: Torrent[] = [];
    const ready: Torrent[] = [];
    c.on('add', (t) => added.push(t));
    c.on('torrent', (t) => ready.push(t));
    const data = pseudoRandomBytes(100_000, 3);
    const t = await c.seed(data, {
      name: 'hello.bin',
      pieceLength: 16384,
      announce: ['udp://127.0.0.1:6969', 'http://127.0.0.1:8000/announce'],
      comment: 'hi',
    });
    expect(t.state).toBe('seeding');
    expect(t.done).toBe(true);
    expect(added).toEqual([t]);
    expect(ready).toEqual([t]);
    expect(c.progress).toBe(1);
    expect(c.torrents).toEqual([t]);

    const m = parseMagnet(t.magnetURI);
    expect(m.infoHash).toBe(t.infoHashHex);
    expect(m.name).toBe('hello.bin');
    expect(m.trackers).toEqual(['udp://127.0.0.1:6969', 'http://127.0.0.1:8000/announce']);

    const file = t.torrentFile;
    expect(file).toBeInstanceOf(Uint8Array);
    const meta = parseTorrent(file ?? new Uint8Array());
    expect(meta.infoHash).toBe(t.infoHashHex);
    expect(meta).toMatchObject({ name: 'hello.bin', length: 100_000, pieceLength: 16384, comment: 'hi' });
    expect(meta.announce).toEqual([['udp://127.0.0.1:6969'], ['http://127.0.0.1:8000/announce']]);
    // The bytes are there to upload.
    expect(Buffer.from(await (t.store as ChunkStore).get(2, 0, 16384))).toEqual(
      Buffer.from(data.subarray(32768, 49152)),
    );
    // Seeding the same data again gives the same torrent.
    expect(await c.seed(data, { name: 'hello.bin', pieceLength: 16384 })).toBe(t);
  });

  it('seeds a list of named buffers as a folder, files in the order given', async () => {
    const c = client();
    const a = pseudoRandomBytes(40_000, 1);
    const b = pseudoRandomBytes(30_001, 2);
    const t = await c.seed(
      [
        { name: 'z.bin', data: a },
        { name: 'sub/a.bin', data: b },
      ],
      { name: 'album' },
    );
    expect(t.done).toBe(true);
    expect(t.info?.multiFile).toBe(true);
    expect(t.info?.files.map((f) => [f.path, f.length])).toEqual([
      ['z.bin', 40_000],
      ['sub/a.bin', 30_001],
    ]);
    expect(t.name).toBe('album');
  });

  it('seeds buffers written under `path` (never over an existing file) and a path in place', async () => {
    const c = client();
    const dir = join(tmp.path, 'written');
    const t = await c.seed([{ name: 'x.bin', data: pseudoRandomBytes(20_000, 4) }], {
      name: 'pack',
      path: dir,
    });
    expect(t.done).toBe(true);
    expect(readFileSync(join(dir, 'pack', 'x.bin'))).toEqual(Buffer.from(pseudoRandomBytes(20_000, 4)));

    // Another content under the same name: the existing file is kept, so the seed fails to verify.
    expect(
      await codeOf(
        c.seed([{ name: 'x.bin', data: pseudoRandomBytes(20_000, 5) }], { name: 'pack', path: dir }),
      ),
    ).toBe('SESSION_SEED_FAILED');
    expect(readFileSync(join(dir, 'pack', 'x.bin'))).toEqual(Buffer.from(pseudoRandomBytes(20_000, 4)));

    const src = join(tmp.path, 'src');
    mkdirSync(join(src, 'show', 'e'), { recursive: true });
    writeFileSync(join(src, 'show', 'e', '1.bin'), pseudoRandomBytes(70_000, 6));
    writeFileSync(join(src, 'show', '2.bin'), pseudoRandomBytes(5, 7));
    const p = await c.seed(join(src, 'show'), { announce: ['udp://127.0.0.1:1'] });
    expect(p.done).toBe(true);
    const made = await createTorrent(join(src, 'show'), { announce: ['udp://127.0.0.1:1'] });
    expect(Buffer.from(p.torrentFile ?? [])).toEqual(Buffer.from(made.torrent));
  });

  it('refuses nothing, bad piece lengths, duplicates and a new name for a path', async () => {
    const c = client();
    expect(await codeOf(c.seed([]))).toBe('SESSION_BAD_SEED');
    expect(await codeOf(c.seed(new Uint8Array(0)))).toBe('SESSION_BAD_SEED');
    expect(await codeOf(c.seed(new Uint8Array(10), { pieceLength: 1000 }))).toBe('SESSION_BAD_SEED');
    expect(
      await codeOf(
        c.seed([
          { name: 'a', data: new Uint8Array(1) },
          { name: 'a', data: new Uint8Array(1) },
        ]),
      ),
    ).toBe('SESSION_BAD_SEED');
    expect(await codeOf(c.seed([{ name: '../evil', data: new Uint8Array(1) }]))).toMatch(/^METAINFO_/);
    writeFileSync(join(tmp.path, 'one.bin'), 'x');
    expect(await codeOf(c.seed(join(tmp.path, 'one.bin'), { name: 'other' }))).toBe('SESSION_BAD_SEED');
    expect(await codeOf(c.seed(join(tmp.path, 'missing')))).toBe('SESSION_BAD_SEED');
    expect(c.torrents).toEqual([]);
  });
});

describe('client.add of a string', () => {
  it('reads a .torrent file path, keeping its exact bytes as torrentFile', async () => {
    const c = client();
    const info = { name: 'f', 'piece length': 16384, pieces: new Uint8Array(20), length: 10 };
    // A key the parser does not know: the original bytes must come back, not a rebuilt file.
    const bytes = encode({ announce: 'udp://127.0.0.1:9', info, 'x-custom': 'kept' });
    const path = join(tmp.path, 'f.torrent');
    writeFileSync(path, bytes);
    const t = c.add(path);
    expect(t.infoHashHex).toBe(parseTorrent(bytes).infoHash);
    expect(Buffer.from(t.torrentFile ?? [])).toEqual(Buffer.from(bytes));
    expect(parseMagnet(t.magnetURI).trackers).toEqual(['udp://127.0.0.1:9']);
  });

  it('says SESSION_BAD_SOURCE for a missing path or a folder, not a magnet error', async () => {
    const c = client();
    const missing = (() => {
      try {
        c.add(join(tmp.path, 'nope.torrent'));
      } catch (e) {
        return e;
      }
    })();
    expect(missing).toBeInstanceOf(SessionError);
    expect((missing as SessionError).code).toBe('SESSION_BAD_SOURCE');
    expect((missing as SessionError).message).toMatch(/nope\.torrent/);
    expect(await codeOf(() => c.add(tmp.path))).toBe('SESSION_BAD_SOURCE');
    expect(await codeOf(() => c.add('not-a-hash'))).toBe('SESSION_BAD_SOURCE');
    // Info-hashes and magnets are never looked up as files.
    expect(c.add('ab'.repeat(20)).infoHashHex).toBe('ab'.repeat(20));
    expect(await codeOf(() => c.add('magnet:?xt=urn:btih:123'))).toBe('MAGNET_BAD_INFOHASH');
  });

  it('a magnet: magnetURI at once, torrentFile only once the metadata is known', async () => {
    const c = client();
    const t = c.add(`magnet:?xt=urn:btih:${'cd'.repeat(20)}&dn=movie&tr=udp%3A%2F%2F127.0.0.1%3A7`);
    expect(t.torrentFile).toBeUndefined();
    expect(parseMagnet(t.magnetURI)).toMatchObject({
      infoHash: 'cd'.repeat(20),
      name: 'movie',
      trackers: ['udp://127.0.0.1:7'],
    });
    // Parsed metainfo: built from the info dictionary's bytes (the same info-hash).
    const made = await createTorrent(join(tmp.path, 'one.bin'), { comment: 'c' });
    const m = c.add(made.metainfo);
    expect(parseTorrent(m.torrentFile ?? new Uint8Array()).infoHash).toBe(made.metainfo.infoHash);
    expect(parseTorrent(m.torrentFile ?? new Uint8Array()).comment).toBe('c');
  });
});

describe('client.remove', () => {
  it('removes by object or info-hash, emits remove, refuses an unknown torrent', async () => {
    const c = client();
    const removed: Torrent[] = [];
    c.on('remove', (t) => removed.push(t));
    const t = await c.seed(new Uint8Array(1000).fill(1));
    await c.remove(t);
    expect(removed).toEqual([t]);
    expect(t.state).toBe('destroyed');
    expect(c.get(t.infoHash)).toBeUndefined();
    expect(await codeOf(c.remove(t))).toBe('SESSION_UNKNOWN_TORRENT');
    const u = c.add('ef'.repeat(20));
    await c.remove('ef'.repeat(20));
    expect(removed).toEqual([t, u]);
    expect(await codeOf(c.remove('ef'.repeat(20)))).toBe('SESSION_UNKNOWN_TORRENT');
  });

  it('deleteFiles deletes only the torrent’s own files and the folders left empty', async () => {
    const c = client();
    const dir = join(tmp.path, 'del');
    mkdirSync(join(dir, 'keep'), { recursive: true });
    writeFileSync(join(dir, 'keep', 'mine.txt'), 'mine');
    writeFileSync(join(dir, 'neighbour.bin'), 'n');
    const t = await c.seed(
      [
        { name: 'a.bin', data: pseudoRandomBytes(20_000, 8) },
        { name: 'deep/b.bin', data: pseudoRandomBytes(100, 9) },
      ],
      { name: 'pack', path: dir },
    );
    const kept = await c.seed(new Uint8Array(50).fill(7), { name: 'other.bin', path: dir });
    // A file of the user's inside the torrent's folder survives (and keeps the folder).
    writeFileSync(join(dir, 'pack', 'notes.txt'), 'user file');
    await c.remove(t, { deleteFiles: true });
    expect(existsSync(join(dir, 'pack', 'a.bin'))).toBe(false);
    expect(existsSync(join(dir, 'pack', 'deep'))).toBe(false);
    expect(readFileSync(join(dir, 'pack', 'notes.txt'), 'utf8')).toBe('user file');
    expect(readFileSync(join(dir, 'keep', 'mine.txt'), 'utf8')).toBe('mine');
    expect(readFileSync(join(dir, 'neighbour.bin'), 'utf8')).toBe('n');
    expect(existsSync(join(dir, 'other.bin'))).toBe(true);
    await c.remove(kept);
    expect(existsSync(join(dir, 'other.bin'))).toBe(true);
  });
});

describe('client events and numbers', () => {
  /** A store whose check fails: the torrent stops with an error. */
  function failingStore(
    info: Parameters<NonNullable<Parameters<Client['add']>[1]>['store'] & {}>[0],
  ): ChunkStore {
    const fail = () => Promise.reject(new SessionError('SESSION_STORE_FAILED', 'disk on fire'));
    return {
      meta: info,
      closed: false,
      pendingBytes: 0,
      put: fail,
      get: fail,
      verify: fail,
      has: () => false,
      bitfield: () => new Uint8Array(1),
      recheck: fail,
      setFileSkipped: async () => {},
      isFileSkipped: () => false,
      flush: async () => {},
      close: async () => {},
      destroy: async () => {},
    };
  }

  it('a torrent that stops on an error reaches the client’s error listener with the torrent', async () => {
    const c = client();
    const errors: [string, Torrent][] = [];
    c.on('error', (err, t) => errors.push([err.code, t]));
    const made = await createTorrent(join(tmp.path, 'one.bin'));
    const t = c.add(made.torrent, { store: failingStore });
    await waitFor(() => errors.length === 1, 5000, 'client error');
    expect(errors[0]).toEqual(['SESSION_STORE_FAILED', t]);
  });

  it('aggregates progress weighted by size; speeds are 0 when idle', async () => {
    const c = client();
    expect(c.progress).toBe(0);
    await c.seed(new Uint8Array(3000).fill(2));
    c.add('12'.repeat(20)); // no metadata: counts as nothing
    expect(c.progress).toBe(1);
    const made = await createTorrent(join(tmp.path, 'one.bin'), { comment: 'again' });
    const empty = c.add(made.torrent, { path: join(tmp.path, 'empty-dl') });
    await waitFor(new Promise<void>((r) => empty.once('ready', r)), 5000, 'ready');
    expect(c.progress).toBeCloseTo(3000 / 3001, 6);
    expect(c.downloadSpeed).toBe(0);
    expect(c.uploadSpeed).toBe(0);
  });
});

describe('byte events', () => {
  it('coalesce: one event per interval with the sum, flush at once', () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    const ev = new ByteEvents(clock, (n) => seen.push(n));
    ev.add(100);
    ev.add(200);
    clock.advance(BYTE_EVENT_INTERVAL_MS - 1);
    expect(seen).toEqual([]);
    clock.advance(1);
    expect(seen).toEqual([300]);
    clock.advance(10_000);
    expect(seen).toEqual([300]);
    ev.add(5);
    ev.flush();
    ev.flush();
    expect(seen).toEqual([300, 5]);
    clock.advance(BYTE_EVENT_INTERVAL_MS);
    expect(seen).toEqual([300, 5]);
  });
});
