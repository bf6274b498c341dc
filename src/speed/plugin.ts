import type { TorrentPlugin } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import { bttSpeed } from '../wire/btt-speed.js';
import { SpeedCore, type SpeedOptions } from './core.js';

export type {
  SpeedCommonOptions,
  SpeedEvents,
  SpeedLedgerOptions,
  SpeedOptions,
  SpeedRailOptions,
} from './core.js';
export { SPEED_ERROR_CODES, SpeedError, type SpeedErrorCode } from './errors.js';

/**
 * BitTorrent Speed for a {@link Client}: `new Client({ plugins: [plugin] })` with
 * `const plugin = speed({ wallet, ledger, ledgerId, budget, reservePrice })` (the ledger's
 * channels) or `speed({ rail, budget, reservePrice })` (any {@link PaymentRail}).
 *
 * As a **requester** it opens one payment channel per provider, bids by its strategy, and after
 * every verified piece pays each provider that sent bytes of it — `bytes × granted price / MiB`,
 * as a cumulative voucher. Never for a piece that failed its hash check.
 *
 * As a **provider** it replaces the torrent's choker with a {@link SpeedChoker}: bids are checked
 * against the ledger (channel open, payer and payee right), paid slots are auctioned every round
 * and winners get a `grant` (clearing price, credit window); a winner whose payments lag more
 * than the credit window loses its bid standing; vouchers are verified (only the newest), acked,
 * and redeemed periodically and when the peer leaves. Peers without `btt_speed` are plain peers.
 *
 * The rules live in {@link SpeedCore}, shared with the `bittorrent-protocol` adapter
 * ({@link WireSpeed}); this class only connects them to a bttkit `Torrent`.
 */
export class SpeedPlugin extends SpeedCore implements TorrentPlugin {
  readonly name = 'btt_speed';

  attach(torrent: Torrent): void {
    const swarm = this.openSwarm({
      remainingBytes: () => {
        if (!torrent.info) return undefined;
        const stats = torrent.stats();
        return BigInt(Math.max(0, (stats.length ?? 0) - stats.verified));
      },
      downloadRates: () => new Map(torrent.peers().map((p) => [p.id, p.downloadRate])),
      pieceLength: () => torrent.info?.pieceLength,
      rechoke: () => torrent.rechoke(),
    });
    torrent.setChoker(swarm.choker);
    torrent.on('wire', (wire, { id }) =>
      swarm.addPeer(id, wire.use(bttSpeed({ handshake: this.handshake }))),
    );
    torrent.on('uploaded', (peer, bytes) => swarm.uploaded(peer, bytes));
    torrent.on('verified', (_index, sources) => swarm.verified(sources));
    torrent.on('peer-closed', (id) => swarm.peerClosed(id));
    torrent.once('close', () => swarm.close());
    torrent.on('done', () => swarm.done());
  }
}

/** The BitTorrent Speed plug-in for `new Client({ plugins: [speed(options)] })`. */
export function speed(options: SpeedOptions): SpeedPlugin {
  return new SpeedPlugin(options);
}
