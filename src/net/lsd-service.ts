import { randomBytes } from 'node:crypto';
import { toHex } from '../util/bytes.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { NetError } from './errors.js';
import { decodeLsdAnnounce, encodeLsdAnnounce, lsdHashesPerDatagram } from './lsd.js';
import { type LsdEndpoint, type LsdInterfaces, type LsdOpen, openLsdSocket } from './lsd-socket.js';

/** A peer announced on the LAN. */
export interface LsdPeer {
  /** The swarm, as 40 lower-case hex digits. */
  infoHash: string;
  /** The datagram's source address: where the peer is. */
  host: string;
  /** The BitTorrent port it announced. */
  port: number;
}

/** Events of an {@link LsdService}. */
export interface LsdEvents {
  /** Someone else on the LAN is in a swarm (one event per info-hash of a datagram). */
  peer: [LsdPeer];
  /** We sent an announce of these info-hashes (hex), on every open socket. */
  announce: [infoHashes: string[]];
  /**
   * Something was refused or failed that the service survives: `NET_LSD_MALFORMED` (a bad
   * datagram; at most one warning per `warnIntervalMs`, every one counted in `stats`),
   * `NET_LSD_SOCKET` (a socket that could not open, join or send).
   */
  warning: [NetError];
}

/** Counters of an {@link LsdService}. */
export interface LsdStats {
  /** Datagrams sent (one per family and announce, whatever the number of interfaces). */
  sent: number;
  /** Datagrams received, ours included. */
  received: number;
  /** Received datagrams refused as malformed. */
  malformed: number;
  /** Our own datagrams heard back (same cookie), ignored. */
  own: number;
  /** Peers reported (`peer` events). */
  peers: number;
}

/** Options of an {@link LsdService}. */
export interface LsdServiceOptions {
  /** Our BitTorrent listening port, announced (1–65535). */
  port: number;
  /**
   * Where to run: the interfaces to join, by family (see `lsdInterfacesFor(listenHost)`). An
   * empty list for a family: none of it.
   */
  interfaces: LsdInterfaces;
  /** How often each torrent is announced, ms. Default 5 minutes (BEP 14). */
  announceIntervalMs?: number;
  /**
   * The global limit: announces (datagrams) come from a bucket of `burst` that refills one per
   * `minIntervalMs`. Default one a minute (BEP 14), burst 3 — so that torrents added together
   * are announced at once, and a busy LAN never sees more than one a minute from us for long.
   */
  minIntervalMs?: number;
  burst?: number;
  /** ±this fraction of random jitter on each torrent's interval. Default 0.1. */
  jitter?: number;
  /** Largest random delay before a new torrent's first announce, ms. Default 500. */
  startDelayMs?: number;
  /**
   * A torrent's first announce is sent again after each of these delays, ms — a multicast
   * datagram can be lost (Wi-Fi drops them readily) and the next announce is minutes away.
   * Default `[2000, 6000]`, libtorrent's; `[]` for none. Repeats take no token.
   */
  repeatDelaysMs?: readonly number[];
  /** Multicast TTL (hops). Default 1: the announces stay on the local link. */
  ttl?: number;
  /** At most one `NET_LSD_MALFORMED` warning per this many ms. Default 10 s. */
  warnIntervalMs?: number;
  /** Our cookie, to recognise our own datagrams. Default 8 random hex digits. */
  cookie?: string;
  clock?: Clock;
  /** Random source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Opens the sockets. Default {@link openLsdSocket} (Node's dgram). */
  open?: LsdOpen;
}

/** One token, less a rounding error (so that a refill computed to 0.999… still counts). */
const TOKEN = 1 - 1e-9;

interface Entry {
  readonly hash: Uint8Array;
  /** Announce it now? (Not while its torrent is paused, say.) */
  readonly active: () => boolean;
  due: number;
  /** Not announced yet: its first announce is repeated. */
  fresh: boolean;
}

/**
 * Local service discovery (BEP 14): announces our torrents to the LAN's multicast group and
 * reports the peers others announce. Each torrent is announced when added (after a short random
 * delay; that first announce is repeated after 2 and 6 s, in case it was lost) and then every
 * `announceIntervalMs` (±jitter); several due torrents share one datagram
 * (up to 25 info-hashes in 1400 bytes); all datagrams pass one global rate limit. Hostile
 * datagrams are refused and counted, never thrown.
 *
 * @example
 * ```ts
 * const lsd = new LsdService({ port: 6881, interfaces: lsdInterfacesFor('0.0.0.0') });
 * lsd.on('peer', (p) => console.log(p.infoHash, p.host, p.port));
 * await lsd.start();
 * lsd.add(infoHash);
 * ```
 */
export class LsdService extends TypedEmitter<LsdEvents> {
  /** Our cookie (sent in every announce). */
  readonly cookie: string;
  readonly #port: number;
  readonly #interfaces: LsdInterfaces;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #open: LsdOpen;
  readonly #intervalMs: number;
  readonly #minIntervalMs: number;
  readonly #burst: number;
  readonly #jitter: number;
  readonly #startDelayMs: number;
  readonly #ttl: number;
  readonly #warnIntervalMs: number;
  readonly #repeatDelaysMs: readonly number[];
  readonly #repeats = new Set<TimerHandle>();
  readonly #entries = new Map<string, Entry>();
  readonly #endpoints: LsdEndpoint[] = [];
  readonly #stats: LsdStats = { sent: 0, received: 0, malformed: 0, own: 0, peers: 0 };
  #tokens: number;
  #tokensAt: number;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #started = false;
  #closed = false;
  #lastWarnAt = Number.NEGATIVE_INFINITY;
  #unwarned = 0;

  /** @throws {NetError} `NET_LSD_BAD_OPTIONS` for a bad port, interval, burst, TTL or cookie. */
  constructor(options: LsdServiceOptions) {
    super();
    const o = options;
    const positive = (v: number | undefined, d: number, what: string, min = 1): number => {
      const n = v ?? d;
      if (!(Number.isFinite(n) && n >= min))
        throw new NetError('NET_LSD_BAD_OPTIONS', `${what} must be ≥ ${min}`);
      return n;
    };
    if (!(Number.isInteger(o.port) && o.port >= 1 && o.port <= 65535))
      throw new NetError('NET_LSD_BAD_OPTIONS', `LSD port must be 1–65535, got ${o.port}`);
    this.#port = o.port;
    this.#interfaces = { v4: [...o.interfaces.v4], v6: [...o.interfaces.v6] };
    this.#clock = o.clock ?? realClock;
    this.#random = o.random ?? Math.random;
    this.#open = o.open ?? openLsdSocket;
    this.#intervalMs = positive(o.announceIntervalMs, 5 * 60_000, 'announceIntervalMs');
    this.#minIntervalMs = positive(o.minIntervalMs, 60_000, 'minIntervalMs');
    this.#burst = Math.floor(positive(o.burst, 3, 'burst'));
    this.#jitter = positive(o.jitter, 0.1, 'jitter', 0);
    if (this.#jitter >= 1) throw new NetError('NET_LSD_BAD_OPTIONS', 'jitter must be below 1');
    this.#startDelayMs = positive(o.startDelayMs, 500, 'startDelayMs', 0);
    this.#ttl = Math.floor(positive(o.ttl, 1, 'ttl'));
    if (this.#ttl > 255) throw new NetError('NET_LSD_BAD_OPTIONS', 'ttl must be 1–255');
    this.#warnIntervalMs = positive(o.warnIntervalMs, 10_000, 'warnIntervalMs', 0);
    this.#repeatDelaysMs = (o.repeatDelaysMs ?? [2000, 6000]).map((d) => positive(d, 0, 'a repeat delay', 0));
    if (this.#repeatDelaysMs.length > 5) throw new NetError('NET_LSD_BAD_OPTIONS', 'at most 5 repeats');
    this.cookie = o.cookie ?? toHex(randomBytes(4));
    if (!/^[0-9a-zA-Z]{1,64}$/.test(this.cookie))
      throw new NetError('NET_LSD_BAD_OPTIONS', 'an LSD cookie is 1–64 letters and digits');
    this.#tokens = this.#burst;
    this.#tokensAt = this.#clock.now();
  }

  /** A copy of the counters. */
  get stats(): LsdStats {
    return { ...this.#stats };
  }

  /** The families whose socket is open (after `start()`). */
  get families(): (4 | 6)[] {
    return this.#endpoints.map((e) => e.family);
  }

  /**
   * Opens the sockets (IPv4, and IPv6 when it has interfaces). Never throws: a socket that
   * cannot open is a `NET_LSD_SOCKET` warning and the service runs without it (with no socket
   * at all it only keeps its books).
   */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const families: [4 | 6, string[]][] = [
      [4, this.#interfaces.v4],
      [6, this.#interfaces.v6],
    ];
    for (const [family, ifaces] of families) {
      if (ifaces.length === 0) continue;
      try {
        const ep = await this.#open(
          family,
          ifaces,
          { ttl: this.#ttl },
          {
            message: (d, from) => this.#receive(d, from),
            error: (err) => this.#warn(err),
          },
        );
        if (this.#closed) ep.close();
        else this.#endpoints.push(ep);
      } catch (err) {
        this.#warn(
          err instanceof NetError
            ? err
            : new NetError('NET_LSD_SOCKET', `cannot open the IPv${family} LSD socket`, { cause: err }),
        );
      }
    }
    if (this.#endpoints.length === 0 && this.#interfaces.v4.length + this.#interfaces.v6.length === 0)
      this.#warn(new NetError('NET_LSD_SOCKET', 'no network interface to run local service discovery on'));
    this.#schedule();
  }

  /**
   * Announces this torrent from now on (first within `startDelayMs`, then every interval).
   * `active`: asked before each announce — a torrent for which it says false is skipped until it
   * says true again (a paused torrent). Adding one already there changes nothing.
   * @throws {NetError} `NET_LSD_BAD_OPTIONS` for an info-hash that is not 20 bytes.
   */
  add(infoHash: Uint8Array, active: () => boolean = () => true): void {
    if (infoHash.length !== 20) throw new NetError('NET_LSD_BAD_OPTIONS', 'an info-hash is 20 bytes');
    const key = toHex(infoHash);
    if (this.#entries.has(key) || this.#closed) return;
    const due = this.#clock.now() + this.#random() * this.#startDelayMs;
    this.#entries.set(key, { hash: infoHash.slice(), active, due, fresh: true });
    this.#schedule();
  }

  /** Stops announcing this torrent. */
  remove(infoHash: Uint8Array): void {
    this.#entries.delete(toHex(infoHash));
  }

  /** Whether this torrent is announced. */
  has(infoHash: Uint8Array): boolean {
    return this.#entries.has(toHex(infoHash));
  }

  /** Closes the sockets and stops every timer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const t of this.#repeats) t.cancel();
    this.#repeats.clear();
    for (const ep of this.#endpoints.splice(0)) ep.close();
    this.#entries.clear();
  }

  #refill(now: number): void {
    const gained = (now - this.#tokensAt) / this.#minIntervalMs;
    if (gained <= 0) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + gained);
    this.#tokensAt = now;
  }

  /** Sets the one timer to the next moment something is due and a token is there. */
  #schedule(): void {
    // Without a socket there is nothing to send: no timer either.
    if (!this.#started || this.#closed || this.#endpoints.length === 0) return;
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.#entries.values()) next = Math.min(next, e.due);
    if (next === Number.POSITIVE_INFINITY) {
      this.#timer?.cancel();
      this.#timer = undefined;
      this.#timerAt = next;
      return;
    }
    const now = this.#clock.now();
    this.#refill(now);
    const tokenAt = this.#tokens >= TOKEN ? now : now + (1 - this.#tokens) * this.#minIntervalMs;
    const at = Math.max(next, tokenAt, now);
    if (this.#timer && this.#timerAt <= at) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#fire();
    }, at - now);
  }

  /** Announces what is due, as one datagram per family, if the bucket allows. */
  #fire(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    this.#refill(now);
    if (this.#tokens >= TOKEN) {
      const due = [...this.#entries.values()].filter((e) => e.due <= now).sort((a, b) => a.due - b.due);
      const per = lsdHashesPerDatagram(this.#endpoints.some((e) => e.family === 6) ? 6 : 4, this.cookie);
      const batch: Entry[] = [];
      for (const e of due) {
        if (batch.length >= per) break;
        if (e.active()) batch.push(e);
        else e.due = now + this.#interval();
      }
      if (batch.length > 0) {
        this.#tokens -= 1;
        for (const e of batch) e.due = now + this.#interval();
        this.#send(batch.map((e) => e.hash));
        const fresh = batch.filter((e) => e.fresh);
        for (const e of fresh) e.fresh = false;
        if (fresh.length > 0) for (const d of this.#repeatDelaysMs) this.#repeat(fresh, d);
      }
    }
    this.#schedule();
  }

  /** Sends these torrents' first announce again after `delayMs` (those still announced and active). */
  #repeat(entries: readonly Entry[], delayMs: number): void {
    const timer = this.#clock.setTimeout(() => {
      this.#repeats.delete(timer);
      const still = entries.filter((e) => this.#entries.get(toHex(e.hash)) === e && e.active());
      if (!this.#closed && still.length > 0) this.#send(still.map((e) => e.hash));
    }, delayMs);
    this.#repeats.add(timer);
  }

  #interval(): number {
    return this.#intervalMs * (1 + this.#jitter * (2 * this.#random() - 1));
  }

  #send(hashes: Uint8Array[]): void {
    for (const ep of this.#endpoints) {
      const datagram = encodeLsdAnnounce({
        port: this.#port,
        infoHashes: hashes,
        cookie: this.cookie,
        family: ep.family,
      });
      ep.send(datagram);
      this.#stats.sent++;
    }
    this.emit('announce', hashes.map(toHex));
  }

  #receive(datagram: Uint8Array, from: string): void {
    if (this.#closed) return;
    this.#stats.received++;
    let announce: ReturnType<typeof decodeLsdAnnounce>;
    try {
      announce = decodeLsdAnnounce(datagram);
    } catch (err) {
      this.#stats.malformed++;
      this.#refused(
        err instanceof NetError
          ? err
          : new NetError('NET_LSD_MALFORMED', 'LSD datagram refused', { cause: err }),
        from,
      );
      return;
    }
    if (announce.cookie !== undefined && announce.cookie.toLowerCase() === this.cookie.toLowerCase()) {
      this.#stats.own++;
      return;
    }
    const host = from.startsWith('::ffff:') && from.includes('.') ? from.slice(7) : from;
    for (const ih of announce.infoHashes) {
      this.#stats.peers++;
      this.emit('peer', { infoHash: toHex(ih), host, port: announce.port });
    }
  }

  /** A `NET_LSD_MALFORMED` warning, at most one per `warnIntervalMs` (the rest counted in it). */
  #refused(err: NetError, from: string): void {
    const now = this.#clock.now();
    if (now - this.#lastWarnAt < this.#warnIntervalMs) {
      this.#unwarned++;
      return;
    }
    this.#lastWarnAt = now;
    const more = this.#unwarned > 0 ? ` (and ${this.#unwarned} more refused since the last warning)` : '';
    this.#unwarned = 0;
    this.#warn(new NetError('NET_LSD_MALFORMED', `${err.message}, from ${from}${more}`, { cause: err }));
  }

  #warn(err: NetError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', err);
  }
}
