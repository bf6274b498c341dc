import {
  type Connection,
  type ConnectionHandlers,
  DEFAULT_HIGH_WATER_MARK,
  type Endpoint,
  type TransportError,
} from '../util/transport.js';
import { routine, type Segment, type SimNode } from './node.js';
import type { VirtualClock } from './scheduler.js';

/** What a stream end needs of its network. */
export interface StreamNet {
  readonly clock: VirtualClock;
  /** Bytes a connection may have in the network, not yet read by the receiver. */
  readonly windowBytes: number;
  /** The end may have become sendable: queue it at its node's uplink. */
  poke(end: SimEnd): void;
  /** One-way latency between two hosts, ms. */
  latency(a: SimNode, b: SimNode): number;
}

/**
 * One end of a simulated TCP connection. Bytes written go through the sender's uplink (a
 * round-robin server at the upload capacity), the link latency, and the receiver's downlink (a
 * FIFO server at the download capacity); at most `windowBytes` are in the network per direction
 * (flow control), order is kept, losses cost a retransmission.
 */
export class SimEnd implements Connection {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  peer!: SimEnd;
  #net: StreamNet;
  readonly node: SimNode;
  #handlers: ConnectionHandlers | undefined;
  #closed = false;
  #closing = false;
  #paused = false;
  #wantDrain = false;
  #flushQueued = false;
  // Sending.
  out: Uint8Array[] = [];
  outHead = 0;
  outBytes = 0;
  outOffset = 0;
  retransmit: Segment[] = [];
  inflight = 0;
  sendSeq = 0;
  queued = false;
  // Receiving.
  #recvSeq = 0;
  #reorder = new Map<number, Segment>();
  #inbox: Segment[] = [];
  #remoteEnded = false;

  constructor(net: StreamNet, node: SimNode, local: Endpoint, remote: Endpoint) {
    this.#net = net;
    this.node = node;
    this.local = local;
    this.remote = remote;
    node.ends.add(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return this.outBytes;
  }

  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) {
      this.#net.clock.defer(() => handlers.onClose(this.#closeError));
      return;
    }
    this.#scheduleFlush();
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.#closed || this.#closing) return false;
    for (const c of chunks) {
      if (c.length === 0) continue;
      this.out.push(c);
      this.outBytes += c.length;
    }
    this.#net.poke(this);
    const ok = this.outBytes < DEFAULT_HIGH_WATER_MARK;
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#scheduleFlush();
  }

  close(): void {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    this.maybeFinishClose();
  }

  destroy(error?: TransportError): void {
    if (this.#closed) return;
    this.#finish(error);
    const peer = this.peer;
    this.#net.clock.setTimeout(
      () => peer.#finish(routine('TRANSPORT_RESET', 'connection reset by peer')),
      this.#net.latency(this.node, peer.node),
    );
  }

  /* ------------------------------------------------------------------ internals */

  /** Closes an end no one attached to (a refused connection). */
  discard(): void {
    this.#finish(undefined);
  }

  #closeError: TransportError | undefined;

  /** Something to send and room to send it. */
  get sendable(): boolean {
    if (this.#closed) return false;
    if (this.retransmit.length > 0) return true;
    return this.outBytes > 0 && this.inflight < this.#net.windowBytes;
  }

  /** Takes up to `max` bytes from the send queue. */
  take(max: number): Segment {
    const first = this.retransmit.shift();
    if (first) return first;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    while (bytes < max && this.outHead < this.out.length) {
      const c = this.out[this.outHead] as Uint8Array;
      const rest = c.length - this.outOffset;
      // A chunk that does not fit waits for the next segment rather than being cut, unless it
      // is larger than a segment: a block then reaches the receiver in one piece (no copy to
      // reassemble it), as a TCP stack sends a large write in full segments.
      if (bytes > 0 && rest > max - bytes) break;
      const n = Math.min(rest, max - bytes);
      chunks.push(
        this.outOffset === 0 && n === c.length ? c : c.subarray(this.outOffset, this.outOffset + n),
      );
      bytes += n;
      if (n === rest) {
        this.out[this.outHead] = EMPTY;
        this.outHead++;
        this.outOffset = 0;
      } else this.outOffset += n;
    }
    if (this.outHead > 1024 && this.outHead * 2 > this.out.length) {
      this.out = this.out.slice(this.outHead);
      this.outHead = 0;
    }
    this.outBytes -= bytes;
    this.inflight += bytes;
    if (this.#wantDrain && this.outBytes < DEFAULT_HIGH_WATER_MARK) {
      this.#wantDrain = false;
      this.#net.clock.defer(() => {
        if (!this.#closed) this.#handlers?.onDrain();
      });
    }
    return { kind: 'segment', seq: this.sendSeq++, chunks, bytes, from: this };
  }

  /** A segment came out of our node's downlink. */
  receive(seg: Segment): void {
    if (this.#closed) return;
    if (seg.seq !== this.#recvSeq) {
      this.#reorder.set(seg.seq, seg);
      return;
    }
    this.#inbox.push(seg);
    this.#recvSeq++;
    for (;;) {
      const next = this.#reorder.get(this.#recvSeq);
      if (!next) break;
      this.#reorder.delete(this.#recvSeq);
      this.#inbox.push(next);
      this.#recvSeq++;
    }
    this.#flush();
  }

  /** The remote end closed gracefully after its last byte (which has arrived). */
  remoteEnded(): void {
    this.#remoteEnded = true;
    this.#flush();
  }

  maybeFinishClose(): void {
    if (!this.#closing || this.#closed) return;
    if (this.outBytes > 0 || this.retransmit.length > 0 || this.inflight > 0) return;
    const peer = this.peer;
    this.#net.clock.setTimeout(() => peer.remoteEnded(), this.#net.latency(this.node, peer.node));
    this.#finish(undefined);
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    this.#net.clock.defer(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    const h = this.#handlers;
    if (!h || this.#closed) return;
    while (!this.#paused && this.#inbox.length > 0 && !this.#closed) {
      const seg = this.#inbox.shift() as Segment;
      for (const c of seg.chunks) h.onData(c);
      const from = seg.from;
      from.inflight -= seg.bytes;
      this.#net.poke(from);
      from.maybeFinishClose();
    }
    if (this.#remoteEnded && this.#inbox.length === 0 && !this.#paused) this.#finish(undefined);
  }

  #finish(error: TransportError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.out = [];
    this.outHead = 0;
    this.outBytes = 0;
    this.retransmit = [];
    this.#inbox = [];
    this.#reorder.clear();
    this.node.ends.delete(this);
    const h = this.#handlers;
    if (h) this.#net.clock.defer(() => h.onClose(error));
  }
}

const EMPTY = new Uint8Array(0);
