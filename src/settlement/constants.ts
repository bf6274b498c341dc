/**
 * The token profiles bttkit settles in, and TRON's fixed numbers. One place for every constant
 * that names money on chain (BTTC's chains and its native BTT profile: `bttc/chains.ts`).
 */

/**
 * How a token moves: on TRON a TRC-20 contract (`transfer`) or a TRC-10 asset
 * (`TransferAssetContract`); on an EVM chain (BTTC) the chain's native coin (a plain value
 * transfer) or an ERC-20 contract (`transfer`).
 */
export type TokenStandard = 'trc20' | 'trc10' | 'native' | 'erc20';

/** A token on one chain. Amounts of it are `bigint` base units; `decimals` is only for display. */
export interface TokenProfile {
  /** Short name: `BTT`, `BTTOLD`. */
  readonly symbol: string;
  readonly standard: TokenStandard;
  /** Base units per whole token = 10^decimals. */
  readonly decimals: number;
  /** TRC-20: the contract's base58check address (`T…`); ERC-20: its EIP-55 checksummed `0x…` address. */
  readonly contract?: string;
  /** TRC-10: the asset id, decimal digits (`1002000`). */
  readonly tokenId?: string;
}

/**
 * BTT since the December 2021 redenomination: TRC-20 contract `TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4`,
 * 18 decimals (supply 990 × 10¹² BTT, so balances above 2⁵³ base units are ordinary).
 */
export const BTT: TokenProfile = Object.freeze({
  symbol: 'BTT',
  standard: 'trc20',
  decimals: 18,
  contract: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4',
});

/** The 2019 BTT: TRC-10 asset `1002000`, 6 decimals (1 BTTOLD = 1,000 BTT). */
export const BTTOLD: TokenProfile = Object.freeze({
  symbol: 'BTTOLD',
  standard: 'trc10',
  decimals: 6,
  tokenId: '1002000',
});

/** The profiles shipped, by symbol. */
export const TOKEN_PROFILES: Readonly<Record<'BTT' | 'BTTOLD', TokenProfile>> = Object.freeze({
  BTT,
  BTTOLD,
});

/** Largest TRC-10 amount bttkit sends: 2⁵³ − 1 (tronweb passes TRC-10 amounts through `parseInt`). */
export const MAX_TRC10_AMOUNT: bigint = 2n ** 53n - 1n;

/** Largest TRC-20 amount: 2²⁵⁶ − 1 (`uint256`). */
export const MAX_TRC20_AMOUNT: bigint = 2n ** 256n - 1n;

/** How long a transaction tronweb builds stays valid: expiration = head block timestamp + 60 s. */
export const TX_LIFETIME_MS = 60_000;

/** TRON's block interval. */
export const BLOCK_INTERVAL_MS = 3_000;

/** Default fee limit of a TRC-20 transfer, in sun (1 TRX = 10⁶ sun): 50 TRX. */
export const DEFAULT_FEE_LIMIT = 50_000_000;

/** The largest fee limit the TRON network accepts, in sun (15,000 TRX). */
export const MAX_FEE_LIMIT = 15_000_000_000;

/** `keccak256("transfer(address,uint256)")[0..4]`. */
export const TRANSFER_SELECTOR = 'a9059cbb';

/** `keccak256("balanceOf(address)")[0..4]`. */
export const BALANCE_OF_SELECTOR = '70a08231';

/** `keccak256("Transfer(address,address,uint256)")`: topic 0 of a TRC-20 Transfer log. */
export const TRANSFER_TOPIC = 'ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

/** Base units per whole token of `profile`. */
export function unitsPerToken(profile: TokenProfile): bigint {
  return 10n ** BigInt(profile.decimals);
}

/** The largest amount one transfer of `profile` may carry (2⁵³ − 1 for TRC-10, else 2²⁵⁶ − 1). */
export function maxTransferAmount(profile: TokenProfile): bigint {
  return profile.standard === 'trc10' ? MAX_TRC10_AMOUNT : MAX_TRC20_AMOUNT;
}
