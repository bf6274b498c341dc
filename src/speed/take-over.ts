import type { ProviderState } from './core-types.js';

/**
 * A payer's channel to a payee outliving one connection: a voucher signed for a connection that
 * died may never have arrived. Vouchers are cumulative (never a double payment), so the next
 * connection to the same payee takes over the channel and what it owes, and once granted sends a
 * newer voucher, or that one again ({@link SpeedCore}'s `grant` handler).
 * @module
 */

/**
 * A new connection's provider state `p` takes over the channel of `old` — a closed connection to
 * the same payee, with a voucher it never acked or an amount owed for verified bytes it could not
 * sign (its wire was gone) — when both trade on the same ledger and token.
 */
export function takeOver(p: ProviderState, old: ProviderState | undefined): void {
  if (!old?.signer || old.hs.ledger !== p.hs.ledger || old.hs.token !== p.hs.token) return;
  const { signer, last, owed, bytes, unpaid, acked } = old;
  Object.assign(p, { signer, last, owed, bytes, unpaid, acked, reused: 0 });
}

/**
 * The payee refused a taken-over channel (`reject` 4: its old connection may still hold it, or
 * the channel was closed on chain): bid on it again at the next round; refused twice, the next
 * round opens a new channel and the old voucher's amount is given up (it stays locked until the
 * channel expires, never paid twice).
 */
export function takenOverRefused(p: ProviderState): void {
  if (p.reused === undefined) return;
  p.bid = undefined;
  if (++p.reused < 2) return;
  Object.assign(p, { reused: undefined, signer: undefined, last: undefined, owed: 0n });
  Object.assign(p, { bytes: 0n, unpaid: 0, acked: 0n });
}
