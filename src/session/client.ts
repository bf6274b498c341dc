import { randomBytes } from 'node:crypto';
import type { Dht, DhtOptions } from '../dht/dht.js';
import { type PeerAddress, parseInfoHash, parseMagnet } from '../metainfo/magnet.js';
import { type InfoDictionary, type Metainfo, parseTorrent } from '../metainfo/torrent.js';
import type { Priority } from '../picker/picker.js';
import { FsChunkStore } from '../storage/fs-store.js';
import { MemoryChunkStore } from '../storage/memory-store.js';
import type { ChunkStore } from '../storage/types.js';
import { toHex, utf8 } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import { type Endpoint, type Listener, TcpTransport, type Transport } from '../util/transport.js';
import { VERSION } from '../version.js';
import { WireError } from '../wire/errors.js';
import type { ExtensionFactory, WireExtension } from '../wire/extension.js';
import { PeerWire } from '../wire/peer-wire.js';
import { type Choker, TitForTatChoker } from './choker.js';
import { checkFilePriorities } from './downloader.js';
import { SessionError } from './errors.js';
import { createClientServer, type TorrentServer, type TorrentServerOptions } from './http-server.js';
import { DEFAULT_SETTINGS, type Settings } from './settings.js';
import { Torrent } from './torrent.js';
import type { TorrentContext } from './torrent-types.js';

/** Options of a {@link Client}. */
export interface ClientOptions {
  /** Our 20-byte peer id. Default: `-BK0100-` and 12 random bytes (Azureus style). */
  peerId?: Uint8Array;
  /**
   * How connections are made. Default TCP, reading into a shared reused buffer (`new
   * TcpTransport({ lendReadBuffer: true })`): wires of the session hand blocks on as views valid
   * during the call only (`lendBlocks`).
   */
  transport?: Transport;
  /** Timer source. Default the wall clock. */
  clock?: Clock;
  /** Settings shared by every torrent. */
  settings?: Partial<Settings>;
  /** Choker for each torrent. Default {@link TitForTatChoker}. */
  choker?: () => Choker;
  /**
   * The mainline DHT: a {@link Dht} you own, or options for one the client creates in `listen()`
   * and destroys with itself. Default: none. Never used for private torrents.
   */
  dht?: Dht | DhtOptions;
  /**
   * Plug-ins attached to every torrent as it is added (the BitTorrent Speed module is one:
   * `plugins: [speed({...})]`). The session itself knows nothing of BTT.
   */
  plugins?: readonly TorrentPlugin[];
  /** BEP 10 extensions added to every wire (e.g. `btt_speed`). */
  extensions?: readonly ((torrent: Torrent) => ExtensionFactory<WireExtension>)[];
  /**
   * Random source in [0, 1) for the piece picker's and the default choker's draws. Default
   * `Math.random`; the swarm lab passes a seeded generator so that runs repeat exactly.
   */
  random?: () => number;
}

/** A {@link Dht} instance, as opposed to options for one (without loading the DHT module). */
function isDht(d: Dht | DhtOptions | undefined): d is Dht {
  return d !== undefined && typeof (d as Dht).lookup === 'function';
}

/** Extends every torrent of a client: registers listeners, extensions, its own choker. */
export interface TorrentPlugin {
  readonly name: string;
  /** Called once per torrent, before it connects to anyone. */
  attach(torrent: Torrent): void;
}

/**
 * A token bucket on the injected clock: `take(bytes)` returns how long (ms) to wait before those
 * bytes may go out, and books them.
 */
export class RateLimiter {
  #next = 0;
  constructor(
    readonly bytesPerSecond: number,
    readonly clock: Clock,
    readonly burst = Math.max(65536, bytesPerSecond / 4),
  ) {
    if (!(bytesPerSecond > 0))
      throw new SessionError('SESSION_BAD_RATE', 'bytesPerSecond must be a positive number');
  }

  /** How long `bytes` would wait now, without booking them. */
  wouldWait(bytes: number): number {
    const now = this.clock.now();
    const earliest = now - (this.burst / this.bytesPerSecond) * 1000;
    const next = Math.max(this.#next, earliest) + (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, next - now);
  }

  take(bytes: number): number {
    const now = this.clock.now();
    const earliest = now - (this.burst / this.bytesPerSecond) * 1000;
    if (this.#next < earliest) this.#next = earliest;
    this.#next += (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, this.#next - now);
  }
}

/** What can be added: .torrent bytes, parsed metainfo, a magnet URI or a hex/base32 info-hash. */
export type TorrentSource = Uint8Array | Metainfo | InfoDictionary | string;

/** Options of {@link Client.add}. */
export interface AddTorrentOptions {
  /** Download folder (a file store). Without it and without `store`, data is kept in memory. */
  path?: string;
  /** Custom store. */
  store?: (info: InfoDictionary) => ChunkStore;
  /** Peers to connect to (plus `x.pe` of a magnet). */
  peers?: readonly PeerAddress[];
  /** Start paused. */
  paused?: boolean;
  /** Per-file priorities (0 = skip). */
  filePriorities?: readonly Priority[];
  /** More trackers, each URL its own tier, after those of the .torrent or magnet. */
  trackers?: readonly string[];
}

function defaultPeerId(): Uint8Array {
  const v = VERSION.split('.').map((n) => n.padStart(1, '0'));
  const prefix = utf8(
    `-BK${(v[0] ?? '0').slice(0, 1)}${(v[1] ?? '0').padStart(2, '0').slice(0, 2)}${(v[2] ?? '0').slice(0, 1)}-`,
  );
  const id = new Uint8Array(20);
  id.set(prefix);
  id.set(randomBytes(12), 8);
  return id;
}

/**
 * A BitTorrent client: one listening port, connection limits and settings shared by its
 * torrents.
 *
 * @example
 * ```ts
 * const client = new Client();
 * await client.listen(6881);
 * const t = client.add(await readFile('x.torrent'), { path: './downloads', peers: [{ host: '10.0.0.2', port: 6881 }] });
 * t.on('done', () => client.destroy());
 * ```
 */
export class Client {
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly settings: Readonly<Settings>;
  #torrents = new Map<string, Torrent>();
  #listener: Listener | undefined;
  #connections = 0;
  #pendingIncoming = 0;
  #options: ClientOptions;
  #destroyed = false;
  #dht: Dht | undefined;
  #ownsDht = false;
  #uploadLimiter: RateLimiter | undefined;

  constructor(options: ClientOptions = {}) {
    this.#options = options;
    this.peerId = options.peerId ?? defaultPeerId();
    if (this.peerId.length !== 20) throw new SessionError('SESSION_BAD_PEER_ID', 'peer id must be 20 bytes');
    this.clock = options.clock ?? realClock;
    // Our wires honour lent read buffers (see TcpTransportOptions.lendReadBuffer).
    this.transport = options.transport ?? new TcpTransport({ lendReadBuffer: true });
    this.settings = Object.freeze({ ...DEFAULT_SETTINGS, ...options.settings });
    const bs = this.settings.blockSize;
    if (!(Number.isInteger(bs) && bs >= 16384 && bs <= 4 * 1024 * 1024 && (bs & (bs - 1)) === 0))
      throw new SessionError('SESSION_BAD_SETTINGS', 'blockSize must be a power of two from 16 KiB to 4 MiB');
    if (isDht(options.dht)) this.#dht = options.dht;
    const limit = this.settings.uploadRateLimit;
    if (limit > 0) this.#uploadLimiter = new RateLimiter(limit, this.clock);
  }

  /** The DHT in use, if any. */
  get dht(): Dht | undefined {
    return this.#dht;
  }

  /** The address we listen on, once listening. */
  get address(): Endpoint | undefined {
    return this.#listener?.address;
  }

  /** Open connections over all torrents. */
  get connections(): number {
    return this.#connections + this.#pendingIncoming;
  }

  /** Every torrent. */
  get torrents(): Torrent[] {
    return [...this.#torrents.values()];
  }

  /** Listens for incoming peers (port 0: any free port). Resolves with the bound address. */
  async listen(port = 0, host = '0.0.0.0'): Promise<Endpoint> {
    if (this.#listener) return this.#listener.address;
    const dhtOptions = this.#options.dht;
    if (dhtOptions && !isDht(dhtOptions) && !this.#dht) {
      // Loaded on demand: the DHT and its crypto are a good part of start-up time.
      const { Dht } = await import('../dht/dht.js');
      this.#dht = await Dht.create({ host, ...dhtOptions });
      this.#ownsDht = true;
      this.#dht.on('warning', () => {});
    }
    this.#listener = await this.transport.listen({ host, port }, (conn) => {
      // Refuse at once, before any protocol work, when nobody could take the peer: the client
      // is full, or every torrent is at its connection limit (a full swarm dials us a lot).
      if (
        this.#destroyed ||
        this.connections >= this.settings.maxConnections ||
        !this.torrents.some((t) => t.acceptingPeers)
      ) {
        conn.destroy();
        return;
      }
      this.#pendingIncoming++;
      const listenPort = this.#listener?.address.port;
      const wire = new PeerWire(conn, {
        peerId: this.peerId,
        clock: this.clock,
        limits: { maxBlockLength: this.settings.blockSize },
        lendBlocks: true,
        ...(listenPort !== undefined ? { listenPort } : {}),
      });
      let handed = false;
      wire.once('handshake', (hs) => {
        this.#pendingIncoming--;
        handed = true;
        const torrent = this.#torrents.get(toHex(hs.infoHash));
        if (!torrent) {
          wire.close(new WireError('WIRE_INFOHASH_MISMATCH', 'no such torrent here'));
          return;
        }
        torrent.acceptIncoming(wire);
      });
      wire.once('close', () => {
        if (!handed) this.#pendingIncoming--;
      });
    });
    return this.#listener.address;
  }

  /** Adds a torrent. Adding one that is already there returns the existing torrent. */
  add(source: TorrentSource, options: AddTorrentOptions = {}): Torrent {
    if (this.#destroyed) throw new SessionError('SESSION_CLIENT_DESTROYED', 'the client is destroyed');
    let infoHash: Uint8Array;
    let info: InfoDictionary | undefined;
    let name: string | undefined;
    const peers: PeerAddress[] = [...(options.peers ?? [])];
    const tiers: string[][] = [];
    if (source instanceof Uint8Array) {
      const meta = parseTorrent(source);
      info = meta;
      infoHash = meta.infoHashBytes;
      for (const t of meta.announce) tiers.push([...t]);
    } else if (typeof source === 'string') {
      if (/^magnet:/i.test(source)) {
        const m = parseMagnet(source);
        infoHash = m.infoHashBytes;
        name = m.name;
        peers.push(...m.peers);
        for (const t of m.trackers) tiers.push([t]);
      } else {
        infoHash = parseInfoHash(source);
      }
    } else {
      info = source;
      infoHash = source.infoHashBytes;
      if ('announce' in source) for (const t of source.announce) tiers.push([...t]);
    }
    for (const t of options.trackers ?? []) if (!tiers.some((tier) => tier.includes(t))) tiers.push([t]);
    if (info && options.filePriorities) checkFilePriorities(info, options.filePriorities);
    const key = toHex(infoHash);
    const existing = this.#torrents.get(key);
    if (existing) {
      for (const p of peers) existing.addPeer(p);
      return existing;
    }
    const createStore =
      options.store ??
      ((i: InfoDictionary) =>
        options.path !== undefined
          ? new FsChunkStore(i, { path: options.path, maxQueuedBytes: this.settings.maxPendingWriteBytes })
          : new MemoryChunkStore(i));
    const client = this;
    const random = this.#options.random ?? Math.random;
    const ctx: TorrentContext = {
      peerId: this.peerId,
      clock: this.clock,
      transport: this.transport,
      settings: this.settings,
      listenPort: () => this.#listener?.address.port,
      canConnect: () => this.connections < this.settings.maxConnections,
      connectionOpened: () => {
        this.#connections++;
      },
      connectionClosed: () => {
        this.#connections--;
      },
      createChoker: this.#options.choker ?? (() => new TitForTatChoker({ random })),
      random,
      uploadLimiter: this.#uploadLimiter,
      createStore,
      get dht() {
        return client.#dht;
      },
      extensions: this.#options.extensions ?? [],
      onDestroy: (t) => {
        if (this.#torrents.get(t.infoHashHex) === t) this.#torrents.delete(t.infoHashHex);
      },
    };
    const torrent = new Torrent(ctx, {
      infoHash,
      peers,
      ...(info ? { info } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(options.paused !== undefined ? { paused: options.paused } : {}),
      ...(options.filePriorities ? { filePriorities: options.filePriorities } : {}),
      trackers: tiers,
    });
    this.#torrents.set(key, torrent);
    for (const plugin of this.#options.plugins ?? []) plugin.attach(torrent);
    return torrent;
  }

  /** The torrent with this info-hash (hex, base32 or bytes). */
  get(infoHash: string | Uint8Array): Torrent | undefined {
    const key = typeof infoHash === 'string' ? toHex(parseInfoHash(infoHash)) : toHex(infoHash);
    return this.#torrents.get(key);
  }

  /**
   * An HTTP server for every torrent of this client: `/` lists them, `/<infoHashHex>/…` serves
   * one as `torrent.createServer()` does (see {@link createClientServer}). Bound to 127.0.0.1 by
   * default; call `listen()`.
   */
  createServer(opts: TorrentServerOptions = {}): TorrentServer {
    return createClientServer(this, opts);
  }

  /** Destroys every torrent and stops listening. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(this.torrents.map((t) => t.destroy()));
    await this.#listener?.close();
    this.#listener = undefined;
    if (this.#ownsDht) await this.#dht?.destroy();
    this.#dht = undefined;
  }
}
