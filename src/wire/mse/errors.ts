import { BttkitError, type BttkitErrorOptions } from '../../util/errors.js';

/**
 * Every code an {@link MseError} carries. Each is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `MSE_BAD_OPTIONS` | our argument: an info-hash that is not 20 bytes, nothing to provide or allow |
 * | `MSE_TIMEOUT` | the handshake did not finish in time |
 * | `MSE_ABORTED` | the caller's signal aborted the handshake |
 * | `MSE_CONNECTION_CLOSED` | the connection closed (or failed: see `cause`) during the handshake |
 * | `MSE_SYNC_NOT_FOUND` | the synchronisation marker (the initiator's `HASH('req1', S)`, or the responder's encrypted VC) did not appear within the bound of the spec (628 / 616 bytes): garbage, or another protocol |
 * | `MSE_BAD_HANDSHAKE` | a field that decrypts wrong: the verification constant is not zero (another key: not the same torrent) |
 * | `MSE_PADDING_TOO_LONG` | a padding length above 512 bytes |
 * | `MSE_NO_COMMON_METHOD` | the initiator provides no method we allow (zero provide bits included) |
 * | `MSE_BAD_SELECT` | the responder selected a method we did not offer, or more than one |
 * | `MSE_UNKNOWN_TORRENT` | the obfuscated info-hash names none of our torrents |
 * | `MSE_PLAINTEXT_REFUSED` | a plaintext BitTorrent handshake while the policy is `forced` |
 * | `MSE_ENCRYPTION_REFUSED` | an encrypted handshake while the policy is `disabled` |
 */
export const MSE_ERROR_CODES = [
  'MSE_BAD_OPTIONS',
  'MSE_TIMEOUT',
  'MSE_ABORTED',
  'MSE_CONNECTION_CLOSED',
  'MSE_SYNC_NOT_FOUND',
  'MSE_BAD_HANDSHAKE',
  'MSE_PADDING_TOO_LONG',
  'MSE_NO_COMMON_METHOD',
  'MSE_BAD_SELECT',
  'MSE_UNKNOWN_TORRENT',
  'MSE_PLAINTEXT_REFUSED',
  'MSE_ENCRYPTION_REFUSED',
] as const;

/** A code of {@link MseError}: one of {@link MSE_ERROR_CODES}. */
export type MseErrorCode = (typeof MSE_ERROR_CODES)[number];

/** Why an MSE/PE handshake failed; `code` is one of {@link MSE_ERROR_CODES}. */
export class MseError extends BttkitError {
  declare readonly code: MseErrorCode;

  constructor(code: MseErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
