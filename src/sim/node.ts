import type { BttkitErrorOptions } from '../util/errors.js';
import type { Connection } from '../util/transport.js';
import { TransportError } from '../util/transport.js';
import type { SimDatagramSocket } from './datagram.js';
import { SimError } from './errors.js';
import type { SimEnd } from './stream.js';

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
  /**
   * Probability that a segment or datagram it sends is lost. A lost stream segment is sent again
   * after `retransmitMs`; a lost datagram is gone. Default 0.
   */
  loss?: number;
}

/** Traffic of one node. */
export interface SimNodeStats {
  /** Bytes its uplink put on the network (stream retransmissions and datagrams included). */
  sent: number;
  /** Bytes its downlink delivered (datagrams included). */
  received: number;
  /** `sent` per bucket of `bucketMs` (index = time / bucketMs), counted when a segment finishes. */
  sentSeries: number[];
  /** `received` per bucket. */
  receivedSeries: number[];
  /** Datagrams its uplink put on the network (lost ones included). */
  datagramsSent: number;
  /** Datagrams its downlink delivered to a bound socket's handler. */
  datagramsReceived: number;
  /** Datagrams it sent that the link lost (`loss`). */
  datagramsLost: number;
  /**
   * Datagrams it sent that were dropped: its uplink's or the receiver's downlink's datagram queue
   * was full (drop-tail), or the datagram was too large.
   */
  datagramsDropped: number;
  /** Datagrams it sent to a host or port where no socket was bound (or no handler set), dropped there. */
  datagramsUnroutable: number;
}

/** A piece of a stream connection on the way. */
export interface Segment {
  kind: 'segment';
  seq: number;
  chunks: Uint8Array[];
  bytes: number;
  from: SimEnd;
}

/** A datagram on the way (`data` is the network's own copy). */
export interface Datagram {
  kind: 'datagram';
  data: Uint8Array;
  bytes: number;
  from: { host: string; port: number };
  to: { host: string; port: number };
  /** Value of the uplink's `streamSent` after which the datagram's turn comes (see `SimNetwork`). */
  ticket: number;
  /** The sending host's counters. */
  sender: SimNodeStats;
}

/** A host on the network: its access link's two servers and what is bound on it. */
export class SimNode {
  readonly host: string;
  readonly upload: number;
  readonly download: number;
  readonly latencyMs: number;
  readonly loss: number;
  readonly listeners = new Map<number, (c: Connection) => void>();
  readonly ends = new Set<SimEnd>();
  readonly datagramSockets = new Map<number, SimDatagramSocket>();
  readonly stats: SimNodeStats = {
    sent: 0,
    received: 0,
    sentSeries: [],
    receivedSeries: [],
    datagramsSent: 0,
    datagramsReceived: 0,
    datagramsLost: 0,
    datagramsDropped: 0,
    datagramsUnroutable: 0,
  };
  removed = false;
  nextPort = 40000;
  nextDatagramPort = 50000;
  // Uplink: round-robin over connections with something to send and room in their window…
  readonly rr: SimEnd[] = [];
  rrHead = 0;
  upBusy = false;
  /** Stream bytes the uplink has sent so far (the clock of the datagrams' tickets). */
  streamSent = 0;
  // …and a FIFO of datagrams, each waiting for the stream bytes that were ahead of it.
  readonly dgQ: Datagram[] = [];
  dgHead = 0;
  dgBytes = 0;
  // Downlink: FIFO of arrived segments and datagrams.
  readonly downQ: (Segment | Datagram)[] = [];
  downHead = 0;
  downBusy = false;
  /** Bytes of datagrams in `downQ`. */
  downDgBytes = 0;

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

  /**
   * Stream bytes that would be ahead of a datagram queued now in a drop-tail FIFO uplink: what
   * each connection could put on the wire at once (its retransmissions, and its queued bytes up
   * to the free room in its window). A bulk TCP transfer keeps its window's worth there, so a
   * datagram behind it waits about `windowBytes / upload` — the queueing delay a full modem
   * buffer gives (what LEDBAT measures).
   */
  streamBacklog(windowBytes: number): number {
    let q = 0;
    for (const end of this.ends) {
      if (end.closed) continue;
      for (const s of end.retransmit) q += s.bytes;
      q += Math.min(end.outBytes, Math.max(0, windowBytes - end.inflight));
    }
    return q;
  }

  /** The datagram at the head of the uplink's queue. */
  peekDatagram(): Datagram | undefined {
    return this.dgQ[this.dgHead];
  }

  shiftDatagram(): Datagram | undefined {
    const dg = this.dgQ[this.dgHead];
    if (!dg) return undefined;
    this.dgQ[this.dgHead] = undefined as unknown as Datagram;
    this.dgHead++;
    this.dgBytes -= dg.bytes;
    if (this.dgHead > 1024 && this.dgHead * 2 > this.dgQ.length) {
      this.dgQ.splice(0, this.dgHead);
      this.dgHead = 0;
    }
    return dg;
  }
}

export function addTo(series: number[], index: number, n: number): void {
  while (series.length <= index) series.push(0);
  series[index] = (series[index] ?? 0) + n;
}

/**
 * A transport error of the network's routine (a refused dial, a reset): built without a stack
 * trace, which would be most of its cost — a large swarm makes hundreds of thousands of them,
 * and a stack into the scheduler tells nothing.
 */
export function routine(
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
