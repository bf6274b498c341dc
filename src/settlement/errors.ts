import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Every code a {@link SettlementError} carries (all `SETTLEMENT_…`):
 * - input: `SETTLEMENT_BAD_ADDRESS`, `SETTLEMENT_BAD_AMOUNT`, `SETTLEMENT_AMOUNT_OUT_OF_RANGE`,
 *   `SETTLEMENT_BAD_TXID`, `SETTLEMENT_BAD_CURSOR`, `SETTLEMENT_BAD_OPTIONS`,
 *   `SETTLEMENT_BAD_IDEMPOTENCY_KEY`, `SETTLEMENT_SAME_ACCOUNT`;
 * - refused by the chain: `SETTLEMENT_TX_BAD_SIGNATURE` (SIGERROR), `SETTLEMENT_TX_EXPIRED`
 *   (TRANSACTION_EXPIRATION_ERROR), `SETTLEMENT_TX_TAPOS` (TAPOS_ERROR), `SETTLEMENT_TX_DUPLICATE`
 *   (reserved: a duplicate broadcast is taken as accepted), `SETTLEMENT_INSUFFICIENT_BALANCE`,
 *   `SETTLEMENT_TX_REJECTED` (another CONTRACT_VALIDATE_ERROR), `SETTLEMENT_TX_FAILED` (included
 *   but failed on chain, e.g. a TRC-20 REVERT), `SETTLEMENT_TX_SUPERSEDED` (EVM: another transaction
 *   already took this one's nonce, so it can never be included), `SETTLEMENT_FEE_TOO_HIGH` (EVM: the
 *   block's base fee is above the adapter's fee cap);
 * - node and transport: `SETTLEMENT_NODE_ERROR` (the node answered with an error worth retrying),
 *   `SETTLEMENT_NODE_BAD_RESPONSE` (an answer that does not parse or breaks a bound),
 *   `SETTLEMENT_HTTP_ERROR`, `SETTLEMENT_TIMEOUT`, `SETTLEMENT_TRONWEB_MISSING`,
 *   `SETTLEMENT_VIEM_MISSING`, `SETTLEMENT_WRONG_CHAIN` (the node serves another chain id than the
 *   one configured), `SETTLEMENT_TX_MISMATCH` (a built transaction is not the one asked for);
 * - journal: `SETTLEMENT_JOURNAL_CORRUPT`, `SETTLEMENT_JOURNAL_LOCKED`, `SETTLEMENT_JOURNAL_FAILED`,
 *   `SETTLEMENT_CLOSED`;
 * - policy: `SETTLEMENT_OVER_LIMIT` (a withdrawal above the hot-wallet limit, left pending for review);
 * - EIP-712 vouchers of the BTTC channel (mirroring the ledger's `LEDGER_VOUCHER_…`):
 *   `SETTLEMENT_BAD_KEY` (not a secp256k1 private key), `SETTLEMENT_BAD_CHANNEL_ID` (not a bytes32),
 *   `SETTLEMENT_VOUCHER_BAD_SIGNATURE` (malformed, high s, or another signer or channel;
 *   `details.reason` says which), `SETTLEMENT_VOUCHER_NOT_INCREASING`,
 *   `SETTLEMENT_VOUCHER_EXCEEDS_DEPOSIT`.
 * - BTTC payment channels (`BttcChannels`, the BttkitChannel contract's custom errors):
 *   `SETTLEMENT_VIEM_MISSING`, `SETTLEMENT_CHANNEL_EXISTS` (the id was ever used),
 *   `SETTLEMENT_CHANNEL_NOT_FOUND`, `SETTLEMENT_CHANNEL_FINISHED`, `SETTLEMENT_CHANNEL_CLOSING`,
 *   `SETTLEMENT_CHANNEL_NOT_CLOSING`, `SETTLEMENT_CHALLENGE_NOT_OVER`, `SETTLEMENT_CHANNEL_FORBIDDEN`
 *   (not the payer / payee), `SETTLEMENT_VOUCHER_BAD_SIGNATURE` (malformed, high-s, bad v),
 *   `SETTLEMENT_VOUCHER_WRONG_SIGNER`, `SETTLEMENT_VOUCHER_NOT_HIGHER`,
 *   `SETTLEMENT_TOKEN_TRANSFER_FAILED`, `SETTLEMENT_NOTHING_TO_WITHDRAW`.
 */
export const SETTLEMENT_ERROR_CODES = [
  'SETTLEMENT_BAD_ADDRESS',
  'SETTLEMENT_BAD_AMOUNT',
  'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
  'SETTLEMENT_BAD_TXID',
  'SETTLEMENT_BAD_CURSOR',
  'SETTLEMENT_BAD_OPTIONS',
  'SETTLEMENT_BAD_IDEMPOTENCY_KEY',
  'SETTLEMENT_SAME_ACCOUNT',
  'SETTLEMENT_TX_BAD_SIGNATURE',
  'SETTLEMENT_TX_EXPIRED',
  'SETTLEMENT_TX_TAPOS',
  'SETTLEMENT_TX_DUPLICATE',
  'SETTLEMENT_INSUFFICIENT_BALANCE',
  'SETTLEMENT_TX_REJECTED',
  'SETTLEMENT_TX_FAILED',
  'SETTLEMENT_TX_SUPERSEDED',
  'SETTLEMENT_FEE_TOO_HIGH',
  'SETTLEMENT_NODE_ERROR',
  'SETTLEMENT_NODE_BAD_RESPONSE',
  'SETTLEMENT_HTTP_ERROR',
  'SETTLEMENT_TIMEOUT',
  'SETTLEMENT_TRONWEB_MISSING',
  'SETTLEMENT_VIEM_MISSING',
  'SETTLEMENT_WRONG_CHAIN',
  'SETTLEMENT_TX_MISMATCH',
  'SETTLEMENT_JOURNAL_CORRUPT',
  'SETTLEMENT_JOURNAL_LOCKED',
  'SETTLEMENT_JOURNAL_FAILED',
  'SETTLEMENT_CLOSED',
  'SETTLEMENT_OVER_LIMIT',
  'SETTLEMENT_BAD_KEY',
  'SETTLEMENT_BAD_CHANNEL_ID',
  'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
  'SETTLEMENT_VOUCHER_NOT_INCREASING',
  'SETTLEMENT_VOUCHER_EXCEEDS_DEPOSIT',
  'SETTLEMENT_CHANNEL_EXISTS',
  'SETTLEMENT_CHANNEL_NOT_FOUND',
  'SETTLEMENT_CHANNEL_FINISHED',
  'SETTLEMENT_CHANNEL_CLOSING',
  'SETTLEMENT_CHANNEL_NOT_CLOSING',
  'SETTLEMENT_CHALLENGE_NOT_OVER',
  'SETTLEMENT_CHANNEL_FORBIDDEN',
  'SETTLEMENT_VOUCHER_WRONG_SIGNER',
  'SETTLEMENT_VOUCHER_NOT_HIGHER',
  'SETTLEMENT_TOKEN_TRANSFER_FAILED',
  'SETTLEMENT_NOTHING_TO_WITHDRAW',
] as const;

/** A stable settlement error code (one of {@link SETTLEMENT_ERROR_CODES}). */
export type SettlementErrorCode = (typeof SETTLEMENT_ERROR_CODES)[number];

/** An error from settlement: a refused transfer, a node failure, a bad input, a corrupt journal. */
export class SettlementError extends BttkitError {
  declare readonly code: SettlementErrorCode;

  constructor(code: SettlementErrorCode, message: string, options: BttkitErrorOptions = {}) {
    super(code, message, options);
  }

  /** True for failures worth retrying as they are (node busy, transport, timeouts). */
  get retryable(): boolean {
    return (
      this.code === 'SETTLEMENT_NODE_ERROR' ||
      this.code === 'SETTLEMENT_HTTP_ERROR' ||
      this.code === 'SETTLEMENT_TIMEOUT'
    );
  }
}
