/**
 * Provider-side slot allocation among bidders. Prices are token base units **per MiB** of
 * verified payload, as `bigint`.
 */

/** One requester's standing bid at this provider. */
export interface Bid {
  readonly peer: string;
  /** Most the requester pays, base units per MiB. */
  readonly price: bigint;
}

/** A winner: what it pays per MiB and its share of the paid upload (1 = an equal slot). */
export interface Award {
  readonly peer: string;
  readonly price: bigint;
  /** Relative share of upload credit; equal slots have share 1. */
  readonly share: number;
}

/** The outcome of one allocation round. */
export interface Allocation {
  readonly awards: readonly Award[];
  /** Bidders at or above the reserve that got no slot. */
  readonly losers: readonly string[];
}

/** Allocates a provider's paid slots among bids. Implement it to try another mechanism. */
export interface SlotAllocator {
  readonly name: string;
  allocate(bids: readonly Bid[], slots: number, reserve: bigint): Allocation;
}

/**
 * The eligible bids (at or above the reserve) ranked by price, highest first (equal prices by peer
 * id, so the result is deterministic), split into the `slots` winners and the losers.
 */
function rank(bids: readonly Bid[], slots: number, reserve: bigint): { winners: Bid[]; losers: Bid[] } {
  const ranked = bids
    .filter((b) => b.price >= reserve && b.price >= 0n)
    .sort((a, b) =>
      a.price === b.price ? (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0) : a.price > b.price ? -1 : 1,
    );
  const n = Math.max(0, Math.min(slots, ranked.length));
  return { winners: ranked.slice(0, n), losers: ranked.slice(n) };
}

/**
 * The multi-unit uniform-price auction of the BTT whitepaper (a VCG variant for unit demand):
 * the `slots` highest bids at or above the reserve win, and every winner pays the **highest
 * losing bid** — or the reserve when no eligible bid lost. Truthful bidding is a dominant
 * strategy: a winner's own bid never sets its price.
 */
export class UniformPriceAuction implements SlotAllocator {
  readonly name = 'uniform-price';

  allocate(bids: readonly Bid[], slots: number, reserve: bigint): Allocation {
    const { winners, losers } = rank(bids, slots, reserve);
    const price = losers[0]?.price ?? reserve;
    return {
      awards: winners.map((w) => ({ peer: w.peer, price, share: 1 })),
      losers: losers.map((l) => l.peer),
    };
  }
}

/**
 * Proportional share (after PropShare, SIGCOMM 2008, applied to bids): the `slots` highest bids
 * win, each pays its own bid, and the paid upload is split in proportion to the bids (a bid of
 * twice the price gets twice the credit). Not truthful — bidders shade — which is what the swarm
 * lab compares.
 */
export class PropShareAllocator implements SlotAllocator {
  readonly name = 'propshare';

  allocate(bids: readonly Bid[], slots: number, reserve: bigint): Allocation {
    const { winners, losers } = rank(bids, slots, reserve);
    const n = winners.length;
    const total = winners.reduce((s, w) => s + w.price, 0n);
    const awards = winners.map((w) => ({
      peer: w.peer,
      price: w.price,
      // Shares relative to an equal split: n × bid / Σ bids (1 when every bid is equal or all are 0).
      share: total === 0n ? 1 : Number((BigInt(n) * w.price * 1_000_000n) / total) / 1_000_000,
    }));
    return { awards, losers: losers.map((l) => l.peer) };
  }
}
