import type { Endpoint } from '../util/transport.js';

/**
 * An unreliable datagram endpoint: the shape the uTP module runs over (its `DatagramSocket`,
 * implemented there over `node:dgram`). Declared here too, structurally identical, because the
 * swarm lab does not depend on the uTP module.
 */
export interface DatagramSocket {
  /** The bound address. */
  readonly address: Endpoint;
  /** Sends one datagram, fire and forget. The simulated socket copies `data`: reuse it at once. */
  send(data: Uint8Array, to: Endpoint): void;
  /** Sets the one handler of arriving datagrams; `data` is valid during the call only. */
  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void;
  /** Unbinds; later sends are dropped and nothing more arrives. */
  close(): Promise<void>;
}

/** What a simulated datagram socket needs of its network. */
export interface DatagramNet {
  /** Queues a copy of `data` at the uplink of the socket's host. */
  sendDatagram(from: SimDatagramSocket, data: Uint8Array, to: Endpoint): void;
  /** Frees the socket's port. */
  unbindDatagram(socket: SimDatagramSocket): void;
}

/**
 * A datagram socket on a {@link SimNetwork} host (from `network.bindDatagram`). Datagrams share
 * the host's access link with its stream connections: they queue at its uplink behind the
 * stream bytes that were waiting when they were sent (drop-tail when the uplink's datagram queue
 * is full), cross the link latency, may be lost (the sender's `loss`; never retransmitted), and
 * queue in the receiver's downlink FIFO with everything else. No ordering guarantee is given,
 * although the model happens to keep the order of one sender's datagrams.
 */
export class SimDatagramSocket implements DatagramSocket {
  readonly address: Endpoint;
  readonly #net: DatagramNet;
  #handler: ((data: Uint8Array, from: Endpoint) => void) | undefined;
  #closed = false;

  /** @internal Made by `SimNetwork.bindDatagram`. */
  constructor(net: DatagramNet, address: Endpoint) {
    this.#net = net;
    this.address = address;
  }

  /** True once closed (by {@link close} or because its host left the network). */
  get closed(): boolean {
    return this.#closed;
  }

  send(data: Uint8Array, to: Endpoint): void {
    if (this.#closed) return;
    this.#net.sendDatagram(this, data, to);
  }

  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {
    this.detach();
  }

  /** @internal A datagram came out of the host's downlink. */
  deliver(data: Uint8Array, from: Endpoint): boolean {
    const h = this.#handler;
    if (this.#closed || !h) return false;
    h(data, from);
    return true;
  }

  /** @internal Closes without a promise (the host left, or `close`). */
  detach(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler = undefined;
    this.#net.unbindDatagram(this);
  }
}
