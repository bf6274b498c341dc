import { type BDict, type BValue, decode } from '../metainfo/bencode.js';
import { fromUtf8, toBinaryString, toHex, utf8 } from '../util/bytes.js';
import { sanitizeTrackerText, TrackerError } from './errors.js';
import { addCompactPeers, addDictPeers, PeerCollector } from './peers.js';
import type { AnnounceResponse, ScrapeResponse, ScrapeStats } from './types.js';

/** Interval assumed when a tracker omits `interval` (seconds). */
export const DEFAULT_INTERVAL_SECONDS = 1800;
const MAX_SECONDS = 2 ** 31;

function bad(message: string, cause?: unknown): never {
  throw new TrackerError('TRACKER_BAD_RESPONSE', message, cause === undefined ? undefined : { cause });
}

/** Decodes a tracker body as a bencoded dictionary, bounded; a bencode error is `TRACKER_BAD_RESPONSE`. */
export function decodeTrackerBody(body: Uint8Array): BDict {
  let v: BValue;
  try {
    v = decode(body, { maxBytes: body.length, maxDepth: 8, maxItems: 1_000_000, keyOrder: 'lenient' });
  } catch (err) {
    bad(`tracker response is not bencode: ${(err as Error).message}`, err);
  }
  if (!(v instanceof Map)) bad('tracker response is not a bencoded dictionary');
  return v;
}

/** Text of a byte-string field, sanitised; `TRACKER_BAD_RESPONSE` if it is not a byte string. */
function text(d: BDict, key: string): string | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) bad(`'${key}' is not a string`);
  return sanitizeTrackerText(fromUtf8(v));
}

/** A non-negative integer field, or `undefined`; `TRACKER_BAD_RESPONSE` on another type or range. */
function uint(d: BDict, key: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'bigint' || v < 0n || v > BigInt(max)) bad(`'${key}' is not an integer in [0, ${max}]`);
  return Number(v);
}

/** Throws `TRACKER_FAILURE` if the dictionary carries a `failure reason`. */
export function throwIfFailure(d: BDict): void {
  const reason = text(d, 'failure reason');
  if (reason !== undefined) {
    throw new TrackerError('TRACKER_FAILURE', `tracker refused: ${reason}`, { details: { reason } });
  }
}

/**
 * Parses an HTTP announce response (BEP 3, 7, 23): `failure reason`, `warning message`,
 * `interval`, `min interval`, `tracker id`, `complete`, `incomplete`, `peers` (compact string or
 * list of dicts) and `peers6`.
 *
 * @throws {TrackerError} `TRACKER_FAILURE`, `TRACKER_BAD_RESPONSE`, `TRACKER_BAD_PEERS`.
 */
export function parseAnnounceResponse(body: Uint8Array, maxPeers = 2000): AnnounceResponse {
  const d = decodeTrackerBody(body);
  throwIfFailure(d);
  const collector = new PeerCollector(maxPeers);
  const peers = d.get('peers');
  if (peers instanceof Uint8Array) addCompactPeers(collector, peers, 4);
  else if (Array.isArray(peers)) addDictPeers(collector, peers);
  else if (peers !== undefined) bad("'peers' is neither a string nor a list");
  const peers6 = d.get('peers6');
  if (peers6 instanceof Uint8Array) addCompactPeers(collector, peers6, 6);
  else if (peers6 !== undefined) bad("'peers6' is not a string");
  const trackerId = d.get('tracker id');
  if (trackerId !== undefined && !(trackerId instanceof Uint8Array)) bad("'tracker id' is not a string");
  if (trackerId !== undefined && trackerId.length > 256) bad("'tracker id' is longer than 256 bytes");
  const minInterval = uint(d, 'min interval', MAX_SECONDS);
  const complete = uint(d, 'complete');
  const incomplete = uint(d, 'incomplete');
  const warning = text(d, 'warning message');
  return {
    interval: uint(d, 'interval', MAX_SECONDS) ?? DEFAULT_INTERVAL_SECONDS,
    ...(minInterval === undefined ? {} : { minInterval }),
    ...(trackerId === undefined ? {} : { trackerId: trackerId.slice() }),
    ...(complete === undefined ? {} : { complete }),
    ...(incomplete === undefined ? {} : { incomplete }),
    peers: collector.peers,
    droppedPeers: collector.dropped,
    ...(warning === undefined ? {} : { warning }),
  };
}

/**
 * Parses an HTTP scrape response (BEP 48). Only the asked info-hashes are kept; a missing one is
 * simply absent from `files`.
 *
 * @throws {TrackerError} `TRACKER_FAILURE`, `TRACKER_BAD_RESPONSE`.
 */
export function parseScrapeResponse(body: Uint8Array, infoHashes: readonly Uint8Array[]): ScrapeResponse {
  const d = decodeTrackerBody(body);
  throwIfFailure(d);
  const files = d.get('files');
  if (!(files instanceof Map)) bad("scrape response has no 'files' dictionary");
  const out = new Map<string, ScrapeStats>();
  for (const ih of infoHashes) {
    const key = toBinaryString(ih);
    // WebTorrent's bittorrent-tracker (11.x) bencodes the binary key as UTF-8 text: accept that
    // exact mangling of the hash we asked for too, so its HTTP scrape works.
    const entry = files.get(key) ?? files.get(toBinaryString(utf8(key)));
    if (entry === undefined) continue;
    if (!(entry instanceof Map)) bad('scrape entry is not a dictionary');
    out.set(toHex(ih), {
      complete: uint(entry, 'complete') ?? 0,
      incomplete: uint(entry, 'incomplete') ?? 0,
      downloaded: uint(entry, 'downloaded') ?? 0,
    });
  }
  const flags = d.get('flags');
  const minRequestInterval =
    flags instanceof Map ? uint(flags, 'min_request_interval', MAX_SECONDS) : undefined;
  return { files: out, ...(minRequestInterval === undefined ? {} : { minRequestInterval }) };
}
