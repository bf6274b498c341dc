import type { Torrent } from 'webtorrent';
import type { WireSpeed, WireSpeedTorrent } from '../../src/speed/index.js'; // your project: 'bttkit/speed'

/**
 * BitTorrent Speed on one WebTorrent torrent: the `btt_speed` adapter on every wire, payment per
 * verified piece (as a requester), grants and vouchers (as a provider). Call it right after
 * `client.add(…)`, before any peer connects.
 */
export function addSpeed(torrent: Torrent, speed: WireSpeed, rechokeIntervalMs = 1000): WireSpeedTorrent {
  const t = speed.torrent({
    remainingBytes: () => (torrent.ready ? torrent.length - torrent.downloaded : undefined),
    // A payer's credit window holds at least two pieces (it pays only for verified ones).
    pieceLength: () => (torrent.ready ? torrent.pieceLength : undefined),
    rechokeIntervalMs,
  });
  torrent.on('wire', (wire) => wire.use(t.Extension));
  torrent.on('verified', (index) => t.verified(index));
  torrent.on('warning', (err) => {
    const failed = /^Piece (\d+) failed verification/.exec(err instanceof Error ? err.message : err);
    if (failed) t.failed(Number(failed[1]));
  });
  torrent.on('done', () => t.done());
  torrent.on('close', () => t.close());
  return t;
}
