/**
 * IPv4 and IPv6 side by side (docs/networking.md, "IPv6"): where the client listens by default,
 * where the (IPv4-only) DHT binds, and whether a listen error means "this host has no IPv6".
 */
import { ipVersion } from '../util/ip.js';
import type { Settings } from './settings.js';

/** The unspecified IPv6 address: with IPv6-only off, one socket for both families. */
export const DUAL_STACK_HOST = '::';

/** Where `Client.listen()` binds without a host: `::` (dual-stack) or, IPv6 off, `0.0.0.0`. */
export function defaultListenHost(settings: Readonly<Pick<Settings, 'enableIpv6'>>): string {
  return settings.enableIpv6 ? DUAL_STACK_HOST : '0.0.0.0';
}

/**
 * The address the DHT binds for a client listening on `host`: the DHT speaks IPv4 only
 * (`bittorrent-dht` lacks BEP 32), so an IPv6 listen address means the IPv4 side of the same
 * scope (`::1` → `127.0.0.1`, any other → `0.0.0.0`).
 */
export function dhtHost(host: string | undefined): string {
  if (host === undefined) return '0.0.0.0';
  if (ipVersion(host) !== 6) return host;
  return host === '::1' ? '127.0.0.1' : '0.0.0.0';
}

/**
 * True when a listen error on `::` says the host has no IPv6 at all (the socket family is not
 * supported, or `::` cannot be bound): the client then listens on `0.0.0.0` instead. A port in
 * use is not such an error.
 */
export function isNoIpv6Error(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL' || code === 'EPROTONOSUPPORT') return true;
    e = e.cause;
  }
  return false;
}
