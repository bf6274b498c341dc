import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { fromUtf8, toHex } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import { AbortError } from '../util/errors.js';
import { deadline } from './_deadline.js';
import { sanitizeTrackerText, TrackerError } from './errors.js';
import { addCompactPeers, PeerCollector } from './peers.js';
import type {
  AnnounceEvent,
  AnnounceRequest,
  AnnounceResponse,
  ScrapeResponse,
  ScrapeStats,
  TrackerRequestOptions,
} from './types.js';

const PROTOCOL_ID = 0x41727101980n;
const ACTION_CONNECT = 0;
const ACTION_ANNOUNCE = 1;
const ACTION_SCRAPE = 2;
const ACTION_ERROR = 3;
const EVENTS: Record<AnnounceEvent, number> = { completed: 1, started: 2, stopped: 3 };
/** Most info-hashes in one UDP scrape (BEP 15: about 74 fit a packet). */
export const MAX_UDP_SCRAPE = 74;

/**
 * Connection ids of UDP trackers, kept for one minute (BEP 15) and keyed by `host:port`. Share one
 * between torrents to save a round trip per announce. Bounded: the oldest entry goes past 1,024.
 */
export class UdpConnectionCache {
  readonly #entries = new Map<string, { id: Uint8Array; at: number }>();

  constructor(
    readonly ttlMs = 60_000,
    readonly maxEntries = 1024,
  ) {}

  /** The connection id for `key` if it was received less than `ttlMs` ago. */
  get(key: string, now: number): Uint8Array | undefined {
    const e = this.#entries.get(key);
    if (e && now - e.at < this.ttlMs) return e.id;
    if (e) this.#entries.delete(key);
    return undefined;
  }

  set(key: string, id: Uint8Array, now: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { id, at: now });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/** A parsed `udp://host:port` tracker URL. */
export interface UdpTrackerAddress {
  host: string;
  port: number;
}

/** Parses `udp://host:port[/…]`; the port is required. Throws `TRACKER_BAD_URL`. */
export function parseUdpUrl(url: string): UdpTrackerAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new TrackerError('TRACKER_BAD_URL', `not a URL: ${JSON.stringify(url.slice(0, 200))}`, {
      cause: err,
    });
  }
  const port = Number(u.port);
  if (u.protocol !== 'udp:' || u.hostname === '' || !(port >= 1 && port <= 65535)) {
    throw new TrackerError('TRACKER_BAD_URL', 'a UDP tracker URL is udp://host:port');
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port };
}

function txId(): number {
  return randomBytes(4).readUInt32BE(0);
}

function u64(v: number | bigint): bigint {
  const b = BigInt(v);
  return b < 0n ? 0n : b > 0xffffffffffffffffn ? 0xffffffffffffffffn : b;
}

/** One socket to one tracker, with the BEP 15 retransmission schedule. */
class UdpExchange {
  readonly #socket: Socket;
  readonly #clock: Clock;
  readonly #base: number;
  readonly #max: number;
  #n = 0;
  #waiter: { tx: number; resolve: (msg: Uint8Array | undefined) => void } | undefined;
  #error: Error | undefined;
  /** Datagrams ignored: too short, or with a transaction id we are not waiting for. */
  ignored = 0;

  constructor(socket: Socket, clock: Clock, base: number, max: number) {
    this.#socket = socket;
    this.#clock = clock;
    this.#base = base;
    this.#max = max;
    socket.on('message', (msg: Buffer) => {
      const w = this.#waiter;
      if (msg.length < 8 || !w || msg.readUInt32BE(4) !== w.tx) {
        this.ignored++;
        return;
      }
      this.#waiter = undefined;
      w.resolve(new Uint8Array(msg));
    });
    socket.on('error', (err) => {
      this.#error = err;
      const w = this.#waiter;
      this.#waiter = undefined;
      w?.resolve(undefined);
    });
  }

  /**
   * Sends a request built for a fresh transaction id and waits `base · 2ⁿ` for its reply. Returns
   * the reply, or `undefined` after a timeout (n then grows: the caller retransmits). Throws
   * `TRACKER_UDP_NO_REPLY` past the cap, `TRACKER_FAILURE` on an error reply, and
   * `TRACKER_BAD_RESPONSE` on a reply with our transaction id but another action.
   */
  async step(
    build: (tx: number) => Uint8Array,
    action: number,
    signal: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    const tx = txId();
    const packet = build(tx);
    const wait = this.#base * 2 ** this.#n;
    const reply = await new Promise<Uint8Array | undefined>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => done(undefined), wait);
      const onAbort = () => {
        timer.cancel();
        this.#waiter = undefined;
        reject(new AbortError('UDP tracker request aborted', { cause: signal.reason }));
      };
      const done = (msg: Uint8Array | undefined) => {
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        this.#waiter = undefined;
        resolve(msg);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = { tx, resolve: done };
      this.#socket.send(packet, (err) => {
        if (err) this.#error = err;
      });
    });
    if (this.#error) {
      throw new TrackerError('TRACKER_NETWORK', this.#error.message, { cause: this.#error });
    }
    if (reply === undefined) {
      this.#n++;
      if (this.#n > this.#max) {
        throw new TrackerError('TRACKER_UDP_NO_REPLY', `no UDP reply after ${this.#max} retransmissions`, {
          details: { retransmits: this.#max, ignoredReplies: this.ignored },
        });
      }
      return undefined;
    }
    const got = new DataView(reply.buffer, reply.byteOffset, reply.byteLength).getUint32(0);
    if (got === ACTION_ERROR) {
      const reason = sanitizeTrackerText(fromUtf8(reply.subarray(8)));
      throw new TrackerError('TRACKER_FAILURE', `tracker refused: ${reason}`, { details: { reason } });
    }
    if (got !== action) {
      throw new TrackerError('TRACKER_BAD_RESPONSE', `UDP reply with action ${got}, expected ${action}`, {
        details: { action: got, expected: action },
      });
    }
    return reply;
  }
}

async function resolveHost(host: string, signal: AbortSignal): Promise<{ address: string; family: 4 | 6 }> {
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return { address: host, family: literal };
  const found = lookup(host);
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new AbortError('DNS lookup aborted', { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const r = await Promise.race([found, aborted]);
    return { address: r.address, family: r.family === 6 ? 6 : 4 };
  } catch (err) {
    if (err instanceof AbortError) throw err;
    throw new TrackerError('TRACKER_NETWORK', `cannot resolve ${host}`, { cause: err });
  } finally {
    found.catch(() => undefined);
    aborted.catch(() => undefined);
  }
}

/** Runs `fn` with a socket connected to the tracker, under the request's deadline; always closes it. */
async function withTracker<T>(
  url: string,
  options: TrackerRequestOptions,
  fn: (
    ex: UdpExchange,
    conn: () => Promise<Uint8Array | undefined>,
    family: 4 | 6,
    signal: AbortSignal,
  ) => Promise<T>,
): Promise<T> {
  const { host, port } = parseUdpUrl(url);
  const clock = options.clock ?? realClock;
  const cache = options.udp?.connections ?? new UdpConnectionCache();
  const dl = deadline(clock, options.timeoutMs, options.signal);
  let socket: Socket | undefined;
  try {
    dl.check('UDP tracker request');
    const { address, family } = await resolveHost(host, dl.signal);
    const key = `${address}|${port}`;
    const s = createSocket(family === 6 ? 'udp6' : 'udp4');
    socket = s;
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.once('error', (err) => reject(new TrackerError('TRACKER_NETWORK', err.message, { cause: err })));
      s.connect(port, address, () => resolve());
    });
    const ex = new UdpExchange(
      s,
      clock,
      options.udp?.retransmitBaseMs ?? 15_000,
      options.udp?.maxRetransmits ?? 8,
    );
    /** The connection id: cached, or a connect round trip; `undefined` after a timeout. */
    const conn = async (): Promise<Uint8Array | undefined> => {
      const cached = cache.get(key, clock.now());
      if (cached) return cached;
      const reply = await ex.step(
        (tx) => {
          const p = new DataView(new ArrayBuffer(16));
          p.setBigUint64(0, PROTOCOL_ID);
          p.setUint32(8, ACTION_CONNECT);
          p.setUint32(12, tx);
          return new Uint8Array(p.buffer);
        },
        ACTION_CONNECT,
        dl.signal,
      );
      if (reply === undefined) return undefined;
      if (reply.length < 16) throw new TrackerError('TRACKER_BAD_RESPONSE', 'UDP connect reply too short');
      const id = reply.slice(8, 16);
      cache.set(key, id, clock.now());
      return id;
    };
    try {
      return await fn(ex, conn, family, dl.signal);
    } catch (err) {
      if (err instanceof TrackerError && err.code !== 'TRACKER_UDP_NO_REPLY') cache.delete(key);
      throw err;
    }
  } catch (err) {
    throw dl.translate(err, 'UDP tracker request');
  } finally {
    dl.done();
    socket?.close();
  }
}

/**
 * Announces to a UDP tracker (BEP 15): connect (the id is reused for a minute through
 * `options.udp.connections`), then announce, each retransmitted after `base · 2ⁿ`. Over IPv6 the
 * peers are 18-byte entries. Replies with another transaction id are ignored; a reply with ours
 * but another action is refused.
 *
 * @throws {TrackerError} `TRACKER_BAD_URL`, `TRACKER_UDP_NO_REPLY`, `TRACKER_FAILURE`,
 * `TRACKER_BAD_RESPONSE`, `TRACKER_BAD_PEERS`, `TRACKER_TIMEOUT`, `TRACKER_NETWORK`.
 * @throws {AbortError} when `options.signal` aborts.
 *
 * @example
 * ```ts
 * const r = await udpAnnounce('udp://127.0.0.1:6969', { infoHash, peerId, port, uploaded: 0,
 *   downloaded: 0, left: 0, event: 'started' }, { udp: { retransmitBaseMs: 2000, maxRetransmits: 3 } });
 * ```
 */
export function udpAnnounce(
  url: string,
  req: AnnounceRequest,
  options: TrackerRequestOptions = {},
): Promise<AnnounceResponse> {
  return withTracker(url, options, async (ex, conn, family, signal) => {
    for (;;) {
      const id = await conn();
      if (id === undefined) continue;
      const reply = await ex.step(
        (tx) => {
          const p = new DataView(new ArrayBuffer(98));
          const b = new Uint8Array(p.buffer);
          b.set(id, 0);
          p.setUint32(8, ACTION_ANNOUNCE);
          p.setUint32(12, tx);
          b.set(req.infoHash.subarray(0, 20), 16);
          b.set(req.peerId.subarray(0, 20), 36);
          p.setBigUint64(56, u64(req.downloaded));
          p.setBigUint64(64, u64(req.left));
          p.setBigUint64(72, u64(req.uploaded));
          p.setUint32(80, req.event === undefined ? 0 : EVENTS[req.event]);
          p.setUint32(84, 0);
          p.setUint32(88, (req.key ?? 0) >>> 0);
          p.setInt32(92, req.numwant ?? -1);
          p.setUint16(96, req.port);
          return b;
        },
        ACTION_ANNOUNCE,
        signal,
      );
      if (reply === undefined) continue;
      if (reply.length < 20) throw new TrackerError('TRACKER_BAD_RESPONSE', 'UDP announce reply too short');
      const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
      const collector = new PeerCollector(options.maxPeers ?? 2000);
      addCompactPeers(collector, reply.subarray(20), family);
      return {
        interval: v.getUint32(8),
        incomplete: v.getUint32(12),
        complete: v.getUint32(16),
        peers: collector.peers,
        droppedPeers: collector.dropped,
      };
    }
  });
}

/**
 * Scrapes a UDP tracker (BEP 15) for up to {@link MAX_UDP_SCRAPE} info-hashes.
 *
 * @throws {TrackerError} as {@link udpAnnounce}; `TRACKER_BAD_RESPONSE` when the reply holds fewer
 * entries than asked.
 */
export function udpScrape(
  url: string,
  infoHashes: readonly Uint8Array[],
  options: TrackerRequestOptions = {},
): Promise<ScrapeResponse> {
  if (infoHashes.length === 0 || infoHashes.length > MAX_UDP_SCRAPE) {
    return Promise.reject(
      new TrackerError('TRACKER_BAD_URL', `a UDP scrape asks for 1 to ${MAX_UDP_SCRAPE} info-hashes`),
    );
  }
  return withTracker(url, options, async (ex, conn, _family, signal) => {
    for (;;) {
      const id = await conn();
      if (id === undefined) continue;
      const reply = await ex.step(
        (tx) => {
          const b = new Uint8Array(16 + 20 * infoHashes.length);
          const p = new DataView(b.buffer);
          b.set(id, 0);
          p.setUint32(8, ACTION_SCRAPE);
          p.setUint32(12, tx);
          infoHashes.forEach((ih, i) => {
            b.set(ih.subarray(0, 20), 16 + 20 * i);
          });
          return b;
        },
        ACTION_SCRAPE,
        signal,
      );
      if (reply === undefined) continue;
      if (reply.length < 8 + 12 * infoHashes.length) {
        throw new TrackerError('TRACKER_BAD_RESPONSE', 'UDP scrape reply shorter than asked', {
          details: { length: reply.length, asked: infoHashes.length },
        });
      }
      const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
      const files = new Map<string, ScrapeStats>();
      infoHashes.forEach((ih, i) => {
        const o = 8 + 12 * i;
        files.set(toHex(ih), {
          complete: v.getUint32(o),
          downloaded: v.getUint32(o + 4),
          incomplete: v.getUint32(o + 8),
        });
      });
      return { files };
    }
  });
}
