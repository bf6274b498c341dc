import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link DhtError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `DHT_LISTEN_FAILED` | `Dht.create`: the UDP socket could not bind (see `cause`) |
 * | `DHT_LOOKUP_FAILED` | a peer lookup failed (see `cause`) |
 * | `DHT_ANNOUNCE_FAILED` | an announce failed (see `cause`) |
 * | `DHT_PUT_FAILED` | a BEP 44 put failed (see `cause`) |
 * | `DHT_GET_FAILED` | a BEP 44 get failed, or the item does not verify (see `cause`) |
 * | `DHT_VALUE_TOO_LARGE` | a BEP 44 value above 1000 bytes |
 * | `DHT_SALT_TOO_LARGE` | a BEP 44 salt above 64 bytes |
 * | `DHT_BAD_DATAGRAM` | `warning`: a malformed or oversized KRPC datagram was dropped unread |
 * | `DHT_SAVE_FAILED` | `warning`: the routing table could not be saved |
 * | `DHT_WARNING` | `warning`: the underlying DHT library warned (see `cause`) |
 * | `DHT_ERROR` | `warning`: the underlying DHT library reported an error it survives (see `cause`) |
 */
export const DHT_ERROR_CODES = [
  'DHT_LISTEN_FAILED',
  'DHT_LOOKUP_FAILED',
  'DHT_ANNOUNCE_FAILED',
  'DHT_PUT_FAILED',
  'DHT_GET_FAILED',
  'DHT_VALUE_TOO_LARGE',
  'DHT_SALT_TOO_LARGE',
  'DHT_BAD_DATAGRAM',
  'DHT_SAVE_FAILED',
  'DHT_WARNING',
  'DHT_ERROR',
] as const;
/** One of {@link DHT_ERROR_CODES}. */
export type DhtErrorCode = (typeof DHT_ERROR_CODES)[number];

/** A DHT failure or a hostile message dropped (surfaced as a `warning`). `code` is a {@link DhtErrorCode}. */
export class DhtError extends BttkitError {
  declare readonly code: DhtErrorCode;

  constructor(code: DhtErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
