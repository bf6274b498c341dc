import type { InfoDictionary } from '../metainfo/torrent.js';
import type { Clock } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import type { WireError } from '../wire/errors.js';
import { PeerWire, type PeerWireOptions } from '../wire/peer-wire.js';
import { SessionError } from './errors.js';
import type { Dialed, Dialer, LinkInfo } from './links.js';
import type { PeerConn } from './peer.js';
import type { PeerBook } from './peer-book.js';
import type { Settings } from './settings.js';

/** What the {@link Connector} needs from its torrent and client. */
export interface ConnectorHost {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  readonly dialer: Dialer;
  readonly settings: Readonly<Settings>;
  readonly book: PeerBook;
  listenPort(): number | undefined;
  info(): InfoDictionary | undefined;
  /** The torrent is v2 or hybrid (BEP 52): our handshakes set the v2 bit. */
  speaksV2(): boolean;
  /** Its 32-byte v2 info-hash, when known. */
  infoHashV2(): Uint8Array | undefined;
  /** The client-wide connection limit allows one more. */
  canConnect(): boolean;
  /** Counts a connection against the client's limit (undone by the torrent when it closes). */
  connectionOpened(): void;
  connectionClosed(): void;
  /** Paused or destroyed: no new connections. */
  idle(): boolean;
  /** Joins a new wire to the torrent (see `attachPeer`). */
  attach(wire: PeerWire, id: string, incoming: boolean, link: LinkInfo): void;
  warn(err: BttkitError): void;
  /** Someone listens for warnings (they are not built otherwise). */
  wantsWarnings(): boolean;
}

/**
 * Opens the torrent's connections: dials the addresses the {@link PeerBook} offers (bounded by
 * the torrent's and the client's limits, with a connect timeout), and takes the incoming ones
 * the client hands over. Each new wire is joined to the torrent and handshaken.
 */
export class Connector {
  readonly #host: ConnectorHost;

  constructor(host: ConnectorHost) {
    this.#host = host;
  }

  /** Dials what the book says can be dialled now (`skipSeeds` once we are a seed). */
  connectMore(skipSeeds: boolean): void {
    if (this.#host.idle()) return;
    for (const id of this.#host.book.dialable(skipSeeds)) void this.connect(id);
  }

  /** Dials the address `id` if the book and the limits allow. */
  async connect(id: string): Promise<void> {
    const host = this.#host;
    if (host.idle()) return;
    const addr = host.book.dialTarget(id);
    if (!addr || !host.canConnect()) return;
    host.book.dialStarted(id);
    host.connectionOpened();
    let dialed: Dialed;
    const ac = new AbortController();
    const timer = host.clock.setTimeout(() => ac.abort(), host.settings.connectTimeoutMs);
    try {
      dialed = await host.dialer.dial(addr, host.infoHash, host.book.hints(id), ac.signal);
    } catch (err) {
      host.book.dialEnded(id);
      host.connectionClosed();
      host.book.failed(id);
      if (host.wantsWarnings())
        host.warn(
          err instanceof SessionError
            ? err
            : new SessionError('SESSION_CONNECT_FAILED', `cannot connect to ${id}`, { cause: err }),
        );
      return;
    } finally {
      timer.cancel();
    }
    host.book.dialEnded(id);
    if (host.idle() || host.book.isConnected(id)) {
      host.connectionClosed();
      dialed.connection.destroy();
      return;
    }
    const wire = new PeerWire(dialed.connection, this.wireOptions());
    host.attach(wire, id, false, dialed.link);
    wire.handshake();
  }

  /**
   * Takes an incoming wire whose handshake named this torrent; counts it against the client's
   * limit. False (and the wire closed) when the torrent cannot take it.
   */
  accept(wire: PeerWire, id: string, link: LinkInfo): boolean {
    const host = this.#host;
    if (host.idle() || host.book.isBanned(wire.remote.host) || !this.hasRoom) {
      wire.close();
      return false;
    }
    host.connectionOpened();
    host.attach(wire, id, true, link);
    // Answer with the hash the peer used (a hybrid is reached by its v1 or truncated v2 hash) —
    // or upgrade a hybrid's peer that set the BEP 52 bit to the v2 hash, as libtorrent does.
    const hs = wire.peerHandshake;
    const h2 = host.infoHashV2();
    const upgrade = hs?.v2 === true && h2 !== undefined;
    wire.handshake(
      upgrade ? h2.subarray(0, 20) : (hs?.infoHash ?? host.infoHash),
      h2 ? { v2: true, infoHashV2: h2 } : undefined,
    );
    return true;
  }

  /**
   * A connection closed: it leaves the client's count and the book, and we back off before
   * dialling the peer again however the connection ended (a peer at its connection limit closes
   * us cleanly; redialling at once would loop at the round-trip time) — except for the loser of
   * a duplicate connection, whose peer is still connected.
   */
  closed(peer: PeerConn, err: WireError | undefined): void {
    const book = this.#host.book;
    this.#host.connectionClosed();
    book.closed(peer);
    if (peer.incoming) return;
    if (err?.code === 'WIRE_DUPLICATE_CONNECTION') book.wake();
    else book.failed(peer.id);
  }

  /** Below the torrent's connection limit (connected peers only, as the client asks it). */
  get hasRoom(): boolean {
    return this.#host.book.connected.size < this.#host.settings.maxConnectionsPerTorrent;
  }

  /** Options of the wires this torrent dials. */
  wireOptions(): PeerWireOptions {
    const host = this.#host;
    const port = host.listenPort();
    const info = host.info();
    return {
      peerId: host.peerId,
      infoHash: host.infoHash,
      clock: host.clock,
      limits: { maxBlockLength: host.settings.blockSize },
      // Blocks go into the store, which copies them (or gets a copy: see the downloader).
      lendBlocks: true,
      ...(host.speaksV2() ? { v2: true } : {}),
      ...(host.infoHashV2() ? { infoHashV2: host.infoHashV2() } : {}),
      ...(info ? { torrent: info } : {}),
      ...(port !== undefined ? { listenPort: port } : {}),
    };
  }
}
