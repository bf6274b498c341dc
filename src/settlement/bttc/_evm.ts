import type * as Viem from 'viem';
import { SettlementError, type SettlementErrorCode } from '../errors.js';
import type { BttcChannelStatus, BttcChannelsOptions, Hex } from './channel-types.js';

/**
 * Internals of the BTTC channel client: loading viem, input checks, clients, and the mapping of
 * the contract's custom errors (and viem's errors) to {@link SettlementError} codes.
 * @module
 */

/** The part of ERC-20 the client calls (approve before open / top-up). */
export const erc20LikeAbi = [
  {
    type: 'function',
    name: 'allowance',
    stateMutability: 'view',
    inputs: [
      { name: 'owner', type: 'address' },
      { name: 'spender', type: 'address' },
    ],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'approve',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'spender', type: 'address' },
      { name: 'value', type: 'uint256' },
    ],
    outputs: [{ name: '', type: 'bool' }],
  },
] as const;

export type ViemModule = typeof Viem;
let viemModule: Promise<ViemModule> | undefined;

/** Loads viem once, on first use (an optional peer dependency). */
export function loadViem(): Promise<ViemModule> {
  viemModule ??= import('viem').then(
    (m) => m,
    (cause: unknown) => {
      viemModule = undefined;
      throw new SettlementError(
        'SETTLEMENT_VIEM_MISSING',
        'BTTC channels need viem 2.57.20: npm install viem@2.57.20',
        {
          cause,
        },
      );
    },
  );
  return viemModule;
}

export const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
export const HEX_32 = /^0x[0-9a-fA-F]{64}$/;
export const HEX_SIG = /^0x[0-9a-fA-F]{130}$/;

export function address(value: unknown, what: string): Hex {
  if (typeof value !== 'string' || !HEX_ADDRESS.test(value)) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', `${what} is not a 0x EVM address`);
  }
  return value.toLowerCase() as Hex;
}

export function bytes32(value: unknown, what: string): Hex {
  if (typeof value !== 'string' || !HEX_32.test(value)) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', `${what} must be 0x + 64 hex digits`);
  }
  return value.toLowerCase() as Hex;
}

export function amountOf(value: unknown, what: string, min = 1n): bigint {
  if (typeof value !== 'bigint')
    throw new SettlementError('SETTLEMENT_BAD_AMOUNT', `${what} must be a bigint`);
  if (value < min || value > (1n << 256n) - 1n) {
    throw new SettlementError('SETTLEMENT_AMOUNT_OUT_OF_RANGE', `${what} out of range`, {
      details: { amount: value.toString() },
    });
  }
  return value;
}

/** The contract's custom errors → settlement codes. */
export const REVERT_CODES: Record<string, SettlementErrorCode> = {
  ZeroAddress: 'SETTLEMENT_BAD_ADDRESS',
  NotAContract: 'SETTLEMENT_BAD_ADDRESS',
  AmountOutOfRange: 'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
  ValueMismatch: 'SETTLEMENT_BAD_AMOUNT',
  ChannelExists: 'SETTLEMENT_CHANNEL_EXISTS',
  ChannelNotFound: 'SETTLEMENT_CHANNEL_NOT_FOUND',
  ChannelFinished: 'SETTLEMENT_CHANNEL_FINISHED',
  ChannelClosing: 'SETTLEMENT_CHANNEL_CLOSING',
  ChannelNotClosing: 'SETTLEMENT_CHANNEL_NOT_CLOSING',
  ChallengeNotOver: 'SETTLEMENT_CHALLENGE_NOT_OVER',
  NotPayer: 'SETTLEMENT_CHANNEL_FORBIDDEN',
  NotPayee: 'SETTLEMENT_CHANNEL_FORBIDDEN',
  BadSignature: 'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
  WrongSigner: 'SETTLEMENT_VOUCHER_WRONG_SIGNER',
  VoucherNotHigher: 'SETTLEMENT_VOUCHER_NOT_HIGHER',
  TokenTransferFailed: 'SETTLEMENT_TOKEN_TRANSFER_FAILED',
  NothingToWithdraw: 'SETTLEMENT_NOTHING_TO_WITHDRAW',
  BadChallengePeriod: 'SETTLEMENT_BAD_OPTIONS',
  Reentrancy: 'SETTLEMENT_TX_REJECTED',
};

/** Turns whatever viem threw into a {@link SettlementError} (contract reverts by error name). */
export function toSettlementError(viem: ViemModule, err: unknown, what: string): SettlementError {
  if (err instanceof SettlementError) return err;
  if (err instanceof viem.BaseError) {
    const reverted = err.walk((e) => e instanceof viem.ContractFunctionRevertedError);
    if (reverted instanceof viem.ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      const code = name === undefined ? undefined : REVERT_CODES[name];
      return new SettlementError(
        code ?? 'SETTLEMENT_TX_REJECTED',
        `${what}: the contract refused (${name ?? reverted.reason ?? 'revert'})`,
        {
          cause: err,
          details: { contractError: name ?? null },
        },
      );
    }
    if (err.walk((e) => e instanceof viem.ContractFunctionZeroDataError)) {
      return new SettlementError('SETTLEMENT_BAD_ADDRESS', `${what}: no contract answered at that address`, {
        cause: err,
      });
    }
    if (err.walk((e) => e instanceof viem.InsufficientFundsError)) {
      return new SettlementError('SETTLEMENT_INSUFFICIENT_BALANCE', `${what}: the account cannot pay`, {
        cause: err,
      });
    }
    if (
      err.walk(
        (e) => e instanceof viem.TimeoutError || e instanceof viem.WaitForTransactionReceiptTimeoutError,
      )
    ) {
      return new SettlementError('SETTLEMENT_TIMEOUT', `${what}: the node did not answer in time`, {
        cause: err,
      });
    }
    if (err.walk((e) => e instanceof viem.HttpRequestError)) {
      return new SettlementError('SETTLEMENT_HTTP_ERROR', `${what}: the node could not be reached`, {
        cause: err,
      });
    }
    return new SettlementError('SETTLEMENT_NODE_ERROR', `${what}: ${err.shortMessage}`, { cause: err });
  }
  return new SettlementError('SETTLEMENT_NODE_ERROR', `${what} failed`, { cause: err });
}

export const STATUS: readonly BttcChannelStatus[] = ['none', 'open', 'closing', 'finished'];

export interface Clients {
  viem: ViemModule;
  publicClient: Viem.PublicClient;
  /** For simulations: no retries (a revert is an answer, and hardhat reports it as -32603). */
  simulator: Viem.PublicClient;
  walletClient: Viem.WalletClient<Viem.Transport, Viem.Chain, Viem.Account>;
  chain: Viem.Chain;
}

export async function makeClients(opts: BttcChannelsOptions): Promise<Clients> {
  const viem = await loadViem();
  const { privateKeyToAccount } = await import('viem/accounts');
  if (typeof opts.rpcUrl !== 'string' || !/^https?:\/\//.test(opts.rpcUrl)) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'rpcUrl must be an http(s) URL');
  }
  if (typeof opts.privateKey !== 'string' || !HEX_32.test(opts.privateKey)) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'privateKey must be 0x + 64 hex digits');
  }
  const transport = viem.http(opts.rpcUrl, { timeout: 30_000, retryCount: 2 });
  const probe = viem.createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (err) {
    throw toSettlementError(viem, err, 'eth_chainId');
  }
  if (opts.chainId !== undefined && opts.chainId !== chainId) {
    throw new SettlementError(
      'SETTLEMENT_BAD_OPTIONS',
      `the node is on chain ${chainId}, not ${opts.chainId}`,
      {
        details: { expected: opts.chainId, actual: chainId },
      },
    );
  }
  const chain = viem.defineChain({
    id: chainId,
    name: `EVM chain ${chainId}`,
    nativeCurrency: { name: 'BitTorrent', symbol: 'BTT', decimals: 18 },
    rpcUrls: { default: { http: [opts.rpcUrl] } },
  });
  const pollingInterval = opts.pollingIntervalMs ?? 250;
  const publicClient = viem.createPublicClient({ chain, transport, pollingInterval }) as Viem.PublicClient;
  const simulator = viem.createPublicClient({
    chain,
    transport: viem.http(opts.rpcUrl, { timeout: 30_000, retryCount: 0 }),
  }) as Viem.PublicClient;
  const walletClient = viem.createWalletClient({
    chain,
    transport,
    account: privateKeyToAccount(opts.privateKey),
    pollingInterval,
  });
  return { viem, publicClient, simulator, walletClient, chain };
}
