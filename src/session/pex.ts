import type { PeerAddress } from '../metainfo/magnet.js';
import { formatPeerAddress, parsePeerAddress } from '../metainfo/magnet.js';
import type { Clock } from '../util/clock.js';
import { PexFlags, type PexPeer } from '../wire/ut-pex.js';
import type { PeerConn } from './peer.js';

/** Most addresses stated or taken per PEX message. */
export const PEX_MAX_PEERS = 50;
/** How long the view of our peers is reused, ms. */
const VIEW_TTL_MS = 1_000;

/** Where a connected peer listens: the address we dialled, or the `p` of its handshake. */
export function listenAddress(p: PeerConn): PeerAddress | undefined {
  if (!p.incoming) return { host: p.wire.remote.host, port: p.wire.remote.port };
  const port = p.wire.peerExtendedHandshake?.port;
  return port === undefined ? undefined : { host: p.wire.remote.host, port };
}

/**
 * Peer exchange (BEP 11) from our side: tells each peer, in `ut_pex` messages, which peers we are
 * connected to (the changes since the last message, at most 50 added and 50 dropped). Every
 * connection's message reads one view of our peers, rebuilt at most once a second (or when the
 * peer count changes) — not a walk over all peers per connection, quadratic in a large swarm.
 */
export class PexGossip {
  readonly #clock: Clock;
  readonly #isSeed: (p: PeerConn) => boolean;
  #cache: { at: number; size: number; view: Map<string, PexPeer> } | undefined;

  constructor(clock: Clock, isSeed: (p: PeerConn) => boolean) {
    this.#clock = clock;
    this.#isSeed = isSeed;
  }

  /** Once a second: a message to each peer whose PEX interval (a minute) has passed. */
  tick(peers: ReadonlyMap<string, PeerConn>): void {
    for (const p of peers.values()) if (p.pex?.waitMs === 0) this.send(p, peers);
  }

  /** Sends `peer` the changes in `peers` since the last message to it, if there are any. */
  send(peer: PeerConn, peers: ReadonlyMap<string, PeerConn>): void {
    const pex = peer.pex;
    if (!pex?.active || peer.wire.closed || pex.waitMs > 0) return;
    const now = this.#view(peers);
    const self = listenAddress(peer);
    const selfKey = self ? formatPeerAddress(self) : undefined;
    const added: [string, PexPeer][] = [];
    for (const e of now) {
      if (added.length >= PEX_MAX_PEERS) break;
      if (e[0] !== selfKey && !peer.pexSent.has(e[0])) added.push(e);
    }
    const dropped: string[] = [];
    for (const k of peer.pexSent) {
      if (dropped.length >= PEX_MAX_PEERS) break;
      if (!now.has(k)) dropped.push(k);
    }
    if (added.length === 0 && dropped.length === 0) return;
    const droppedAddrs: PeerAddress[] = [];
    for (const k of dropped) {
      try {
        droppedAddrs.push(parsePeerAddress(k));
      } catch {
        // not an address we can state
      }
    }
    if (pex.send({ added: added.map(([, v]) => v), dropped: droppedAddrs })) {
      for (const [k] of added) peer.pexSent.add(k);
      for (const k of dropped) peer.pexSent.delete(k);
    }
  }

  /** The peers we are connected to, by listen address, as PEX states them. */
  #view(peers: ReadonlyMap<string, PeerConn>): Map<string, PexPeer> {
    const t = this.#clock.now();
    const c = this.#cache;
    if (c && t - c.at < VIEW_TTL_MS && c.size === peers.size) return c.view;
    const view = new Map<string, PexPeer>();
    for (const p of peers.values()) {
      const a = listenAddress(p);
      if (a)
        view.set(formatPeerAddress(a), {
          host: a.host,
          port: a.port,
          flags:
            (this.#isSeed(p) ? PexFlags.seed : 0) |
            (p.incoming ? 0 : PexFlags.reachable) |
            (p.link.transport === 'utp' ? PexFlags.utp : 0) |
            (p.wire.peerSupports('ut_holepunch') ? PexFlags.holepunch : 0) |
            (p.link.encryption !== 'none' ? PexFlags.encryption : 0),
        });
    }
    this.#cache = { at: t, size: peers.size, view };
    return view;
  }
}
