import type { Clock, TimerHandle } from '../util/clock.js';
import type { Choker, ChokerPeer } from './choker.js';
import type { PeerConn } from './peer.js';
import type { Settings } from './settings.js';

/** What the {@link ChokeScheduler} reads from its torrent. */
export interface ChokeHost {
  readonly clock: Clock;
  readonly settings: Readonly<Pick<Settings, 'uploadSlots' | 'rechokeIntervalMs'>>;
  /** The connected peers. */
  peers(): Iterable<PeerConn>;
  /** The choker deciding each round (it may be replaced between rounds). */
  choker(): Choker;
  /** We have every wanted piece (we are seeding). */
  done(): boolean;
  /** The peer has every piece. */
  isSeed(peer: PeerConn): boolean;
  /** Paused torrents unchoke nobody. */
  paused(): boolean;
}

/**
 * When choking rounds run, and what they change on the wires. A round asks the {@link Choker}
 * whom to unchoke among the connected peers and chokes or unchokes each wire accordingly.
 *
 * Rounds run every `rechokeIntervalMs`; between them, events ask for one {@link soon}:
 * coalesced to at most one a second (in a large swarm interest flaps constantly, and
 * libtorrent's trigger_unchoke likewise waits for its next tick) — except that a newly
 * interested peer gets a round at once when the last round left slots unused for want of
 * candidates (a leecher that connects just after we started seeding must not wait a second).
 */
export class ChokeScheduler {
  readonly #host: ChokeHost;
  readonly #interval: TimerHandle;
  #last = Number.NEGATIVE_INFINITY;
  /** The last round unchoked fewer peers than there are slots (not enough candidates). */
  #slotsIdle = true;
  #pending: TimerHandle | undefined;
  /** When the pending round runs. */
  #pendingAt = 0;
  #stopped = false;

  constructor(host: ChokeHost) {
    this.#host = host;
    this.#interval = host.clock.setInterval(() => this.rechoke(), host.settings.rechokeIntervalMs);
  }

  /** Runs a round now. */
  rechoke(): void {
    if (this.#stopped) return;
    const host = this.#host;
    const now = host.clock.now();
    this.#last = now;
    this.#pending?.cancel();
    this.#pending = undefined;
    const peers: ChokerPeer[] = [];
    for (const p of host.peers()) {
      peers.push({
        id: p.id,
        interested: p.wire.peerInterested,
        downloadRate: p.down.rate(),
        uploadRate: p.up.rate(),
        unchoked: p.unchoked,
        connectedAt: p.connectedAt,
        seed: host.isSeed(p),
      });
    }
    const slots = host.settings.uploadSlots;
    const unchoke = host.choker().rechoke(peers, { seeding: host.done(), now, slots });
    this.#slotsIdle = unchoke.size < slots;
    const paused = host.paused();
    for (const p of host.peers()) {
      const want = unchoke.has(p.id) && !paused;
      if (want && !p.unchoked) {
        p.unchoked = true;
        p.wire.unchoke();
      } else if (!want && p.unchoked) {
        p.unchoked = false;
        p.wire.choke();
      }
    }
  }

  /**
   * A round soon: at once (after the events of this moment, which share it) if the last round
   * was `minGapMs` ago or more, else that long after it; a round already due sooner stands.
   */
  soon(minGapMs = 1000): void {
    if (this.#stopped) return;
    const clock = this.#host.clock;
    const now = clock.now();
    const at = Math.max(now, this.#last + minGapMs);
    if (this.#pending) {
      if (this.#pendingAt <= at) return;
      this.#pending.cancel();
    }
    this.#pendingAt = at;
    this.#pending = clock.setTimeout(() => {
      this.#pending = undefined;
      this.rechoke();
    }, at - now);
  }

  /** A peer became interested: a free slot is given at once if the last round left one idle. */
  peerInterested(): void {
    let unchoked = 0;
    for (const p of this.#host.peers()) if (p.unchoked) unchoked++;
    if (unchoked >= this.#host.settings.uploadSlots) return;
    this.soon(this.#slotsIdle ? 0 : 1000);
  }

  /** A peer holding a slot lost interest or left: its slot is refilled by the coalesced round. */
  slotFreed(peer: PeerConn): void {
    if (peer.unchoked) this.soon();
  }

  /** Stops every timer. */
  stop(): void {
    this.#stopped = true;
    this.#interval.cancel();
    this.#pending?.cancel();
    this.#pending = undefined;
  }
}
