import { AbortError, type BttkitErrorOptions } from '../util/errors.js';
import {
  type Connection,
  type ConnectionHandlers,
  type ConnectOptions,
  DEFAULT_HIGH_WATER_MARK,
  type Endpoint,
  type Listener,
  type Transport,
  TransportError,
} from '../util/transport.js';
import { SimError } from './errors.js';
import type { SimRandom } from './random.js';
import type { VirtualClock } from './scheduler.js';

/** A simulated host's access link. Rates are bytes per second. */
export interface SimNodeOptions {
  /** Address peers use to reach it (any string unique in the network; an IPv4 form reads best). */
  host: string;
  /** Upload capacity, bytes/s. */
  upload: number;
  /** Download capacity, bytes/s. */
  download: number;
  /** One-way latency of its access link, ms (a link's latency is the sum of both ends'). Default 10. */
  latencyMs?: number;
  /** Probability that a segment it sends is lost (and sent again after `retransmitMs`). Default 0. */
  loss?: number;
}

/** Options of a {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Largest unit an uplink sends at once (the scheduling grain), bytes. Default 16,397 (one block message). */
  segmentBytes?: number;
  /** Bytes a connection may have in the network, not yet read by the receiver (its window). Default 256 KiB. */
  windowBytes?: number;
  /** Delay before a lost segment is sent again, ms. Default 200. */
  retransmitMs?: number;
  /** Width of the buckets of the per-node byte series, ms. Default 1,000. */
  bucketMs?: number;
}

/** Traffic of one node. */
export interface SimNodeStats {
  /** Bytes its uplink put on the network (retransmissions included). */
  sent: number;
  /** Bytes its downlink delivered. */
  received: number;
  /** `sent` per bucket of `bucketMs` (index = time / bucketMs), counted when a segment finishes. */
  sentSeries: number[];
  /** `received` per bucket. */
  receivedSeries: number[];
}

interface Segment {
  seq: number;
  chunks: Uint8Array[];
  bytes: number;
  from: SimEnd;
}

class SimNode {
  readonly host: string;
  readonly upload: number;
  readonly download: number;
  readonly latencyMs: number;
  readonly loss: number;
  readonly listeners = new Map<number, (c: Connection) => void>();
  readonly ends = new Set<SimEnd>();
  readonly stats: SimNodeStats = { sent: 0, received: 0, sentSeries: [], receivedSeries: [] };
  removed = false;
  nextPort = 40000;
  // Uplink: round-robin over connections with something to send and room in their window.
  readonly rr: SimEnd[] = [];
  rrHead = 0;
  upBusy = false;
  // Downlink: FIFO of arrived segments.
  readonly downQ: Segment[] = [];
  downHead = 0;
  downBusy = false;

  constructor(options: SimNodeOptions) {
    this.host = options.host;
    this.upload = options.upload;
    this.download = options.download;
    this.latencyMs = options.latencyMs ?? 10;
    this.loss = options.loss ?? 0;
    if (!(this.upload > 0) || !(this.download > 0))
      throw new SimError('SIM_BAD_NODE', `node ${this.host}: capacities must be > 0`);
    if (!(this.latencyMs >= 0)) throw new SimError('SIM_BAD_NODE', `node ${this.host}: latency must be >= 0`);
    if (!(this.loss >= 0 && this.loss < 1))
      throw new SimError('SIM_BAD_NODE', `node ${this.host}: loss must be in [0, 1)`);
  }
}

export { SimError } from './errors.js';

/**
 * One end of a simulated TCP connection. Bytes written go through the sender's uplink (a
 * round-robin server at the upload capacity), the link latency, and the receiver's downlink (a
 * FIFO server at the download capacity); at most `windowBytes` are in the network per direction
 * (flow control), order is kept, losses cost a retransmission.
 */
class SimEnd implements Connection {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  peer!: SimEnd;
  #net: SimNetwork;
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

  constructor(net: SimNetwork, node: SimNode, local: Endpoint, remote: Endpoint) {
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
    return { seq: this.sendSeq++, chunks, bytes, from: this };
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

/**
 * A transport error of the network's routine (a refused dial, a reset): built without a stack
 * trace, which would be most of its cost — a large swarm makes hundreds of thousands of them,
 * and a stack into the scheduler tells nothing.
 */
function routine(
  code: ConstructorParameters<typeof TransportError>[0],
  message: string,
  options?: BttkitErrorOptions,
): TransportError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new TransportError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The swarm lab's network: hosts with shaped access links on a {@link VirtualClock}. Each host
 * gets a {@link Transport} (`network.transport(host)`) that a `Client` uses as it would TCP.
 *
 * No host ever sends faster than its upload capacity or receives faster than its download
 * capacity: both are servers that take `size / rate` of virtual time per segment.
 */
export class SimNetwork {
  readonly clock: VirtualClock;
  readonly segmentBytes: number;
  readonly windowBytes: number;
  readonly retransmitMs: number;
  readonly bucketMs: number;
  readonly #nodes = new Map<string, SimNode>();
  readonly #random: SimRandom;

  constructor(clock: VirtualClock, random: SimRandom, options: SimNetworkOptions = {}) {
    this.clock = clock;
    this.#random = random;
    this.segmentBytes = options.segmentBytes ?? 16_397;
    this.windowBytes = options.windowBytes ?? 256 * 1024;
    this.retransmitMs = options.retransmitMs ?? 200;
    this.bucketMs = options.bucketMs ?? 1000;
    if (!(this.segmentBytes >= 64)) throw new SimError('SIM_BAD_NETWORK', 'segmentBytes must be >= 64');
    if (!(this.windowBytes >= this.segmentBytes))
      throw new SimError('SIM_BAD_NETWORK', 'windowBytes must be >= segmentBytes');
  }

  /** Adds a host. @throws {SimError} `SIM_BAD_NODE` */
  addNode(options: SimNodeOptions): Transport {
    if (this.#nodes.has(options.host)) throw new SimError('SIM_BAD_NODE', `host ${options.host} exists`);
    const node = new SimNode(options);
    this.#nodes.set(node.host, node);
    return this.transport(node.host);
  }

  /** Takes a host off the network: its connections are reset, its ports stop answering. */
  removeNode(host: string): void {
    const node = this.#nodes.get(host);
    if (!node) return;
    node.removed = true;
    node.listeners.clear();
    for (const end of [...node.ends]) end.destroy(routine('TRANSPORT_RESET', 'host left'));
    this.#nodes.delete(host);
  }

  /** Traffic counters of a host (kept after it is removed if you hold the object). */
  stats(host: string): SimNodeStats | undefined {
    return this.#nodes.get(host)?.stats;
  }

  /** One-way latency between two hosts, ms. */
  latency(a: SimNode, b: SimNode): number {
    return a.latencyMs + b.latencyMs;
  }

  /** The transport of a host. */
  transport(host: string): Transport {
    const net = this;
    return {
      connect(to: Endpoint, options: ConnectOptions = {}): Promise<Connection> {
        return net.#connect(host, to, options);
      },
      async listen(on: Endpoint, onConnection: (c: Connection) => void): Promise<Listener> {
        const node = net.#nodes.get(host);
        if (!node) throw new TransportError('TRANSPORT_LISTEN_FAILED', `host ${host} is not on the network`);
        const port = on.port === 0 ? 6881 : on.port;
        if (node.listeners.has(port))
          throw new TransportError('TRANSPORT_LISTEN_FAILED', `${host}:${port} is in use`);
        node.listeners.set(port, onConnection);
        return {
          address: { host, port },
          close: async () => {
            if (node.listeners.get(port) === onConnection) node.listeners.delete(port);
          },
        };
      },
    };
  }

  #connect(host: string, to: Endpoint, options: ConnectOptions): Promise<Connection> {
    const { signal } = options;
    return new Promise((resolve, reject) => {
      const from = this.#nodes.get(host);
      if (!from) {
        reject(new TransportError('TRANSPORT_CONNECT_FAILED', `host ${host} is not on the network`));
        return;
      }
      if (signal?.aborted) {
        reject(new AbortError('connect aborted', { cause: signal.reason }));
        return;
      }
      const target = this.#nodes.get(to.host);
      const rtt = 2 * (from.latencyMs + (target?.latencyMs ?? from.latencyMs));
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        timer.cancel();
        reject(new AbortError('connect aborted', { cause: signal?.reason }));
      };
      const timer = this.clock.setTimeout(() => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        const t = this.#nodes.get(to.host);
        const accept = t?.listeners.get(to.port);
        if (!t || !accept || from.removed) {
          reject(
            routine('TRANSPORT_CONNECT_FAILED', `cannot connect to ${to.host}:${to.port}`, {
              details: { host: to.host, port: to.port },
            }),
          );
          return;
        }
        const localEp = { host, port: from.nextPort++ };
        const a = new SimEnd(this, from, localEp, { host: to.host, port: to.port });
        const b = new SimEnd(this, t, { host: to.host, port: to.port }, localEp);
        a.peer = b;
        b.peer = a;
        accept(b);
        if (b.closed) {
          // The listener reset the connection as it accepted it (a client at its connection
          // limit does): to the dialler that is a connection reset before any byte, reported as
          // a failed connect — the same outcome, without building a wire only to tear it down.
          a.discard();
          reject(
            routine('TRANSPORT_CONNECT_FAILED', `${to.host}:${to.port} reset the connection`, {
              details: { host: to.host, port: to.port },
            }),
          );
          return;
        }
        resolve(a);
      }, rtt);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** An end may have become sendable: queue it at its node's uplink. */
  poke(end: SimEnd): void {
    if (end.queued || !end.sendable) return;
    const node = end.node;
    end.queued = true;
    node.rr.push(end);
    this.#startUplink(node);
  }

  #startUplink(node: SimNode): void {
    if (node.upBusy) return;
    while (node.rrHead < node.rr.length) {
      const end = node.rr[node.rrHead] as SimEnd;
      node.rr[node.rrHead] = undefined as unknown as SimEnd;
      node.rrHead++;
      end.queued = false;
      if (!end.sendable) continue;
      const seg = end.take(this.segmentBytes);
      node.upBusy = true;
      this.clock.setTimeout(() => this.#sent(node, end, seg), (seg.bytes * 1000) / node.upload);
      break;
    }
    if (node.rrHead > 1024 && node.rrHead * 2 > node.rr.length) {
      node.rr.splice(0, node.rrHead);
      node.rrHead = 0;
    }
  }

  #sent(node: SimNode, end: SimEnd, seg: Segment): void {
    node.upBusy = false;
    node.stats.sent += seg.bytes;
    addTo(node.stats.sentSeries, Math.floor(this.clock.now() / this.bucketMs), seg.bytes);
    if (!end.closed) {
      const target = end.peer.node;
      if (node.loss > 0 && this.#random.next() < node.loss) {
        this.clock.setTimeout(() => {
          if (end.closed) return;
          end.retransmit.push(seg);
          this.poke(end);
        }, this.retransmitMs);
      } else {
        this.clock.setTimeout(() => this.#arrive(target, seg), this.latency(node, target));
      }
      this.poke(end);
    }
    this.#startUplink(node);
  }

  #arrive(node: SimNode, seg: Segment): void {
    if (node.removed) return;
    node.downQ.push(seg);
    if (!node.downBusy) this.#startDownlink(node);
  }

  #startDownlink(node: SimNode): void {
    const seg = node.downQ[node.downHead];
    if (!seg) return;
    node.downQ[node.downHead] = undefined as unknown as Segment;
    node.downHead++;
    if (node.downHead > 1024 && node.downHead * 2 > node.downQ.length) {
      node.downQ.splice(0, node.downHead);
      node.downHead = 0;
    }
    node.downBusy = true;
    this.clock.setTimeout(
      () => {
        node.downBusy = false;
        node.stats.received += seg.bytes;
        addTo(node.stats.receivedSeries, Math.floor(this.clock.now() / this.bucketMs), seg.bytes);
        seg.from.peer.receive(seg);
        this.#startDownlink(node);
      },
      (seg.bytes * 1000) / node.download,
    );
  }
}

function addTo(series: number[], index: number, n: number): void {
  while (series.length <= index) series.push(0);
  series[index] = (series[index] ?? 0) + n;
}
