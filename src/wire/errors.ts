import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Every code a {@link WireError} carries — the wire's, its extensions' (`WIRE_METADATA_…` for
 * `ut_metadata`, `WIRE_PEX_…` for `ut_pex`, `WIRE_HOLEPUNCH_…` for
 * `ut_holepunch`, `WIRE_BTT_…` for `btt_speed`) and the two a session
 * closes a wire with. Each is stable:
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
 * | `WIRE_TOO_MANY_REQUESTS` | more outstanding requests than we allow (`reqq`); or, our call, more than 64 unanswered hash requests |
 * | `WIRE_BAD_BITFIELD` | a bitfield of the wrong size or with spare bits set |
 * | `WIRE_UNEXPECTED_MESSAGE` | a message where the protocol forbids it (fast message without BEP 6, hash message without the v2 bit, unrequested `hashes`, a flood of bitfields) |
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
 * | `WIRE_NOT_SUPPORTED` | the peer did not negotiate what the call needs (BEP 6, BEP 52, an extension) |
 * | `WIRE_BAD_HASH_MESSAGE` | a BEP 52 `hash request` / `hashes` / `hash reject` of the wrong size or with fields out of bounds (received, or our argument) |
 * | `WIRE_BAD_PEER_ID` / `WIRE_BAD_INFOHASH` | a peer id or info-hash that is not 20 bytes, a v2 info-hash that is not 32 (our argument) |
 * | `WIRE_BAD_REQUEST` | `request` with a length outside 1..`maxBlockLength` (our argument) |
 * | `WIRE_BAD_BLOCK` | `respond` with a block whose length is not the request's (our argument) |
 * | `WIRE_TOO_LATE` | `use` after the handshake |
 * | `WIRE_DUPLICATE_EXTENSION` / `WIRE_TOO_MANY_EXTENSIONS` | `use` of a name twice, or of more than 250 extensions |
 * | `WIRE_UPSTREAM_MISMATCH` | the installed `bittorrent-protocol` lacks a member the wire relies on (a version other than the pinned one) |
 * | `WIRE_DUPLICATE_CONNECTION` | closed by a session: a second connection to the same peer |
 * | `WIRE_BANNED` | closed by a session: the peer was banned |
 * | `WIRE_METADATA_BAD_OPTIONS` | `ut_metadata`: an info-hash that is not 20 bytes |
 * | `WIRE_METADATA_HASH_MISMATCH` | `ut_metadata`: metadata whose hash is not the info-hash |
 * | `WIRE_METADATA_TOO_LARGE` | `ut_metadata`: the peer announces more metadata than allowed |
 * | `WIRE_METADATA_TIMEOUT` | `ut_metadata`: a metadata piece did not arrive in time |
 * | `WIRE_METADATA_MALFORMED` | `ut_metadata`: a message that is not a valid bencoded header |
 * | `WIRE_METADATA_REJECTED` | `ut_metadata`: the peer rejected our request |
 * | `WIRE_METADATA_UNEXPECTED` | `ut_metadata`: a piece we did not ask for |
 * | `WIRE_METADATA_BAD_PIECE` | `ut_metadata`: a piece of the wrong size, or a `total_size` that changed |
 * | `WIRE_METADATA_INVALID` | `ut_metadata`: the assembled info dictionary does not parse |
 * | `WIRE_PEX_MALFORMED` | `ut_pex`: a message that is not a valid peer list |
 * | `WIRE_HOLEPUNCH_MALFORMED` | `ut_holepunch`: a message of the wrong length, an unknown message or address type, port 0 (received; or an endpoint we cannot encode) |
 * | `WIRE_BTT_BAD_AMOUNT` | `btt_speed`: an amount outside 0 .. 2^256 − 1 (our argument) |
 * | `WIRE_BTT_BAD_MESSAGE` | `btt_speed`: a message we were asked to send is invalid (or a received one, internally) |
 * | `WIRE_BTT_BAD_HANDSHAKE` | `btt_speed`: invalid `btt` handshake fields (our argument) |
 * | `WIRE_BTT_MALFORMED` | `btt_speed`: the peer sent too many malformed messages |
 */
export const WIRE_ERROR_CODES = [
  'WIRE_BAD_PROTOCOL',
  'WIRE_INFOHASH_MISMATCH',
  'WIRE_SELF_CONNECTION',
  'WIRE_MESSAGE_TOO_LARGE',
  'WIRE_BAD_MESSAGE_LENGTH',
  'WIRE_REQUEST_TOO_LARGE',
  'WIRE_OUT_OF_RANGE',
  'WIRE_TOO_MANY_REQUESTS',
  'WIRE_BAD_BITFIELD',
  'WIRE_UNEXPECTED_MESSAGE',
  'WIRE_BAD_EXTENDED_HANDSHAKE',
  'WIRE_EXTENSION_MESSAGE_TOO_LARGE',
  'WIRE_EXTENSION_ERROR',
  'WIRE_HANDLER_ERROR',
  'WIRE_HANDSHAKE_TIMEOUT',
  'WIRE_TIMEOUT',
  'WIRE_CONNECTION_CLOSED',
  'WIRE_CONNECTION_ERROR',
  'WIRE_CLOSED',
  'WIRE_REQUEST_CHOKED',
  'WIRE_REQUEST_REJECTED',
  'WIRE_REQUEST_CANCELLED',
  'WIRE_NOT_SUPPORTED',
  'WIRE_BAD_HASH_MESSAGE',
  'WIRE_BAD_PEER_ID',
  'WIRE_BAD_INFOHASH',
  'WIRE_BAD_REQUEST',
  'WIRE_BAD_BLOCK',
  'WIRE_TOO_LATE',
  'WIRE_DUPLICATE_EXTENSION',
  'WIRE_TOO_MANY_EXTENSIONS',
  'WIRE_UPSTREAM_MISMATCH',
  'WIRE_DUPLICATE_CONNECTION',
  'WIRE_BANNED',
  'WIRE_METADATA_BAD_OPTIONS',
  'WIRE_METADATA_HASH_MISMATCH',
  'WIRE_METADATA_TOO_LARGE',
  'WIRE_METADATA_TIMEOUT',
  'WIRE_METADATA_MALFORMED',
  'WIRE_METADATA_REJECTED',
  'WIRE_METADATA_UNEXPECTED',
  'WIRE_METADATA_BAD_PIECE',
  'WIRE_METADATA_INVALID',
  'WIRE_PEX_MALFORMED',
  'WIRE_HOLEPUNCH_MALFORMED',
  'WIRE_BTT_BAD_AMOUNT',
  'WIRE_BTT_BAD_MESSAGE',
  'WIRE_BTT_BAD_HANDSHAKE',
  'WIRE_BTT_MALFORMED',
] as const;

/** A code of {@link WireError}: one of {@link WIRE_ERROR_CODES}. */
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

/** Why a peer was dropped or an operation on a peer failed; `code` is one of {@link WIRE_ERROR_CODES}. */
export class WireError extends BttkitError {
  declare readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
