import { sha256 } from '../util/hash.js';
import { LedgerError } from './errors.js';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const INDEX = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

/** Bitcoin-alphabet base58 of `bytes`. */
export function toBase58(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  while (n > 0n) {
    s = ALPHABET[Number(n % 58n)] + s;
    n /= 58n;
  }
  return '1'.repeat(zeros) + s;
}

/**
 * Decodes base58 (at most `maxLength` characters).
 * @throws {LedgerError} `LEDGER_BAD_ADDRESS` on a character outside the alphabet or an over-long input.
 */
export function fromBase58(text: string, maxLength = 128): Uint8Array {
  if (text.length > maxLength) throw new LedgerError('LEDGER_BAD_ADDRESS', 'base58 string too long');
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  let n = 0n;
  for (const c of text) {
    const v = INDEX.get(c);
    if (v === undefined) throw new LedgerError('LEDGER_BAD_ADDRESS', 'not a base58 string');
    n = n * 58n + BigInt(v);
  }
  const body: number[] = [];
  while (n > 0n) {
    body.push(Number(n & 0xffn));
    n >>= 8n;
  }
  const out = new Uint8Array(zeros + body.length);
  for (let i = 0; i < body.length; i++) out[out.length - 1 - i] = body[i] as number;
  return out;
}

/** base58(payload ‖ first 4 bytes of sha256(sha256(payload))). */
export function toBase58Check(payload: Uint8Array): string {
  const check = sha256(sha256(payload)).subarray(0, 4);
  const all = new Uint8Array(payload.length + 4);
  all.set(payload);
  all.set(check, payload.length);
  return toBase58(all);
}

/**
 * Decodes base58check and verifies its 4-byte checksum.
 * @throws {LedgerError} `LEDGER_BAD_ADDRESS`
 */
export function fromBase58Check(text: string): Uint8Array {
  const all = fromBase58(text);
  if (all.length < 5) throw new LedgerError('LEDGER_BAD_ADDRESS', 'base58check string too short');
  const payload = all.subarray(0, all.length - 4);
  const check = sha256(sha256(payload));
  for (let i = 0; i < 4; i++) {
    if (check[i] !== all[payload.length + i])
      throw new LedgerError('LEDGER_BAD_ADDRESS', 'bad base58check checksum');
  }
  return payload;
}
