import { SettlementError, type SettlementErrorCode } from './errors.js';

/** A JSON value whose integers beyond 2⁵³ stay exact (as `bigint`). */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
/** A JSON object (no prototype). */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Bounds of {@link parseJson}. */
export interface JsonLimits {
  /** Longest input in UTF-16 code units. Default 4 MiB. */
  maxLength?: number;
  /** Deepest nesting. Default 64. */
  maxDepth?: number;
  /** Error code to throw. Default `SETTLEMENT_NODE_BAD_RESPONSE`. */
  code?: SettlementErrorCode;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses JSON from an untrusted source, bounded in length and depth. Integers outside the safe
 * range come back as `bigint` (TRON nodes write int64 amounts as bare JSON numbers).
 * @throws {SettlementError} with `limits.code` (default `SETTLEMENT_NODE_BAD_RESPONSE`).
 */
export function parseJson(text: string, limits: JsonLimits = {}): JsonValue {
  const code = limits.code ?? 'SETTLEMENT_NODE_BAD_RESPONSE';
  const maxDepth = limits.maxDepth ?? 64;
  if (text.length > (limits.maxLength ?? 4 * 1024 * 1024)) throw new SettlementError(code, 'JSON too long');
  let i = 0;
  const fail = (what: string): never => {
    throw new SettlementError(code, `bad JSON: ${what} at ${i}`, { details: { offset: i } });
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const str = (): string => {
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1] ?? '';
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
        } else {
          const r = ESCAPES[e];
          if (r === undefined) fail('bad escape');
          out += r;
          i += 2;
        }
        start = i;
        continue;
      }
      i++;
    }
  };
  const value = (depth: number): JsonValue => {
    if (depth > maxDepth) fail('too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: JsonObject = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        const v = value(depth + 1);
        if (Object.hasOwn(o, k)) fail('duplicate key');
        o[k] = v;
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return o;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const a: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    if (INTEGER.test(m[0])) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing data');
  return v;
}

/** JSON text of `v`; a `bigint` is written as a bare integer (as TRON nodes write int64). */
export function toJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      return 'null';
  }
}

// ---- readers over hostile objects ----

type Code = SettlementErrorCode;

function bad(code: Code, message: string): never {
  throw new SettlementError(code, message);
}

/** `v` as an object. */
export function readObject(
  v: JsonValue | undefined,
  what: string,
  code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE',
): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof v === 'bigint')
    bad(code, `${what}: not an object`);
  return v;
}

/** `v` as an array of at most `max` items. */
export function readArray(
  v: JsonValue | undefined,
  what: string,
  max = 100_000,
  code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE',
) {
  if (!Array.isArray(v)) bad(code, `${what}: not an array`);
  if (v.length > max) bad(code, `${what}: more than ${max} items`);
  return v;
}

/** A string field of at most `maxLength` characters. */
export function readString(
  o: JsonObject,
  key: string,
  maxLength = 4096,
  code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE',
): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > maxLength)
    bad(code, `${key}: not a string of at most ${maxLength}`);
  return v;
}

/** An optional string field. */
export function readOptString(
  o: JsonObject,
  key: string,
  maxLength = 4096,
  code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE',
) {
  return o[key] === undefined ? undefined : readString(o, key, maxLength, code);
}

/** A non-negative safe-integer field. */
export function readInt(o: JsonObject, key: string, code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE'): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(code, `${key}: not a natural number`);
  return v;
}

/** An optional non-negative safe-integer field (absent: `dflt`; proto3 JSON omits zeros). */
export function readOptInt(
  o: JsonObject,
  key: string,
  dflt = 0,
  code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE',
): number {
  return o[key] === undefined ? dflt : readInt(o, key, code);
}

/** A non-negative integer field of any size (a JSON number or a decimal string). */
export function readBig(o: JsonObject, key: string, code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE'): bigint {
  const v = o[key];
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(v)) return BigInt(v);
  return bad(code, `${key}: not a natural number`);
}

/** An optional big field; absent is 0. */
export function readOptBig(o: JsonObject, key: string, code: Code = 'SETTLEMENT_NODE_BAD_RESPONSE'): bigint {
  return o[key] === undefined ? 0n : readBig(o, key, code);
}
