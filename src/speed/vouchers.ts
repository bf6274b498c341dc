import { equalBytes } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import { BTT_SCHEME_ED25519 } from '../wire/btt-schemes.js';
import { type BttPay, BttRejectCode } from '../wire/btt-speed.js';
import type { RequesterState } from './core-types.js';
import type { PaymentRail } from './rail.js';

/**
 * The provider's end of a requester's payments: its `pay` messages (vouchers) offered to its
 * channel's verifier, and the channel's deposit read again when the payer topped it up.
 * @module
 */

/** Least time between two reads of one requester's deposit (a bid or voucher asking sooner waits). */
export const DEPOSIT_REFRESH_MS = 250;

/**
 * The provider's end: a payer that topped its channel up says so with a new bid, then pays
 * beyond the deposit it was accepted with. `refresh(r)` reads the deposit again — one read at a
 * time per requester, at most one per {@link DEPOSIT_REFRESH_MS} (a hostile peer's bids and
 * vouchers cannot make us read the ledger or chain faster); a failed read is reported and the
 * deposit stays as it was.
 */
export function depositRefresher(
  rail: PaymentRail,
  clock: Clock,
  failed: (err: unknown) => void,
): (r: RequesterState) => Promise<void> {
  return (r) => {
    const payee = r.verifier;
    const read = rail.refresh?.bind(rail);
    if (!payee || !read) return Promise.resolve();
    if (r.refreshing) return r.refreshing;
    const wait = r.refreshedAt === undefined ? 0 : r.refreshedAt + DEPOSIT_REFRESH_MS - clock.now();
    const run = (): Promise<void> => {
      r.refreshedAt = clock.now();
      return read(payee).catch(failed);
    };
    const refreshing = (
      wait > 0 ? new Promise<void>((resolve) => clock.setTimeout(() => resolve(run()), wait)) : run()
    ).finally(() => {
      if (r.refreshing === refreshing) r.refreshing = undefined;
    });
    r.refreshing = refreshing;
    return refreshing;
  };
}

/** What {@link takeVoucher} needs from the account. */
export interface VoucherDesk {
  readonly rail: PaymentRail;
  /** Reads the requester's deposit again ({@link depositRefresher}). */
  refresh(r: RequesterState): Promise<void>;
  /** Sends a `reject` to the requester (a send that throws is the desk's to handle). */
  reject(r: RequesterState, code: number, reason: string): void;
  /** A voucher that failed its field checks. */
  refused(r: RequesterState, err: unknown): void;
}

/**
 * A `pay` message from requester `r`: on another voucher scheme, refused; for a channel other
 * than the one its bid names, ignored; else offered to the channel's verifier (field checks only;
 * the signature of the newest is verified before more credit is extended, or at collect time).
 * Beyond the deposit we know it waits for the deposit to be read again (the payer may have topped
 * it up); vouchers are offered in the order they came, and a final collect waits for them.
 */
export function takeVoucher(desk: VoucherDesk, r: RequesterState | undefined, p: BttPay): void {
  if (r && (p.vs ?? BTT_SCHEME_ED25519) !== desk.rail.scheme) {
    desk.reject(r, BttRejectCode.UNSUPPORTED_SCHEME, 'not the voucher scheme of our channels');
    return;
  }
  const payee = r?.verifier;
  if (!r || !payee || !r.bid || !equalBytes(p.ch, r.bid.channel) || !equalBytes(p.ch, payee.channel)) return;
  const offer = (): void => {
    try {
      payee.offer({ channel: p.ch, cumulative: p.amt, signature: p.sig });
    } catch (err) {
      desk.refused(r, err);
    }
  };
  if (p.amt <= payee.locked || !desk.rail.refresh) offer();
  else
    void desk.refresh(r).then(() => {
      if (r.verifier === payee) offer();
    });
}
