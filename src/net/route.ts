import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';

/** The IPv4 default route: its next hop and interface. */
export interface DefaultRoute {
  /** The gateway's address (NAT-PMP's server). */
  gateway: string;
  /** The interface the route leaves by. */
  iface: string;
}

/**
 * Parses Linux's `/proc/net/route` (tab-separated, addresses as little-endian hex) and returns
 * the default route with the lowest metric, or undefined when there is none or the text is not
 * that table.
 *
 * @example
 * ```ts
 * parseDefaultRoute('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n' +
 *   'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n'); // { gateway: '192.168.1.1', iface: 'eth0' }
 * ```
 */
export function parseDefaultRoute(text: string): DefaultRoute | undefined {
  let best: (DefaultRoute & { metric: number }) | undefined;
  for (const line of text.split('\n').slice(1, 1025)) {
    const [iface, dest, gw, flags, , , metric, mask] = line.trim().split(/\s+/);
    if (iface === undefined || dest !== '00000000' || mask !== '00000000') continue;
    if (gw === undefined || !/^[0-9A-Fa-f]{8}$/.test(gw) || !/^[0-9A-Fa-f]{1,4}$/.test(flags ?? '')) continue;
    // RTF_UP (1) and RTF_GATEWAY (2).
    if ((Number.parseInt(flags ?? '0', 16) & 3) !== 3) continue;
    const n = Number.parseInt(gw, 16);
    const gateway = [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
    const m = Number(metric);
    if (gateway === '0.0.0.0' || !Number.isInteger(m)) continue;
    if (!best || m < best.metric) best = { gateway, iface, metric: m };
  }
  return best ? { gateway: best.gateway, iface: best.iface } : undefined;
}

/** The default IPv4 route on Linux; undefined elsewhere or when there is none. */
export function defaultRoute(): DefaultRoute | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return parseDefaultRoute(readFileSync('/proc/net/route', 'utf8').slice(0, 256 * 1024));
  } catch {
    return undefined;
  }
}

/** The host's IPv4 interface addresses that are not loopback or link-local, with their CIDR. */
export function lanInterfaces(): Array<{ name: string; address: string; cidr: string }> {
  const out: Array<{ name: string; address: string; cidr: string }> = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal || a.address.startsWith('169.254.') || a.cidr === null) continue;
      out.push({ name, address: a.address, cidr: a.cidr });
    }
  }
  return out;
}

/** True for an IPv4 address in 127.0.0.0/8 (or `::1`, `localhost`). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '::ffff:127.0.0.1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

/**
 * Whether features that talk to the local network (port mapping on the router, local service
 * discovery) may run: false when the environment variable `BTTKIT_LOCAL_NETWORK` is `off`, the
 * switch for sandboxes and test suites that must never send SSDP, NAT-PMP or multicast to the
 * host's network.
 */
export function localNetworkAllowed(
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return env.BTTKIT_LOCAL_NETWORK?.trim().toLowerCase() !== 'off';
}
