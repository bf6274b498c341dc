/**
 * Choking: who gets upload slots. The session calls its `Choker` every rechoke interval; the
 * default is BitTorrent's tit-for-tat with a rotating optimistic unchoke. The BitTorrent Speed
 * module plugs a bid-aware choker in through the same interface.
 */

/** What a choker knows about one connected peer. */
export interface ChokerPeer {
  /** Stable key of the peer within the torrent. */
  readonly id: string;
  /** The peer is interested in what we have. */
  readonly interested: boolean;
  /** Bytes/s we receive from the peer (recent). */
  readonly downloadRate: number;
  /** Bytes/s we send to the peer (recent). */
  readonly uploadRate: number;
  /** We currently unchoke the peer. */
  readonly unchoked: boolean;
  /** When we connected (Clock ms). */
  readonly connectedAt: number;
  /** The peer has every piece: no reciprocation possible. */
  readonly seed: boolean;
}

/** The context of one rechoke round. */
export interface ChokeContext {
  /** We have every wanted piece: rank by upload rate, not reciprocation. */
  readonly seeding: boolean;
  /** Clock ms. */
  readonly now: number;
  /** Total upload slots (including the optimistic one). */
  readonly slots: number;
}

/** Decides which peers to unchoke. Implementations may keep state between rounds. */
export interface Choker {
  /** Returns the ids to unchoke; every other peer is choked. */
  rechoke(peers: readonly ChokerPeer[], context: ChokeContext): ReadonlySet<string>;
}

/** Options of {@link TitForTatChoker}. */
export interface TitForTatOptions {
  /** Rounds an optimistic unchoke lasts (default 3: 30 s at a 10 s rechoke interval). */
  optimisticRounds?: number;
  /** Peers connected less than this long (ms) weigh 3× in the optimistic draw (default 60 s). */
  newPeerMs?: number;
  /** Random source in [0, 1). */
  random?: () => number;
}

/**
 * Tit-for-tat (BEP 3 / the original client): `slots − 1` regular slots go to the interested
 * peers that upload to us fastest (when seeding: that we upload to fastest, so slots go to the
 * peers who can take the data); one optimistic slot rotates every `optimisticRounds` rounds
 * among the interested peers left choked, new peers weighted 3×. Peers that are seeds are never
 * unchoked while we leech (they want nothing).
 */
export class TitForTatChoker implements Choker {
  readonly #rounds: number;
  readonly #newPeerMs: number;
  readonly #random: () => number;
  #optimistic: string | undefined;
  #roundsLeft = 0;

  constructor(options: TitForTatOptions = {}) {
    this.#rounds = Math.max(1, options.optimisticRounds ?? 3);
    this.#newPeerMs = options.newPeerMs ?? 60_000;
    this.#random = options.random ?? Math.random;
  }

  /** The current optimistic unchoke, if any. */
  get optimistic(): string | undefined {
    return this.#optimistic;
  }

  rechoke(peers: readonly ChokerPeer[], ctx: ChokeContext): ReadonlySet<string> {
    const candidates = peers.filter((p) => p.interested && !p.seed);
    const unchoke = new Set<string>();
    if (ctx.slots <= 0 || candidates.length === 0) {
      this.#optimistic = undefined;
      return unchoke;
    }
    const regular = Math.max(0, ctx.slots - 1);
    const key = (p: ChokerPeer) => (ctx.seeding ? p.uploadRate : p.downloadRate);
    // Sort by rate; ties keep the peers already unchoked (fewer choke/unchoke flips).
    const ranked = [...candidates].sort((a, b) => key(b) - key(a) || Number(b.unchoked) - Number(a.unchoked));

    // Keep the optimistic peer for its rounds if it is still a candidate.
    this.#roundsLeft--;
    if (this.#roundsLeft <= 0 || !candidates.some((p) => p.id === this.#optimistic))
      this.#optimistic = undefined;

    for (const p of ranked) {
      if (unchoke.size >= regular) break;
      if (p.id !== this.#optimistic) unchoke.add(p.id);
    }
    if (this.#optimistic === undefined) {
      const pool = candidates.filter((p) => !unchoke.has(p.id));
      const weighted: ChokerPeer[] = [];
      for (const p of pool) {
        const w = ctx.now - p.connectedAt < this.#newPeerMs ? 3 : 1;
        for (let k = 0; k < w; k++) weighted.push(p);
      }
      const pick = weighted[Math.floor(this.#random() * weighted.length)];
      this.#optimistic = pick?.id;
      this.#roundsLeft = this.#rounds;
    }
    if (this.#optimistic !== undefined) unchoke.add(this.#optimistic);
    // Fewer candidates than slots: unchoke everyone interested.
    return unchoke;
  }
}
