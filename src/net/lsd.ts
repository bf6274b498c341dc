/**
 * Local service discovery (BEP 14): the `BT-SEARCH` datagram, encoded and decoded. A client
 * multicasts one on its LAN to say "I am in these swarms, at this port"; any client in the same
 * swarm that hears it may connect to the sender's address at that port. The service that sends
 * and receives them is {@link LsdService} (lsd-service.ts).
 *
 * ```
 * BT-SEARCH * HTTP/1.1\r\n
 * Host: 239.192.152.143:6771\r\n
 * Port: 6881\r\n
 * Infohash: 0123456789abcdef0123456789abcdef01234567\r\n
 * cookie: 1a2b3c4d\r\n
 * \r\n
 * \r\n
 * ```
 *
 * Decoding is tolerant where real clients differ (header names in any case, CRLF or bare LF,
 * headers it does not know, hex in either case, a missing `Host` or `cookie`) and strict about
 * everything that sizes or addresses something: the datagram's length, the number of info-hashes,
 * the port, the hex.
 */
import { fromHex, toHex } from '../util/bytes.js';
import { NetError } from './errors.js';

/** The UDP port of both LSD groups. */
export const LSD_PORT = 6771;
/** The IPv4 group (org-local scope). */
export const LSD_GROUP4 = '239.192.152.143';
/** The IPv6 group (site-local scope). */
export const LSD_GROUP6 = 'ff15::efc0:988f';
/**
 * Longest datagram we send: BEP 14 asks announces with several info-hashes to stay within 1400
 * bytes, to avoid fragmentation.
 */
export const LSD_MAX_SEND_BYTES = 1400;
/** Longest datagram we accept (an Ethernet MTU); anything longer is refused unread. */
export const LSD_MAX_DATAGRAM_BYTES = 1500;
/**
 * Most info-hashes in one datagram, sent or accepted: as many as fit in
 * {@link LSD_MAX_SEND_BYTES} in the usual layout.
 */
export const LSD_MAX_INFO_HASHES = 25;
/** Longest `cookie` value accepted (libtorrent sends 8 hex digits at most). */
const MAX_COOKIE_CHARS = 64;

/** One decoded announce. */
export interface LsdAnnounce {
  /** The sender's BitTorrent port (1–65535): its peers are at the datagram's source address. */
  port: number;
  /** The swarms it announces, 20 bytes each, without duplicates, in the order sent. */
  infoHashes: Uint8Array[];
  /** The sender's cookie (how a client recognises its own announces), when present. */
  cookie?: string;
  /** The `Host` header as sent (the group and port), when present. */
  host?: string;
}

/** What {@link encodeLsdAnnounce} writes. */
export interface LsdAnnounceInit {
  /** Our BitTorrent listening port, 1–65535. */
  port: number;
  /** 1 to {@link LSD_MAX_INFO_HASHES} info-hashes of 20 bytes. */
  infoHashes: readonly Uint8Array[];
  /** Our cookie: 1–64 characters of [0-9a-zA-Z]. */
  cookie?: string;
  /** Which group the datagram goes to (the `Host` header). Default `4`. */
  family?: 4 | 6;
}

function malformed(why: string): NetError {
  return new NetError('NET_LSD_MALFORMED', `LSD datagram refused: ${why}`);
}

function badArgument(why: string): NetError {
  return new NetError('NET_LSD_BAD_OPTIONS', why);
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * Encodes one announce.
 * @throws {NetError} `NET_LSD_BAD_OPTIONS` for a port outside 1–65535, no info-hash or more than
 *   {@link LSD_MAX_INFO_HASHES}, an info-hash that is not 20 bytes, a bad cookie, or a datagram
 *   that would exceed {@link LSD_MAX_SEND_BYTES}.
 */
export function encodeLsdAnnounce(init: LsdAnnounceInit): Uint8Array {
  if (!validPort(init.port)) throw badArgument(`LSD port must be 1–65535, got ${init.port}`);
  const n = init.infoHashes.length;
  if (n === 0 || n > LSD_MAX_INFO_HASHES)
    throw badArgument(`an LSD announce carries 1–${LSD_MAX_INFO_HASHES} info-hashes, got ${n}`);
  if (init.cookie !== undefined && !/^[0-9a-zA-Z]{1,64}$/.test(init.cookie))
    throw badArgument('an LSD cookie is 1–64 letters and digits');
  const host = init.family === 6 ? `[${LSD_GROUP6}]:${LSD_PORT}` : `${LSD_GROUP4}:${LSD_PORT}`;
  let text = `BT-SEARCH * HTTP/1.1\r\nHost: ${host}\r\nPort: ${init.port}\r\n`;
  for (const ih of init.infoHashes) {
    if (ih.length !== 20) throw badArgument(`an info-hash is 20 bytes, got ${ih.length}`);
    text += `Infohash: ${toHex(ih)}\r\n`;
  }
  if (init.cookie !== undefined) text += `cookie: ${init.cookie}\r\n`;
  text += '\r\n\r\n';
  if (text.length > LSD_MAX_SEND_BYTES)
    throw badArgument(`the LSD datagram would be ${text.length} bytes (most ${LSD_MAX_SEND_BYTES})`);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * How many info-hashes fit in one datagram next to these headers, at most
 * {@link LSD_MAX_INFO_HASHES} (each `Infohash:` line is 52 bytes).
 */
export function lsdHashesPerDatagram(family: 4 | 6 = 4, cookie = 'ffffffff'): number {
  const fixed =
    encodeLsdAnnounce({ port: 65535, infoHashes: [new Uint8Array(20)], family, cookie }).length - 52;
  return Math.max(1, Math.min(LSD_MAX_INFO_HASHES, Math.floor((LSD_MAX_SEND_BYTES - fixed) / 52)));
}

/**
 * Decodes a received datagram.
 * @throws {NetError} `NET_LSD_MALFORMED`: empty or longer than {@link LSD_MAX_DATAGRAM_BYTES},
 *   bytes that are not printable ASCII text, a first line that is not `BT-SEARCH * HTTP/1.x`, a
 *   header line without a colon, a missing, repeated or out-of-range `Port`,
 *   no `Infohash`, one that is not 40 hex digits (or all zeros), more than
 *   {@link LSD_MAX_INFO_HASHES}, or an overlong `cookie`.
 */
export function decodeLsdAnnounce(datagram: Uint8Array): LsdAnnounce {
  if (datagram.length === 0) throw malformed('empty');
  if (datagram.length > LSD_MAX_DATAGRAM_BYTES)
    throw malformed(`${datagram.length} bytes (most ${LSD_MAX_DATAGRAM_BYTES})`);
  let text = '';
  for (let i = 0; i < datagram.length; i++) {
    const c = datagram[i] as number;
    // Printable ASCII, tab, CR and LF only.
    if (!((c >= 0x20 && c < 0x7f) || c === 0x09 || c === 0x0a || c === 0x0d))
      throw malformed(`byte 0x${c.toString(16).padStart(2, '0')} at ${i} is not text`);
    text += String.fromCharCode(c);
  }
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const request = lines[0] ?? '';
  if (!/^BT-SEARCH[ \t]+\*[ \t]+HTTP\/1\.[0-9][ \t]*$/i.test(request))
    throw malformed('not a BT-SEARCH request');
  let port: number | undefined;
  let cookie: string | undefined;
  let host: string | undefined;
  const hashes = new Map<string, Uint8Array>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    // An empty line ends the headers (a datagram is whole: its end ends them too).
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`header line ${i} has no name`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'port') {
      if (port !== undefined) throw malformed('more than one Port header');
      const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : Number.NaN;
      if (!validPort(n)) throw malformed(`port ${JSON.stringify(value.slice(0, 16))} is not 1–65535`);
      port = n;
    } else if (name === 'infohash') {
      if (!/^[0-9a-fA-F]{40}$/.test(value)) throw malformed('an Infohash is not 40 hex digits');
      const key = value.toLowerCase();
      if (/^0+$/.test(key)) throw malformed('an Infohash is all zeros');
      if (!hashes.has(key)) {
        if (hashes.size >= LSD_MAX_INFO_HASHES)
          throw malformed(`more than ${LSD_MAX_INFO_HASHES} info-hashes`);
        hashes.set(key, fromHex(key));
      }
    } else if (name === 'cookie') {
      if (value.length > MAX_COOKIE_CHARS) throw malformed('overlong cookie');
      cookie = value;
    } else if (name === 'host') {
      host = value;
    }
    // Other headers: ignored, as HTTP asks (forward compatibility, BEP 14).
  }
  if (port === undefined) throw malformed('no Port header');
  if (hashes.size === 0) throw malformed('no Infohash header');
  return {
    port,
    infoHashes: [...hashes.values()],
    ...(cookie !== undefined && cookie !== '' ? { cookie } : {}),
    ...(host !== undefined ? { host } : {}),
  };
}
