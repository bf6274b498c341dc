/**
 * The receive side of a uTP connection: the cumulative ack number, a bounded reorder buffer
 * (packets that arrived ahead of a hole, copied), delivery in order to the consumer (in-order
 * payload straight from the datagram, without a copy), bytes held while paused or not yet
 * attached, the advertised window (what is left of `maxWindow` after everything held), the
 * selective-ack bitmask, and the end of stream (a FIN once everything before it arrived).
 */
import type { ConnectionHandlers } from '../util/transport.js';
import { ST_FIN, seqDiff, type UtpPacket } from './packet.js';

/** Largest selective-ack bitmask we send, bytes (256 packets past the hole). */
const MAX_SACK_BYTES = 32;

export class Receiver {
  /** The last sequence number received in order. */
  ackNr = 0;
  /** An ack is owed to the sender. */
  needAck = false;
  paused = false;
  /** Everything up to and including the remote's FIN arrived. */
  eof = false;
  #eofSeq = -1;
  #reorder = new Map<number, Uint8Array>();
  #reorderBytes = 0;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #handlers: ConnectionHandlers | undefined;
  #cleared = false;

  constructor(
    readonly maxWindow: number,
    readonly maxReorder: number,
  ) {}

  /** The window to advertise, bytes. */
  window(): number {
    return Math.max(0, this.maxWindow - this.#reorderBytes - this.#heldBytes);
  }

  /** Bytes held for the consumer or waiting in the reorder buffer. */
  get buffered(): number {
    return this.#reorderBytes + this.#heldBytes;
  }

  attach(h: ConnectionHandlers): void {
    this.#handlers = h;
  }

  /** Delivers what was held (after attach or resume), until paused again. */
  flushHeld(): void {
    const h = this.#handlers;
    while (h && !this.paused && !this.#cleared && this.#held.length > 0) {
      const c = this.#held.shift() as Uint8Array;
      this.#heldBytes -= c.length;
      h.onData(c);
    }
  }

  /** A DATA or FIN packet. Returns true (an ack is owed: for a duplicate too, its ack may have been lost). */
  onData(p: UtpPacket, h: ConnectionHandlers | undefined): boolean {
    this.needAck = true;
    const d = seqDiff(p.seq, this.ackNr);
    if (d <= 0 || d > this.maxReorder || this.eof) return true;
    const isFin = p.type === ST_FIN;
    if (isFin && this.#eofSeq < 0) this.#eofSeq = p.seq;
    const payload = isFin ? p.data.subarray(0, 0) : p.data.subarray(p.payloadOffset);
    if (d > 1) {
      if (this.#reorder.has(p.seq) || this.window() < payload.length) return true;
      this.#reorder.set(p.seq, payload.slice());
      this.#reorderBytes += payload.length;
      return true;
    }
    const direct = h !== undefined && !this.paused && this.#held.length === 0;
    if (!direct && this.window() < payload.length) return true; // no room: the sender resends
    this.ackNr = p.seq;
    if (isFin) {
      this.eof = true;
      return true;
    }
    if (payload.length > 0) {
      if (direct) h.onData(payload);
      else this.#hold(payload.slice());
    }
    // Packets that waited for this one.
    while (!this.#cleared && this.#reorder.size > 0) {
      const next = (this.ackNr + 1) & 0xffff;
      const c = this.#reorder.get(next);
      if (c === undefined) break;
      this.#reorder.delete(next);
      this.#reorderBytes -= c.length;
      this.ackNr = next;
      if (next === this.#eofSeq) {
        this.eof = true;
        break;
      }
      if (c.length === 0) continue;
      const hh = this.#handlers;
      if (hh && !this.paused && this.#held.length === 0) hh.onData(c);
      else this.#hold(c);
    }
    return true;
  }

  #hold(c: Uint8Array): void {
    this.#held.push(c);
    this.#heldBytes += c.length;
  }

  /** The selective-ack bitmask for what waits in the reorder buffer, or undefined. */
  sack(): Uint8Array | undefined {
    if (this.#reorder.size === 0) return undefined;
    let max = -1;
    for (const seq of this.#reorder.keys()) {
      const off = seqDiff(seq, this.ackNr) - 2;
      if (off >= 0 && off < MAX_SACK_BYTES * 8 && off > max) max = off;
    }
    if (max < 0) return undefined;
    const bytes = Math.min(MAX_SACK_BYTES, ((max >> 5) + 1) * 4);
    const out = new Uint8Array(bytes);
    for (const seq of this.#reorder.keys()) {
      const off = seqDiff(seq, this.ackNr) - 2;
      if (off >= 0 && off < bytes * 8) out[off >> 3] = (out[off >> 3] as number) | (1 << (off & 7));
    }
    return out;
  }

  clear(): void {
    this.#cleared = true;
    this.#reorder.clear();
    this.#reorderBytes = 0;
    this.#held = [];
    this.#heldBytes = 0;
  }
}
