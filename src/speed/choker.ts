import type { ChokeContext, Choker, ChokerPeer } from '../session/choker.js';
import { type Allocation, type SlotAllocator, UniformPriceAuction } from './auction.js';

/** What the bid-aware choker knows about payments, supplied by the payment controller. */
export interface BidBook {
  /** The peer's standing bid (base units per MiB), if it bid and is in good standing. */
  bidOf(peer: string): bigint | undefined;
  /**
   * The peer was served in a paid slot past its credit and has paid nothing: while seeding,
   * the regular free slots rank it as if we had uploaded nothing to it (its paid-slot service
   * would otherwise win it a free slot it did not pay for). It keeps its optimistic turns.
   */
  owes?(peer: string): boolean;
}

/** Options of {@link SpeedChoker}. */
export interface SpeedChokerOptions {
  /** Lowest price accepted, base units per MiB. */
  reserve: bigint;
  /** How paid slots are allocated. Default {@link UniformPriceAuction}. */
  allocator?: SlotAllocator;
  /** Share of the slots sold (rounded down, at least 1 when slots > 1). Default 0.5. */
  paidShare?: number;
  /** Rounds an optimistic unchoke lasts. Default 3. */
  optimisticRounds?: number;
  /** Called after every round with the allocation (the controller sends `grant`s from it). */
  onAllocation?: (allocation: Allocation) => void;
}

/**
 * A provider's bid-aware choker (docs/speed.md): paid slots go to bidders through an auction; the
 * remaining slots work as tit-for-tat (regular slots to the fastest reciprocating peers) plus a
 * round-robin optimistic unchoke where bids only break ties — so non-paying and non-BTT peers
 * still progress.
 */
export class SpeedChoker implements Choker {
  readonly #book: BidBook;
  readonly #opts: SpeedChokerOptions;
  readonly #allocator: SlotAllocator;
  #rr = 0;
  #optimistic: string | undefined;
  #roundsLeft = 0;
  #last: Allocation = { awards: [], losers: [] };

  constructor(book: BidBook, options: SpeedChokerOptions) {
    this.#book = book;
    this.#opts = options;
    this.#allocator = options.allocator ?? new UniformPriceAuction();
  }

  /** The last round's allocation. */
  get allocation(): Allocation {
    return this.#last;
  }

  rechoke(peers: readonly ChokerPeer[], ctx: ChokeContext): ReadonlySet<string> {
    const unchoke = new Set<string>();
    const candidates = peers.filter((p) => p.interested && !p.seed);
    if (ctx.slots <= 0 || candidates.length === 0) {
      this.#last = { awards: [], losers: [] };
      this.#opts.onAllocation?.(this.#last);
      return unchoke;
    }
    const share = this.#opts.paidShare ?? 0.5;
    const paidSlots = ctx.slots === 1 ? 1 : Math.max(1, Math.floor(ctx.slots * share));
    const bids = [];
    for (const p of candidates) {
      const price = this.#book.bidOf(p.id);
      if (price !== undefined) bids.push({ peer: p.id, price });
    }
    const allocation = this.#allocator.allocate(bids, paidSlots, this.#opts.reserve);
    this.#last = allocation;
    for (const a of allocation.awards) unchoke.add(a.peer);

    // Free slots: tit-for-tat by rate (bids break ties), then one optimistic round-robin slot.
    const free = ctx.slots - unchoke.size;
    const rest = candidates.filter((p) => !unchoke.has(p.id));
    const bidOf = (p: ChokerPeer) => this.#book.bidOf(p.id) ?? -1n;
    const rate = (p: ChokerPeer) =>
      ctx.seeding ? (this.#book.owes?.(p.id) === true ? 0 : p.uploadRate) : p.downloadRate;
    const ranked = [...rest].sort(
      (a, b) => rate(b) - rate(a) || (bidOf(b) > bidOf(a) ? 1 : bidOf(b) < bidOf(a) ? -1 : 0),
    );

    this.#roundsLeft--;
    if (this.#roundsLeft <= 0 || !rest.some((p) => p.id === this.#optimistic)) this.#optimistic = undefined;
    const regular = Math.max(0, free - 1);
    for (const p of ranked) {
      if (unchoke.size >= ctx.slots - free + regular) break;
      if (p.id !== this.#optimistic) unchoke.add(p.id);
    }
    if (free > 0) {
      if (this.#optimistic === undefined) {
        const pool = rest.filter((p) => !unchoke.has(p.id));
        if (pool.length > 0) {
          // Round-robin over the pool in a stable order (by id), bids first among equals.
          pool.sort((a, b) => (bidOf(b) > bidOf(a) ? 1 : bidOf(b) < bidOf(a) ? -1 : a.id < b.id ? -1 : 1));
          this.#optimistic = pool[this.#rr++ % pool.length]?.id;
          this.#roundsLeft = this.#opts.optimisticRounds ?? 3;
        }
      }
      if (this.#optimistic !== undefined) unchoke.add(this.#optimistic);
    }
    this.#opts.onAllocation?.(allocation);
    return unchoke;
  }
}
