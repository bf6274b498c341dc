import type { TokenProfile } from '../constants.js';
import { SettlementError } from '../errors.js';
import { checkEvmAddress } from './address.js';

/**
 * BTTC (BitTorrent Chain) networks as plain data: an EVM chain whose native coin is BTT (18
 * decimals). The RPC URLs are defaults for applications; bttkit's tests never contact them.
 * @module
 */

/** An EVM chain `BttcSettlement` can settle on. Plain data; make your own for another network. */
export interface EvmChain {
  /** EIP-155 chain id (signed into every transaction; the node's `eth_chainId` must match). */
  readonly id: number;
  readonly name: string;
  /** The native coin. */
  readonly nativeCurrency: { readonly name: string; readonly symbol: string; readonly decimals: number };
  /** Public JSON-RPC endpoints (data only: pass one as `rpcUrl`; use your own node for deposits). */
  readonly rpcUrls: readonly string[];
  /** Block explorer. */
  readonly blockExplorer: { readonly name: string; readonly url: string };
  /**
   * Blocks a transaction should be deep before it counts (the adapter's default `confirmations`):
   * bttkit's conservative choice for a proof-of-stake chain with ~2 s blocks, not a finality
   * guarantee published by the network.
   */
  readonly confirmations: number;
  /** True for a test network. */
  readonly testnet: boolean;
}

/** BTTC mainnet: chain id 199. */
export const BTTC_MAINNET: EvmChain = Object.freeze({
  id: 199,
  name: 'BitTorrent Chain Mainnet',
  nativeCurrency: Object.freeze({ name: 'BitTorrent', symbol: 'BTT', decimals: 18 }),
  rpcUrls: Object.freeze(['https://rpc.bittorrentchain.io', 'https://rpc.bt.io']),
  blockExplorer: Object.freeze({ name: 'BTTCScan', url: 'https://bttcscan.com' }),
  confirmations: 64,
  testnet: false,
});

/** BTTC Donau testnet: chain id 1029. */
export const BTTC_DONAU: EvmChain = Object.freeze({
  id: 1029,
  name: 'BitTorrent Chain Donau',
  nativeCurrency: Object.freeze({ name: 'BitTorrent', symbol: 'BTT', decimals: 18 }),
  rpcUrls: Object.freeze(['https://pre-rpc.bt.io']),
  blockExplorer: Object.freeze({ name: 'BTTCScan Testnet', url: 'https://testnet.bttcscan.com' }),
  confirmations: 16,
  testnet: true,
});

/** The BTTC chains shipped, by id. */
export const BTTC_CHAINS: Readonly<Record<199 | 1029, EvmChain>> = Object.freeze({
  199: BTTC_MAINNET,
  1029: BTTC_DONAU,
});

/** BTT as BTTC's native coin: 18 decimals, moved by plain value transfers (amounts in wei). */
export const BTT_NATIVE: TokenProfile = Object.freeze({
  symbol: 'BTT',
  standard: 'native',
  decimals: 18,
});

/** What describes an ERC-20 token for {@link erc20Token}. */
export interface Erc20Description {
  /** The token contract (`0x…`, any case; stored EIP-55 checksummed). */
  address: string;
  /** The contract's `decimals()` (0–77; display only: amounts are base units). */
  decimals: number;
  /** Short name for messages and logs (1–16 printable ASCII characters). */
  symbol: string;
}

/**
 * The {@link TokenProfile} of an ERC-20 token on an EVM chain.
 * @throws {SettlementError} `SETTLEMENT_BAD_OPTIONS`, `SETTLEMENT_BAD_ADDRESS`
 * @example
 * ```ts
 * const usdt = erc20Token({ address: '0x…', decimals: 6, symbol: 'USDT' });
 * ```
 */
export function erc20Token(d: Erc20Description): TokenProfile {
  const contract = checkEvmAddress(d.address, 'token address');
  if (!Number.isInteger(d.decimals) || d.decimals < 0 || d.decimals > 77)
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'decimals must be an integer in [0, 77]');
  if (typeof d.symbol !== 'string' || !/^[\x21-\x7e]{1,16}$/.test(d.symbol))
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'symbol must be 1-16 printable ASCII characters');
  return Object.freeze({ symbol: d.symbol, standard: 'erc20', decimals: d.decimals, contract });
}
