import { toHex } from '../util/bytes.js';
import { throwIfAborted } from '../util/errors.js';
import { type LedgerCommand, type LedgerEvent, type LedgerResult, LedgerState } from './core.js';
import { randomBytes } from './crypto-backend.js';
import { LedgerError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import type { LedgerStore, StoreTransaction } from './store.js';
import type {
  AbortOptions,
  AccountView,
  ChannelView,
  CloseChannelParams,
  CloseChannelResult,
  DepositParams,
  DepositResult,
  LedgerApi,
  LedgerInfo,
  LedgerTotals,
  OpenChannelParams,
  OpenChannelResult,
  RedeemParams,
  RedeemResult,
  SettleWithdrawalParams,
  SettleWithdrawalResult,
  TopUpChannelParams,
  TopUpChannelResult,
  WithdrawalView,
  WithdrawParams,
  WithdrawResult,
} from './types.js';
import { checkChannelId } from './voucher.js';

/**
 * A source of wall-clock time in milliseconds since the Unix epoch (expiries, journal
 * timestamps). Not the monotonic `Clock` of `bttkit/util` that the rest of the package
 * calls `clock`: the ledger's option for it is named `wallClock` everywhere.
 */
export interface WallClock {
  now(): number;
}

/** The system clock (`Date.now()`). */
export const systemClock: WallClock = { now: () => Date.now() };

/** Options of {@link Ledger.open}. */
export interface LedgerOptions {
  /** Where the journal lives. Default: a new {@link MemoryStore}. Use a {@link FileStore} for real money. */
  store?: LedgerStore;
  /** The ledger's id; required to match if the store already has one; random if new and omitted. */
  ledgerId?: string;
  /** Epoch-millisecond time source for expiries and journal timestamps. Default {@link systemClock}. */
  wallClock?: WallClock;
  /** Snapshot and compact the journal after this many events. Default 10,000; 0 disables. */
  snapshotEvery?: number;
}

/**
 * The embedded ledger: the pure {@link LedgerState} plus a {@link LedgerStore}. A mutation is
 * validated and applied in memory synchronously, appended to the journal, and acknowledged (its
 * promise resolves) only once the journal is durable; concurrent mutations share one fsync (group
 * commit). Reads see applied state, which may include mutations still being made durable. If the
 * journal fails, the ledger refuses everything after (`LEDGER_JOURNAL_FAILED`); reopen it to recover.
 *
 * The embedded ledger trusts its caller with roles (no request signatures: that is the service's
 * job) but still checks everything that concerns money: channel authorizations, voucher
 * signatures, balances, and that redeemers are payees and closers are parties.
 *
 * @example
 * ```ts
 * const ledger = await Ledger.open({ store: new FileStore('./ledger-data') });
 * await ledger.deposit({ account, amount: 10n ** 18n, txid, idempotencyKey: txid });
 * ```
 */
export class Ledger implements LedgerApi {
  #state: LedgerState;
  /** Shared store: the in-memory state may be ahead of the database (a commit failed): reload. */
  #stale = false;
  /** Shared store: one transaction at a time per process. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #store: LedgerStore;
  readonly #wallClock: WallClock;
  readonly #snapshotEvery: number;
  #compacting: Promise<void> | undefined;
  #failed: unknown;
  #closed = false;

  private constructor(state: LedgerState, store: LedgerStore, clock: WallClock, snapshotEvery: number) {
    this.#state = state;
    this.#store = store;
    this.#wallClock = clock;
    this.#snapshotEvery = snapshotEvery;
  }

  /** Opens a ledger: loads the store's snapshot, replays its journal, and names a new ledger. */
  static async open(options: LedgerOptions = {}): Promise<Ledger> {
    const store: LedgerStore = options.store ?? new MemoryStore();
    const clock = options.wallClock ?? systemClock;
    let ledger: Ledger;
    try {
      const contents = await store.load();
      const state = new LedgerState(contents.state);
      for (const e of contents.events) state.replay(e);
      const errors = state.checkInvariants();
      if (errors.length > 0) {
        throw new LedgerError('LEDGER_JOURNAL_CORRUPT', `replayed state breaks an invariant: ${errors[0]}`);
      }
      ledger = new Ledger(state, store, clock, options.snapshotEvery ?? 10_000);
      const newId = () => options.ledgerId ?? `ledger-${toHex(randomBytes(8))}`;
      if (store.begin) {
        // Another instance may be naming it right now: decide under the store's lock.
        await ledger.#shared(() =>
          state.ledgerId === undefined ? { event: state.init(newId(), clock.now()) } : {},
        );
      } else if (state.ledgerId === undefined) {
        await store.append(state.init(newId(), clock.now()));
      }
      if (state.ledgerId === undefined) {
        throw new LedgerError('LEDGER_JOURNAL_CORRUPT', 'the store holds no ledger');
      } else if (options.ledgerId !== undefined && options.ledgerId !== state.ledgerId) {
        throw new LedgerError(
          'LEDGER_ID_MISMATCH',
          `store holds ledger ${state.ledgerId}, not ${options.ledgerId}`,
        );
      }
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return ledger;
  }

  /** This ledger's id (part of every voucher and channel authorization). */
  get ledgerId(): string {
    return this.#state.ledgerId as string;
  }

  /** The underlying state machine (read-only use: views and invariant checks). */
  get state(): LedgerState {
    return this.#state;
  }

  #check(opts: AbortOptions | undefined): void {
    throwIfAborted(opts?.signal);
    if (this.#closed) throw new LedgerError('LEDGER_CLOSED', 'ledger is closed');
    if (this.#failed !== undefined) {
      throw new LedgerError('LEDGER_JOURNAL_FAILED', 'ledger stopped after a journal failure', {
        cause: this.#failed,
      });
    }
  }

  /**
   * Runs one command: the low-level entry point behind every mutating method (and the service).
   * @throws {LedgerError}
   */
  async execute(command: LedgerCommand, opts?: AbortOptions & { nonce?: string }): Promise<LedgerResult> {
    this.#check(opts);
    if (this.#store.begin) {
      return this.#shared(() => {
        // (The nonce check runs here too: another instance may have refused this request.)
        if (opts?.nonce !== undefined && this.#state.nonceSpent(opts.nonce, this.#wallClock.now()))
          throw new LedgerError('LEDGER_REQUEST_REPLAYED', 'request already seen');
        const ex = this.#state.execute(command, this.#wallClock.now());
        return ex.kind === 'applied' ? { event: ex.event, result: ex.result } : { result: ex.result };
      }) as Promise<LedgerResult>;
    }
    const ex = this.#state.execute(command, this.#wallClock.now());
    try {
      if (ex.kind === 'applied') {
        const durable = this.#store.append(ex.event);
        this.#maybeCompact();
        await durable;
      } else {
        // The first run may still be on its way to disk: acknowledge only once it is there.
        await this.#store.flush();
      }
    } catch (err) {
      this.#failed ??= err;
      throw err instanceof LedgerError
        ? err
        : new LedgerError('LEDGER_JOURNAL_FAILED', 'journal write failed', { cause: err });
    }
    return ex.result;
  }

  /**
   * Spends the nonce `key` (`signer:nonce`) of a signed request the ledger refused, durably, until
   * `expires` (epoch ms): the service refuses the same request again even after a restart
   * (an applied request is guarded by its journaled idempotency key instead).
   * @throws {LedgerError} `LEDGER_JOURNAL_FAILED`, `LEDGER_CLOSED`, `LEDGER_BAD_REQUEST`
   */
  async spendNonce(key: string, expires: number, opts?: AbortOptions): Promise<void> {
    this.#check(opts);
    const now = this.#wallClock.now();
    if (this.#store.begin) {
      await this.#shared(() =>
        expires <= now || this.#state.nonceSpent(key, now)
          ? {}
          : { event: this.#state.spendNonce(key, expires, now) },
      );
      return;
    }
    if (expires <= now || this.#state.nonceSpent(key, now)) return;
    const event = this.#state.spendNonce(key, expires, now);
    try {
      const durable = this.#store.append(event);
      this.#maybeCompact();
      await durable;
    } catch (err) {
      this.#failed ??= err;
      throw new LedgerError('LEDGER_JOURNAL_FAILED', 'journal write failed', { cause: err });
    }
  }

  /** True when `key` was spent by {@link spendNonce} and has not expired. */
  nonceSpent(key: string): boolean {
    return this.#state.nonceSpent(key, this.#wallClock.now());
  }

  /**
   * Shared store: under the store's lock, replays what other writers appended, runs `step`
   * (which may make one event), appends and commits it. One at a time per process. A refused
   * step (it throws) leaves the state as the database has it. A failed commit may leave the
   * state ahead of the database: it is reloaded from the store before the next operation.
   */
  #shared<T>(step: () => { event?: LedgerEvent; result?: T }): Promise<T | undefined> {
    const run = this.#queue.then(async () => {
      this.#check(undefined);
      const store = this.#store as LedgerStore & { begin: NonNullable<LedgerStore['begin']> };
      if (this.#stale) await this.#reload();
      let tx: StoreTransaction;
      try {
        tx = await store.begin(this.#state.seq);
      } catch (err) {
        throw journalFailed(err);
      }
      let done = false;
      try {
        for (const e of tx.events) this.#state.replay(e);
        const out = step();
        if (out.event) {
          try {
            await tx.append(out.event);
            await tx.commit();
          } catch (err) {
            this.#stale = true;
            throw journalFailed(err);
          }
          this.#maybeCompact();
        }
        done = out.event !== undefined;
        return out.result;
      } finally {
        if (!done) await tx.rollback();
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Shared store: the state again from the store (after a commit whose outcome is unknown). */
  async #reload(): Promise<void> {
    const contents = await this.#store.load().catch((err: unknown) => {
      throw journalFailed(err);
    });
    const state = new LedgerState(contents.state);
    for (const e of contents.events) state.replay(e);
    const errors = state.checkInvariants();
    if (errors.length > 0)
      throw new LedgerError('LEDGER_JOURNAL_CORRUPT', `reloaded state breaks an invariant: ${errors[0]}`);
    this.#state = state;
    this.#stale = false;
  }

  /** Shared store: catches up with what other writers appended, before a read (no lock taken). */
  async #fresh(opts: AbortOptions | undefined): Promise<void> {
    this.#check(opts);
    const since = this.#store.since?.bind(this.#store);
    if (!since) return;
    const run = this.#queue.then(async () => {
      if (this.#stale) await this.#reload();
      for (const e of await since(this.#state.seq).catch((err: unknown) =>
        Promise.reject(journalFailed(err)),
      ))
        this.#state.replay(e);
    });
    this.#queue = run.catch(() => undefined);
    await run;
  }

  #maybeCompact(): void {
    if (this.#snapshotEvery <= 0 || this.#compacting || this.#store.eventsSinceSnapshot < this.#snapshotEvery)
      return;
    this.#state.pruneNonces(this.#wallClock.now());
    this.#compacting = this.#store
      .compact(this.#state.data)
      .catch((err: unknown) => {
        this.#failed ??= err;
      })
      .finally(() => {
        this.#compacting = undefined;
      });
  }

  /** Snapshots and compacts the journal now. */
  async compact(): Promise<void> {
    this.#check(undefined);
    while (this.#compacting) await this.#compacting;
    this.#state.pruneNonces(this.#wallClock.now());
    await this.#store.compact(this.#state.data);
  }

  async #run<T extends LedgerResult['type']>(
    command: LedgerCommand & { type: T },
    opts: AbortOptions | undefined,
  ): Promise<Extract<LedgerResult, { type: T }>> {
    const r = await this.execute(command, opts);
    const { type: _t, ...rest } = r;
    return rest as unknown as Extract<LedgerResult, { type: T }>;
  }

  async info(opts?: AbortOptions): Promise<LedgerInfo> {
    await this.#fresh(opts);
    return { ledgerId: this.ledgerId, seq: this.#state.seq };
  }

  deposit(params: DepositParams, opts?: AbortOptions): Promise<DepositResult> {
    return this.#run({ ...params, type: 'deposit' }, opts);
  }

  openChannel(params: OpenChannelParams, opts?: AbortOptions): Promise<OpenChannelResult> {
    return this.#run({ ...params, type: 'open' }, opts);
  }

  redeem(params: RedeemParams, opts?: AbortOptions): Promise<RedeemResult> {
    return this.#run({ ...params, type: 'redeem' }, opts);
  }

  closeChannel(params: CloseChannelParams, opts?: AbortOptions): Promise<CloseChannelResult> {
    return this.#run({ ...params, type: 'close' }, opts);
  }

  topUpChannel(params: TopUpChannelParams, opts?: AbortOptions): Promise<TopUpChannelResult> {
    return this.#run({ ...params, type: 'topup' }, opts);
  }

  requestWithdrawal(params: WithdrawParams, opts?: AbortOptions): Promise<WithdrawResult> {
    return this.#run({ ...params, type: 'withdraw' }, opts);
  }

  settleWithdrawal(params: SettleWithdrawalParams, opts?: AbortOptions): Promise<SettleWithdrawalResult> {
    return this.#run({ ...params, type: 'settle' }, opts);
  }

  async getAccount(address: string, opts?: AbortOptions): Promise<AccountView> {
    await this.#fresh(opts);
    return this.#state.account(address);
  }

  async getChannel(channelId: string, opts?: AbortOptions): Promise<ChannelView | undefined> {
    await this.#fresh(opts);
    return this.#state.channel(checkChannelId(channelId));
  }

  async getWithdrawal(withdrawalId: string, opts?: AbortOptions): Promise<WithdrawalView | undefined> {
    await this.#fresh(opts);
    return this.#state.withdrawal(withdrawalId);
  }

  async totals(opts?: AbortOptions): Promise<LedgerTotals> {
    await this.#fresh(opts);
    return this.#state.totals();
  }

  /** Waits for pending writes and compaction, then closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#compacting) await this.#compacting;
    await this.#store.close();
  }
}

function journalFailed(err: unknown): LedgerError {
  return err instanceof LedgerError
    ? err
    : new LedgerError('LEDGER_JOURNAL_FAILED', 'journal write failed', { cause: err });
}
