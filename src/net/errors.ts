import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link NetError}: the local network around a client — port mapping on the home
 * router (UPnP IGD, NAT-PMP/PCP) and local service discovery (BEP 14). Hostile or malformed
 * replies and datagrams never throw out of a service: they are refused and reported under these
 * codes. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `NET_PORTMAP_UNAVAILABLE` | no gateway answered UPnP or NAT-PMP, or the library cannot be loaded |
 * | `NET_PORTMAP_REFUSED` | the gateway refused or failed a mapping (or its renewal) |
 * | `NET_PORTMAP_BAD_REPLY` | a gateway's reply made no sense (bad address, port, lifetime) |
 * | `NET_LSD_MALFORMED` | a local service discovery datagram that is not a valid BT-SEARCH |
 * | `NET_LSD_SOCKET` | the LSD multicast socket could not be opened or joined |
 * | `NET_LSD_BAD_OPTIONS` | an LSD option or argument that cannot be used (a port outside 1–65535, an info-hash that is not 20 bytes, a bad interface address) |
 */
export const NET_ERROR_CODES = [
  'NET_PORTMAP_UNAVAILABLE',
  'NET_PORTMAP_REFUSED',
  'NET_PORTMAP_BAD_REPLY',
  'NET_LSD_MALFORMED',
  'NET_LSD_SOCKET',
  'NET_LSD_BAD_OPTIONS',
] as const;
/** One of {@link NET_ERROR_CODES}. */
export type NetErrorCode = (typeof NET_ERROR_CODES)[number];

/** A local-network failure (port mapping, LSD). `code` is a {@link NetErrorCode}. */
export class NetError extends BttkitError {
  declare readonly code: NetErrorCode;

  constructor(code: NetErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
