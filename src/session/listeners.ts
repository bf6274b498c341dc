import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import type { Connection, Endpoint, Listener } from '../util/transport.js';
import { WireError } from '../wire/errors.js';
import { PeerWire } from '../wire/peer-wire.js';
import { DUAL_STACK_HOST, isNoIpv6Error } from './dual-stack.js';
import { SessionError } from './errors.js';
import {
  cryptoMethods,
  type LinkInfo,
  type PeerTransports,
  type StreamEncryption,
  type TransportKind,
} from './links.js';
import type { Settings } from './settings.js';

/** What the listeners need from their client. */
export interface ListenerHost {
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  readonly settings: Readonly<Settings>;
  /** No torrent could take one more peer now (client full, destroyed, every torrent at its limit). */
  refuses(): boolean;
  /** The torrent an incoming handshake names: takes the wire, or undefined when there is none. */
  route(infoHash: Uint8Array): ((wire: PeerWire, link: LinkInfo) => void) | undefined;
  /** The info-hash of ours whose SHA-1('req2' ‖ infoHash) this is (MSE's torrent lookup). */
  byReq2(req2: Uint8Array): Uint8Array | undefined;
  warn(err: BttkitError): void;
}

/** Attempts at finding a port free on both TCP and UDP when any port will do. */
const PORT_ATTEMPTS = 8;

/**
 * The client's listening side: TCP and uTP on one port number (as libtorrent), each accepted
 * connection through the MSE responder (unless encryption is disabled: then plaintext only),
 * then a {@link PeerWire} whose BitTorrent handshake picks the torrent.
 */
export class PeerListeners {
  readonly #host: ListenerHost;
  readonly #transports: PeerTransports;
  readonly #encryption: StreamEncryption | undefined;
  #tcp: Listener | undefined;
  #utp: Listener | undefined;
  #pending = 0;

  constructor(host: ListenerHost, transports: PeerTransports, encryption: StreamEncryption | undefined) {
    this.#host = host;
    this.#transports = transports;
    this.#encryption = encryption;
  }

  /** The bound address (TCP's, else uTP's), once listening. */
  get address(): Endpoint | undefined {
    return this.#tcp?.address ?? this.#utp?.address;
  }

  /** Connections accepted whose BitTorrent handshake has not arrived yet. */
  get pending(): number {
    return this.#pending;
  }

  /** Which transports listen. */
  get listening(): { tcp: boolean; utp: boolean } {
    return { tcp: this.#tcp !== undefined, utp: this.#utp !== undefined };
  }

  /**
   * Listens on TCP and uTP (those enabled and present) on `port` (0: a port free for both).
   * When uTP cannot have the port TCP got, the client warns and goes on with TCP alone.
   * `fallback`: when `host` is `::` and the host has no IPv6, listen on `0.0.0.0` instead.
   * @throws {SessionError} `SESSION_NO_TRANSPORT` when neither is enabled; a `TransportError`
   *   when TCP cannot listen.
   */
  async listen(port: number, host: string, fallback = false): Promise<Endpoint> {
    try {
      return await this.#listenOn(port, host);
    } catch (err) {
      if (!fallback || host !== DUAL_STACK_HOST || !isNoIpv6Error(err)) throw err;
      await this.close();
      return this.#listenOn(port, '0.0.0.0');
    }
  }

  async #listenOn(port: number, host: string): Promise<Endpoint> {
    const s = this.#host.settings;
    const tcpT = s.enableTcp ? this.#transports.tcp : undefined;
    const utpT = s.enableUtp ? this.#transports.utp : undefined;
    if (!tcpT) {
      if (!utpT)
        throw new SessionError(
          'SESSION_NO_TRANSPORT',
          'no transport enabled (enableTcp and enableUtp are both off)',
        );
      this.#utp = await utpT.listen({ host, port }, (c) => this.#accept(c, 'utp'));
      return this.#utp.address;
    }
    const tcp = tcpT;
    for (let attempt = 1; ; attempt++) {
      const l = await tcp.listen({ host, port }, (c) => this.#accept(c, 'tcp'));
      if (!utpT) {
        this.#tcp = l;
        return l.address;
      }
      try {
        this.#utp = await utpT.listen({ host, port: l.address.port }, (c) => this.#accept(c, 'utp'));
        this.#tcp = l;
        return l.address;
      } catch (err) {
        if (port === 0 && attempt < PORT_ATTEMPTS) {
          await l.close();
          continue;
        }
        this.#tcp = l;
        this.#host.warn(
          new SessionError(
            'SESSION_UTP_LISTEN_FAILED',
            `uTP cannot listen on port ${l.address.port}; TCP only`,
            {
              cause: err,
            },
          ),
        );
        return l.address;
      }
    }
  }

  /** Stops listening (open connections stay). */
  async close(): Promise<void> {
    const tcp = this.#tcp;
    const utp = this.#utp;
    this.#tcp = undefined;
    this.#utp = undefined;
    await Promise.all([tcp?.close(), utp?.close()]);
  }

  #accept(conn: Connection, kind: TransportKind): void {
    const host = this.#host;
    // Refuse at once, before any protocol work, when nobody could take the peer: the client is
    // full, or every torrent is at its connection limit (a full swarm dials us a lot).
    if (host.refuses()) {
      conn.destroy();
      return;
    }
    this.#pending++;
    let counted = true;
    const done = () => {
      if (counted) this.#pending--;
      counted = false;
    };
    const policy = host.settings.encryption;
    const enc = this.#encryption;
    if (policy === 'disabled' || !enc) {
      this.#wire(conn, { transport: kind, encryption: 'none' }, undefined, done);
      return;
    }
    enc
      .accept(conn, {
        policy,
        allow: cryptoMethods(policy),
        prefer: host.settings.preferRc4 || policy === 'forced' ? 'rc4' : 'plaintext',
        lookup: (req2) => host.byReq2(req2),
        clock: host.clock,
      })
      .then(
        (r) => this.#wire(r.connection, { transport: kind, encryption: r.method }, r.infoHash, done),
        () => done(), // the responder destroyed the connection; a stranger's failure is no warning
      );
  }

  /** A PeerWire on an accepted connection; its handshake picks the torrent. */
  #wire(conn: Connection, link: LinkInfo, mseInfoHash: Uint8Array | undefined, done: () => void): void {
    const host = this.#host;
    if (host.refuses()) {
      done();
      conn.destroy();
      return;
    }
    const listenPort = this.address?.port;
    const wire = new PeerWire(conn, {
      peerId: host.peerId,
      clock: host.clock,
      limits: { maxBlockLength: host.settings.blockSize },
      lendBlocks: true,
      ...(listenPort !== undefined ? { listenPort } : {}),
    });
    wire.once('handshake', (hs) => {
      done();
      const route =
        mseInfoHash && toHex(mseInfoHash) !== toHex(hs.infoHash) ? undefined : host.route(hs.infoHash);
      if (!route) {
        wire.close(new WireError('WIRE_INFOHASH_MISMATCH', 'no such torrent here'));
        return;
      }
      route(wire, link);
    });
    wire.once('close', done);
  }
}
