/**
 * The engine: a {@link Client} holding {@link Torrent}s — peers, piece picking, storage and
 * choking joined together.
 * @module session
 */

export { BYTE_EVENT_INTERVAL_MS } from './byte-events.js';
export {
  type ChokeContext,
  type Choker,
  type ChokerPeer,
  TitForTatChoker,
  type TitForTatOptions,
} from './choker.js';
export {
  type AddTorrentOptions,
  Client,
  type ClientOptions,
  RateLimiter,
  type TorrentPlugin,
  type TorrentSource,
} from './client.js';
export type { ClientEvents, RemoveOptions } from './client-types.js';
export { SESSION_ERROR_CODES, SessionError, type SessionErrorCode } from './errors.js';
export { type FileRange, TorrentFileHandle } from './file.js';
export {
  createClientServer,
  createTorrentServer,
  encodePath,
  escapeHtml,
  parseRange,
  type ServedClient,
  type ServedFile,
  type ServedTorrent,
  TorrentServer,
  type TorrentServerAddress,
  type TorrentServerOptions,
} from './http-server.js';
export {
  cryptoMethods,
  type Dialed,
  Dialer,
  type LinkHints,
  type LinkInfo,
  NO_LINK,
  type PeerTransports,
  type StreamEncryption,
  type TransportKind,
} from './links.js';
export { type ListenerHost, PeerListeners } from './listeners.js';
export { contentType } from './mime.js';
export type { PeerInfo } from './peer.js';
export { RateMeter } from './rate.js';
export type { SeedFile, SeedOptions, SeedSource } from './seed.js';
export { DEFAULT_SETTINGS, SETTINGS_PRESETS, type Settings } from './settings.js';
export { MAX_TORRENT_FILE_BYTES } from './source.js';
export { AnnounceGate, TimerGroup } from './timer-group.js';
export { Torrent } from './torrent.js';
export type {
  TorrentContext,
  TorrentEvents,
  TorrentInit,
  TorrentResumeHooks,
  TorrentState,
  TorrentStats,
} from './torrent-types.js';
export {
  type WebSeedInfo,
  type WebSeedOptions,
  type WebSeedState,
  WebSeeds,
  webSeedFeature,
} from './web-seed.js';
export { fetchRange, type RangeRequest, type WebSeedAgents } from './web-seed-http.js';
export { checkWebSeedUrl, type FileSpan, fileSpans, webSeedFileUrl } from './web-seed-url.js';
