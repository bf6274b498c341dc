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
/**
 * Payloads up to this size (MTU-sized packets) are gathered into one reused buffer and handed to
 * the consumer once per turn of the event loop: a consumer's cost per `onData` call (a message
 * parser) then is paid once per ~45 KB instead of once per 1.4 KB. Larger payloads go straight
 * through, without a copy.
 */
const COALESCE_MAX = 8 * 1024;
const BATCH_BYTES = 64 * 1024;

/** Bytes a socket's connections may hold in reorder buffers and for paused consumers, together. */
export interface ReceiveBudget {
  used: number;
  readonly max: number;
}

export class Receiver {
  /** The last sequence number received in order. */
  ackNr = 0;
  /** An ack is owed to the sender. */
  needAck = false;
  #paused = false;
  /** Everything up to and including the remote's FIN arrived. */
  eof = false;
  #eofSeq = -1;
  #reorder = new Map<number, Uint8Array>();
  #reorderBytes = 0;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #handlers: ConnectionHandlers | undefined;
  #cleared = false;
  #batch: Uint8Array | undefined;
  #batchLen = 0;

  constructor(
    readonly maxWindow: number,
    readonly maxReorder: number,
    readonly budget: ReceiveBudget = { used: 0, max: Number.POSITIVE_INFINITY },
  ) {}

  /** The window to advertise, bytes. */
  window(): number {
    const own = this.maxWindow - this.#reorderBytes - this.#heldBytes - this.#batchLen;
    return Math.max(0, Math.min(own, this.budget.max - this.budget.used));
  }

  /** Bytes held for the consumer or waiting in the reorder buffer. */
  get buffered(): number {
    return this.#reorderBytes + this.#heldBytes + this.#batchLen;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Stops delivery: what was gathered for this turn is held, ahead of anything newer. */
  pause(): void {
    this.#paused = true;
    if (this.#batchLen > 0) {
      const c = (this.#batch as Uint8Array).slice(0, this.#batchLen);
      this.#batchLen = 0;
      this.#held.unshift(c);
      this.#heldBytes += c.length;
      this.budget.used += c.length;
    }
  }

  resume(): void {
    this.#paused = false;
    this.flushHeld();
  }

  /** Hands the payloads gathered this turn to the consumer (in one call). */
  deliverBatch(): void {
    const n = this.#batchLen;
    if (n === 0) return;
    this.#batchLen = 0;
    const h = this.#handlers;
    const b = this.#batch as Uint8Array;
    if (h && !this.#paused && !this.#cleared) h.onData(b.subarray(0, n));
    else if (!this.#cleared) this.#hold(b.slice(0, n));
  }

  attach(h: ConnectionHandlers): void {
    this.#handlers = h;
  }

  /** Delivers what was held (after attach or resume), until paused again. */
  flushHeld(): void {
    const h = this.#handlers;
    while (h && !this.#paused && !this.#cleared && this.#held.length > 0) {
      const c = this.#held.shift() as Uint8Array;
      this.#heldBytes -= c.length;
      this.budget.used -= c.length;
      h.onData(c);
    }
  }

  /**
   * A DATA or FIN packet; an ack is owed either way (for a duplicate too: its ack may have been
   * lost). Returns false for a sequence number beyond the reorder window (no sender does that).
   */
  onData(p: UtpPacket): boolean {
    this.needAck = true;
    const d = seqDiff(p.seq, this.ackNr);
    if (d > this.maxReorder) return false;
    if (d <= 0 || this.eof) return true;
    const isFin = p.type === ST_FIN;
    if (isFin && this.#eofSeq < 0) this.#eofSeq = p.seq;
    const payload = isFin ? p.data.subarray(0, 0) : p.data.subarray(p.payloadOffset);
    if (d > 1) {
      if (this.#reorder.has(p.seq) || this.window() < payload.length) return true;
      this.#reorder.set(p.seq, payload.slice());
      this.#reorderBytes += payload.length;
      this.budget.used += payload.length;
      return true;
    }
    const direct = this.#handlers !== undefined && !this.#paused && this.#held.length === 0;
    if (!direct && this.window() < payload.length) return true; // no room: the sender resends
    this.ackNr = p.seq;
    if (isFin) {
      this.eof = true;
      return true;
    }
    if (payload.length > 0) this.#deliver(payload, false);
    // Packets that waited for this one.
    while (!this.#cleared && this.#reorder.size > 0) {
      const next = (this.ackNr + 1) & 0xffff;
      const c = this.#reorder.get(next);
      if (c === undefined) break;
      this.#reorder.delete(next);
      this.#reorderBytes -= c.length;
      this.budget.used -= c.length;
      this.ackNr = next;
      if (next === this.#eofSeq) {
        this.eof = true;
        break;
      }
      if (c.length > 0) this.#deliver(c, true);
    }
    return true;
  }

  /** In-order bytes: gathered, handed on, or held. `owned`: `c` is ours to keep (else a view). */
  #deliver(c: Uint8Array, owned: boolean): void {
    const h = this.#handlers;
    if (!h || this.#paused || this.#held.length > 0) {
      this.#hold(owned ? c : c.slice());
      return;
    }
    if (c.length <= COALESCE_MAX) {
      if (this.#batchLen + c.length > BATCH_BYTES) {
        this.deliverBatch();
        if (this.#cleared) return;
        if (this.#paused || this.#held.length > 0) {
          this.#hold(owned ? c : c.slice());
          return;
        }
      }
      this.#batch ??= new Uint8Array(BATCH_BYTES);
      this.#batch.set(c, this.#batchLen);
      this.#batchLen += c.length;
      return;
    }
    this.deliverBatch();
    if (this.#cleared) return;
    if (this.#paused || this.#held.length > 0) this.#hold(owned ? c : c.slice());
    else h.onData(c);
  }

  #hold(c: Uint8Array): void {
    this.#held.push(c);
    this.#heldBytes += c.length;
    this.budget.used += c.length;
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
    this.#batchLen = 0;
    this.budget.used -= this.#reorderBytes + this.#heldBytes;
    this.#reorder.clear();
    this.#reorderBytes = 0;
    this.#held = [];
    this.#heldBytes = 0;
  }
}
