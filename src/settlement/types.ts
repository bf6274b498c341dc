import type { TokenProfile } from './constants.js';

/** Options accepted by every async settlement call. */
export interface AbortOptions {
  signal?: AbortSignal;
}

/**
 * A transfer signed and ready to broadcast: everything needed to broadcast it again after a
 * restart. `payload` is opaque to callers (for TRON, the signed transaction JSON; for BTTC, the
 * signed EIP-1559 transaction as `0x…` hex); journal it as is. Addresses are the chain's own form:
 * `T…` (base58check) on TRON, `0x…` (EIP-55 checksummed) on BTTC.
 */
export interface PreparedTransfer {
  /** 64 lower-case hex digits (no `0x`, also on EVM chains). */
  readonly txid: string;
  /** Sender, in the chain's address form. */
  readonly from: string;
  /** Recipient, in the chain's address form. */
  readonly to: string;
  readonly amount: bigint;
  /**
   * TRON: chain time (ms since the epoch) after which no block can include it. Absent on chains
   * whose transactions never expire (EVM: a transaction dies only when another takes its nonce;
   * see {@link SettlementAdapter.provablyDead}).
   */
  readonly expiration?: number;
  /** EVM: the sender's account nonce the transaction uses. Absent on TRON. */
  readonly nonce?: number;
  /** The signed transaction, serialized by the adapter that made it. */
  readonly payload: string;
}

/**
 * What became of a transaction, as the chain's solid view tells it: on TRON the solidified
 * (irreversible) blocks; on an EVM chain the blocks at least the adapter's confirmation depth deep.
 */
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
      /** The chain's word for it: `REVERT`, `OUT_OF_ENERGY`, `NO_TRANSFER_LOG`, … */
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
  /** Sender, in the chain's address form (ERC-20/TRC-20: the token's `from`, which may be a contract). */
  readonly from: string;
  /** Recipient: the adapter's address. */
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
  /** As {@link PreparedTransfer.expiration}: set on TRON, absent on EVM chains. */
  readonly expiration?: number;
  /** As {@link PreparedTransfer.nonce}: set on EVM chains, absent on TRON. */
  readonly nonce?: number;
}

/** Options of {@link SettlementAdapter.confirm}. */
export interface ConfirmOptions extends AbortOptions {
  /** Give up after this many milliseconds of the adapter's clock (`SETTLEMENT_TIMEOUT`). Default: the adapter's. */
  timeoutMs?: number;
}

/**
 * One wallet on one chain, in one token: what the ledger needs to settle. Implemented by
 * `TronSettlement` (TRON through tronweb), `BttcSettlement` (BTTC, an EVM chain, through viem) and
 * `LocalChain` wallets (in-process). Every implementation passes the same behavioural suite.
 * Amounts are `bigint` base units of {@link SettlementAdapter.token}. Addresses are strings in the
 * chain's own form: `T…` on TRON and `LocalChain`, EIP-55 checksummed `0x…` on BTTC (lower-case
 * input is accepted; a mixed-case address with a bad checksum is refused). Every method may throw
 * {@link SettlementError} (or `AbortError`).
 */
export interface SettlementAdapter {
  /** The token this adapter moves. */
  readonly token: TokenProfile;
  /** The wallet's address (in the chain's form): where transfers come from and deposits go to. */
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
  /**
   * True when `tx` (made by this adapter's {@link prepare}) can provably never be included in the
   * chain, so a new transaction for the same payment cannot pay twice. TRON: the solid block is at
   * or past its expiration and it is in no block (`provablyExpired`). EVM: the sender's nonce at the
   * solid block is past the transaction's nonce (a solid block holds a transaction with that nonce)
   * and the transaction itself is in no block (so another one took its nonce). False whenever in
   * doubt. The `Settler` makes a new transaction for a withdrawal only when every earlier one is dead.
   */
  provablyDead(tx: PreparedTransfer, opts?: AbortOptions): Promise<boolean>;
}
