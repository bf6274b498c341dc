/**
 * Web seeds (BEP 19) against Node HTTP servers on 127.0.0.1: the range client's answers to
 * hostile responses, and whole downloads from web seeds only (single- and multi-file, pieces
 * across files, padding), a lying seed dropped, backoff, Retry-After and 404.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, SessionError, type Torrent } from '../../src/session/index.js';
import { createWebSeedAgents, fetchRange, MAX_SKIP_BYTES } from '../../src/session/web-seed-http.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';
import { startWebSeedServer, type WebSeedServer } from '../helpers/web-seed-server.js';

const tmp = tempDir('bttkit-webseed-');
afterAll(tmp.cleanup);

const agents = createWebSeedAgents();
afterAll(() => {
  agents.http.destroy();
  agents.https.destroy();
});

/** fetchRange's outcome: the bytes, or the error code. */
async function fetchCode(
  url: string,
  start: number,
  length: number,
  fileLength: number,
  timeoutMs = 5_000,
): Promise<{ bytes: Buffer; code?: string; error?: SessionError }> {
  const chunks: Uint8Array[] = [];
  try {
    await fetchRange({
      url,
      start,
      length,
      fileLength,
      agents,
      timeoutMs,
      onData: (c) => chunks.push(Uint8Array.from(c)),
    });
    return { bytes: Buffer.concat(chunks) };
  } catch (e) {
    expect(e).toBeInstanceOf(SessionError);
    return { bytes: Buffer.concat(chunks), code: (e as SessionError).code, error: e as SessionError };
  }
}

describe('the range client against hostile servers', () => {
  const data = pseudoRandomBytes(3 * 1024 * 1024, 7);
  let srv: WebSeedServer;
  let fileUrl: string;
  let hugeClosed = false;
  beforeAll(async () => {
    const dir = join(tmp.path, 'hostile');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'f.bin'), data);
    srv = await startWebSeedServer(dir, (req, res, _file, range) => {
      const mode = /[?&]m=([a-z0-9-]+)/.exec(req.url ?? '')?.[1];
      const r = range ?? { start: 0, end: data.length - 1 };
      switch (mode) {
        case undefined:
          return false;
        case 'full': // no range support: 200 and the whole file
          res.writeHead(200, { 'content-length': data.length }).end(data);
          return true;
        case 'wrong-range':
          res.writeHead(206, { 'content-range': `bytes ${r.start + 1}-${r.end + 1}/${data.length}` });
          res.end(data.subarray(r.start + 1, r.end + 2));
          return true;
        case 'wrong-total':
          res.writeHead(206, { 'content-range': `bytes ${r.start}-${r.end}/${data.length + 1}` });
          res.end(data.subarray(r.start, r.end + 1));
          return true;
        case 'huge': {
          // 206 with the right header, then far more than asked, without end.
          hugeClosed = false;
          res.on('close', () => {
            hugeClosed = true;
          });
          res.writeHead(206, { 'content-range': `bytes ${r.start}-${r.end}/${data.length}` });
          const chunk = Buffer.alloc(64 * 1024, 1);
          const pump = () => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
          return true;
        }
        case 'drip': {
          res.writeHead(206, { 'content-range': `bytes ${r.start}-${r.end}/${data.length}` });
          let i = r.start;
          const t = setInterval(() => {
            if (res.destroyed || i > r.end) return clearInterval(t);
            res.write(data.subarray(i, i + 10));
            i += 10;
          }, 20);
          return true;
        }
        case 'busy':
          res.writeHead(503, { 'retry-after': '7' }).end();
          return true;
        case 'loop':
          res.writeHead(302, { location: `/f.bin?m=loop&n=${Math.random()}` }).end();
          return true;
        case 'hop':
          res.writeHead(301, { location: '/f.bin' }).end();
          return true;
        case 'ftp':
          res.writeHead(302, { location: 'ftp://127.0.0.1/f.bin' }).end();
          return true;
        case 'cut':
          res.writeHead(206, {
            'content-range': `bytes ${r.start}-${r.end}/${data.length}`,
            'content-length': r.end - r.start + 1,
          });
          res.write(data.subarray(r.start, r.start + 1000));
          setTimeout(() => res.destroy(), 20);
          return true;
        case 'gzip':
          res.writeHead(206, {
            'content-range': `bytes ${r.start}-${r.end}/${data.length}`,
            'content-encoding': 'gzip',
          });
          res.end(data.subarray(r.start, r.end + 1));
          return true;
        default:
          return false;
      }
    });
    fileUrl = `${srv.origin}/f.bin`;
  });
  afterAll(() => srv.close());

  it('a well-behaved server: exactly the range', async () => {
    const r = await fetchCode(fileUrl, 1000, 50_000, data.length);
    expect(r.code).toBeUndefined();
    expect(r.bytes.equals(data.subarray(1000, 51_000))).toBe(true);
  });

  it('200 with the whole file: the start is read and the connection closed; far in, refused', async () => {
    const r = await fetchCode(`${fileUrl}?m=full`, 100, 1000, data.length);
    expect(r.code).toBeUndefined();
    expect(r.bytes.equals(data.subarray(100, 1100))).toBe(true);
    const far = await fetchCode(`${fileUrl}?m=full`, MAX_SKIP_BYTES + 1, 1000, data.length);
    expect(far.code).toBe('SESSION_WEB_SEED_BAD_RESPONSE');
    // The file's length is checked too.
    const short = await fetchCode(`${fileUrl}?m=full`, 0, 1000, data.length + 5);
    expect(short.code).toBe('SESSION_WEB_SEED_BAD_RESPONSE');
  });

  it('a wrong Content-Range, a wrong total or a content coding are refused', async () => {
    expect((await fetchCode(`${fileUrl}?m=wrong-range`, 0, 1000, data.length)).code).toBe(
      'SESSION_WEB_SEED_BAD_RESPONSE',
    );
    expect((await fetchCode(`${fileUrl}?m=wrong-total`, 0, 1000, data.length)).code).toBe(
      'SESSION_WEB_SEED_BAD_RESPONSE',
    );
    expect((await fetchCode(`${fileUrl}?m=gzip`, 0, 1000, data.length)).code).toBe(
      'SESSION_WEB_SEED_BAD_RESPONSE',
    );
  });

  it('a body far larger than asked: only the range is read, then the connection is closed', async () => {
    const before = process.memoryUsage().rss;
    const r = await fetchCode(`${fileUrl}?m=huge`, 0, 100_000, data.length);
    expect(r.code).toBeUndefined();
    expect(r.bytes.length).toBe(100_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    // The client closed the connection rather than read on.
    await waitFor(() => hugeClosed, 2000, 'the endless response closed');
  });

  it('a slow drip times out', async () => {
    const t0 = Date.now();
    const r = await fetchCode(`${fileUrl}?m=drip`, 0, 100_000, data.length, 400);
    expect(r.code).toBe('SESSION_WEB_SEED_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('503 carries its Retry-After', async () => {
    const r = await fetchCode(`${fileUrl}?m=busy`, 0, 100, data.length);
    expect(r.code).toBe('SESSION_WEB_SEED_STATUS');
    expect(r.error?.details.status).toBe(503);
    expect(r.error?.details.retryAfterMs).toBe(7000);
    expect((await fetchCode(`${srv.origin}/missing`, 0, 100, 100)).error?.details.status).toBe(404);
  });

  it('redirects are followed, a loop or a non-http target refused', async () => {
    const hop = await fetchCode(`${fileUrl}?m=hop`, 10, 100, data.length);
    expect(hop.bytes.equals(data.subarray(10, 110))).toBe(true);
    expect((await fetchCode(`${fileUrl}?m=loop`, 0, 100, data.length)).code).toBe(
      'SESSION_WEB_SEED_REDIRECTS',
    );
    expect((await fetchCode(`${fileUrl}?m=ftp`, 0, 100, data.length)).code).toBe(
      'SESSION_WEB_SEED_REDIRECTS',
    );
  });

  it('a connection closed mid-body fails', async () => {
    const r = await fetchCode(`${fileUrl}?m=cut`, 0, 100_000, data.length);
    expect(r.code).toBe('SESSION_WEB_SEED_FAILED');
    expect(r.bytes.length).toBe(1000);
  });

  it('a refused connection fails', async () => {
    const r = await fetchCode('http://127.0.0.1:1/f.bin', 0, 100, 100);
    expect(r.code).toBe('SESSION_WEB_SEED_FAILED');
  });
});

/** Waits for `done`, or fails after `ms`. */
function whenDone(t: Torrent, ms = 60_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`download did not finish: ${JSON.stringify(t.webSeeds)}`)),
      ms,
    );
    t.once('done', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('downloads from web seeds only (no peers)', () => {
  let root: string;
  let album: string;
  beforeAll(() => {
    root = join(tmp.path, 'www');
    album = join(root, 'My Album #1');
    mkdirSync(join(album, 'CD 1'), { recursive: true });
    // Sizes that put piece boundaries inside files, and pieces across three files.
    writeFileSync(join(album, 'CD 1', 'a 100%.bin'), pseudoRandomBytes(700_001, 1));
    writeFileSync(join(album, 'CD 1', 'tiny.txt'), pseudoRandomBytes(999, 2));
    writeFileSync(join(album, 'é ü.bin'), pseudoRandomBytes(1_300_003, 3));
    writeFileSync(join(root, 'single.bin'), pseudoRandomBytes(2_000_000, 4));
  });

  function sameTree(dir: string, names: string[][]): void {
    for (const n of names)
      expect(
        readFileSync(join(dir, ...n)).equals(readFileSync(join(album, ...n.slice(1)))),
        n.join('/'),
      ).toBe(true);
  }

  it('a multi-file torrent (pieces across files, encoded names) downloads completely', async () => {
    const srv = await startWebSeedServer(root);
    const { torrent } = await createTorrent(album, { pieceLength: 32768, urlList: [`${srv.origin}/`] });
    const client = new Client({ utp: false });
    try {
      const out = join(tmp.path, 'multi');
      const t = client.add(torrent, { path: out });
      const sources = new Map<string, number>();
      t.on('verified', (_i, s) => {
        for (const [k, v] of s) sources.set(k, (sources.get(k) ?? 0) + v);
      });
      expect(t.webSeeds.map((w) => w.url)).toEqual([`${srv.origin}/`]);
      await whenDone(t);
      await t.store?.flush();
      sameTree(out, [
        ['My Album #1', 'CD 1', 'a 100%.bin'],
        ['My Album #1', 'CD 1', 'tiny.txt'],
        ['My Album #1', 'é ü.bin'],
      ]);
      const total = 700_001 + 999 + 1_300_003;
      expect(sources.get(`web:${srv.origin}/`)).toBe(total);
      const s = t.stats();
      expect(s.downloaded).toBeGreaterThanOrEqual(total);
      expect(s.peers).toBe(0);
      const [w] = t.webSeeds;
      expect(w?.state).toBe('active');
      expect(w?.downloaded).toBeGreaterThanOrEqual(total);
      // Percent-encoded paths under the torrent's folder; ranges that start inside files.
      const paths = new Set(srv.requests.map((r) => r.path));
      expect(paths).toEqual(
        new Set([
          '/My%20Album%20%231/CD%201/a%20100%25.bin',
          '/My%20Album%20%231/CD%201/tiny.txt',
          '/My%20Album%20%231/%C3%A9%20%C3%BC.bin',
        ]),
      );
      expect(srv.requests.every((r) => r.range !== undefined)).toBe(true);
      expect(srv.requests.some((r) => r.path.endsWith('tiny.txt') && r.range === 'bytes=0-998')).toBe(true);
    } finally {
      await client.destroy();
      await srv.close();
    }
  });

  it('a single-file torrent: a URL naming the file, or a folder (trailing /)', async () => {
    const srv = await startWebSeedServer(root);
    const { torrent } = await createTorrent(join(root, 'single.bin'), { pieceLength: 65536 });
    const client = new Client({ utp: false });
    try {
      const a = client.add(torrent, {
        path: join(tmp.path, 'single-a'),
        webSeeds: [`${srv.origin}/single.bin`],
      });
      await whenDone(a);
      await a.store?.flush();
      expect(
        readFileSync(join(tmp.path, 'single-a', 'single.bin')).equals(readFileSync(join(root, 'single.bin'))),
      ).toBe(true);
      await client.remove(a);
      const b = client.add(torrent, { path: join(tmp.path, 'single-b') });
      expect(b.addWebSeed(`${srv.origin}/`)).toBe(true);
      expect(b.addWebSeed(`${srv.origin}/`)).toBe(false);
      expect(() => b.addWebSeed('ftp://x/')).toThrow(SessionError);
      await whenDone(b);
      expect(new Set(srv.requests.map((r) => r.path))).toEqual(new Set(['/single.bin']));
    } finally {
      await client.destroy();
      await srv.close();
    }
  });

  it('a hybrid torrent: padding files are never requested', async () => {
    const srv = await startWebSeedServer(root);
    const { torrent, metainfo } = await createTorrent(album, { pieceLength: 32768, version: 'hybrid' });
    expect(metainfo.files.some((f) => f.padding)).toBe(true);
    const client = new Client({ utp: false });
    try {
      const out = join(tmp.path, 'hybrid');
      const t = client.add(torrent, { path: out, webSeeds: [`${srv.origin}/`] });
      await whenDone(t);
      await t.store?.flush();
      sameTree(out, [
        ['My Album #1', 'CD 1', 'a 100%.bin'],
        ['My Album #1', 'é ü.bin'],
      ]);
      expect(srv.requests.some((r) => r.path.includes('.pad'))).toBe(false);
    } finally {
      await client.destroy();
      await srv.close();
    }
  });

  it('a lying seed is dropped (SESSION_WEB_SEED_DROPPED); an honest one completes the download', async () => {
    const honest = await startWebSeedServer(root);
    const liar = await startWebSeedServer(root, (_req, res, file, range) => {
      if (!file || !range) return false;
      const body = Buffer.from(file.subarray(range.start, range.end + 1));
      for (let i = 0; i < body.length; i += 4096) body[i] = (body[i] ?? 0) ^ 0xff;
      res.writeHead(206, { 'content-range': `bytes ${range.start}-${range.end}/${file.length}` }).end(body);
      return true;
    });
    const { torrent } = await createTorrent(join(root, 'single.bin'), { pieceLength: 65536 });
    const client = new Client({ utp: false });
    try {
      const t = client.add(torrent, { path: join(tmp.path, 'liar'), webSeeds: [`${liar.origin}/`] });
      const warnings: string[] = [];
      t.on('warning', (w) => warnings.push(w.code));
      await waitFor(() => t.webSeeds[0]?.state === 'dropped', 20_000, 't.webSeeds[0]?.state === dropped');
      expect(warnings).toContain('SESSION_WEB_SEED_DROPPED');
      expect(warnings).toContain('SESSION_HASH_FAILED');
      expect(t.webSeeds[0]?.error?.code).toBe('SESSION_WEB_SEED_DROPPED');
      const liarRequests = liar.requests.length;
      t.addWebSeed(`${honest.origin}/`);
      await whenDone(t);
      await t.store?.flush();
      expect(
        readFileSync(join(tmp.path, 'liar', 'single.bin')).equals(readFileSync(join(root, 'single.bin'))),
      ).toBe(true);
      // Nothing more was asked of the liar once dropped (bar requests already on the way).
      expect(liar.requests.length).toBeLessThanOrEqual(liarRequests + 2);
      expect(t.stats().hashFailures).toBeGreaterThan(0);
    } finally {
      await client.destroy();
      await Promise.all([honest.close(), liar.close()]);
    }
  });

  it('503 with Retry-After and dropped connections: backoff, then the download completes', async () => {
    let busy = 0;
    let cut = 0;
    const srv = await startWebSeedServer(root, (_req, res, file, range) => {
      if (busy < 2) {
        busy++;
        res.writeHead(503, { 'retry-after': '1' }).end();
        return true;
      }
      if (file && range && cut < 2) {
        cut++;
        res.writeHead(206, {
          'content-range': `bytes ${range.start}-${range.end}/${file.length}`,
          'content-length': range.end - range.start + 1,
        });
        res.write(file.subarray(range.start, range.start + 5000));
        setTimeout(() => res.destroy(), 10);
        return true;
      }
      return false;
    });
    const { torrent } = await createTorrent(join(root, 'single.bin'), { pieceLength: 65536 });
    const client = new Client({ utp: false, settings: { webSeedRetryMs: 200, webSeedRequests: 1 } });
    try {
      const t = client.add(torrent, { path: join(tmp.path, 'backoff'), webSeeds: [`${srv.origin}/`] });
      const warnings: string[] = [];
      t.on('warning', (w) => warnings.push(w.code));
      await waitFor(() => t.webSeeds[0]?.state === 'backoff', 10_000, 't.webSeeds[0]?.state === backoff');
      const w = t.webSeeds[0];
      expect(w?.error?.code).toBe('SESSION_WEB_SEED_STATUS');
      // Retry-After (1 s) wins over the 200 ms backoff.
      expect(w?.retryInMs).toBeGreaterThan(500);
      const t0 = Date.now();
      await whenDone(t);
      expect(Date.now() - t0).toBeGreaterThan(500);
      expect(warnings.filter((c) => c === 'SESSION_WEB_SEED_STATUS')).toHaveLength(2);
      expect(warnings.filter((c) => c === 'SESSION_WEB_SEED_FAILED')).toHaveLength(2);
      expect(t.webSeeds[0]?.failures).toBe(0);
      expect(
        readFileSync(join(tmp.path, 'backoff', 'single.bin')).equals(readFileSync(join(root, 'single.bin'))),
      ).toBe(true);
    } finally {
      await client.destroy();
      await srv.close();
    }
  });

  it('failures in a row: the wait doubles, then the seed is left alone for an hour', async () => {
    const srv = await startWebSeedServer(root, (_req, res) => {
      res.writeHead(500).end();
      return true;
    });
    const { torrent } = await createTorrent(join(root, 'single.bin'), { pieceLength: 65536 });
    const client = new Client({
      utp: false,
      settings: { webSeedRetryMs: 400, webSeedMaxFailures: 4, webSeedRequests: 1 },
    });
    try {
      const t = client.add(torrent, { webSeeds: [`${srv.origin}/`] });
      const waits: number[] = [];
      for (let n = 1; n <= 3; n++) {
        await waitFor(() => t.webSeeds[0]?.failures === n, 15_000, `failure ${n}`);
        const w = t.webSeeds[0];
        expect(w?.state).toBe('backoff');
        expect(w?.error?.details.status).toBe(500);
        waits.push(w?.retryInMs ?? 0);
      }
      // 400, 800, 1600 ms (less what passed before we looked).
      expect(waits[0]).toBeLessThanOrEqual(400);
      expect(waits[1]).toBeGreaterThan(400);
      expect(waits[1]).toBeLessThanOrEqual(800);
      expect(waits[2]).toBeGreaterThan(800);
      expect(waits[2]).toBeLessThanOrEqual(1600);
      await waitFor(() => t.webSeeds[0]?.state === 'failed', 15_000, 'the seed taken out');
      expect(t.webSeeds[0]?.failures).toBe(4);
      expect(t.webSeeds[0]?.retryInMs).toBeGreaterThan(3_500_000);
      expect(srv.requests).toHaveLength(4);
    } finally {
      await client.destroy();
      await srv.close();
    }
  });

  it('a 404 takes the seed out for an hour; enableWebSeeds: false uses none', async () => {
    const srv = await startWebSeedServer(join(tmp.path, 'nothing-here'));
    const { torrent } = await createTorrent(join(root, 'single.bin'), {
      pieceLength: 65536,
      urlList: [`${srv.origin}/`, 'ftp://skipped/'],
    });
    const client = new Client({ utp: false });
    const off = new Client({ utp: false, settings: { enableWebSeeds: false } });
    try {
      const t = client.add(torrent);
      expect(t.webSeeds.map((w) => w.url)).toEqual([`${srv.origin}/`]);
      await waitFor(() => t.webSeeds[0]?.state === 'failed', 10_000, 't.webSeeds[0]?.state === failed');
      expect(t.webSeeds[0]?.retryInMs).toBeGreaterThan(3_000_000);
      expect(t.webSeeds[0]?.error?.details.status).toBe(404);
      const n = srv.requests.length;
      const u = off.add(torrent);
      expect(u.webSeeds).toEqual([]);
      expect(u.addWebSeed(`${srv.origin}/`)).toBe(false);
      await new Promise((r) => setTimeout(r, 1500));
      expect(srv.requests.length).toBe(n);
    } finally {
      await Promise.all([client.destroy(), off.destroy()]);
      await srv.close();
    }
  });

  it('with a peer: both serve, sharing the picker (few duplicate bytes), and the data is right', async () => {
    const srv = await startWebSeedServer(root);
    const { torrent } = await createTorrent(album, { pieceLength: 32768 });
    const seeder = new Client({ utp: false, settings: { uploadRateLimit: 1024 * 1024 } });
    const client = new Client({ utp: false, settings: { downloadRateLimit: 0 } });
    try {
      const addr = await seeder.listen(0, '127.0.0.1');
      const st = seeder.add(torrent, { path: root });
      await waitFor(new Promise<void>((r) => st.once('ready', () => r())), 20_000, 'the seeder ready');
      // A web seed slowed to about the peer's rate, so that both take part.
      const slow = await startWebSeedServer(root, (_req, res, file, range) => {
        if (!file || !range) return false;
        setTimeout(() => {
          res.writeHead(206, {
            'content-range': `bytes ${range.start}-${range.end}/${file.length}`,
            'content-length': range.end - range.start + 1,
          });
          res.end(file.subarray(range.start, range.end + 1));
        }, 300);
        return true;
      });
      const out = join(tmp.path, 'both');
      const t = client.add(torrent, { path: out, peers: [addr], webSeeds: [`${slow.origin}/`] });
      const bySource = new Map<string, number>();
      t.on('verified', (_i, s) => {
        for (const [k, v] of s) {
          const who = k.startsWith('web:') ? 'web' : 'peer';
          bySource.set(who, (bySource.get(who) ?? 0) + v);
        }
      });
      await whenDone(t);
      await t.store?.flush();
      sameTree(out, [
        ['My Album #1', 'CD 1', 'a 100%.bin'],
        ['My Album #1', 'é ü.bin'],
      ]);
      const total = 700_001 + 999 + 1_300_003;
      expect(bySource.get('web') ?? 0).toBeGreaterThan(0);
      expect(bySource.get('peer') ?? 0).toBeGreaterThan(0);
      expect((bySource.get('web') ?? 0) + (bySource.get('peer') ?? 0)).toBe(total);
      // Endgame duplicates only: at most a few pieces' worth received twice.
      expect(t.stats().downloaded).toBeLessThan(total + 8 * 32768);
      await slow.close();
    } finally {
      await Promise.all([client.destroy(), seeder.destroy()]);
      await srv.close();
    }
  });

  it('pause stops web seed transfers; resume completes the download', async () => {
    const srv = await startWebSeedServer(root, (_req, res, file, range) => {
      if (!file || !range) return false;
      // 64 KiB every 50 ms: slow enough to pause in the middle of a request.
      res.writeHead(206, {
        'content-range': `bytes ${range.start}-${range.end}/${file.length}`,
        'content-length': range.end - range.start + 1,
      });
      let at = range.start;
      const t = setInterval(() => {
        if (res.destroyed || at > range.end) return clearInterval(t);
        res.write(file.subarray(at, Math.min(range.end + 1, at + 65536)));
        at += 65536;
        if (at > range.end) res.end();
      }, 50);
      return true;
    });
    const { torrent } = await createTorrent(join(root, 'single.bin'), { pieceLength: 65536 });
    const client = new Client({ utp: false });
    try {
      const t = client.add(torrent, { path: join(tmp.path, 'pause'), webSeeds: [`${srv.origin}/`] });
      await waitFor(() => t.stats().downloaded > 200_000, 20_000, 'some bytes');
      t.pause();
      await new Promise((r) => setTimeout(r, 300));
      const at = t.stats().downloaded;
      const requests = srv.requests.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(t.stats().downloaded).toBe(at);
      expect(srv.requests.length).toBe(requests);
      expect(t.stats().verified).toBeLessThan(2_000_000);
      t.resume();
      await whenDone(t);
      await t.store?.flush();
      expect(
        readFileSync(join(tmp.path, 'pause', 'single.bin')).equals(readFileSync(join(root, 'single.bin'))),
      ).toBe(true);
    } finally {
      await client.destroy();
      await srv.close();
    }
  });

  it('a magnet lists its ws= web seeds', async () => {
    const client = new Client({ utp: false });
    try {
      const t = client.add(
        `magnet:?xt=urn:btih:${'ab'.repeat(20)}&ws=${encodeURIComponent('http://127.0.0.1:9/x/')}&ws=bogus`,
      );
      expect(t.webSeeds.map((w) => [w.url, w.state])).toEqual([['http://127.0.0.1:9/x/', 'active']]);
    } finally {
      await client.destroy();
    }
  });
});
