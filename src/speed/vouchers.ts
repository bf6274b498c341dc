import { equalBytes } from '../util/bytes.js';
import type { Clock, TimerHandle } from '../util/clock.js';
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

/** What {@link depositRefresher} gives: the read, and its end with the torrent. */
export interface DepositRefresher {
  /** Reads the requester's deposit again (see {@link depositRefresher}). */
  refresh(r: RequesterState): Promise<void>;
  /**
   * The torrent closed: a read waiting for its turn runs now (a voucher waiting for it is part of
   * the final collect), and no read starts after.
   */
  close(): void;
}

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
): DepositRefresher {
  let closed = false;
  /** Reads waiting for their turn: their timer, and what runs them. */
  const waiting = new Map<TimerHandle, () => void>();
  const refresh = (r: RequesterState): Promise<void> => {
    const payee = r.verifier;
    const read = rail.refresh?.bind(rail);
    if (!payee || !read || closed) return Promise.resolve();
    if (r.refreshing) return r.refreshing;
    const wait = r.refreshedAt === undefined ? 0 : r.refreshedAt + DEPOSIT_REFRESH_MS - clock.now();
    const run = (): Promise<void> => {
      r.refreshedAt = clock.now();
      return read(payee).catch(failed);
    };
    const later = (): Promise<void> =>
      new Promise<void>((resolve) => {
        const go = (): void => {
          waiting.delete(timer);
          resolve(run());
        };
        const timer = clock.setTimeout(go, wait);
        waiting.set(timer, go);
      });
    const refreshing = (wait > 0 ? later() : run()).finally(() => {
      if (r.refreshing === refreshing) r.refreshing = undefined;
    });
    r.refreshing = refreshing;
    return refreshing;
  };
  return {
    refresh,
    close: () => {
      closed = true;
      for (const [timer, go] of [...waiting]) {
        timer.cancel();
        go();
      }
    },
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
  else {
    // Twice at most: a read already in flight may have started before the top-up committed.
    const again = (): Promise<void> =>
      p.amt > payee.locked && r.verifier === payee ? desk.refresh(r) : Promise.resolve();
    const offered = desk
      .refresh(r)
      .then(again)
      .then(() => {
        if (r.verifier === payee) offer();
      })
      .finally(() => {
        if (r.offering === offered) r.offering = undefined;
      });
    r.offering = offered; // the newest: it settles after the ones before it
  }
}
