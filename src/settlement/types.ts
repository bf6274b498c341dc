import type { TokenProfile } from './constants.js';

/** Options accepted by every async settlement call. */
export interface AbortOptions {
  signal?: AbortSignal;
}

/**
 * A transfer signed and ready to broadcast: everything needed to broadcast it again after a
 * restart. `payload` is opaque to callers (for TRON, the signed transaction JSON); journal it as is.
 */
export interface PreparedTransfer {
  /** 64 lower-case hex digits. */
  readonly txid: string;
  /** Sender (`T…`). */
  readonly from: string;
  /** Recipient (`T…`). */
  readonly to: string;
  readonly amount: bigint;
  /** Chain time (ms since the epoch) after which no block can include it. */
  readonly expiration: number;
  /** The signed transaction, serialized by the adapter that made it. */
  readonly payload: string;
}

/** What became of a transaction, as the chain's solid (irreversible) view tells it. */
export type TxStatus =
  | {
      readonly state: 'confirmed';
      readonly txid: string;
      readonly blockNumber: number;
      readonly blockTimestamp: number;
    }
  | {
      readonly state: 'failed';
      readonly txid: string;
      readonly blockNumber: number;
      readonly blockTimestamp: number;
      /** The chain's word for it: `REVERT`, `OUT_OF_ENERGY`, … */
      readonly reason: string;
    }
  /** In a block that is not yet solid. */
  | { readonly state: 'pending'; readonly txid: string; readonly blockNumber: number }
  /** In no block the node knows of (perhaps still in its pool, perhaps never broadcast). */
  | { readonly state: 'unknown'; readonly txid: string };

/** A block's number and timestamp (chain time, ms since the epoch). */
export interface BlockRef {
  readonly number: number;
  readonly timestamp: number;
}

/** The chain's head and its solid (irreversible) block. */
export interface ChainTime {
  readonly head: BlockRef;
  readonly solid: BlockRef;
}

/** An incoming transfer of the adapter's token to its address, in a solid block. */
export interface Deposit {
  /** 64 lower-case hex digits. */
  readonly txid: string;
  /** Sender (`T…`). */
  readonly from: string;
  /** Recipient (`T…`): the adapter's address. */
  readonly to: string;
  readonly amount: bigint;
  readonly blockNumber: number;
  readonly blockTimestamp: number;
}

/** A page of deposits and the cursor to continue from. */
export interface DepositPage {
  readonly deposits: readonly Deposit[];
  /** Opaque; pass it to the next {@link SettlementAdapter.depositsSince}. */
  readonly cursor: string;
  /** True when the page stopped at the solid head (false: more blocks wait, call again). */
  readonly caughtUp: boolean;
}

/** The result of {@link SettlementAdapter.transfer}: broadcast, not yet confirmed. */
export interface TransferResult {
  readonly txid: string;
  readonly expiration: number;
}

/** Options of {@link SettlementAdapter.confirm}. */
export interface ConfirmOptions extends AbortOptions {
  /** Give up after this many milliseconds of the adapter's clock (`SETTLEMENT_TIMEOUT`). Default: the adapter's. */
  timeoutMs?: number;
}

/**
 * One wallet on one chain, in one token: what the ledger needs to settle. Implemented by
 * `TronSettlement` (TRON through tronweb), and `LocalChain` wallets (in-process). Every
 * implementation passes the same behavioural suite. Amounts are `bigint` base units of
 * {@link SettlementAdapter.token}. Every method may throw {@link SettlementError} (or `AbortError`).
 */
export interface SettlementAdapter {
  /** The token this adapter moves. */
  readonly token: TokenProfile;
  /** The wallet's address (`T…`): where transfers come from and deposits go to. */
  readonly address: string;
  /**
   * Signs and broadcasts a transfer of `amount` to `to`. A repeat with the same idempotency key (in
   * this adapter's lifetime) returns the first result and rebroadcasts nothing new; for idempotency
   * across restarts, journal a {@link prepare}d transfer before {@link broadcast} (as `Settler` does).
   */
  transfer(to: string, amount: bigint, idempotencyKey: string, opts?: AbortOptions): Promise<TransferResult>;
  /** Builds and signs a transfer without broadcasting it. */
  prepare(to: string, amount: bigint, opts?: AbortOptions): Promise<PreparedTransfer>;
  /** Broadcasts a prepared transfer. Broadcasting one the chain already holds is not an error. */
  broadcast(tx: PreparedTransfer, opts?: AbortOptions): Promise<void>;
  /** What became of `txid`. */
  status(txid: string, opts?: AbortOptions): Promise<TxStatus>;
  /** Polls {@link status} until `txid` is confirmed; throws `SETTLEMENT_TX_FAILED` if it failed on chain. */
  confirm(txid: string, opts?: ConfirmOptions): Promise<TxStatus & { state: 'confirmed' }>;
  /** The token balance of `address` in the solid view. */
  balance(address: string, opts?: AbortOptions): Promise<bigint>;
  /** Deposits to {@link address} in solid blocks from `cursor` on (`undefined`: the adapter's start). */
  depositsSince(cursor: string | undefined, opts?: AbortOptions): Promise<DepositPage>;
  /** The chain's head and solid block. */
  chainTime(opts?: AbortOptions): Promise<ChainTime>;
}
