import { fromBase32, fromHex, toHex } from '../util/bytes.js';
import { MagnetError, type MagnetErrorCode } from '../util/errors.js';
import { normalizeHost } from '../util/ip.js';

/** A peer address: IPv4, IPv6 (without brackets) or a host name, and a port. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** A parsed magnet URI (BEP 9). */
export interface Magnet {
  /**
   * Lower-case hex 20-byte info-hash: the v1 `btih`, or, for a magnet with only `urn:btmh:` (a
   * v2-only torrent), the first 20 bytes of the v2 info-hash (what v2 uses with trackers, in the
   * DHT and in the handshake).
   */
  infoHash: string;
  /** The same, 20 bytes. */
  infoHashBytes: Uint8Array;
  /** BEP 52 `xt=urn:btmh:1220…`: the v2 info-hash (SHA-256), lower-case hex, 64 digits. */
  infoHashV2?: string;
  /** The same, 32 bytes. */
  infoHashV2Bytes?: Uint8Array;
  /** `dn`: display name. */
  name?: string;
  /** `tr`: trackers, in order, without duplicates. */
  trackers: string[];
  /** `x.pe`: peers to connect to. */
  peers: PeerAddress[];
  /** `ws`: web seeds (BEP 19). */
  webSeeds: string[];
}

/** Longest magnet URI accepted. */
export const MAX_MAGNET_LENGTH = 64 * 1024;
const MAX_ITEMS = 1000;

function bad(code: MagnetErrorCode, message: string): never {
  throw new MagnetError(code, message);
}

/** Parses an info-hash given as 40 hex digits or 32 base32 characters. */
export function parseInfoHash(text: string): Uint8Array {
  if (/^[0-9a-fA-F]{40}$/.test(text)) return fromHex(text);
  if (/^[A-Za-z2-7]{32}$/.test(text)) return fromBase32(text);
  return bad('MAGNET_BAD_INFOHASH', 'info-hash must be 40 hex digits or 32 base32 characters');
}

/**
 * Parses a BEP 52 `btmh` value: a SHA-256 multihash, `1220` then 64 hex digits. Returns the 32
 * hash bytes. Throws `MagnetError` (`MAGNET_BAD_INFOHASH`).
 */
export function parseInfoHashV2(text: string): Uint8Array {
  const m = /^1220([0-9a-fA-F]{64})$/.exec(text);
  if (!m) bad('MAGNET_BAD_INFOHASH', 'btmh must be a SHA-256 multihash: 1220 then 64 hex digits');
  return fromHex(m[1] as string);
}

/**
 * Parses `host:port` or `[v6]:port`; an IP literal comes back in canonical form (IPv6 compressed
 * and lower-case, `[::ffff:192.0.2.1]` as `192.0.2.1`). Throws `MagnetError` (`MAGNET_BAD_PEER`).
 */
export function parsePeerAddress(text: string): PeerAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : 0;
  const host = m ? (m[1] ?? m[2]) : undefined;
  if (!host || port < 1 || port > 65535) bad('MAGNET_BAD_PEER', `bad peer address ${JSON.stringify(text)}`);
  return { host: normalizeHost(host), port };
}

/** Formats a peer address as `host:port`, bracketing IPv6. */
export function formatPeerAddress(p: PeerAddress): string {
  return p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

/**
 * Parses a magnet URI: `xt=urn:btih:` (hex or base32) and/or `xt=urn:btmh:1220…` (BEP 52, v2),
 * at least one of them; `dn`, `tr`, `ws`, `x.pe`; indexed keys (`tr.1`) too. Unknown keys and
 * other `xt` kinds are ignored.
 *
 * @throws {MagnetError} `MAGNET_NOT_MAGNET`, `MAGNET_TOO_LONG`, `MAGNET_BAD_ENCODING`,
 * `MAGNET_NO_INFOHASH`, `MAGNET_BAD_INFOHASH`, `MAGNET_CONFLICTING_INFOHASH`, `MAGNET_BAD_PEER`,
 * `MAGNET_TOO_MANY_ITEMS`.
 *
 * @example
 * ```ts
 * parseMagnet('magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=file').name; // 'file'
 * ```
 */
export function parseMagnet(uri: string): Magnet {
  if (uri.length > MAX_MAGNET_LENGTH) bad('MAGNET_TOO_LONG', `magnet URI longer than ${MAX_MAGNET_LENGTH}`);
  if (!/^magnet:\?/i.test(uri)) bad('MAGNET_NOT_MAGNET', 'not a magnet URI (must start with "magnet:?")');
  const query = uri.slice('magnet:?'.length);
  let infoHash: Uint8Array | undefined;
  let infoHashV2: Uint8Array | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  const webSeeds: string[] = [];
  const peers: PeerAddress[] = [];
  const pairs = query.split('&');
  if (pairs.length > MAX_ITEMS) bad('MAGNET_TOO_MANY_ITEMS', `more than ${MAX_ITEMS} parameters`);
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent((eq < 0 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      bad('MAGNET_BAD_ENCODING', `bad percent-encoding in ${JSON.stringify(rawKey)}`);
    }
    const key = rawKey.toLowerCase().replace(/^(xt|dn|tr|ws)\.\d+$/, '$1');
    if (key === 'xt') {
      const mh = /^urn:btmh:(.*)$/i.exec(value);
      // Only SHA-256 multihashes (0x12, 32 bytes) are defined; other hash functions are skipped.
      if (mh && !(mh[1] ?? '').startsWith('1220')) continue;
      if (mh) {
        const v2 = parseInfoHashV2(mh[1] ?? '');
        if (infoHashV2 && toHex(infoHashV2) !== toHex(v2)) {
          bad('MAGNET_CONFLICTING_INFOHASH', 'two different btmh info-hashes');
        }
        infoHashV2 = v2;
        continue;
      }
      const m = /^urn:btih:(.*)$/i.exec(value);
      if (!m) continue;
      const ih = parseInfoHash(m[1] ?? '');
      if (infoHash && toHex(infoHash) !== toHex(ih)) {
        bad('MAGNET_CONFLICTING_INFOHASH', 'two different btih info-hashes');
      }
      infoHash = ih;
    } else if (key === 'dn') {
      name = value;
    } else if (key === 'tr') {
      if (value && !trackers.includes(value)) trackers.push(value);
    } else if (key === 'ws') {
      if (value && !webSeeds.includes(value)) webSeeds.push(value);
    } else if (key === 'x.pe') {
      peers.push(parsePeerAddress(value));
    }
  }
  infoHash ??= infoHashV2?.slice(0, 20);
  if (!infoHash) bad('MAGNET_NO_INFOHASH', 'magnet URI has no xt=urn:btih: or xt=urn:btmh: info-hash');
  return {
    infoHash: toHex(infoHash),
    infoHashBytes: infoHash,
    ...(infoHashV2 ? { infoHashV2: toHex(infoHashV2), infoHashV2Bytes: infoHashV2 } : {}),
    ...(name === undefined ? {} : { name }),
    trackers,
    peers,
    webSeeds,
  };
}

/** What {@link formatMagnet} needs. */
export interface MagnetInput {
  /** Hex or base32 v1 info-hash, or its 20 bytes. Leave it out for a v2-only torrent. */
  infoHash?: string | Uint8Array;
  /** BEP 52 v2 info-hash: 64 hex digits (or `1220` + 64) or its 32 bytes; written as `urn:btmh:`. */
  infoHashV2?: string | Uint8Array;
  name?: string;
  trackers?: readonly string[];
  peers?: readonly PeerAddress[];
  webSeeds?: readonly string[];
}

/**
 * Formats a magnet URI with a hex `btih` and/or a `btmh` (v2), then `dn`, `tr`…, `ws`…, `x.pe`….
 * For a hybrid pass both hashes; for a v2-only torrent only `infoHashV2`.
 */
export function formatMagnet(m: MagnetInput): string {
  const xt: string[] = [];
  if (m.infoHash !== undefined) {
    const ih = typeof m.infoHash === 'string' ? parseInfoHash(m.infoHash) : m.infoHash;
    if (ih.length !== 20) bad('MAGNET_BAD_INFOHASH', 'info-hash must be 20 bytes');
    xt.push(`xt=urn:btih:${toHex(ih)}`);
  }
  if (m.infoHashV2 !== undefined) {
    const v2 =
      typeof m.infoHashV2 === 'string'
        ? parseInfoHashV2(m.infoHashV2.length === 64 ? `1220${m.infoHashV2}` : m.infoHashV2)
        : m.infoHashV2;
    if (v2.length !== 32) bad('MAGNET_BAD_INFOHASH', 'v2 info-hash must be 32 bytes');
    xt.push(`xt=urn:btmh:1220${toHex(v2)}`);
  }
  if (xt.length === 0) bad('MAGNET_NO_INFOHASH', 'formatMagnet needs infoHash or infoHashV2');
  let s = `magnet:?${xt.join('&')}`;
  if (m.name !== undefined) s += `&dn=${encodeURIComponent(m.name)}`;
  for (const t of m.trackers ?? []) s += `&tr=${encodeURIComponent(t)}`;
  for (const w of m.webSeeds ?? []) s += `&ws=${encodeURIComponent(w)}`;
  for (const p of m.peers ?? []) s += `&x.pe=${encodeURIComponent(formatPeerAddress(p))}`;
  return s;
}
