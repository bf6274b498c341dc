import { formatPeerAddress, type PeerAddress } from '../metainfo/magnet.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import type { PiecePicker, Priority } from '../picker/picker.js';
import type { ChunkStore } from '../storage/types.js';
import { toHex } from '../util/bytes.js';
import type { TimerHandle } from '../util/clock.js';
import { BttkitError } from '../util/errors.js';
import { TypedEmitter } from '../wire/emitter.js';
import type { WireError } from '../wire/errors.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { ByteEvents } from './byte-events.js';
import { ChokeScheduler } from './choke-scheduler.js';
import type { Choker } from './choker.js';
import { Connector } from './connector.js';
import { Content } from './content.js';
import { Discovery } from './discovery.js';
import { checkFilePriorities, Downloader, openPicker } from './downloader.js';
import { SessionError } from './errors.js';
import type { TorrentFileHandle } from './file.js';
import { createTorrentServer, type TorrentServer, type TorrentServerOptions } from './http-server.js';
import { type LinkHints, type LinkInfo, NO_LINK } from './links.js';
import type { PeerConn, PeerInfo } from './peer.js';
import { PeerBook } from './peer-book.js';
import { attachPeer } from './peer-session.js';
import { PexGossip } from './pex.js';
import { appRate, TorrentThrottle } from './throttle.js';
import { closeStore, infoMatches, magnetOf, torrentFileOf, torrentStats } from './torrent-file.js';
import type {
  TorrentContext,
  TorrentCore,
  TorrentEvents,
  TorrentFeature,
  TorrentInit,
  TorrentState,
  TorrentStats,
} from './torrent-types.js';
import { Uploader } from './uploader.js';
import { V2Torrent } from './v2.js';
import { type WebSeedInfo, webSeedsOf } from './web-seed.js';

/**
 * One torrent in a {@link Client}: created by `client.add()`. It holds the torrent's state,
 * numbers and events, and joins the parts that do the work — each with one job (docs/session.md):
 * the {@link PeerBook} (addresses, back-off, bans, one connection per peer), {@link Discovery}
 * (trackers, DHT) and {@link PexGossip} (peer exchange), the {@link Connector} (dials and takes
 * connections), `attachPeer` (one connection's wiring), the {@link Downloader} (picker, requests,
 * verification, disk backpressure), the {@link Uploader} (serving requests from a read cache)
 * and the {@link ChokeScheduler} (choking rounds).
 */
export class Torrent extends TypedEmitter<TorrentEvents> {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly #ctx: TorrentContext;
  readonly #book: PeerBook;
  readonly #choke: ChokeScheduler;
  readonly #pex: PexGossip;
  readonly #uploader: Uploader;
  readonly #discovery: Discovery;
  readonly #connector: Connector;
  /** What the parts see of the torrent (one object: each part's host interface is a slice of it). */
  readonly #parts: TorrentCore;
  readonly #features: readonly TorrentFeature[];
  readonly #tick: TimerHandle;
  /** Rate control: this torrent's buckets, chained with the client's (throttle.ts). */
  readonly #throttle: TorrentThrottle;
  #info: InfoDictionary | undefined;
  /** A v2 torrent's info dictionary while its piece layers are fetched (after a magnet). */
  #pendingInfo: InfoDictionary | undefined;
  #infoHashV2: Uint8Array | undefined;
  /** BEP 52: piece layers from peers, hash requests, Merkle smart-ban (idle for v1). */
  readonly #v2: V2Torrent;
  #name: string | undefined;
  #state: TorrentState;
  #paused: boolean;
  #store: ChunkStore | undefined;
  #downloader: Downloader | undefined;
  #choker: Choker;
  /** Files, selections, streaming readers. */
  readonly #content: Content;
  #gone: Error | undefined;
  #doneEmitted = false;
  #downloaded = 0;
  #uploaded = 0;
  readonly #trackers: readonly (readonly string[])[];
  readonly #torrentFile: Uint8Array | undefined;
  readonly #downEvents: ByteEvents;
  readonly #upEvents: ByteEvents;

  constructor(ctx: TorrentContext, init: TorrentInit) {
    super();
    this.#ctx = ctx;
    this.infoHash = init.infoHash;
    this.infoHashHex = toHex(init.infoHash);
    this.#infoHashV2 = init.infoHashV2 ?? init.info?.infoHashV2Bytes;
    this.#name = init.name;
    this.#choker = ctx.createChoker(this);
    this.#paused = init.paused ?? false;
    this.#trackers = init.trackers ?? [];
    this.#torrentFile = init.torrentFile;
    this.#downEvents = new ByteEvents(ctx.clock, (n) => this.emit('download', n));
    this.#upEvents = new ByteEvents(ctx.clock, (n) => this.emit('upload', n));
    this.#state = init.info ? 'checking' : 'metadata';
    this.#book = new PeerBook(ctx.clock, ctx.settings, ctx.peerId);
    this.#pex = new PexGossip(ctx.clock, (p) => this.#downloader?.isSeed(p) ?? false);
    const host = { clock: ctx.clock, store: () => this.#store, gone: () => this.#gone };
    const changed = () => this.#wantsChanged();
    const storeFailed = (e: unknown) => this.#storeFailed(e);
    this.#content = new Content({ ...host, changed, storeFailed }, init.filePriorities);
    this.#throttle = new TorrentThrottle(ctx, () => this.#downloader?.fillAll());
    const core = this.#core();
    this.#v2 = new V2Torrent(core);
    this.#choke = new ChokeScheduler(core);
    this.#uploader = new Uploader(core);
    this.#discovery = new Discovery(core, init.trackers ?? []);
    this.#connector = new Connector(core);
    this.#parts = core;
    this.#features = (ctx.features ?? []).map((make) => make(core));
    for (const p of init.peers ?? []) this.addPeer(p);
    this.#tick = ctx.clock.setInterval(() => this.#onTick(), 1000);
    const info = init.info;
    if (info) queueMicrotask(() => void this.#setInfo(info));
    queueMicrotask(() => this.#discovery.startTrackers());
  }

  // ---- public surface ------------------------------------------------------------------------

  /** The info dictionary, once known. */
  get info(): InfoDictionary | undefined {
    return this.#info;
  }

  /** BEP 52: the 32-byte v2 info-hash of a v2 or hybrid torrent, once known. */
  get infoHashV2(): Uint8Array | undefined {
    return this.#infoHashV2?.slice();
  }

  get name(): string | undefined {
    return this.#info?.name ?? this.#name;
  }

  get state(): TorrentState {
    return this.#paused && this.#state !== 'destroyed' ? 'paused' : this.#state;
  }

  /** A magnet URI: `xt`, `dn` (once known), a `tr` per tracker. Known before the metadata. */
  get magnetURI(): string {
    return magnetOf(this.infoHash, this.name, this.#trackers, this.#infoHashV2);
  }

  /**
   * The .torrent: the original bytes (a copy) when added from a `.torrent`, else built from the
   * info dictionary's exact bytes and the trackers. `undefined` until the metadata — for a v2 or
   * hybrid torrent from a magnet, its piece layers too — is known.
   */
  get torrentFile(): Uint8Array | undefined {
    return this.#torrentFile?.slice() ?? torrentFileOf(this.#info, this.#trackers);
  }

  /** 0..1 of the wanted bytes verified; bytes/s received and sent now (as in `stats()`). */
  get progress(): number {
    return this.stats().progress;
  }
  get downloadSpeed(): number {
    return this.stats().downloadRate;
  }
  get uploadSpeed(): number {
    return this.stats().uploadRate;
  }

  /** Replaces the choker (a plug-in's bid-aware one, say); takes effect at the next round. */
  setChoker(choker: Choker): void {
    this.#choker = choker;
  }

  /** Runs a choking round now (e.g. after bids changed). */
  rechoke(): void {
    if (this.#state !== 'destroyed') this.#choke.rechoke();
  }

  /** The store, once metadata is known. */
  get store(): ChunkStore | undefined {
    return this.#store;
  }

  /** True when every wanted piece is verified. */
  get done(): boolean {
    return this.#downloader?.picker.done ?? false;
  }

  /** Connected peers. */
  peers(): PeerInfo[] {
    return [...this.#book.connected.values()].map((p) => p.info());
  }

  /**
   * The torrent's files, with progress, selection and streams ({@link TorrentFileHandle});
   * empty until the metadata is known (`ready`).
   */
  get files(): readonly TorrentFileHandle[] {
    return this.#content.files;
  }

  /**
   * Wants pieces `start`…`end` (inclusive) at `priority` (default normal, 4) on top of the
   * files' priorities: a piece is downloaded when anything wants it. Made before the metadata
   * is known, a selection waits for it.
   * @throws {SessionError} `SESSION_BAD_RANGE` for pieces outside the torrent, `SESSION_BAD_PRIORITY`.
   */
  select(start: number, end: number, priority: Priority = 4): void {
    this.#content.select(start, end, priority);
  }

  /** Removes the selection made by {@link select} with the same `start` and `end`. */
  deselect(start: number, end: number): void {
    this.#content.deselect(start, end);
  }

  /**
   * Pieces `start`…`end` (inclusive) are needed now: requested before all others, from the
   * fastest peers, and from a second peer when late — until each is verified.
   * @throws {SessionError} `SESSION_BAD_RANGE` for pieces outside the torrent.
   */
  critical(start: number, end: number): void {
    this.#content.markCritical(start, end);
  }

  /**
   * Strict sequential download (piece order) instead of rarest-first. Streams do not need it:
   * they prioritise what they read.
   */
  get sequential(): boolean {
    return this.#content.sequential;
  }
  set sequential(on: boolean) {
    this.#content.sequential = on;
  }

  /** BEP 19 web seeds (`url-list`, `ws=`, added) and their state; none with `enableWebSeeds` off. */
  get webSeeds(): WebSeedInfo[] {
    return webSeedsOf(this.#features)?.list() ?? [];
  }
  /** Adds a web seed; false if known or web seeds are off. @throws {SessionError} `SESSION_BAD_WEB_SEED` */
  addWebSeed(url: string): boolean {
    return webSeedsOf(this.#features)?.add(url) ?? false;
  }

  /** The wire of a connected peer (for extensions such as `btt_speed`). */
  wireOf(id: string): PeerWire | undefined {
    return this.#book.connected.get(id)?.wire;
  }

  /** Numbers for progress displays. */
  stats(): TorrentStats {
    const ids = { infoHash: this.infoHashHex, name: this.name, state: this.state };
    const parts = { info: this.#info, downloader: this.#downloader, book: this.#book };
    return torrentStats({ ...ids, ...parts, downloaded: this.#downloaded, uploaded: this.#uploaded });
  }

  /**
   * Adds a peer to connect to (deduplicated; banned peers are ignored). `hints`: what a source
   * says of it (PEX: speaks uTP, prefers encryption).
   */
  addPeer(addr: PeerAddress, hints?: LinkHints): void {
    const id = this.#book.add(addr, hints);
    if (id !== undefined && !this.#paused && this.#state !== 'destroyed')
      queueMicrotask(() => void this.#connector.connect(id));
  }

  /** Stops transfers and closes every connection; `resume()` reconnects. */
  pause(): void {
    if (this.#paused || this.#state === 'destroyed') return;
    this.#paused = true;
    for (const p of [...this.#book.connected.values()]) p.wire.close();
    void this.#ctx.resume?.save(this);
  }

  resume(): void {
    if (!this.#paused || this.#state === 'destroyed') return;
    this.#paused = false;
    for (const id of this.#book.resetBackoff()) void this.#connector.connect(id);
  }

  /**
   * Sets per-file priorities (0 = skip) in torrent file order.
   * @throws {SessionError} `SESSION_BAD_FILE_PRIORITIES` when the metadata is known and the
   *   list does not have one priority per file (before it is known, a wrong list is ignored
   *   with a warning when the metadata arrives); `SESSION_BAD_PRIORITY`.
   */
  async setFilePriorities(priorities: readonly Priority[]): Promise<void> {
    if (this.#info) checkFilePriorities(this.#info, priorities);
    await this.#content.setFilePriorities(priorities);
  }

  // ---- rate control (throttle.ts) ----

  /**
   * Caps this torrent's download of payload (block data), bytes/s; 0 (or -1, as in WebTorrent)
   * = unlimited. Takes effect at once; the client's cap applies as well.
   * @throws {SessionError} `SESSION_BAD_RATE` for a negative or non-finite rate
   */
  throttleDownload(bytesPerSecond: number): void {
    this.#throttle.download.setRate(appRate(bytesPerSecond, 'download limit'));
  }

  /**
   * Caps this torrent's upload of payload, bytes/s; 0 (or -1) = unlimited. Takes effect at once;
   * the client's cap applies as well.
   * @throws {SessionError} `SESSION_BAD_RATE` for a negative or non-finite rate
   */
  throttleUpload(bytesPerSecond: number): void {
    this.#throttle.upload.setRate(appRate(bytesPerSecond, 'upload limit'));
  }

  /** This torrent's own download cap, bytes/s (0 = unlimited; the client's is `client.downloadLimit`). */
  get downloadLimit(): number {
    return this.#throttle.download.bytesPerSecond;
  }

  /** This torrent's own upload cap, bytes/s (0 = unlimited; the client's is `client.uploadLimit`). */
  get uploadLimit(): number {
    return this.#throttle.upload.bytesPerSecond;
  }

  /**
   * An HTTP server for this torrent's files, for players and `<video>` elements: `/` lists them,
   * `/<file index>` and `/<url-encoded path>` serve each, with byte ranges, while the torrent
   * downloads (see {@link createTorrentServer}). Bound to 127.0.0.1 by default; call `listen()`.
   */
  createServer(opts: TorrentServerOptions = {}): TorrentServer {
    return createTorrentServer(this, opts);
  }

  /** Fast-resume data, for `client.add(…, { resumeData })` (docs/session.md); undefined before `ready`. */
  resumeData(): Promise<Uint8Array | undefined> {
    return this.#ctx.resume?.data(this) ?? Promise.resolve(undefined);
  }

  /** Closes every connection and the store. Resolves when everything is released. */
  async destroy(): Promise<void> {
    if (this.#state === 'destroyed') return;
    this.#state = 'destroyed';
    this.#gone ??= new SessionError('SESSION_DESTROYED', 'the torrent was destroyed');
    this.#content.close(this.#gone);
    this.#tick.cancel();
    this.#choke.stop();
    this.#v2.close();
    this.#uploader.stop();
    this.#throttle.stop();
    this.#downloader?.stop();
    for (const f of this.#features) f.close?.();
    for (const p of [...this.#book.connected.values()]) p.wire.close();
    this.#ctx.onDestroy(this);
    await Promise.all([this.#discovery.stop(), this.#ctx.resume?.save(this)]);
    await closeStore(this.#store, (err) => this.#warn(err));
    for (const e of [this.#downEvents, this.#upEvents]) e.flush();
    this.emit('close');
  }

  /** False when the torrent takes no more connections: at its limit, paused or destroyed. */
  get acceptingPeers(): boolean {
    return !this.#paused && this.#state !== 'destroyed' && this.#connector.hasRoom;
  }

  /** Hands an incoming connection whose handshake named this torrent (called by the client). */
  acceptIncoming(wire: PeerWire, link: LinkInfo = NO_LINK): void {
    this.#connector.accept(wire, formatPeerAddress(wire.remote), link);
  }

  /** Supplies the info dictionary (from a .torrent, or fetched through BEP 9). */
  async setInfo(info: InfoDictionary): Promise<void> {
    if (this.#info || this.#pendingInfo || this.#state === 'destroyed') return;
    if (!infoMatches(info, this.infoHash, this.#infoHashV2)) {
      this.#warn(new SessionError('SESSION_WRONG_METADATA', 'metadata for another torrent ignored'));
      return;
    }
    await this.#setInfo(info);
  }

  // ---- internals -----------------------------------------------------------------------------

  async #setInfo(given: InfoDictionary): Promise<void> {
    if (this.#info || this.#pendingInfo) return;
    let info = given;
    this.#infoHashV2 ??= info.infoHashV2Bytes;
    for (const p of this.#book.connected.values()) {
      p.wire.setTorrent(info);
      if (!p.metadata?.metadata) p.metadata?.setMetadata(info);
    }
    if (info.version !== undefined && info.version !== 1) {
      // v2: the piece layers (the .torrent's, or from peers after a magnet) — a hybrid's later.
      this.#pendingInfo = info;
      const first = info;
      info = await this.#v2.prepare(info, (later) => {
        if (this.#info === first) this.#info = later;
      });
      this.#pendingInfo = undefined;
      if (this.#state === 'destroyed') return;
    }
    this.#info = info;
    this.#state = 'checking';
    this.emit('metadata', info);
    const priorities = this.#content.filePriorities;
    if (priorities && priorities.length !== info.files.length) {
      const details = { files: info.files.length, priorities: priorities.length };
      this.#warn(
        new SessionError('SESSION_BAD_FILE_PRIORITIES', 'file priorities: not one per file', { details }),
      );
      this.#content.dropFilePriorities();
    }
    let picker: PiecePicker<string>;
    let store: ChunkStore;
    try {
      this.#store = store = this.#ctx.createStore(info);
      const resume = await this.#ctx.resume?.load(this, info, (e) => this.#warn(e));
      const { blockSize } = this.#ctx.settings;
      picker = await openPicker(
        info,
        store,
        blockSize,
        this.#content.filePriorities,
        this.#ctx.random,
        resume,
      );
    } catch (err) {
      return this.#storeFailed(err);
    }
    if ((this.#state as TorrentState) === 'destroyed') return;
    this.#content.open(info, picker);
    const d = new Downloader(this.#parts, info, picker, store);
    this.#downloader = d;
    this.#state = picker.done ? 'seeding' : 'downloading';
    for (const p of this.#book.connected.values()) d.addPeer(p, true);
    this.emit('ready');
    for (const f of this.#features) f.ready?.();
    if (picker.done) this.#checkDone();
    this.#choke.rechoke();
    d.fillAll();
  }

  /** The torrent as its parts see it (see {@link TorrentCore}). */
  #core(): TorrentCore {
    const ctx = this.#ctx;
    const torrent = this;
    return {
      infoHash: this.infoHash,
      infoHashHex: this.infoHashHex,
      infoHashV2: () => this.#infoHashV2,
      speaksV2: () => this.#infoHashV2 !== undefined || (this.#info?.version ?? 1) !== 1,
      v2: () => (this.#infoHashV2 !== undefined ? this.#v2 : undefined),
      pieceFailed: (piece, data, from) => this.#v2.pieceFailed(piece, data, from, ctx.settings.blockSize),
      peerId: ctx.peerId,
      clock: ctx.clock,
      dialer: ctx.dialer,
      settings: ctx.settings,
      limiter: this.#throttle.uploadChain,
      downloadGate: this.#throttle.gate,
      book: this.#book,
      get choke() {
        return torrent.#choke;
      },
      pex: this.#pex,
      listenPort: ctx.listenPort,
      canConnect: ctx.canConnect,
      connectionOpened: ctx.connectionOpened,
      connectionClosed: ctx.connectionClosed,
      dht: () => ctx.dht,
      mayAnnounce: () => ctx.mayAnnounce?.() ?? true,
      extensions: () => ctx.extensions.map((make) => make(this)),
      info: () => this.#pendingInfo ?? this.#info,
      isPrivate: () => this.#info?.private === true,
      downloader: () => this.#downloader,
      store: () => this.#store,
      choker: () => this.#choker,
      peers: () => this.#book.connected.values(),
      peer: (id) => this.#book.connected.get(id),
      peerCount: () => this.#book.connected.size,
      isSeed: (p) => this.#downloader?.isSeed(p) ?? false,
      done: () => this.done,
      paused: () => this.#paused,
      stopped: () => this.#state === 'destroyed',
      idle: () => this.#paused || this.#state === 'destroyed',
      totals: () => {
        const { uploaded, downloaded, length, verified } = this.stats();
        return { uploaded, downloaded, left: Math.max(0, (length ?? 1) - verified) };
      },
      addPeer: (addr: PeerAddress, hints?: LinkHints) => this.addPeer(addr, hints),
      dhtNode: (host, port) => ctx.dht?.addNode({ host, port }),
      metadata: (info) => void this.setInfo(info),
      attach: (wire, id, incoming, link) => void attachPeer(this.#parts, wire, id, incoming, link),
      request: (peer, req, respond) => this.#uploader.answer(peer, this.#store, req, respond),
      received: (_peer, bytes) => {
        this.#downloaded += bytes;
        if (this.listenerCount('download') > 0) this.#downEvents.add(bytes);
      },
      uploaded: (peer, bytes) => {
        peer.up.add(bytes);
        this.#uploaded += bytes;
        if (this.listenerCount('uploaded') > 0) this.emit('uploaded', peer.id, bytes);
        if (this.listenerCount('upload') > 0) this.#upEvents.add(bytes);
      },
      wantsSources: () => this.listenerCount('verified') > 0,
      pieceVerified: (piece, sources) => {
        this.#content.verified(piece);
        if (this.listenerCount('verified') > 0) this.emit('verified', piece, sources);
        this.emit('piece', piece);
        this.#checkDone();
      },
      onAttach: (peer) => this.#features.forEach((f) => void f.attach?.(peer)),
      onWire: (wire, meta) => this.emit('wire', wire, meta),
      onPeer: (peer) => this.emit('peer', peer.info()),
      onClosed: (peer, err) => this.#onClosed(peer, err),
      ban: (id, why) => this.#ban(id, why),
      storeFailed: (err) => this.#storeFailed(err),
      wantsWarnings: () => this.listenerCount('warning') > 0,
      critical: () => this.#content.critical,
      warn: (err: BttkitError) => this.#warn(err),
    };
  }

  /**
   * What we want changed (files, selections, readers): a finished torrent with new wants goes
   * back to downloading (dialling again the seeds it dropped); interest and requests follow.
   */
  #wantsChanged(): void {
    const d = this.#downloader;
    if (!d || this.#state === 'destroyed' || this.#state === 'error') return;
    if (!d.picker.done && this.#state === 'seeding') {
      this.#state = 'downloading';
      this.#doneEmitted = false;
      if (!this.#paused) for (const id of this.#book.resetBackoff()) void this.#connector.connect(id);
    }
    for (const p of this.#book.connected.values()) d.updateInterest(p);
    d.fillAll();
    if (d.picker.done) this.#checkDone();
  }

  #onTick(): void {
    if (this.#state === 'destroyed' || this.#paused) return;
    this.#downloader?.tick();
    this.#v2.pump();
    if (!this.#info?.private) this.#pex.tick(this.#book.connected);
    this.#discovery.tick();
    this.#connector.connectMore(this.done);
    for (const f of this.#features) f.tick?.();
  }

  #onClosed(peer: PeerConn, err: WireError | undefined): void {
    this.#connector.closed(peer, err);
    if (err && err.code !== 'WIRE_DUPLICATE_CONNECTION' && this.listenerCount('warning') > 0) {
      const message = `peer ${peer.id} dropped: ${err.message}`;
      this.#warn(new SessionError('SESSION_PEER_DROPPED', message, { cause: err }));
    }
    this.emit('peer-closed', peer.id, err);
    this.#choke.slotFreed(peer);
    this.#connector.connectMore(this.done);
  }

  #ban(id: string, why: string): void {
    const host = this.#book.hostOf(id);
    if (this.#book.ban(host, why))
      this.#warn(new SessionError('SESSION_PEER_BANNED', `banned ${host}: ${why}`, { details: { host } }));
  }

  #checkDone(): void {
    const d = this.#downloader;
    if (this.#doneEmitted || !d?.picker.done) return;
    this.#doneEmitted = true;
    this.#state = 'seeding';
    void d.store.flush().catch((err: unknown) => this.#storeFailed(err));
    for (const p of this.#book.connected.values()) {
      d.updateInterest(p);
      // Seeds do not need each other.
      if (d.isSeed(p)) {
        this.#book.markSeed(p.id);
        p.wire.close();
      }
    }
    this.#discovery.completed();
    this.#downEvents.flush();
    this.emit('done');
  }

  #storeFailed(err: unknown): void {
    if (this.#state === 'destroyed' || this.#state === 'error') return;
    const e =
      err instanceof BttkitError
        ? err
        : new SessionError('SESSION_STORE_FAILED', 'storage failed', { cause: err });
    if (e.code === 'STORAGE_CLOSED' || e.code === 'ABORTED') return;
    this.#state = 'error';
    this.#gone = e;
    this.#content.close(e);
    this.emit('error', e);
    void this.destroy();
  }

  #warn(err: BttkitError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', err);
  }
}
