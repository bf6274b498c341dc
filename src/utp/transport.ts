/**
 * {@link UtpTransport}: uTP as a {@link Transport}. `listen` binds one {@link UtpSocket};
 * `connect` dials from it when there is one (so peers see our listening port as the source, as
 * libtorrent does), else from one ephemeral socket bound on first use. `close` ends them all.
 */
import { TransportError } from '../util/errors.js';
import type { Connection, ConnectOptions, Endpoint, Listener, Transport } from '../util/transport.js';
import { bindUdp, type DatagramSocket } from './datagram.js';
import type { UtpOptions } from './options.js';
import { UtpSocket } from './socket.js';

/** Options of a {@link UtpTransport}. */
export interface UtpTransportOptions extends UtpOptions {
  /** Binds the datagram sockets. Default {@link bindUdp} (node:dgram). */
  bind?: (on: Endpoint) => Promise<DatagramSocket>;
}

/** BitTorrent over uTP (BEP 29). */
export class UtpTransport implements Transport {
  readonly #options: UtpTransportOptions;
  readonly #bind: (on: Endpoint) => Promise<DatagramSocket>;
  #listening: UtpSocket[] = [];
  /** Sockets whose listener was closed, open until their last connection ends. */
  #draining = new Set<UtpSocket>();
  #ephemeral: Map<4 | 6, Promise<UtpSocket>> = new Map();
  #closed = false;

  constructor(options: UtpTransportOptions = {}) {
    this.#options = options;
    this.#bind = options.bind ?? ((on) => bindUdp(on));
  }

  /** The sockets of this transport (listening first): for their {@link UtpSocket.stats}. */
  async sockets(): Promise<UtpSocket[]> {
    return [...this.#listening, ...(await Promise.all(this.#ephemeral.values()))];
  }

  async connect(to: Endpoint, options: ConnectOptions = {}): Promise<Connection> {
    if (this.#closed) throw new TransportError('TRANSPORT_CONNECT_FAILED', 'uTP transport closed');
    const v = to.host.includes(':') ? 6 : 4;
    // A dual-stack listening socket (`::`) dials IPv4 peers too: they see our listening port.
    const listening = this.#listening.find(
      (s) => (s.address.host.includes(':') ? 6 : 4) === v || (v === 4 && s.dualStack),
    );
    let socket = listening;
    if (!socket) {
      let p = this.#ephemeral.get(v);
      if (!p) {
        p = this.#bind({ host: v === 6 ? '::' : '0.0.0.0', port: 0 }).then(
          (d) => new UtpSocket(d, this.#options),
        );
        this.#ephemeral.set(v, p);
        p.catch(() => this.#ephemeral.delete(v));
      }
      try {
        socket = await p;
      } catch (err) {
        throw new TransportError(
          'TRANSPORT_CONNECT_FAILED',
          `cannot bind a UDP socket to reach ${to.host}:${to.port}`,
          { cause: err },
        );
      }
    }
    return socket.connect(to, options);
  }

  async listen(on: Endpoint, onConnection: (connection: Connection) => void): Promise<Listener> {
    const d = await this.#bind(on);
    const socket = new UtpSocket(d, this.#options);
    socket.onConnection(onConnection);
    this.#listening.push(socket);
    return {
      address: socket.address,
      // Stops accepting and dialling from this socket; connections already made keep it open,
      // and it is closed (the port freed) when the last one ends.
      close: async () => {
        socket.onConnection(undefined);
        const i = this.#listening.indexOf(socket);
        if (i < 0) return;
        this.#listening.splice(i, 1);
        this.#draining.add(socket);
        void socket.whenIdle().then(async () => {
          this.#draining.delete(socket);
          await socket.close();
        });
      },
    };
  }

  /** Closes every socket of this transport (their connections fail with `UTP_SOCKET_CLOSED`). */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...(await this.sockets().catch(() => this.#listening)), ...this.#draining];
    this.#listening = [];
    this.#draining.clear();
    this.#ephemeral.clear();
    await Promise.all(all.map((s) => s.close()));
  }
}
