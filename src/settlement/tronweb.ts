import { AbortError, throwIfAborted } from '../util/errors.js';
import { withSignal } from './_common.js';
import { SettlementError, type SettlementErrorCode } from './errors.js';
import { type JsonObject, parseJson, readObject } from './json.js';

/**
 * tronweb, the optional peer dependency `TronSettlement` builds and signs with: loaded on first
 * use, called through {@link callTronweb}, its answers read back through {@link asJson}.
 * @module
 */

/** The part of tronweb 6.5.1 `TronSettlement` calls: kept out of the public types. */
export interface TronWebLike {
  transactionBuilder: {
    sendToken(to: string, amount: number, tokenId: string, from: string): Promise<unknown>;
    triggerSmartContract(
      contract: string,
      selector: string,
      options: { feeLimit: number; callValue: number },
      parameters: { type: string; value: string }[],
      issuer: string,
    ): Promise<unknown>;
    triggerConfirmedConstantContract(
      contract: string,
      selector: string,
      options: Record<string, never>,
      parameters: { type: string; value: string }[],
      issuer: string,
    ): Promise<unknown>;
  };
  trx: {
    sign(tx: unknown, privateKey: string): Promise<unknown>;
    sendRawTransaction(tx: unknown): Promise<unknown>;
  };
}

export interface TronWebModule {
  TronWeb: new (options: {
    fullNode: string;
    solidityNode: string;
    headers?: Record<string, string>;
  }) => unknown;
}

let tronwebModule: Promise<TronWebModule> | undefined;

/** Loads tronweb once, on first use (it is an optional peer dependency of ~46 MB). */
export function loadTronWeb(): Promise<TronWebModule> {
  tronwebModule ??= import('tronweb').then(
    (m) => m as unknown as TronWebModule,
    (cause: unknown) => {
      tronwebModule = undefined;
      throw new SettlementError(
        'SETTLEMENT_TRONWEB_MISSING',
        'TronSettlement needs tronweb 6.5.1: npm install tronweb@6.5.1',
        {
          cause,
        },
      );
    },
  );
  return tronwebModule;
}

/** A node's broadcast refusal code → the settlement code it is reported as. */
export const BROADCAST_CODES: Record<string, SettlementErrorCode> = {
  SIGERROR: 'SETTLEMENT_TX_BAD_SIGNATURE',
  TRANSACTION_EXPIRATION_ERROR: 'SETTLEMENT_TX_EXPIRED',
  TAPOS_ERROR: 'SETTLEMENT_TX_TAPOS',
  CONTRACT_VALIDATE_ERROR: 'SETTLEMENT_TX_REJECTED',
  CONTRACT_EXE_ERROR: 'SETTLEMENT_TX_REJECTED',
  TOO_BIG_TRANSACTION_ERROR: 'SETTLEMENT_TX_REJECTED',
  TOO_BIG_TRANSACTION_RESULT_ERROR: 'SETTLEMENT_TX_REJECTED',
  BANDWITH_ERROR: 'SETTLEMENT_TX_REJECTED',
  SERVER_BUSY: 'SETTLEMENT_NODE_ERROR',
  NO_CONNECTION: 'SETTLEMENT_NODE_ERROR',
  NOT_ENOUGH_EFFECTIVE_CONNECTION: 'SETTLEMENT_NODE_ERROR',
  BLOCK_UNSOLIDIFIED: 'SETTLEMENT_NODE_ERROR',
  OTHER_ERROR: 'SETTLEMENT_NODE_ERROR',
};

/** `v` (a tronweb result) as a bounded JSON object of the node's answer. */
export function asJson(v: unknown, what: string): JsonObject {
  let text: string;
  try {
    text = JSON.stringify(v) ?? 'null';
  } catch (cause) {
    throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', `${what}: not JSON`, { cause });
  }
  return readObject(parseJson(text), what);
}

/**
 * Runs one tronweb call under `signal`. tronweb reports failures only as message text (it has no
 * codes), so its message is mapped here, in this one place: an overdraft, a refused contract, or
 * else a transport failure.
 */
export async function callTronweb<T>(
  what: string,
  call: () => Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  throwIfAborted(signal);
  try {
    return await withSignal(call(), signal);
  } catch (err) {
    if (err instanceof AbortError || err instanceof SettlementError) throw err;
    const msg = err instanceof Error ? err.message : typeof err === 'string' ? err : 'failed';
    const code: SettlementErrorCode = /balance is not sufficient/i.test(msg)
      ? 'SETTLEMENT_INSUFFICIENT_BALANCE'
      : /validate|contract|invalid/i.test(msg)
        ? 'SETTLEMENT_TX_REJECTED'
        : 'SETTLEMENT_HTTP_ERROR';
    throw new SettlementError(code, `${what}: ${msg}`.slice(0, 300), { cause: err });
  }
}
