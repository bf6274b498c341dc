import { concatBytes } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import type { Connection } from '../util/transport.js';

/**
 * Outgoing messages of one wire, collected and written once per event-loop turn with one
 * `Connection.write(chunks)` (on TCP: `cork`, the writes, `uncork` — one `writev`), runs of small
 * chunks joined first. Per-message writes cost about half the sender's time; see docs/wire.md.
 * With batching off, each chunk is written at once.
 */
export class WriteBatcher {
  readonly #connection: Connection;
  readonly #clock: Clock;
  readonly #batch: boolean;
  #out: Uint8Array[] = [];
  /** `onSent` callbacks of blocks in `#out`: run once the batch is written. */
  #outSent: (() => void)[] = [];
  #flushScheduled = false;
  /** The next chunk is written at once, on its own (see {@link writeNextAlone}). */
  #alone = false;
  readonly #scheduled = () => {
    this.#flushScheduled = false;
    this.flush();
  };

  constructor(connection: Connection, clock: Clock, batch: boolean) {
    this.#connection = connection;
    this.#clock = clock;
    this.#batch = batch;
  }

  /** True when writes are batched (else each chunk goes out at once). */
  get batching(): boolean {
    return this.#batch;
  }

  /** Chunks waiting for the next flush. */
  get queued(): number {
    return this.#out.length;
  }

  /** Bytes waiting for the next flush. */
  get queuedBytes(): number {
    let n = 0;
    for (const c of this.#out) n += c.length;
    return n;
  }

  /**
   * Writes the next chunk at once as a write of its own, after what is queued; what follows it
   * waits for the next flush as usual, so it leaves after it (on uTP: in a later packet).
   */
  writeNextAlone(): void {
    this.#alone = true;
  }

  /** Queues one chunk (or writes it, without batching). */
  enqueue(data: Uint8Array): void {
    if (this.#alone) {
      this.#alone = false;
      this.flush();
      this.#connection.write([data]);
      return;
    }
    if (!this.#batch) {
      this.#connection.write([data]);
      return;
    }
    this.#out.push(data);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      if (this.#clock.defer) this.#clock.defer(this.#scheduled);
      else setImmediate(this.#scheduled);
    }
  }

  /** Runs `fn` once the chunks queued so far are written (batching only). */
  onFlushed(fn: () => void): void {
    this.#outSent.push(fn);
  }

  /** Writes what is queued now. */
  flush(): void {
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    const sent = this.#outSent;
    let onWritten: (() => void) | undefined;
    if (sent.length > 0) {
      this.#outSent = [];
      onWritten = () => {
        for (const f of sent) f();
      };
    }
    this.#connection.write(coalesce(out), onWritten);
  }

  /** Drops what is queued (the wire is dropped): nothing more is written by a pending flush. */
  clear(): void {
    this.#out = [];
    this.#outSent = [];
  }
}

/** Chunks at most this long are joined into one buffer before a write (request messages…). */
export const SMALL_CHUNK = 256;

/**
 * Joins runs of small chunks (message headers, requests, haves) into one buffer each, so that a
 * batch of 100 requests is one 1,700-byte chunk for the socket rather than 100 of 17 bytes
 * (each chunk of a `writev` costs a conversion and an iovec). Large chunks (blocks) stay as
 * they are: copying them would cost more than it saves.
 */
export function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  const n = chunks.length;
  if (n < 2) return chunks;
  let small = 0;
  for (let i = 0; i < n; i++) if ((chunks[i] as Uint8Array).length <= SMALL_CHUNK) small++;
  if (small < 2) return chunks;
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < n) {
    const c = chunks[i] as Uint8Array;
    if (c.length > SMALL_CHUNK) {
      out.push(c);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && (chunks[j] as Uint8Array).length <= SMALL_CHUNK) j++;
    out.push(j - i === 1 ? c : concatBytes(chunks.slice(i, j)));
    i = j;
  }
  return out;
}
