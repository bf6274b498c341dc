import { networkInterfaces } from 'node:os';
import { formatPeerAddress, type PeerAddress } from '../metainfo/magnet.js';
import type { Endpoint } from '../util/transport.js';
import { ipBytes } from '../wire/ip.js';
import {
  HolepunchErrorCode,
  type HolepunchMessage,
  type UtHolepunchExtension,
  utHolepunch,
} from '../wire/ut-holepunch.js';
import { PexFlags, type PexMessage } from '../wire/ut-pex.js';
import { Connector } from './connector.js';
import type { PeerConn } from './peer.js';
import { listenAddress } from './pex.js';
import type { TorrentCore, TorrentFeature, TorrentFeatureFactory } from './torrent-types.js';

/** Bounds of hole punching, per torrent (see {@link holepunchFeature}). */
export interface HolepunchLimits {
  /** Rendezvous requests one peer may make of us (as relay) per minute; more are ignored. */
  rendezvousPerPeerPerMinute: number;
  /** Rendezvous requests we send per minute (as initiator). */
  rendezvousPerMinute: number;
  /** `connect` messages we act on per minute; more are ignored. */
  connectsPerMinute: number;
  /** Addresses learned through PEX remembered as hole-punch candidates. */
  maxCandidates: number;
  /** Rendezvous attempts per candidate before giving up on it. */
  maxAttempts: number;
}

/** Default {@link HolepunchLimits}. */
export const DEFAULT_HOLEPUNCH_LIMITS: Readonly<HolepunchLimits> = Object.freeze({
  rendezvousPerPeerPerMinute: 20,
  rendezvousPerMinute: 20,
  connectsPerMinute: 20,
  maxCandidates: 500,
  maxAttempts: 2,
});

/** Counters of one torrent's hole punching (for tests and diagnostics). */
export interface HolepunchStats {
  /** Rendezvous requests we sent (as initiator). */
  rendezvousSent: number;
  /** `connect` messages we sent (as relay; two per rendezvous we act on). */
  connectsRelayed: number;
  /** `error` messages we sent (as relay), by BEP 55 code. */
  errorsSent: Record<number, number>;
  /** `error` messages we received (as initiator), by code. */
  errorsReceived: Record<number, number>;
  /** `connect` messages we acted on: a uTP dial started at once. */
  punches: number;
  /** Messages ignored: over a rate limit, or a `connect` to a refused endpoint. */
  ignored: number;
}

/** Options of {@link holepunchFeature}. */
export interface HolepunchOptions {
  limits?: Partial<HolepunchLimits>;
  /** Our own IP addresses (never dialled on a `connect`). Default: the host's interfaces. */
  localAddresses?: () => readonly string[];
  /** Called with each torrent's counters object when the feature is made (tests, diagnostics). */
  onStats?: (infoHashHex: string, stats: Readonly<HolepunchStats>) => void;
}

const MINUTE = 60_000;
/** Sources remembered per candidate. */
const MAX_SOURCES = 4;

/** A fixed-window counter: at most `max` events per minute. */
class Budget {
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;
  constructor(readonly max: number) {}
  take(now: number): boolean {
    if (now - this.#windowStart >= MINUTE) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used >= this.max) return false;
    this.#used++;
    return true;
  }
}

function sameIp(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  if (!x || !y || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameEndpoint(a: Endpoint | undefined, b: Endpoint): boolean {
  return a !== undefined && a.port === b.port && sameIp(a.host, b.host);
}

/**
 * Why an endpoint is not one to dial or introduce (undefined when it is): not an IP literal,
 * unspecified, multicast or broadcast, or loopback when `allowLoopback` is false.
 */
export function refusedEndpoint(e: Endpoint, allowLoopback: boolean): string | undefined {
  const ip = ipBytes(e.host);
  if (!ip) return 'not an IP address';
  if (!(Number.isInteger(e.port) && e.port > 0 && e.port < 65536)) return 'bad port';
  if (ip.every((b) => b === 0)) return 'unspecified address';
  if (ip.length === 4) {
    const a = ip[0] as number;
    if (a >= 224) return 'multicast or reserved address';
    if (a === 0) return 'reserved address';
    if (a === 127 && !allowLoopback) return 'loopback address';
  } else {
    if (ip[0] === 0xff) return 'multicast address';
    const loop = ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
    if (loop && !allowLoopback) return 'loopback address';
  }
  return undefined;
}

function isLoopback(host: string): boolean {
  const ip = ipBytes(host);
  if (!ip) return false;
  return ip.length === 4 ? ip[0] === 127 : ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
}

function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address);
  return out;
}

/** A peer learned through PEX that we may ask its source to introduce us to. */
interface Candidate {
  readonly addr: PeerAddress;
  /** The peers that told us of it (the first few), asked in turn. */
  readonly sources: PeerConn[];
  attempts: number;
  /** Not asked again before this time. */
  nextAt: number;
}

/**
 * BEP 55 hole punching for one torrent: registers `ut_holepunch` on every wire (not for private
 * torrents), relays rendezvous requests between peers connected to us, asks the peer that told
 * us of an address (PEX) to introduce us when dialling it failed, and dials at once over uTP
 * when told to `connect`. Bounded: rate limits per peer and per torrent, a capped candidate list.
 */
export class Holepunch implements TorrentFeature {
  readonly #core: TorrentCore;
  readonly #connector: Connector;
  readonly #limits: HolepunchLimits;
  readonly #local: () => readonly string[];
  readonly #ext = new Map<PeerConn, UtHolepunchExtension>();
  readonly #relayBudget = new WeakMap<PeerConn, Budget>();
  readonly #rendezvousBudget: Budget;
  readonly #connectBudget: Budget;
  readonly #candidates = new Map<string, Candidate>();
  readonly stats: HolepunchStats = {
    rendezvousSent: 0,
    connectsRelayed: 0,
    errorsSent: {},
    errorsReceived: {},
    punches: 0,
    ignored: 0,
  };

  constructor(core: TorrentCore, options: HolepunchOptions = {}) {
    this.#core = core;
    this.#connector = new Connector(core);
    this.#limits = { ...DEFAULT_HOLEPUNCH_LIMITS, ...options.limits };
    this.#local = options.localAddresses ?? hostAddresses;
    this.#rendezvousBudget = new Budget(this.#limits.rendezvousPerMinute);
    this.#connectBudget = new Budget(this.#limits.connectsPerMinute);
  }

  /** A new wire (before its handshake): registers the extension and listens to PEX. */
  attach(peer: PeerConn): void {
    if (this.#core.isPrivate()) return;
    const ext = peer.wire.use(utHolepunch());
    this.#ext.set(peer, ext);
    ext.on('message', (m) => this.#onMessage(peer, ext, m));
    peer.pex?.on('peers', (m) => this.#learn(peer, m));
    peer.wire.once('close', () => this.#ext.delete(peer));
  }

  /** Once a second: asks for introductions to candidates we failed to dial. */
  tick(): void {
    const now = this.#core.clock.now();
    const book = this.#core.book;
    for (const [id, c] of this.#candidates) {
      if (c.nextAt > now) continue;
      const known = book.known(id);
      if (!known || book.isConnected(id) || c.attempts >= this.#limits.maxAttempts) {
        if (!known || c.attempts >= this.#limits.maxAttempts) this.#candidates.delete(id);
        continue;
      }
      if (known.failures === 0) continue;
      const relay = this.#relayFor(c);
      if (!relay) {
        this.#candidates.delete(id);
        continue;
      }
      if (!this.#rendezvousBudget.take(now)) return;
      c.attempts++;
      c.nextAt = now + MINUTE;
      if (this.#send(relay, { type: 'rendezvous', endpoint: c.addr, error: 0 })) this.stats.rendezvousSent++;
    }
  }

  /** A source of `c` that speaks ut_holepunch (sources that cannot relay are forgotten). */
  #relayFor(c: Candidate): UtHolepunchExtension | undefined {
    while (c.sources.length > 0) {
      // Round robin: each attempt asks the next source.
      const source = c.sources[c.attempts % c.sources.length] as PeerConn;
      const ext = this.#ext.get(source);
      if (ext?.active && !source.wire.closed) return ext;
      c.sources.splice(c.sources.indexOf(source), 1);
    }
    return undefined;
  }

  close(): void {
    this.#candidates.clear();
    this.#ext.clear();
  }

  /** Remembers the peers a PEX message named that may need an introduction. */
  #learn(source: PeerConn, m: PexMessage): void {
    for (const p of m.added) {
      // Worth a rendezvous: it says it speaks ut_holepunch, or nobody ever reached it directly.
      if ((p.flags & PexFlags.holepunch) === 0 && (p.flags & PexFlags.reachable) !== 0) continue;
      if (refusedEndpoint(p, isLoopback(source.wire.remote.host))) continue;
      const id = formatPeerAddress(p);
      const c = this.#candidates.get(id);
      if (c) {
        if (!c.sources.includes(source) && c.sources.length < MAX_SOURCES) c.sources.push(source);
        continue;
      }
      if (this.#candidates.size >= this.#limits.maxCandidates) {
        const oldest = this.#candidates.keys().next().value;
        if (oldest !== undefined) this.#candidates.delete(oldest);
      }
      this.#candidates.set(id, {
        addr: { host: p.host, port: p.port },
        sources: [source],
        attempts: 0,
        nextAt: 0,
      });
    }
  }

  #onMessage(from: PeerConn, ext: UtHolepunchExtension, m: HolepunchMessage): void {
    if (this.#core.idle() || this.#core.isPrivate()) return;
    if (m.type === 'rendezvous') this.#relay(from, ext, m.endpoint);
    else if (m.type === 'connect') this.#punch(from, m.endpoint);
    else {
      this.stats.errorsReceived[m.error] = (this.stats.errorsReceived[m.error] ?? 0) + 1;
      // That relay cannot introduce us: ask the others, if any.
      const c = this.#candidates.get(formatPeerAddress(m.endpoint));
      const i = c ? c.sources.indexOf(from) : -1;
      if (c && i >= 0) c.sources.splice(i, 1);
      if (c && c.sources.length === 0) this.#candidates.delete(formatPeerAddress(m.endpoint));
    }
  }

  /** As relay: introduce `from` to the peer at `target`, or say why not. */
  #relay(from: PeerConn, ext: UtHolepunchExtension, target: Endpoint): void {
    let budget = this.#relayBudget.get(from);
    if (!budget) {
      budget = new Budget(this.#limits.rendezvousPerPeerPerMinute);
      this.#relayBudget.set(from, budget);
    }
    if (!budget.take(this.#core.clock.now())) {
      this.stats.ignored++;
      return;
    }
    const to = this.#target(from, target);
    if (typeof to === 'number') {
      this.stats.errorsSent[to] = (this.stats.errorsSent[to] ?? 0) + 1;
      this.#send(ext, { type: 'error', endpoint: target, error: to });
      return;
    }
    const fromAddr = listenAddress(from) ?? from.wire.remote;
    const toAddr = listenAddress(to.peer) ?? to.peer.wire.remote;
    if (this.#send(to.ext, { type: 'connect', endpoint: fromAddr, error: 0 })) this.stats.connectsRelayed++;
    if (this.#send(ext, { type: 'connect', endpoint: toAddr, error: 0 })) this.stats.connectsRelayed++;
  }

  /** The connected peer at `target` that can take a `connect`, or the BEP 55 error code why not. */
  #target(from: PeerConn, target: Endpoint): { peer: PeerConn; ext: UtHolepunchExtension } | number {
    if (refusedEndpoint(target, isLoopback(from.wire.remote.host))) return HolepunchErrorCode.NoSuchPeer;
    let to: PeerConn | undefined;
    for (const p of this.#core.peers()) {
      if (p.wire.closed) continue;
      if (sameEndpoint(listenAddress(p), target) || sameEndpoint(p.wire.remote, target)) {
        to = p;
        break;
      }
    }
    if (to === from) return HolepunchErrorCode.NoSelf;
    if (!to) return HolepunchErrorCode.NotConnected;
    const ext = this.#ext.get(to);
    if (!ext?.active) return HolepunchErrorCode.NoSupport;
    return { peer: to, ext };
  }

  /** Why a `connect` from `relay` to `to` is not acted on (undefined: dial it). */
  #refusal(relay: PeerConn, to: Endpoint, id: string): string | undefined {
    const core = this.#core;
    const bad = refusedEndpoint(to, isLoopback(relay.wire.remote.host));
    if (bad) return bad;
    if (sameEndpoint(relay.wire.remote, to) || sameEndpoint(listenAddress(relay), to))
      return 'the relay itself';
    if (core.listenPort() === to.port && this.#local().some((a) => sameIp(a, to.host))) return 'ourselves';
    if (core.book.isBanned(to.host)) return 'banned';
    if (core.book.isConnected(id)) return 'already connected';
    if (!this.#connectBudget.take(core.clock.now())) return 'rate limit';
    return undefined;
  }

  /** Told to connect: dial `to` now over uTP (the other side dials us at the same time). */
  #punch(relay: PeerConn, to: Endpoint): void {
    const id = formatPeerAddress(to);
    const book = this.#core.book;
    if (this.#refusal(relay, to, id) !== undefined) {
      this.stats.ignored++;
      return;
    }
    book.add({ host: to.host, port: to.port }, { utp: true });
    const known = book.known(id);
    if (!known) {
      this.stats.ignored++;
      return;
    }
    // A hole punch is uTP (both NATs must see outgoing datagrams); no back-off from failed dials.
    known.hints.utp = true;
    known.retryAt = 0;
    book.wake();
    this.stats.punches++;
    void this.#connector.connect(id);
  }

  #send(ext: UtHolepunchExtension, m: HolepunchMessage): boolean {
    try {
      return ext.send(m);
    } catch {
      // An endpoint that cannot be encoded (not an IP literal): nothing to send.
      this.stats.ignored++;
      return false;
    }
  }
}

/**
 * The hole-punching feature (BEP 55) for a client's torrents: `Client` adds it when
 * `settings.holepunch` is on (the default). See {@link Holepunch}.
 */
export function holepunchFeature(options: HolepunchOptions = {}): TorrentFeatureFactory {
  return (core) => {
    const h = new Holepunch(core, options);
    options.onStats?.(core.infoHashHex, h.stats);
    return h;
  };
}
