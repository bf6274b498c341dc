import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Why a peer was dropped or an operation on a peer failed. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `WIRE_BAD_PROTOCOL` | the stream does not start with the BitTorrent handshake (a message before the handshake) |
 * | `WIRE_INFOHASH_MISMATCH` | the peer's handshake names another torrent |
 * | `WIRE_SELF_CONNECTION` | the peer's id is our own |
 * | `WIRE_MESSAGE_TOO_LARGE` | a length prefix above the largest legal message (or a block above 16 KiB) |
 * | `WIRE_BAD_MESSAGE_LENGTH` | a message whose length does not fit its type |
 * | `WIRE_REQUEST_TOO_LARGE` | a request for more than 16 KiB, or for 0 bytes |
 * | `WIRE_OUT_OF_RANGE` | a piece index or block outside the torrent (or before we know the torrent) |
 * | `WIRE_TOO_MANY_REQUESTS` | more outstanding requests than we allow (`reqq`) |
 * | `WIRE_BAD_BITFIELD` | a bitfield of the wrong size or with spare bits set |
 * | `WIRE_UNEXPECTED_MESSAGE` | a message where the protocol forbids it (second bitfield, fast message without BEP 6) |
 * | `WIRE_BAD_EXTENDED_HANDSHAKE` | an extended handshake that is not a bounded bencoded dictionary |
 * | `WIRE_EXTENSION_MESSAGE_TOO_LARGE` | an extension message above that extension's limit |
 * | `WIRE_EXTENSION_ERROR` | an extension refused a message (see `cause`) |
 * | `WIRE_HANDLER_ERROR` | one of our own event listeners threw (see `cause`) |
 * | `WIRE_HANDSHAKE_TIMEOUT` | no handshake in time |
 * | `WIRE_TIMEOUT` | nothing received for too long |
 * | `WIRE_CONNECTION_CLOSED` | the remote end closed the connection |
 * | `WIRE_CONNECTION_ERROR` | the transport failed (see `cause`) |
 * | `WIRE_CLOSED` | the wire was closed (for requests still outstanding) |
 * | `WIRE_REQUEST_CHOKED` / `WIRE_REQUEST_REJECTED` / `WIRE_REQUEST_CANCELLED` | the fate of one of our requests |
 * | `WIRE_NOT_SUPPORTED` | the peer did not negotiate what the call needs (BEP 6, an extension) |
 */
export class WireError extends BttkitError {
  constructor(code: WireErrorCode | string, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/** The codes of {@link WireError} raised by the wire itself (extensions add their own). */
export type WireErrorCode =
  | 'WIRE_BAD_PROTOCOL'
  | 'WIRE_INFOHASH_MISMATCH'
  | 'WIRE_SELF_CONNECTION'
  | 'WIRE_MESSAGE_TOO_LARGE'
  | 'WIRE_BAD_MESSAGE_LENGTH'
  | 'WIRE_REQUEST_TOO_LARGE'
  | 'WIRE_OUT_OF_RANGE'
  | 'WIRE_TOO_MANY_REQUESTS'
  | 'WIRE_BAD_BITFIELD'
  | 'WIRE_UNEXPECTED_MESSAGE'
  | 'WIRE_BAD_EXTENDED_HANDSHAKE'
  | 'WIRE_EXTENSION_MESSAGE_TOO_LARGE'
  | 'WIRE_EXTENSION_ERROR'
  | 'WIRE_HANDLER_ERROR'
  | 'WIRE_HANDSHAKE_TIMEOUT'
  | 'WIRE_TIMEOUT'
  | 'WIRE_CONNECTION_CLOSED'
  | 'WIRE_CONNECTION_ERROR'
  | 'WIRE_CLOSED'
  | 'WIRE_REQUEST_CHOKED'
  | 'WIRE_REQUEST_REJECTED'
  | 'WIRE_REQUEST_CANCELLED'
  | 'WIRE_NOT_SUPPORTED';
