import type { Dht, DhtOptions } from '../dht/dht.js';
import { type PeerAddress, parseInfoHash, parseMagnet } from '../metainfo/magnet.js';
import { type InfoDictionary, type Metainfo, parseTorrent } from '../metainfo/torrent.js';
import type { PortMapper } from '../net/portmap.js';
import type { Priority } from '../picker/picker.js';
import { FdCache } from '../storage/fd-cache.js';
import { FsChunkStore } from '../storage/fs-store.js';
import { MemoryChunkStore } from '../storage/memory-store.js';
import type { ChunkStore } from '../storage/types.js';
import { toHex } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import { type Endpoint, TcpTransport, type Transport } from '../util/transport.js';
import { UtpTransport } from '../utp/index.js';
import { TypedEmitter } from '../wire/emitter.js';
import type { ExtensionFactory, WireExtension } from '../wire/extension.js';
import * as mseModule from '../wire/mse/index.js';
import { type Choker, TitForTatChoker } from './choker.js';
import { ClientPortMapping, checkPortMapSettings } from './client-portmap.js';
import { ClientResume } from './client-resume.js';
import { checkLinkSettings, checkScaleSettings, defaultPeerId } from './client-setup.js';
import type { ClientEvents, RemoveOptions } from './client-types.js';
import { checkFilePriorities } from './downloader.js';
import { defaultListenHost, dhtHost } from './dual-stack.js';
import { SessionError } from './errors.js';
import { holepunchFeature } from './holepunch.js';
import { createClientServer, type TorrentServer, type TorrentServerOptions } from './http-server.js';
import { Dialer, type StreamEncryption } from './links.js';
import { type ListenerHost, PeerListeners } from './listeners.js';
import { ClientLsd } from './lsd.js';
import { prepareSeed, type SeedOptions, type SeedSource, whenSeeding } from './seed.js';
import { DEFAULT_SETTINGS, type Settings } from './settings.js';
import { isInfoHashText, isMagnetUri, readTorrentPath } from './source.js';
import { appRate, RateLimiter } from './throttle.js';
import { AnnounceGate, TimerGroup } from './timer-group.js';
import { Torrent } from './torrent.js';
import { torrentFileOf } from './torrent-file.js';
import type { TorrentContext, TorrentFeatureFactory } from './torrent-types.js';
import { webSeedFeature } from './web-seed.js';
import { checkWebSeedUrl, isWebSeedUrl } from './web-seed-url.js';

export { RateLimiter } from './throttle.js';

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
  /**
   * uTP (BEP 29): a transport, or `false` for none. Default: a `UtpTransport` on real UDP when
   * `transport` is not given (then none: a custom stream transport brings its own datagrams).
   * Also switchable by `settings.enableUtp`.
   */
  utp?: Transport | false;
  /**
   * Message stream encryption: `false` for none at all (as `settings.encryption: 'disabled'`),
   * or a replacement implementation. Default bttkit's MSE/PE (`bttkit/wire`).
   */
  encryption?: StreamEncryption | false;
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
  /**
   * PEM certificates trusted for `https:` web seeds (BEP 19) besides Node's root certificates:
   * a self-signed server, a company CA.
   */
  webSeedCa?: string | readonly string[];
  /**
   * Fast resume: a folder where the client keeps each torrent's resume data
   * (`<info-hash hex>.resume`), read when the torrent is added (its data is then trusted where
   * the files are unchanged, instead of hashed) and written when pieces complete (batched, see
   * `settings.resumeSaveIntervalMs`), on pause, and on the torrent's or client's destroy.
   */
  resumeDir?: string;
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
 * What can be added: .torrent bytes, parsed metainfo, a magnet URI, a hex/base32 info-hash, or
 * the path of a .torrent file (any other string).
 */
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
  /** More web seeds (BEP 19: http(s) URLs), after the .torrent's `url-list` or the magnet's `ws=`. */
  webSeeds?: readonly string[];
  /**
   * Fast-resume data from `torrent.resumeData()` (apps that store it themselves); checked
   * against the torrent and its files, else ignored with a `SESSION_BAD_RESUME` warning and the
   * data rechecked in full. Takes precedence over the client's `resumeDir` file.
   */
  resumeData?: Uint8Array;
}

/** bttkit's MSE/PE, as the session calls it. */
const mse: StreamEncryption = {
  connect: mseModule.mseConnect,
  accept: mseModule.mseAccept,
  req2Hash: mseModule.req2Hash,
};

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
export class Client extends TypedEmitter<ClientEvents> {
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly settings: Readonly<Settings>;
  #torrents = new Map<string, Torrent>();
  /** A hybrid's truncated v2 hash (hex) → its key in `#torrents` (its v1 hash). */
  readonly #aliases = new Map<string, string>();
  /** uTP (BEP 29), listening on the TCP port's number; undefined when off. */
  readonly utp: Transport | undefined;
  readonly #listeners: PeerListeners;
  readonly #dialer: Dialer;
  readonly #closeUtp: (() => Promise<void>) | undefined;
  /** SHA-1('req2' ‖ infoHash) (hex) → infoHash: how incoming MSE handshakes name a torrent. */
  readonly #req2 = new Map<string, Uint8Array>();
  #connections = 0;
  #options: ClientOptions;
  #destroyed = false;
  #dht: Dht | undefined;
  #ownsDht = false;
  // Rate control (throttle.ts): the client's buckets, which every torrent's traffic also passes.
  readonly #uploadLimiter: RateLimiter;
  readonly #downloadLimiter: RateLimiter;
  /** Parts added to every torrent (web seeds, hole punching…), by settings. */
  readonly #features: TorrentFeatureFactory[] = [];
  readonly #portMap: ClientPortMapping;
  /** Local service discovery (BEP 14), by `settings.lsd`, on the real network only. */
  readonly #lsd: ClientLsd | undefined;
  /** Open files of every file store (`settings.maxOpenFiles`). */
  readonly #fds: FdCache;
  /** The torrents' clock: intervals of one period share a timer (on the wall clock). */
  readonly #ticks: Clock;
  readonly #announces: AnnounceGate;
  readonly #resume: ClientResume;

  constructor(options: ClientOptions = {}) {
    super();
    this.#options = options;
    this.peerId = options.peerId ?? defaultPeerId();
    if (this.peerId.length !== 20) throw new SessionError('SESSION_BAD_PEER_ID', 'peer id must be 20 bytes');
    this.clock = options.clock ?? realClock;
    // Our wires honour lent read buffers (see TcpTransportOptions.lendReadBuffer).
    this.transport = options.transport ?? new TcpTransport({ lendReadBuffer: true });
    this.settings = Object.freeze({ ...DEFAULT_SETTINGS, ...options.settings });
    checkLinkSettings(this.settings);
    // Many torrents: one LRU of open files, shared intervals on the wall clock, spread announces.
    this.#fds = new FdCache(this.settings.maxOpenFiles);
    this.#ticks = options.clock ? this.clock : new TimerGroup(this.clock);
    this.#announces = new AnnounceGate(this.clock, this.settings.maxAnnouncesPerSecond);
    const intervalMs = this.settings.resumeSaveIntervalMs;
    this.#resume = new ClientResume({ dir: options.resumeDir, clock: this.clock, intervalMs });
    checkPortMapSettings(this.settings);
    this.#portMap = new ClientPortMapping(this.settings, (e) => this.#listenerHost().warn(e));
    // uTP by default on the real network only: a custom stream transport (in memory, the swarm
    // lab) comes with its own datagram world or none.
    if (options.utp !== undefined) this.utp = options.utp === false ? undefined : options.utp;
    else if (options.transport === undefined) {
      const utp = new UtpTransport();
      this.utp = utp;
      this.#closeUtp = () => utp.close();
    }
    const encryption = options.encryption === false ? undefined : (options.encryption ?? mse);
    const transports = { tcp: this.transport, utp: this.utp };
    this.#dialer = new Dialer(transports, encryption, this.settings, this.clock);
    this.#listeners = new PeerListeners(this.#listenerHost(), transports, encryption);
    checkScaleSettings(this.settings);
    if (isDht(options.dht)) this.#dht = options.dht;
    this.#uploadLimiter = new RateLimiter(this.settings.uploadRateLimit, this.clock);
    this.#downloadLimiter = new RateLimiter(this.settings.downloadRateLimit, this.clock);
    if (this.settings.lsd && options.transport === undefined) {
      this.#lsd = new ClientLsd({ clock: this.clock, warn: (err) => this.#listenerHost().warn(err) });
      this.#features.push(this.#lsd.feature);
    }
    if (this.settings.holepunch) this.#features.push(holepunchFeature());
    if (this.settings.enableWebSeeds) this.#features.push(webSeedFeature({ ca: options.webSeedCa }));
  }

  /** The DHT in use, if any. */
  get dht(): Dht | undefined {
    return this.#dht;
  }

  /** The address we listen on, once listening. */
  get address(): Endpoint | undefined {
    return this.#listeners.address;
  }

  /** Open connections over all torrents. */
  get connections(): number {
    return this.#connections + this.#listeners.pending;
  }

  // ---- rate control (throttle.ts) ----

  /**
   * Caps the payload (block data) all torrents of this client download, bytes/s; 0 (or -1, as
   * in WebTorrent) = unlimited. Takes effect at once; each torrent's own cap applies as well.
   * Initially `settings.downloadRateLimit`.
   * @throws {SessionError} `SESSION_BAD_RATE` for a negative or non-finite rate
   */
  throttleDownload(bytesPerSecond: number): void {
    this.#downloadLimiter.setRate(appRate(bytesPerSecond, 'download limit'));
  }

  /**
   * Caps the payload all torrents of this client upload, bytes/s; 0 (or -1) = unlimited. Takes
   * effect at once. Initially `settings.uploadRateLimit`.
   * @throws {SessionError} `SESSION_BAD_RATE` for a negative or non-finite rate
   */
  throttleUpload(bytesPerSecond: number): void {
    this.#uploadLimiter.setRate(appRate(bytesPerSecond, 'upload limit'));
  }

  /** The client-wide download cap, bytes/s (0 = unlimited). */
  get downloadLimit(): number {
    return this.#downloadLimiter.bytesPerSecond;
  }

  /** The client-wide upload cap, bytes/s (0 = unlimited). */
  get uploadLimit(): number {
    return this.#uploadLimiter.bytesPerSecond;
  }

  /** Every torrent. */
  get torrents(): Torrent[] {
    return [...this.#torrents.values()];
  }

  /** Payload bytes/s received now, over every torrent. */
  get downloadSpeed(): number {
    let n = 0;
    for (const t of this.#torrents.values()) n += t.downloadSpeed;
    return n;
  }

  /** Payload bytes/s sent now, over every torrent. */
  get uploadSpeed(): number {
    let n = 0;
    for (const t of this.#torrents.values()) n += t.uploadSpeed;
    return n;
  }

  /**
   * 0..1: the torrents' progress weighted by their size (torrents whose metadata is not known
   * yet count as 0 of nothing); 0 without torrents.
   */
  get progress(): number {
    let done = 0;
    let total = 0;
    for (const t of this.#torrents.values()) {
      const length = t.info?.length ?? 0;
      done += t.progress * length;
      total += length;
    }
    return total > 0 ? done / total : 0;
  }

  /**
   * Listens for incoming peers on TCP and uTP, one port number for both (port 0: any port free
   * for both). Resolves with the bound address. Without `host`: `::` with IPv6-only off (IPv4
   * and IPv6 peers on one port; `0.0.0.0` on a host without IPv6, or with `settings.enableIpv6`
   * off). The DHT binds the IPv4 side (`0.0.0.0`, or `host` when that is IPv4).
   */
  async listen(port = 0, host?: string): Promise<Endpoint> {
    const bound = this.#listeners.address;
    if (bound) return bound;
    const dhtOptions = this.#options.dht;
    if (dhtOptions && !isDht(dhtOptions) && !this.#dht) {
      // Loaded on demand: the DHT and its crypto are a good part of start-up time.
      const { Dht } = await import('../dht/dht.js');
      this.#dht = await Dht.create({ host: dhtHost(host), ...dhtOptions });
      this.#ownsDht = true;
      this.#dht.on('warning', () => {});
    }
    const ep = await this.#listeners.listen(
      port,
      host ?? defaultListenHost(this.settings),
      host === undefined,
    );
    if (this.transport instanceof TcpTransport) this.#portMap.start(ep);
    await this.#lsd?.start(ep.host, ep.port);
    return ep;
  }

  /** Port mapping on the router (`settings.portMapping`): its mappings and events; undefined when off. */
  get portMapper(): PortMapper | undefined {
    return this.#portMap.mapper;
  }

  /**
   * Adds a torrent. Adding one that is already there returns the existing torrent.
   *
   * A string is a magnet URI (`magnet:?…`), else an info-hash when it is 40 hex digits or 32
   * base32 characters, else the path of a `.torrent` file, read at once (synchronously, at most
   * 64 MiB).
   * @throws {SessionError} `SESSION_BAD_SOURCE` for a path that is missing, not a file or too
   *   large; `MagnetError` for a bad magnet; `MetainfoError` for a file that is not a torrent.
   */
  add(source: TorrentSource, options: AddTorrentOptions = {}): Torrent {
    if (this.#destroyed) throw new SessionError('SESSION_CLIENT_DESTROYED', 'the client is destroyed');
    if (typeof source === 'string' && !isMagnetUri(source) && !isInfoHashText(source))
      source = readTorrentPath(source);
    const original = source instanceof Uint8Array ? source.slice() : undefined;
    let infoHash: Uint8Array;
    let infoHashV2: Uint8Array | undefined;
    let info: InfoDictionary | undefined;
    let name: string | undefined;
    const peers: PeerAddress[] = [...(options.peers ?? [])];
    const tiers: string[][] = [];
    // Web seeds: the caller's are checked (thrown), a torrent's or magnet's bad ones skipped.
    const webSeeds = (options.webSeeds ?? []).map(checkWebSeedUrl);
    if (source instanceof Uint8Array) {
      // Parsed from our copy: the info, its piece hashes and the .torrent share one buffer.
      const meta = parseTorrent(original ?? source);
      info = meta;
      infoHash = meta.infoHashBytes;
      infoHashV2 = meta.infoHashV2Bytes;
      for (const t of meta.announce) tiers.push([...t]);
    } else if (typeof source === 'string') {
      if (/^magnet:/i.test(source)) {
        const m = parseMagnet(source);
        infoHash = m.infoHashBytes;
        infoHashV2 = m.infoHashV2Bytes;
        name = m.name;
        peers.push(...m.peers);
        webSeeds.push(...m.webSeeds.filter(isWebSeedUrl));
        for (const t of m.trackers) tiers.push([t]);
      } else {
        infoHash = parseInfoHash(source);
      }
    } else {
      info = source;
      infoHash = source.infoHashBytes;
      infoHashV2 = source.infoHashV2Bytes;
      if ('announce' in source) for (const t of source.announce) tiers.push([...t]);
    }
    for (const t of options.trackers ?? []) if (!tiers.some((tier) => tier.includes(t))) tiers.push([t]);
    webSeeds.push(...((info as Partial<Metainfo> | undefined)?.urlList ?? []).filter(isWebSeedUrl));
    if (info && options.filePriorities) checkFilePriorities(info, options.filePriorities);
    const torrentFile = original ?? torrentFileOf(info, tiers);
    const key = toHex(infoHash);
    // A hybrid is also reached by its truncated v2 hash (BEP 52): an alias to the same torrent.
    const alias =
      infoHashV2 && toHex(infoHashV2.subarray(0, 20)) !== key ? infoHashV2.subarray(0, 20) : undefined;
    const existing = this.#torrents.get(key) ?? (alias ? this.#torrents.get(toHex(alias)) : undefined);
    if (existing) {
      for (const p of peers) existing.addPeer(p);
      for (const w of webSeeds) existing.addWebSeed(w);
      return existing;
    }
    const createStore =
      options.store ??
      ((i: InfoDictionary) =>
        options.path !== undefined
          ? new FsChunkStore(i, {
              path: options.path,
              maxQueuedBytes: this.settings.maxPendingWriteBytes,
              fdCache: this.#fds,
            })
          : new MemoryChunkStore(i));
    const client = this;
    const random = this.#options.random ?? Math.random;
    const ctx: TorrentContext = {
      peerId: this.peerId,
      clock: this.#ticks,
      dialer: this.#dialer,
      resume: this.#resume,
      mayAnnounce: () => this.#announces.take(),
      settings: this.settings,
      listenPort: () => this.#portMap.announcePort(this.#listeners.address?.port),
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
      downloadLimiter: this.#downloadLimiter,
      createStore,
      get dht() {
        return client.#dht;
      },
      extensions: this.#options.extensions ?? [],
      features: this.#features,
      onDestroy: (t) => {
        if (this.#torrents.get(t.infoHashHex) !== t) return;
        this.#torrents.delete(t.infoHashHex);
        this.#req2.delete(toHex(mse.req2Hash(t.infoHash)));
        if (alias) {
          this.#aliases.delete(toHex(alias));
          this.#req2.delete(toHex(mse.req2Hash(alias)));
        }
        this.emit('remove', t);
      },
    };
    const torrent = new Torrent(ctx, {
      infoHash,
      ...(infoHashV2 ? { infoHashV2 } : {}),
      peers,
      ...(info ? { info } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(options.paused !== undefined ? { paused: options.paused } : {}),
      ...(options.filePriorities ? { filePriorities: options.filePriorities } : {}),
      trackers: tiers,
      ...(torrentFile ? { torrentFile } : {}),
    });
    for (const w of webSeeds) torrent.addWebSeed(w);
    this.#torrents.set(key, torrent);
    this.#req2.set(toHex(mse.req2Hash(infoHash)), infoHash);
    if (alias) {
      this.#aliases.set(toHex(alias), key);
      this.#req2.set(toHex(mse.req2Hash(alias)), alias);
    }
    this.#resume.watch(torrent, options.resumeData);
    for (const plugin of this.#options.plugins ?? []) plugin.attach(torrent);
    this.#watch(torrent);
    return torrent;
  }

  /**
   * Creates a torrent from a path (a file, or a folder: multi-file), one buffer or a list of
   * named buffers, adds it and seeds it. Resolves with the torrent once its data is checked and
   * it is seeding (also emitted as `torrent`); `torrent.magnetURI` and `torrent.torrentFile` are
   * what to share. A path is seeded where it is; buffers are kept in memory, or written under
   * `options.path`. Seeding what the client already has returns that torrent.
   *
   * @example
   * ```ts
   * const t = await client.seed('./album', { announce: ['udp://tracker.example:6969'] });
   * console.log(t.magnetURI);
   * const m = await client.seed(new TextEncoder().encode('hello'), { name: 'hello.txt' });
   * ```
   * @throws {SessionError} `SESSION_BAD_SEED` (nothing to seed, a bad piece length, duplicate
   *   names), `SESSION_SEED_FAILED` (the data changed before it was checked),
   *   `SESSION_CLIENT_DESTROYED`; `MetainfoError` from the creator (unsafe names, an empty folder).
   */
  async seed(source: SeedSource, options: SeedOptions = {}): Promise<Torrent> {
    if (this.#destroyed) throw new SessionError('SESSION_CLIENT_DESTROYED', 'the client is destroyed');
    const prepared = await prepareSeed(source, options);
    const existing = this.get(prepared.metainfo.infoHashBytes);
    if (existing) return existing;
    const { store } = prepared;
    const t = this.add(prepared.torrent, {
      ...(store ? { store: () => store } : prepared.path !== undefined ? { path: prepared.path } : {}),
      ...(options.peers ? { peers: options.peers } : {}),
    });
    await whenSeeding(t);
    return t;
  }

  /**
   * Removes a torrent (the object, or its info-hash as hex, base32 or bytes): destroys it, emits
   * `remove`, and with `deleteFiles` deletes its data (see {@link RemoveOptions}).
   * @throws {SessionError} `SESSION_UNKNOWN_TORRENT` when the client does not hold it.
   */
  async remove(torrent: Torrent | string | Uint8Array, options: RemoveOptions = {}): Promise<void> {
    const t = torrent instanceof Torrent ? torrent : this.get(torrent);
    if (!t || this.#torrents.get(t.infoHashHex) !== t)
      throw new SessionError('SESSION_UNKNOWN_TORRENT', 'no such torrent in this client');
    const store = t.store;
    await t.destroy();
    if (options.deleteFiles && store) await Promise.all([store.destroy(), this.#resume.forget(t)]);
  }

  /** Client events of a torrent: `torrent` when it is ready, `error` when it stops. */
  #watch(torrent: Torrent): void {
    this.emit('add', torrent);
    torrent.once('ready', () => this.emit('torrent', torrent));
    torrent.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err, torrent);
      else if (torrent.listenerCount('error') === 1)
        // Nobody listens on either side: an uncaught error, as an unhandled 'error' is anywhere.
        queueMicrotask(() => {
          throw err;
        });
    });
  }

  /** The torrent with this info-hash (hex, base32 or bytes). */
  get(infoHash: string | Uint8Array): Torrent | undefined {
    const key = typeof infoHash === 'string' ? toHex(parseInfoHash(infoHash)) : toHex(infoHash);
    return this.#torrents.get(this.#aliases.get(key) ?? key);
  }

  /**
   * An HTTP server for every torrent of this client: `/` lists them, `/<infoHashHex>/…` serves
   * one as `torrent.createServer()` does (see {@link createClientServer}). Bound to 127.0.0.1 by
   * default; call `listen()`.
   */
  createServer(opts: TorrentServerOptions = {}): TorrentServer {
    return createClientServer(this, opts);
  }

  /** The client as its listeners see it. */
  #listenerHost(): ListenerHost {
    return {
      peerId: this.peerId,
      clock: this.clock,
      settings: this.settings,
      refuses: () =>
        this.#destroyed ||
        this.connections >= this.settings.maxConnections ||
        !this.torrents.some((t) => t.acceptingPeers),
      route: (infoHash) => {
        const torrent = this.get(infoHash);
        return torrent ? (wire, link) => torrent.acceptIncoming(wire, link) : undefined;
      },
      byReq2: (req2) => this.#req2.get(toHex(req2)),
      warn: (err) => {
        if (this.listenerCount('warning') > 0) this.emit('warning', err);
      },
    };
  }

  /** Destroys every torrent and stops listening. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(this.torrents.map((t) => t.destroy()));
    this.#resume.close();
    this.#lsd?.close();
    await this.#listeners.close();
    await this.#portMap.stop();
    await this.#closeUtp?.();
    if (this.#ownsDht) await this.#dht?.destroy();
    this.#dht = undefined;
  }
}
