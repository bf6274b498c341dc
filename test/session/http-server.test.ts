/**
 * `torrent.createServer()` / `client.createServer()` over real torrents on loopback: a seeder's
 * files (ranges, HEAD, types, index, errors) and a leecher's while it still downloads from a
 * seeder capped at 2 MiB/s (bytes identical; a client that hangs up releases its stream).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('bttkit-http-');
const src = join(tmp.path, 'seed');
let torrentBytes: Uint8Array;
let seeder: Client;
let seed: Torrent;
let port = 0;
const video = pseudoRandomBytes(6_000_000, 21);
const text = 'hello <b>bttkit</b>\n';

beforeAll(async () => {
  mkdirSync(join(src, 'show', 'subs'), { recursive: true });
  writeFileSync(join(src, 'show', 'ep 1.mp4'), video);
  writeFileSync(join(src, 'show', 'subs', 'ep 1 <en>.vtt'), text);
  const created = await createTorrent(join(src, 'show'), { pieceLength: 65536 });
  torrentBytes = created.torrent;
  // Capped upload: the leecher below is still downloading while it is read over HTTP.
  seeder = new Client({ settings: { uploadRateLimit: 2 * 1024 * 1024 } });
  port = (await seeder.listen(0, '127.0.0.1')).port;
  seed = seeder.add(torrentBytes, { path: src });
  await waitFor(new Promise<void>((r) => seed.once('ready', r)), 10_000, 'seeder ready');
  expect(seed.done).toBe(true);
});

afterAll(async () => {
  await seeder?.destroy();
  tmp.cleanup();
});

function raw(base: string, path: string, method = 'GET'): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a seeder served over HTTP', () => {
  it('files by index and path; ranges; HEAD; types; index; errors', async () => {
    const server = seed.createServer();
    try {
      const { url } = await server.listen();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const files = seed.files.filter((f) => !f.padding);
      const mp4 = files.find((f) => f.name === 'ep 1.mp4');
      const vtt = files.find((f) => f.name === 'ep 1 <en>.vtt');
      if (!mp4 || !vtt) throw new Error('files missing');

      const whole = await fetch(`${url}${mp4.index}`);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-type')).toBe('video/mp4');
      expect(whole.headers.get('accept-ranges')).toBe('bytes');
      expect(whole.headers.get('content-length')).toBe(String(video.length));
      expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(video))).toBe(true);

      const byPath = await fetch(
        `${url}${'subs/ep 1 <en>.vtt'.split('/').map(encodeURIComponent).join('/')}`,
      );
      expect(byPath.status).toBe(200);
      expect(byPath.headers.get('content-type')).toMatch(/^text\/vtt/);
      expect(await byPath.text()).toBe(text);

      const mid = await fetch(`${url}${mp4.index}`, { headers: { Range: 'bytes=3000000-3065535' } });
      expect(mid.status).toBe(206);
      expect(mid.headers.get('content-range')).toBe(`bytes 3000000-3065535/${video.length}`);
      expect(Buffer.from(await mid.arrayBuffer()).equals(Buffer.from(video.subarray(3000000, 3065536)))).toBe(
        true,
      );

      const tail = await fetch(`${url}${mp4.index}`, { headers: { Range: 'bytes=-1000' } });
      expect(tail.status).toBe(206);
      expect(
        Buffer.from(await tail.arrayBuffer()).equals(Buffer.from(video.subarray(video.length - 1000))),
      ).toBe(true);

      const bad = await fetch(`${url}${mp4.index}`, { headers: { Range: `bytes=${video.length}-` } });
      expect(bad.status).toBe(416);
      expect(bad.headers.get('content-range')).toBe(`bytes */${video.length}`);

      const head = await fetch(`${url}${mp4.index}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(video.length));

      const index = await fetch(url);
      expect(index.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await index.text();
      expect(html).toContain('ep 1 &#60;en&#62;.vtt');
      expect(html).not.toContain('<en>');

      expect((await fetch(`${url}${mp4.index}`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${url}nope.mkv`)).status).toBe(404);
      expect(await raw(url, '/../../etc/passwd')).toBe(404);
      expect(await raw(url, '/subs/%2e%2e/ep%201.mp4')).toBe(404);
      expect(await raw(url, '/%ZZ')).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('client.createServer serves each torrent under its info-hash', async () => {
    const server = seeder.createServer();
    try {
      const { url } = await server.listen();
      const list = (await (await fetch(`${url}?format=json`)).json()) as { torrents: { infoHash: string }[] };
      expect(list.torrents.map((t) => t.infoHash)).toEqual([seed.infoHashHex]);
      const r = await fetch(`${url}${seed.infoHashHex}/0`, { headers: { Range: 'bytes=0-99' } });
      expect(r.status).toBe(206);
      expect((await fetch(`${url}${'00'.repeat(20)}/0`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('a leecher served over HTTP while it downloads', () => {
  it('ranges and the whole file arrive identical before the download ends; a hang-up releases', async () => {
    const leecher = new Client();
    const dir = join(tmp.path, 'leech');
    try {
      const t = leecher.add(torrentBytes, { path: dir, peers: [{ host: '127.0.0.1', port }] });
      const server = t.createServer();
      const { url } = await server.listen(); // listening before the torrent is ready
      await waitFor(new Promise<void>((r) => t.once('ready', r)), 10_000, 'leecher ready');
      const mp4 = t.files.find((f) => f.name === 'ep 1.mp4');
      if (!mp4) throw new Error('no mp4');
      expect(t.done).toBe(false);

      // A client that hangs up mid-stream: its file stream is released.
      await new Promise<void>((resolve, reject) => {
        const req = request(`${url}${mp4.index}`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e) => {
          if (!req.destroyed) reject(e);
        });
        req.end();
      });
      await waitFor(() => server.streams === 0, 10_000, 'the stream to be released');

      const mid = await fetch(`${url}${mp4.index}`, { headers: { Range: 'bytes=4000000-4999999' } });
      expect(mid.status).toBe(206);
      expect(Buffer.from(await mid.arrayBuffer()).equals(Buffer.from(video.subarray(4000000, 5000000)))).toBe(
        true,
      );
      const whole = await fetch(`${url}${mp4.index}`);
      expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(video))).toBe(true);
      await server.close();
      await waitFor(new Promise<void>((r) => (t.done ? r() : t.once('done', r))), 30_000, 'leecher done');
      expect(readFileSync(join(dir, 'show', 'ep 1.mp4')).equals(Buffer.from(video))).toBe(true);
    } finally {
      await leecher.destroy();
    }
  });
});
