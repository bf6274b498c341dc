import type { PeerAddress } from '../metainfo/magnet.js';
import type { Clock } from '../util/clock.js';
import type { UdpConnectionCache } from './udp.js';

/** The `event` of an announce (BEP 3); a regular re-announce has none. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped';

/** What one announce tells the tracker. Byte counts are of payload, as BEP 3 defines them. */
export interface AnnounceRequest {
  /** The 20-byte v1 info-hash. */
  infoHash: Uint8Array;
  /** Our 20-byte peer id. */
  peerId: Uint8Array;
  /** The TCP port we accept peers on (1–65535). */
  port: number;
  uploaded: number | bigint;
  downloaded: number | bigint;
  left: number | bigint;
  event?: AnnounceEvent;
  /** How many peers we want; omitted: the tracker's default (UDP sends −1). */
  numwant?: number;
  /** A random 32-bit value constant for the session, so the tracker recognises us across IPs. */
  key?: number;
  /** HTTP only: the `tracker id` this tracker gave us before. */
  trackerId?: Uint8Array;
}

/** A tracker's answer to an announce, parsed and checked. */
export interface AnnounceResponse {
  /** Seconds until the next regular announce, as the tracker asked. */
  interval: number;
  /** Seconds the tracker wants between announces at least, if it said. */
  minInterval?: number;
  /** HTTP: an opaque id to send back on later announces. */
  trackerId?: Uint8Array;
  /** Seeders, if the tracker said. */
  complete?: number;
  /** Leechers, if the tracker said. */
  incomplete?: number;
  /** IPv4 and IPv6 peers, without duplicates, without port 0. */
  peers: PeerAddress[];
  /** Peers left out: port 0, unspecified or non-IP addresses, duplicates, beyond `maxPeers`. */
  droppedPeers: number;
  /** A `warning message` the tracker sent along with its answer. */
  warning?: string;
}

/** Swarm statistics of one torrent from a scrape (BEP 48 / BEP 15). */
export interface ScrapeStats {
  /** Seeders. */
  complete: number;
  /** Leechers. */
  incomplete: number;
  /** Completed downloads the tracker has counted. */
  downloaded: number;
}

/** A scrape answer: statistics keyed by lower-case hex info-hash (only hashes that were asked). */
export interface ScrapeResponse {
  files: Map<string, ScrapeStats>;
  /** BEP 48 `flags.min_request_interval`, in seconds, if the tracker said. */
  minRequestInterval?: number;
}

/** Options of the HTTP(S) tracker requests. */
export interface HttpTrackerOptions {
  /** Largest body read, in bytes; reading stops (and the socket is closed) past it. Default 2 MiB. */
  maxBodyBytes?: number;
  /** Redirects followed (http↔https allowed, other schemes refused). Default 5. */
  maxRedirects?: number;
  /** `User-Agent` header. Default `bttkit`. */
  userAgent?: string;
}

/** Options of the UDP tracker requests (BEP 15). */
export interface UdpTrackerOptions {
  /** First wait for a reply; the n-th retransmission waits `base · 2ⁿ`. Default 15,000 ms (BEP 15). */
  retransmitBaseMs?: number;
  /** Retransmissions before giving up (the cap on n). Default 8 (BEP 15: 3,840 s for the last wait). */
  maxRetransmits?: number;
  /** Connection ids to reuse for one minute; default a cache private to the call. */
  connections?: UdpConnectionCache;
}

/** Options shared by every tracker request. */
export interface TrackerRequestOptions {
  /** Aborts the request; it then rejects with `AbortError` (`ABORTED`). */
  signal?: AbortSignal;
  /** Timer source for timeouts and retransmissions. Default the real clock. */
  clock?: Clock;
  /**
   * Whole-request deadline in ms, redirects and retransmissions included. Default 30,000 for HTTP;
   * for UDP none beyond the retransmission schedule.
   */
  timeoutMs?: number;
  /** Most peers kept from one answer. Default 2,000. */
  maxPeers?: number;
  http?: HttpTrackerOptions;
  udp?: UdpTrackerOptions;
}
