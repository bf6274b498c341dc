/**
 * The `btt_speed` codec as released before voucher schemes (commit cbae273, verbatim but for
 * import paths): an "old peer" for the backward-compatibility tests. Do not update it.
 */
import { type BDict, type BValue, decode, encode } from '../../../src/metainfo/bencode.js';
import { fromUtf8Strict } from '../../../src/util/bytes.js';
import { TypedEmitter } from '../../../src/wire/emitter.js';
import { WireError } from '../../../src/wire/errors.js';
import type {
  ExtensionContext,
  ExtensionFactory,
  HandshakeValue,
  WireExtension,
} from '../../../src/wire/extension.js';

/** The BEP 10 name of the BTT extension. */
export const BTT_EXTENSION = 'btt_speed';
/** The protocol version this codec speaks. */
export const BTT_VERSION = 1;
/** Largest `btt_speed` message, in bytes. */
export const BTT_MAX_MESSAGE = 1024;
/** Channel ids are exactly this many bytes (the ledger's 32 hex digits, raw). */
export const BTT_CHANNEL_ID_LENGTH = 16;
/** ed25519 signatures are this many bytes. */
export const BTT_SIGNATURE_LENGTH = 64;
/** Most digits in an amount or price (enough for any uint256). */
export const BTT_MAX_DIGITS = 78;
/** Largest amount or price: 2^256 − 1 base units. */
export const BTT_MAX_AMOUNT = (1n << 256n) - 1n;
/** Largest `credit` (bytes) and `seq`: 2^53 − 1, so that they fit a JS number exactly. */
export const BTT_MAX_COUNTER = Number.MAX_SAFE_INTEGER;
/** Longest `reason` in a reject, in bytes. */
export const BTT_MAX_REASON = 128;
/** Malformed messages tolerated (each answered with a reject) before the peer is dropped. */
export const BTT_MAX_MALFORMED = 3;

/** Reject reason codes. 1–2 come from the codec; the rest are for the payment layer. */
export const BttRejectCode = {
  /** The message could not be decoded or a field broke its rule. */
  MALFORMED: 1,
  /** Protocol version not supported. */
  UNSUPPORTED_VERSION: 2,
  /** Bid below the provider's reserve price. */
  BID_TOO_LOW: 3,
  /** The channel is unknown, closed, expired, or not payable to us. */
  UNKNOWN_CHANNEL: 4,
  /** The voucher's signature does not verify. */
  BAD_SIGNATURE: 5,
  /** The voucher's cumulative amount does not exceed the last accepted one. */
  NOT_INCREASING: 6,
  /** The channel's deposit cannot cover the voucher. */
  INSUFFICIENT_FUNDS: 7,
  /** Ledger or token profile differs from ours. */
  WRONG_LEDGER: 8,
  /** Too many messages. */
  RATE_LIMITED: 9,
  /** Credit exhausted: pay before more data is served. */
  PAYMENT_REQUIRED: 10,
  /** Something failed on our side. */
  INTERNAL: 11,
} as const;

/** The `btt` dictionary of the extended handshake. */
export interface BttHandshake {
  /** Protocol version (1). */
  v: number;
  /** The peer's TRON address (base58check, `T…`, 34 characters). */
  addr: string;
  /** The ledger the peer pays and is paid through (1–64 of `A–Z a–z 0–9 . _ : -`). */
  ledger: string;
  /** Token profile: `BTT` or `BTTOLD` (1–16 of `A–Z 0–9 _`). */
  token: string;
  /** Reserve price: the lowest bid the peer accepts as a provider, base units per MiB. */
  reserve: bigint;
}

/** `bid` (requester → provider): the most it will pay per MiB, from which channel. */
export interface BttBid {
  t: 'bid';
  /** Bid sequence number; the grant echoes it. */
  seq: number;
  /** Maximum price, base units per MiB. */
  price: bigint;
  /** The channel it will pay from (16 bytes). */
  ch: Uint8Array;
}
/** `grant` (provider → requester): the bid response. */
export interface BttGrant {
  t: 'grant';
  /** The bid answered. */
  seq: number;
  /** Clearing price, base units per MiB (never above the bid). */
  price: bigint;
  /** Bytes the provider serves ahead of payment. */
  credit: number;
}
/** `pay` (requester → provider): a voucher. */
export interface BttPay {
  t: 'pay';
  /** Channel id (16 bytes). */
  ch: Uint8Array;
  /** Cumulative amount promised on the channel so far, base units. */
  amt: bigint;
  /** ed25519 signature by the channel key (64 bytes). */
  sig: Uint8Array;
}
/** `ack` (provider → requester): the highest voucher accepted. */
export interface BttAck {
  t: 'ack';
  ch: Uint8Array;
  amt: bigint;
}
/** `reject` (either way). */
export interface BttReject {
  t: 'reject';
  /** A {@link BttRejectCode} (1–65535). */
  code: number;
  /** Short human-readable reason (≤ 128 bytes UTF-8). */
  reason: string;
}
/** Every `btt_speed` message. */
export type BttMessage = BttBid | BttGrant | BttPay | BttAck | BttReject;

/** The result of {@link decodeBttMessage}. */
export type BttDecoded =
  | { ok: true; message: BttMessage }
  | { ok: true; message: undefined; type: string } // unknown type: ignore
  | { ok: false; code: number; reason: string };

/** Formats base units as a canonical decimal string (no sign, no leading zeros). */
export function formatAmount(value: bigint): string {
  if (value < 0n || value > BTT_MAX_AMOUNT) {
    throw new WireError('WIRE_BTT_BAD_AMOUNT', 'amount must be in 0 .. 2^256 - 1');
  }
  return value.toString(10);
}

/** Parses a canonical decimal string of base units, or returns `undefined`. */
export function tryParseAmount(text: string | Uint8Array): bigint | undefined {
  const s = typeof text === 'string' ? text : fromUtf8Strict(text);
  if (s === undefined || s.length === 0 || s.length > BTT_MAX_DIGITS) return undefined;
  if (!/^(0|[1-9][0-9]*)$/.test(s)) return undefined;
  const v = BigInt(s);
  return v <= BTT_MAX_AMOUNT ? v : undefined;
}

/** A received message that breaks the spec: answered with a reject of `rejectCode`, never thrown out. */
class Malformed extends WireError {
  constructor(
    readonly rejectCode: number,
    reason: string,
  ) {
    super('WIRE_BTT_BAD_MESSAGE', reason);
  }
}

function bad(reason: string, code: number = BttRejectCode.MALFORMED): never {
  throw new Malformed(code, reason);
}

function field(d: BDict, key: string): BValue {
  const v = d.get(key);
  if (v === undefined) bad(`missing ${key}`);
  return v;
}
function bytesField(d: BDict, key: string, min: number, max: number): Uint8Array {
  const v = field(d, key);
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max) bad(`bad ${key}`);
  return v.slice();
}
function textField(d: BDict, key: string, pattern: RegExp): string {
  const s = fromUtf8Strict(bytesField(d, key, 0, 256));
  if (s === undefined || !pattern.test(s)) bad(`bad ${key}`);
  return s;
}
function amountField(d: BDict, key: string): bigint {
  const v = field(d, key);
  const n = v instanceof Uint8Array ? tryParseAmount(v) : undefined;
  if (n === undefined) bad(`bad ${key}`);
  return n;
}
function intField(d: BDict, key: string, min: number, max: number): number {
  const v = field(d, key);
  if (typeof v !== 'bigint' || v < BigInt(min) || v > BigInt(max)) bad(`bad ${key}`);
  return Number(v);
}

const ADDR = /^T[1-9A-HJ-NP-Za-km-z]{33}$/;
const LEDGER = /^[A-Za-z0-9._:-]{1,64}$/;
const TOKEN = /^[A-Z0-9_]{1,16}$/;

/** Encodes a message (canonical bencoding). Throws `WireError` `WIRE_BTT_BAD_MESSAGE` on an invalid field. */
export function encodeBttMessage(m: BttMessage): Uint8Array {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new WireError('WIRE_BTT_BAD_MESSAGE', `invalid ${what} in ${m.t}`);
  };
  const ch = (c: Uint8Array) => check(c.length === BTT_CHANNEL_ID_LENGTH, 'ch');
  const counter = (n: number, what: string) => check(Number.isSafeInteger(n) && n >= 0, what);
  switch (m.t) {
    case 'bid':
      ch(m.ch);
      counter(m.seq, 'seq');
      return encode({ t: 'bid', seq: m.seq, price: formatAmount(m.price), ch: m.ch });
    case 'grant':
      counter(m.seq, 'seq');
      counter(m.credit, 'credit');
      return encode({ t: 'grant', seq: m.seq, price: formatAmount(m.price), credit: m.credit });
    case 'pay':
      ch(m.ch);
      check(m.sig.length === BTT_SIGNATURE_LENGTH, 'sig');
      return encode({ t: 'pay', ch: m.ch, amt: formatAmount(m.amt), sig: m.sig });
    case 'ack':
      ch(m.ch);
      return encode({ t: 'ack', ch: m.ch, amt: formatAmount(m.amt) });
    case 'reject': {
      check(Number.isInteger(m.code) && m.code >= 1 && m.code <= 65535, 'code');
      const reason = new TextEncoder().encode(m.reason);
      check(reason.length <= BTT_MAX_REASON, 'reason');
      return encode({ t: 'reject', code: m.code, reason });
    }
  }
}

/**
 * Decodes and validates a message. Never throws: a malformed message yields `{ ok: false, code,
 * reason }` (to be answered with a reject), an unknown `t` yields `{ ok: true, message: undefined }`
 * (to be ignored). Unknown keys are ignored.
 */
export function decodeBttMessage(payload: Uint8Array): BttDecoded {
  try {
    if (payload.length > BTT_MAX_MESSAGE) bad('message too large');
    let v: BValue;
    try {
      v = decode(payload, { maxBytes: BTT_MAX_MESSAGE, maxDepth: 4, maxItems: 64, maxIntegerDigits: 20 });
    } catch {
      return bad('not bencoded');
    }
    if (!(v instanceof Map)) bad('not a dictionary');
    const d = v;
    const t = field(d, 't');
    if (!(t instanceof Uint8Array) || t.length > 16) bad('bad t');
    const type = fromUtf8Strict(t);
    if (type === undefined) bad('bad t');
    switch (type) {
      case 'bid':
        return {
          ok: true,
          message: {
            t: 'bid',
            seq: intField(d, 'seq', 0, BTT_MAX_COUNTER),
            price: amountField(d, 'price'),
            ch: bytesField(d, 'ch', BTT_CHANNEL_ID_LENGTH, BTT_CHANNEL_ID_LENGTH),
          },
        };
      case 'grant':
        return {
          ok: true,
          message: {
            t: 'grant',
            seq: intField(d, 'seq', 0, BTT_MAX_COUNTER),
            price: amountField(d, 'price'),
            credit: intField(d, 'credit', 0, BTT_MAX_COUNTER),
          },
        };
      case 'pay':
        return {
          ok: true,
          message: {
            t: 'pay',
            ch: bytesField(d, 'ch', BTT_CHANNEL_ID_LENGTH, BTT_CHANNEL_ID_LENGTH),
            amt: amountField(d, 'amt'),
            sig: bytesField(d, 'sig', BTT_SIGNATURE_LENGTH, BTT_SIGNATURE_LENGTH),
          },
        };
      case 'ack':
        return {
          ok: true,
          message: {
            t: 'ack',
            ch: bytesField(d, 'ch', BTT_CHANNEL_ID_LENGTH, BTT_CHANNEL_ID_LENGTH),
            amt: amountField(d, 'amt'),
          },
        };
      case 'reject': {
        const reason = fromUtf8Strict(bytesField(d, 'reason', 0, BTT_MAX_REASON));
        if (reason === undefined) bad('bad reason');
        return { ok: true, message: { t: 'reject', code: intField(d, 'code', 1, 65535), reason } };
      }
      default:
        return { ok: true, message: undefined, type };
    }
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, code: err.rejectCode, reason: err.message };
    return { ok: false, code: BttRejectCode.MALFORMED, reason: 'malformed' };
  }
}

/** The `btt` value for our extended handshake. */
export function bttHandshakeFields(h: BttHandshake): { [key: string]: HandshakeValue } {
  const ok =
    Number.isSafeInteger(h.v) &&
    h.v >= 1 &&
    ADDR.test(h.addr) &&
    LEDGER.test(h.ledger) &&
    TOKEN.test(h.token) &&
    h.reserve >= 0n;
  if (!ok) throw new WireError('WIRE_BTT_BAD_HANDSHAKE', 'invalid btt handshake fields');
  return { v: h.v, addr: h.addr, ledger: h.ledger, token: h.token, reserve: formatAmount(h.reserve) };
}

/** Encodes `{ btt: … }` as it appears inside an extended handshake (for test vectors). */
export function encodeBttHandshake(h: BttHandshake): Uint8Array {
  return encode({ btt: bttHandshakeFields(h) });
}

/**
 * Reads the `btt` dictionary of a peer's extended handshake. Returns `undefined` when absent,
 * `{ error }` when present but invalid (the peer is then treated as lacking BTT), unknown keys ignored.
 */
export function parseBttHandshake(
  extendedHandshake: BDict,
): BttHandshake | { error: string; code: number } | undefined {
  const b = extendedHandshake.get('btt');
  if (b === undefined) return undefined;
  try {
    if (!(b instanceof Map)) bad('btt is not a dictionary');
    const v = intField(b, 'v', 0, 65535);
    if (v < 1) bad('bad v');
    if (v !== BTT_VERSION) bad('unsupported version', BttRejectCode.UNSUPPORTED_VERSION);
    return {
      v,
      addr: textField(b, 'addr', ADDR),
      ledger: textField(b, 'ledger', LEDGER),
      token: textField(b, 'token', TOKEN),
      reserve: amountField(b, 'reserve'),
    };
  } catch (err) {
    const code = err instanceof Malformed ? err.rejectCode : BttRejectCode.MALFORMED;
    return { error: err instanceof Malformed ? err.message : 'invalid btt handshake', code };
  }
}

/** Events of a {@link BttSpeedExtension}. */
export interface BttSpeedEvents {
  /** The peer's `btt` handshake (valid, version 1). */
  handshake: [BttHandshake];
  bid: [BttBid];
  grant: [BttGrant];
  pay: [BttPay];
  ack: [BttAck];
  reject: [BttReject];
  /** A malformed message arrived; a reject was sent. */
  malformed: [code: number, reason: string];
}

/** Options of {@link bttSpeed}. */
export interface BttSpeedOptions {
  /** Our `btt` handshake. */
  handshake: BttHandshake;
  /** Malformed messages tolerated before the peer is dropped. Default {@link BTT_MAX_MALFORMED}. */
  maxMalformed?: number;
}

/**
 * The `btt_speed` extension on one wire: codec, validation and typed events. The behaviour —
 * when to bid, grant, pay — belongs to the payment layer that listens to it.
 */
export class BttSpeedExtension extends TypedEmitter<BttSpeedEvents> implements WireExtension {
  readonly name = BTT_EXTENSION;
  readonly maxPayload = BTT_MAX_MESSAGE;
  #ctx: ExtensionContext;
  #opts: BttSpeedOptions;
  #peer: BttHandshake | undefined;
  #malformed = 0;

  constructor(ctx: ExtensionContext, options: BttSpeedOptions) {
    super();
    this.#ctx = ctx;
    this.#opts = options;
    bttHandshakeFields(options.handshake); // validate early
  }

  /** The peer's `btt` handshake, once received and valid. */
  get peer(): BttHandshake | undefined {
    return this.#peer;
  }

  /** True when the peer speaks `btt_speed` version 1 with a valid handshake. */
  get active(): boolean {
    return this.#peer !== undefined && this.#ctx.peerSupports;
  }

  handshakeFields(): Readonly<Record<string, HandshakeValue>> {
    return { btt: bttHandshakeFields(this.#opts.handshake) };
  }

  onExtendedHandshake(handshake: BDict): void {
    const parsed = parseBttHandshake(handshake);
    this.#peer = parsed && !('error' in parsed) && this.#ctx.peerSupports ? parsed : undefined;
    if (this.#peer) this.emit('handshake', this.#peer);
  }

  onMessage(payload: Uint8Array): void {
    const r = decodeBttMessage(payload);
    if (!r.ok) {
      this.#malformed++;
      this.emit('malformed', r.code, r.reason);
      if (this.#malformed >= (this.#opts.maxMalformed ?? BTT_MAX_MALFORMED)) {
        throw new WireError('WIRE_BTT_MALFORMED', `${this.#malformed} malformed btt_speed messages`, {
          details: { code: r.code },
        });
      }
      if (this.#ctx.peerSupports) this.send({ t: 'reject', code: r.code, reason: r.reason });
      return;
    }
    const m = r.message;
    if (!m) return; // unknown type: ignored for forward compatibility
    switch (m.t) {
      case 'bid':
        this.emit('bid', m);
        break;
      case 'grant':
        this.emit('grant', m);
        break;
      case 'pay':
        this.emit('pay', m);
        break;
      case 'ack':
        this.emit('ack', m);
        break;
      case 'reject':
        this.emit('reject', m);
        break;
    }
  }

  /** Sends a message. Throws `WIRE_NOT_SUPPORTED` when the peer lacks the extension. */
  send(message: BttMessage): void {
    this.#ctx.send(encodeBttMessage(message));
  }
  bid(seq: number, price: bigint, ch: Uint8Array): void {
    this.send({ t: 'bid', seq, price, ch });
  }
  grant(seq: number, price: bigint, credit: number): void {
    this.send({ t: 'grant', seq, price, credit });
  }
  pay(ch: Uint8Array, amt: bigint, sig: Uint8Array): void {
    this.send({ t: 'pay', ch, amt, sig });
  }
  ack(ch: Uint8Array, amt: bigint): void {
    this.send({ t: 'ack', ch, amt });
  }
  reject(code: number, reason: string): void {
    this.send({ t: 'reject', code, reason });
  }
}

/** The `btt_speed` extension factory for `PeerWire.use`. */
export function bttSpeed(options: BttSpeedOptions): ExtensionFactory<BttSpeedExtension> {
  return (ctx) => new BttSpeedExtension(ctx, options);
}
