import type { Connection, ConnectionHandlers, Endpoint, TransportError } from '../../util/transport.js';
import type { Rc4 } from './rc4.js';

/** Size of the blocks encrypted writes are carved from. */
const SLAB = 256 * 1024;
/**
 * Free blocks kept for reuse, shared by every MSE connection of the process (16 MiB): a seeder
 * serving a deep request queue has that much written and not yet sent; with fewer spares it
 * allocated a block per 256 KiB sent (4 % of a seeder's CPU).
 */
const SPARE_MAX = 64;

/** A block that encrypted writes are carved from; back to the spares once nothing in it is pending. */
class Slab {
  // Every byte is written before it is sent: no need to zero it (Node's unpooled allocation).
  readonly bytes: Uint8Array =
    typeof Buffer === 'function' ? Buffer.allocUnsafeSlow(SLAB) : new Uint8Array(SLAB);
  used = 0;
  /** Writes carved from it that the transport has not finished with. */
  pending = 0;
}
const spares: Slab[] = [];

function spare(slab: Slab): void {
  slab.used = 0;
  if (spares.length < SPARE_MAX) spares.push(slab);
}

/**
 * The stream after an MSE handshake: a {@link Connection} over the handshaken one, RC4 on both
 * directions (or none, when plaintext was selected; the wrapper then only delivers the bytes
 * that arrived with the handshake first).
 *
 * Reads: a lent chunk (`lendsReadBuffer`) is decrypted in place — it is the transport's scratch
 * buffer, overwritten by its next read and read by no one but this consumer during the call.
 * A chunk that is not lent is decrypted into a fresh buffer: the consumer may keep views into it
 * (so it must be a buffer no one reuses), and the transport's own chunk is not ours to modify
 * (the `Connection` contract: consumers never modify a chunk, and no transport promises that it
 * keeps no reference — TCP's `data` buffers happen to be fresh, a uTP or in-memory transport's
 * need not be). RC4 writes its output to the new buffer, so this costs an allocation per read,
 * not an extra pass.
 *
 * Writes never touch the caller's chunks (piece buffers shared by several peers): each batch is
 * encrypted into pieces of 256 KiB blocks of ours (usually one piece) and written as one batch.
 * A block returns to a spare list shared by the process (at most 16 MiB) once the transport's
 * `onWritten` has come for every write carved from it, so a steady stream reuses warm memory and
 * an idle connection holds none; a burst of writes whose completions have not run yet takes
 * more blocks (memory a plaintext burst would hold too, as the caller's chunks). The caller's
 * `onWritten` runs on the next microtask: its chunks are no longer referenced once encrypted.
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
  /** The block this connection's writes are carved from now. */
  #slab: Slab | undefined;
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
      if (lent) rc4.apply(bytes);
      else {
        bytes = new Uint8Array(chunk.length);
        rc4.applyTo(chunk, bytes);
      }
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
    // Encrypt into pieces of blocks (several when a block fills up), written as one batch.
    const pieces: Uint8Array[] = [];
    const slabs: Slab[] = [];
    let ci = 0;
    let coff = 0;
    let left = total;
    while (left > 0) {
      let slab = this.#slab;
      if (!slab || slab.used === SLAB) slab = this.#nextSlab();
      const n = Math.min(left, SLAB - slab.used);
      const piece = slab.bytes.subarray(slab.used, slab.used + n);
      slab.used += n;
      slab.pending++;
      slabs.push(slab);
      for (let filled = 0; filled < n; ) {
        const c = chunks[ci] as Uint8Array;
        const take = Math.min(c.length - coff, n - filled);
        rc4.applyTo(c.subarray(coff, coff + take), piece.subarray(filled, filled + take));
        filled += take;
        coff += take;
        if (coff === c.length) {
          ci++;
          coff = 0;
        }
      }
      pieces.push(piece);
      left -= n;
    }
    const ok = this.#conn.write(pieces, () => {
      for (const slab of slabs) this.#release(slab);
    });
    if (onWritten) queueMicrotask(onWritten);
    return ok;
  }

  /** A block for the next writes: a spare, or a new one; the current one retires. */
  #nextSlab(): Slab {
    const old = this.#slab;
    if (old && old.pending === 0) spare(old);
    const slab = spares.pop() ?? new Slab();
    this.#slab = slab;
    return slab;
  }

  /** The transport finished with a write carved from `slab`. */
  #release(slab: Slab): void {
    slab.pending--;
    if (slab.pending > 0) return;
    // Nothing pending: the block goes back to the spares (an idle connection holds none).
    if (slab === this.#slab) this.#slab = undefined;
    spare(slab);
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
