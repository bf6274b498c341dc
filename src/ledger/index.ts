/**
 * The off-chain ledger: TRON keys and addresses, per-channel ed25519 keys and cumulative
 * vouchers, a pure ledger state machine, a crash-safe journal, and an HTTP service with a client
 * implementing the same {@link LedgerApi}. See `docs/ledger.md`.
 * @module ledger
 */
export { checkAmount, formatAmount, MAX_AMOUNT, MAX_AMOUNT_DIGITS, parseAmount } from './amount.js';
export { fromBase58, fromBase58Check, toBase58, toBase58Check } from './base58.js';
export { ChannelKey, isEd25519PublicKey, verifyEd25519 } from './channel-key.js';
export { LedgerClient, type LedgerClientOptions } from './client.js';
export {
  checkIdempotencyKey,
  checkTxid,
  type Execution,
  type LedgerCommand,
  type LedgerEvent,
  type LedgerResult,
  LedgerState,
  type LedgerStateData,
} from './core.js';
export { type SignatureBackend, setSignatureBackend, signatureBackend } from './crypto-backend.js';
export {
  isLedgerErrorCode,
  LEDGER_ERROR_CODES,
  LEDGER_ERROR_STATUS,
  LedgerError,
  type LedgerErrorCode,
  ledgerErrorCodeOf,
} from './errors.js';
export { FileStore, type FileStoreOptions, type RecoveryReport } from './file-store.js';
export {
  type AccountSignature,
  addressBytes,
  addressFromPublicKey,
  fromHexAddress,
  isAddress,
  normalizeAddress,
  TronKey,
  toHexAddress,
  verifyAccountSignature,
} from './keys.js';
export { Ledger, type LedgerOptions, systemClock, type WallClock } from './ledger.js';
export { MemoryStore } from './memory-store.js';
export { PG_MIGRATIONS, PgStore, type PgStoreOptions } from './pg-store.js';
export {
  errorFromResponse,
  LedgerService,
  type LedgerServiceOptions,
  REQUEST_DOMAIN,
  requestMessage,
  SIGNATURE_HEADER,
} from './service.js';
export type { LedgerStore, StoreContents, StoreTransaction } from './store.js';
export type * from './types.js';
export {
  authorizationMessage,
  authorizeChannel,
  type ChannelTerms,
  channelIdFor,
  checkChannelId,
  checkLedgerId,
  signVoucher,
  type Voucher,
  VoucherSigner,
  VoucherVerifier,
  verifyAuthorization,
  verifyVoucherSignature,
  voucherMessage,
} from './voucher.js';
export type { Json, RequestEnvelope } from './wire.js';
