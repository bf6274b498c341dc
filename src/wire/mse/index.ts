/**
 * MSE/PE (Message Stream Encryption / Protocol Encryption), the handshake libtorrent,
 * Transmission and Vuze implement: Diffie-Hellman over the spec's 768-bit prime, RC4 with
 * 1,024 bytes of keystream discarded, `crypto_provide`/`crypto_select` of plaintext and RC4,
 * the info-hash-obfuscated first message. Runs over any {@link Connection} (TCP, uTP, memory)
 * and returns one.
 * @module wire/mse
 */
export { type CryptoMethod, DEFAULT_MSE_TIMEOUT_MS } from './core.js';
export { MSE_ERROR_CODES, MseError, type MseErrorCode } from './errors.js';
export { type MseConnectOptions, type MseConnectResult, mseConnect } from './initiator.js';
export { Rc4 } from './rc4.js';
export {
  type EncryptionPolicy,
  type MseAcceptOptions,
  type MseAcceptResult,
  mseAccept,
  req2Hash,
} from './responder.js';
