import { randomBytes } from '@noble/hashes/utils.js';
import type { Clock } from '../../util/clock.js';
import { realClock } from '../../util/clock.js';
import { sha1 } from '../../util/hash.js';
import type { Connection } from '../../util/transport.js';
import { MseError } from './errors.js';
import { Rc4 } from './rc4.js';

/** How a stream is carried after the handshake. */
export type CryptoMethod = 'plaintext' | 'rc4';

/** The `crypto_provide` / `crypto_select` bits of the spec. */
export const METHOD_BITS: Readonly<Record<CryptoMethod, number>> = { plaintext: 0x01, rc4: 0x02 };
/** Largest PadA/PadB/PadC/PadD the spec allows. */
export const MAX_PAD = 512;
/** The verification constant: 8 zero bytes. */
export const VC_LENGTH = 8;
/** RC4 keystream bytes discarded before use. */
export const RC4_DISCARD = 1024;
/** Default handshake timeout, ms. */
export const DEFAULT_MSE_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();

/** SHA1 of the concatenation of `parts` (strings as ASCII). */
export function hashOf(...parts: (string | Uint8Array)[]): Uint8Array {
  const bytes = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
  let n = 0;
  for (const b of bytes) n += b.length;
  const all = new Uint8Array(n);
  let off = 0;
  for (const b of bytes) {
    all.set(b, off);
    off += b.length;
  }
  return sha1(all);
}

/** The RC4 streams of one side: `out` encrypts what it sends, `in` decrypts what it receives. */
export function rc4Streams(
  secret: Uint8Array,
  infoHash: Uint8Array,
  initiator: boolean,
): { out: Rc4; in: Rc4 } {
  const a = new Rc4(hashOf('keyA', secret, infoHash), RC4_DISCARD);
  const b = new Rc4(hashOf('keyB', secret, infoHash), RC4_DISCARD);
  return initiator ? { out: a, in: b } : { out: b, in: a };
}

/** `n` random bytes, `n` uniform in 0..max. */
export function randomPad(max: number = MAX_PAD): Uint8Array {
  const r = randomBytes(2);
  const n = (((r[0] as number) << 8) | (r[1] as number)) % (max + 1);
  return n === 0 ? new Uint8Array(0) : randomBytes(n);
}

/** Index of `needle` in `hay[from .. to)` (the match may extend to `to + needle.length`), or −1. */
export function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const first = needle[0];
  const m = needle.length;
  const last = Math.min(to, hay.length - m);
  outer: for (let p = from; p <= last; p++) {
    if (hay[p] !== first) continue;
    for (let q = 1; q < m; q++) if (hay[p + q] !== needle[q]) continue outer;
    return p;
  }
  return -1;
}

/** The bytes received so far, kept in one growing buffer (our copy: reads may be lent). */
export class Inbox {
  #buf = new Uint8Array(1024);
  length = 0;

  push(chunk: Uint8Array): void {
    const need = this.length + chunk.length;
    if (need > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buf.subarray(0, this.length));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.length);
    this.length = need;
  }

  /** A view of bytes [from, to) (valid until the next push). */
  view(from: number, to: number = this.length): Uint8Array {
    return this.#buf.subarray(from, to);
  }
}

/** Options shared by both directions. */
export interface RunOptions {
  clock?: Clock;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs one handshake on `conn`: attaches, feeds every received chunk to `step` (which returns the
 * result once done, undefined to wait for more, or throws an {@link MseError}), bounded by a
 * timeout and the signal. A failure destroys `conn`. `step` must re-attach `conn` to its
 * successor before it returns a result.
 */
export function runHandshake<T>(
  conn: Connection,
  options: RunOptions,
  start: () => void,
  step: (inbox: Inbox) => T | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const clock = options.clock ?? realClock;
    const timeoutMs = options.timeoutMs ?? DEFAULT_MSE_TIMEOUT_MS;
    const { signal } = options;
    const inbox = new Inbox();
    let done = false;
    const onAbort = () =>
      fail(new MseError('MSE_ABORTED', 'MSE handshake aborted', { cause: signal?.reason }));
    const timer = clock.setTimeout(
      () =>
        fail(
          new MseError('MSE_TIMEOUT', `MSE handshake not done in ${timeoutMs} ms`, {
            details: { timeoutMs },
          }),
        ),
      timeoutMs,
    );
    const settle = () => {
      done = true;
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    };
    function fail(err: unknown): void {
      if (done) return;
      settle();
      conn.destroy();
      reject(
        err instanceof MseError
          ? err
          : new MseError('MSE_BAD_HANDSHAKE', 'MSE handshake failed', { cause: err }),
      );
    }
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.attach({
      onData: (chunk) => {
        if (done) return;
        inbox.push(chunk);
        let result: T | undefined;
        try {
          result = step(inbox);
        } catch (err) {
          fail(err);
          return;
        }
        if (result !== undefined) {
          settle();
          resolve(result);
        }
      },
      onDrain: () => {},
      onClose: (err) =>
        fail(
          new MseError('MSE_CONNECTION_CLOSED', 'connection closed during the MSE handshake', { cause: err }),
        ),
    });
    try {
      start();
    } catch (err) {
      fail(err);
    }
  });
}
