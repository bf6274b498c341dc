import type { Voucher } from './voucher.js';

/** Options accepted by every async ledger call. */
export interface AbortOptions {
  signal?: AbortSignal;
}

/** An account's funds. Amounts in base units. */
export interface AccountView {
  /** Address (`T…`). */
  address: string;
  /** Spendable balance. */
  balance: bigint;
  /** Locked in this account's open channels as payer (not yet redeemed). */
  locked: bigint;
}

/** A payment channel as the ledger sees it. */
export interface ChannelView {
  id: string;
  payer: string;
  payee: string;
  /** The channel's ed25519 public key, 64 hex digits. */
  channelKey: string;
  /** Amount locked: at opening plus top-ups. */
  amount: bigint;
  /** Highest cumulative voucher amount redeemed so far. */
  redeemed: bigint;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
  openedAt: number;
  status: 'open' | 'closed';
  /** When closed: what went back to the payer (`amount − redeemed`). */
  refunded?: bigint;
  closedAt?: number;
}

/** A withdrawal: `pending` until settlement reports it `sent` (with a txid) or `failed` (refunded). */
export interface WithdrawalView {
  id: string;
  account: string;
  /** Destination address (`T…`). */
  to: string;
  amount: bigint;
  status: 'pending' | 'sent' | 'failed';
  requestedAt: number;
  txid?: string;
}

/** The ledger's totals; `balances + locked = deposits − withdrawals` always. */
export interface LedgerTotals {
  deposits: bigint;
  withdrawals: bigint;
  balances: bigint;
  locked: bigint;
}

/** Identity of a ledger. */
export interface LedgerInfo {
  ledgerId: string;
  /** Number of journaled events. */
  seq: number;
}

/**
 * Every mutation carries an idempotency key (1–128 printable ASCII characters), scoped to the
 * acting account: a repeat with the same key and the same parameters returns the first result
 * without doing anything; the same key with other parameters is refused (`LEDGER_IDEMPOTENCY_MISMATCH`).
 */
export interface Idempotent {
  idempotencyKey: string;
}

/** Credits an on-chain deposit (operator only). Credited once per txid. */
export interface DepositParams extends Idempotent {
  account: string;
  amount: bigint;
  /** The on-chain transaction id. */
  txid: string;
}

/** Opens a channel: locks `amount` of the payer's balance for the payee until `expiresAt`. */
export interface OpenChannelParams extends Idempotent {
  payer: string;
  payee: string;
  amount: bigint;
  /** Milliseconds since the Unix epoch; must be in the future. */
  expiresAt: number;
  /** The channel's fresh ed25519 public key (32 bytes). */
  channelKey: Uint8Array;
  /** The payer's {@link authorizeChannel} signature over these terms. */
  authorization: Uint8Array;
}

/** Redeems a voucher; `by` must be the payee. */
export interface RedeemParams extends Idempotent {
  by: string;
  voucher: Voucher;
}

/** Closes a channel: by the payee at any time, by the payer after expiry. */
export interface CloseChannelParams extends Idempotent {
  by: string;
  channelId: string;
}

/** Adds `amount` to an open channel's deposit, locking it from the payer's balance (payer only). */
export interface TopUpChannelParams extends Idempotent {
  by: string;
  channelId: string;
  amount: bigint;
}

/** Requests a withdrawal of `amount` from `account`'s balance to `to` (default: the account). */
export interface WithdrawParams extends Idempotent {
  account: string;
  amount: bigint;
  to?: string;
}

/** Records a withdrawal's on-chain outcome (operator only). `failed` refunds the account. */
export interface SettleWithdrawalParams extends Idempotent {
  withdrawalId: string;
  outcome: 'sent' | 'failed';
  /** Required when `sent`. */
  txid?: string;
}

/** What {@link LedgerApi.deposit} returns. */
export interface DepositResult {
  account: string;
  txid: string;
  amount: bigint;
}

/** What {@link LedgerApi.openChannel} returns. */
export interface OpenChannelResult {
  channelId: string;
  amount: bigint;
  expiresAt: number;
}

/** What {@link LedgerApi.redeem} returns. */
export interface RedeemResult {
  channelId: string;
  cumulative: bigint;
  /** What this voucher credited the payee (`cumulative − previously redeemed`). */
  credited: bigint;
}

/** What {@link LedgerApi.closeChannel} returns. */
export interface CloseChannelResult {
  channelId: string;
  /** Total paid to the payee over the channel's life. */
  paid: bigint;
  /** Returned to the payer. */
  refunded: bigint;
}

/** What {@link LedgerApi.topUpChannel} returns. */
export interface TopUpChannelResult {
  channelId: string;
  added: bigint;
  /** the channel's deposit now */
  amount: bigint;
}

/** What {@link LedgerApi.requestWithdrawal} returns. */
export interface WithdrawResult {
  withdrawalId: string;
  amount: bigint;
}

/** What {@link LedgerApi.settleWithdrawal} returns. */
export interface SettleWithdrawalResult {
  withdrawalId: string;
  status: 'sent' | 'failed';
}

/**
 * The ledger, as programs use it: implemented by the embedded {@link Ledger} (in-process) and by
 * {@link LedgerClient} (HTTP to `bttkit ledger serve`). Both pass the same behavioural suite.
 * Every method may throw {@link LedgerError}.
 */
export interface LedgerApi {
  /** The ledger's id and journal sequence number. */
  info(opts?: AbortOptions): Promise<LedgerInfo>;
  /** Credits an on-chain deposit (operator only; once per txid). */
  deposit(params: DepositParams, opts?: AbortOptions): Promise<DepositResult>;
  /** Opens a channel, locking `amount` of the payer's balance. */
  openChannel(params: OpenChannelParams, opts?: AbortOptions): Promise<OpenChannelResult>;
  /** Redeems a voucher (payee only): credits `cumulative − redeemed`. */
  redeem(params: RedeemParams, opts?: AbortOptions): Promise<RedeemResult>;
  /**
   * Adds `amount` to an open, unexpired channel's deposit (payer only), locking it from the
   * payer's balance; vouchers up to the new deposit become redeemable.
   */
  topUpChannel(params: TopUpChannelParams, opts?: AbortOptions): Promise<TopUpChannelResult>;
  /** Closes a channel; the unredeemed remainder returns to the payer. */
  closeChannel(params: CloseChannelParams, opts?: AbortOptions): Promise<CloseChannelResult>;
  /** Debits the balance into a pending withdrawal. */
  requestWithdrawal(params: WithdrawParams, opts?: AbortOptions): Promise<WithdrawResult>;
  /** Records a withdrawal's on-chain outcome (operator only). */
  settleWithdrawal(params: SettleWithdrawalParams, opts?: AbortOptions): Promise<SettleWithdrawalResult>;
  /** An account's funds (zero for an unknown account). */
  getAccount(address: string, opts?: AbortOptions): Promise<AccountView>;
  /** A channel, or `undefined` if unknown. */
  getChannel(channelId: string, opts?: AbortOptions): Promise<ChannelView | undefined>;
  /** A withdrawal, or `undefined` if unknown. */
  getWithdrawal(withdrawalId: string, opts?: AbortOptions): Promise<WithdrawalView | undefined>;
  /** Ledger-wide totals. */
  totals(opts?: AbortOptions): Promise<LedgerTotals>;
}
