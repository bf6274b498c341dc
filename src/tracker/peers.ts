import { isIP } from 'node:net';
import type { BValue } from '../metainfo/bencode.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import { fromUtf8Strict } from '../util/bytes.js';
import { formatIPv6, formatIp, normalizeHost } from '../util/ip.js';
import { TrackerError } from './errors.js';

/** Collects peers for one answer: drops port 0, unspecified addresses and duplicates; caps the count. */
export class PeerCollector {
  readonly peers: PeerAddress[] = [];
  dropped = 0;
  readonly #seen = new Set<string>();

  constructor(readonly maxPeers: number) {}

  add(host: string, port: number): void {
    const key = `${host}|${port}`;
    if (
      port < 1 ||
      port > 65535 ||
      host === '0.0.0.0' ||
      host === '::' ||
      this.#seen.has(key) ||
      this.peers.length >= this.maxPeers
    ) {
      this.dropped++;
      return;
    }
    this.#seen.add(key);
    this.peers.push({ host, port });
  }
}

// Formats IPv6 bytes (RFC 5952); kept exported from the tracker module.
export { formatIPv6 };

/**
 * Adds a compact peer string (BEP 23: 4-byte IPv4 + 2-byte port; BEP 7: 16-byte IPv6 + port).
 *
 * @throws {TrackerError} `TRACKER_BAD_PEERS` when the length is not a multiple of 6 (or 18).
 */
export function addCompactPeers(out: PeerCollector, bytes: Uint8Array, family: 4 | 6): void {
  const size = family === 4 ? 6 : 18;
  if (bytes.length % size !== 0) {
    throw new TrackerError(
      'TRACKER_BAD_PEERS',
      `compact ${family === 4 ? 'peers' : 'peers6'} of ${bytes.length} bytes is not a multiple of ${size}`,
      { details: { length: bytes.length, entrySize: size } },
    );
  }
  for (let i = 0; i < bytes.length; i += size) {
    // (An IPv4-mapped entry in peers6 is the IPv4 peer.)
    const host = formatIp(bytes, i, family === 4 ? 4 : 16);
    const port = ((bytes[i + size - 2] as number) << 8) | (bytes[i + size - 1] as number);
    out.add(host, port);
  }
}

/** Parses compact peers into a list (port 0 and duplicates dropped); see {@link addCompactPeers}. */
export function parseCompactPeers(bytes: Uint8Array, family: 4 | 6, maxPeers = 2000): PeerAddress[] {
  const c = new PeerCollector(maxPeers);
  addCompactPeers(c, bytes, family);
  return c.peers;
}

/**
 * Compact form of peers (the inverse of {@link parseCompactPeers}); IP literals only (another host
 * throws {@link TrackerError} `TRACKER_BAD_ADDRESS`).
 */
export function encodeCompactPeers(peers: readonly PeerAddress[], family: 4 | 6): Uint8Array {
  const size = family === 4 ? 6 : 18;
  const out = new Uint8Array(peers.length * size);
  peers.forEach((p, k) => {
    const o = k * size;
    if (family === 4) {
      const parts = p.host.split('.').map(Number);
      if (parts.length !== 4 || isIP(p.host) !== 4)
        throw new TrackerError('TRACKER_BAD_ADDRESS', `not an IPv4 address: ${p.host}`);
      out.set(parts, o);
    } else {
      out.set(ipv6Bytes(p.host), o);
    }
    out[o + size - 2] = p.port >>> 8;
    out[o + size - 1] = p.port & 0xff;
  });
  return out;
}

function ipv6Bytes(host: string): Uint8Array {
  if (isIP(host) !== 6 || host.includes('.'))
    throw new TrackerError('TRACKER_BAD_ADDRESS', `not a plain IPv6 address: ${host}`);
  const [head = '', tail] = host.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >>> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/**
 * Adds a non-compact peer list (BEP 3: a list of dicts with `ip`, `port`, optional `peer id`).
 * Entries that are not dicts, whose `ip` is not an IP literal (host names are not resolved on a
 * tracker's word) or whose port is out of range are dropped and counted.
 */
export function addDictPeers(out: PeerCollector, list: readonly BValue[]): void {
  for (const item of list) {
    if (!(item instanceof Map)) {
      out.dropped++;
      continue;
    }
    const ip = item.get('ip');
    const port = item.get('port');
    const host = ip instanceof Uint8Array ? normalizeIp(fromUtf8Strict(ip)) : undefined;
    if (host === undefined || typeof port !== 'bigint' || port < 1n || port > 65535n) {
      out.dropped++;
      continue;
    }
    out.add(host, Number(port));
  }
}

/** An IP literal in canonical form, or `undefined` for anything else (names, zones, garbage). */
function normalizeIp(text: string | undefined): string | undefined {
  if (text === undefined || text.length > 45) return undefined;
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6 || text.includes('%')) return undefined;
  // Canonical IPv6; an IPv4-mapped one is the IPv4 peer.
  return normalizeHost(text);
}
