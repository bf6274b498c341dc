/**
 * IP address literals: parsing to bytes, the canonical text form (RFC 5952 for IPv6, an
 * IPv4-mapped IPv6 address as the IPv4 address it maps), and the mapping a dual-stack socket
 * needs. Peer addresses are compared as text (`host:port` ids), so every address that enters the
 * session — from a socket, a tracker, PEX, a magnet — goes through {@link normalizeHost} first:
 * `2001:DB8:0::1`, `2001:db8::1` and `[2001:db8::1]` are one peer, and `::ffff:192.0.2.1` (how a
 * dual-stack socket shows an IPv4 peer) is the IPv4 peer `192.0.2.1`.
 */

/** A dotted-quad IPv4 literal (1–3 digits per part, each ≤ 255) as 4 bytes, or undefined. */
function ipv4Bytes(host: string): Uint8Array | undefined {
  const n = host.length;
  if (n < 7 || n > 15) return undefined;
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? host.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else if (c === 46) {
      if (digits === 0 || value > 255 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

/** The 16 bytes of an IPv6 literal (without brackets or zone; a dotted IPv4 tail allowed), or undefined. */
function ipv6Bytes(host: string): Uint8Array | undefined {
  if (host.length < 2 || host.length > 45 || !host.includes(':')) return undefined;
  let text = host;
  let tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // `::ffff:192.0.2.1`, `64:ff9b::192.0.2.1`: the last 32 bits written as IPv4.
    tail = ipv4Bytes(text.slice(lastColon + 1));
    if (!tail) return undefined;
    const hi = ((tail[0] as number) << 8) | (tail[1] as number);
    const lo = ((tail[2] as number) << 8) | (tail[3] as number);
    text = `${text.slice(0, lastColon + 1)}${hi.toString(16)}:${lo.toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? '';
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = Number.parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  return out;
}

/**
 * The bytes of an IP address literal: 4 for IPv4 — an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`
 * or `::ffff:xxxx:xxxx`) included, as the IPv4 peer it is — 16 for IPv6; undefined for anything
 * else (host names, zones, garbage).
 */
export function ipBytes(host: string): Uint8Array | undefined {
  const v4 = ipv4Bytes(host);
  if (v4) return v4;
  const v6 = ipv6Bytes(host);
  if (v6 && isMapped(v6)) return v6.slice(12);
  return v6;
}

/** `::ffff:0:0/96`, IPv4-mapped IPv6. */
function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * The text of 4 or 16 address bytes at `offset`: dotted IPv4; IPv6 in RFC 5952 form (lower case,
 * the longest run of two or more zero groups as `::`, the first of equal runs); an IPv4-mapped
 * IPv6 address as dotted IPv4.
 */
export function formatIp(
  bytes: Uint8Array,
  offset = 0,
  length: 4 | 16 = bytes.length === 4 ? 4 : 16,
): string {
  const b = bytes.subarray(offset, offset + length);
  if (length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (isMapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return formatIPv6(b);
}

/** Formats 16 bytes as an RFC 5952 IPv6 address (lower case, longest zero run as `::`), mapped ones too. */
export function formatIPv6(b: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    groups.push(((b[offset + 2 * i] as number) << 8) | (b[offset + 2 * i + 1] as number));
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * The canonical text of a host: an IP literal in the form {@link formatIp} gives (brackets
 * removed, IPv4-mapped IPv6 as IPv4, IPv6 lower-case and compressed); an IPv6 literal with a zone
 * (`fe80::1%eth0`) keeps its zone; anything else (a host name) is returned unchanged.
 *
 * @example
 * ```ts
 * normalizeHost('::ffff:192.0.2.1'); // '192.0.2.1'
 * normalizeHost('[2001:DB8:0:0::1]'); // '2001:db8::1'
 * ```
 */
export function normalizeHost(host: string): string {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const zone = h.indexOf('%');
  if (zone >= 0) {
    const b = ipv6Bytes(h.slice(0, zone));
    return b ? `${formatIPv6(b)}${h.slice(zone)}` : host;
  }
  const b = ipBytes(h);
  return b ? formatIp(b) : host;
}

/** The IP version of an address literal (4, 6; IPv4-mapped IPv6 counts as 4), or 0 for a name. */
export function ipVersion(host: string): 0 | 4 | 6 {
  const b = ipBytes(host);
  return b === undefined ? 0 : b.length === 4 ? 4 : 6;
}

/**
 * An IPv4 literal as the IPv4-mapped IPv6 address a dual-stack (`::`, IPv6-only off) socket sends
 * to; other hosts unchanged.
 */
export function toDualStackHost(host: string): string {
  return ipv4Bytes(host) ? `::ffff:${host}` : host;
}
