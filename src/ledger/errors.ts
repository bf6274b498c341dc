import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Every error code the ledger, its store, its service and its client throw (all `LEDGER_…`).
 * The service sends them on its HTTP API as `{ "error": { "code", "message" } }`.
 */
export const LEDGER_ERROR_CODES = [
  'LEDGER_BAD_REQUEST',
  'LEDGER_BAD_AMOUNT',
  'LEDGER_BAD_ADDRESS',
  'LEDGER_BAD_KEY',
  'LEDGER_BAD_SIGNATURE_FORMAT',
  'LEDGER_BAD_IDEMPOTENCY_KEY',
  'LEDGER_BAD_LEDGER_ID',
  'LEDGER_BAD_CHANNEL_ID',
  'LEDGER_BAD_TXID',
  'LEDGER_BAD_EXPIRY',
  'LEDGER_SAME_PARTY',
  'LEDGER_VOUCHER_WRONG_LEDGER',
  'LEDGER_BAD_SIGNATURE',
  'LEDGER_BAD_AUTHORIZATION',
  'LEDGER_VOUCHER_BAD_SIGNATURE',
  'LEDGER_REQUEST_EXPIRED',
  'LEDGER_REQUEST_REPLAYED',
  'LEDGER_NOT_YOURS',
  'LEDGER_NOT_PAYEE',
  'LEDGER_NOT_PARTY',
  'LEDGER_NOT_OPERATOR',
  'LEDGER_NOT_FOUND',
  'LEDGER_CHANNEL_NOT_FOUND',
  'LEDGER_WITHDRAWAL_NOT_FOUND',
  'LEDGER_INSUFFICIENT_FUNDS',
  'LEDGER_DUPLICATE_DEPOSIT',
  'LEDGER_CHANNEL_EXISTS',
  'LEDGER_CHANNEL_CLOSED',
  'LEDGER_CHANNEL_NOT_EXPIRED',
  'LEDGER_CHANNEL_EXPIRED',
  'LEDGER_VOUCHER_NOT_INCREASING',
  'LEDGER_VOUCHER_EXCEEDS_LOCKED',
  'LEDGER_IDEMPOTENCY_MISMATCH',
  'LEDGER_WITHDRAWAL_NOT_PENDING',
  'LEDGER_ID_MISMATCH',
  'LEDGER_BODY_TOO_LARGE',
  'LEDGER_JOURNAL_CORRUPT',
  'LEDGER_JOURNAL_FAILED',
  'LEDGER_STORE_LOCKED',
  'LEDGER_CLOSED',
  'LEDGER_INTERNAL',
  'LEDGER_HTTP_ERROR',
] as const;

/** A stable ledger error code (one of {@link LEDGER_ERROR_CODES}). */
export type LedgerErrorCode = (typeof LEDGER_ERROR_CODES)[number];

/**
 * The HTTP status the service answers each {@link LedgerErrorCode} with. The client maps the
 * status and code back to a {@link LedgerError} with the same code.
 */
export const LEDGER_ERROR_STATUS = {
  // 400: malformed input
  LEDGER_BAD_REQUEST: 400,
  LEDGER_BAD_AMOUNT: 400,
  LEDGER_BAD_ADDRESS: 400,
  LEDGER_BAD_KEY: 400,
  LEDGER_BAD_SIGNATURE_FORMAT: 400,
  LEDGER_BAD_IDEMPOTENCY_KEY: 400,
  LEDGER_BAD_LEDGER_ID: 400,
  LEDGER_BAD_CHANNEL_ID: 400,
  LEDGER_BAD_TXID: 400,
  LEDGER_BAD_EXPIRY: 400,
  LEDGER_SAME_PARTY: 400,
  LEDGER_VOUCHER_WRONG_LEDGER: 400,
  // 401: a signature or the request envelope does not authenticate
  LEDGER_BAD_SIGNATURE: 401,
  LEDGER_BAD_AUTHORIZATION: 401,
  LEDGER_VOUCHER_BAD_SIGNATURE: 401,
  LEDGER_REQUEST_EXPIRED: 401,
  LEDGER_REQUEST_REPLAYED: 401,
  // 403: authenticated, but not allowed to act on this
  LEDGER_NOT_YOURS: 403,
  LEDGER_NOT_PAYEE: 403,
  LEDGER_NOT_PARTY: 403,
  LEDGER_NOT_OPERATOR: 403,
  // 404
  LEDGER_NOT_FOUND: 404,
  LEDGER_CHANNEL_NOT_FOUND: 404,
  LEDGER_WITHDRAWAL_NOT_FOUND: 404,
  // 409: conflicts with the ledger's state
  LEDGER_INSUFFICIENT_FUNDS: 409,
  LEDGER_DUPLICATE_DEPOSIT: 409,
  LEDGER_CHANNEL_EXISTS: 409,
  LEDGER_CHANNEL_CLOSED: 409,
  LEDGER_CHANNEL_NOT_EXPIRED: 409,
  LEDGER_CHANNEL_EXPIRED: 409,
  LEDGER_VOUCHER_NOT_INCREASING: 409,
  LEDGER_VOUCHER_EXCEEDS_LOCKED: 409,
  LEDGER_IDEMPOTENCY_MISMATCH: 409,
  LEDGER_WITHDRAWAL_NOT_PENDING: 409,
  LEDGER_ID_MISMATCH: 409,
  // 413
  LEDGER_BODY_TOO_LARGE: 413,
  // 5xx: the ledger cannot serve
  LEDGER_JOURNAL_CORRUPT: 500,
  LEDGER_JOURNAL_FAILED: 503,
  LEDGER_STORE_LOCKED: 503,
  LEDGER_CLOSED: 503,
  LEDGER_INTERNAL: 500,
  // client side only
  LEDGER_HTTP_ERROR: 502,
} as const satisfies Record<LedgerErrorCode, number>;

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

/**
 * The {@link LedgerErrorCode} a service answered with: its code, or the code an older service
 * (before codes were namespaced) sent without the `LEDGER_` prefix; `undefined` if unknown.
 */
export function ledgerErrorCodeOf(code: unknown): LedgerErrorCode | undefined {
  if (isLedgerErrorCode(code)) return code;
  const prefixed = typeof code === 'string' && code.length <= 64 ? `LEDGER_${code}` : undefined;
  return isLedgerErrorCode(prefixed) ? prefixed : undefined;
}
