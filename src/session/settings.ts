import type { EncryptionPolicy } from '../wire/mse/index.js';

/**
 * One flat settings object for a {@link Client} and its torrents, with presets — in the manner
 * of libtorrent's settings pack.
 */
export interface Settings {
  /** Most peer connections over all torrents. */
  maxConnections: number;
  /** Most peer connections per torrent. */
  maxConnectionsPerTorrent: number;
  /** Upload slots per torrent (regular + one optimistic). */
  uploadSlots: number;
  /** How often choking is recomputed, ms. */
  rechokeIntervalMs: number;
  /** Time to connect to a peer before giving up, ms. */
  connectTimeoutMs: number;
  /** A request not answered in this long is given to another peer, ms. */
  requestTimeoutMs: number;
  /** Seconds of a peer's download rate kept queued as requests (pipelining by rate). */
  requestQueueSeconds: number;
  /** Fewest and most outstanding requests per peer. */
  minRequestQueue: number;
  maxRequestQueue: number;
  /** A peer that was alone in sending `n` pieces that failed the hash check is banned. */
  banAfterHashFailures: number;
  /**
   * Byte cap of blocks accepted but not yet stored, per torrent (backpressure on requests); the
   * file store's queue cap. Half of the store's cap (this, for a store without its own) is also
   * the most requested and not yet received over all of a torrent's peers.
   */
  maxPendingWriteBytes: number;
  /** Byte cap of whole pieces kept in memory for upload (one read serves all their blocks). */
  readCacheBytes: number;
  /**
   * Upload cap over all torrents, bytes/s of payload; 0 = none. The initial value of the
   * client's limit: `client.throttleUpload()` changes it at run time.
   */
  uploadRateLimit: number;
  /**
   * Download cap over all torrents, bytes/s of payload; 0 = none. The initial value of the
   * client's limit: `client.throttleDownload()` changes it at run time.
   */
  downloadRateLimit: number;
  /** Wait before reconnecting to a peer that failed, ms (doubles per failure). */
  reconnectBackoffMs: number;
  /**
   * Bytes per block request: 16 KiB, as every client expects (most drop a peer that asks for
   * more). Larger values (a power of two up to 4 MiB) work only when every peer of the swarm is a
   * bttkit client with the same setting — the swarm lab uses them to simulate big swarms cheaply.
   */
  blockSize: number;
  /** Listen on and dial over TCP. Default true. */
  enableTcp: boolean;
  /**
   * Listen on and dial over uTP (BEP 29), on the same port number as TCP; outgoing connections
   * try uTP first unless the peer is known not to speak it, then TCP. Default true.
   */
  enableUtp: boolean;
  /**
   * Message stream encryption (MSE/PE), as libtorrent's `in_enc_policy`/`out_enc_policy`:
   * `enabled` (default) accepts plaintext and encrypted peers and dials with the MSE handshake
   * first, retrying once in plaintext when a peer does not speak it; `forced` only encrypted
   * connections, RC4 on every byte; `disabled` plaintext only.
   */
  encryption: EncryptionPolicy;
  /**
   * Under `enabled`: ask for RC4 on the whole stream rather than an obfuscated handshake followed
   * by plaintext (libtorrent's `prefer_rc4`). Default false: RC4 costs CPU and hides little once
   * the handshake is obfuscated.
   */
  preferRc4: boolean;
  /**
   * IPv6 (docs/networking.md): `listen()` without a host binds `::` with IPv6-only off, so TCP
   * and uTP take IPv4 and IPv6 peers on one port (falling back to `0.0.0.0` on a host without
   * IPv6), and IPv6 peers — from trackers (`peers6`), PEX (`added6`), magnets and `addPeer` — are
   * dialled. Off: `listen()` binds `0.0.0.0` and IPv6 addresses are ignored. The DHT is IPv4
   * either way. Default true.
   */
  enableIpv6: boolean;
  /**
   * Ask the home router to forward the listening port (TCP and UDP) from the internet, by
   * NAT-PMP or UPnP IGD, once the client listens; the mapped external port is what trackers and
   * the DHT are told. Renewed at half the lease, removed by `destroy()`. Never for a client bound
   * to a loopback address, nor when the environment variable `BTTKIT_LOCAL_NETWORK` is `off`.
   * A router that refuses or is absent is a `warning` (`NET_PORTMAP_*`). Default true.
   */
  portMapping: boolean;
  /** The lease asked of the router, seconds (10–604800; UPnP leases are at least 3600). Default 3600. */
  portMappingLease: number;
  /**
   * Local service discovery (BEP 14): announce our torrents on the LAN's multicast group
   * (239.192.152.143:6771, and [ff15::efc0:988f]:6771 when listening on `::`) and connect to
   * the peers others announce there. Default true, as in libtorrent — but it never runs for a
   * client listening on a loopback address, with a custom transport, or for private torrents.
   * See docs/networking.md.
   */
  lsd: boolean;
  /**
   * Hole punching (BEP 55, `ut_holepunch`): relay introductions between our peers, and reach a
   * peer behind a NAT that we could not dial through a peer connected to both of us (a
   * simultaneous uTP open). Default true. Not used for private torrents.
   */
  holepunch: boolean;
  /**
   * Use web seeds (BEP 19: the .torrent's `url-list`, a magnet's `ws=`, `addWebSeed`). Default
   * true.
   */
  enableWebSeeds: boolean;
  /** Time a web seed has for its response headers and for each 16 KiB of the body, ms. */
  webSeedTimeoutMs: number;
  /** Jobs (runs of range requests) in flight per web seed, sharing `requestQueueSeconds` of its rate. */
  webSeedRequests: number;
  /** Wait before retrying a web seed that failed, ms (doubles per failure in a row, up to 5 min). */
  webSeedRetryMs: number;
  /**
   * Failures in a row after which a web seed is left alone for an hour (a 404 or 410 at once).
   */
  webSeedMaxFailures: number;
  /**
   * Most files the client keeps open over all its torrents' file stores (libtorrent's
   * `file_pool_size`): one LRU shared by every store, least recently used closed first. A
   * file in use (being read, written or hashed) is never closed under its user, so the count
   * may briefly exceed this by the files in use at once. Default 128.
   */
  maxOpenFiles: number;
  /**
   * With `ClientOptions.resumeDir`: a torrent whose pieces changed has its resume data saved at
   * most this often, ms (batched over the client's torrents: one timer, not a write per piece);
   * it is also saved when the torrent is paused or destroyed. Default 30,000.
   */
  resumeSaveIntervalMs: number;
  /**
   * Most torrents that start announcing to their trackers per second, over the client: 1,000
   * torrents added at once announce over 20 s rather than all at t = 0. Default 50.
   */
  maxAnnouncesPerSecond: number;
}

/** Defaults: a good desktop client. */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  maxConnections: 200,
  maxConnectionsPerTorrent: 50,
  uploadSlots: 8,
  rechokeIntervalMs: 10_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  requestQueueSeconds: 3,
  minRequestQueue: 64,
  maxRequestQueue: 1000,
  banAfterHashFailures: 2,
  maxPendingWriteBytes: 32 * 1024 * 1024,
  readCacheBytes: 32 * 1024 * 1024,
  reconnectBackoffMs: 5_000,
  uploadRateLimit: 0,
  downloadRateLimit: 0,
  blockSize: 16 * 1024,
  enableTcp: true,
  enableUtp: true,
  encryption: 'enabled',
  preferRc4: false,
  enableIpv6: true,
  portMapping: true,
  portMappingLease: 3600,
  lsd: true,
  holepunch: true,
  enableWebSeeds: true,
  webSeedTimeoutMs: 20_000,
  webSeedRequests: 2,
  webSeedRetryMs: 5_000,
  webSeedMaxFailures: 5,
  maxOpenFiles: 128,
  resumeSaveIntervalMs: 30_000,
  maxAnnouncesPerSecond: 50,
});

/** Presets, after libtorrent's `min_memory_usage()` and `high_performance_seed()`. */
export const SETTINGS_PRESETS = {
  minMemory: {
    maxConnections: 50,
    maxConnectionsPerTorrent: 20,
    maxRequestQueue: 64,
    maxPendingWriteBytes: 8 * 1024 * 1024,
    readCacheBytes: 4 * 1024 * 1024,
  },
  highPerformance: {
    maxConnections: 1000,
    maxConnectionsPerTorrent: 200,
    uploadSlots: 32,
    maxRequestQueue: 2000,
    maxPendingWriteBytes: 256 * 1024 * 1024,
  },
} as const satisfies Record<string, Partial<Settings>>;
