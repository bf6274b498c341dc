/**
 * The packets a uTP connection sent and the peer has not acknowledged yet, by sequence number:
 * kept (their datagram buffers too) until a cumulative or selective ack frees them, so they can
 * be resent. Tracks the payload bytes in flight (sent, neither acked nor selectively acked).
 */
import { seqDiff, type UtpPacket } from './packet.js';

/** One sent, unacknowledged packet. */
export interface OutPacket {
  buf: Uint8Array;
  payload: number;
  sentAt: number;
  sends: number;
  /** Sends since the peer was last heard from (the give-up counter). */
  silentSends: number;
  sacked: boolean;
}

export class Outbound {
  readonly #out = new Map<number, OutPacket>();
  /** Payload bytes sent and neither acked nor selectively acked. */
  inFlight = 0;
  /** The last sequence number acknowledged cumulatively. */
  ackedSeq: number;
  /** Smallest round trip of the packets freed by the last {@link ackTo} (sent once), or Infinity. */
  minRtt = Infinity;

  constructor(ackedSeq: number) {
    this.ackedSeq = ackedSeq & 0xffff;
  }

  get size(): number {
    return this.#out.size;
  }

  get(seq: number): OutPacket | undefined {
    return this.#out.get(seq & 0xffff);
  }

  /** The oldest unacknowledged packet. */
  first(): OutPacket | undefined {
    return this.#out.get((this.ackedSeq + 1) & 0xffff) ?? this.#out.values().next().value;
  }

  track(seq: number, buf: Uint8Array, payload: number, now: number): void {
    this.#out.set(seq, { buf, payload, sentAt: now, sends: 1, silentSends: 1, sacked: false });
    this.inFlight += payload;
  }

  /** A cumulative ack up to `ack` (after `ackedSeq`): frees packets; returns the payload bytes newly acked. */
  ackTo(ack: number, now: number): number {
    const d = seqDiff(ack, this.ackedSeq);
    let acked = 0;
    this.minRtt = Infinity;
    for (let s = (this.ackedSeq + 1) & 0xffff, i = 0; i < d; i++, s = (s + 1) & 0xffff) {
      const o = this.#out.get(s);
      if (!o) continue;
      this.#out.delete(s);
      if (!o.sacked) {
        acked += o.payload;
        this.inFlight -= o.payload;
      }
      if (o.sends === 1) this.minRtt = Math.min(this.minRtt, now - o.sentAt);
    }
    this.ackedSeq = ack & 0xffff;
    return acked;
  }

  /**
   * Applies the selective ack of `p` (bit i: packet ack+2+i arrived). Calls `resend` for holes
   * with three or more acked packets above them — at most four per ack, and a packet already
   * resent only after `rttMs` more. Returns the payload bytes newly acked.
   */
  sack(
    p: UtpPacket,
    nextSeq: number,
    now: number,
    rttMs: number,
    resend: (seq: number, o: OutPacket) => boolean,
  ): number {
    const data = p.data;
    const base = (p.ack + 2) & 0xffff;
    let acked = 0;
    let above = 0;
    let resends = 0;
    for (let i = p.sackLength * 8 - 1; i >= -1; i--) {
      const seq = (base + i) & 0xffff;
      if (seqDiff(seq, nextSeq) >= 0) continue;
      const set = i >= 0 && ((data[p.sackOffset + (i >> 3)] as number) & (1 << (i & 7))) !== 0;
      const o = this.#out.get(seq);
      if (!o || o.sacked) {
        if (set) above++;
        continue;
      }
      if (set) {
        above++;
        o.sacked = true;
        acked += o.payload;
        this.inFlight -= o.payload;
      } else if (above >= 3 && resends < 4 && (o.sends === 1 || now - o.sentAt >= rttMs)) {
        resends++;
        if (!resend(seq, o)) break;
      }
    }
    return acked;
  }

  clear(): void {
    this.#out.clear();
    this.inFlight = 0;
  }
}
