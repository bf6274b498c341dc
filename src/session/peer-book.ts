import type { PeerAddress } from '../metainfo/magnet.js';
import { formatPeerAddress } from '../metainfo/magnet.js';
import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import { ipVersion, normalizeHost } from '../util/ip.js';
import { WireError } from '../wire/errors.js';
import type { LinkHints } from './links.js';
import type { PeerConn } from './peer.js';
import type { Settings } from './settings.js';

/** An address the torrent may dial, with its back-off state. */
export interface KnownPeer {
  readonly addr: PeerAddress;
  /** Failed dials (or connections that ended) in a row. */
  failures: number;
  /** Not dialled before this time (the torrent's clock, ms). */
  retryAt: number;
  /** The peer is a seed: not dialled again once we are one too. */
  seed: boolean;
  /** What is known of its transports and encryption (PEX flags, failed attempts). */
  readonly hints: LinkHints;
}

/** The settings a {@link PeerBook} reads (`enableIpv6` absent: on). */
type BookSettings = Pick<Settings, 'maxConnectionsPerTorrent' | 'reconnectBackoffMs'> &
  Partial<Pick<Settings, 'enableIpv6'>>;

/** Failures in a row after which an address is forgotten. */
const MAX_FAILURES = 8;

/**
 * Who the torrent knows and who it is connected to: addresses to dial with their back-off,
 * banned hosts, dials in progress, connected peers (by the address they were dialled at or
 * came from), and the one-connection-per-peer rule. Pure bookkeeping on an injected clock: it
 * opens no connection itself (the torrent dials what {@link dialable} returns).
 */
export class PeerBook {
  /** Connected peers (both handshakes done), by `host:port` of the connection. */
  readonly connected = new Map<string, PeerConn>();
  readonly #clock: Clock;
  readonly #settings: Readonly<BookSettings>;
  readonly #selfId: string;
  readonly #known = new Map<string, KnownPeer>();
  readonly #connecting = new Set<string>();
  readonly #banned = new Set<string>();
  /** Connected peers by their handshake peer id (hex): one connection per peer. */
  readonly #byPeerId = new Map<string, PeerConn>();
  /** Incoming peers by the address they listen on (so we do not dial a peer already connected). */
  readonly #byListen = new Map<string, PeerConn>();
  readonly #seen = new Set<string>();
  /**
   * No known address can be dialled before this time: {@link dialable} skips its walk over
   * every address until then (it runs on each closed connection and each second; a large swarm
   * knows hundreds of addresses, mostly backing off). Lowered whenever an address may become
   * dialable sooner: a new one, a failure's retry time, a peer that dialled us leaving.
   */
  #idleUntil = 0;

  constructor(clock: Clock, settings: Readonly<BookSettings>, selfPeerId: Uint8Array) {
    this.#clock = clock;
    this.#settings = settings;
    this.#selfId = toHex(selfPeerId);
  }

  /** Distinct peers that completed a handshake. */
  get seenCount(): number {
    return this.#seen.size;
  }

  /** Banned hosts. */
  get bannedCount(): number {
    return this.#banned.size;
  }

  /** Connections open or being dialled are below the per-torrent limit. */
  get hasRoom(): boolean {
    return this.connected.size + this.#connecting.size < this.#settings.maxConnectionsPerTorrent;
  }

  /**
   * Learns an address. Returns its id (`host:port`, `[v6]:port`) when it is new and not banned.
   * IP literals are taken in canonical form (an IPv4-mapped IPv6 address is the IPv4 peer), so an
   * address met twice in two spellings is one entry; IPv6 ones are ignored with `enableIpv6` off.
   */
  add(address: PeerAddress, hints?: LinkHints): string | undefined {
    const addr = { host: normalizeHost(address.host), port: address.port };
    if (this.#settings.enableIpv6 === false && ipVersion(addr.host) === 6) return undefined;
    const id = formatPeerAddress(addr);
    if (this.#banned.has(addr.host)) return undefined;
    const k = this.#known.get(id);
    if (k) {
      // A source that says the peer speaks uTP or prefers encryption overrides a guess.
      if (hints?.utp) k.hints.utp = true;
      if (hints?.encryption) k.hints.encryption = true;
      return undefined;
    }
    this.#known.set(id, { addr, failures: 0, retryAt: 0, seed: false, hints: { ...hints } });
    this.#idleUntil = 0;
    return id;
  }

  /** What the dialer knows of the peer at `id` (a fresh record for an unknown one). */
  hints(id: string): LinkHints {
    return this.#known.get(id)?.hints ?? {};
  }

  known(id: string): KnownPeer | undefined {
    return this.#known.get(id);
  }

  isBanned(host: string): boolean {
    return this.#banned.has(host);
  }

  /** Connected to the peer listening at `id`: we dialled it, or it dialled us and told its port. */
  isConnected(id: string): boolean {
    const p = this.#byListen.get(id);
    return this.connected.has(id) || (p !== undefined && !p.wire.closed);
  }

  /** The address to dial for `id` now, or undefined when it must not be dialled. */
  dialTarget(id: string): PeerAddress | undefined {
    const k = this.#known.get(id);
    if (!k || this.isConnected(id) || this.#connecting.has(id) || this.#banned.has(k.addr.host)) return;
    if (this.#clock.now() < k.retryAt || !this.hasRoom) return;
    return k.addr;
  }

  dialStarted(id: string): void {
    this.#connecting.add(id);
  }

  dialEnded(id: string): void {
    this.#connecting.delete(id);
  }

  /** A dial failed or a connection we made ended: back off exponentially, forget after 8. */
  failed(id: string): void {
    const k = this.#known.get(id);
    if (!k) return;
    k.failures++;
    k.retryAt = this.#clock.now() + this.#settings.reconnectBackoffMs * 2 ** Math.min(k.failures - 1, 6);
    if (k.failures > MAX_FAILURES) this.#known.delete(id);
    else if (k.retryAt < this.#idleUntil) this.#idleUntil = k.retryAt;
  }

  /** Forgets every back-off (on resume). Returns the known ids. */
  resetBackoff(): string[] {
    this.#idleUntil = 0;
    for (const k of this.#known.values()) k.retryAt = 0;
    return [...this.#known.keys()];
  }

  /** Something may be dialable sooner than the book thinks (a peer that dialled us left…). */
  wake(): void {
    this.#idleUntil = 0;
  }

  /**
   * Ids worth dialling now, within the connection limit (`skipSeeds`: not known seeds). When
   * none is, the walk is skipped until the earliest retry time.
   */
  dialable(skipSeeds: boolean): string[] {
    const now = this.#clock.now();
    if (now < this.#idleUntil) return [];
    const out: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    const room = this.#settings.maxConnectionsPerTorrent - this.connected.size - this.#connecting.size;
    for (const [id, k] of this.#known) {
      if (out.length >= room) return out;
      if ((k.seed && skipSeeds) || this.isConnected(id) || this.#connecting.has(id)) continue;
      if (k.retryAt > now) {
        if (k.retryAt < next) next = k.retryAt;
        continue;
      }
      out.push(id);
    }
    // Walked everything without finding a dialable address: nothing to do before `next`.
    if (out.length === 0) this.#idleUntil = next;
    return out;
  }

  /**
   * Registers a peer whose handshake arrived (`remoteId`: its peer id, hex). One connection per
   * address and per peer id: a second connection to the same address is closed; when two peers
   * dial each other at once each sees an outgoing and an incoming connection, and both must keep
   * the same one or each closes the one the other kept and they redial forever — the rule (as
   * libtorrent's) keeps the connection dialled by the peer with the lower id. Over uTP (one socket
   * per peer, so the incoming connection comes from the address we dial) the two connections of
   * a simultaneous open — hole punching makes them on purpose — even share the address id: the
   * same rule decides. Returns false when `peer` is the one closed.
   */
  admit(peer: PeerConn, remoteId: string | undefined): boolean {
    const old = this.connected.get(peer.id);
    const crossed =
      old !== undefined &&
      remoteId !== undefined &&
      old.incoming !== peer.incoming &&
      this.#byPeerId.get(remoteId) === old;
    if (old && old !== peer && !crossed) {
      peer.wire.close(new WireError('WIRE_DUPLICATE_CONNECTION', `already connected to ${peer.id}`));
      return false;
    }
    const twin = remoteId === undefined ? undefined : this.#byPeerId.get(remoteId);
    if (twin && twin !== peer && !twin.wire.closed && remoteId !== undefined) {
      const keepNew = twin.incoming !== peer.incoming && peer.incoming === remoteId < this.#selfId;
      const loser = keepNew ? twin : peer;
      if (keepNew && !twin.incoming) this.#byListen.set(twin.id, peer);
      loser.wire.close(new WireError('WIRE_DUPLICATE_CONNECTION', `already connected to ${remoteId}`));
      if (!keepNew) return false;
    }
    if (remoteId !== undefined) {
      this.#byPeerId.set(remoteId, peer);
      peer.wire.once('close', () => {
        if (this.#byPeerId.get(remoteId) === peer) this.#byPeerId.delete(remoteId);
      });
    }
    this.connected.set(peer.id, peer);
    this.#seen.add(peer.id);
    const k = this.#known.get(peer.id);
    if (k) k.failures = 0;
    return true;
  }

  /** An incoming peer told the address it listens on (its extended handshake's `p`). */
  listensAt(addrId: string, peer: PeerConn): void {
    this.#byListen.set(addrId, peer);
  }

  /** A connection closed: it leaves the book; its listen address may be dialled again. */
  closed(peer: PeerConn): void {
    if (this.connected.get(peer.id) === peer) this.connected.delete(peer.id);
    if (!peer.incoming) return;
    for (const [k, p] of this.#byListen) {
      if (p !== peer) continue;
      this.#byListen.delete(k);
      if (this.#known.has(k)) this.#idleUntil = 0;
    }
  }

  /**
   * Bans `host`: its connections close, its addresses are forgotten and never taken again.
   * False if it already was.
   */
  ban(host: string, why: string): boolean {
    if (this.#banned.has(host)) return false;
    this.#banned.add(host);
    for (const [id, k] of this.#known) if (k.addr.host === host) this.#known.delete(id);
    for (const peer of [...this.connected.values()])
      if (peer.wire.remote.host === host) peer.wire.close(new WireError('WIRE_BANNED', `banned: ${why}`));
    return true;
  }

  /** The host of a peer id (`host:port`), from the connection or the address book. */
  hostOf(id: string): string {
    return (
      this.connected.get(id)?.wire.remote.host ??
      this.#known.get(id)?.addr.host ??
      id.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')
    );
  }

  /** Marks the peer at `id` a seed (not redialled once we are one). */
  markSeed(id: string): void {
    const k = this.#known.get(id);
    if (k) k.seed = true;
  }
}
