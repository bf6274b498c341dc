/**
 * The public types of the BTTC payment-channel client (`BttcChannels`): kept free of viem types.
 * @module
 */

/** A 0x-prefixed hex string. */
export type Hex = `0x${string}`;

/** The zero address: the `token` of a native-BTT channel. */
export const NATIVE_TOKEN: Hex = '0x0000000000000000000000000000000000000000';

/** Largest deposit the contract stores (uint128). */
export const MAX_CHANNEL_DEPOSIT: bigint = (1n << 128n) - 1n;

/** What identifies a channel: its id is `keccak256(abi.encode(payer, payee, token, signer, salt))`. */
export interface BttcChannelParams {
  /** The account that opens and funds the channel. */
  payer: Hex;
  /** The account paid by vouchers. */
  payee: Hex;
  /** An ERC-20 contract, or {@link NATIVE_TOKEN} (the default) for native BTT. */
  token?: Hex;
  /** The address whose key signs the channel's vouchers (may differ from the payer). */
  signer: Hex;
  /** 32 bytes chosen by the payer (0x + 64 hex digits). */
  salt: Hex;
}

/** A signed cumulative voucher (EIP-712 `Voucher(bytes32 channelId,uint256 amount)`). */
export interface BttcVoucher {
  channelId: Hex;
  /** Cumulative amount promised on the channel, in base units. */
  amount: bigint;
  /** 65 bytes r‖s‖v, v ∈ {27, 28}, low s. */
  signature: Hex;
}

/** The EIP-712 domain of a deployed contract (what a voucher signer signs over). */
export interface BttcVoucherDomain {
  name: 'BttkitChannel';
  version: '1';
  chainId: number;
  verifyingContract: Hex;
}

/** A channel's life stage on chain. */
export type BttcChannelStatus = 'none' | 'open' | 'closing' | 'finished';

/** A channel as the contract stores it (a finished channel keeps only its status). */
export interface BttcChannelState {
  id: Hex;
  status: BttcChannelStatus;
  payer: Hex;
  payee: Hex;
  token: Hex;
  signer: Hex;
  /** Locked amount, base units. */
  deposit: bigint;
  /** The highest voucher recorded on chain (capped at the deposit). */
  claimed: bigint;
  /** Unix seconds when a payer's close may be finished (0 unless closing). */
  closesAt: bigint;
}

/** A mined transaction. */
export interface BttcTxResult {
  txHash: Hex;
  gasUsed: bigint;
  blockNumber: bigint;
}

/** The payouts of a close (from the `Closed` event). */
export interface BttcCloseResult extends BttcTxResult {
  toPayee: bigint;
  toPayer: bigint;
  /** Payouts that could not be pushed and wait in `pending` for `withdraw` (recipient, amount). */
  deferred: { to: Hex; token: Hex; amount: bigint }[];
}

/** Options of {@link BttcChannels.connect} and {@link BttcChannels.deploy}. */
export interface BttcChannelsOptions {
  /** JSON-RPC endpoint (http or https). */
  rpcUrl: string;
  /** The account's private key (0x + 64 hex digits): it sends every transaction. */
  privateKey: Hex;
  /** Expected chain id: refused if the node reports another (default: whatever the node says). */
  chainId?: number;
  /** Wait for this many confirmations per transaction (default 1). */
  confirmations?: number;
  /** Give up waiting for a receipt after this many ms (default 120,000). */
  receiptTimeoutMs?: number;
  /** Receipt polling interval in ms (default 250). */
  pollingIntervalMs?: number;
}

/** Options of {@link BttcChannels.deploy}. */
export interface BttcDeployOptions extends Omit<BttcChannelsOptions, 'chainId'> {
  chainId?: number;
  /** Seconds of the payer's challenge period (1 … 365 days; default 86,400). */
  challengePeriod?: number;
}

/** Arguments of {@link BttcChannels.open} (the payer is this client's account). */
export interface BttcOpenArgs {
  payee: Hex;
  /** ERC-20 address, or omitted / {@link NATIVE_TOKEN} for native BTT. */
  token?: Hex;
  /** Voucher signing address (default: this account). */
  signer?: Hex;
  /** 32 random bytes by default. */
  salt?: Hex;
  /** Deposit in base units (1 … 2¹²⁸−1). */
  amount: bigint;
}

/** What {@link BttcChannels.open} returns. */
export interface BttcOpenResult extends BttcTxResult {
  id: Hex;
  salt: Hex;
  /** The ERC-20 `approve` sent first when the allowance was short. */
  approve?: BttcTxResult;
}
