import type { Dht } from '../dht/dht.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import { formatPeerAddress, parsePeerAddress } from '../metainfo/magnet.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { filePiecePriorities, PiecePicker, type Priority } from '../picker/picker.js';
import type { ChunkStore } from '../storage/types.js';
import { TrackerClient } from '../tracker/client.js';
import { Bitfield } from '../util/bitfield.js';
import { toHex } from '../util/bytes.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { BttkitError } from '../util/errors.js';
import type { Connection, Transport } from '../util/transport.js';
import { TypedEmitter } from '../wire/emitter.js';
import { WireError } from '../wire/errors.js';
import type { ExtensionFactory, WireExtension } from '../wire/extension.js';
import { PeerWire, type RespondFn } from '../wire/peer-wire.js';
import { utMetadata } from '../wire/ut-metadata.js';
import { PexFlags, type PexPeer, utPex } from '../wire/ut-pex.js';
import type { Choker, ChokerPeer } from './choker.js';
import { PeerConn, type PeerInfo } from './peer.js';
import type { Settings } from './settings.js';
import { SmartBan } from './smart-ban.js';

/** A session-level problem that does not stop the torrent (a peer dropped, a bad piece…). */
export class SessionError extends BttkitError {}

/** Events of a {@link Torrent}. */
export interface TorrentEvents {
  [event: string]: unknown[];
  /** The info dictionary is known (at once for a .torrent; after BEP 9 for a magnet). */
  metadata: [InfoDictionary];
  /** Storage was checked; transfers start. */
  ready: [];
  /** A piece passed its hash check. */
  piece: [index: number];
  /**
   * A piece passed its hash check, with who sent its bytes (peer id → bytes of this piece).
   * Emitted just before `piece`; payment plug-ins pay from it (never for a piece that failed).
   */
  verified: [index: number, sources: ReadonlyMap<string, number>];
  /** We sent `bytes` of payload to a peer. */
  uploaded: [peer: string, bytes: number];
  /** Every wanted piece is verified. */
  done: [];
  /** A peer finished both handshakes. */
  peer: [PeerInfo];
  /** A peer connection closed. */
  'peer-closed': [id: string, error: WireError | undefined];
  /**
   * A new wire, before its handshake is answered: register extensions here (see `extensions`).
   * The session's wires lend blocks (`PeerWireOptions.lendBlocks`): a block from its `piece`
   * event is valid during the call only — copy it to keep it.
   */
  wire: [PeerWire, { id: string; incoming: boolean }];
  /** Something went wrong that the torrent survives. */
  warning: [BttkitError];
  /** Something went wrong that stopped the torrent. */
  error: [BttkitError];
  /** The torrent was destroyed. */
  close: [];
}

/** A snapshot of a torrent's numbers. */
export interface TorrentStats {
  infoHash: string;
  name: string | undefined;
  state: TorrentState;
  /** 0..1 of the wanted bytes. */
  progress: number;
  /** Payload bytes received / sent (including discarded duplicates and failed pieces). */
  downloaded: number;
  uploaded: number;
  /** Bytes of verified pieces. */
  verified: number;
  length: number | undefined;
  downloadRate: number;
  uploadRate: number;
  peers: number;
  /** Seconds to completion at the current rate, `Infinity` when stalled. */
  eta: number;
  hashFailures: number;
  bannedPeers: number;
  /** Distinct peers that completed a handshake since the torrent was added. */
  peersSeen: number;
}

/** Where a torrent is in its life. */
export type TorrentState =
  | 'metadata'
  | 'checking'
  | 'downloading'
  | 'seeding'
  | 'paused'
  | 'destroyed'
  | 'error';

/** What a torrent needs from its client. */
export interface TorrentContext {
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly settings: Readonly<Settings>;
  readonly listenPort: () => number | undefined;
  /** Whether the client-wide connection limit allows one more. */
  readonly canConnect: () => boolean;
  readonly connectionOpened: () => void;
  readonly connectionClosed: () => void;
  readonly createChoker: (torrent: Torrent) => Choker;
  /** Random source in [0, 1) for the picker. */
  readonly random?: () => number;
  readonly createStore: (info: InfoDictionary) => ChunkStore;
  /** Upload rate limit shared by the client's torrents, if any. */
  readonly uploadLimiter: { take(bytes: number): number; wouldWait(bytes: number): number } | undefined;
  /** The client's DHT, if any (not used for private torrents). */
  readonly dht: Dht | undefined;
  /** Extensions to register on every wire of this torrent (BEP 10). */
  readonly extensions: readonly ((torrent: Torrent) => ExtensionFactory<WireExtension>)[];
  readonly onDestroy: (torrent: Torrent) => void;
}

/** Options when adding a torrent. */
export interface TorrentInit {
  infoHash: Uint8Array;
  info?: InfoDictionary;
  name?: string;
  peers?: readonly PeerAddress[];
  paused?: boolean;
  /** Per-file priorities (0 = skip), in torrent file order. */
  filePriorities?: readonly Priority[];
  /** Tracker tiers (BEP 12): from the .torrent or the magnet, plus any added. */
  trackers?: readonly (readonly string[])[];
}

/** How often the DHT is asked for peers, and we announce to it. */
const DHT_INTERVAL_MS = 15 * 60_000;
/** Longest a block may wait behind the upload cap before its request is refused instead. */
const MAX_UPLOAD_WAIT_MS = 2000;
/** Most peers taken from one PEX message. */
const PEX_TAKE = 50;

interface PieceWork {
  /** Block offset → peer id that sent it (for blame). */
  senders: Map<number, string>;
}

/** Spare piece buffers kept for the next upload read (see {@link UploadRead}). */
const MAX_SPARE_READ_BUFFERS = 4;
/** While peers are not read because the store is full, how often to look whether it drained, ms. */
const READS_POLL_MS = 5;
/** Looks in a row with nothing leaving the store (and no put waiting) after which reading resumes. */
const READS_STUCK_POLLS = 4;

/**
 * A whole piece read for upload, shared by the blocks sent from it. Its buffer goes back to the
 * spares once it has left the read cache and every block sent from it is written (a fresh 1 MiB
 * buffer per piece read kept the seeder's GC busy: ~13 % of its main thread).
 */
interface UploadRead {
  readonly data: Promise<Uint8Array>;
  /** The recycled buffer the store read into, once the read succeeded into it. */
  buf: Uint8Array | undefined;
  /** Requests answered, or being answered, from it: each releases it once. */
  users: number;
  cached: boolean;
}

/**
 * One torrent in a {@link Client}: its peers, picker, store and choker. Created by
 * `client.add()`.
 */
export class Torrent extends TypedEmitter<TorrentEvents> {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  #ctx: TorrentContext;
  /** Bytes per request (the settings' `blockSize`, normally 16 KiB). */
  get #blockSize(): number {
    return this.#ctx.settings.blockSize;
  }
  #info: InfoDictionary | undefined;
  #name: string | undefined;
  #state: TorrentState;
  #store: ChunkStore | undefined;
  #picker: PiecePicker<string> | undefined;
  #choker: Choker;
  #peers = new Map<string, PeerConn>();
  #connecting = new Set<string>();
  #known = new Map<string, { addr: PeerAddress; failures: number; retryAt: number; seed?: boolean }>();
  #peersSeen = new Set<string>();
  /** Connected peers by their handshake peer id (hex), to keep one connection per peer. */
  #byPeerId = new Map<string, PeerConn>();
  /** Incoming peers by the address they listen on (so we do not dial a peer already connected). */
  #byListen = new Map<string, PeerConn>();
  #banned = new Set<string>();
  #work = new Map<number, PieceWork>();
  #smartBan = new SmartBan();
  #pendingWrite = 0;
  /** Peers are not read while the store catches up (see #onBlock). */
  #readsPaused = false;
  #hashFailures = 0;
  #downloaded = 0;
  #uploaded = 0;
  #timers: TimerHandle[] = [];
  #filePriorities: readonly Priority[] | undefined;
  #doneEmitted = false;
  #paused: boolean;
  #tracker: TrackerClient | undefined;

  constructor(ctx: TorrentContext, init: TorrentInit) {
    super();
    this.#ctx = ctx;
    this.infoHash = init.infoHash;
    this.infoHashHex = toHex(init.infoHash);
    this.#name = init.name;
    this.#choker = ctx.createChoker(this);
    this.#filePriorities = init.filePriorities;
    this.#paused = init.paused ?? false;
    this.#state = init.info ? 'checking' : 'metadata';
    for (const p of init.peers ?? []) this.addPeer(p);
    const clock = ctx.clock;
    this.#timers.push(clock.setInterval(() => this.#rechoke(), ctx.settings.rechokeIntervalMs));
    this.#timers.push(clock.setInterval(() => this.#tick(), 1000));
    if (init.info) {
      const info = init.info;
      queueMicrotask(() => void this.#setInfo(info));
    }
    this.#tiers = (init.trackers ?? []).filter((t) => t.length > 0);
    queueMicrotask(() => this.#startTracker());
  }

  #tiers: readonly (readonly string[])[] = [];

  /** Starts announcing once the client listens (a tracker needs our port). */
  #startTracker(): void {
    const ctx = this.#ctx;
    const port = ctx.listenPort();
    if (
      this.#tracker ||
      this.#tiers.length === 0 ||
      port === undefined ||
      port === 0 ||
      this.#paused ||
      this.#dead()
    )
      return;
    const tc = new TrackerClient({
      infoHash: this.infoHash,
      peerId: ctx.peerId,
      port,
      announce: this.#tiers,
      clock: ctx.clock,
      stats: () => {
        const st = this.stats();
        return {
          uploaded: st.uploaded,
          downloaded: st.downloaded,
          left: Math.max(0, (st.length ?? 1) - st.verified),
        };
      },
    });
    this.#tracker = tc;
    tc.on('peers', (peers) => {
      for (const p of peers) {
        if (p.port === port && (p.host === '127.0.0.1' || p.host === '0.0.0.0')) continue;
        this.addPeer(p);
      }
    });
    tc.on('warning', (w) =>
      this.#warn(
        new SessionError('SESSION_TRACKER_WARNING', `${w.url}: ${w.error.message}`, { cause: w.error }),
      ),
    );
    tc.start();
    if (this.done) tc.complete().catch(() => {});
  }

  // ---- public surface ------------------------------------------------------------------------

  /** The info dictionary, once known. */
  get info(): InfoDictionary | undefined {
    return this.#info;
  }

  get name(): string | undefined {
    return this.#info?.name ?? this.#name;
  }

  get state(): TorrentState {
    return this.#paused && this.#state !== 'destroyed' ? 'paused' : this.#state;
  }

  /** Replaces the choker (a plug-in's bid-aware one, say); takes effect at the next round. */
  setChoker(choker: Choker): void {
    this.#choker = choker;
  }

  /** Runs a choking round now (e.g. after bids changed). */
  rechoke(): void {
    this.#rechoke();
  }

  /** The store, once metadata is known. */
  get store(): ChunkStore | undefined {
    return this.#store;
  }

  /** True when every wanted piece is verified. */
  get done(): boolean {
    return this.#picker?.done ?? false;
  }

  /** Connected peers. */
  peers(): PeerInfo[] {
    return [...this.#peers.values()].map((p) => p.info());
  }

  /** The wire of a connected peer (for extensions such as `btt_speed`). */
  wireOf(id: string): PeerWire | undefined {
    return this.#peers.get(id)?.wire;
  }

  /** Numbers for progress displays. */
  stats(): TorrentStats {
    const info = this.#info;
    const picker = this.#picker;
    let verified = 0;
    let wantedBytes = info?.length ?? 0;
    if (info && picker) {
      verified = picker.have.count * info.pieceLength;
      if (picker.have.get(info.pieceCount - 1)) verified -= info.pieceLength - info.lastPieceLength;
      const remaining = picker.wantedRemaining;
      wantedBytes = verified + remaining * info.pieceLength;
    }
    let downloadRate = 0;
    let uploadRate = 0;
    for (const p of this.#peers.values()) {
      downloadRate += p.down.rate();
      uploadRate += p.up.rate();
    }
    const left = Math.max(0, wantedBytes - verified);
    return {
      infoHash: this.infoHashHex,
      name: this.name,
      state: this.state,
      progress: wantedBytes > 0 ? Math.min(1, verified / wantedBytes) : 0,
      downloaded: this.#downloaded,
      uploaded: this.#uploaded,
      verified,
      length: info?.length,
      downloadRate,
      uploadRate,
      peers: this.#peers.size,
      eta: left === 0 ? 0 : downloadRate > 0 ? left / downloadRate : Number.POSITIVE_INFINITY,
      hashFailures: this.#hashFailures,
      bannedPeers: this.#banned.size,
      peersSeen: this.#peersSeen.size,
    };
  }

  /** Adds a peer to connect to (deduplicated; banned peers are ignored). */
  addPeer(addr: PeerAddress): void {
    const id = formatPeerAddress(addr);
    if (this.#banned.has(addr.host) || this.#known.has(id)) return;
    this.#known.set(id, { addr, failures: 0, retryAt: 0 });
    this.#dialIdleUntil = 0;
    if (!this.#paused && this.#state !== 'destroyed') queueMicrotask(() => void this.#connect(id));
  }

  /** Stops transfers and closes every connection; `resume()` reconnects. */
  pause(): void {
    if (this.#paused || this.#state === 'destroyed') return;
    this.#paused = true;
    for (const p of [...this.#peers.values()]) p.wire.close();
  }

  resume(): void {
    if (!this.#paused || this.#state === 'destroyed') return;
    this.#paused = false;
    this.#dialIdleUntil = 0;
    for (const [id, k] of this.#known) {
      k.retryAt = 0;
      void this.#connect(id);
    }
  }

  /** Sets per-file priorities (0 = skip) in torrent file order. */
  async setFilePriorities(priorities: readonly Priority[]): Promise<void> {
    this.#filePriorities = priorities;
    if (this.#info && this.#picker && this.#store)
      await this.#applyFilePriorities(this.#info, this.#picker, this.#store);
  }

  /** Closes every connection and the store. Resolves when everything is released. */
  async destroy(): Promise<void> {
    if (this.#state === 'destroyed') return;
    this.#state = 'destroyed';
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    this.#rechokePending?.cancel();
    this.#rechokePending = undefined;
    for (const p of [...this.#peers.values()]) p.wire.close();
    this.#ctx.onDestroy(this);
    const tracker = this.#tracker;
    if (tracker) {
      // `stopped` to every tracker that saw us, bounded in time (it never rejects).
      await Promise.race([
        tracker.stop(),
        new Promise((r) => this.#ctx.clock.setTimeout(() => r(undefined), 5000)),
      ]);
      tracker.destroy();
    }
    const store = this.#store;
    if (store && !store.closed) {
      try {
        await store.close();
      } catch (err) {
        this.#warn(
          new SessionError('SESSION_STORE_CLOSE_FAILED', 'closing the store failed', { cause: err }),
        );
      }
    }
    this.emit('close');
  }

  // ---- connections ---------------------------------------------------------------------------

  /** False when the torrent takes no more connections: at its limit, paused or destroyed. */
  get acceptingPeers(): boolean {
    return (
      !this.#paused &&
      this.#state !== 'destroyed' &&
      this.#peers.size < this.#ctx.settings.maxConnectionsPerTorrent
    );
  }

  /** Hands an incoming connection whose handshake named this torrent (called by the client). */
  acceptIncoming(wire: PeerWire): void {
    const remote = wire.remote;
    const id = formatPeerAddress(remote);
    if (
      this.#paused ||
      this.#state === 'destroyed' ||
      this.#banned.has(remote.host) ||
      this.#peers.size >= this.#ctx.settings.maxConnectionsPerTorrent
    ) {
      wire.close();
      return;
    }
    this.#setupWire(wire, id, true);
    wire.handshake(this.infoHash);
  }

  async #connect(id: string): Promise<void> {
    const known = this.#known.get(id);
    if (!known || this.#paused || this.#state === 'destroyed') return;
    if (this.#isConnected(id) || this.#connecting.has(id) || this.#banned.has(known.addr.host)) return;
    if (this.#ctx.clock.now() < known.retryAt) return;
    if (this.#peers.size + this.#connecting.size >= this.#ctx.settings.maxConnectionsPerTorrent) return;
    if (!this.#ctx.canConnect()) return;
    this.#connecting.add(id);
    this.#ctx.connectionOpened();
    let conn: Connection;
    const ac = new AbortController();
    const timer = this.#ctx.clock.setTimeout(() => ac.abort(), this.#ctx.settings.connectTimeoutMs);
    try {
      conn = await this.#ctx.transport.connect(known.addr, { signal: ac.signal });
    } catch (err) {
      this.#connecting.delete(id);
      this.#ctx.connectionClosed();
      this.#failed(id);
      if (this.listenerCount('warning') > 0)
        this.#warn(new SessionError('SESSION_CONNECT_FAILED', `cannot connect to ${id}`, { cause: err }));
      return;
    } finally {
      timer.cancel();
    }
    this.#connecting.delete(id);
    if (this.#paused || this.#dead() || this.#isConnected(id)) {
      this.#ctx.connectionClosed();
      conn.destroy();
      return;
    }
    const wire = new PeerWire(conn, this.#wireOptions());
    this.#setupWire(wire, id, false, true);
    wire.handshake();
  }

  #wireOptions() {
    const port = this.#ctx.listenPort();
    return {
      peerId: this.#ctx.peerId,
      infoHash: this.infoHash,
      clock: this.#ctx.clock,
      limits: { maxBlockLength: this.#blockSize },
      // Blocks go into the store, which copies them (or gets a copy, below).
      lendBlocks: true,
      ...(this.#info ? { torrent: this.#info } : {}),
      ...(port !== undefined ? { listenPort: port } : {}),
    };
  }

  #failed(id: string): void {
    const k = this.#known.get(id);
    if (!k) return;
    k.failures++;
    k.retryAt =
      this.#ctx.clock.now() + this.#ctx.settings.reconnectBackoffMs * 2 ** Math.min(k.failures - 1, 6);
    if (k.failures > 8) this.#known.delete(id);
    else if (k.retryAt < this.#dialIdleUntil) this.#dialIdleUntil = k.retryAt;
  }

  #setupWire(wire: PeerWire, id: string, incoming: boolean, counted = false): void {
    if (!counted) this.#ctx.connectionOpened();
    const s = this.#ctx.settings;
    const peer = new PeerConn(id, wire, incoming, this.#ctx.clock, s.minRequestQueue);
    // BEP 9 on every wire: fetch the info dictionary while we lack it, serve it once we have it.
    const meta = wire.use(
      utMetadata({ infoHash: this.infoHash, ...(this.#info ? { info: this.#info } : {}) }),
    );
    peer.metadata = meta;
    meta.on('metadata', (info) => void this.setInfo(info));
    meta.on('failed', (err) =>
      this.#warn(
        new SessionError('SESSION_METADATA_FAILED', `metadata from ${id}: ${err.message}`, { cause: err }),
      ),
    );
    // BEP 11 peer exchange, except for private torrents (BEP 27).
    if (!this.#info?.private) {
      const pex = wire.use(utPex());
      peer.pex = pex;
      pex.on('peers', (m) => {
        if (this.#info?.private) return;
        for (const a of m.added.slice(0, PEX_TAKE)) this.addPeer({ host: a.host, port: a.port });
      });
    }
    for (const ext of this.#ctx.extensions) wire.use(ext(this));
    this.emit('wire', wire, { id, incoming });
    if (this.#info) wire.setTorrent(this.#info);
    let registered = false;

    const register = () => {
      const old = this.#peers.get(id);
      const remoteId = wire.peerHandshake ? toHex(wire.peerHandshake.peerId) : undefined;
      const twin = remoteId === undefined ? undefined : this.#byPeerId.get(remoteId);
      if (old && old !== peer) {
        wire.close(new WireError('WIRE_DUPLICATE_CONNECTION', `already connected to ${id}`));
        return;
      }
      if (twin && twin !== peer && !twin.wire.closed && remoteId !== undefined) {
        // One connection per peer id. When two peers dial each other at once, each side sees an
        // outgoing and an incoming connection: both must keep the same one, or each closes the
        // one the other kept and they redial forever. The rule (as libtorrent's): the connection
        // dialled by the peer with the lower id survives.
        const keepNew =
          twin.incoming !== peer.incoming && peer.incoming === remoteId < toHex(this.#ctx.peerId);
        const loser = keepNew ? twin : peer;
        if (keepNew && !twin.incoming) this.#byListen.set(twin.id, peer);
        loser.wire.close(new WireError('WIRE_DUPLICATE_CONNECTION', `already connected to ${remoteId}`));
        if (!keepNew) return;
      }
      if (remoteId !== undefined) {
        this.#byPeerId.set(remoteId, peer);
        wire.once('close', () => {
          if (this.#byPeerId.get(remoteId) === peer) this.#byPeerId.delete(remoteId);
        });
      }
      this.#peers.set(id, peer);
      this.#peersSeen.add(id);
      registered = true;
      if (this.#readsPaused) wire.pauseReading();
      const k = this.#known.get(id);
      if (k) k.failures = 0;
      this.#picker?.addPeer(id);
      this.#sendHave(peer);
    };
    // An incoming wire has its peer's handshake already: register now; else on arrival.
    if (wire.peerHandshake) queueMicrotask(register);
    else wire.on('handshake', register);
    wire.on('extended-handshake', () => {
      if (incoming && !wire.closed) {
        // (Often before `register`: the handshake and this message can arrive in one read.)
        const a = this.#listenAddress(peer);
        if (a) this.#byListen.set(formatPeerAddress(a), peer);
      }
      if (registered) this.emit('peer', peer.info());
      // The first PEX message goes out soon after the handshake; then once a minute (#tick).
      if (peer.pex?.active) this.#ctx.clock.setTimeout(() => this.#sendPex(peer), 500);
    });
    wire.on('port', (port) => {
      if (!this.#info?.private) this.#ctx.dht?.addNode({ host: wire.remote.host, port });
    });
    wire.on('bitfield', (bits) => this.#onPeerPieces(peer, () => this.#picker?.peerBitfield(id, bits)));
    wire.on('have', (i) => this.#onPeerPieces(peer, () => this.#picker?.peerHave(id, i)));
    wire.on('have-all', () => this.#onPeerPieces(peer, () => this.#picker?.peerHaveAll(id)));
    wire.on('have-none', () => this.#onPeerPieces(peer, () => this.#picker?.peerHaveNone(id)));
    wire.on('unchoke', () => this.#fill(peer));
    wire.on('choke', () => {
      // bittorrent-protocol fails each outstanding request (callbacks → requestFailed).
      this.#picker?.peerChoked(id);
    });
    wire.on('interested', () => this.#maybeQuickUnchoke());
    wire.on('uninterested', () => {
      if (peer.unchoked) this.#rechokeSoon();
    });
    wire.on('request', (req, respond) => this.#onRequest(peer, req.index, req.offset, req.length, respond));
    wire.on('close', (err) => {
      this.#ctx.connectionClosed();
      if (this.#peers.get(id) === peer) this.#peers.delete(id);
      if (incoming) {
        for (const [k, p] of this.#byListen) {
          if (p !== peer) continue;
          this.#byListen.delete(k);
          // Its listen address, skipped while it was connected, may be dialled again.
          if (this.#known.has(k)) this.#dialIdleUntil = 0;
        }
      }
      if (registered) {
        this.#picker?.removePeer(id);
        for (const key of peer.inflight.keys()) peer.inflight.delete(key);
      }
      // Back off before dialling this peer again, however the connection ended (a peer at its
      // connection limit closes us cleanly; redialling at once would loop at the round-trip time).
      if (!incoming && err?.code !== 'WIRE_DUPLICATE_CONNECTION') this.#failed(id);
      else if (!incoming) this.#dialIdleUntil = 0;
      if (err && err.code !== 'WIRE_DUPLICATE_CONNECTION' && this.listenerCount('warning') > 0) {
        this.#warn(
          new SessionError('SESSION_PEER_DROPPED', `peer ${id} dropped: ${err.message}`, { cause: err }),
        );
      }
      this.emit('peer-closed', id, err);
      if (peer.unchoked) this.#rechokeSoon();
      if (!this.#paused && this.#state !== 'destroyed') this.#connectMore();
    });
  }

  /** Tells a peer what we have: once a bitfield / have-all / have-none, later `have`s. */
  /** Where a connected peer listens: the address we dialled, or the `p` of its handshake. */
  #listenAddress(p: PeerConn): PeerAddress | undefined {
    if (!p.incoming) return { host: p.wire.remote.host, port: p.wire.remote.port };
    const port = p.wire.peerExtendedHandshake?.port;
    return port === undefined ? undefined : { host: p.wire.remote.host, port };
  }

  #pexCache: { at: number; size: number; view: Map<string, PexPeer> } | undefined;

  /**
   * The peers we are connected to, by listen address, as PEX states them. Rebuilt at most once a
   * second (or when the peer count changes): every connection's PEX message reads the same view,
   * instead of each walking all peers (quadratic in a large swarm).
   */
  #pexView(): Map<string, PexPeer> {
    const t = this.#ctx.clock.now();
    const c = this.#pexCache;
    if (c && t - c.at < 1_000 && c.size === this.#peers.size) return c.view;
    const view = new Map<string, PexPeer>();
    for (const p of this.#peers.values()) {
      const a = this.#listenAddress(p);
      if (a)
        view.set(formatPeerAddress(a), {
          host: a.host,
          port: a.port,
          flags: (this.#isSeedPeer(p) ? PexFlags.seed : 0) | (p.incoming ? 0 : PexFlags.reachable),
        });
    }
    this.#pexCache = { at: t, size: this.#peers.size, view };
    return view;
  }

  /** Tells `peer` which peers we are connected to now (changes since the last message). */
  #sendPex(peer: PeerConn): void {
    const pex = peer.pex;
    if (!pex?.active || peer.wire.closed || this.#info?.private || pex.waitMs > 0) return;
    const now = this.#pexView();
    const self = this.#listenAddress(peer);
    const selfKey = self ? formatPeerAddress(self) : undefined;
    const added: [string, PexPeer][] = [];
    for (const e of now) {
      if (added.length >= 50) break;
      if (e[0] !== selfKey && !peer.pexSent.has(e[0])) added.push(e);
    }
    const dropped: string[] = [];
    for (const k of peer.pexSent) {
      if (dropped.length >= 50) break;
      if (!now.has(k)) dropped.push(k);
    }
    if (added.length === 0 && dropped.length === 0) return;
    const droppedAddrs: PeerAddress[] = [];
    for (const k of dropped) {
      try {
        droppedAddrs.push(parsePeerAddress(k));
      } catch {
        // not an address we can state
      }
    }
    if (pex.send({ added: added.map(([, v]) => v), dropped: droppedAddrs })) {
      for (const [k] of added) peer.pexSent.add(k);
      for (const k of dropped) peer.pexSent.delete(k);
    }
  }

  #dhtBusy = false;
  #dhtNext = 0;
  #dhtRetryMs = 2_500;

  /** Asks the DHT for peers and announces our port, every {@link DHT_INTERVAL_MS}. */
  #dhtRound(): void {
    const dht = this.#ctx.dht;
    if (!dht || this.#dhtBusy || this.#info?.private || this.#paused || this.#dead()) return;
    const now = this.#ctx.clock.now();
    if (now < this.#dhtNext) return;
    this.#dhtBusy = true;
    this.#dhtNext = now + DHT_INTERVAL_MS;
    const onPeer = (p: PeerAddress, ih: string) => {
      if (ih === this.infoHashHex) this.addPeer(p);
    };
    dht.on('peer', onPeer);
    const port = this.#ctx.listenPort();
    const work = async () => {
      try {
        await dht.lookup(this.infoHash);
        if (port !== undefined) await dht.announce(this.infoHash, port);
        // Short of peers while downloading: ask again soon (5 s, doubling), else every 15 min.
        if (!this.done && this.#peers.size === 0) {
          this.#dhtRetryMs = Math.min(DHT_INTERVAL_MS, this.#dhtRetryMs * 2);
          this.#dhtNext = this.#ctx.clock.now() + this.#dhtRetryMs;
        } else {
          this.#dhtRetryMs = 2_500;
        }
      } catch (err) {
        this.#warn(new SessionError('SESSION_DHT_FAILED', 'DHT lookup or announce failed', { cause: err }));
        this.#dhtNext = this.#ctx.clock.now() + 60_000;
      } finally {
        dht.off('peer', onPeer);
        this.#dhtBusy = false;
      }
    };
    void work();
  }

  #sendHave(peer: PeerConn): void {
    const picker = this.#picker;
    const w = peer.wire;
    if (peer.stated) {
      if (picker) for (let i = 0; i < picker.pieceCount; i++) if (picker.have.get(i)) w.have(i);
      return;
    }
    if (!picker) {
      if (w.fast) {
        w.haveNone();
        peer.stated = true;
      }
      return;
    }
    const have = picker.have;
    if (w.fast && have.full) w.haveAll();
    else if (w.fast && have.count === 0) w.haveNone();
    else if (have.count > 0) w.bitfield(have.bytes);
    else return;
    peer.stated = true;
  }

  #onPeerPieces(peer: PeerConn, update: () => void): void {
    if (!this.#picker) return; // the wire keeps the peer's pieces; replayed when metadata arrives
    update();
    this.#updateInterest(peer);
    this.#fill(peer);
  }

  #updateInterest(peer: PeerConn): void {
    const want = this.#picker?.isInteresting(peer.id) ?? false;
    if (want && !peer.interestedSent) {
      peer.interestedSent = true;
      peer.wire.interested();
    } else if (!want && peer.interestedSent) {
      peer.interestedSent = false;
      peer.wire.uninterested();
    }
  }

  /**
   * No known peer can be dialled before this time: `#connectMore` skips its walk over every
   * known address until then (it runs on each closed connection and each second; a large swarm
   * knows hundreds of addresses, mostly backing off). Lowered whenever an address may become
   * dialable sooner: a new one, a failure's retry time, a peer that dialled us leaving.
   */
  #dialIdleUntil = 0;

  #connectMore(): void {
    const now = this.#ctx.clock.now();
    if (now < this.#dialIdleUntil) return;
    let next = Number.POSITIVE_INFINITY;
    let tried = false;
    for (const [id, k] of this.#known) {
      if (this.#peers.size + this.#connecting.size >= this.#ctx.settings.maxConnectionsPerTorrent) return;
      if (k.seed && this.done) continue;
      if (this.#isConnected(id) || this.#connecting.has(id)) continue;
      if (k.retryAt > now) {
        if (k.retryAt < next) next = k.retryAt;
        continue;
      }
      tried = true;
      void this.#connect(id);
    }
    // Walked everything without finding a dialable address: nothing to do before `next`.
    if (!tried) this.#dialIdleUntil = next;
  }

  /** Connected to the peer listening at `id`: we dialled it, or it dialled us and told its port. */
  #isConnected(id: string): boolean {
    const p = this.#byListen.get(id);
    return this.#peers.has(id) || (p !== undefined && !p.wire.closed);
  }

  // ---- downloading ---------------------------------------------------------------------------

  #fill(peer: PeerConn): void {
    const picker = this.#picker;
    const store = this.#store;
    if (!picker || !store || this.#paused || peer.wire.closed || peer.wire.peerChoking) return;
    if (!peer.interestedSent || this.#pendingWrite > this.#ctx.settings.maxPendingWriteBytes) return;
    // Refill in batches (once an eighth of the queue has drained): fewer, larger writes of
    // request messages than one write per arriving block.
    const want = peer.queueTarget - peer.inflight.size;
    if (want <= 0 || (peer.inflight.size > 0 && want < Math.max(4, peer.queueTarget >> 3))) return;
    const reqs = picker.pick(peer.id, want);
    const now = this.#ctx.clock.now();
    for (const r of reqs) {
      const key = r.piece * 0x10000 + r.offset / this.#blockSize;
      peer.inflight.set(key, now);
      peer.wire.request(r.piece, r.offset, r.length, (err, block) => {
        peer.inflight.delete(key);
        if (err || !block) {
          picker.requestFailed(peer.id, r.piece, r.offset);
          return;
        }
        this.#onBlock(peer, r.piece, r.offset, block);
      });
    }
  }

  #onBlock(peer: PeerConn, piece: number, offset: number, block: Uint8Array): void {
    const picker = this.#picker;
    const store = this.#store;
    if (!picker || !store) return;
    peer.down.add(block.length);
    this.#downloaded += block.length;
    const receipt = picker.blockReceived(peer.id, piece, offset);
    for (const c of receipt.cancel) {
      const other = this.#peers.get(c.peer);
      if (other) {
        other.inflight.delete(c.piece * 0x10000 + c.offset / this.#blockSize);
        other.wire.cancel(c.piece, c.offset, c.length);
      }
    }
    if (!receipt.duplicate) {
      let work = this.#work.get(piece);
      if (!work) {
        work = { senders: new Map() };
        this.#work.set(piece, work);
      }
      work.senders.set(offset, peer.id);
      // The block may be a view into the connection's reused read buffer (the wire lends it):
      // a store that does not copy on put gets a copy it can keep.
      const size = block.length;
      this.#pendingWrite += size;
      store.put(piece, offset, store.copiesOnPut === true ? block : block.slice()).then(
        () => {
          this.#pendingWrite -= size;
          if (receipt.pieceComplete) void this.#verify(piece);
          this.#fillAll();
        },
        (err: unknown) => {
          this.#pendingWrite -= size;
          this.#storeFailed(err);
        },
      );
      // The disk is behind — the store holds most of what it may, or puts pile up unresolved
      // (a put the store accepts resolves within microtasks): stop reading from peers until
      // it catches up, as libtorrent does. The data waits in the network buffers, TCP slows the
      // senders, and the store never falls back to queueing blocks one by one.
      if (!this.#readsPaused && this.#storeFull(store, false)) this.#pauseReads();
    }
    // Pipelining sized to the rate: keep `requestQueueSeconds` of this peer's rate in flight.
    const s = this.#ctx.settings;
    const byRate = Math.ceil((peer.down.rate() * s.requestQueueSeconds) / this.#blockSize);
    const reqq = peer.wire.peerExtendedHandshake?.reqq ?? 250;
    peer.queueTarget = Math.max(s.minRequestQueue, Math.min(s.maxRequestQueue, reqq, byRate));
    this.#fill(peer);
  }

  /**
   * Whether the store is too full to read from peers (see #onBlock): it holds over 3/4 of its
   * cap (`maxPendingBytes`, else `maxPendingWriteBytes`), or puts of over 4 MiB (at most a
   * quarter of the cap) are unresolved. Reading resumes below half of each (`resume`).
   */
  #storeFull(store: ChunkStore, resume: boolean): boolean {
    const cap = store.maxPendingBytes ?? this.#ctx.settings.maxPendingWriteBytes;
    const puts = Math.min(4 * 1024 * 1024, cap / 4);
    return resume
      ? store.pendingBytes > cap / 2 || this.#pendingWrite > puts / 2
      : store.pendingBytes > cap * 0.75 || this.#pendingWrite > puts;
  }

  #pauseReads(): void {
    this.#readsPaused = true;
    for (const p of this.#peers.values()) p.wire.pauseReading();
    // The store has no event for "written": look again shortly. What it holds may not drain
    // without reading — pieces it assembles wait for their other blocks (the file store keeps
    // them within half its cap, but a store may do otherwise): when no put waits and nothing
    // left the store for a few looks, reading resumes anyway.
    let last = Number.POSITIVE_INFINITY;
    let still = 0;
    const poll = () => {
      if (!this.#readsPaused) return;
      const store = this.#store;
      const pending = store?.pendingBytes ?? 0;
      still = this.#pendingWrite === 0 && pending >= last ? still + 1 : 0;
      last = pending;
      if (
        this.#state === 'destroyed' ||
        !store ||
        store.closed ||
        !this.#storeFull(store, true) ||
        still >= READS_STUCK_POLLS
      ) {
        this.#readsPaused = false;
        for (const p of this.#peers.values()) p.wire.resumeReading();
      } else this.#ctx.clock.setTimeout(poll, READS_POLL_MS);
    };
    this.#ctx.clock.setTimeout(poll, READS_POLL_MS);
  }

  #fillAll(): void {
    for (const p of this.#peers.values()) this.#fill(p);
  }

  async #verify(piece: number): Promise<void> {
    const picker = this.#picker;
    const store = this.#store;
    const info = this.#info;
    if (!picker || !store || !info) return;
    let ok: boolean;
    try {
      ok = await store.verify(piece);
    } catch (err) {
      this.#storeFailed(err);
      return;
    }
    if (this.#state === 'destroyed') return;
    const work = this.#work.get(piece);
    this.#work.delete(piece);
    picker.pieceVerified(piece, ok);
    if (ok) {
      if (this.#smartBan.pending(piece)) void this.#resolveSmartBan(piece);
      for (const p of this.#peers.values()) {
        // No `have` to a peer that has the piece (libtorrent's `send_redundant_have` off): it
        // learns nothing from it, and in a large swarm most haves would be such.
        if (!picker.peerHas(p.id, piece)) p.wire.have(piece);
        this.#updateInterest(p);
      }
      if (this.listenerCount('verified') > 0) {
        const sources = new Map<string, number>();
        const size = this.#pieceSize(piece);
        for (const [offset, peerId] of work?.senders ?? []) {
          sources.set(peerId, (sources.get(peerId) ?? 0) + Math.min(this.#blockSize, size - offset));
        }
        this.emit('verified', piece, sources);
      }
      this.emit('piece', piece);
      this.#checkDone();
    } else {
      this.#hashFailures++;
      const senders = new Set(work?.senders.values() ?? []);
      this.#warn(
        new SessionError('SESSION_HASH_FAILED', `piece ${piece} failed its hash check`, {
          details: { piece, senders: [...senders].join(',') },
        }),
      );
      if (senders.size === 1) {
        const [only] = senders;
        const p = only === undefined ? undefined : this.#peers.get(only);
        if (p && ++p.soleFailures >= this.#ctx.settings.banAfterHashFailures)
          this.#ban(p.id, 'sent corrupt pieces');
      }
      if (work) void this.#recordSmartBan(piece, work);
      this.#fillAll();
    }
  }

  async #recordSmartBan(piece: number, work: PieceWork): Promise<void> {
    const store = this.#store;
    const info = this.#info;
    if (!store || !info) return;
    try {
      const size = piece === info.pieceCount - 1 ? info.lastPieceLength : info.pieceLength;
      const data = await store.get(piece, 0, size);
      const blocks = new Map<number, { peer: string; data: Uint8Array }>();
      for (const [offset, peer] of work.senders)
        blocks.set(offset, { peer, data: data.subarray(offset, offset + this.#blockSize) });
      this.#smartBan.recordFailure(piece, blocks);
    } catch {
      // The data is gone (store closed): nothing to compare later.
    }
  }

  async #resolveSmartBan(piece: number): Promise<void> {
    const store = this.#store;
    const info = this.#info;
    if (!store || !info) return;
    try {
      const size = piece === info.pieceCount - 1 ? info.lastPieceLength : info.pieceLength;
      const good = await store.get(piece, 0, size);
      for (const culprit of this.#smartBan.resolve(piece, good, this.#blockSize))
        this.#ban(culprit, 'sent corrupt blocks');
    } catch {
      this.#smartBan.forget(piece);
    }
  }

  #ban(id: string, why: string): void {
    const p = this.#peers.get(id);
    const host = p?.wire.remote.host ?? this.#known.get(id)?.addr.host ?? id.replace(/:\d+$/, '');
    if (this.#banned.has(host)) return;
    this.#banned.add(host);
    for (const [kid, k] of this.#known) if (k.addr.host === host) this.#known.delete(kid);
    this.#warn(new SessionError('SESSION_PEER_BANNED', `banned ${host}: ${why}`, { details: { host } }));
    for (const peer of [...this.#peers.values()]) {
      if (peer.wire.remote.host === host) peer.wire.close(new WireError('WIRE_BANNED', `banned: ${why}`));
    }
  }

  #checkDone(): void {
    if (this.#doneEmitted || !this.#picker?.done) return;
    this.#doneEmitted = true;
    this.#state = 'seeding';
    void this.#store?.flush().catch((err: unknown) => this.#storeFailed(err));
    for (const p of this.#peers.values()) {
      this.#updateInterest(p);
      // Seeds do not need each other.
      if (this.#isSeedPeer(p)) {
        const k = this.#known.get(p.id);
        if (k) k.seed = true;
        p.wire.close();
      }
    }
    this.#tracker?.complete().catch(() => {});
    this.emit('done');
  }

  #isSeedPeer(p: PeerConn): boolean {
    const info = this.#info;
    if (!info) return false;
    const picker = this.#picker;
    if (picker?.hasPeer(p.id)) return picker.peerIsSeed(p.id);
    for (let i = 0; i < info.pieceCount; i++) if (!p.wire.peerHas(i)) return false;
    return true;
  }

  #storeFailed(err: unknown): void {
    if (this.#state === 'destroyed' || this.#state === 'error') return;
    const e =
      err instanceof BttkitError
        ? err
        : new SessionError('SESSION_STORE_FAILED', 'storage failed', { cause: err });
    if (e.code === 'STORAGE_CLOSED' || e.code === 'ABORTED') return;
    this.#state = 'error';
    this.emit('error', e);
    void this.destroy();
  }

  // ---- uploading -----------------------------------------------------------------------------

  #onRequest(peer: PeerConn, index: number, offset: number, length: number, respond: RespondFn): void {
    const store = this.#store;
    if (!store?.has(index) || !peer.unchoked) {
      respond(new SessionError('SESSION_CANNOT_SERVE', 'not available'));
      return;
    }
    const read = this.#readPiece(store, index);
    // Exactly once per request, when nothing refers to the block any more (or never).
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#releaseRead(read);
    };
    read.data.then(
      (data) => {
        if (peer.wire.closed) return release();
        if (offset + length > data.length) {
          release();
          respond(new SessionError('SESSION_CANNOT_SERVE', 'request outside the piece'));
          return;
        }
        const block = data.subarray(offset, offset + length);
        const send = () => {
          if (peer.wire.closed) return release();
          peer.up.add(block.length);
          this.#uploaded += block.length;
          respond(block, release);
          if (this.listenerCount('uploaded') > 0) this.emit('uploaded', peer.id, block.length);
        };
        const limiter = this.#ctx.uploadLimiter;
        if (!limiter) {
          send();
          return;
        }
        // Never queue more than ~2 s of upload behind the cap: refuse (BEP 6 reject) instead,
        // so the requester asks someone else rather than waiting on us.
        if (limiter.wouldWait(block.length) > MAX_UPLOAD_WAIT_MS) {
          release();
          respond(new SessionError('SESSION_UPLOAD_BUSY', 'upload queue full'));
          return;
        }
        const wait = limiter.take(block.length);
        if (wait <= 0) send();
        else this.#ctx.clock.setTimeout(send, wait);
      },
      (err: unknown) => {
        release();
        respond(err instanceof Error ? err : new Error(String(err)));
        this.#storeFailed(err);
      },
    );
  }

  /**
   * Whole pieces read for upload, most recent last: one read serves every block of a piece (a
   * peer asks for them in a row), instead of one read per 16 KiB block. Bounded in bytes.
   */
  #readCache = new Map<number, UploadRead>();
  #readCacheBytes = 0;
  /** Piece-sized buffers free for the next read (see {@link UploadRead}). */
  #spareReads: Uint8Array[] = [];
  #storeIgnoresInto = false;

  /** The read of piece `index`, cached or new, with one more user: release it once. */
  #readPiece(store: ChunkStore, index: number): UploadRead {
    const hit = this.#readCache.get(index);
    if (hit) {
      this.#readCache.delete(index);
      this.#readCache.set(index, hit);
      hit.users++;
      return hit;
    }
    const size = this.#pieceSize(index);
    const full = this.#info?.pieceLength ?? 0;
    // Whole-size pieces are read into buffers of ours, recycled; the last piece is left alone.
    const into =
      size === full && !this.#storeIgnoresInto ? (this.#spareReads.pop() ?? new Uint8Array(full)) : undefined;
    const data = store.get(index, 0, size, into ? { into } : {});
    const read: UploadRead = { data, buf: undefined, users: 1, cached: true };
    data.then(
      (bytes) => {
        // Recycled only when the store read into our buffer. A store that ignores `into` (one
        // that hands out views of its own memory) is not offered buffers again.
        if (into && bytes.buffer === into.buffer) read.buf = into;
        else if (into) {
          this.#storeIgnoresInto = true;
          this.#spareReads = [];
        }
      },
      () => {
        if (this.#readCache.get(index) === read) {
          this.#readCache.delete(index);
          this.#readCacheBytes -= size;
          read.cached = false;
        }
      },
    );
    this.#readCache.set(index, read);
    this.#readCacheBytes += size;
    const cap = this.#ctx.settings.readCacheBytes;
    for (const [k, old] of this.#readCache) {
      if (this.#readCacheBytes <= cap || this.#readCache.size <= 1) break;
      this.#readCache.delete(k);
      this.#readCacheBytes -= this.#pieceSize(k);
      old.cached = false;
      if (old.users === 0) this.#recycle(old);
    }
    return read;
  }

  #releaseRead(read: UploadRead): void {
    if (--read.users === 0 && !read.cached) this.#recycle(read);
  }

  #recycle(read: UploadRead): void {
    const buf = read.buf;
    read.buf = undefined;
    if (buf && this.#spareReads.length < MAX_SPARE_READ_BUFFERS && this.#state !== 'destroyed') {
      this.#spareReads.push(buf);
    }
  }

  #rechoke(): void {
    if (this.#state === 'destroyed') return;
    const now = this.#ctx.clock.now();
    this.#lastRechoke = now;
    this.#rechokePending?.cancel();
    this.#rechokePending = undefined;
    const peers: ChokerPeer[] = [];
    for (const p of this.#peers.values()) {
      peers.push({
        id: p.id,
        interested: p.wire.peerInterested,
        downloadRate: p.down.rate(),
        uploadRate: p.up.rate(),
        unchoked: p.unchoked,
        connectedAt: p.connectedAt,
        seed: this.#isSeedPeer(p),
      });
    }
    const unchoke = this.#choker.rechoke(peers, {
      seeding: this.#picker?.done ?? false,
      now,
      slots: this.#ctx.settings.uploadSlots,
    });
    this.#slotsIdle = unchoke.size < this.#ctx.settings.uploadSlots;
    for (const p of this.#peers.values()) {
      const want = unchoke.has(p.id) && !this.#paused;
      if (want && !p.unchoked) {
        p.unchoked = true;
        p.wire.unchoke();
      } else if (!want && p.unchoked) {
        p.unchoked = false;
        p.wire.choke();
      }
    }
  }

  #maybeQuickUnchoke(): void {
    // A newly interested peer gets a free slot at once (after the events of this moment, which
    // share the round) when the last round left slots unused for want of candidates — even if
    // it ran a moment ago: a leecher that connects just after we started seeding must not wait
    // a second to be served. A slot freed since (a peer left or lost interest) is refilled by
    // the coalesced round, not by a round per event.
    if (this.#unchokedCount() >= this.#ctx.settings.uploadSlots) return;
    this.#rechokeSoon(this.#slotsIdle ? 0 : 1000);
  }

  #unchokedCount(): number {
    let n = 0;
    for (const p of this.#peers.values()) if (p.unchoked) n++;
    return n;
  }

  #lastRechoke = Number.NEGATIVE_INFINITY;
  /** The last round unchoked fewer peers than there are slots (not enough candidates). */
  #slotsIdle = true;
  #rechokePending: TimerHandle | undefined;
  /** When the pending round runs. */
  #rechokeAt = 0;

  /**
   * A choking round soon: at once (after the events of this moment, which share it) if the last
   * round was `minGapMs` (a second) ago or more, else that long after it; a round already due
   * sooner stands. Slots freed by a peer leaving or losing interest are refilled without a round
   * per event — in a large swarm interest flaps constantly (libtorrent's trigger_unchoke likewise
   * waits for its next tick).
   */
  #rechokeSoon(minGapMs = 1000): void {
    if (this.#state === 'destroyed') return;
    const now = this.#ctx.clock.now();
    const at = Math.max(now, this.#lastRechoke + minGapMs);
    if (this.#rechokePending) {
      if (this.#rechokeAt <= at) return;
      this.#rechokePending.cancel();
    }
    this.#rechokeAt = at;
    this.#rechokePending = this.#ctx.clock.setTimeout(() => {
      this.#rechokePending = undefined;
      this.#rechoke();
    }, at - now);
  }

  #tick(): void {
    if (this.#state === 'destroyed' || this.#paused) return;
    // Requests that took too long go back to the picker (the peer may be stalled).
    const now = this.#ctx.clock.now();
    const limit = this.#ctx.settings.requestTimeoutMs;
    for (const p of this.#peers.values()) {
      for (const [key, at] of p.inflight) {
        if (now - at < limit) continue;
        const piece = Math.floor(key / 0x10000);
        const offset = (key % 0x10000) * this.#blockSize;
        p.inflight.delete(key);
        this.#picker?.requestFailed(p.id, piece, offset);
        p.wire.cancel(piece, offset, Math.min(this.#blockSize, this.#pieceSize(piece) - offset));
      }
    }
    for (const p of this.#peers.values()) if (p.pex && p.pex.waitMs === 0) this.#sendPex(p);
    this.#dhtRound();
    if (!this.#tracker) this.#startTracker();
    this.#connectMore();
    this.#fillAll();
  }

  #pieceSize(piece: number): number {
    const info = this.#info;
    if (!info) return 0;
    return piece === info.pieceCount - 1 ? info.lastPieceLength : info.pieceLength;
  }

  // ---- metadata and storage ------------------------------------------------------------------

  /** Supplies the info dictionary (from a .torrent, or fetched through BEP 9). */
  async setInfo(info: InfoDictionary): Promise<void> {
    if (this.#info || this.#state === 'destroyed') return;
    if (toHex(info.infoHashBytes) !== this.infoHashHex) {
      this.#warn(new SessionError('SESSION_WRONG_METADATA', 'metadata for another torrent ignored'));
      return;
    }
    await this.#setInfo(info);
  }

  async #setInfo(info: InfoDictionary): Promise<void> {
    if (this.#info) return;
    this.#info = info;
    this.#state = 'checking';
    this.emit('metadata', info);
    for (const p of this.#peers.values()) {
      p.wire.setTorrent(info);
      if (!p.metadata?.metadata) p.metadata?.setMetadata(info);
    }
    let store: ChunkStore;
    try {
      store = this.#ctx.createStore(info);
      this.#store = store;
    } catch (err) {
      this.#storeFailed(err);
      return;
    }
    const picker = new PiecePicker<string>({
      pieceCount: info.pieceCount,
      pieceLength: info.pieceLength,
      lastPieceLength: info.lastPieceLength,
      blockSize: this.#blockSize,
      ...(this.#ctx.random ? { random: this.#ctx.random } : {}),
    });
    try {
      await this.#applyFilePriorities(info, picker, store);
      const have = new Bitfield(info.pieceCount, await store.recheck());
      for (let i = 0; i < info.pieceCount; i++) if (have.get(i)) picker.markHave(i);
    } catch (err) {
      this.#storeFailed(err);
      return;
    }
    if (this.#dead()) return;
    this.#picker = picker;
    this.#state = picker.done ? 'seeding' : 'downloading';
    for (const p of this.#peers.values()) {
      picker.addPeer(p.id);
      this.#replayPeerPieces(p, picker, info);
      this.#sendHave(p);
      this.#updateInterest(p);
    }
    this.emit('ready');
    if (picker.done) this.#checkDone();
    this.#rechoke();
    this.#fillAll();
  }

  #replayPeerPieces(p: PeerConn, picker: PiecePicker<string>, info: InfoDictionary): void {
    for (let i = 0; i < info.pieceCount; i++) if (p.wire.peerHas(i)) picker.peerHave(p.id, i);
  }

  async #applyFilePriorities(
    info: InfoDictionary,
    picker: PiecePicker<string>,
    store: ChunkStore,
  ): Promise<void> {
    const prios = this.#filePriorities;
    if (!prios) return;
    if (prios.length !== info.files.length) throw new RangeError('one priority per file');
    picker.setPriorities(filePiecePriorities(info.files, prios, info.pieceLength, info.pieceCount));
    for (let i = 0; i < prios.length; i++) await store.setFileSkipped(i, prios[i] === 0);
  }

  #dead(): boolean {
    return this.#state === 'destroyed';
  }

  #warn(err: BttkitError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', err);
  }
}
