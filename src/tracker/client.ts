import { randomBytes } from 'node:crypto';
import type { PeerAddress } from '../metainfo/magnet.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { IsolatedEmitter } from '../util/emitter.js';
import { AbortError, isBttkitError } from '../util/errors.js';
import { announce, scrape, trackerProtocol } from './announce.js';
import { TrackerError } from './errors.js';
import { type RandomSource, TrackerTiers } from './tiers.js';
import type {
  AnnounceEvent,
  AnnounceRequest,
  AnnounceResponse,
  HttpTrackerOptions,
  ScrapeResponse,
  ScrapeStats,
  TrackerRequestOptions,
  UdpTrackerOptions,
} from './types.js';
import { UdpConnectionCache } from './udp.js';

/** Transfer totals of the torrent, read at every announce. Must not throw. */
export interface TrackerStats {
  uploaded: number | bigint;
  downloaded: number | bigint;
  /** Bytes still missing (0 for a seed). */
  left: number | bigint;
}

/** How the client reaches one tracker; the default speaks HTTP(S) and UDP ({@link announce}). */
export interface Announcer {
  announce(url: string, req: AnnounceRequest, options: TrackerRequestOptions): Promise<AnnounceResponse>;
  scrape(
    url: string,
    infoHashes: readonly Uint8Array[],
    options: TrackerRequestOptions,
  ): Promise<ScrapeResponse>;
}

/** The default {@link Announcer}: HTTP(S) and UDP over the network. */
export const networkAnnouncer: Announcer = { announce, scrape };

/** Construction options of {@link TrackerClient}. */
export interface TrackerClientOptions {
  /** The 20-byte v1 info-hash. */
  infoHash: Uint8Array;
  /** Our 20-byte peer id. */
  peerId: Uint8Array;
  /** The TCP port we accept peers on. */
  port: number;
  /** Tiers of tracker URLs (BEP 12), e.g. `Metainfo.announce` or `[[...magnet.trackers]]`. */
  announce: readonly (readonly string[])[];
  /** Read at every announce. */
  stats: () => TrackerStats;
  /** Timer source. Default the real clock. */
  clock?: Clock;
  /** Shuffles the tiers. Default `Math.random`. */
  random?: RandomSource;
  /** The 32-bit `key` sent to every tracker. Default random. */
  key?: number;
  /** Peers asked for per announce. Default 50. */
  numwant?: number;
  /** Deadline of one request to one tracker, ms. Default 30,000. */
  timeoutMs?: number;
  /** Deadline of the `stopped` announces in {@link TrackerClient.stop}, ms. Default 5,000. */
  stopTimeoutMs?: number;
  /** Shortest re-announce interval whatever the tracker says, ms. Default 30,000. */
  minIntervalMs?: number;
  /** Longest re-announce interval whatever the tracker says, ms. Default 2 hours. */
  maxIntervalMs?: number;
  /** First retry delay when no tracker answered, ms; doubles per failed round. Default 30,000. */
  retryBaseMs?: number;
  /** Cap of the retry delay, ms. Default 30 minutes. */
  retryMaxMs?: number;
  /** Most peers kept from one answer. Default 2,000. */
  maxPeers?: number;
  http?: HttpTrackerOptions;
  udp?: UdpTrackerOptions;
  /** How trackers are reached. Default {@link networkAnnouncer}. */
  announcer?: Announcer;
}

/** Where a tracker's answer or failure came from. */
export interface TrackerSource {
  url: string;
  /** Index of its tier (0 = first). */
  tier: number;
}

/** A successful announce. */
export interface AnnounceInfo extends TrackerSource {
  /** The event sent, if any. */
  event?: AnnounceEvent;
  response: AnnounceResponse;
}

/**
 * Something went wrong but the client goes on: a tracker failed (the next one is tried), sent a
 * `warning message` (`TRACKER_WARNING`), or every tracker failed (`TRACKER_ALL_FAILED`, no url).
 */
export interface TrackerWarning {
  error: TrackerError;
  url?: string;
  tier?: number;
}

/** A scrape result of this torrent. */
export interface ScrapeInfo extends TrackerSource, ScrapeStats {}

/** Events of {@link TrackerClient}. */
export type TrackerClientEvents = {
  /** Peers from one answer (never empty, no duplicates within it, no port 0). */
  peers: [peers: PeerAddress[], source: TrackerSource];
  /** A tracker answered an announce. */
  announce: [info: AnnounceInfo];
  warning: [warning: TrackerWarning];
};

function asTrackerError(err: unknown): TrackerError {
  if (err instanceof TrackerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TrackerError('TRACKER_NETWORK', message, { cause: err });
}

/** `p`, or an `AbortError` as soon as `signal` aborts (`p` itself goes on). */
function waitFor(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(new AbortError(undefined, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Announces one torrent to its trackers (BEP 3, 12, 15, 23, 48): walks the tiers in BEP 12 order
 * until one tracker answers, promotes it, emits its peers, and re-announces on its interval through
 * the injected clock. A tracker that fails is reported as a `warning` and the next one is tried;
 * when all fail, the round is retried with a doubling delay.
 *
 * @example
 * ```ts
 * const tc = new TrackerClient({ infoHash, peerId, port, announce: meta.announce,
 *   stats: () => ({ uploaded, downloaded, left }) });
 * tc.on('peers', (peers) => connectTo(peers));
 * tc.on('warning', ({ error, url }) => log(error.code, url));
 * tc.start();          // 'started'
 * tc.complete();       // 'completed' when the download finishes
 * await tc.stop();     // 'stopped' to every tracker that saw us
 * ```
 */
export class TrackerClient extends IsolatedEmitter<TrackerClientEvents> {
  readonly #o: TrackerClientOptions;
  readonly #clock: Clock;
  readonly #tiers: TrackerTiers;
  readonly #rejected: string[] = [];
  readonly #key: number;
  readonly #udp: UdpTrackerOptions;
  readonly #announcer: Announcer;
  /** Trackers that accepted our `started` (they get `stopped`). */
  readonly #started = new Set<string>();
  readonly #trackerIds = new Map<string, Uint8Array>();
  #running = false;
  #destroyed = false;
  #completed = false;
  #completedPending = false;
  #timer: TimerHandle | undefined;
  #inflight: AbortController | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failures = 0;
  #lastAnnounceAt: number | undefined;
  #trackerMinIntervalMs = 0;
  #nextAt: number | undefined;

  constructor(options: TrackerClientOptions) {
    super();
    if (options.infoHash.length !== 20)
      throw new TrackerError('TRACKER_BAD_INFOHASH', 'info-hash must be 20 bytes');
    if (options.peerId.length !== 20)
      throw new TrackerError('TRACKER_BAD_PEER_ID', 'peer id must be 20 bytes');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new TrackerError('TRACKER_BAD_PORT', 'port must be an integer in 1..65535');
    }
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    const usable = options.announce.map((tier) =>
      tier.filter((url) => {
        if (trackerProtocol(url) !== undefined) return true;
        this.#rejected.push(url);
        return false;
      }),
    );
    this.#tiers = new TrackerTiers(usable, options.random ?? Math.random);
    this.#key = options.key ?? randomBytes(4).readUInt32BE(0);
    this.#udp = { ...options.udp, connections: options.udp?.connections ?? new UdpConnectionCache() };
    this.#announcer = options.announcer ?? networkAnnouncer;
  }

  /** The tiers in their current order (shuffled, answered trackers first). */
  get tiers(): string[][] {
    return this.#tiers.tiers;
  }

  /** True between {@link start} and {@link stop}/{@link destroy}. */
  get running(): boolean {
    return this.#running;
  }

  /** Clock time of the next scheduled announce, if one is scheduled. */
  get nextAnnounceAt(): number | undefined {
    return this.#nextAt;
  }

  /**
   * Starts announcing: `started` now (to the first tracker that answers), then on the interval.
   * Unsupported URLs (e.g. `wss:`) are reported once as `TRACKER_BAD_URL` warnings.
   */
  start(): void {
    if (this.#running || this.#destroyed) return;
    this.#running = true;
    for (const url of this.#rejected.splice(0)) {
      this.#warn(new TrackerError('TRACKER_BAD_URL', `unsupported tracker URL`, { details: { url } }), url);
    }
    void this.#enqueue();
  }

  /**
   * Announces `completed` now (once per client); call it when the download finishes. Resolves when
   * that round is over; `signal` only stops the waiting (rejecting with `AbortError`), not the round.
   */
  complete(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#completed || this.#destroyed) return waitFor(this.#chain, options.signal);
    this.#completed = true;
    this.#completedPending = true;
    return waitFor(this.#running ? this.#enqueue() : this.#chain, options.signal);
  }

  /**
   * Re-announces now (e.g. when more peers are wanted) — or, when the tracker's `min interval`
   * has not passed since the last answer, schedules it for then. Resolves when that round is over
   * (at once when it was only scheduled); `signal` only stops the waiting, not the round.
   */
  announce(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.#running) return waitFor(this.#chain, options.signal);
    const earliest =
      this.#lastAnnounceAt === undefined ? 0 : this.#lastAnnounceAt + this.#trackerMinIntervalMs;
    const now = this.#clock.now();
    if (now < earliest) {
      if (this.#nextAt === undefined || this.#nextAt > earliest) this.#schedule(earliest - now);
      return Promise.resolve();
    }
    return waitFor(this.#enqueue(), options.signal);
  }

  /**
   * Stops: cancels the schedule and any announce in flight, then sends `stopped` to every tracker
   * that accepted our `started`, in parallel, each bounded by `stopTimeoutMs` and `signal`.
   * Failures are warnings; it never rejects.
   */
  async stop(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.#running) return;
    this.#halt();
    await this.#chain;
    const urls = [...this.#started];
    this.#started.clear();
    const req = this.#request('stopped', 0);
    await Promise.all(
      urls.map(async (url) => {
        try {
          await this.#announcer.announce(url, this.#withTrackerId(req, url), {
            ...this.#requestOptions(options.signal),
            timeoutMs: this.#o.stopTimeoutMs ?? 5000,
          });
        } catch (err) {
          if (!options.signal?.aborted) this.#warn(asTrackerError(err), url);
        }
      }),
    );
  }

  /** Stops at once, without telling the trackers. Idempotent. */
  destroy(): void {
    this.#destroyed = true;
    this.#halt();
  }

  /**
   * Scrapes this torrent's statistics from the first tracker, in tier order, that answers.
   * Failures are `warning`s.
   *
   * @throws {TrackerError} `TRACKER_ALL_FAILED` when none answered (the last error as `cause`).
   * @throws {AbortError} when `options.signal` aborts.
   */
  async scrape(options: { signal?: AbortSignal } = {}): Promise<ScrapeInfo> {
    let last: unknown;
    for (const { url, tier } of this.#tiers.entries()) {
      try {
        const r = await this.#announcer.scrape(url, [this.#o.infoHash], this.#requestOptions(options.signal));
        const stats = r.files.values().next();
        if (stats.done) {
          throw new TrackerError('TRACKER_BAD_RESPONSE', 'scrape answer does not mention the torrent');
        }
        return { url, tier, ...stats.value };
      } catch (err) {
        if (options.signal?.aborted || isBttkitError(err, 'ABORTED')) throw err;
        last = err;
        this.#warn(asTrackerError(err), url, tier);
      }
    }
    throw new TrackerError('TRACKER_ALL_FAILED', 'no tracker answered the scrape', { cause: last });
  }

  #halt(): void {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#nextAt = undefined;
    this.#inflight?.abort();
  }

  #enqueue(): Promise<void> {
    // A round only rejects when `stats()` throws, a caller's bug: report it as uncaught, and keep
    // the chain usable.
    this.#chain = this.#chain
      .then(() => this.#round())
      .catch((err: unknown) => {
        queueMicrotask(() => {
          throw err;
        });
      });
    return this.#chain;
  }

  #schedule(ms: number): void {
    this.#timer?.cancel();
    this.#nextAt = this.#clock.now() + ms;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#nextAt = undefined;
      void this.#enqueue();
    }, ms);
  }

  #requestOptions(signal: AbortSignal | undefined): TrackerRequestOptions {
    return {
      ...(signal === undefined ? {} : { signal }),
      clock: this.#clock,
      timeoutMs: this.#o.timeoutMs ?? 30_000,
      maxPeers: this.#o.maxPeers ?? 2000,
      ...(this.#o.http === undefined ? {} : { http: this.#o.http }),
      udp: this.#udp,
    };
  }

  #request(event: AnnounceEvent | undefined, numwant: number): AnnounceRequest {
    const s = this.#o.stats();
    return {
      infoHash: this.#o.infoHash,
      peerId: this.#o.peerId,
      port: this.#o.port,
      uploaded: s.uploaded,
      downloaded: s.downloaded,
      left: s.left,
      ...(event === undefined ? {} : { event }),
      numwant,
      key: this.#key,
    };
  }

  #withTrackerId(req: AnnounceRequest, url: string): AnnounceRequest {
    const id = this.#trackerIds.get(url);
    return id === undefined ? req : { ...req, trackerId: id };
  }

  /** One BEP 12 round: the first tracker, in tier order, that answers wins. */
  async #round(): Promise<void> {
    if (!this.#running) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#nextAt = undefined;
    const ctl = new AbortController();
    this.#inflight = ctl;
    try {
      for (const { url, tier } of this.#tiers.entries()) {
        if (!this.#running || ctl.signal.aborted) return;
        const event: AnnounceEvent | undefined = !this.#started.has(url)
          ? 'started'
          : this.#completedPending
            ? 'completed'
            : undefined;
        let response: AnnounceResponse;
        try {
          const req = this.#withTrackerId(this.#request(event, this.#o.numwant ?? 50), url);
          response = await this.#announcer.announce(url, req, this.#requestOptions(ctl.signal));
        } catch (err) {
          if (ctl.signal.aborted) return;
          this.#warn(asTrackerError(err), url, tier);
          continue;
        }
        if (!this.#running || ctl.signal.aborted) return;
        this.#answered(url, tier, event, response);
        return;
      }
      this.#failures++;
      if (this.#tiers.size > 0) {
        this.#warn(new TrackerError('TRACKER_ALL_FAILED', 'no tracker answered the announce'));
        const base = this.#o.retryBaseMs ?? 30_000;
        this.#schedule(
          Math.min(this.#o.retryMaxMs ?? 1_800_000, base * 2 ** Math.min(this.#failures - 1, 30)),
        );
      }
    } finally {
      if (this.#inflight === ctl) this.#inflight = undefined;
    }
  }

  #answered(url: string, tier: number, event: AnnounceEvent | undefined, response: AnnounceResponse): void {
    this.#tiers.promote(url);
    this.#started.add(url);
    if (event === 'completed' || event === 'started') this.#completedPending = false;
    if (response.trackerId !== undefined) this.#trackerIds.set(url, response.trackerId);
    this.#failures = 0;
    this.#lastAnnounceAt = this.#clock.now();
    this.#trackerMinIntervalMs = (response.minInterval ?? 0) * 1000;
    const floor = Math.max(this.#o.minIntervalMs ?? 30_000, this.#trackerMinIntervalMs);
    const interval = Math.min(this.#o.maxIntervalMs ?? 7_200_000, Math.max(floor, response.interval * 1000));
    this.#schedule(interval);
    if (response.warning !== undefined) {
      this.#warn(new TrackerError('TRACKER_WARNING', `tracker warning: ${response.warning}`), url, tier);
    }
    this.emit('announce', { url, tier, ...(event === undefined ? {} : { event }), response });
    if (response.peers.length > 0) this.emit('peers', response.peers, { url, tier });
  }

  #warn(error: TrackerError, url?: string, tier?: number): void {
    this.emit('warning', {
      error,
      ...(url === undefined ? {} : { url }),
      ...(tier === undefined ? {} : { tier }),
    });
  }
}
