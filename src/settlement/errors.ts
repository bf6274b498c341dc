import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Every code a {@link SettlementError} carries:
 * - input: `BAD_ADDRESS`, `BAD_AMOUNT`, `AMOUNT_OUT_OF_RANGE`, `BAD_TXID`, `BAD_CURSOR`, `BAD_OPTIONS`,
 *   `BAD_IDEMPOTENCY_KEY`, `SAME_ACCOUNT`;
 * - refused by the chain: `TX_BAD_SIGNATURE` (SIGERROR), `TX_EXPIRED` (TRANSACTION_EXPIRATION_ERROR),
 *   `TX_TAPOS` (TAPOS_ERROR), `INSUFFICIENT_BALANCE`, `TX_REJECTED` (another CONTRACT_VALIDATE_ERROR),
 *   `TX_FAILED` (included but failed on chain, e.g. a TRC-20 REVERT);
 * - node and transport: `NODE_ERROR` (the node answered with an error worth retrying), `NODE_BAD_RESPONSE`
 *   (an answer that does not parse or breaks a bound), `HTTP_ERROR`, `TIMEOUT`, `TRONWEB_MISSING`,
 *   `TX_MISMATCH` (a built transaction is not the one asked for);
 * - journal: `JOURNAL_CORRUPT`, `JOURNAL_LOCKED`, `JOURNAL_FAILED`, `CLOSED`;
 * - policy: `OVER_LIMIT` (a withdrawal above the hot-wallet limit, left pending for review).
 */
export type SettlementErrorCode =
  | 'BAD_ADDRESS'
  | 'BAD_AMOUNT'
  | 'AMOUNT_OUT_OF_RANGE'
  | 'BAD_TXID'
  | 'BAD_CURSOR'
  | 'BAD_OPTIONS'
  | 'BAD_IDEMPOTENCY_KEY'
  | 'SAME_ACCOUNT'
  | 'TX_BAD_SIGNATURE'
  | 'TX_EXPIRED'
  | 'TX_TAPOS'
  | 'TX_DUPLICATE'
  | 'INSUFFICIENT_BALANCE'
  | 'TX_REJECTED'
  | 'TX_FAILED'
  | 'NODE_ERROR'
  | 'NODE_BAD_RESPONSE'
  | 'HTTP_ERROR'
  | 'TIMEOUT'
  | 'TRONWEB_MISSING'
  | 'TX_MISMATCH'
  | 'JOURNAL_CORRUPT'
  | 'JOURNAL_LOCKED'
  | 'JOURNAL_FAILED'
  | 'CLOSED'
  | 'OVER_LIMIT';

/** An error from settlement: a refused transfer, a node failure, a bad input, a corrupt journal. */
export class SettlementError extends BttkitError {
  declare readonly code: SettlementErrorCode;

  constructor(code: SettlementErrorCode, message: string, options: BttkitErrorOptions = {}) {
    super(code, message, options);
  }

  /** True for failures worth retrying as they are (node busy, transport, timeouts). */
  get retryable(): boolean {
    return this.code === 'NODE_ERROR' || this.code === 'HTTP_ERROR' || this.code === 'TIMEOUT';
  }
}
