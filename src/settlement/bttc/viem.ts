import { SettlementError } from '../errors.js';

/**
 * viem, the optional peer dependency `BttcSettlement` signs with: loaded on first use by dynamic
 * import (never statically, so `bttkit/settlement` loads without it), seen only through the small
 * interfaces below (no viem type in bttkit's public API).
 * @module
 */

/** The EIP-1559 transaction `BttcSettlement` signs. */
export interface Eip1559Request {
  type: 'eip1559';
  chainId: number;
  nonce: number;
  to: `0x${string}`;
  value: bigint;
  data?: `0x${string}`;
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** What `parseTransaction` gives back for a signed EIP-1559 transaction (the fields read). */
export interface ParsedTransaction {
  type?: string;
  chainId?: number;
  nonce?: number;
  to?: string | null;
  value?: bigint;
  data?: string;
  gas?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
}

/** The part of viem 2.57 that `BttcSettlement` calls. */
export interface ViemLike {
  privateKeyToAccount(privateKey: `0x${string}`): {
    address: string;
    signTransaction(tx: Eip1559Request): Promise<`0x${string}`>;
  };
  parseTransaction(serialized: `0x${string}`): ParsedTransaction;
  recoverTransactionAddress(args: { serializedTransaction: `0x${string}` }): Promise<string>;
}

let viemModule: Promise<ViemLike> | undefined;

/** Loads viem once, on first use. @throws {SettlementError} `SETTLEMENT_VIEM_MISSING` */
export function loadViem(): Promise<ViemLike> {
  viemModule ??= Promise.all([import('viem'), import('viem/accounts')]).then(
    ([v, a]) =>
      ({
        privateKeyToAccount: a.privateKeyToAccount,
        parseTransaction: v.parseTransaction,
        recoverTransactionAddress: v.recoverTransactionAddress,
      }) as unknown as ViemLike,
    (cause: unknown) => {
      viemModule = undefined;
      throw new SettlementError(
        'SETTLEMENT_VIEM_MISSING',
        'BttcSettlement needs viem 2.57.20: npm install viem@2.57.20',
        {
          cause,
        },
      );
    },
  );
  return viemModule;
}
