import { fromHex, toHex } from '../util/bytes.js';
import { BTT_SCHEMES, type BttVoucherScheme } from './btt-schemes.js';
import { type BttMessage, formatAmount, tryParseAmount } from './btt-speed.js';
import { WireError } from './errors.js';

/**
 * The JSON form of `btt_speed` messages: the form of the spec's test vectors, of the
 * conformance file (`bttkit/conformance/btt-speed.json`) and of the reference peer's log lines.
 * Channel ids and signatures are lower-case hex (no `0x`), amounts and prices decimal strings of
 * base units, `seq`, `credit` and `code` JSON numbers, `vs` the scheme name (absent: `ed25519-ledger`).
 * @module
 */

/** A `btt_speed` message in its JSON form (see the module documentation). */
export type BttMessageJson =
  | { t: 'bid'; seq: number; price: string; ch: string; vs?: string }
  | { t: 'grant'; seq: number; price: string; credit: number }
  | { t: 'pay'; ch: string; amt: string; sig: string; vs?: string }
  | { t: 'ack'; ch: string; amt: string; vs?: string }
  | { t: 'reject'; code: number; reason: string };

/** A message's JSON form. Amounts become decimal strings, bytes lower-case hex. */
export function bttMessageToJson(m: BttMessage): BttMessageJson {
  const vs = (v: BttVoucherScheme | undefined) => (v === undefined ? {} : { vs: v });
  switch (m.t) {
    case 'bid':
      return { t: 'bid', seq: m.seq, price: formatAmount(m.price), ch: toHex(m.ch), ...vs(m.vs) };
    case 'grant':
      return { t: 'grant', seq: m.seq, price: formatAmount(m.price), credit: m.credit };
    case 'pay':
      return { t: 'pay', ch: toHex(m.ch), amt: formatAmount(m.amt), sig: toHex(m.sig), ...vs(m.vs) };
    case 'ack':
      return { t: 'ack', ch: toHex(m.ch), amt: formatAmount(m.amt), ...vs(m.vs) };
    case 'reject':
      return { t: 'reject', code: m.code, reason: m.reason };
  }
}

function bad(what: string): never {
  throw new WireError('WIRE_BTT_BAD_MESSAGE', `invalid ${what} in a btt_speed JSON message`);
}
function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : bad(key);
}
function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : bad(key);
}
function amount(o: Record<string, unknown>, key: string): bigint {
  return tryParseAmount(str(o, key)) ?? bad(key);
}
function bytes(o: Record<string, unknown>, key: string): Uint8Array {
  const s = str(o, key);
  return /^([0-9a-f]{2})*$/.test(s) ? fromHex(s) : bad(key);
}
function scheme(o: Record<string, unknown>): { vs?: BttVoucherScheme } {
  const v = o.vs;
  if (v === undefined) return {};
  const name = (BTT_SCHEMES as readonly unknown[]).includes(v) ? (v as BttVoucherScheme) : bad('vs');
  return { vs: name };
}

/**
 * Reads a message from its JSON form (the inverse of {@link bttMessageToJson}). Throws
 * `WireError` `WIRE_BTT_BAD_MESSAGE` on anything else. Field rules (lengths, ranges) are the
 * codec's: run the result through `encodeBttMessage` to check them.
 */
export function bttMessageFromJson(json: unknown): BttMessage {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('message');
  const o = json as Record<string, unknown>;
  switch (o.t) {
    case 'bid':
      return { t: 'bid', seq: num(o, 'seq'), price: amount(o, 'price'), ch: bytes(o, 'ch'), ...scheme(o) };
    case 'grant':
      return { t: 'grant', seq: num(o, 'seq'), price: amount(o, 'price'), credit: num(o, 'credit') };
    case 'pay':
      return { t: 'pay', ch: bytes(o, 'ch'), amt: amount(o, 'amt'), sig: bytes(o, 'sig'), ...scheme(o) };
    case 'ack':
      return { t: 'ack', ch: bytes(o, 'ch'), amt: amount(o, 'amt'), ...scheme(o) };
    case 'reject':
      return { t: 'reject', code: num(o, 'code'), reason: str(o, 'reason') };
    default:
      return bad('t');
  }
}
