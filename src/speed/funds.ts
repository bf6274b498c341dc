import type { ProviderState } from './core-types.js';
import type { PaymentRail, RailPayer } from './rail.js';
import { MIB } from './strategy.js';

/**
 * A payer's money in its channels. A channel locks funds for one payee; a quarter of the budget
 * locked per channel up front leaves a good provider's channel dry while the rest sits idle in
 * channels to others. On a rail that can top up ({@link PaymentRail.topUp}), a channel opens
 * holding what the next {@link ChannelFunds.aheadBytes} cost at the bid's price and is topped up
 * as it is spent, from the budget no channel in use holds: the budget goes where bandwidth is
 * bought, and a bid at a provider that grants nothing holds little. On a rail that cannot, a
 * channel locks `channelAmount` (default a quarter of the budget).
 * @module
 */

/** Default {@link ChannelFundsOptions.aheadBytes}: 1 MiB. */
export const DEFAULT_CHANNEL_AHEAD_BYTES = 1024 * 1024;

/** Options of {@link ChannelFunds}. */
export interface ChannelFundsOptions {
  /** The most the account promises over every torrent, base units. */
  budget: bigint;
  /** A fixed amount locked per channel, never topped up (Speed's `channelAmount`). */
  channelAmount?: bigint;
  /** Bytes a channel holds funds for at its price (Speed's `channelAheadBytes`). */
  aheadBytes?: number;
}

/** See the module documentation. One per account, over every torrent. */
export class ChannelFunds {
  readonly #rail: PaymentRail;
  readonly #o: ChannelFundsOptions;
  readonly #spent: () => bigint;
  /** Channels of ours in use (a connection, or parked for the next connection to its payee). */
  readonly #live = new Set<RailPayer>();
  /** Being locked by opens and top-ups in flight. */
  #reserved = 0n;

  constructor(rail: PaymentRail, options: ChannelFundsOptions, spent: () => bigint) {
    this.#rail = rail;
    this.#o = options;
    this.#spent = spent;
  }

  /** Channels open small and are topped up (the rail can, and no fixed `channelAmount`). */
  get topsUp(): boolean {
    return this.#rail.topUp !== undefined && this.#o.channelAmount === undefined;
  }

  /**
   * Bytes a channel holds funds for: {@link ChannelFundsOptions.aheadBytes}, never fewer than
   * four of the rail's voucher batches nor two pieces (a piece is paid for once it verifies).
   */
  aheadBytes(pieceLength = 0): bigint {
    const ahead = this.#o.aheadBytes ?? DEFAULT_CHANNEL_AHEAD_BYTES;
    return BigInt(Math.max(ahead, 4 * this.#rail.payEveryBytes, 2 * pieceLength));
  }

  /** Budget neither spent nor held unspent by a channel in use (nor being locked). */
  available(): bigint {
    let held = this.#reserved;
    for (const s of this.#live) held += s.locked - s.cumulative;
    const left = this.#o.budget - this.#spent() - held;
    return left > 0n ? left : 0n;
  }

  /**
   * What a channel bought from at `price` (base units per MiB) holds unspent: what
   * {@link aheadBytes} cost, at most a quarter of the budget (a rail that batches its vouchers
   * far apart, or a price near the end of a download, would otherwise lock it all in one).
   */
  need(price: bigint, pieceLength?: number): bigint {
    return min((price * this.aheadBytes(pieceLength)) / MIB, this.#o.budget / 4n);
  }

  /**
   * Opens `p`'s channel if it has none, sized for `price`; a channel open or opening: nothing.
   * One that opens after `alive()` turned false (the connection or torrent closed meanwhile) is
   * not used: it is not `p`'s, and its funds leave the budget's account.
   */
  ensure(p: ProviderState, price: bigint, alive: () => boolean, pieceLength?: number): Promise<void> {
    if (p.signer) return Promise.resolve();
    if (p.opening) return p.opening;
    const amount = this.topsUp
      ? min(this.need(price, pieceLength), this.available())
      : (this.#o.channelAmount ?? this.#o.budget / 4n);
    if (amount <= 0n) return Promise.resolve(); // no budget left to lock: no channel, no bid
    this.#reserved += amount;
    p.opening = this.#rail
      .open(p.addr, amount)
      .then((signer) => {
        if (!alive()) return;
        p.signer = signer;
        this.#live.add(signer);
      })
      .finally(() => {
        this.#reserved -= amount;
        p.opening = undefined;
      });
    return p.opening;
  }

  /**
   * Tops up `p`'s channel when what it holds unspent fell under half of {@link need} at `price`,
   * back to the whole of it (as far as the budget goes). Resolves true when it added funds; one
   * top-up per channel at a time.
   */
  topUp(p: ProviderState, price: bigint, pieceLength?: number): Promise<boolean> {
    const signer = p.signer;
    const rail = this.#rail;
    if (!signer || !this.topsUp || !rail.topUp || p.topping || p.closed) return Promise.resolve(false);
    const unspent = signer.locked - signer.cumulative;
    const need = this.need(price, pieceLength);
    if (unspent * 2n >= need) return Promise.resolve(false);
    const amount = min(need - unspent, this.available());
    if (amount <= 0n) return Promise.resolve(false);
    this.#reserved += amount;
    const topping = rail
      .topUp(signer, amount)
      .then(() => true)
      .finally(() => {
        this.#reserved -= amount;
        p.topping = undefined;
      });
    p.topping = topping;
    return topping;
  }

  /** `signer`'s channel is no longer used by us (its unspent funds leave the budget's account). */
  retire(signer: RailPayer | undefined): void {
    if (signer) this.#live.delete(signer);
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
