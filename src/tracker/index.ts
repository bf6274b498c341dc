/**
 * Tracker client: HTTP(S) (BEP 3, 7, 23, 48) and UDP (BEP 15) announce and scrape, strict parsing
 * of hostile answers, and {@link TrackerClient}, which walks BEP 12 tiers and re-announces on the
 * tracker's interval.
 * @module tracker
 */
export { announce, scrape, trackerProtocol } from './announce.js';
export {
  type AnnounceInfo,
  type Announcer,
  networkAnnouncer,
  type ScrapeInfo,
  TrackerClient,
  type TrackerClientEvents,
  type TrackerClientOptions,
  type TrackerSource,
  type TrackerStats,
  type TrackerWarning,
} from './client.js';
export { MAX_TRACKER_TEXT, TRACKER_ERROR_CODES, TrackerError, type TrackerErrorCode } from './errors.js';
export {
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  httpAnnounce,
  httpAnnounceUrl,
  httpScrape,
  percentEncodeBytes,
  scrapeUrlFor,
} from './http.js';
export { DEFAULT_INTERVAL_SECONDS, parseAnnounceResponse, parseScrapeResponse } from './parse.js';
export { encodeCompactPeers, formatIPv6, parseCompactPeers } from './peers.js';
export { type RandomSource, type TierEntry, TrackerTiers } from './tiers.js';
export type {
  AnnounceEvent,
  AnnounceRequest,
  AnnounceResponse,
  HttpTrackerOptions,
  ScrapeResponse,
  ScrapeStats,
  TrackerRequestOptions,
  UdpTrackerOptions,
} from './types.js';
export {
  MAX_UDP_SCRAPE,
  parseUdpUrl,
  UdpConnectionCache,
  type UdpTrackerAddress,
  udpAnnounce,
  udpScrape,
} from './udp.js';
