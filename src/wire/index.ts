/**
 * The peer wire: {@link PeerWire} (BitTorrent on `bittorrent-protocol`'s `Wire`, behind a framing
 * guard), a typed BEP 10 extension framework, and the `ut_metadata` (BEP 9), `ut_pex` (BEP 11) and
 * `btt_speed` extensions.
 * @module wire
 */
export { type EventMap, TypedEmitter } from './emitter.js';
export { WireError, type WireErrorCode } from './errors.js';
export type { ExtensionContext, ExtensionFactory, HandshakeValue, WireExtension } from './extension.js';
export { FrameGuard, type GuardSink, HANDSHAKE_LENGTH, type Handshake } from './guard.js';
export { BLOCK_SIZE, DEFAULT_WIRE_LIMITS, MessageId, type WireLimits, type WireTorrent } from './limits.js';
export {
  type BlockRequest,
  type ExtendedHandshakeInfo,
  ipBytes,
  type PeerCapabilities,
  type PeerHandshake,
  PeerWire,
  type PeerWireEvents,
  type PeerWireOptions,
  type RequestCallback,
  type RespondFn,
} from './peer-wire.js';
