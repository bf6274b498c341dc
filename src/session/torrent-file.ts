import { formatMagnet } from '../metainfo/magnet.js';
import { encodeTorrent, type InfoDictionary, type Metainfo } from '../metainfo/torrent.js';

/** `torrent.magnetURI`: `xt` (hex), `dn` when the name is known, a `tr` per tracker. */
export function magnetOf(
  infoHash: Uint8Array,
  name: string | undefined,
  trackers: readonly (readonly string[])[],
): string {
  return formatMagnet({ infoHash, ...(name !== undefined ? { name } : {}), trackers: trackers.flat() });
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
  return encodeTorrent(info.infoBytes, {
    announce: trackers,
    ...(m.urlList ? { urlList: m.urlList } : {}),
    ...(m.comment !== undefined ? { comment: m.comment } : {}),
    ...(m.createdBy !== undefined ? { createdBy: m.createdBy } : {}),
    ...(m.creationDate !== undefined ? { creationDate: m.creationDate } : {}),
  });
}
