import { LedgerError } from '../ledger/errors.js';
import type { LedgerApi } from '../ledger/types.js';
import { type Clock, realClock } from '../util/clock.js';
import { throwIfAborted } from '../util/errors.js';
import { sleep } from './_common.js';
import { SettlementError } from './errors.js';
import type { SettlementJournal } from './journal.js';
import type { AbortOptions, Deposit, PreparedTransfer, SettlementAdapter } from './types.js';

/** Where a withdrawal stands; {@link SettlerOptions.onPhase} is told each step as it is passed. */
export type SettlerPhase =
  /** A signed transaction is durable in the journal; it has not been broadcast. */
  | 'journaled'
  /** The node accepted (or refused) the broadcast; the outcome is not yet journaled. */
  | 'broadcast'
  /** The transaction is confirmed in a solid block; the ledger does not know yet. */
  | 'confirmed'
  /** The ledger recorded the outcome. */
  | 'settled';

/** Options of {@link Settler}. */
export interface SettlerOptions {
  ledger: LedgerApi;
  adapter: SettlementAdapter;
  journal: SettlementJournal;
  /** Clock for polling. Default: the real clock. */
  clock?: Clock;
  /** Poll interval while a withdrawal waits for its block, in clock ms. Default 3,000. */
  pollMs?: number;
  /** Transactions tried per withdrawal (each only after the previous is provably dead) before it is refunded. Default 3. */
  maxAttempts?: number;
  /** Largest withdrawal paid automatically (the hot-wallet limit); larger ones stay pending (`SETTLEMENT_OVER_LIMIT`). */
  maxWithdrawal?: bigint;
  /** Called as each phase is passed (metrics, tests). Awaited. */
  onPhase?: (phase: SettlerPhase, withdrawalId: string, txid: string) => void | Promise<void>;
  /**
   * How ledger account addresses map to the adapter's chain addresses and back. Default: the same
   * string (TRON adapters: the ledger's accounts are `T…` addresses). For BTTC with the TRON-keyed
   * ledger, pass `BTTC_LEDGER_ADDRESSES` (one secp256k1 key has the same 20-byte address on both
   * chains: `T…` ↔ `0x…`).
   */
  addresses?: AddressMapping;
}

/** Maps ledger account addresses to chain addresses and back (see {@link SettlerOptions.addresses}). */
export interface AddressMapping {
  /** The chain address a withdrawal to ledger address `address` is paid to. */
  toChain(address: string): string;
  /** The ledger account a deposit from chain address `address` is credited to. */
  toLedger(address: string): string;
}

const SAME_ADDRESS: AddressMapping = { toChain: (a) => a, toLedger: (a) => a };

/** What {@link Settler.syncDeposits} did. */
export interface DepositSync {
  /** Deposits the ledger credited now, or had credited before under the same txid. */
  readonly deposits: readonly Deposit[];
  /** Deposits the ledger refused (another deposit already holds the txid). */
  readonly refused: readonly Deposit[];
  readonly cursor: string;
}

/** What became of a withdrawal. */
export interface WithdrawalOutcome {
  readonly withdrawalId: string;
  readonly outcome: 'sent' | 'failed';
  readonly txid?: string;
}

/** Options of {@link Settler.payWithdrawal}. */
export interface PayOptions extends AbortOptions {
  /** Give up waiting after this many clock ms (`SETTLEMENT_TIMEOUT`); the withdrawal resumes on the next call. */
  timeoutMs?: number;
}

const NOT_RETRYABLE_AT_PREPARE = new Set([
  'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
  'SETTLEMENT_BAD_ADDRESS',
  'SETTLEMENT_SAME_ACCOUNT',
  'SETTLEMENT_BAD_AMOUNT',
]);

/**
 * Connects a ledger to a chain through a {@link SettlementAdapter}:
 * - deposits to the adapter's address are found with `depositsSince` and credited to the sender's
 *   ledger account, once per txid (the ledger refuses a second credit for a txid; the cursor is
 *   journaled after the credits, so a crash can only repeat a report, never lose one);
 * - withdrawals are two-phase: the signed transaction and its txid are journaled before broadcast;
 *   after a crash the journaled txids are looked up, a journaled transaction not provably dead is
 *   broadcast again (the chain takes it once), and a new one is signed only once every earlier one
 *   is provably dead ({@link SettlementAdapter.provablyDead}: on TRON the solid block is past its
 *   expiration and it is in no block; on an EVM chain another transaction took its nonce in a solid
 *   block).
 */
export class Settler {
  readonly #ledger: LedgerApi;
  readonly #adapter: SettlementAdapter;
  readonly #journal: SettlementJournal;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #maxAttempts: number;
  readonly #max: bigint | undefined;
  readonly #onPhase: SettlerOptions['onPhase'];
  readonly #busy = new Map<string, Promise<WithdrawalOutcome>>();
  readonly #addresses: AddressMapping;

  constructor(options: SettlerOptions) {
    this.#ledger = options.ledger;
    this.#adapter = options.adapter;
    this.#journal = options.journal;
    this.#clock = options.clock ?? realClock;
    this.#pollMs = options.pollMs ?? 3000;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#max = options.maxWithdrawal;
    this.#onPhase = options.onPhase;
    this.#addresses = options.addresses ?? SAME_ADDRESS;
  }

  /** Credits every new deposit up to the solid head. */
  async syncDeposits(opts?: AbortOptions): Promise<DepositSync> {
    const deposits: Deposit[] = [];
    const refused: Deposit[] = [];
    let cursor = this.#journal.cursor;
    for (;;) {
      const page = await this.#adapter.depositsSince(cursor, opts);
      for (const d of page.deposits) {
        try {
          await this.#ledger.deposit(
            {
              account: this.#addresses.toLedger(d.from),
              amount: d.amount,
              txid: d.txid,
              idempotencyKey: `deposit:${d.txid}`,
            },
            opts,
          );
          deposits.push(d);
        } catch (err) {
          if (
            err instanceof LedgerError &&
            (err.code === 'LEDGER_DUPLICATE_DEPOSIT' || err.code === 'LEDGER_IDEMPOTENCY_MISMATCH')
          ) {
            refused.push(d);
          } else throw err;
        }
      }
      if (page.cursor !== cursor) await this.#journal.setCursor(page.cursor);
      cursor = page.cursor;
      if (page.caughtUp) return { deposits, refused, cursor };
    }
  }

  /** Withdrawals with a journaled transaction and no recorded outcome (to resume after a restart). */
  unsettled(): string[] {
    return this.#journal.unsettled();
  }

  /** Resumes every unsettled withdrawal; returns their outcomes. */
  async recover(opts?: PayOptions): Promise<WithdrawalOutcome[]> {
    const out: WithdrawalOutcome[] = [];
    for (const id of this.unsettled()) out.push(await this.payWithdrawal(id, opts));
    return out;
  }

  /**
   * Pays the ledger's pending withdrawal `id` exactly once and records the outcome in the ledger:
   * `sent` with the txid, or `failed` (refunded) when no transaction can be made for it or
   * `maxAttempts` transactions are all provably dead. Safe to call again at any time, also
   * concurrently and after a crash.
   */
  payWithdrawal(id: string, opts?: PayOptions): Promise<WithdrawalOutcome> {
    let p = this.#busy.get(id);
    if (!p) {
      p = this.#pay(id, opts).finally(() => this.#busy.delete(id));
      this.#busy.set(id, p);
    }
    return p;
  }

  async #phase(phase: SettlerPhase, id: string, txid: string): Promise<void> {
    await this.#onPhase?.(phase, id, txid);
  }

  async #settle(id: string, outcome: 'sent' | 'failed', txid: string | undefined, opts?: AbortOptions) {
    const params =
      outcome === 'sent'
        ? { withdrawalId: id, outcome, txid, idempotencyKey: `settle:${id}` }
        : { withdrawalId: id, outcome, idempotencyKey: `settle:${id}` };
    try {
      await this.#ledger.settleWithdrawal(params, opts);
    } catch (err) {
      if (!(err instanceof LedgerError && err.code === 'LEDGER_WITHDRAWAL_NOT_PENDING')) throw err;
    }
    await this.#journal.recordSettled(id, outcome, txid);
    await this.#phase('settled', id, txid ?? '');
    return txid === undefined ? { withdrawalId: id, outcome } : { withdrawalId: id, outcome, txid };
  }

  async #pay(id: string, opts: PayOptions = {}): Promise<WithdrawalOutcome> {
    const signal = opts.signal;
    const deadline =
      opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : this.#clock.now() + opts.timeoutMs;
    const w = await this.#ledger.getWithdrawal(id, { signal });
    if (!w) throw new LedgerError('LEDGER_WITHDRAWAL_NOT_FOUND', 'no such withdrawal');
    const rec = this.#journal.withdrawal(id);
    if (w.status !== 'pending') {
      if (!rec?.settled) await this.#journal.recordSettled(id, w.status, w.txid);
      return w.txid === undefined
        ? { withdrawalId: id, outcome: w.status }
        : { withdrawalId: id, outcome: w.status, txid: w.txid };
    }
    for (;;) {
      throwIfAborted(signal);
      const attempts: readonly PreparedTransfer[] = this.#journal.withdrawal(id)?.attempts ?? [];
      const live: PreparedTransfer[] = [];
      for (const a of attempts) {
        const s = await this.#adapter.status(a.txid, { signal });
        if (s.state === 'confirmed') {
          await this.#phase('confirmed', id, a.txid);
          return this.#settle(id, 'sent', a.txid, { signal });
        }
        // `provablyDead` reads the chain afresh (its own order: the solid view, then the transaction).
        if (
          s.state === 'pending' ||
          (s.state === 'unknown' && !(await this.#adapter.provablyDead(a, { signal })))
        )
          live.push(a);
      }
      const latest = live[live.length - 1];
      if (latest) {
        // Still valid: (re)broadcast it. The chain takes a transaction once; a refusal changes nothing.
        const s = await this.#adapter.status(latest.txid, { signal });
        if (s.state === 'unknown') await this.#broadcast(id, latest, signal);
      } else {
        if (attempts.length >= this.#maxAttempts) return this.#settle(id, 'failed', undefined, { signal });
        if (this.#max !== undefined && w.amount > this.#max) {
          throw new SettlementError(
            'SETTLEMENT_OVER_LIMIT',
            'withdrawal above the hot-wallet limit: left pending for review',
            {
              details: { withdrawalId: id, amount: w.amount.toString(), limit: this.#max.toString() },
            },
          );
        }
        let tx: PreparedTransfer;
        try {
          tx = await this.#adapter.prepare(this.#addresses.toChain(w.to), w.amount, { signal });
        } catch (err) {
          // Nothing was ever signed for it (or all are provably dead): refunding is safe.
          if (err instanceof SettlementError && NOT_RETRYABLE_AT_PREPARE.has(err.code)) {
            return this.#settle(id, 'failed', undefined, { signal });
          }
          throw err;
        }
        await this.#journal.recordAttempt(id, tx);
        await this.#phase('journaled', id, tx.txid);
        await this.#broadcast(id, tx, signal);
      }
      if (this.#clock.now() >= deadline) {
        throw new SettlementError(
          'SETTLEMENT_TIMEOUT',
          'withdrawal not confirmed in time; it resumes on the next call',
          {
            details: { withdrawalId: id },
          },
        );
      }
      await sleep(this.#clock, this.#pollMs, signal);
    }
  }

  async #broadcast(id: string, tx: PreparedTransfer, signal: AbortSignal | undefined): Promise<void> {
    let result = 'ok';
    try {
      await this.#adapter.broadcast(tx, { signal });
    } catch (err) {
      if (!(err instanceof SettlementError)) throw err;
      // Refused or not reached: the transaction stays live until it is provably dead.
      result = err.code;
    }
    await this.#phase('broadcast', id, tx.txid);
    await this.#journal.recordBroadcast(id, tx.txid, result);
  }
}
