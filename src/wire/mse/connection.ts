import type { Connection, ConnectionHandlers, Endpoint, TransportError } from '../../util/transport.js';
import type { Rc4 } from './rc4.js';

/** Encrypt buffers kept for reuse, at most. */
const POOL_MAX = 8;
/** Smallest encrypt buffer; larger writes round up to a power of two. */
const MIN_WRITE_BUFFER = 16 * 1024;
/** Encrypt buffers above this size are not kept for reuse. */
const MAX_POOLED = 1024 * 1024;

/**
 * The stream after an MSE handshake: a {@link Connection} over the handshaken one, RC4 on both
 * directions (or none, when plaintext was selected; the wrapper then only delivers the bytes
 * that arrived with the handshake first).
 *
 * Reads: a lent chunk (`lendsReadBuffer`) is decrypted in place — it is the transport's scratch
 * buffer, overwritten by its next read and read by no one but this consumer during the call.
 * A chunk that is not lent is copied and decrypted in the copy: the consumer may keep views into
 * it (so it must be a buffer no one reuses), and the transport's own chunk is not ours to modify
 * (the `Connection` contract: consumers never modify a chunk; a transport could still refer to
 * it). The copy costs a memcpy and an allocation per read, a few percent of RC4's time.
 *
 * Writes never touch the caller's chunks (piece buffers shared by several peers): each batch is
 * copied into one buffer of ours, encrypted there and written as one chunk; the buffer returns
 * to a small pool when the transport's `onWritten` says so. The caller's `onWritten` runs on
 * the next microtask: its chunks are no longer referenced once encrypted.
 */
export class MseConnection implements Connection {
  readonly #conn: Connection;
  readonly #encrypt: Rc4 | undefined;
  readonly #decrypt: Rc4 | undefined;
  #handlers: ConnectionHandlers | undefined;
  /** Decrypted bytes received before the consumer attached (owned copies). */
  #held: Uint8Array[];
  #closedEarly = false;
  #closeError: TransportError | undefined;
  #pool: Uint8Array[] = [];
  /** The consumer paused (until it resumes). */
  #paused = false;
  /** Held bytes are all delivered: new reads go straight to the consumer. */
  #flushed = false;

  /**
   * `initial`: decrypted bytes that arrived with the handshake (owned by us), delivered first.
   * `encrypt`/`decrypt`: the RC4 streams, or undefined for plaintext.
   */
  constructor(conn: Connection, initial: Uint8Array, encrypt: Rc4 | undefined, decrypt: Rc4 | undefined) {
    this.#conn = conn;
    this.#encrypt = encrypt;
    this.#decrypt = decrypt;
    this.#held = initial.length > 0 ? [initial] : [];
    conn.attach({
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#handlers?.onDrain(),
      onClose: (err) => {
        if (this.#handlers && this.#flushed) this.#handlers.onClose(err);
        else {
          this.#closedEarly = true;
          this.#closeError = err;
        }
      },
    });
    // Nothing is delivered until the consumer attaches: hold the transport back too.
    conn.pause();
  }

  get remote(): Endpoint {
    return this.#conn.remote;
  }

  get local(): Endpoint {
    return this.#conn.local;
  }

  get closed(): boolean {
    return this.#conn.closed;
  }

  get lendsReadBuffer(): boolean | undefined {
    return this.#conn.lendsReadBuffer;
  }

  get bufferedAmount(): number {
    return this.#conn.bufferedAmount;
  }

  attach(handlers: ConnectionHandlers): void {
    const first = this.#handlers === undefined;
    this.#handlers = handlers;
    if (!first) return;
    // Bytes that came with the handshake are delivered on a microtask, not inside `attach`: a
    // consumer (PeerWire) attaches in its constructor and registers its listeners after it.
    // The transport stays paused until they are out, so the order holds.
    queueMicrotask(() => this.#flush());
  }

  /** Delivers held bytes while the consumer is not paused; then lets the transport run. */
  #flush(): void {
    const h = this.#handlers;
    if (!h) return;
    while (this.#held.length > 0 && !this.#paused) {
      const chunk = this.#held.shift() as Uint8Array;
      h.onData(chunk);
    }
    if (this.#held.length > 0) return;
    if (this.#closedEarly) {
      this.#closedEarly = false;
      h.onClose(this.#closeError);
      return;
    }
    this.#flushed = true;
    if (!this.#paused) this.#conn.resume();
  }

  #onData(chunk: Uint8Array): void {
    const rc4 = this.#decrypt;
    let bytes = chunk;
    const lent = this.#conn.lendsReadBuffer === true;
    if (rc4) {
      if (!lent) bytes = chunk.slice();
      rc4.apply(bytes);
    }
    const h = this.#handlers;
    if (h && this.#flushed) h.onData(bytes);
    else {
      // Before the consumer attached (or while bytes of the handshake are still queued for it).
      this.#held.push(lent ? bytes.slice() : bytes);
      this.#flushed = false;
      this.#conn.pause();
    }
  }

  write(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    const rc4 = this.#encrypt;
    if (!rc4) return this.#conn.write(chunks, onWritten);
    if (this.#conn.closed) return false;
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) {
      if (onWritten) queueMicrotask(onWritten);
      return this.#conn.write([]);
    }
    const buf = this.#take(total);
    let off = 0;
    for (const c of chunks) {
      buf.set(c, off);
      off += c.length;
    }
    const out = buf.subarray(0, total);
    rc4.apply(out);
    const ok = this.#conn.write([out], () => this.#give(buf));
    if (onWritten) queueMicrotask(onWritten);
    return ok;
  }

  #take(n: number): Uint8Array {
    const pool = this.#pool;
    for (let k = pool.length - 1; k >= 0; k--) {
      const b = pool[k] as Uint8Array;
      if (b.length >= n) {
        pool[k] = pool[pool.length - 1] as Uint8Array;
        pool.pop();
        return b;
      }
    }
    let size = MIN_WRITE_BUFFER;
    while (size < n) size *= 2;
    return new Uint8Array(size);
  }

  #give(buf: Uint8Array): void {
    if (buf.length > MAX_POOLED || this.#pool.length >= POOL_MAX) return;
    this.#pool.push(buf);
  }

  pause(): void {
    this.#paused = true;
    this.#conn.pause();
  }

  resume(): void {
    this.#paused = false;
    if (!this.#handlers) return;
    if (this.#flushed) this.#conn.resume();
    else queueMicrotask(() => this.#flush());
  }

  close(): void {
    this.#conn.close();
  }

  destroy(error?: TransportError): void {
    this.#conn.destroy(error);
  }
}
