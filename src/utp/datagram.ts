/**
 * The datagram endpoint uTP runs over: an interface (so the swarm lab can run uTP over its
 * simulated network) and its `node:dgram` implementation, {@link bindUdp}.
 */
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import { TransportError } from '../util/errors.js';
import { normalizeHost, toDualStackHost } from '../util/ip.js';
import type { Endpoint } from '../util/transport.js';

/** An unreliable datagram endpoint (node:dgram, or the swarm lab's simulated network). */
export interface DatagramSocket {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: Endpoint;
  /**
   * Bound to `::` with IPv6-only off: sends to and receives from IPv4 peers too (their addresses
   * given and reported as plain IPv4). Absent or false: only the family of {@link address}.
   */
  readonly dualStack?: boolean;
  /**
   * Sends one datagram, fire and forget. The socket may keep `data` until it is sent: callers
   * never modify it after the call (uTP allocates each datagram and only rewrites a packet's
   * header fields — same length — to resend it).
   */
  send(data: Uint8Array, to: Endpoint): void;
  /** Sets the one handler of incoming datagrams; `data` is valid during the call only. */
  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void;
  close(): Promise<void>;
}

/** Options of {@link bindUdp}. */
export interface BindUdpOptions {
  /** Kernel buffer sizes asked for (the OS caps them: `net.core.rmem_max`/`wmem_max`). Default 4 MiB each. */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

/**
 * Binds a UDP socket on `on` (`udp6` for an IPv6 address) with large kernel buffers: at uTP's
 * rates a default 208 KiB receive buffer overflows between two turns of the event loop.
 * On `::` the socket is dual-stack (IPv6-only off; {@link DatagramSocket.dualStack}): IPv4 peers
 * are reached through their IPv4-mapped address and reported as plain IPv4.
 * Rejects with `TRANSPORT_LISTEN_FAILED` when the address cannot be bound.
 */
export function bindUdp(on: Endpoint, options: BindUdpOptions = {}): Promise<DatagramSocket> {
  const v6 = isIP(on.host) === 6;
  const family = v6 ? 6 : 4;
  // IP literals need no resolver: answer at once, so `send` runs synchronously instead of a
  // `dns.lookup` round trip through the next tick per datagram.
  const lookup = (host: string, _opts: unknown, cb: (e: Error | null, a: string, f: number) => void) => {
    if (isIP(host)) cb(null, host, family);
    else dns.lookup(host, family, (e, a, f) => cb(e, a, f));
  };
  const socket = dgram.createSocket({
    type: v6 ? 'udp6' : 'udp4',
    ipv6Only: false,
    lookup: lookup as unknown as dgram.SocketOptions['lookup'],
  });
  return new Promise((resolve, reject) => {
    socket.once('error', (err) => {
      try {
        socket.close();
      } catch {
        // Already closed.
      }
      reject(
        new TransportError('TRANSPORT_LISTEN_FAILED', `cannot bind UDP ${on.host}:${on.port}`, {
          cause: err,
        }),
      );
    });
    socket.bind(on.port, on.host, () => {
      socket.removeAllListeners('error');
      // Send errors (unreachable, buffer full) are packet loss to uTP.
      socket.on('error', () => {});
      for (const [set, size] of [
        [(n: number) => socket.setRecvBufferSize(n), options.recvBufferSize ?? 4 * 1024 * 1024],
        [(n: number) => socket.setSendBufferSize(n), options.sendBufferSize ?? 4 * 1024 * 1024],
      ] as const) {
        try {
          set(size);
        } catch {
          // The OS refused the size: keep its default.
        }
      }
      const a = socket.address();
      const dual = v6 && normalizeHost(a.address) === '::';
      resolve(new NodeDatagramSocket(socket, { host: a.address, port: a.port }, dual));
    });
  });
}

class NodeDatagramSocket implements DatagramSocket {
  readonly address: Endpoint;
  readonly dualStack: boolean;
  #socket: dgram.Socket;
  #closed = false;

  constructor(socket: dgram.Socket, address: Endpoint, dualStack: boolean) {
    this.#socket = socket;
    this.address = address;
    this.dualStack = dualStack;
  }

  send(data: Uint8Array, to: Endpoint): void {
    if (this.#closed) return;
    try {
      this.#socket.send(data, to.port, this.dualStack ? toDualStackHost(to.host) : to.host);
    } catch {
      // A port or address node refuses (a hostile datagram's source port 0): packet loss.
    }
  }

  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void {
    this.#socket.removeAllListeners('message');
    const dual = this.dualStack;
    this.#socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      // Only a dual-stack socket sees `::ffff:a.b.c.d`: the IPv4 peer, as uTP and the session know it.
      const host = dual && rinfo.address.startsWith('::ffff:') ? normalizeHost(rinfo.address) : rinfo.address;
      handler(msg, { host, port: rinfo.port });
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
