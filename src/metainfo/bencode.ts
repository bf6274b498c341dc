import { compareBytes, fromBinaryString, toBinaryString, utf8 } from '../util/bytes.js';
import { BencodeError, type BencodeErrorCode } from '../util/errors.js';

/**
 * A decoded bencode value. Integers are `bigint` (bencode integers are unbounded), byte strings
 * are `Uint8Array`, dictionaries are `Map`s keyed by the **binary string** of the raw key bytes
 * (one UTF-16 code unit per byte: lossless, ordered like the bytes, identical to the text for
 * ASCII keys).
 */
export type BValue = bigint | Uint8Array | BList | BDict;
/** A bencoded list. */
export type BList = BValue[];
/** A bencoded dictionary; keys are binary strings of the raw key bytes. */
export type BDict = Map<string, BValue>;

/**
 * Already-bencoded bytes that {@link encode} copies verbatim (e.g. an info dictionary whose exact
 * bytes fix the info-hash). The caller vouches that they are one valid bencoded value.
 */
export class RawBencode {
  constructor(readonly bytes: Uint8Array) {}
}

/**
 * What {@link encode} accepts: decoded values, plus plain objects (keys are text, encoded as
 * UTF-8; `undefined` members are left out), strings (UTF-8) and safe-integer numbers.
 */
export type BEncodable =
  | BValue
  | RawBencode
  | string
  | number
  | readonly BEncodable[]
  | ReadonlyMap<string, BEncodable>
  | { readonly [key: string]: BEncodable | undefined };

/** Limits and strictness of {@link decode}. Every limit is enforced before memory is spent. */
export interface DecodeOptions {
  /** Largest input accepted, in bytes. Default 64 MiB. */
  maxBytes?: number;
  /** Deepest nesting of lists and dictionaries. Default 64. */
  maxDepth?: number;
  /** Longest byte string. Default: `maxBytes`. */
  maxStringLength?: number;
  /** Most values (of any kind) in one document. Default 4,000,000. */
  maxItems?: number;
  /** Most digits in an integer (sign excluded). Default 40 (enough for any 128-bit value). */
  maxIntegerDigits?: number;
  /**
   * `lenient` (default) accepts dictionary keys out of order, a harmless deviation some old
   * torrent makers produce; `strict` refuses it. Duplicate keys are refused in both modes.
   */
  keyOrder?: 'strict' | 'lenient';
}

/** The byte range `[start, end)` of a value inside the input. */
export interface Span {
  start: number;
  end: number;
}

/** The result of {@link decodePrefix}. */
export interface DecodeResult {
  value: BValue;
  /** Offset just past the value. */
  end: number;
  /**
   * When the root value is a dictionary: the exact byte range of each of its values, by key.
   * (This is how the info-hash is taken over the original `info` bytes.)
   */
  rootSpans: Map<string, Span>;
  /** True if some dictionary had its keys out of order (accepted in `lenient` mode). */
  unsortedKeys: boolean;
}

const E = 0x65; // e
const I = 0x69; // i
const L = 0x6c; // l
const D = 0x64; // d
const COLON = 0x3a;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

type Frame =
  | { kind: 'list'; items: BList }
  | {
      kind: 'dict';
      map: BDict;
      key: string | undefined;
      lastKey: Uint8Array | undefined;
      valueStart: number;
    };

function fail(code: BencodeErrorCode, message: string, offset: number): never {
  throw new BencodeError(code, `${message} at offset ${offset}`, { details: { offset } });
}

/**
 * Decodes one bencoded value that must span all of `data`. Iterative (no recursion), bounded by
 * {@link DecodeOptions}, linear in the input. Byte strings are views into `data`.
 *
 * @throws {BencodeError} with a code: `BENCODE_EMPTY`, `BENCODE_TOO_LARGE`, `BENCODE_TRUNCATED`,
 * `BENCODE_TRAILING_DATA`, `BENCODE_UNEXPECTED_BYTE`, `BENCODE_BAD_INTEGER`,
 * `BENCODE_BAD_STRING_LENGTH`, `BENCODE_STRING_TOO_LONG`, `BENCODE_DEPTH_LIMIT`,
 * `BENCODE_ITEM_LIMIT`, `BENCODE_KEY_NOT_STRING`, `BENCODE_DUPLICATE_KEY`, `BENCODE_UNSORTED_KEYS`,
 * `BENCODE_MISSING_VALUE`.
 *
 * @example
 * ```ts
 * const v = decode(utf8('d3:fooi42ee')) as BDict;
 * v.get('foo'); // 42n
 * ```
 */
export function decode(data: Uint8Array, options?: DecodeOptions): BValue {
  const maxBytes = options?.maxBytes ?? 64 * 1024 * 1024;
  if (data.length > maxBytes) fail('BENCODE_TOO_LARGE', `input larger than ${maxBytes} bytes`, maxBytes);
  const r = decodePrefix(data, 0, options);
  if (r.end !== data.length) fail('BENCODE_TRAILING_DATA', 'data after the bencoded value', r.end);
  return r.value;
}

/**
 * Decodes one bencoded value starting at `offset` and reports where it ends; bytes after it are
 * left alone (BEP 9 `data` messages append raw bytes to a bencoded dictionary).
 */
export function decodePrefix(data: Uint8Array, offset = 0, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxDepth = options.maxDepth ?? 64;
  const maxString = options.maxStringLength ?? maxBytes;
  const maxItems = options.maxItems ?? 4_000_000;
  const maxDigits = options.maxIntegerDigits ?? 40;
  const strictOrder = options.keyOrder === 'strict';

  const len = data.length;
  if (offset >= len) fail('BENCODE_EMPTY', 'no bencoded value', offset);
  const limit = Math.min(len, offset + maxBytes);

  const stack: Frame[] = [];
  const rootSpans = new Map<string, Span>();
  let unsortedKeys = false;
  let items = 0;
  let pos = offset;

  for (;;) {
    if (pos >= limit) {
      if (limit < len) fail('BENCODE_TOO_LARGE', `bencoded value larger than ${maxBytes} bytes`, pos);
      fail('BENCODE_TRUNCATED', 'input ends inside a value', pos);
    }
    const c = data[pos] as number;
    const top = stack[stack.length - 1];
    let value: BValue;

    if (top?.kind === 'dict' && top.key === undefined && c !== E) {
      if (c < ZERO || c > NINE) fail('BENCODE_KEY_NOT_STRING', 'dictionary key is not a byte string', pos);
    }
    if (top?.kind === 'dict' && top.key !== undefined && stack.length === 1) top.valueStart = pos;

    if (c === E) {
      if (!top) fail('BENCODE_UNEXPECTED_BYTE', "unexpected 'e'", pos);
      if (top.kind === 'dict' && top.key !== undefined) {
        fail('BENCODE_MISSING_VALUE', 'dictionary key without a value', pos);
      }
      stack.pop();
      pos++;
      value = top.kind === 'list' ? top.items : top.map;
    } else if (c === L || c === D) {
      if (stack.length >= maxDepth) fail('BENCODE_DEPTH_LIMIT', `nesting deeper than ${maxDepth}`, pos);
      if (++items > maxItems) fail('BENCODE_ITEM_LIMIT', `more than ${maxItems} values`, pos);
      stack.push(
        c === L
          ? { kind: 'list', items: [] }
          : { kind: 'dict', map: new Map(), key: undefined, lastKey: undefined, valueStart: -1 },
      );
      pos++;
      continue;
    } else if (c === I) {
      if (++items > maxItems) fail('BENCODE_ITEM_LIMIT', `more than ${maxItems} values`, pos);
      const start = pos + 1;
      let p = start;
      if (p < limit && data[p] === MINUS) p++;
      const digitsStart = p;
      while (p < limit && p - digitsStart <= maxDigits) {
        const d = data[p] as number;
        if (d < ZERO || d > NINE) break;
        p++;
      }
      const digits = p - digitsStart;
      if (p >= limit) {
        if (limit < len) fail('BENCODE_TOO_LARGE', `bencoded value larger than ${maxBytes} bytes`, p);
        fail('BENCODE_TRUNCATED', 'input ends inside an integer', p);
      }
      if (digits > maxDigits) fail('BENCODE_BAD_INTEGER', `integer longer than ${maxDigits} digits`, start);
      if (data[p] !== E) fail('BENCODE_BAD_INTEGER', 'integer contains a non-digit', p);
      if (digits === 0) fail('BENCODE_BAD_INTEGER', 'integer has no digits', start);
      if (data[digitsStart] === ZERO && (digits > 1 || digitsStart !== start)) {
        fail('BENCODE_BAD_INTEGER', 'integer with a leading zero or negative zero', start);
      }
      if (digits <= 15) {
        let n = 0;
        for (let k = digitsStart; k < p; k++) n = n * 10 + ((data[k] as number) - ZERO);
        value = BigInt(digitsStart === start ? n : -n);
      } else {
        let text = '';
        for (let k = start; k < p; k++) text += String.fromCharCode(data[k] as number);
        value = BigInt(text);
      }
      pos = p + 1;
    } else if (c >= ZERO && c <= NINE) {
      if (++items > maxItems) fail('BENCODE_ITEM_LIMIT', `more than ${maxItems} values`, pos);
      let p = pos;
      let n = 0;
      while (p < limit) {
        const d = data[p] as number;
        if (d < ZERO || d > NINE) break;
        if (p > pos && data[pos] === ZERO)
          fail('BENCODE_BAD_STRING_LENGTH', 'string length with a leading zero', pos);
        n = n * 10 + (d - ZERO);
        if (n > maxString) fail('BENCODE_STRING_TOO_LONG', `string longer than ${maxString} bytes`, pos);
        p++;
      }
      if (p >= limit) {
        if (limit < len) fail('BENCODE_TOO_LARGE', `bencoded value larger than ${maxBytes} bytes`, p);
        fail('BENCODE_TRUNCATED', 'input ends inside a string length', p);
      }
      if (data[p] !== COLON) fail('BENCODE_BAD_STRING_LENGTH', "string length not followed by ':'", p);
      const sStart = p + 1;
      const sEnd = sStart + n;
      if (sEnd > limit) {
        if (sEnd > len) fail('BENCODE_TRUNCATED', `string of ${n} bytes runs past the end of the input`, pos);
        fail('BENCODE_TOO_LARGE', `bencoded value larger than ${maxBytes} bytes`, pos);
      }
      value = data.subarray(sStart, sEnd);
      pos = sEnd;
    } else {
      fail('BENCODE_UNEXPECTED_BYTE', `unexpected byte 0x${c.toString(16).padStart(2, '0')}`, pos);
    }

    // Place the completed value into its parent, or finish.
    const parent = stack[stack.length - 1];
    if (!parent) return { value, end: pos, rootSpans, unsortedKeys };
    if (parent.kind === 'list') {
      parent.items.push(value);
    } else if (parent.key === undefined) {
      // `value` is a key (checked above to start with a digit, so it is a byte string).
      const keyBytes = value as Uint8Array;
      const key = keyBytes.length <= 64 ? shortBinaryString(keyBytes) : toBinaryString(keyBytes);
      if (parent.map.has(key)) fail('BENCODE_DUPLICATE_KEY', 'duplicate dictionary key', pos);
      if (parent.lastKey && compareBytes(parent.lastKey, keyBytes) > 0) {
        if (strictOrder) fail('BENCODE_UNSORTED_KEYS', 'dictionary keys out of order', pos);
        unsortedKeys = true;
      }
      parent.lastKey = keyBytes;
      parent.key = key;
    } else {
      parent.map.set(parent.key, value);
      if (stack.length === 1) rootSpans.set(parent.key, { start: parent.valueStart, end: pos });
      parent.key = undefined;
    }
  }
}

/**
 * Canonical bencoding: dictionary keys sorted by their raw bytes, integers without leading zeros.
 * Refuses what has no bencoding (floats, unsafe-integer numbers, `null`, booleans, cycles).
 *
 * @example
 * ```ts
 * encode({ b: 1, a: 'x' }); // d1:a1:x1:bi1ee
 * ```
 */
export function encode(value: BEncodable): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
  };
  const ascii = (s: string) => push(fromBinaryString(s));
  const bytes = (b: Uint8Array) => {
    ascii(`${b.length}:`);
    push(b);
  };

  const walk = (v: BEncodable | undefined, depth: number): void => {
    if (depth > 512) throw new BencodeError('BENCODE_DEPTH_LIMIT', 'value nested too deeply (a cycle?)');
    if (typeof v === 'bigint') {
      ascii(`i${v}e`);
    } else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) {
        throw new BencodeError('BENCODE_NOT_ENCODABLE', `number ${v} is not a safe integer`);
      }
      ascii(`i${v}e`);
    } else if (typeof v === 'string') {
      bytes(utf8(v));
    } else if (v instanceof RawBencode) {
      push(v.bytes);
    } else if (v instanceof Uint8Array) {
      bytes(v);
    } else if (Array.isArray(v)) {
      ascii('l');
      for (const item of v as readonly BEncodable[]) walk(item, depth + 1);
      ascii('e');
    } else if (v instanceof Map) {
      const entries: [Uint8Array, BEncodable][] = [];
      for (const [k, val] of v as ReadonlyMap<string, BEncodable>) entries.push([fromBinaryString(k), val]);
      dict(entries, depth);
    } else if (v !== null && typeof v === 'object' && isPlainObject(v)) {
      const entries: [Uint8Array, BEncodable][] = [];
      for (const [k, val] of Object.entries(v as Record<string, BEncodable | undefined>)) {
        if (val !== undefined) entries.push([utf8(k), val]);
      }
      dict(entries, depth);
    } else {
      throw new BencodeError(
        'BENCODE_NOT_ENCODABLE',
        `cannot bencode a value of type ${v === null ? 'null' : typeof v}`,
      );
    }
  };
  const dict = (entries: [Uint8Array, BEncodable][], depth: number) => {
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    ascii('d');
    for (let i = 0; i < entries.length; i++) {
      const [k, val] = entries[i] as [Uint8Array, BEncodable];
      const prev = entries[i - 1];
      if (prev && compareBytes(prev[0], k) === 0) {
        throw new BencodeError('BENCODE_DUPLICATE_KEY', 'two keys with the same bytes');
      }
      bytes(k);
      walk(val, depth + 1);
    }
    ascii('e');
  };

  walk(value, 0);
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function shortBinaryString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return s;
}
