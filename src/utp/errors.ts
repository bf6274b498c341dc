import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link UtpError} (uTP, BEP 29). Malformed datagrams never throw out of a socket:
 * they are dropped and counted under these codes ({@link UtpSocket.stats}); a connection that
 * fails closes with a `TransportError` whose `cause` is a `UtpError`. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `UTP_TRUNCATED` | a datagram shorter than the 20-byte header, or an extension longer than the datagram |
 * | `UTP_BAD_VERSION` | a header whose version is not 1 |
 * | `UTP_BAD_TYPE` | a packet type above `ST_SYN` (4) |
 * | `UTP_BAD_EXTENSION` | an extension chain longer than allowed, or a selective ack of a bad length |
 * | `UTP_UNKNOWN_CONNECTION` | a packet for no connection of this socket (answered with a rate-limited RESET) |
 * | `UTP_TOO_MANY_CONNECTIONS` | a SYN beyond `maxConnections` or `maxHalfOpen` (dropped) |
 * | `UTP_TIMEOUT` | a packet was resent too often without an ack, or nothing arrived for `idleTimeoutMs` |
 * | `UTP_CONNECT_TIMEOUT` | no answer to our SYN in `connectTimeoutMs` (the cause of `TRANSPORT_CONNECT_FAILED`) |
 * | `UTP_RESET` | the remote end sent a RESET (the cause of `TRANSPORT_RESET`) |
 * | `UTP_SOCKET_CLOSED` | the datagram socket was closed under the connection |
 */
export const UTP_ERROR_CODES = [
  'UTP_TRUNCATED',
  'UTP_BAD_VERSION',
  'UTP_BAD_TYPE',
  'UTP_BAD_EXTENSION',
  'UTP_UNKNOWN_CONNECTION',
  'UTP_TOO_MANY_CONNECTIONS',
  'UTP_TIMEOUT',
  'UTP_CONNECT_TIMEOUT',
  'UTP_RESET',
  'UTP_SOCKET_CLOSED',
] as const;
/** One of {@link UTP_ERROR_CODES}. */
export type UtpErrorCode = (typeof UTP_ERROR_CODES)[number];

/** A uTP failure: a malformed packet, a timeout, a reset. `code` is a {@link UtpErrorCode}. */
export class UtpError extends BttkitError {
  declare readonly code: UtpErrorCode;

  constructor(code: UtpErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
