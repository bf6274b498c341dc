import { ArgumentError } from './errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] as number];
  return s;
}

/** Parses hex (either case). Throws `ArgumentError` (`UTIL_BAD_HEX`) on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new ArgumentError('UTIL_BAD_HEX', 'not a hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** UTF-8 encoding of `s`. */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Decodes UTF-8, replacing invalid sequences with U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  if (bytes.length <= 32) {
    // Short ASCII (most keys and path elements): skip the decoder call.
    let s = '';
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] as number;
      if (c >= 0x80) return utf8Decoder.decode(bytes);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(bytes);
}

/** Decodes UTF-8, or returns `undefined` if `bytes` is not valid UTF-8. */
export function fromUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Each byte as one UTF-16 code unit (latin1/"binary"); lossless and byte-ordered. */
export function toBinaryString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Inverse of {@link toBinaryString}. Throws if a code unit is above 0xff. */
export function fromBinaryString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new ArgumentError('UTIL_BAD_BINARY_STRING', 'code unit above 0xff in binary string');
    out[i] = c;
  }
  return out;
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison of raw bytes (the order of bencoded dictionary keys). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (upper case, no padding). */
export function toBase32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * RFC 4648 base32, case-insensitive, padding optional. Throws `ArgumentError` (`UTIL_BAD_BASE32`) on
 * a character outside the alphabet or non-zero trailing bits.
 */
export function fromBase32(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '').toUpperCase();
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of clean) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new ArgumentError('UTIL_BAD_BASE32', 'not a base32 string');
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[o++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) {
    throw new ArgumentError('UTIL_BAD_BASE32', 'base32 string has non-zero trailing bits');
  }
  return out;
}
