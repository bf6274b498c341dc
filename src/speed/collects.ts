import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import {
  DEFAULT_COLLECT_ATTEMPTS,
  DEFAULT_COLLECT_RETRY_MAX_MS,
  DEFAULT_COLLECT_RETRY_MS,
  FinalCollects,
  isPermanentCollectError,
} from './collect-retry.js';
import type { RequesterState } from './core-types.js';
import type { SpeedErrorCode, SpeedErrorDetails } from './errors.js';
import type { SpeedCommonOptions } from './options.js';
import type { PaymentRail, RailPayee } from './rail.js';

/**
 * A provider's collects (the redeem of each payer's best voucher): periodic ones, and the final
 * one when the peer leaves or the torrent closes, retried with backoff ({@link FinalCollects}).
 * One account's, over every torrent; {@link SpeedCore} feeds it.
 * @module
 */

/** What {@link Collects} needs from the account. */
export interface CollectsContext {
  readonly rail: PaymentRail;
  readonly clock: Clock;
  readonly options: Readonly<SpeedCommonOptions>;
  /** Verifies and acks the requester's newest voucher (before it is collected). */
  settle(peer: string, r: RequesterState): void;
  /** The final collect of `payee` settled, or was given up: its channel is free for another connection. */
  released(payee: RailPayee): void;
  /** A collect credited us. */
  credited(payee: RailPayee, amount: bigint): void;
  warn(code: SpeedErrorCode, message: string, cause?: unknown, details?: SpeedErrorDetails): void;
}

/** See the module documentation. */
export class Collects {
  readonly #c: CollectsContext;

  constructor(context: CollectsContext) {
    this.#c = context;
  }

  /** The final collects of one torrent (closed with it: no retry outlives it). */
  finals(): FinalCollects<RailPayee> {
    const { clock, options: o, warn } = this.#c;
    return new FinalCollects<RailPayee>({
      clock,
      firstMs: o.collectRetryMs ?? DEFAULT_COLLECT_RETRY_MS,
      maxMs: o.collectRetryMaxMs ?? DEFAULT_COLLECT_RETRY_MAX_MS,
      attempts: o.collectAttempts ?? DEFAULT_COLLECT_ATTEMPTS,
      attempt: (payee) => this.#collect(payee, true),
      // Released once settled: until then no other connection may use the channel.
      settled: (payee) => this.#c.released(payee),
      gaveUp: (payee, err, attempts, permanent) =>
        warn(
          'SPEED_COLLECT_ABANDONED',
          `gave up collecting channel ${toHex(payee.channel)} after ${attempts} attempt(s)${permanent ? ' (permanent error)' : ''}`,
          err,
          { channelId: toHex(payee.channel), attempts, permanent },
        ),
    });
  }

  /**
   * Collects what the peer's newest voucher promises; collects of one peer run one after another.
   * With `finals` (the peer left or the torrent closed) the collect is final and retried there.
   */
  redeem(r: RequesterState, peer: string, finals?: FinalCollects<RailPayee>): Promise<void> {
    // Never a rejected chain: one failed collect must not stop the later ones (the final one).
    const run = (r.collecting ?? Promise.resolve())
      .then(async () => {
        await r.offering; // vouchers waiting for the deposit to be read again are offered first
        this.#c.settle(peer, r);
        const payee = r.verifier;
        if (!payee) return;
        if (finals) finals.start(payee);
        else await this.#collect(payee, false);
      })
      .catch(() => undefined);
    r.collecting = run;
    return run;
  }

  /** One collect (warned and rethrown when it fails: a final one is retried by {@link FinalCollects}). */
  async #collect(payee: RailPayee, final: boolean): Promise<void> {
    try {
      const credited = await this.#c.rail.collect(payee, final);
      if (credited > 0n) this.#c.credited(payee, credited);
    } catch (err) {
      const permanent = isPermanentCollectError(err);
      this.#c.warn(
        'SPEED_REDEEM_FAILED',
        `collecting channel ${toHex(payee.channel)} failed${permanent ? ' (permanent error)' : ''}`,
        err,
      );
      throw err;
    }
  }
}
