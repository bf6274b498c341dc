import { formatMagnet } from '../metainfo/magnet.js';
import { encodeTorrent, type InfoDictionary, type Metainfo } from '../metainfo/torrent.js';
import type { ChunkStore } from '../storage/types.js';
import { equalBytes, toHex } from '../util/bytes.js';
import type { BttkitError } from '../util/errors.js';
import type { Downloader } from './downloader.js';
import { SessionError } from './errors.js';
import type { PeerBook } from './peer-book.js';
import type { TorrentState, TorrentStats } from './torrent-types.js';

/**
 * `torrent.magnetURI`: `xt` (hex `urn:btih:`, and `urn:btmh:` for a v2 or hybrid torrent; only
 * the latter for a v2-only one), `dn` when the name is known, a `tr` per tracker.
 */
export function magnetOf(
  infoHash: Uint8Array,
  name: string | undefined,
  trackers: readonly (readonly string[])[],
  infoHashV2?: Uint8Array,
): string {
  // v2-only: the swarm's 20-byte hash is the v2 hash truncated (a hybrid's is the SHA-1).
  const v2Only = infoHashV2 !== undefined && equalBytes(infoHashV2.subarray(0, 20), infoHash);
  const hashes = infoHashV2 ? { infoHashV2, ...(v2Only ? {} : { infoHash }) } : { infoHash };
  return formatMagnet({ ...hashes, ...(name !== undefined ? { name } : {}), trackers: trackers.flat() });
}

/**
 * True when `info` is the torrent's: its 20-byte hash is the swarm's (`infoHash`), or, for a
 * hybrid known by its truncated v2 hash (a `urn:btmh:` magnet), its v2 hash starts with it; and
 * its v2 hash is `infoHashV2` when that is known.
 */
export function infoMatches(
  info: InfoDictionary,
  infoHash: Uint8Array,
  infoHashV2: Uint8Array | undefined,
): boolean {
  const h2 = info.infoHashV2Bytes;
  const ours =
    equalBytes(info.infoHashBytes, infoHash) ||
    (h2 !== undefined && equalBytes(h2.subarray(0, 20), infoHash));
  return ours && (infoHashV2 === undefined || (h2 !== undefined && equalBytes(h2, infoHashV2)));
}

/**
 * `torrent.torrentFile` when no original bytes were kept: the info dictionary's exact bytes
 * (so the same info-hash), the trackers, and the other fields of a parsed {@link Metainfo}.
 */
export function torrentFileOf(
  info: InfoDictionary | undefined,
  trackers: readonly (readonly string[])[],
): Uint8Array | undefined {
  if (!info) return undefined;
  const m = info as InfoDictionary & Partial<Metainfo>;
  // A v2 or hybrid .torrent needs the piece layers of its multi-piece files (still coming: none).
  for (const s of info.v2?.files ?? [])
    if (s.pieceCount > 1 && s.piecesRoot && !m.pieceLayers?.has(toHex(s.piecesRoot))) return undefined;
  return encodeTorrent(info.infoBytes, {
    announce: trackers,
    ...(m.urlList ? { urlList: m.urlList } : {}),
    ...(m.comment !== undefined ? { comment: m.comment } : {}),
    ...(m.createdBy !== undefined ? { createdBy: m.createdBy } : {}),
    ...(m.creationDate !== undefined ? { creationDate: m.creationDate } : {}),
    ...(m.pieceLayers ? { pieceLayers: m.pieceLayers } : {}),
  });
}

/** What {@link torrentStats} reads of a torrent. */
export interface StatsSource {
  infoHash: string;
  name: string | undefined;
  state: TorrentState;
  info: InfoDictionary | undefined;
  downloader: Downloader | undefined;
  /** The peers: connected ones, bans, how many were seen. */
  book: Pick<PeerBook, 'connected' | 'bannedCount' | 'seenCount'>;
  downloaded: number;
  uploaded: number;
}

/** `torrent.stats()`: progress over the wanted bytes, rates summed over the peers and web seeds, ETA. */
export function torrentStats(t: StatsSource): TorrentStats {
  const { info, downloader: d } = t;
  const verified = d?.verifiedBytes ?? 0;
  const wantedBytes =
    d && info ? verified + d.picker.wantedRemaining * info.pieceLength : (info?.length ?? 0);
  let downloadRate = d?.externalDown.rate() ?? 0; // web seeds
  let uploadRate = 0;
  for (const p of t.book.connected.values()) {
    downloadRate += p.down.rate();
    uploadRate += p.up.rate();
  }
  const left = Math.max(0, wantedBytes - verified);
  return {
    infoHash: t.infoHash,
    name: t.name,
    state: t.state,
    progress: wantedBytes > 0 ? Math.min(1, verified / wantedBytes) : 0,
    downloaded: t.downloaded,
    uploaded: t.uploaded,
    verified,
    wasted: d?.wastedBytes ?? 0,
    length: info?.length,
    downloadRate,
    uploadRate,
    peers: t.book.connected.size,
    eta: left === 0 ? 0 : downloadRate > 0 ? left / downloadRate : Number.POSITIVE_INFINITY,
    hashFailures: d?.hashFailures ?? 0,
    bannedPeers: t.book.bannedCount,
    peersSeen: t.book.seenCount,
  };
}

/** Closes a torrent's store on destroy; a failure is a `SESSION_STORE_CLOSE_FAILED` warning. */
export async function closeStore(
  store: ChunkStore | undefined,
  warn: (err: BttkitError) => void,
): Promise<void> {
  if (!store || store.closed) return;
  try {
    await store.close();
  } catch (err) {
    warn(new SessionError('SESSION_STORE_CLOSE_FAILED', 'closing the store failed', { cause: err }));
  }
}
