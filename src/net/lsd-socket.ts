/**
 * The multicast sockets of local service discovery (BEP 14) on Node's `dgram`, and the choice of
 * interfaces from the address a client listens on. {@link LsdService} uses them through the small
 * {@link LsdOpen} interface, which tests replace with a fake: no unit test sends multicast.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { NetError } from './errors.js';
import { LSD_GROUP4, LSD_GROUP6, LSD_MAX_DATAGRAM_BYTES, LSD_PORT } from './lsd.js';

/** What an open LSD socket tells its owner. */
export interface LsdSocketHandlers {
  /** A datagram arrived from `address` (the sender's IP; its peers listen there). */
  message(datagram: Uint8Array, address: string): void;
  /** The socket failed (a send, a join); it stays open where it can. */
  error(err: NetError): void;
}

/** One family's multicast socket, joined on one or more interfaces. */
export interface LsdEndpoint {
  readonly family: 4 | 6;
  /** The interfaces joined (IPv4 addresses, or `::%name` for IPv6). */
  readonly interfaces: readonly string[];
  /** Sends one datagram to the group on every joined interface; failures go to `error`. */
  send(datagram: Uint8Array): void;
  close(): void;
}

/** Opens an LSD socket (see {@link openLsdSocket}); replaceable for tests. */
export type LsdOpen = (
  family: 4 | 6,
  interfaces: readonly string[],
  options: { ttl: number },
  handlers: LsdSocketHandlers,
) => Promise<LsdEndpoint>;

/** Interfaces to run LSD on, by family: IPv4 addresses, IPv6 `::%ifname`. */
export interface LsdInterfaces {
  v4: string[];
  v6: string[];
}

/** Whether `host` is a loopback address (127/8, ::1, ::ffff:127.x) or `localhost`. */
function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\./.test(h);
}

/**
 * The interfaces LSD joins for a client listening on `host`: that address alone when it is a
 * specific one (IPv4; IPv6 by the interface holding it), every non-internal interface for the
 * wildcard (`0.0.0.0`: IPv4; `::`: both families), none for a loopback address or a name.
 */
export function lsdInterfacesFor(
  host: string,
  nics: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): LsdInterfaces {
  const out: LsdInterfaces = { v4: [], v6: [] };
  const h = host.replace(/^\[|\]$/g, '');
  if (isLoopbackHost(h) || isIP(h) === 0) return out;
  const any4 = h === '0.0.0.0' || h === '::';
  const any6 = h === '::';
  for (const [name, addrs] of Object.entries(nics)) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4' && (any4 || a.address === h) && !out.v4.includes(a.address))
        out.v4.push(a.address);
      if (a.family === 'IPv6' && (any6 || a.address === h) && !out.v6.includes(`::%${name}`))
        out.v6.push(`::%${name}`);
    }
  }
  return out;
}

function socketError(message: string, cause?: unknown): NetError {
  return new NetError('NET_LSD_SOCKET', message, cause !== undefined ? { cause } : undefined);
}

/**
 * Opens the LSD socket of a family on Node's `dgram`: bound to the wildcard address on port 6771
 * with `reuseAddr` (other clients on the host share the port), joined to the group on each
 * interface, multicast TTL `ttl`, loopback on (clients on the same host hear each other; our own
 * datagrams come back and are recognised by their cookie). Sends go out of each joined interface.
 * @throws {NetError} `NET_LSD_SOCKET` when the socket cannot be bound or joined on any interface.
 */
export const openLsdSocket: LsdOpen = async (family, interfaces, options, handlers) => {
  const group = family === 4 ? LSD_GROUP4 : LSD_GROUP6;
  const socket: Socket = createSocket({
    type: family === 4 ? 'udp4' : 'udp6',
    reuseAddr: true,
    ...(family === 6 ? { ipv6Only: true } : {}),
    recvBufferSize: 64 * 1024,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(LSD_PORT, family === 4 ? '0.0.0.0' : '::', () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    throw socketError(`cannot bind the LSD socket on port ${LSD_PORT}`, err);
  }
  socket.on('error', (err) => handlers.error(socketError('LSD socket error', err)));
  const joined: string[] = [];
  const failures: unknown[] = [];
  for (const iface of interfaces) {
    try {
      socket.addMembership(group, iface);
      joined.push(iface);
    } catch (err) {
      failures.push(err);
      handlers.error(socketError(`cannot join ${group} on ${iface}`, err));
    }
  }
  if (joined.length === 0) {
    socket.close();
    throw socketError(`cannot join ${group} on any interface`, failures[0]);
  }
  try {
    socket.setMulticastTTL(options.ttl);
    socket.setMulticastLoopback(true);
  } catch (err) {
    handlers.error(socketError('cannot set the LSD socket options', err));
  }
  socket.on('message', (msg, rinfo) => {
    // Never more than a datagram's worth: the decoder refuses longer ones unread.
    handlers.message(
      msg.length > LSD_MAX_DATAGRAM_BYTES + 1 ? msg.subarray(0, LSD_MAX_DATAGRAM_BYTES + 1) : msg,
      rinfo.address,
    );
  });
  socket.unref();
  let closed = false;
  return {
    family,
    interfaces: joined,
    send(datagram) {
      if (closed) return;
      for (const iface of joined) {
        try {
          // The outgoing interface applies to the send that follows at once.
          socket.setMulticastInterface(iface);
          socket.send(datagram, LSD_PORT, group, (err) => {
            if (err) handlers.error(socketError(`cannot send to ${group} on ${iface}`, err));
          });
        } catch (err) {
          handlers.error(socketError(`cannot send to ${group} on ${iface}`, err));
        }
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        socket.close();
      } catch {
        // already closed by an error
      }
    },
  };
};
