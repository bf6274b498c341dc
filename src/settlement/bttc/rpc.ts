import { AbortError, throwIfAborted } from '../../util/errors.js';
import { SettlementError } from '../errors.js';
import { type JsonObject, type JsonValue, parseJson, readArray } from '../json.js';
import { checkEvmAddress } from './address.js';

/**
 * Exact, bounded JSON-RPC reads from an EVM node (`eth_…`): the answer's size and nesting are
 * bounded, every field is checked against its hex shape before use, node errors become
 * `SETTLEMENT_NODE_ERROR` (with the node's code and message in `details`), transport failures
 * `SETTLEMENT_HTTP_ERROR` / `SETTLEMENT_TIMEOUT`, malformed answers `SETTLEMENT_NODE_BAD_RESPONSE`.
 * @module
 */

/** Options of {@link EvmRpc}. */
export interface EvmRpcOptions {
  url: string;
  headers?: Readonly<Record<string, string>>;
  requestTimeoutMs: number;
  maxResponseBytes: number;
}

function bad(message: string): never {
  throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', message.slice(0, 300));
}

/** A JSON-RPC quantity (`0x` + 1–64 hex digits) as a bigint. */
export function qty(v: JsonValue | undefined, what: string): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(v)) bad(`${what}: not a quantity`);
  return BigInt(v);
}

/** A quantity that must be a safe integer (block numbers, nonces, timestamps). */
export function num(v: JsonValue | undefined, what: string): number {
  const n = qty(v, what);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what}: above 2^53`);
  return Number(n);
}

/** A 32-byte hash as 64 lower-case hex digits (no `0x`). */
export function hash32(v: JsonValue | undefined, what: string): string {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v)) bad(`${what}: not a 32-byte hash`);
  return v.slice(2).toLowerCase();
}

/** Hex data (`0x…`, even length, at most `maxBytes`) in lower case. */
export function data(v: JsonValue | undefined, what: string, maxBytes: number): string {
  if (typeof v !== 'string' || v.length > 2 + 2 * maxBytes || !/^0x(?:[0-9a-fA-F]{2})*$/.test(v))
    bad(`${what}: not hex data`);
  return v.toLowerCase();
}

/** A checksummed address field of a node's answer. */
export function addr(v: JsonValue | undefined, what: string): `0x${string}` {
  try {
    return checkEvmAddress(v, what);
  } catch {
    return bad(`${what}: not an address`);
  }
}

/** `v` as a JSON object (not an array, not null). */
export function obj(v: JsonValue | undefined, what: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof v === 'bigint')
    bad(`${what}: not an object`);
  return v as JsonObject;
}

/** `v` as an array of at most `max` items. */
export function arr(v: JsonValue | undefined, what: string, max: number): JsonValue[] {
  if (v === undefined) bad(`${what}: missing`);
  return readArray(v, what, max);
}

/** A block number as a JSON-RPC quantity. */
export function hexQty(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** One EVM node's JSON-RPC endpoint. */
export class EvmRpc {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #timeout: number;
  readonly #max: number;
  #id = 0;

  constructor(options: EvmRpcOptions) {
    this.#url = options.url;
    this.#headers = { ...options.headers };
    this.#timeout = options.requestTimeoutMs;
    this.#max = options.maxResponseBytes;
  }

  /** Calls `method`; resolves with its `result` (JSON `null` included). */
  async call(
    method: string,
    params: readonly unknown[],
    signal: AbortSignal | undefined,
  ): Promise<JsonValue> {
    throwIfAborted(signal);
    const id = ++this.#id;
    const timeout = AbortSignal.timeout(this.#timeout);
    let res: Response;
    try {
      res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.#headers },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (cause) {
      if (signal?.aborted) throw new AbortError(undefined, { cause });
      if (timeout.aborted)
        throw new SettlementError('SETTLEMENT_TIMEOUT', `${method}: no answer in time`, { cause });
      throw new SettlementError('SETTLEMENT_HTTP_ERROR', `${method}: request failed`, { cause });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new SettlementError('SETTLEMENT_HTTP_ERROR', `${method}: HTTP ${res.status}`, {
        details: { status: res.status },
      });
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body?.getReader();
    try {
      if (reader) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.length;
          if (size > this.#max) {
            await reader.cancel();
            bad(`${method}: response above ${this.#max} bytes`);
          }
          chunks.push(value);
        }
      }
    } catch (cause) {
      if (cause instanceof SettlementError) throw cause;
      if (signal?.aborted) throw new AbortError(undefined, { cause });
      if (timeout.aborted)
        throw new SettlementError('SETTLEMENT_TIMEOUT', `${method}: no answer in time`, { cause });
      throw new SettlementError('SETTLEMENT_HTTP_ERROR', `${method}: response broken off`, { cause });
    }
    const body = obj(parseJson(Buffer.concat(chunks).toString('utf8'), { maxLength: this.#max }), method);
    if (body.id !== id) bad(`${method}: answer to another request`);
    if (body.error !== undefined && body.error !== null) {
      const e = obj(body.error, `${method} error`);
      const message = typeof e.message === 'string' ? e.message.slice(0, 300) : '';
      const code = typeof e.code === 'number' ? e.code : undefined;
      throw new SettlementError('SETTLEMENT_NODE_ERROR', `${method}: ${message}`.slice(0, 300), {
        details: { method, message, ...(code === undefined ? {} : { rpcCode: code }) },
      });
    }
    if (!('result' in body)) bad(`${method}: no result`);
    return body.result as JsonValue;
  }
}
