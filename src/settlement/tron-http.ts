import { fromHex, fromUtf8 } from '../util/bytes.js';
import { AbortError, throwIfAborted } from '../util/errors.js';
import { SettlementError } from './errors.js';
import { type JsonObject, type JsonValue, parseJson, readInt, readObject } from './json.js';
import type { BlockRef } from './types.js';

/** Decodes a node's hex message (bounded), falling back to the text itself. */
export function nodeMessage(v: unknown): string {
  if (typeof v !== 'string') return '';
  const s = v.slice(0, 2048);
  if (/^(?:[0-9a-fA-F]{2})+$/.test(s)) return fromUtf8(fromHex(s));
  return s;
}

/** Options of {@link TronHttp}. */
export interface TronHttpOptions {
  /** Extra HTTP headers, e.g. `{ 'TRON-PRO-API-KEY': '…' }`. */
  headers?: Readonly<Record<string, string>>;
  /** Timeout of one request in ms. */
  requestTimeoutMs: number;
  /** Largest response accepted, in bytes. */
  maxResponseBytes: number;
}

/**
 * Exact reads from a TRON node's HTTP API (`/wallet/…`, `/walletsolidity/…`): bounded responses,
 * int64 numbers kept exact (tronweb parses them into doubles), node errors as
 * `SETTLEMENT_NODE_ERROR`, transport failures as `SETTLEMENT_HTTP_ERROR` / `SETTLEMENT_TIMEOUT`.
 */
export class TronHttp {
  readonly #headers: Record<string, string>;
  readonly #requestTimeout: number;
  readonly #maxResponse: number;

  constructor(options: TronHttpOptions) {
    this.#headers = { ...options.headers };
    this.#requestTimeout = options.requestTimeoutMs;
    this.#maxResponse = options.maxResponseBytes;
  }

  /** POSTs `body` (with `visible: false`) to `base + path`; resolves with the parsed answer. */
  async post(
    base: string,
    path: string,
    body: JsonObject,
    signal: AbortSignal | undefined,
  ): Promise<JsonValue> {
    throwIfAborted(signal);
    const timeout = AbortSignal.timeout(this.#requestTimeout);
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.#headers },
        body: JSON.stringify({ ...body, visible: false }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (cause) {
      if (signal?.aborted) throw new AbortError(undefined, { cause });
      if (timeout.aborted)
        throw new SettlementError('SETTLEMENT_TIMEOUT', `${path}: no answer in time`, { cause });
      throw new SettlementError('SETTLEMENT_HTTP_ERROR', `${path}: request failed`, { cause });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new SettlementError('SETTLEMENT_HTTP_ERROR', `${path}: HTTP ${res.status}`, {
        details: { status: res.status },
      });
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body?.getReader();
    if (reader) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > this.#maxResponse) {
          await reader.cancel();
          throw new SettlementError(
            'SETTLEMENT_NODE_BAD_RESPONSE',
            `${path}: response above ${this.#maxResponse} bytes`,
          );
        }
        chunks.push(value);
      }
    }
    const v = parseJson(Buffer.concat(chunks).toString('utf8'), { maxLength: this.#maxResponse });
    if (
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof v !== 'bigint' &&
      v.Error !== undefined
    ) {
      throw new SettlementError('SETTLEMENT_NODE_ERROR', `${path}: ${nodeMessage(v.Error)}`.slice(0, 300));
    }
    return v;
  }

  /** The block a `getnowblock`-style endpoint answers, as number and timestamp. */
  async block(base: string, path: string, signal?: AbortSignal): Promise<BlockRef> {
    const b = readObject(await this.post(base, path, {}, signal), 'block');
    const raw = readObject(readObject(b.block_header, 'block_header').raw_data, 'block_header.raw_data');
    return { number: readInt(raw, 'number'), timestamp: readInt(raw, 'timestamp') };
  }
}
