import type { Dht } from '../dht/dht.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import type { Priority } from '../picker/picker.js';
import type { ChunkStore, RecheckResume } from '../storage/types.js';
import type { Clock } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import type { WireError } from '../wire/errors.js';
import type { ExtensionFactory, WireExtension } from '../wire/extension.js';
import type { PeerWire } from '../wire/peer-wire.js';
import type { ChokeHost } from './choke-scheduler.js';
import type { Choker } from './choker.js';
import type { ConnectorHost } from './connector.js';
import type { DiscoveryHost } from './discovery.js';
import type { DownloadHost } from './downloader.js';
import type { Dialer } from './links.js';
import type { PeerConn, PeerInfo } from './peer.js';
import type { PeerSessionHost } from './peer-session.js';
import type { Settings } from './settings.js';
import type { RateLimiter } from './throttle.js';
import type { Torrent } from './torrent.js';
import type { UploadHost } from './uploader.js';
import type { V2Host } from './v2.js';

/** Events of a {@link Torrent}. */
export interface TorrentEvents {
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
  /**
   * Payload bytes received since the last `download` event, coalesced: at most one event every
   * 200 ms (and one just before `done` and `close`). Costs nothing when nobody listens.
   */
  download: [bytes: number];
  /** Payload bytes sent since the last `upload` event, coalesced like `download`. */
  upload: [bytes: number];
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
  /**
   * Payload bytes received that were not needed (part of `downloaded`), like libtorrent's
   * `total_redundant_bytes`: blocks already here or already received (endgame duplicates) and
   * blocks answering no request of ours (late answers to requests we cancelled). Bytes of pieces
   * that failed their hash check are not in it (see `hashFailures`).
   */
  wasted: number;
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

/** What a torrent asks of its client's fast-resume (see `ClientResume`). */
export interface TorrentResumeHooks {
  /** The record to check the torrent's data against, if one is usable (else a full recheck). */
  load(
    torrent: Torrent,
    info: InfoDictionary,
    warn: (err: BttkitError) => void,
  ): Promise<RecheckResume | undefined>;
  /** The torrent's resume data now; undefined before its data was checked. */
  data(torrent: Torrent): Promise<Uint8Array | undefined>;
  /** Saves the torrent's resume data under the client's `resumeDir` (when set) now. */
  save(torrent: Torrent): Promise<void>;
}

/** What a torrent needs from its client. */
export interface TorrentContext {
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  /** Opens outgoing connections (transport choice, encryption). */
  readonly dialer: Dialer;
  readonly settings: Readonly<Settings>;
  /** The port peers reach us on (the router's external port once port mapping has one). */
  readonly listenPort: () => number | undefined;
  /** Whether the client-wide connection limit allows one more. */
  readonly canConnect: () => boolean;
  readonly connectionOpened: () => void;
  readonly connectionClosed: () => void;
  readonly createChoker: (torrent: Torrent) => Choker;
  /** Random source in [0, 1) for the picker. */
  readonly random?: () => number;
  readonly createStore: (info: InfoDictionary) => ChunkStore;
  /** The client's upload and download buckets (rate 0: unlimited), passed by every torrent's traffic. */
  readonly uploadLimiter: RateLimiter | undefined;
  readonly downloadLimiter?: RateLimiter | undefined;
  /** The client's DHT, if any (not used for private torrents). */
  readonly dht: Dht | undefined;
  /** Extensions to register on every wire of this torrent (BEP 10). */
  readonly extensions: readonly ((torrent: Torrent) => ExtensionFactory<WireExtension>)[];
  readonly onDestroy: (torrent: Torrent) => void;
  /** Fast-resume (client-resume.ts): loads a torrent's record before its check, saves it. */
  readonly resume?: TorrentResumeHooks;
  /** Whether a torrent may start announcing to its trackers now (the client spreads them). */
  readonly mayAnnounce?: () => boolean;
  /** Parts the client adds to every torrent (web seeds, hole punching…), see {@link TorrentFeature}. */
  readonly features?: readonly TorrentFeatureFactory[];
}

/**
 * A part a client feature adds to each torrent (web seeds, hole punching…), made from the
 * torrent's core when the torrent is created: told when the torrent is ready (metadata known,
 * data checked), of each 1-second tick (not while paused), and when it is destroyed. Features
 * live outside `Torrent` so that it stays the small hub that joins the parts.
 */
export interface TorrentFeature {
  /**
   * A new connection joins the torrent, before its handshake is answered: the place to register
   * a BEP 10 extension on `peer.wire` (its `ut_pex`, if any, is registered already).
   */
  attach?(peer: PeerConn): void;
  ready?(): void;
  tick?(): void;
  close?(): void;
}

/** Makes a {@link TorrentFeature} for one torrent. */
export type TorrentFeatureFactory = (core: TorrentCore) => TorrentFeature;

/** Options when adding a torrent. */
export interface TorrentInit {
  infoHash: Uint8Array;
  /** BEP 52: the 32-byte v2 info-hash, when known (a `urn:btmh:` magnet, a v2 or hybrid .torrent). */
  infoHashV2?: Uint8Array;
  info?: InfoDictionary;
  name?: string;
  peers?: readonly PeerAddress[];
  paused?: boolean;
  /** Per-file priorities (0 = skip), in torrent file order. */
  filePriorities?: readonly Priority[];
  /** Tracker tiers (BEP 12): from the .torrent or the magnet, plus any added. */
  trackers?: readonly (readonly string[])[];
  /** The .torrent file's bytes, when the torrent was added from one (`torrent.torrentFile`). */
  torrentFile?: Uint8Array;
}

/**
 * The torrent as its parts see it: one object, of which each part's host interface
 * (`ChokeHost`, `UploadHost`, `DiscoveryHost`, `ConnectorHost`, `PeerSessionHost`, `DownloadHost`)
 * is a slice — so each part can be tested alone with a small fake of its slice.
 */
export type TorrentCore = ChokeHost &
  V2Host &
  UploadHost &
  DiscoveryHost &
  ConnectorHost &
  PeerSessionHost &
  DownloadHost;
