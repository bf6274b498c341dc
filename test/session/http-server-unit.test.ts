/**
 * The HTTP server against a fake torrent (files backed by buffers), on loopback: routing,
 * ranges, HEAD, types, the index, errors, metadata arriving late, a client that hangs up. The
 * same server over a real torrent is test/session/http-server.test.ts.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createClientServer,
  createTorrentServer,
  encodePath,
  escapeHtml,
  parseRange,
  type ServedFile,
  type ServedTorrent,
  type TorrentServer,
} from '../../src/session/http-server.js';
import { contentType } from '../../src/session/mime.js';
import { pseudoRandomBytes } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

interface FakeFile extends ServedFile {
  opened: Readable[];
}

function fakeFile(
  index: number,
  path: string,
  data: Uint8Array,
  opts: { padding?: boolean; slow?: boolean } = {},
): FakeFile {
  const opened: Readable[] = [];
  return {
    index,
    path,
    name: path.split('/').pop() ?? path,
    length: data.length,
    padding: opts.padding ?? false,
    progress: 0.5,
    opened,
    createReadStream(range = {}) {
      const start = range.start ?? 0;
      const end = range.end ?? data.length - 1;
      let pos = start;
      const s = new Readable({
        highWaterMark: 16384,
        read() {
          if (pos > end) return void this.push(null);
          const n = Math.min(16384, end + 1 - pos);
          const chunk = Buffer.from(data.subarray(pos, pos + n));
          pos += n;
          // slow: one chunk, then nothing until destroyed (a download that stalls)
          if (opts.slow && pos - start > 65536) return;
          this.push(chunk);
        },
      });
      opened.push(s);
      return s;
    },
  };
}

class FakeTorrent implements ServedTorrent {
  infoHashHex = 'ab'.repeat(20);
  name: string | undefined = 'fake';
  state = 'downloading';
  files: FakeFile[] = [];
  #ready = new Set<() => void>();
  stats() {
    return { progress: 0.25 };
  }
  on(_e: 'ready', fn: () => void) {
    this.#ready.add(fn);
  }
  off(_e: 'ready', fn: () => void) {
    this.#ready.delete(fn);
  }
  ready(files: FakeFile[]) {
    this.files = files;
    for (const fn of [...this.#ready]) fn();
  }
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function http(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout on ${path}`)));
    req.end();
  });
}

const movie = pseudoRandomBytes(300_000, 7);
const subs = new TextEncoder().encode('1\n00:00:01,000 --> 00:00:02,000\nhi\n');
let servers: TorrentServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(t: ServedTorrent, opts = {}): Promise<number> {
  const s = createTorrentServer(t, opts);
  servers.push(s);
  return (await s.listen()).port;
}

function sample(): FakeTorrent {
  const t = new FakeTorrent();
  t.files = [
    fakeFile(0, 'Movie <1>.webm', movie),
    fakeFile(1, '.pad/0', new Uint8Array(10), { padding: true }),
    fakeFile(2, 'sub dir/ünï & co.srt', subs),
    fakeFile(3, 'empty.txt', new Uint8Array(0)),
  ];
  return t;
}

describe('parseRange', () => {
  it.each([
    ['bytes=0-99', 1000, { start: 0, end: 99 }],
    ['bytes=500-', 1000, { start: 500, end: 999 }],
    ['bytes=-100', 1000, { start: 900, end: 999 }],
    ['bytes=-5000', 1000, { start: 0, end: 999 }],
    ['bytes=990-5000', 1000, { start: 990, end: 999 }],
    ['bytes=1000-', 1000, 'unsatisfiable'],
    ['bytes=-0', 1000, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=5-2', 1000, undefined],
    ['bytes=0-1,5-6', 1000, undefined],
    ['items=0-1', 1000, undefined],
    ['bytes=-', 1000, undefined],
    ['bytes=99999999999999999999-', 1000, undefined],
  ])('%s of %i', (h, len, want) => {
    expect(parseRange(h, len)).toEqual(want);
  });
});

describe('helpers', () => {
  it('escapes HTML and encodes paths', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    expect(encodePath('a b/c?#.mkv')).toBe('a%20b/c%3F%23.mkv');
  });
  it('content types', () => {
    expect(contentType('x.MP4')).toBe('video/mp4');
    expect(contentType('x.webm')).toBe('video/webm');
    expect(contentType('x.mkv')).toBe('video/x-matroska');
    expect(contentType('x.vtt')).toMatch(/^text\/vtt/);
    expect(contentType('noext')).toBe('application/octet-stream');
    expect(contentType('x.constructor')).toBe('application/octet-stream');
    expect(contentType('x.')).toBe('application/octet-stream');
  });
});

describe('torrent server', () => {
  it('serves a file whole at its index and at its path, with type, length and ranges', async () => {
    const port = await serve(sample());
    for (const path of ['/0', `/${encodeURIComponent('Movie <1>.webm')}`, '/0?t=1']) {
      const r = await http(port, path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toBe('video/webm');
      expect(r.headers['accept-ranges']).toBe('bytes');
      expect(r.headers['content-length']).toBe(String(movie.length));
      expect(r.body.equals(Buffer.from(movie))).toBe(true);
    }
    const sub = await http(port, `/${encodePath('sub dir/ünï & co.srt')}`);
    expect(sub.status).toBe(200);
    expect(sub.headers['content-type']).toBe('application/x-subrip');
    expect(sub.body.equals(Buffer.from(subs))).toBe(true);
  });

  it('answers a single range with 206, a bad one with 416, several with 200', async () => {
    const port = await serve(sample());
    const r = await http(port, '/0', { headers: { Range: 'bytes=100000-165535' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100000-165535/${movie.length}`);
    expect(r.headers['content-length']).toBe('65536');
    expect(r.body.equals(Buffer.from(movie.subarray(100000, 165536)))).toBe(true);

    const tail = await http(port, '/0', { headers: { Range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(Buffer.from(movie.subarray(movie.length - 10)))).toBe(true);

    const open = await http(port, '/0', { headers: { Range: 'bytes=299990-' } });
    expect(open.status).toBe(206);
    expect(open.headers['content-range']).toBe(`bytes 299990-299999/${movie.length}`);

    const bad = await http(port, '/0', { headers: { Range: `bytes=${movie.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${movie.length}`);
    expect(bad.body.length).toBe(0);

    const multi = await http(port, '/0', { headers: { Range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect(multi.body.length).toBe(movie.length);

    const etag = String(r.headers.etag);
    const same = await http(port, '/0', { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
    expect(same.status).toBe(206);
    const other = await http(port, '/0', { headers: { Range: 'bytes=0-9', 'If-Range': '"other"' } });
    expect(other.status).toBe(200);

    const empty = await http(port, '/3');
    expect(empty.status).toBe(200);
    expect(empty.headers['content-length']).toBe('0');
    expect((await http(port, '/3', { headers: { Range: 'bytes=0-' } })).status).toBe(416);
  });

  it('HEAD sends the headers only and opens no stream', async () => {
    const t = sample();
    const port = await serve(t);
    const r = await http(port, '/0', { method: 'HEAD', headers: { Range: 'bytes=0-9' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-length']).toBe('10');
    expect(r.body.length).toBe(0);
    expect(t.files[0]?.opened).toHaveLength(0);
    expect((await http(port, '/', { method: 'HEAD' })).status).toBe(200);
  });

  it('lists the files (escaped, without padding) as HTML and JSON', async () => {
    const port = await serve(sample());
    const r = await http(port, '/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    const html = r.body.toString();
    expect(html).toContain('Movie &#60;1&#62;.webm');
    expect(html).not.toContain('<1>');
    expect(html).toContain(`href="./${escapeHtml(encodePath('sub dir/ünï & co.srt'))}"`);
    expect(html).not.toContain('.pad');
    const j = JSON.parse((await http(port, '/?format=json')).body.toString());
    expect(j).toMatchObject({ infoHash: 'ab'.repeat(20), progress: 0.25 });
    expect(j.files.map((f: { index: number }) => f.index)).toEqual([0, 2, 3]);
    expect(j.files[0]).toMatchObject({ url: '/0', type: 'video/webm', length: movie.length });
  });

  it('refuses other methods, traversal, bad encodings, padding files and unknown paths', async () => {
    const port = await serve(sample());
    const post = await http(port, '/0', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await http(port, '/0', { method: 'DELETE' })).status).toBe(405);
    expect((await http(port, '/%E0%A4%A')).status).toBe(400);
    expect((await http(port, '/a%2Fb')).status).toBe(400);
    expect((await http(port, '/a%00')).status).toBe(400);
    expect((await http(port, '/../../etc/passwd')).status).toBe(404);
    expect((await http(port, '/sub%20dir/../empty.txt')).status).toBe(404);
    expect((await http(port, '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
    expect((await http(port, '/1')).status).toBe(404); // padding
    expect((await http(port, '/.pad/0')).status).toBe(404);
    expect((await http(port, '/9')).status).toBe(404);
    expect((await http(port, '/99999999999999999999')).status).toBe(404);
    expect((await http(port, '/sub%20dir/')).status).toBe(404);
    expect((await http(port, '/nope.mkv')).status).toBe(404);
    expect((await http(port, '*', { method: 'GET' })).status).toBe(400);
    // still serving after all that
    expect((await http(port, '/0')).status).toBe(200);
  });

  it('refuses a foreign Host when bound to loopback (DNS rebinding)', async () => {
    const port = await serve(sample());
    expect((await http(port, '/', { headers: { Host: 'evil.example:80' } })).status).toBe(403);
    expect((await http(port, '/', { headers: { Host: `localhost:${port}` } })).status).toBe(200);
    const open = await serve(sample(), { allowedHosts: 'any' });
    expect((await http(open, '/', { headers: { Host: 'evil.example' } })).status).toBe(200);
  });

  it('a request before the metadata waits for it; after the timeout, 503', async () => {
    const t = new FakeTorrent();
    const port = await serve(t, { metadataTimeout: 100 });
    const index = await http(port, '/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toContain('Fetching the metadata');
    const late = await http(port, '/0');
    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('2');

    const t2 = new FakeTorrent();
    const port2 = await serve(t2, { metadataTimeout: 10_000 });
    const pending = http(port2, '/0');
    setTimeout(() => t2.ready(sample().files), 50);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.equals(Buffer.from(movie))).toBe(true);
  });

  it('a client that hangs up mid-stream destroys the file stream', async () => {
    const t = new FakeTorrent();
    t.ready([fakeFile(0, 'stall.mkv', pseudoRandomBytes(1_000_000, 3), { slow: true })]);
    const s = createTorrentServer(t);
    servers.push(s);
    const { port } = await s.listen();
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/0' }, (res) => {
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
    await waitFor(() => s.streams === 0, 5000, 'the server to release the stream');
    const opened = t.files[0]?.opened ?? [];
    expect(opened).toHaveLength(1);
    await waitFor(() => opened[0]?.destroyed === true, 5000, 'the file stream to be destroyed');
  });

  it('a stream error ends the response', async () => {
    const t = new FakeTorrent();
    const f = fakeFile(0, 'x.mp4', movie);
    f.createReadStream = () =>
      new Readable({
        read() {
          this.push(Buffer.alloc(1000));
          this.destroy(new Error('torrent destroyed'));
        },
      });
    t.ready([f]);
    const port = await serve(t);
    await expect(http(port, '/0')).rejects.toThrow();
    expect((await http(port, '/')).status).toBe(200);
  });

  it('close() ends open responses; listen after close fails; abort closes; bad options throw', async () => {
    const t = new FakeTorrent();
    t.ready([fakeFile(0, 'stall.mkv', pseudoRandomBytes(1_000_000, 3), { slow: true })]);
    const ac = new AbortController();
    const s = createTorrentServer(t, { signal: ac.signal });
    const { port, url } = await s.listen();
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    expect(s.address?.port).toBe(port);
    const open = http(port, '/0');
    await waitFor(() => s.streams === 1, 5000, 'a stream to open');
    ac.abort();
    await expect(open).rejects.toThrow();
    await waitFor(() => !s.server.listening, 5000, 'the server to close');
    expect(s.streams).toBe(0);
    await expect(s.listen()).rejects.toMatchObject({ code: 'SESSION_HTTP_LISTEN_FAILED' });
    expect(() => createTorrentServer(t, { port: 70000 })).toThrow(
      expect.objectContaining({ code: 'SESSION_HTTP_BAD_OPTION' }),
    );
    expect(() => createTorrentServer(t, { port: 1.5 })).toThrow(
      expect.objectContaining({ code: 'SESSION_HTTP_BAD_OPTION' }),
    );
  });

  it('a port in use is SESSION_HTTP_LISTEN_FAILED with EADDRINUSE', async () => {
    const port = await serve(sample());
    const s = createTorrentServer(sample(), { port });
    servers.push(s);
    await expect(s.listen()).rejects.toMatchObject({
      code: 'SESSION_HTTP_LISTEN_FAILED',
      details: { code: 'EADDRINUSE' },
    });
  });

  it('a destroyed torrent answers 410', async () => {
    const t = sample();
    const port = await serve(t);
    t.state = 'destroyed';
    expect((await http(port, '/0')).status).toBe(410);
  });
});

describe('client server', () => {
  it('lists torrents and serves each under /<infoHash>/', async () => {
    const a = sample();
    const b = sample();
    b.infoHashHex = 'cd'.repeat(20);
    b.name = '<script>alert(1)</script>';
    const s = createClientServer({ torrents: [a, b] });
    servers.push(s);
    const { port } = await s.listen();
    const index = (await http(port, '/')).body.toString();
    expect(index).toContain(`href="./${'ab'.repeat(20)}/"`);
    expect(index).toContain('&#60;script&#62;');
    expect(index).not.toContain('<script>');
    const j = JSON.parse((await http(port, '/?format=json')).body.toString());
    expect(j.torrents).toHaveLength(2);
    const redirect = await http(port, `/${'CD'.repeat(20)}`);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`/${'cd'.repeat(20)}/`);
    const r = await http(port, `/${'cd'.repeat(20)}/0`, { headers: { Range: 'bytes=0-99' } });
    expect(r.status).toBe(206);
    expect(r.body.equals(Buffer.from(movie.subarray(0, 100)))).toBe(true);
    const sub = JSON.parse((await http(port, `/${'cd'.repeat(20)}/?format=json`)).body.toString());
    expect(sub.files[0].url).toBe(`/${'cd'.repeat(20)}/0`);
    expect((await http(port, `/${'ef'.repeat(20)}/0`)).status).toBe(404);
    expect((await http(port, '/nothing')).status).toBe(404);
  });
});
