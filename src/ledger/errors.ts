import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Every error code the ledger, its store, its service and its client throw, with the HTTP
 * status the service answers it with. The client maps the status and code back to a
 * {@link LedgerError} with the same code.
 */
export const LEDGER_ERROR_STATUS = {
  // 400: malformed input
  BAD_REQUEST: 400,
  BAD_AMOUNT: 400,
  BAD_ADDRESS: 400,
  BAD_KEY: 400,
  BAD_SIGNATURE_FORMAT: 400,
  BAD_IDEMPOTENCY_KEY: 400,
  BAD_LEDGER_ID: 400,
  BAD_CHANNEL_ID: 400,
  BAD_TXID: 400,
  BAD_EXPIRY: 400,
  SAME_PARTY: 400,
  VOUCHER_WRONG_LEDGER: 400,
  // 401: a signature or the request envelope does not authenticate
  BAD_SIGNATURE: 401,
  BAD_AUTHORIZATION: 401,
  VOUCHER_BAD_SIGNATURE: 401,
  REQUEST_EXPIRED: 401,
  REQUEST_REPLAYED: 401,
  // 403: authenticated, but not allowed to act on this
  NOT_YOURS: 403,
  NOT_PAYEE: 403,
  NOT_PARTY: 403,
  NOT_OPERATOR: 403,
  // 404
  NOT_FOUND: 404,
  CHANNEL_NOT_FOUND: 404,
  WITHDRAWAL_NOT_FOUND: 404,
  // 409: conflicts with the ledger's state
  INSUFFICIENT_FUNDS: 409,
  DUPLICATE_DEPOSIT: 409,
  CHANNEL_EXISTS: 409,
  CHANNEL_CLOSED: 409,
  CHANNEL_NOT_EXPIRED: 409,
  VOUCHER_NOT_INCREASING: 409,
  VOUCHER_EXCEEDS_LOCKED: 409,
  IDEMPOTENCY_MISMATCH: 409,
  WITHDRAWAL_NOT_PENDING: 409,
  LEDGER_ID_MISMATCH: 409,
  // 413
  BODY_TOO_LARGE: 413,
  // 5xx: the ledger cannot serve
  JOURNAL_CORRUPT: 500,
  JOURNAL_FAILED: 503,
  STORE_LOCKED: 503,
  LEDGER_CLOSED: 503,
  INTERNAL: 500,
  // client side only
  HTTP_ERROR: 502,
} as const;

/** A stable ledger error code (see {@link LEDGER_ERROR_STATUS}). */
export type LedgerErrorCode = keyof typeof LEDGER_ERROR_STATUS;

/**
 * An error from the ledger: a refused operation, a malformed input, a corrupt journal, or an
 * HTTP failure. `code` is one of {@link LedgerErrorCode}; `status` the matching HTTP status.
 */
export class LedgerError extends BttkitError {
  /** One of {@link LedgerErrorCode}. */
  declare readonly code: LedgerErrorCode;

  constructor(code: LedgerErrorCode, message: string, options: BttkitErrorOptions = {}) {
    super(code, message, options);
  }

  /** The HTTP status the service answers this error with. */
  get status(): number {
    return LEDGER_ERROR_STATUS[this.code];
  }
}

/** True if `code` is a known {@link LedgerErrorCode}. */
export function isLedgerErrorCode(code: unknown): code is LedgerErrorCode {
  return typeof code === 'string' && Object.hasOwn(LEDGER_ERROR_STATUS, code);
}
