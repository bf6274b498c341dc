/**
 * The provider's credit window: how much a payer holding a paid slot may owe before the slot
 * ends. It starts at `initialCreditBytes` worth and grows by every base unit the payer pays, up
 * to `creditBytes` worth — trust is earned by paying, so an identity that never pays gets only
 * the initial window, and one that pays gets the full window its payment rhythm needs.
 * @module
 */
import type { RequesterState } from './core-types.js';
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
 * Whether a payer that owes looks unwilling rather than late: it has paid nothing at all, or it
 * owes more than twice its window (paying one base unit does not make a non-payer look honest; an
 * honest payer's debt — blocks in flight, pieces not yet verified — stays within its window).
 */
export function stingy(w: CreditWindow, served: bigint, paid: bigint, price: bigint): boolean {
  return paid === 0n || served / MIB - paid > 2n * allowance(w, price, paid);
}

/**
 * Whether a payer counts as a debtor for free-slot ranking (`debtorsInFreeSlots`): it owes more
 * than its window and is {@link stingy}. One that has paid and owes less than twice its window —
 * an honest auto-bidder whose channel ran dry, say — is only held to its window, not ranked down.
 */
export function debtor(w: CreditWindow, served: bigint, paid: bigint, price: bigint): boolean {
  return stingy(w, served, paid, price) && overdrawn(w, served, paid, price);
}

/**
 * What payers left owing when their connection closed, by payer address (the oldest forgotten
 * past `max`): a payer that reconnects — on the same channel or a new one — starts where it left
 * off, not with a fresh window, and payments it made before count once.
 */
export class DebtBook {
  readonly #debts = new Map<string, { debt: bigint; top: bigint | undefined }>();
  constructor(readonly max = 4096) {}

  /** A connection closed: `served` (Σ bytes × price), `paid` (base units), its highest price. */
  leave(addr: string, served: bigint, paid: bigint, top: bigint | undefined): void {
    const debt = served / MIB - paid;
    this.#debts.delete(addr);
    if (debt <= 0n) return;
    this.#debts.set(addr, { debt, top });
    const oldest = this.#debts.size > this.max ? this.#debts.keys().next().value : undefined;
    if (oldest !== undefined) this.#debts.delete(oldest);
  }

  /** A new connection's channel was checked, `paid` already on it: the `served` that puts it where it was. */
  resume(addr: string, paid: bigint): { served: bigint; top: bigint | undefined } {
    const d = this.#debts.get(addr);
    return { served: ((d?.debt ?? 0n) + paid) * MIB, top: d?.top };
  }
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

/**
 * The window for a torrent of `pieceLength`: both bounds at least two pieces — a payer pays only
 * for verified pieces, so a window smaller than a piece would cut an honest payer before its
 * first payment.
 */
export function pieceWindow(w: CreditWindow, pieceLength: number | undefined): CreditWindow {
  const two = 2 * (pieceLength ?? 0);
  if (!(Number.isSafeInteger(two) && two > w.initialBytes)) return w;
  return { fullBytes: Math.max(w.fullBytes, two), initialBytes: two };
}

/**
 * A provider's credit window and bid funding from Speed's options and its rail's defaults, and
 * the rules on a requester's state. `pieceLength`: the torrent's, once known ({@link pieceWindow}).
 */
export function creditRules(
  o: {
    creditBytes?: number;
    initialCreditBytes?: number;
    fundedBids?: boolean;
    minFundedBytes?: number;
    reservePrice?: bigint;
  },
  rail: { defaultCreditBytes: number; defaultInitialCreditBytes?: number },
  pieceLength: () => number | undefined = () => undefined,
) {
  const credit = o.creditBytes ?? rail.defaultCreditBytes;
  const initial = o.initialCreditBytes ?? rail.defaultInitialCreditBytes ?? credit;
  const base: CreditWindow = { fullBytes: credit, initialBytes: Math.min(credit, initial) };
  // Computed once per piece length (owes() runs per uploaded block while a payer holds a grant).
  let known: { piece: number | undefined; w: CreditWindow } = { piece: undefined, w: base };
  const window = (): CreditWindow => {
    const piece = pieceLength();
    if (piece !== known.piece) known = { piece, w: pieceWindow(base, piece) };
    return known.w;
  };
  const funding: Funding = {
    funded: o.fundedBids ?? true,
    minFundedBytes: BigInt(o.minFundedBytes ?? DEFAULT_MIN_FUNDED_BYTES),
    reserve: o.reservePrice ?? 0n,
  };
  const paid = (r: RequesterState): bigint => r.verifier?.cumulative ?? 0n;
  return {
    window,
    funding,
    /** Owes more than its window allows at `price`, weighed at the highest price granted yet ({@link higher}). */
    owes: (r: RequesterState, price: bigint): boolean =>
      overdrawn(window(), r.served, paid(r), higher(r.lastGranted, price)),
    /** What its standing bid counts for before it is granted ({@link backedPrice}). */
    backed: (r: RequesterState): bigint | undefined =>
      r.bid && r.verifier ? backedPrice(funding, r.bid.price, r.verifier) : undefined,
    /** Past its window and {@link stingy} at `price`: its paid slot ends at once. */
    cutNow: (r: RequesterState, price: bigint): boolean =>
      debtor(window(), r.served, paid(r), higher(r.lastGranted, price)),
    /** A {@link debtor} for free-slot ranking. */
    debtorOf: (r: RequesterState | undefined): boolean => {
      const price = r?.granted ?? r?.lastGranted ?? r?.bid?.price;
      return (
        r !== undefined &&
        price !== undefined &&
        debtor(window(), r.served, paid(r), higher(r.lastGranted, price))
      );
    },
  };
}

/**
 * The price a debt is weighed at: the highest granted while the debt has not fitted the window at
 * a lower one, or `price` if higher. A debt run up at a higher price must not look larger in bytes
 * once the price falls — an honest payer's residue (blocks in flight, pieces not yet verified)
 * would pass a window shrunk by the new price; the provider weighs it at today's price again once
 * it fits (SpeedCore's bid rounds).
 */
export function higher(top: bigint | undefined, price: bigint): bigint {
  return top !== undefined && top > price ? top : price;
}
