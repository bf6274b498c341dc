import type { Clock, TimerHandle } from '../util/clock.js';

/**
 * The retries of a payee's final collect (the redeem of its best voucher when the peer left or
 * the torrent closed): exponential backoff with a cap and a maximum number of attempts; an error
 * the rail says is permanent is not retried; no timer outlives {@link FinalCollects.close}.
 * @module
 */

/** Default {@link SpeedCommonOptions.collectRetryMs}: 10 s before the first retry. */
export const DEFAULT_COLLECT_RETRY_MS = 10_000;
/** Default {@link SpeedCommonOptions.collectRetryMaxMs}: 10 min at most between two attempts. */
export const DEFAULT_COLLECT_RETRY_MAX_MS = 600_000;
/** Default {@link SpeedCommonOptions.collectAttempts}: 8 attempts in all (about 31 min with the defaults above). */
export const DEFAULT_COLLECT_ATTEMPTS = 8;

/**
 * Error codes after which a collect can never succeed, however often it is tried: the voucher or
 * the channel is wrong (bad signature, another ledger, above the deposit), the channel is unknown,
 * closed or finished, or it is not ours to collect. Every other error (a ledger or node that
 * cannot serve, a timeout, an HTTP failure, an error without a code) is transient.
 */
const PERMANENT = new Set([
  'LEDGER_BAD_REQUEST',
  'LEDGER_BAD_AMOUNT',
  'LEDGER_BAD_ADDRESS',
  'LEDGER_BAD_LEDGER_ID',
  'LEDGER_BAD_CHANNEL_ID',
  'LEDGER_BAD_SIGNATURE_FORMAT',
  'LEDGER_VOUCHER_WRONG_LEDGER',
  'LEDGER_VOUCHER_BAD_SIGNATURE',
  'LEDGER_VOUCHER_NOT_INCREASING',
  'LEDGER_VOUCHER_EXCEEDS_LOCKED',
  'LEDGER_NOT_PAYEE',
  'LEDGER_NOT_PARTY',
  'LEDGER_NOT_YOURS',
  'LEDGER_NOT_FOUND',
  'LEDGER_CHANNEL_NOT_FOUND',
  'LEDGER_CHANNEL_CLOSED',
  'LEDGER_IDEMPOTENCY_MISMATCH',
  'LEDGER_ID_MISMATCH',
  'SETTLEMENT_BAD_CHANNEL_ID',
  'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
  'SETTLEMENT_VOUCHER_WRONG_SIGNER',
  'SETTLEMENT_VOUCHER_NOT_INCREASING',
  'SETTLEMENT_VOUCHER_NOT_HIGHER',
  'SETTLEMENT_VOUCHER_EXCEEDS_DEPOSIT',
  'SETTLEMENT_CHANNEL_NOT_FOUND',
  'SETTLEMENT_CHANNEL_FINISHED',
  'SETTLEMENT_CHANNEL_FORBIDDEN',
  'SPEED_BAD_CHANNEL',
]);

/**
 * True when a collect that failed with `err` can never succeed (see the list above): its typed
 * `code`, or the code of an error in its `cause` chain (at most 8 deep).
 */
export function isPermanentCollectError(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 8 && typeof e === 'object' && e !== null; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && PERMANENT.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** How the final collects of one torrent are retried (from the account's options). */
export interface FinalCollectsOptions<K extends object> {
  clock: Clock;
  firstMs: number;
  maxMs: number;
  attempts: number;
  /** One attempt: resolves when collected, rejects with the rail's error. */
  attempt(key: K): Promise<void>;
  /** Collected (`true`) or given up (`false`): the caller releases the channel. */
  settled(key: K, collected: boolean): void;
  /** Gave up: `permanent` (the error says retrying cannot help) or out of attempts / closed. */
  gaveUp(key: K, error: unknown, attempts: number, permanent: boolean): void;
}

interface Pending {
  attempts: number;
  timer?: TimerHandle;
}

/**
 * The final collects of one torrent still to succeed, each tried again after a growing delay
 * (`firstMs`, doubled after each failure, at most `maxMs`) until it succeeds, fails permanently,
 * or has used `attempts` attempts. After {@link close} no timer runs: what is pending is tried
 * once more at once, and given up if that fails.
 */
export class FinalCollects<K extends object> {
  readonly #o: FinalCollectsOptions<K>;
  readonly #pending = new Map<K, Pending>();
  #closed = false;

  constructor(options: FinalCollectsOptions<K>) {
    this.#o = options;
  }

  /** A final collect of `key` is running or will run again: its channel stays reserved. */
  has(key: K): boolean {
    return this.#pending.has(key);
  }

  /** Runs the first final collect of `key` (nothing if one is already pending). */
  start(key: K): void {
    if (this.#pending.has(key)) return;
    this.#pending.set(key, { attempts: 0 });
    this.#run(key);
  }

  /** Stops every timer; each pending collect is tried once more now and given up if that fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [key, p] of this.#pending) {
      if (!p.timer) continue; // an attempt is running: its failure gives up (closed)
      p.timer.cancel();
      p.timer = undefined;
      this.#run(key);
    }
  }

  #run(key: K): void {
    const p = this.#pending.get(key);
    if (!p) return;
    p.attempts++;
    // Never a rejection out of here: a throwing rail or event listener is swallowed.
    Promise.resolve()
      .then(() => this.#o.attempt(key))
      .then(
        () => {
          this.#pending.delete(key);
          this.#o.settled(key, true);
        },
        (err: unknown) => {
          const permanent = isPermanentCollectError(err);
          if (permanent || this.#closed || p.attempts >= this.#o.attempts) {
            this.#pending.delete(key);
            this.#o.settled(key, false);
            this.#o.gaveUp(key, err, p.attempts, permanent);
            return;
          }
          const delay = Math.min(this.#o.maxMs, this.#o.firstMs * 2 ** (p.attempts - 1));
          p.timer = this.#o.clock.setTimeout(() => {
            p.timer = undefined;
            this.#run(key);
          }, delay);
        },
      )
      .catch(() => undefined);
  }
}
