import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { concatBytes } from '../util/bytes.js';
import { realClock } from '../util/clock.js';
import { deadline } from './_deadline.js';
import { TrackerError } from './errors.js';
import { decodeTrackerBody, parseAnnounceResponse, parseScrapeResponse, throwIfFailure } from './parse.js';
import type {
  AnnounceRequest,
  AnnounceResponse,
  HttpTrackerOptions,
  ScrapeResponse,
  TrackerRequestOptions,
} from './types.js';

/** Default cap on an HTTP tracker body. */
export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Default whole-request deadline of HTTP tracker requests. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
const ERROR_BODY_BYTES = 16 * 1024;

/** Percent-encodes raw bytes for a query string (RFC 3986 unreserved characters stay as they are). */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

function checkHttpUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new TrackerError('TRACKER_BAD_URL', `not a URL: ${JSON.stringify(url.slice(0, 200))}`, {
      cause: err,
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new TrackerError('TRACKER_BAD_URL', `not an HTTP(S) tracker URL: ${u.protocol}`);
  }
  return u;
}

/** The BEP 3 announce URL: the tracker's URL with our query appended (its own query kept). */
export function httpAnnounceUrl(announceUrl: string, req: AnnounceRequest): string {
  checkHttpUrl(announceUrl);
  const q = [
    `info_hash=${percentEncodeBytes(req.infoHash)}`,
    `peer_id=${percentEncodeBytes(req.peerId)}`,
    `port=${req.port}`,
    `uploaded=${BigInt(req.uploaded)}`,
    `downloaded=${BigInt(req.downloaded)}`,
    `left=${BigInt(req.left)}`,
    'compact=1',
  ];
  if (req.event !== undefined) q.push(`event=${req.event}`);
  if (req.numwant !== undefined) q.push(`numwant=${req.numwant}`);
  if (req.key !== undefined) q.push(`key=${(req.key >>> 0).toString(16).padStart(8, '0')}`);
  if (req.trackerId !== undefined) q.push(`trackerid=${percentEncodeBytes(req.trackerId)}`);
  const base = announceUrl.split('#')[0] ?? announceUrl;
  return `${base}${base.includes('?') ? '&' : '?'}${q.join('&')}`;
}

/**
 * The scrape URL of an HTTP announce URL (BEP 48 convention): the last path element must start
 * with `announce`, which becomes `scrape`. `undefined` when the tracker has no scrape URL.
 */
export function scrapeUrlFor(announceUrl: string): string | undefined {
  const u = checkHttpUrl(announceUrl);
  const slash = u.pathname.lastIndexOf('/');
  const last = u.pathname.slice(slash + 1);
  if (!last.startsWith('announce')) return undefined;
  u.pathname = `${u.pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}`;
  return u.toString();
}

interface Reply {
  status: number;
  location?: string;
  body: Uint8Array;
}

/** One GET: reads at most `cap` bytes of body; a larger body rejects and closes the socket. */
function getOnce(url: URL, cap: number, userAgent: string, signal: AbortSignal): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (err: unknown, reply?: Reply) => {
      if (settled) return;
      settled = true;
      if (err !== undefined || reply?.location !== undefined) req?.destroy();
      if (err !== undefined) reject(err);
      else if (reply) resolve(reply);
    };
    const onResponse = (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.destroy();
        finish(undefined, { status, location, body: new Uint8Array(0) });
        return;
      }
      const limit = status === 200 ? cap : Math.min(cap, ERROR_BODY_BYTES);
      const declared = Number(res.headers['content-length']);
      if (status === 200 && Number.isFinite(declared) && declared > limit) {
        finish(
          new TrackerError('TRACKER_BODY_TOO_LARGE', `tracker announces a body of ${declared} bytes`, {
            details: { limit, declared },
          }),
        );
        return;
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        total += chunk.length;
        if (total > limit) {
          if (status !== 200) {
            chunks.push(chunk.subarray(0, chunk.length - (total - limit)));
            finish(undefined, { status, body: concatBytes(chunks) });
            return;
          }
          finish(
            new TrackerError('TRACKER_BODY_TOO_LARGE', `tracker body larger than ${limit} bytes`, {
              details: { limit },
            }),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, { status, body: concatBytes(chunks) }));
      res.on('error', (err) => finish(new TrackerError('TRACKER_NETWORK', err.message, { cause: err })));
      res.on('aborted', () => finish(new TrackerError('TRACKER_NETWORK', 'response aborted')));
      res.on('close', () => {
        if (!res.complete) finish(new TrackerError('TRACKER_NETWORK', 'connection closed mid-response'));
      });
    };
    try {
      req = send(
        url,
        {
          method: 'GET',
          agent: false,
          signal,
          headers: { 'user-agent': userAgent, 'accept-encoding': 'identity', connection: 'close' },
        },
        onResponse,
      );
    } catch (err) {
      finish(new TrackerError('TRACKER_BAD_URL', (err as Error).message, { cause: err }));
      return;
    }
    req.on('error', (err) => finish(new TrackerError('TRACKER_NETWORK', err.message, { cause: err })));
    req.end();
  });
}

/**
 * GETs `url`, following redirects, under one deadline; resolves the 200 body (at most the cap).
 * Other statuses reject with `TRACKER_HTTP_STATUS` (or `TRACKER_FAILURE` when the error body is a
 * bencoded `failure reason`).
 */
export async function httpGet(url: string, options: TrackerRequestOptions = {}): Promise<Uint8Array> {
  const http: HttpTrackerOptions = options.http ?? {};
  const cap = http.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxRedirects = http.maxRedirects ?? 5;
  const dl = deadline(
    options.clock ?? realClock,
    options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    options.signal,
  );
  try {
    let current = checkHttpUrl(url);
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      dl.check('tracker request');
      seen.add(current.href);
      let reply: Reply;
      try {
        reply = await getOnce(current, cap, http.userAgent ?? 'bttkit', dl.signal);
      } catch (err) {
        throw dl.translate(err, 'tracker request');
      }
      if (reply.location !== undefined) {
        let next: URL;
        try {
          next = new URL(reply.location, current);
        } catch (err) {
          throw new TrackerError('TRACKER_BAD_RESPONSE', 'redirect to a malformed URL', { cause: err });
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new TrackerError('TRACKER_TOO_MANY_REDIRECTS', `redirect to a ${next.protocol} URL refused`);
        }
        if (seen.has(next.href) || hop >= maxRedirects) {
          throw new TrackerError(
            'TRACKER_TOO_MANY_REDIRECTS',
            seen.has(next.href) ? 'redirect loop' : `more than ${maxRedirects} redirects`,
            { details: { hops: hop + 1 } },
          );
        }
        current = next;
        continue;
      }
      if (reply.status !== 200) {
        try {
          throwIfFailure(decodeTrackerBody(reply.body));
        } catch (err) {
          if (err instanceof TrackerError && err.code === 'TRACKER_FAILURE') throw err;
        }
        throw new TrackerError('TRACKER_HTTP_STATUS', `tracker answered HTTP ${reply.status}`, {
          details: { status: reply.status },
        });
      }
      return reply.body;
    }
  } finally {
    dl.done();
  }
}

/**
 * Announces over HTTP(S) (BEP 3, compact BEP 23, `peers6` BEP 7).
 *
 * @throws {TrackerError} any {@link TrackerErrorCode} but `TRACKER_UDP_NO_REPLY`/`TRACKER_ALL_FAILED`.
 * @throws {AbortError} when `options.signal` aborts.
 *
 * @example
 * ```ts
 * const r = await httpAnnounce('http://tracker.example/announce', {
 *   infoHash, peerId, port: 6881, uploaded: 0, downloaded: 0, left: 1000, event: 'started',
 * }, { timeoutMs: 10_000 });
 * r.peers; // [{ host: '10.0.0.2', port: 51413 }, …]
 * ```
 */
export async function httpAnnounce(
  url: string,
  req: AnnounceRequest,
  options: TrackerRequestOptions = {},
): Promise<AnnounceResponse> {
  const body = await httpGet(httpAnnounceUrl(url, req), options);
  return parseAnnounceResponse(body, options.maxPeers ?? 2000);
}

/**
 * Scrapes over HTTP(S) (BEP 48): `info_hash` repeated on the scrape URL of `announceUrl`.
 *
 * @throws {TrackerError} `TRACKER_SCRAPE_UNSUPPORTED` when the URL has no scrape form, or as
 * {@link httpAnnounce}.
 */
export async function httpScrape(
  announceUrl: string,
  infoHashes: readonly Uint8Array[],
  options: TrackerRequestOptions = {},
): Promise<ScrapeResponse> {
  const base = scrapeUrlFor(announceUrl);
  if (base === undefined) {
    throw new TrackerError('TRACKER_SCRAPE_UNSUPPORTED', 'announce URL has no scrape form (BEP 48)', {
      details: { url: announceUrl },
    });
  }
  const q = infoHashes.map((ih) => `info_hash=${percentEncodeBytes(ih)}`).join('&');
  const body = await httpGet(`${base}${base.includes('?') ? '&' : '?'}${q}`, options);
  return parseScrapeResponse(body, infoHashes);
}
