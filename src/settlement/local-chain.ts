import { toHex, utf8 } from '../util/bytes.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { throwIfAborted } from '../util/errors.js';
import { sha256 } from '../util/hash.js';
import {
  checkAddress,
  checkTransferAmount,
  checkTxid,
  IdempotentTransfers,
  pollConfirm,
  provablyDeadByExpiry,
} from './_common.js';
import { BLOCK_INTERVAL_MS, BTT, type TokenProfile, TX_LIFETIME_MS } from './constants.js';
import { SettlementError } from './errors.js';
import { parseJson, readInt, readObject, readString } from './json.js';
import type {
  AbortOptions,
  BlockRef,
  ChainTime,
  ConfirmOptions,
  Deposit,
  DepositPage,
  PreparedTransfer,
  SettlementAdapter,
  TransferResult,
  TxStatus,
} from './types.js';

/** Options of {@link LocalChain}. */
export interface LocalChainOptions {
  /** The token the chain carries. Default {@link BTT}. */
  token?: TokenProfile;
  /** Drives timestamps, auto-mining and confirmation polling. Default: the real clock. */
  clock?: Clock;
  /** Chain time between blocks, and the auto-mining period. Default 3,000 ms. */
  blockIntervalMs?: number;
  /** Mine a block every `blockIntervalMs` of the clock. Default false (blocks on demand: {@link LocalChain.mine}). */
  autoMine?: boolean;
  /** How many blocks the solid view trails the head. Default 0. */
  solidityLag?: number;
  /** Chain time (ms since the epoch) at clock time 0. Default: `Date.now() - clock.now()` at construction. */
  epoch?: number;
  /** How often a wallet's `confirm` polls, in clock ms. Default `blockIntervalMs / 3`. */
  pollMs?: number;
  /** Largest number of blocks one `depositsSince` page scans. Default 1,000. */
  maxBlocksPerPage?: number;
}

interface LocalTx {
  txid: string;
  from: string;
  to: string;
  amount: bigint;
  expiration: number;
}

interface LocalBlock extends BlockRef {
  txs: LocalTx[];
}

/** One transfer included in a {@link LocalChain} block. */
export interface LocalTransfer {
  readonly txid: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  readonly blockNumber: number;
}

const MAX_PAYLOAD = 4096;

/**
 * An in-process chain for one token, for the demo and the swarm lab: accounts, a transaction pool,
 * blocks (on demand with {@link LocalChain.mine}, or every `blockIntervalMs` of the injected
 * {@link Clock}), transaction expiry judged against the head block's time as on TRON, and an
 * adjustable solid view. {@link LocalChain.wallet} gives a {@link SettlementAdapter} per address,
 * which passes the same behavioural suite as `TronSettlement`. There are no keys: any code holding
 * the chain may move any account's funds. No fees.
 *
 * @example
 * ```ts
 * const chain = new LocalChain({ token: BTT });
 * chain.mint(alice, 10n ** 21n);
 * const { txid } = await chain.wallet(alice).transfer(bob, 10n ** 18n, 'pay-1');
 * chain.mine();
 * ```
 */
export class LocalChain {
  readonly token: TokenProfile;
  readonly clock: Clock;
  readonly blockIntervalMs: number;
  readonly pollMs: number;
  readonly maxBlocksPerPage: number;
  #epoch: number;
  #solidityLag: number;
  #balances = new Map<string, bigint>();
  #pool: LocalTx[] = [];
  #blocks: LocalBlock[] = [];
  #included = new Map<string, number>();
  #nonce = 0;
  #timer: TimerHandle | undefined;

  constructor(options: LocalChainOptions = {}) {
    this.token = options.token ?? BTT;
    this.clock = options.clock ?? realClock;
    this.blockIntervalMs = options.blockIntervalMs ?? BLOCK_INTERVAL_MS;
    this.pollMs = options.pollMs ?? Math.max(1, Math.floor(this.blockIntervalMs / 3));
    this.maxBlocksPerPage = options.maxBlocksPerPage ?? 1000;
    this.#solidityLag = options.solidityLag ?? 0;
    if (!(this.blockIntervalMs > 0) || !(this.#solidityLag >= 0) || !Number.isInteger(this.#solidityLag)) {
      throw new SettlementError(
        'SETTLEMENT_BAD_OPTIONS',
        'blockIntervalMs must be > 0 and solidityLag a natural number',
      );
    }
    this.#epoch = options.epoch ?? Date.now() - this.clock.now();
    this.#blocks.push({ number: 0, timestamp: this.#chainNow(), txs: [] });
    if (options.autoMine) this.start();
  }

  /** Chain time in whole milliseconds (the real clock's `now()` has fractions). */
  #chainNow(): number {
    return Math.floor(this.#epoch + this.clock.now());
  }

  /** Starts mining a block every `blockIntervalMs` of the clock (idempotent). */
  start(): void {
    this.#timer ??= this.clock.setInterval(() => this.mine(), this.blockIntervalMs);
  }

  /** Stops auto-mining. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** The head block. */
  get head(): BlockRef {
    const b = this.#blocks[this.#blocks.length - 1] as LocalBlock;
    return { number: b.number, timestamp: b.timestamp };
  }

  /** The solid block (`solidityLag` behind the head). */
  get solid(): BlockRef {
    const b = this.#blocks[Math.max(0, this.#blocks.length - 1 - this.#solidityLag)] as LocalBlock;
    return { number: b.number, timestamp: b.timestamp };
  }

  /** Changes how far the solid view trails the head. */
  setSolidityLag(blocks: number): void {
    if (!Number.isInteger(blocks) || blocks < 0)
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'lag must be a natural number');
    this.#solidityLag = blocks;
  }

  /** Creates `amount` out of nothing in `address` (a faucet: not a transfer, never a deposit). */
  mint(address: string, amount: bigint): void {
    const a = checkAddress(address);
    if (typeof amount !== 'bigint' || amount < 1n)
      throw new SettlementError('SETTLEMENT_BAD_AMOUNT', 'amount must be a positive bigint');
    this.#balances.set(a, (this.#balances.get(a) ?? 0n) + amount);
  }

  /** Head-state balance of `address` (includes blocks not yet solid; excludes the pool). */
  balanceOf(address: string): bigint {
    return this.#balances.get(checkAddress(address)) ?? 0n;
  }

  /** Transactions waiting in the pool. */
  get pending(): number {
    return this.#pool.length;
  }

  /**
   * Mines `count` blocks; the first includes every pooled transaction still valid (not expired
   * against its parent's time, covered by the sender's balance), in order. Returns the new blocks.
   */
  mine(count = 1): BlockRef[] {
    const out: BlockRef[] = [];
    for (let i = 0; i < count; i++) {
      const parent = this.#blocks[this.#blocks.length - 1] as LocalBlock;
      const timestamp = Math.max(parent.timestamp + this.blockIntervalMs, this.#chainNow());
      const txs: LocalTx[] = [];
      for (const tx of this.#pool.splice(0)) {
        if (tx.expiration <= parent.timestamp) continue;
        const bal = this.#balances.get(tx.from) ?? 0n;
        if (bal < tx.amount) continue;
        this.#balances.set(tx.from, bal - tx.amount);
        this.#balances.set(tx.to, (this.#balances.get(tx.to) ?? 0n) + tx.amount);
        txs.push(tx);
        this.#included.set(tx.txid, parent.number + 1);
      }
      const block: LocalBlock = { number: parent.number + 1, timestamp, txs };
      this.#blocks.push(block);
      out.push({ number: block.number, timestamp });
    }
    return out;
  }

  /** Every transfer included so far, oldest first. */
  transfers(): LocalTransfer[] {
    return this.#blocks.flatMap((b) =>
      b.txs.map((t) => ({ txid: t.txid, from: t.from, to: t.to, amount: t.amount, blockNumber: b.number })),
    );
  }

  /** A {@link SettlementAdapter} for `address` (no key needed: this chain trusts its process). */
  wallet(address: string): SettlementAdapter {
    return new LocalWallet(this, checkAddress(address));
  }

  // ---- used by LocalWallet ----

  /** @internal */
  _prepare(from: string, to: string, amount: bigint): PreparedTransfer {
    const expiration = this.head.timestamp + TX_LIFETIME_MS;
    const payload = JSON.stringify({ from, to, amount: amount.toString(), expiration, nonce: this.#nonce++ });
    const txid = toHex(sha256(utf8(payload)));
    return { txid, from, to, amount, expiration, payload };
  }

  /** @internal */
  _broadcast(sender: string, tx: PreparedTransfer): void {
    const parsed = decodePayload(tx.payload);
    if (parsed.txid !== tx.txid)
      throw new SettlementError('SETTLEMENT_TX_MISMATCH', 'txid does not match the payload');
    if (parsed.from !== sender)
      throw new SettlementError('SETTLEMENT_TX_BAD_SIGNATURE', 'transaction is not from this wallet');
    if (this.#included.has(parsed.txid) || this.#pool.some((p) => p.txid === parsed.txid)) return;
    if (parsed.expiration <= this.head.timestamp) {
      throw new SettlementError('SETTLEMENT_TX_EXPIRED', 'transaction expired', {
        details: { txid: parsed.txid },
      });
    }
    let committed = 0n;
    for (const p of this.#pool) if (p.from === parsed.from) committed += p.amount;
    if ((this.#balances.get(parsed.from) ?? 0n) - committed < parsed.amount) {
      throw new SettlementError('SETTLEMENT_INSUFFICIENT_BALANCE', 'balance is not sufficient', {
        details: { txid: parsed.txid },
      });
    }
    this.#pool.push(parsed);
  }

  /** @internal */
  _status(txid: string): TxStatus {
    const n = this.#included.get(txid);
    if (n === undefined) return { state: 'unknown', txid };
    const solid = this.solid;
    if (n > solid.number) return { state: 'pending', txid, blockNumber: n };
    const b = this.#blocks[n] as LocalBlock;
    return { state: 'confirmed', txid, blockNumber: n, blockTimestamp: b.timestamp };
  }

  /** @internal */
  _solidBalance(address: string): bigint {
    // Replays the unsolid blocks backwards from the head state.
    let bal = this.#balances.get(address) ?? 0n;
    const solid = this.solid.number;
    for (let i = this.#blocks.length - 1; i > solid; i--) {
      for (const t of (this.#blocks[i] as LocalBlock).txs) {
        if (t.to === address) bal -= t.amount;
        if (t.from === address) bal += t.amount;
      }
    }
    return bal;
  }

  /** @internal */
  _deposits(to: string, cursor: string | undefined): DepositPage {
    let from = 0;
    if (cursor !== undefined) {
      if (!/^[0-9]{1,15}$/.test(cursor))
        throw new SettlementError('SETTLEMENT_BAD_CURSOR', 'cursor must be a block number');
      from = Number(cursor);
    }
    const solid = this.solid.number;
    const last = Math.min(solid, from + this.maxBlocksPerPage - 1);
    const deposits: Deposit[] = [];
    for (let n = from; n <= last; n++) {
      const b = this.#blocks[n] as LocalBlock;
      for (const t of b.txs) {
        if (t.to === to) {
          deposits.push({
            txid: t.txid,
            from: t.from,
            to,
            amount: t.amount,
            blockNumber: n,
            blockTimestamp: b.timestamp,
          });
        }
      }
    }
    const next = Math.max(from, last + 1);
    return { deposits, cursor: String(next), caughtUp: next > solid };
  }
}

function decodePayload(payload: unknown): LocalTx {
  if (typeof payload !== 'string' || payload.length > MAX_PAYLOAD) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'not a LocalChain transaction');
  }
  const o = readObject(
    parseJson(payload, { code: 'SETTLEMENT_BAD_OPTIONS' }),
    'transaction',
    'SETTLEMENT_BAD_OPTIONS',
  );
  const amountText = readString(o, 'amount', 80, 'SETTLEMENT_BAD_OPTIONS');
  if (!/^[1-9][0-9]{0,77}$/.test(amountText))
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'bad amount in transaction');
  const amount = BigInt(amountText);
  return {
    txid: toHex(sha256(utf8(payload))),
    from: checkAddress(readString(o, 'from', 64, 'SETTLEMENT_BAD_OPTIONS'), 'from'),
    to: checkAddress(readString(o, 'to', 64, 'SETTLEMENT_BAD_OPTIONS'), 'to'),
    amount,
    expiration: readInt(o, 'expiration', 'SETTLEMENT_BAD_OPTIONS'),
  };
}

class LocalWallet implements SettlementAdapter {
  readonly token: TokenProfile;
  readonly address: string;
  readonly #chain: LocalChain;
  readonly #transfers: IdempotentTransfers;

  constructor(chain: LocalChain, address: string) {
    this.#chain = chain;
    this.token = chain.token;
    this.#transfers = new IdempotentTransfers(
      this.token,
      (to, amount, opts) => this.prepare(to, amount, opts),
      (tx, opts) => this.broadcast(tx, opts),
    );
    this.address = address;
  }

  async transfer(
    to: string,
    amount: bigint,
    idempotencyKey: string,
    opts?: AbortOptions,
  ): Promise<TransferResult> {
    return this.#transfers.transfer(to, amount, idempotencyKey, opts);
  }

  async prepare(to: string, amount: bigint, opts?: AbortOptions): Promise<PreparedTransfer> {
    throwIfAborted(opts?.signal);
    const dest = checkAddress(to, 'to');
    const value = checkTransferAmount(amount, this.token);
    if (dest === this.address)
      throw new SettlementError('SETTLEMENT_SAME_ACCOUNT', 'cannot transfer to the same account');
    return this.#chain._prepare(this.address, dest, value);
  }

  async broadcast(tx: PreparedTransfer, opts?: AbortOptions): Promise<void> {
    throwIfAborted(opts?.signal);
    this.#chain._broadcast(this.address, tx);
  }

  async status(txid: string, opts?: AbortOptions): Promise<TxStatus> {
    throwIfAborted(opts?.signal);
    return this.#chain._status(checkTxid(txid));
  }

  confirm(txid: string, opts?: ConfirmOptions): Promise<TxStatus & { state: 'confirmed' }> {
    const c = this.#chain;
    return pollConfirm((t, o) => this.status(t, o), checkTxid(txid), c.clock, c.pollMs, 120_000, opts);
  }

  async balance(address: string, opts?: AbortOptions): Promise<bigint> {
    throwIfAborted(opts?.signal);
    return this.#chain._solidBalance(checkAddress(address));
  }

  async depositsSince(cursor: string | undefined, opts?: AbortOptions): Promise<DepositPage> {
    throwIfAborted(opts?.signal);
    return this.#chain._deposits(this.address, cursor);
  }

  async chainTime(opts?: AbortOptions): Promise<ChainTime> {
    throwIfAborted(opts?.signal);
    return { head: this.#chain.head, solid: this.#chain.solid };
  }

  provablyDead(tx: PreparedTransfer, opts?: AbortOptions): Promise<boolean> {
    return provablyDeadByExpiry(this, tx, opts);
  }
}
