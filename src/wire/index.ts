/**
 * The peer wire: {@link PeerWire} (BitTorrent: our framing guard parses, `bittorrent-protocol`'s
 * `Wire` keeps the protocol state), the BEP 52 hash messages, a typed BEP 10 extension
 * framework, and the `ut_metadata` (BEP 9), `ut_pex` (BEP 11), `ut_holepunch` (BEP 55) and `btt_speed` extensions.
 * @module wire
 */

export {
  BTT_EIP712_CHANNEL_ID_LENGTH,
  BTT_EIP712_SIGNATURE_LENGTH,
  BTT_MAX_SCHEMES,
  BTT_SCHEME_ED25519,
  BTT_SCHEME_EIP712,
  BTT_SCHEME_LENGTHS,
  BTT_SCHEMES,
  type BttEvmInfo,
  type BttVoucherScheme,
  bttSchemesOf,
  negotiateScheme,
} from './btt-schemes.js';
export {
  BTT_CHANNEL_ID_LENGTH,
  BTT_EXTENSION,
  BTT_MAX_AMOUNT,
  BTT_MAX_COUNTER,
  BTT_MAX_DIGITS,
  BTT_MAX_MALFORMED,
  BTT_MAX_MESSAGE,
  BTT_MAX_REASON,
  BTT_SIGNATURE_LENGTH,
  BTT_VERSION,
  type BttAck,
  type BttBid,
  type BttDecoded,
  type BttGrant,
  type BttHandshake,
  type BttMessage,
  type BttPay,
  type BttReject,
  BttRejectCode,
  type BttSpeedEvents,
  BttSpeedExtension,
  type BttSpeedOptions,
  bttHandshakeFields,
  bttSpeed,
  decodeBttMessage,
  encodeBttHandshake,
  encodeBttMessage,
  formatAmount,
  parseBttHandshake,
  tryParseAmount,
} from './btt-speed.js';
export { type BttMessageJson, bttMessageFromJson, bttMessageToJson } from './btt-speed-json.js';
export { type EventMap, TypedEmitter } from './emitter.js';
export { WIRE_ERROR_CODES, WireError, type WireErrorCode } from './errors.js';
export type { ExtensionContext, ExtensionFactory, HandshakeValue, WireExtension } from './extension.js';
export type { ExtendedHandshakeInfo } from './extension-registry.js';
export {
  FrameGuard,
  type FrameGuardOptions,
  type GuardSink,
  HANDSHAKE_LENGTH,
  type Handshake,
  MAX_PIECE_STATEMENTS,
} from './guard.js';
export {
  checkHashRequest,
  decodeHashes,
  decodeHashRequest,
  encodeHashes,
  encodeHashReject,
  encodeHashRequest,
  HASH_REJECT_ID,
  HASH_REQUEST_ID,
  HASHES_ID,
  type HashesMessage,
  type HashRequest,
  hashesUncleCount,
  MAX_HASH_REQUEST_LENGTH,
  MAX_HASHES_MESSAGE_LENGTH,
  MAX_OUTSTANDING_HASH_REQUESTS,
  MAX_PROOF_LAYERS,
  negotiatedV2,
  type V2Options,
} from './hash-messages.js';
export { ipBytes } from './ip.js';
export { BLOCK_SIZE, DEFAULT_WIRE_LIMITS, MessageId, type WireLimits, type WireTorrent } from './limits.js';
export {
  type CryptoMethod,
  DEFAULT_MSE_TIMEOUT_MS,
  type EncryptionPolicy,
  MSE_ERROR_CODES,
  type MseAcceptOptions,
  type MseAcceptResult,
  type MseConnectOptions,
  type MseConnectResult,
  MseError,
  type MseErrorCode,
  mseAccept,
  mseConnect,
  Rc4,
  req2Hash,
} from './mse/index.js';
export {
  type BlockRequest,
  type PeerCapabilities,
  type PeerHandshake,
  PeerWire,
  type PeerWireEvents,
  type PeerWireOptions,
  type RequestCallback,
  type RespondFn,
} from './peer-wire.js';
export {
  decodeHolepunch,
  encodeHolepunch,
  formatIpBytes,
  HOLEPUNCH_MAX_PAYLOAD,
  HolepunchErrorCode,
  type HolepunchMessage,
  type HolepunchMessageType,
  HolepunchType,
  type UtHolepunchEvents,
  UtHolepunchExtension,
  utHolepunch,
} from './ut-holepunch.js';
export {
  DEFAULT_MAX_METADATA_SIZE,
  METADATA_PIECE_SIZE,
  type UtMetadataEvents,
  UtMetadataExtension,
  type UtMetadataOptions,
  utMetadata,
} from './ut-metadata.js';
export {
  decodePex,
  encodePex,
  PEX_INTERVAL_MS,
  PEX_MAX_RECEIVE,
  PEX_MAX_SEND,
  PexFlags,
  type PexMessage,
  type PexPeer,
  type UtPexEvents,
  UtPexExtension,
  utPex,
} from './ut-pex.js';
