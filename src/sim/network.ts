import { AbortError } from '../util/errors.js';
import {
  type Connection,
  type ConnectOptions,
  type Endpoint,
  type Listener,
  type Transport,
  TransportError,
} from '../util/transport.js';
import { type DatagramNet, SimDatagramSocket } from './datagram.js';
import { SimError } from './errors.js';
import {
  addTo,
  type Datagram,
  routine,
  type Segment,
  SimNode,
  type SimNodeOptions,
  type SimNodeStats,
} from './node.js';
import type { SimRandom } from './random.js';
import type { VirtualClock } from './scheduler.js';
import { SimEnd, type StreamNet } from './stream.js';

export { type DatagramSocket, SimDatagramSocket } from './datagram.js';
export { SimError } from './errors.js';
export type { SimNodeOptions, SimNodeStats } from './node.js';

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
  /**
   * Bytes of datagrams an uplink holds waiting to be sent, and a downlink waiting to be
   * delivered; a datagram that does not fit is dropped (drop-tail, counted in the sender's
   * `datagramsDropped`). Default 256 KiB.
   */
  datagramQueueBytes?: number;
  /** Largest datagram, bytes (larger ones are dropped, as UDP refuses them). Default 65,507. */
  maxDatagramBytes?: number;
}

/**
 * The swarm lab's network: hosts with shaped access links on a {@link VirtualClock}. Each host
 * gets a {@link Transport} (`network.transport(host)`) that a `Client` uses as it would TCP, and
 * datagram sockets (`network.bindDatagram(host, port)`) for uTP and other datagram protocols.
 *
 * No host ever sends faster than its upload capacity or receives faster than its download
 * capacity: both are servers that take `size / rate` of virtual time per segment or datagram.
 * The uplink serves the stream connections round-robin; a datagram waits there behind the stream
 * bytes that were ready to go when it was sent (as in a drop-tail FIFO that TCP keeps full up to
 * its window), so a bulk stream gives datagrams queueing delay. The downlink is one FIFO for both.
 */
export class SimNetwork implements StreamNet, DatagramNet {
  readonly clock: VirtualClock;
  readonly segmentBytes: number;
  readonly windowBytes: number;
  readonly retransmitMs: number;
  readonly bucketMs: number;
  readonly datagramQueueBytes: number;
  readonly maxDatagramBytes: number;
  readonly #nodes = new Map<string, SimNode>();
  readonly #random: SimRandom;

  constructor(clock: VirtualClock, random: SimRandom, options: SimNetworkOptions = {}) {
    this.clock = clock;
    this.#random = random;
    this.segmentBytes = options.segmentBytes ?? 16_397;
    this.windowBytes = options.windowBytes ?? 256 * 1024;
    this.retransmitMs = options.retransmitMs ?? 200;
    this.bucketMs = options.bucketMs ?? 1000;
    this.datagramQueueBytes = options.datagramQueueBytes ?? 256 * 1024;
    this.maxDatagramBytes = options.maxDatagramBytes ?? 65_507;
    if (!(this.datagramQueueBytes >= 0))
      throw new SimError('SIM_BAD_NETWORK', 'datagramQueueBytes must be >= 0');
    if (!(this.maxDatagramBytes >= 1)) throw new SimError('SIM_BAD_NETWORK', 'maxDatagramBytes must be >= 1');
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
    for (const s of [...node.datagramSockets.values()]) s.detach();
    node.dgQ.length = 0;
    node.dgHead = 0;
    node.dgBytes = 0;
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

  /**
   * Binds a datagram socket on `host` (`port` 0 or absent: a free port from 50000 up). UDP ports
   * are apart from the stream listeners' ports, as on a real host (uTP and TCP share a number).
   * @throws {TransportError} `TRANSPORT_LISTEN_FAILED` — no such host, or the port is taken
   */
  bindDatagram(host: string, port = 0): SimDatagramSocket {
    const node = this.#nodes.get(host);
    if (!node) throw new TransportError('TRANSPORT_LISTEN_FAILED', `host ${host} is not on the network`);
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
      throw new TransportError('TRANSPORT_LISTEN_FAILED', `bad port ${port}`);
    let p = port;
    if (p === 0) {
      do p = node.nextDatagramPort++;
      while (node.datagramSockets.has(p) && p < 65535);
    }
    if (node.datagramSockets.has(p))
      throw new TransportError('TRANSPORT_LISTEN_FAILED', `udp ${host}:${p} is in use`);
    const socket = new SimDatagramSocket(this, { host, port: p });
    node.datagramSockets.set(p, socket);
    return socket;
  }

  /**
   * A bind function for `host`, in the shape a datagram transport takes (`bind(on)`): binds
   * `on.port` on `host` whatever `on.host` says (a simulated host has one address).
   */
  datagrams(host: string): (on: Endpoint) => Promise<SimDatagramSocket> {
    return async (on) => this.bindDatagram(host, on.port);
  }

  /** @internal Queues a copy of `data` at the uplink of `from`'s host. */
  sendDatagram(from: SimDatagramSocket, data: Uint8Array, to: Endpoint): void {
    const node = this.#nodes.get(from.address.host);
    if (!node || from.closed) return;
    const bytes = data.length;
    if (bytes > this.maxDatagramBytes) {
      node.stats.datagramsDropped++;
      return;
    }
    if (node.dgBytes + bytes > this.datagramQueueBytes) {
      node.stats.datagramsDropped++;
      return;
    }
    node.dgQ.push({
      kind: 'datagram',
      data: data.slice(),
      bytes,
      from: from.address,
      to: { host: to.host, port: to.port },
      ticket: node.streamSent + node.streamBacklog(this.windowBytes),
      sender: node.stats,
    });
    node.dgBytes += bytes;
    this.#startUplink(node);
  }

  /** @internal */
  unbindDatagram(socket: SimDatagramSocket): void {
    const node = this.#nodes.get(socket.address.host);
    if (node?.datagramSockets.get(socket.address.port) === socket)
      node.datagramSockets.delete(socket.address.port);
  }

  /** An end may have become sendable: queue it at its node's uplink. */
  poke(end: SimEnd): void {
    if (end.queued || !end.sendable) return;
    const node = end.node;
    end.queued = true;
    node.rr.push(end);
    this.#startUplink(node);
  }

  /**
   * Starts the uplink's next transmission: the head datagram once the stream bytes that were
   * ahead of it have gone (its ticket), else the next connection in the round-robin, else the
   * head datagram.
   */
  #startUplink(node: SimNode): void {
    if (node.upBusy) return;
    const dg = node.peekDatagram();
    if (dg && dg.ticket <= node.streamSent) {
      this.#startDatagram(node);
      return;
    }
    let started = false;
    while (node.rrHead < node.rr.length) {
      const end = node.rr[node.rrHead] as SimEnd;
      node.rr[node.rrHead] = undefined as unknown as SimEnd;
      node.rrHead++;
      end.queued = false;
      if (!end.sendable) continue;
      const seg = end.take(this.segmentBytes);
      node.upBusy = true;
      node.streamSent += seg.bytes;
      started = true;
      this.clock.setTimeout(() => this.#sent(node, end, seg), (seg.bytes * 1000) / node.upload);
      break;
    }
    if (node.rrHead > 1024 && node.rrHead * 2 > node.rr.length) {
      node.rr.splice(0, node.rrHead);
      node.rrHead = 0;
    }
    if (!started && dg) this.#startDatagram(node);
  }

  #startDatagram(node: SimNode): void {
    const dg = node.shiftDatagram();
    if (!dg) return;
    node.upBusy = true;
    this.clock.setTimeout(() => this.#sentDatagram(node, dg), (dg.bytes * 1000) / node.upload);
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

  #sentDatagram(node: SimNode, dg: Datagram): void {
    node.upBusy = false;
    const s = node.stats;
    s.sent += dg.bytes;
    s.datagramsSent++;
    addTo(s.sentSeries, Math.floor(this.clock.now() / this.bucketMs), dg.bytes);
    if (node.loss > 0 && this.#random.next() < node.loss) s.datagramsLost++;
    else {
      const target = this.#nodes.get(dg.to.host);
      if (target) this.clock.setTimeout(() => this.#arrive(target, dg), this.latency(node, target));
      else s.datagramsUnroutable++;
    }
    this.#startUplink(node);
  }

  #arrive(node: SimNode, item: Segment | Datagram): void {
    if (node.removed) return;
    if (item.kind === 'datagram') {
      if (node.downDgBytes + item.bytes > this.datagramQueueBytes) {
        item.sender.datagramsDropped++;
        return;
      }
      node.downDgBytes += item.bytes;
    }
    node.downQ.push(item);
    if (!node.downBusy) this.#startDownlink(node);
  }

  #startDownlink(node: SimNode): void {
    const item = node.downQ[node.downHead];
    if (!item) return;
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
        node.stats.received += item.bytes;
        addTo(node.stats.receivedSeries, Math.floor(this.clock.now() / this.bucketMs), item.bytes);
        if (item.kind === 'segment') item.from.peer.receive(item);
        else this.#deliverDatagram(node, item);
        this.#startDownlink(node);
      },
      (item.bytes * 1000) / node.download,
    );
  }

  #deliverDatagram(node: SimNode, dg: Datagram): void {
    node.downDgBytes -= dg.bytes;
    if (node.datagramSockets.get(dg.to.port)?.deliver(dg.data, dg.from)) node.stats.datagramsReceived++;
    else dg.sender.datagramsUnroutable++;
  }
}
