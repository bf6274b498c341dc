import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { SessionError } from './errors.js';
import { contentType } from './mime.js';

/**
 * What the server needs of a file: `TorrentFileHandle` (`torrent.files[i]`) is one. `end` of a
 * range is inclusive, as in `fs.createReadStream`.
 */
export interface ServedFile {
  readonly index: number;
  readonly name: string;
  /** '/'-joined path inside the torrent's folder: the file's URL is this path, URL-encoded. */
  readonly path: string;
  readonly length: number;
  /** BEP 47 padding files are never listed nor served. */
  readonly padding: boolean;
  /** 0..1, shown in the index when present. */
  readonly progress?: number;
  createReadStream(range?: { start?: number; end?: number }): Readable;
}

/** What the server needs of a torrent: a {@link Torrent} is one. */
export interface ServedTorrent {
  readonly infoHashHex: string;
  readonly name: string | undefined;
  readonly state: string;
  /** `[]` until the metadata is known; `ready` is emitted once they exist. */
  readonly files: readonly ServedFile[];
  stats?(): { progress: number };
  on(event: 'ready', fn: () => void): unknown;
  off(event: 'ready', fn: () => void): unknown;
}

/** What the client-wide server needs of a client: a {@link Client} is one. */
export interface ServedClient {
  readonly torrents: readonly ServedTorrent[];
}

/** Options of `torrent.createServer()` and `client.createServer()`. */
export interface TorrentServerOptions {
  /** Address to bind. Default `127.0.0.1` (this machine only). */
  host?: string;
  /** TCP port; 0 (the default) takes any free port — read it from `listen()`'s result. */
  port?: number;
  /** Aborting it closes the server (as `close()`). */
  signal?: AbortSignal;
  /**
   * Host names accepted in the `Host` header besides `localhost`, `127.0.0.1` and `[::1]`, when
   * bound to a loopback address (a defence against DNS rebinding: a web page of another site
   * cannot read the server through a name that resolves to 127.0.0.1). `'any'` turns the check
   * off; it is off anyway when bound to a non-loopback address.
   */
  allowedHosts?: readonly string[] | 'any';
  /**
   * How long a request for a file waits for the torrent's metadata (a magnet) before answering
   * `503` with `Retry-After`. Default 30 000 ms.
   */
  metadataTimeout?: number;
}

/** Where a {@link TorrentServer} listens. */
export interface TorrentServerAddress {
  host: string;
  port: number;
  /** `http://host:port/`, with `127.0.0.1` for a wildcard address and brackets for IPv6. */
  url: string;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const HEX40 = /^[0-9a-fA-F]{40}$/;
const DIGITS = /^\d{1,15}$/;

/** `bytes=…` of a `Range` header: the range to serve, `'unsatisfiable'`, or `undefined` (whole). */
export function parseRange(
  header: string | undefined,
  length: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  // Not a single byte range (several ranges, another unit, garbage): ignored, the whole file.
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (!Number.isSafeInteger(n)) return undefined;
    if (n === 0 || length === 0) return 'unsatisfiable';
    return { start: Math.max(0, length - n), end: length - 1 };
  }
  const start = Number(a);
  const last = b === '' ? Number.MAX_SAFE_INTEGER : Number(b);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) return undefined;
  if (start >= length) return 'unsatisfiable';
  return { start, end: Math.min(last, length - 1) };
}

/** HTML-escaped text (for text and attribute values alike). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A file's path, each segment URL-encoded (what its URL ends with). */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The request's path as decoded segments (after the leading '/'), or an HTTP status to answer. */
function pathSegments(url: string | undefined): string[] | 400 {
  if (url === undefined || !url.startsWith('/')) return 400;
  const raw = url.replace(/[?#].*$/s, '');
  const out: string[] = [];
  for (const seg of raw.slice(1).split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(seg);
    } catch {
      return 400;
    }
    if (/[/\\\0]/.test(s)) return 400;
    out.push(s);
  }
  return out;
}

function sizeText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function page(title: string, body: string, refresh = false): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>${refresh ? '<meta http-equiv="refresh" content="2">' : ''}
<style>body{font:14px system-ui,sans-serif;margin:2em}td{padding:2px 12px 2px 0}td.n{text-align:right}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

function listed(t: ServedTorrent): ServedFile[] {
  return t.files.filter((f) => !f.padding);
}

function progressOf(t: ServedTorrent): number | undefined {
  return typeof t.stats === 'function' ? t.stats().progress : undefined;
}

/** The file a path names: `<index>` (digits only) or the file's path; padding files never. */
function findFile(t: ServedTorrent, segs: readonly string[]): ServedFile | undefined {
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return undefined;
  const only = segs.length === 1 ? segs[0] : undefined;
  const f =
    only !== undefined && DIGITS.test(only)
      ? t.files.find((x) => x.index === Number(only))
      : t.files.find((x) => x.path === segs.join('/'));
  return f && !f.padding ? f : undefined;
}

/**
 * An HTTP server for the files of a torrent (or of every torrent of a client), on `node:http`:
 * what a video player or a `<video>` element needs — byte ranges, `HEAD`, content types. Made by
 * `torrent.createServer()` / `client.createServer()`; call {@link listen} to start it.
 *
 * A small wrapper, not an `http.Server` subclass: `listen()` takes its address from the options
 * and resolves with it (the port chosen for port 0 included); `close()` also ends open
 * responses and their file streams. The underlying server is {@link server}.
 */
export class TorrentServer {
  /** The underlying `node:http` server (for timeouts, or to listen on a socket of your own). */
  readonly server: Server;
  readonly #host: string;
  readonly #port: number;
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #metadataTimeout: number;
  readonly #route: (segs: string[], req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly #streams = new Set<Readable>();
  #listening: Promise<TorrentServerAddress> | undefined;
  #address: TorrentServerAddress | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Use `createTorrentServer` / `createClientServer`. */
  constructor(
    opts: TorrentServerOptions,
    route: (
      server: TorrentServer,
    ) => (segs: string[], req: IncomingMessage, res: ServerResponse) => Promise<void>,
  ) {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    if (typeof host !== 'string' || host === '')
      throw new SessionError('SESSION_HTTP_BAD_OPTION', 'host must be a non-empty string');
    if (!(Number.isInteger(port) && port >= 0 && port < 65536))
      throw new SessionError('SESSION_HTTP_BAD_OPTION', `bad port: ${String(port)}`, {
        details: { port: String(port) },
      });
    const mt = opts.metadataTimeout ?? 30_000;
    if (!(typeof mt === 'number' && mt >= 0 && Number.isFinite(mt)))
      throw new SessionError('SESSION_HTTP_BAD_OPTION', 'metadataTimeout must be a number of ms ≥ 0');
    this.#host = host;
    this.#port = port;
    this.#metadataTimeout = mt;
    const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
    this.#allowed =
      opts.allowedHosts === 'any' || !loopback
        ? undefined
        : new Set([...LOOPBACK_NAMES, host, ...(opts.allowedHosts ?? [])].map((h) => h.toLowerCase()));
    this.#route = route(this);
    this.server = createServer((req, res) => this.#handle(req, res));
    // Listen errors reach listen()'s promise; nothing else may crash the process.
    this.server.on('error', () => {});
    const signal = opts.signal;
    if (signal?.aborted) this.#closed = true;
    else signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** Where the server listens, once listening. */
  get address(): TorrentServerAddress | undefined {
    return this.#address;
  }

  /** The index page's URL (`http://127.0.0.1:N/`), once listening. */
  get url(): string | undefined {
    return this.#address?.url;
  }

  /** File streams open now (each open response has one; a client that leaves releases it). */
  get streams(): number {
    return this.#streams.size;
  }

  /**
   * Starts listening on the options' host and port. Calling it again returns the same address.
   * @throws {SessionError} `SESSION_HTTP_LISTEN_FAILED` when the address cannot be bound (the
   *   cause is node's error; `details.code` is e.g. `EADDRINUSE`), or the server was closed.
   */
  listen(): Promise<TorrentServerAddress> {
    if (this.#closed)
      return Promise.reject(new SessionError('SESSION_HTTP_LISTEN_FAILED', 'the server is closed'));
    if (this.#listening) return this.#listening;
    const p = new Promise<TorrentServerAddress>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.#listening = undefined;
        const what = `${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${this.#port}`;
        const code = err.code ?? 'UNKNOWN';
        const why = code === 'EADDRINUSE' ? 'address in use' : err.message;
        reject(
          new SessionError('SESSION_HTTP_LISTEN_FAILED', `cannot listen on ${what}: ${why} (${code})`, {
            cause: err,
            details: { host: this.#host, port: this.#port, code },
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.#port, this.#host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        const port = typeof a === 'object' && a !== null ? a.port : this.#port;
        const shown = this.#host === '0.0.0.0' ? '127.0.0.1' : this.#host === '::' ? '::1' : this.#host;
        const h = shown.includes(':') ? `[${shown}]` : shown;
        this.#address = { host: this.#host, port, url: `http://${h}:${port}/` };
        if (this.#closed) void this.close();
        resolve(this.#address);
      });
    });
    this.#listening = p;
    return p;
  }

  /** Stops listening, ends every open response and its file stream. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#closing) return this.#closing;
    this.#closing = new Promise<void>((resolve) => {
      for (const s of this.#streams) s.destroy();
      this.#streams.clear();
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.#closing;
  }

  // ---- request handling (used by the routes) -------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => {});
    if (this.#closed) return void this.text(res, 503, 'closing');
    if (this.#allowed) {
      const host = (req.headers.host ?? '').toLowerCase().replace(/:\d*$/, '');
      if (host !== '' && !this.#allowed.has(host)) return void this.text(res, 403, 'host not allowed');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return void this.text(res, 405, 'method not allowed');
    }
    const segs = pathSegments(req.url);
    if (segs === 400) return void this.text(res, 400, 'bad path');
    this.#route(segs, req, res).catch(() => {
      if (!res.headersSent) this.text(res, 500, 'internal error');
      else res.destroy();
    });
  }

  /** @internal A short plain-text answer. */
  text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  /** @internal An HTML or JSON page. */
  page(res: ServerResponse, body: string, json: boolean): void {
    res.writeHead(200, {
      'Content-Type': json ? 'application/json' : 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...(json ? {} : { 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" }),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  /** @internal Resolves true once the torrent's files are known; false after the timeout or on hang-up. */
  waitForFiles(t: ServedTorrent, res: ServerResponse): Promise<boolean> {
    if (t.files.length > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        t.off('ready', onReady);
        res.off('close', onClose);
        resolve(ok);
      };
      const onReady = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(t.files.length > 0), this.#metadataTimeout);
      t.on('ready', onReady);
      res.on('close', onClose);
    });
  }

  /** @internal Serves one file, honouring a single `Range`. */
  serveFile(t: ServedTorrent, f: ServedFile, req: IncomingMessage, res: ServerResponse): void {
    const len = f.length;
    const etag = `"${t.infoHashHex}-${f.index}"`;
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, len) : undefined;
    const common = {
      'Accept-Ranges': 'bytes',
      'Content-Type': contentType(f.name),
      ETag: etag,
      'Content-Disposition': `inline; filename*=UTF-8''${encodeURIComponent(f.name)}`,
      'X-Content-Type-Options': 'nosniff',
    };
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...common, 'Content-Range': `bytes */${len}`, 'Content-Length': 0 });
      res.end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? len - 1;
    const count = Math.max(0, end - start + 1);
    res.writeHead(range ? 206 : 200, {
      ...common,
      'Content-Length': count,
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${len}` } : {}),
    });
    if (req.method === 'HEAD' || count === 0) {
      res.end();
      return;
    }
    let stream: Readable;
    try {
      stream = f.createReadStream({ start, end });
    } catch {
      res.destroy();
      return;
    }
    this.#streams.add(stream);
    // pipeline: backpressure; a client that hangs up destroys the file stream (its read-ahead
    // window is released); a stream error destroys the response.
    pipeline(stream, res, () => {
      this.#streams.delete(stream);
      if (!stream.destroyed) stream.destroy();
    });
    if (this.#closed) stream.destroy();
  }

  /** @internal Answers for one torrent; `segs` is the path after the torrent's prefix, `base` that prefix. */
  async serveTorrent(
    t: ServedTorrent,
    segs: readonly string[],
    base: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (t.state === 'destroyed') return this.text(res, 410, 'torrent removed');
    const json = /(?:^|[?&])format=json(?:&|$)/.test((req.url ?? '').replace(/^[^?]*\??/, ''));
    if (segs.length === 0 || (segs.length === 1 && segs[0] === '')) {
      return this.page(res, json ? torrentJson(t, base) : torrentHtml(t, base), json);
    }
    if (t.files.length === 0 && !(await this.waitForFiles(t, res))) {
      if (res.destroyed || res.writableEnded) return;
      return this.text(res, 503, 'metadata not yet known', { 'Retry-After': '2' });
    }
    if (t.state === 'destroyed') return this.text(res, 410, 'torrent removed');
    const f = findFile(t, segs);
    if (!f) return this.text(res, 404, 'no such file');
    this.serveFile(t, f, req, res);
  }
}

function torrentJson(t: ServedTorrent, base: string): string {
  return JSON.stringify({
    infoHash: t.infoHashHex,
    name: t.name ?? null,
    state: t.state,
    progress: progressOf(t) ?? null,
    files: listed(t).map((f) => ({
      index: f.index,
      name: f.name,
      path: f.path,
      length: f.length,
      type: contentType(f.name),
      progress: f.progress ?? null,
      url: `${base}${f.index}`,
    })),
  });
}

function torrentHtml(t: ServedTorrent, base: string): string {
  const title = t.name ?? t.infoHashHex;
  if (t.files.length === 0) return page(title, '<p>Fetching the metadata…</p>', true);
  const rows = listed(t)
    .map((f) => {
      const p = f.progress === undefined ? '' : `${(f.progress * 100).toFixed(1)} %`;
      // './' first: a file named like `javascript:x` stays a relative link.
      return `<tr><td class="n">${f.index}</td><td><a href="./${escapeHtml(encodePath(f.path))}">${escapeHtml(f.path)}</a></td><td class="n">${sizeText(f.length)}</td><td class="n">${p}</td></tr>`;
    })
    .join('\n');
  const back = base === '/' ? '' : '<p><a href="../">all torrents</a></p>\n';
  return page(title, `${back}<table>\n${rows}\n</table>`);
}

function clientJson(c: ServedClient): string {
  return JSON.stringify({
    torrents: c.torrents.map((t) => ({
      infoHash: t.infoHashHex,
      name: t.name ?? null,
      state: t.state,
      progress: progressOf(t) ?? null,
      url: `/${t.infoHashHex}/`,
    })),
  });
}

function clientHtml(c: ServedClient): string {
  const rows = c.torrents
    .map((t) => {
      const p = progressOf(t);
      return `<tr><td><a href="./${t.infoHashHex}/">${escapeHtml(t.name ?? t.infoHashHex)}</a></td><td>${escapeHtml(t.state)}</td><td class="n">${p === undefined ? '' : `${(p * 100).toFixed(1)} %`}</td></tr>`;
    })
    .join('\n');
  return page('bttkit', rows === '' ? '<p>No torrents.</p>' : `<table>\n${rows}\n</table>`);
}

/**
 * An HTTP server for one torrent's files (`torrent.createServer()` calls this). Routes:
 * `/` an index (HTML; `/?format=json` as JSON), `/<file index>` and `/<url-encoded path>` each
 * file. Not listening yet: call `listen()`.
 *
 * @throws {SessionError} `SESSION_HTTP_BAD_OPTION` for a bad host, port or timeout.
 * @example
 * ```ts
 * const server = torrent.createServer();
 * const { url } = await server.listen();
 * console.log(`${url}0`); // the first file, for mpv, vlc or a <video>
 * ```
 */
export function createTorrentServer(torrent: ServedTorrent, opts: TorrentServerOptions = {}): TorrentServer {
  return new TorrentServer(opts, (s) => (segs, req, res) => s.serveTorrent(torrent, segs, '/', req, res));
}

/**
 * An HTTP server for every torrent of a client (`client.createServer()` calls this): `/` lists
 * the torrents (`/?format=json` as JSON), `/<infoHashHex>/…` serves one as
 * {@link createTorrentServer} does.
 *
 * @throws {SessionError} `SESSION_HTTP_BAD_OPTION` for a bad host, port or timeout.
 */
export function createClientServer(client: ServedClient, opts: TorrentServerOptions = {}): TorrentServer {
  return new TorrentServer(opts, (s) => async (segs, req, res) => {
    const [first, ...rest] = segs;
    if (first === undefined || (first === '' && rest.length === 0)) {
      const json = /(?:^|[?&])format=json(?:&|$)/.test((req.url ?? '').replace(/^[^?]*\??/, ''));
      return s.page(res, json ? clientJson(client) : clientHtml(client), json);
    }
    const ih = HEX40.test(first) ? first.toLowerCase() : undefined;
    const t = ih === undefined ? undefined : client.torrents.find((x) => x.infoHashHex === ih);
    if (!t) return s.text(res, 404, 'no such torrent');
    if (rest.length === 0) return s.text(res, 301, 'moved', { Location: `/${ih}/` });
    return s.serveTorrent(t, rest, `/${ih}/`, req, res);
  });
}
