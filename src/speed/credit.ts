/**
 * The provider's credit window: how much a payer holding a paid slot may owe before the slot
 * ends. It starts at `initialCreditBytes` worth and grows by every base unit the payer pays, up
 * to `creditBytes` worth — trust is earned by paying, so an identity that never pays gets only
 * the initial window, and one that pays gets the full window its payment rhythm needs.
 * @module
 */
import { MIB } from './strategy.js';

/** Default `minFundedBytes` (Speed's option): 256 KiB. */
export const DEFAULT_MIN_FUNDED_BYTES = 256 * 1024;

/** The credit window in bytes: where it starts and how far it grows. */
export interface CreditWindow {
  /** The most it grows to (`creditBytes`). */
  fullBytes: number;
  /** The window of a payer that has paid nothing yet (≤ `fullBytes`). */
  initialBytes: number;
}

/**
 * What a payer may owe at `price` (base units per MiB) having paid `paid` base units so far, in
 * base units: `min(initialBytes × price + paid, fullBytes × price) / MiB`.
 */
export function allowance(w: CreditWindow, price: bigint, paid: bigint): bigint {
  const full = (BigInt(w.fullBytes) * price) / MIB;
  const grown = (BigInt(w.initialBytes) * price) / MIB + paid;
  return grown < full ? grown : full;
}

/**
 * Whether a payer owes more than its window allows: `served` is Σ bytes served × price (base
 * units × bytes per MiB), `paid` the base units its newest accepted voucher carries.
 */
export function overdrawn(w: CreditWindow, served: bigint, paid: bigint, price: bigint): boolean {
  return served / MIB - paid > allowance(w, price, paid);
}

/**
 * Whether a payer counts as a debtor for free-slot ranking (`debtorsInFreeSlots`): it has paid
 * nothing at all and owes more than its window. One that has paid — an honest auto-bidder whose
 * channel ran dry, say — is only held to its window (its paid slot ends), not ranked down.
 */
export function debtor(w: CreditWindow, served: bigint, paid: bigint, price: bigint): boolean {
  return paid === 0n && overdrawn(w, served, paid, price);
}

/** How a provider weighs an ungranted bid against its channel's deposit (`fundedBids`). */
export interface Funding {
  /** `fundedBids`: false, any open channel backs any bid. */
  funded: boolean;
  /** `minFundedBytes`: what the unspent deposit must still pay for at the price the bid counts for. */
  minFundedBytes: bigint;
  /** Our reserve price, base units per MiB. */
  reserve: bigint;
}

/**
 * What a bid at `price` counts for: its price, at most the price at which the channel's unspent
 * deposit (`locked − cumulative`) still pays for `minFundedBytes`; undefined when nothing is left
 * to back it or that is below the reserve.
 */
export function backedPrice(
  f: Funding,
  price: bigint,
  channel: { locked: bigint; cumulative: bigint },
): bigint | undefined {
  if (!f.funded) return price;
  const unspent = channel.locked - channel.cumulative;
  if (unspent <= 0n) return undefined;
  const most = f.minFundedBytes > 0n ? (unspent * MIB) / f.minFundedBytes : price;
  const counted = price < most ? price : most;
  return counted < f.reserve ? undefined : counted;
}

/** A provider's credit window and bid funding from Speed's options and its rail's defaults. */
export function creditRules(
  o: {
    creditBytes?: number;
    initialCreditBytes?: number;
    fundedBids?: boolean;
    minFundedBytes?: number;
    reservePrice?: bigint;
  },
  rail: { defaultCreditBytes: number; defaultInitialCreditBytes?: number },
): { window: CreditWindow; funding: Funding } {
  const credit = o.creditBytes ?? rail.defaultCreditBytes;
  const initial = o.initialCreditBytes ?? rail.defaultInitialCreditBytes ?? credit;
  return {
    window: { fullBytes: credit, initialBytes: Math.min(credit, initial) },
    funding: {
      funded: o.fundedBids ?? true,
      minFundedBytes: BigInt(o.minFundedBytes ?? DEFAULT_MIN_FUNDED_BYTES),
      reserve: o.reservePrice ?? 0n,
    },
  };
}

/**
 * The price a debt is weighed at: the highest granted yet, or `price` if higher. A debt run up at
 * a higher price must not look larger in bytes once the price falls — an honest payer's residue
 * (blocks in flight, pieces not yet verified) would pass a window shrunk by the new price.
 */
export function higher(top: bigint | undefined, price: bigint): bigint {
  return top !== undefined && top > price ? top : price;
}
