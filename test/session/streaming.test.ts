import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, SessionError, type Torrent } from '../../src/session/index.js';
import { pseudoRandomBytes, tempDir, waitFor } from '../helpers/run.js';

// Streaming from a rate-capped seeder of our own over loopback: the order in which pieces
// arrive is what is tested (a range read in the middle comes before most of the torrent), not
// how fast.

const tmp = tempDir('bttkit-stream-');
const KIB = 1024;
const MIB = 1024 * KIB;
const A_LEN = 24 * MIB;
const B_LEN = 3 * MIB + 12_345;
const a = pseudoRandomBytes(A_LEN, 21);
const b = pseudoRandomBytes(B_LEN, 22);
let torrentBytes: Uint8Array;
let seeder: Client;
let seederPort: number;
const leechers: Client[] = [];

beforeAll(async () => {
  const src = join(tmp.path, 'seed');
  mkdirSync(join(src, 'movie'), { recursive: true });
  writeFileSync(join(src, 'movie', 'a.webm'), a);
  writeFileSync(join(src, 'movie', 'b.srt'), b);
  ({ torrent: torrentBytes } = await createTorrent(join(src, 'movie'), { pieceLength: 256 * KIB }));
  // 6 MiB/s: the whole torrent takes ~4.5 s, time enough to see what comes first.
  seeder = new Client({ settings: { uploadRateLimit: 6 * MIB } });
  seederPort = (await seeder.listen(0, '127.0.0.1')).port;
  const st = seeder.add(torrentBytes, { path: src });
  await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
});

// One leecher at a time: a finished one would seed the next (PEX) past the seeder's cap.
afterEach(async () => {
  await Promise.all(leechers.splice(0).map((c) => c.destroy()));
});

afterAll(async () => {
  await seeder?.destroy();
  tmp.cleanup();
});

async function leecher(options: { paused?: boolean; filePriorities?: (0 | 4)[] } = {}): Promise<Torrent> {
  const c = new Client();
  leechers.push(c);
  await c.listen(0, '127.0.0.1');
  const t = c.add(torrentBytes, { peers: [{ host: '127.0.0.1', port: seederPort }], ...options });
  if (t.files.length === 0) await waitFor(new Promise<void>((r) => t.once('ready', r)), 10_000, 'ready');
  return t;
}

/** Reads a Node stream to the end; `onChunk` sees each chunk as it comes. */
async function readAll(s: Readable, onChunk?: (n: number) => void): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of s) {
    parts.push(chunk as Buffer);
    onChunk?.((chunk as Buffer).length);
  }
  return Buffer.concat(parts);
}

describe('files', () => {
  it('torrent.files: names, paths, offsets, progress and selection', async () => {
    const t = await leecher({ paused: true });
    expect(t.files.map((f) => [f.index, f.name, f.path, f.length, f.offset])).toEqual([
      [0, 'a.webm', 'a.webm', A_LEN, 0],
      [1, 'b.srt', 'b.srt', B_LEN, A_LEN],
    ]);
    const [fa, fb] = t.files;
    expect(fa?.progress).toBe(0);
    expect(fa?.priority).toBe(4);
    fb?.deselect();
    expect(fb?.priority).toBe(0);
    fb?.select(6);
    expect(fb?.priority).toBe(6);
    expect(() => fa?.createReadStream({ start: 0, end: A_LEN })).toThrowError(
      expect.objectContaining({ code: 'SESSION_BAD_RANGE' }),
    );
    expect(() => fa?.createReadStream({ start: 10, end: 5 })).toThrow(SessionError);
    expect(() => t.select(0, 10_000)).toThrowError(expect.objectContaining({ code: 'SESSION_BAD_RANGE' }));
    expect(() => fa?.select(9 as 4)).toThrowError(expect.objectContaining({ code: 'SESSION_BAD_PRIORITY' }));
  });
});

describe('streaming while downloading', () => {
  it('a 1 MiB range in the middle arrives before most of the torrent, bytes identical', async () => {
    const t = await leecher();
    const file = t.files[0];
    if (!file) throw new Error('no file');
    const start = 12 * MIB + 1000;
    const end = start + MIB - 1;
    let firstAt = -1;
    const data = await readAll(file.createReadStream({ start, end }), () => {
      if (firstAt < 0) firstAt = t.stats().verified;
    });
    const verifiedAtEnd = t.stats().verified;
    expect(Buffer.compare(data, Buffer.from(a.subarray(start, end + 1)))).toBe(0);
    // The range's own 5 pieces and a read-ahead window: far from the whole 27 MiB.
    expect(firstAt).toBeLessThan(0.25 * (A_LEN + B_LEN));
    expect(verifiedAtEnd).toBeLessThan(0.5 * (A_LEN + B_LEN));
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'done');
    expect(file.progress).toBe(1);
  });

  it('two readers at 10 % and 80 % both progress at once (web stream and Node stream)', async () => {
    const t = await leecher();
    const file = t.files[0];
    if (!file) throw new Error('no file');
    const s1 = Math.floor(A_LEN * 0.1);
    const s2 = Math.floor(A_LEN * 0.8);
    const len = 2 * MIB;
    const got = [0, 0];
    const web = (async () => {
      const reader = file.stream({ start: s1, end: s1 + len - 1 }).getReader();
      const parts: Uint8Array[] = [];
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        parts.push(r.value);
        got[0] = (got[0] as number) + r.value.length;
      }
      return Buffer.concat(parts);
    })();
    const node = readAll(file.createReadStream({ start: s2, end: s2 + len - 1 }), (n) => {
      got[1] = (got[1] as number) + n;
    });
    const [d1, d2] = await Promise.all([web, node]);
    expect(Buffer.compare(d1, Buffer.from(a.subarray(s1, s1 + len)))).toBe(0);
    expect(Buffer.compare(d2, Buffer.from(a.subarray(s2, s2 + len)))).toBe(0);
    expect(t.stats().verified).toBeLessThan(0.6 * (A_LEN + B_LEN));
    await t.destroy();
  });

  it('a stream of a destroyed torrent ends with SESSION_DESTROYED; a stream not read holds little', async () => {
    const t = await leecher();
    const file = t.files[0];
    if (!file) throw new Error('no file');
    const idle = file.createReadStream({ start: 2 * MIB });
    idle.pause();
    // All of the first file: far from read when the torrent goes.
    const far = file.createReadStream();
    const failed = new Promise<unknown>((resolve) => far.once('error', resolve));
    far.resume();
    await waitFor(
      (async () => {
        while (t.stats().verified < 4 * MIB) await new Promise((r) => setTimeout(r, 50));
      })(),
      30_000,
      'some download',
    );
    // Backpressure: the paused stream buffered at most a chunk or two, not everything verified.
    expect(idle.readableLength).toBeLessThanOrEqual(2 * MIB);
    await t.destroy();
    const err = await waitFor(failed, 10_000, 'stream error');
    expect(err).toBeInstanceOf(SessionError);
    expect((err as SessionError).code).toBe('SESSION_DESTROYED');
    idle.destroy();
  });

  it('reading a deselected file downloads what is read', async () => {
    const t = await leecher({ filePriorities: [4, 0] });
    const fb = t.files[1];
    if (!fb) throw new Error('no file');
    const data = await readAll(fb.createReadStream({ start: 100, end: 300_000 }));
    expect(Buffer.compare(data, Buffer.from(b.subarray(100, 300_001)))).toBe(0);
    expect(fb.priority).toBe(0);
    await t.destroy();
  });
});

describe('selection after the end', () => {
  it('a file deselected during the download and selected after it finished is downloaded', async () => {
    const t = await leecher({ filePriorities: [4, 0] });
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'first done');
    expect(t.state).toBe('seeding');
    expect(t.files[1]?.progress).toBeLessThan(1);
    const again = new Promise<void>((r) => t.once('done', r));
    // The API of the filing (setFilePriorities); files[1].select() goes the same way.
    void t.setFilePriorities([4, 4]);
    expect(t.state).toBe('downloading');
    await waitFor(again, 60_000, 'done after re-selecting');
    expect(t.state).toBe('seeding');
    expect(t.files[1]?.progress).toBe(1);
    expect(t.stats().progress).toBe(1);
    const whole = await readAll(t.files[1]?.createReadStream() as Readable);
    expect(Buffer.compare(whole, Buffer.from(b))).toBe(0);
  });
});
