import type { Dht } from '../dht/dht.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import { TrackerClient } from '../tracker/client.js';
import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import { SessionError } from './errors.js';

/** How often the DHT is asked for peers, and we announce to it, ms. */
const DHT_INTERVAL_MS = 15 * 60_000;
/** First retry of a DHT lookup that found nobody while we download, ms (doubles). */
const DHT_FIRST_RETRY_MS = 2_500;
/** After a failed DHT round, ms. */
const DHT_FAILED_RETRY_MS = 60_000;
/** Longest `destroy()` waits for trackers to take our `stopped` announce, ms. */
const TRACKER_STOP_WAIT_MS = 5000;

/** What {@link Discovery} needs from its torrent. */
export interface DiscoveryHost {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly peerId: Uint8Array;
  readonly clock: Clock;
  /** The 32-byte v2 info-hash, when known: a hybrid is announced under its truncated v2 hash too. */
  infoHashV2(): Uint8Array | undefined;
  /** Our listening port (undefined or 0 before the client listens). */
  listenPort(): number | undefined;
  /** The client's DHT, if any. */
  dht(): Dht | undefined;
  /** Whether the client's announce budget lets this torrent start announcing now (spread starts). */
  mayAnnounce(): boolean;
  /** Private torrents (BEP 27) use their trackers only. */
  isPrivate(): boolean;
  /** Paused or destroyed: no announces. */
  idle(): boolean;
  /** Every wanted piece is ours. */
  done(): boolean;
  peerCount(): number;
  /** Upload/download totals and bytes left, for announces. */
  totals(): { uploaded: number; downloaded: number; left: number };
  addPeer(addr: PeerAddress): void;
  warn(err: BttkitError): void;
}

/**
 * Finds peers for a torrent from its trackers (BEP 3/15, tiers of BEP 12) and the DHT (BEP 5),
 * and announces it to them — a hybrid (BEP 52) under both its v1 and its truncated v2 hash, as
 * libtorrent does, so that v1 and v2 clients find it. (Peer exchange, BEP 11, travels on the wires: see `PexGossip`;
 * manual peers go straight to the peer book.)
 */
export class Discovery {
  readonly #host: DiscoveryHost;
  readonly #tiers: readonly (readonly string[])[];
  /** One tracker client per hash announced (two for a hybrid). */
  #trackers: TrackerClient[] | undefined;
  #dhtBusy = false;
  #dhtNext = 0;
  #dhtRetryMs = DHT_FIRST_RETRY_MS;

  constructor(host: DiscoveryHost, tiers: readonly (readonly string[])[]) {
    this.#host = host;
    this.#tiers = tiers.filter((t) => t.length > 0);
  }

  /** Once a second: start the trackers once we listen, and a DHT round when one is due. */
  tick(): void {
    if (!this.#trackers) this.startTrackers();
    this.#dhtRound();
  }

  /** Starts announcing to the trackers once the client listens (a tracker needs our port). */
  startTrackers(): void {
    const host = this.#host;
    const port = host.listenPort();
    if (this.#trackers || this.#tiers.length === 0 || port === undefined || port === 0 || host.idle()) return;
    if (!host.mayAnnounce()) return; // the next tick tries again
    this.#trackers = this.#hashes().map((infoHash) => {
      const tc = new TrackerClient({
        infoHash,
        peerId: host.peerId,
        port,
        announce: this.#tiers,
        clock: host.clock,
        stats: () => host.totals(),
      });
      tc.on('peers', (peers) => {
        for (const p of peers) {
          if (p.port === port && (p.host === '127.0.0.1' || p.host === '0.0.0.0')) continue;
          host.addPeer(p);
        }
      });
      tc.on('warning', (w) =>
        host.warn(
          new SessionError('SESSION_TRACKER_WARNING', `${w.url}: ${w.error.message}`, { cause: w.error }),
        ),
      );
      tc.start();
      return tc;
    });
    if (host.done()) this.completed();
  }

  /** The swarm's hash, and a hybrid's truncated v2 hash after it. */
  #hashes(): Uint8Array[] {
    const h2 = this.#host.infoHashV2()?.subarray(0, 20);
    return h2 && toHex(h2) !== this.#host.infoHashHex ? [this.#host.infoHash, h2] : [this.#host.infoHash];
  }

  /** Tells the trackers the download completed. */
  completed(): void {
    for (const t of this.#trackers ?? []) t.complete().catch(() => {});
  }

  /** Sends `stopped` to every tracker that saw us (bounded in time) and stops. */
  async stop(): Promise<void> {
    const trackers = this.#trackers;
    if (!trackers) return;
    let timer: { cancel(): void } | undefined;
    await Promise.race([
      Promise.all(trackers.map((t) => t.stop())),
      new Promise((r) => {
        timer = this.#host.clock.setTimeout(() => r(undefined), TRACKER_STOP_WAIT_MS);
      }),
    ]);
    timer?.cancel();
    for (const t of trackers) t.destroy();
  }

  /** Asks the DHT for peers and announces our port, every 15 minutes (sooner while short). */
  #dhtRound(): void {
    const host = this.#host;
    const dht = host.dht();
    if (!dht || this.#dhtBusy || host.isPrivate() || host.idle()) return;
    const now = host.clock.now();
    if (now < this.#dhtNext) return;
    this.#dhtBusy = true;
    this.#dhtNext = now + DHT_INTERVAL_MS;
    const hashes = this.#hashes();
    const ours = new Set(hashes.map(toHex));
    const onPeer = (p: PeerAddress, ih: string) => {
      if (ours.has(ih)) host.addPeer(p);
    };
    dht.on('peer', onPeer);
    const port = host.listenPort();
    const work = async () => {
      try {
        for (const ih of hashes) {
          await dht.lookup(ih);
          if (port !== undefined) await dht.announce(ih, port);
        }
        // Short of peers while downloading: ask again soon (5 s, doubling), else every 15 min.
        if (!host.done() && host.peerCount() === 0) {
          this.#dhtRetryMs = Math.min(DHT_INTERVAL_MS, this.#dhtRetryMs * 2);
          this.#dhtNext = host.clock.now() + this.#dhtRetryMs;
        } else {
          this.#dhtRetryMs = DHT_FIRST_RETRY_MS;
        }
      } catch (err) {
        host.warn(new SessionError('SESSION_DHT_FAILED', 'DHT lookup or announce failed', { cause: err }));
        this.#dhtNext = host.clock.now() + DHT_FAILED_RETRY_MS;
      } finally {
        dht.off('peer', onPeer);
        this.#dhtBusy = false;
      }
    };
    void work();
  }
}
