import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { VERSION } from '../version.js';
import { SessionError, type SessionErrorCode } from './errors.js';

/** Most redirects followed for one request. */
export const MAX_REDIRECTS = 5;
/**
 * A server that ignores `Range` (200 with the whole file): bytes before the range are read and
 * thrown away up to this many; a range further in fails (`SESSION_WEB_SEED_BAD_RESPONSE`).
 */
export const MAX_SKIP_BYTES = 1024 * 1024;
/** Longest `Retry-After` honoured, ms (a longer one is cut to this). */
const MAX_RETRY_AFTER_MS = 3_600_000;

/** The keep-alive agents of one client's web seeds. */
export interface WebSeedAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
}

/** Options of {@link createWebSeedAgents}. */
export interface WebSeedAgentOptions {
  /**
   * PEM certificates trusted for `https:` web seeds in addition to Node's root certificates
   * (a self-signed test server, a company CA).
   */
  ca?: string | readonly string[] | undefined;
  /** Most sockets per host (default 4). */
  maxSockets?: number;
}

/** Keep-alive agents for web seeds; `destroy()` them when done. */
export function createWebSeedAgents(opts: WebSeedAgentOptions = {}): WebSeedAgents {
  const extra = opts.ca === undefined ? [] : typeof opts.ca === 'string' ? [opts.ca] : [...opts.ca];
  const base = { keepAlive: true, maxSockets: opts.maxSockets ?? 4, maxFreeSockets: 4 };
  return {
    http: new http.Agent(base),
    https: new https.Agent({ ...base, ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}) }),
  };
}

/** One range of one file, read from a web seed. */
export interface RangeRequest {
  /** The file's URL. */
  readonly url: string;
  /** First byte, in the file. */
  readonly start: number;
  /** Bytes wanted (≥ 1). */
  readonly length: number;
  /** The file's length as the torrent says (checked against `Content-Range` / `Content-Length`). */
  readonly fileLength: number;
  readonly agents: WebSeedAgents;
  /** Time allowed for the response headers, and for each `progressBytes` of the body, ms. */
  readonly timeoutMs: number;
  /** Bytes that must arrive within each `timeoutMs` (a slow drip times out; default 16 KiB). */
  readonly progressBytes?: number;
  readonly signal?: AbortSignal;
  /** Timer source (default the wall clock). */
  readonly clock?: Clock;
  /** The body, in order: exactly `length` bytes over all calls. Chunks are views: copy to keep. */
  readonly onData: (chunk: Uint8Array) => void;
}

function fail(
  code: SessionErrorCode,
  message: string,
  url: string,
  extra: Record<string, string | number> = {},
) {
  return new SessionError(code, message, { details: { url: url.slice(0, 300), ...extra } });
}

/** `Retry-After` as ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** `Content-Range: bytes a-b/total` → numbers (`total` undefined for `*`); undefined when malformed. */
export function parseContentRange(
  value: string | undefined,
): { first: number; last: number; total: number | undefined } | undefined {
  const m = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (last < first || (total !== undefined && last >= total)) return undefined;
  return { first, last, total };
}

/**
 * Reads one byte range of a file from a web seed (BEP 19), bounded: the response is checked
 * (status, `Content-Range`, `Content-Length`, no content coding), redirects are followed (at
 * most {@link MAX_REDIRECTS}, http(s) only), a server without range support is read from the
 * file's start only when the range is near it, and never more than the range is read — the
 * connection is closed when the server sends more. Resolves once `length` bytes went to
 * `onData`.
 * @throws {SessionError} `SESSION_WEB_SEED_STATUS` (an HTTP status other than 200/206; a 503's
 *   `Retry-After` in `details.retryAfterMs`), `SESSION_WEB_SEED_BAD_RESPONSE`,
 *   `SESSION_WEB_SEED_REDIRECTS`, `SESSION_WEB_SEED_TIMEOUT`, `SESSION_WEB_SEED_FAILED` (network
 *   error, body cut short, aborted).
 */
export async function fetchRange(req: RangeRequest): Promise<void> {
  let url = req.url;
  for (let hop = 0; ; hop++) {
    const next = await fetchOnce(req, url);
    if (next === undefined) return;
    if (hop >= MAX_REDIRECTS)
      throw fail('SESSION_WEB_SEED_REDIRECTS', `more than ${MAX_REDIRECTS} redirects`, req.url);
    url = next;
  }
}

/** One request: resolves with a redirect's target, or undefined once the range is read. */
function fetchOnce(req: RangeRequest, url: string): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve, reject) => {
    const { start, length, signal } = req;
    const progressBytes = req.progressBytes ?? 16 * 1024;
    let settled = false;
    let timer: TimerHandle | undefined;
    const clock = req.clock ?? realClock;
    let response: IncomingMessage | undefined;
    const settle = (err: SessionError | undefined, redirect?: string) => {
      if (settled) return;
      settled = true;
      timer?.cancel();
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        response?.destroy();
        request.destroy();
        reject(err);
      } else resolve(redirect);
    };
    const arm = () => {
      timer?.cancel();
      timer = clock.setTimeout(
        () => settle(fail('SESSION_WEB_SEED_TIMEOUT', `no progress for ${req.timeoutMs} ms`, url)),
        req.timeoutMs,
      );
    };
    const onAbort = () => settle(fail('SESSION_WEB_SEED_FAILED', 'aborted', url));
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(fail('SESSION_WEB_SEED_REDIRECTS', 'bad redirect target', req.url));
      return;
    }
    const secure = target.protocol === 'https:';
    const request = (secure ? https : http).request(target, {
      agent: secure ? req.agents.https : req.agents.http,
      headers: {
        range: `bytes=${start}-${start + length - 1}`,
        'accept-encoding': 'identity',
        'user-agent': `bttkit/${VERSION}`,
      },
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    arm();
    request.on('error', (err) =>
      settle(new SessionError('SESSION_WEB_SEED_FAILED', err.message, { cause: err, details: { url } })),
    );
    request.on('response', (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        res.resume();
        const loc = res.headers.location;
        let next: URL | undefined;
        try {
          next = loc ? new URL(loc, target) : undefined;
        } catch {
          next = undefined;
        }
        if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:'))
          return settle(fail('SESSION_WEB_SEED_REDIRECTS', 'redirect without an http(s) Location', url));
        return settle(undefined, next.href);
      }
      let skip = 0;
      const declared = res.headers['content-length'];
      const contentLength = declared === undefined ? undefined : Number(declared);
      const coding = res.headers['content-encoding'];
      if (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
        return settle(fail('SESSION_WEB_SEED_BAD_RESPONSE', `content coding ${coding}`, url));
      if (status === 206) {
        const range = parseContentRange(res.headers['content-range']);
        if (
          !range ||
          range.first !== start ||
          range.last !== start + length - 1 ||
          (range.total !== undefined && range.total !== req.fileLength) ||
          (contentLength !== undefined && contentLength !== length)
        )
          return settle(
            fail('SESSION_WEB_SEED_BAD_RESPONSE', 'Content-Range is not the range asked for', url, {
              contentRange: String(res.headers['content-range']).slice(0, 100),
            }),
          );
      } else if (status === 200) {
        // No range support: the whole file comes; take the range if it is near the start.
        if (contentLength !== undefined && contentLength !== req.fileLength)
          return settle(fail('SESSION_WEB_SEED_BAD_RESPONSE', 'the file has the wrong length', url));
        if (start > MAX_SKIP_BYTES)
          return settle(fail('SESSION_WEB_SEED_BAD_RESPONSE', 'the server does not serve ranges', url));
        skip = start;
      } else {
        const retry = status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
        return settle(
          fail('SESSION_WEB_SEED_STATUS', `HTTP ${status}`, url, {
            status,
            ...(retry !== undefined ? { retryAfterMs: retry } : {}),
          }),
        );
      }
      let got = 0;
      let sinceProgress = 0;
      arm();
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        let c: Uint8Array = chunk;
        if (skip > 0) {
          const n = Math.min(skip, c.length);
          skip -= n;
          c = c.subarray(n);
        }
        const take = Math.min(c.length, length - got);
        if (take > 0) {
          got += take;
          sinceProgress += take;
          try {
            req.onData(take === c.length ? c : c.subarray(0, take));
          } catch (err) {
            return settle(new SessionError('SESSION_WEB_SEED_FAILED', 'delivery failed', { cause: err }));
          }
          if (sinceProgress >= progressBytes) {
            sinceProgress = 0;
            arm();
          }
        }
        if (got === length) {
          // More than asked (or a 200's rest of the file): close rather than read it.
          if (take < c.length || status === 200 || contentLength === undefined) res.destroy();
          settle(undefined);
        }
      });
      res.on('end', () => {
        if (got < length)
          settle(fail('SESSION_WEB_SEED_FAILED', 'the body ended early', url, { got, length }));
      });
      res.on('error', (err) =>
        settle(new SessionError('SESSION_WEB_SEED_FAILED', err.message, { cause: err, details: { url } })),
      );
      res.on('close', () => {
        if (got < length)
          settle(fail('SESSION_WEB_SEED_FAILED', 'the connection closed mid-body', url, { got, length }));
      });
    });
    request.end();
  });
}
