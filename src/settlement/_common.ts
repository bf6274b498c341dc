import { normalizeAddress } from '../ledger/keys.js';
import type { Clock } from '../util/clock.js';
import { AbortError, throwIfAborted } from '../util/errors.js';
import { maxTransferAmount, type TokenProfile } from './constants.js';
import { SettlementError } from './errors.js';
import type {
  AbortOptions,
  ChainTime,
  ConfirmOptions,
  PreparedTransfer,
  TransferResult,
  TxStatus,
} from './types.js';

const TXID = /^[0-9a-fA-F]{64}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** The `T…` form of an address. @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS` */
export function checkAddress(address: unknown, field = 'address'): string {
  try {
    if (typeof address !== 'string') throw new Error('not a string'); // internal: caught below
    return normalizeAddress(address);
  } catch (cause) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', `${field} is not a TRON address`, {
      cause,
      details: { field },
    });
  }
}

/** Checks a transfer amount for `token`. @throws {SettlementError} `SETTLEMENT_BAD_AMOUNT`, `SETTLEMENT_AMOUNT_OUT_OF_RANGE` */
export function checkTransferAmount(amount: unknown, token: TokenProfile): bigint {
  if (typeof amount !== 'bigint')
    throw new SettlementError('SETTLEMENT_BAD_AMOUNT', 'amount must be a bigint of base units');
  const max = maxTransferAmount(token);
  if (amount < 1n || amount > max) {
    throw new SettlementError(
      'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
      `${token.symbol} amount must be in [1, ${max}]`,
      {
        details: { token: token.symbol, max: max.toString() },
      },
    );
  }
  return amount;
}

/** Lower-cased txid. @throws {SettlementError} `SETTLEMENT_BAD_TXID` */
export function checkTxid(txid: unknown): string {
  if (typeof txid !== 'string' || !TXID.test(txid))
    throw new SettlementError('SETTLEMENT_BAD_TXID', 'txid must be 64 hex digits');
  return txid.toLowerCase();
}

/** @throws {SettlementError} `SETTLEMENT_BAD_IDEMPOTENCY_KEY` */
export function checkIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new SettlementError(
      'SETTLEMENT_BAD_IDEMPOTENCY_KEY',
      'idempotency key must be 1-128 printable ASCII characters',
    );
  }
  return key;
}

/** Resolves after `ms` of `clock`, or rejects with `AbortError` when `signal` fires. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(new AbortError(undefined, { cause: signal?.reason }));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Races `p` against `signal` (the work behind `p` is not cancelled, only no longer awaited). */
export function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError(undefined, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Polls `status` every `pollMs` of `clock` until confirmed; the shared body of every `confirm`. */
export async function pollConfirm(
  status: (txid: string, opts?: AbortOptions) => Promise<TxStatus>,
  txid: string,
  clock: Clock,
  pollMs: number,
  defaultTimeoutMs: number,
  opts: ConfirmOptions = {},
): Promise<TxStatus & { state: 'confirmed' }> {
  const deadline = clock.now() + (opts.timeoutMs ?? defaultTimeoutMs);
  for (;;) {
    const s = await status(txid, opts);
    if (s.state === 'confirmed') return s;
    if (s.state === 'failed') {
      throw new SettlementError('SETTLEMENT_TX_FAILED', `transaction failed on chain (${s.reason})`, {
        details: { txid, reason: s.reason, blockNumber: s.blockNumber },
      });
    }
    if (clock.now() >= deadline) {
      throw new SettlementError('SETTLEMENT_TIMEOUT', 'transaction not confirmed in time', {
        details: { txid, state: s.state },
      });
    }
    await sleep(clock, pollMs, opts.signal);
  }
}

/**
 * True when `tx` can provably never be included: the solid block is at or past its expiration and
 * the transaction is in no block up to it. (A block includes a transaction only while its parent's
 * timestamp is before the expiration; solid blocks are irreversible.) Reads the chain time first,
 * then the status, so the status is at least as recent as the time it is judged against.
 */
export function provablyExpired(tx: PreparedTransfer, time: ChainTime, status: TxStatus): boolean {
  return status.state === 'unknown' && tx.expiration !== undefined && time.solid.timestamp >= tx.expiration;
}

/**
 * `provablyDead` of an adapter whose transactions expire (TRON, `LocalChain`): chain time first,
 * then the status, then {@link provablyExpired}.
 */
export async function provablyDeadByExpiry(
  adapter: {
    chainTime(opts?: AbortOptions): Promise<ChainTime>;
    status(txid: string, opts?: AbortOptions): Promise<TxStatus>;
  },
  tx: PreparedTransfer,
  opts?: AbortOptions,
): Promise<boolean> {
  if (tx.expiration === undefined) return false;
  const time = await adapter.chainTime(opts);
  const status = await adapter.status(tx.txid, opts);
  return provablyExpired(tx, time, status);
}

/** One idempotency key's transfer: its terms, the signed transaction once made, the call running. */
interface KeyedTransfer {
  readonly to: string;
  readonly amount: bigint;
  tx?: PreparedTransfer;
  result?: Promise<TransferResult>;
}

/** True when a failed broadcast may still have reached the node (a transport failure, a timeout, an abort). */
function mayHaveReached(err: unknown): boolean {
  if (err instanceof SettlementError) return err.retryable;
  return err instanceof AbortError || (err instanceof Error && err.name === 'AbortError');
}

/**
 * `transfer(to, amount, idempotencyKey)` on top of `prepare` + `broadcast`, shared by every
 * adapter: the same key with the same parameters returns the first call's result — also while that
 * call is still running, so two concurrent calls never make two transactions; the same key with
 * other parameters is refused. A call that failed before anything was signed, or whose broadcast
 * the node refused outright, forgets its key; one whose broadcast may have reached the node (a
 * transport error, a timeout, an abort) keeps its signed transaction, and a retry with the key
 * broadcasts that same transaction again — never a second one. Lasts as long as the adapter
 * object (crash safety is the `Settler`'s journal's job).
 */
export class IdempotentTransfers {
  readonly #sent = new Map<string, KeyedTransfer>();

  constructor(
    private readonly token: TokenProfile,
    private readonly prepare: (to: string, amount: bigint, opts?: AbortOptions) => Promise<PreparedTransfer>,
    private readonly broadcast: (tx: PreparedTransfer, opts?: AbortOptions) => Promise<void>,
    /** The chain's address check (normalizes or throws `SETTLEMENT_BAD_ADDRESS`). Default: TRON's. */
    private readonly address: (address: unknown, field?: string) => string = checkAddress,
  ) {}

  transfer(to: string, amount: bigint, idempotencyKey: string, opts?: AbortOptions): Promise<TransferResult> {
    const key = checkIdempotencyKey(idempotencyKey);
    const dest = this.address(to, 'to');
    const value = checkTransferAmount(amount, this.token);
    const seen = this.#sent.get(key);
    if (seen) {
      if (seen.to !== dest || seen.amount !== value) {
        throw new SettlementError(
          'SETTLEMENT_BAD_IDEMPOTENCY_KEY',
          'idempotency key reused with other parameters',
        );
      }
      return seen.result ?? this.#run(key, seen, opts);
    }
    const entry: KeyedTransfer = { to: dest, amount: value };
    this.#sent.set(key, entry);
    return this.#run(key, entry, opts);
  }

  #run(key: string, entry: KeyedTransfer, opts?: AbortOptions): Promise<TransferResult> {
    const result = (async () => {
      entry.tx ??= await this.prepare(entry.to, entry.amount, opts);
      const tx = entry.tx;
      await this.broadcast(tx, opts);
      const out: { txid: string; expiration?: number; nonce?: number } = { txid: tx.txid };
      if (tx.expiration !== undefined) out.expiration = tx.expiration;
      if (tx.nonce !== undefined) out.nonce = tx.nonce;
      return out;
    })();
    entry.result = result;
    result.catch((err: unknown) => {
      if (entry.tx === undefined || !mayHaveReached(err)) this.#sent.delete(key);
      else entry.result = undefined;
    });
    return result;
  }
}
