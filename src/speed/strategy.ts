/**
 * Requester-side bidding: how much to offer each provider. Prices are base units per MiB.
 */

import { SpeedError } from './errors.js';

/** 2²⁰: prices are per MiB of verified payload. */
export const MIB = 1_048_576n;

/** What a provider looks like to a requester. */
export interface ProviderView {
  readonly peer: string;
  /** The provider's reserve price (its `btt` handshake). */
  readonly reserve: bigint;
  /** Bytes/s received from it recently. */
  readonly rate: number;
}

/** What a strategy decides from. */
export interface BidContext {
  /** Budget left for this torrent, base units. */
  readonly remainingBalance: bigint;
  /** Wanted bytes not yet verified. */
  readonly remainingBytes: bigint;
  readonly providers: readonly ProviderView[];
}

/** Decides bids. Implement it to try another strategy. */
export interface BidStrategy {
  readonly name: string;
  /** The price to bid at each provider (absent: no bid there). */
  bids(context: BidContext): Map<string, bigint>;
}

/** Options of {@link AutoBid}. */
export interface AutoBidOptions {
  /** Fraction of the remaining balance to commit, in [0, 1]. Default 1. */
  spendingRate?: number;
  /** Most providers to bid on at once, fastest first. Default 4. */
  maxProviders?: number;
  /** A bid changes only when it moves by more than this fraction. Default 0.1 (10 %). */
  rebidThreshold?: number;
}

const PPM = 1_000_000n;

function ppm(x: number, what: string): bigint {
  if (!(x >= 0 && x <= 1)) throw new SpeedError('SPEED_BAD_OPTION', `${what} must be in [0, 1]`);
  return BigInt(Math.round(x * 1e6));
}

/**
 * The whitepaper's auto-bid: `price = spendingRate × remainingBalance / remainingMiB`, the most
 * it can pay per MiB and still finish within budget. Bids go to the providers whose reserve it
 * meets, fastest observed first; a bid is changed only when the new price differs from the last
 * one by more than 10 %; nothing is bid once nothing is left to download.
 */
export class AutoBid implements BidStrategy {
  readonly name = 'auto';
  readonly #rate: bigint;
  readonly #max: number;
  readonly #threshold: bigint;
  readonly #last = new Map<string, bigint>();

  constructor(options: AutoBidOptions = {}) {
    this.#rate = ppm(options.spendingRate ?? 1, 'spendingRate');
    this.#max = options.maxProviders ?? 4;
    this.#threshold = ppm(options.rebidThreshold ?? 0.1, 'rebidThreshold');
  }

  /** The auto-bid price for a context, before provider selection (base units per MiB). */
  price(context: BidContext): bigint {
    if (context.remainingBytes <= 0n || context.remainingBalance <= 0n) return 0n;
    return (this.#rate * context.remainingBalance * MIB) / (PPM * context.remainingBytes);
  }

  bids(context: BidContext): Map<string, bigint> {
    const out = new Map<string, bigint>();
    const price = this.price(context);
    if (price <= 0n) {
      this.#last.clear();
      return out;
    }
    const eligible = context.providers.filter((p) => p.reserve <= price).sort((a, b) => b.rate - a.rate);
    for (const p of eligible.slice(0, this.#max)) {
      const last = this.#last.get(p.peer);
      // Keep the standing bid unless the price moved by more than the threshold.
      const keep = last !== undefined && abs(price - last) * PPM <= this.#threshold * last;
      const bid = keep ? last : price;
      this.#last.set(p.peer, bid);
      out.set(p.peer, bid);
    }
    for (const peer of [...this.#last.keys()]) if (!out.has(peer)) this.#last.delete(peer);
    return out;
  }
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/** Bids one fixed price at every provider whose reserve it meets. */
export class FixedBid implements BidStrategy {
  readonly name = 'fixed';
  constructor(readonly price: bigint) {
    if (price < 0n) throw new SpeedError('SPEED_BAD_OPTION', 'price must be >= 0');
  }

  bids(context: BidContext): Map<string, bigint> {
    const out = new Map<string, bigint>();
    if (context.remainingBytes <= 0n || context.remainingBalance <= 0n) return out;
    for (const p of context.providers) if (p.reserve <= this.price) out.set(p.peer, this.price);
    return out;
  }
}

/** Never bids: a plain BitTorrent peer. */
export class NoBid implements BidStrategy {
  readonly name = 'none';
  bids(): Map<string, bigint> {
    return new Map();
  }
}
