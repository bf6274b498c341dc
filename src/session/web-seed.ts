import type { InfoDictionary } from '../metainfo/torrent.js';
import type { PickedBlock } from '../picker/picker.js';
import type { BttkitError } from '../util/errors.js';
import type { Downloader } from './downloader.js';
import { SessionError } from './errors.js';
import { RateMeter } from './rate.js';
import type { TorrentCore, TorrentFeature, TorrentFeatureFactory } from './torrent-types.js';
import {
  createWebSeedAgents,
  fetchRange,
  type WebSeedAgentOptions,
  type WebSeedAgents,
} from './web-seed-http.js';
import { checkWebSeedUrl, fileSpans, webSeedFileUrl } from './web-seed-url.js';

/**
 * Where a web seed is: `active` (used: the picker gives it pieces), `backoff` (failed; retried
 * after `retryInMs`), `failed` (a 404/410 or `webSeedMaxFailures` failures in a row: left alone
 * for an hour), `dropped` (sent data that failed the hash check: never used again).
 */
export type WebSeedState = 'active' | 'backoff' | 'failed' | 'dropped';

/** What a torrent shows of one web seed (`torrent.webSeeds`). */
export interface WebSeedInfo {
  /** The URL as given (normalised). */
  readonly url: string;
  readonly state: WebSeedState;
  /** Payload bytes received from it (duplicates and failed pieces included). */
  readonly downloaded: number;
  /** Bytes/s received from it now. */
  readonly downloadRate: number;
  /** Range requests in flight. */
  readonly requests: number;
  /** Failures in a row (0 after a success). */
  readonly failures: number;
  /** Until it is tried again (`backoff`, `failed`), ms. */
  readonly retryInMs: number | undefined;
  /** The last error, if any. */
  readonly error: BttkitError | undefined;
}

/** A seed taken out (404/410, too many failures) is tried again after this long, ms. */
const FAILED_REST_MS = 3_600_000;
/** Longest backoff between retries, ms. */
const MAX_BACKOFF_MS = 300_000;
/** Most bytes of blocks one job (a run of range requests) asks for. */
const MAX_JOB_BYTES = 16 * 1024 * 1024;
/** Mixed failures (with other senders) after which a web seed is dropped. */
const MAX_MIXED_FAILURES = 2;
/** Zeros for padding spans (BEP 47). */
const ZEROS = new Uint8Array(64 * 1024);

interface Seed {
  readonly url: string;
  /** Its key in the picker and in `verified`'s sources: `web:<url>`. */
  readonly id: string;
  state: WebSeedState;
  failures: number;
  mixed: number;
  retryAt: number;
  error: BttkitError | undefined;
  readonly down: RateMeter;
  readonly jobs: Set<AbortController>;
  /** Known to the picker (as a peer with every piece). */
  attached: boolean;
}

/** A run of blocks contiguous in the torrent's byte stream: one range (per file) to fetch. */
interface Run {
  readonly start: number;
  readonly length: number;
  readonly blocks: readonly PickedBlock[];
}

/** Blocks grouped into runs contiguous in the byte stream, in order. */
export function blockRuns(blocks: readonly PickedBlock[], pieceLength: number): Run[] {
  const at = (b: PickedBlock) => b.piece * pieceLength + b.offset;
  const sorted = [...blocks].sort((a, b) => at(a) - at(b));
  const runs: { start: number; length: number; blocks: PickedBlock[] }[] = [];
  for (const b of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.start + last.length === at(b)) {
      last.blocks.push(b);
      last.length += b.length;
    } else runs.push({ start: at(b), length: b.length, blocks: [b] });
  }
  return runs;
}

/**
 * The web seeds of one torrent (BEP 19, GetRight style): HTTP(S) servers holding its files,
 * used like peers that have every piece. The picker gives each active seed pieces (shared with
 * the peers: no block is asked twice outside endgame); each run of blocks becomes one range
 * request per file it crosses (padding files are not requested); the bytes take the peers' path
 * (picker, store, hash check, `verified` naming `web:<url>`). A seed whose data fails the hash
 * check is dropped; one that fails otherwise is retried with exponential backoff (`Retry-After`
 * honoured) and, after a 404/410 or `webSeedMaxFailures` failures in a row, left alone for an hour.
 */
export class WebSeeds implements TorrentFeature {
  readonly #core: TorrentCore;
  readonly #seeds = new Map<string, Seed>();
  readonly #agentOptions: WebSeedAgentOptions;
  #agents: WebSeedAgents | undefined;
  #closed = false;

  constructor(core: TorrentCore, agentOptions: WebSeedAgentOptions = {}) {
    this.#core = core;
    this.#agentOptions = agentOptions;
  }

  /**
   * Adds a web seed. Returns false when it is already there.
   * @throws {SessionError} `SESSION_BAD_WEB_SEED` for a URL that is not absolute http(s).
   */
  add(url: string): boolean {
    const href = checkWebSeedUrl(url);
    if (this.#seeds.has(href) || this.#closed) return false;
    const seed: Seed = {
      url: href,
      id: `web:${href}`,
      state: 'active',
      failures: 0,
      mixed: 0,
      retryAt: 0,
      error: undefined,
      down: new RateMeter(this.#core.clock, 5_000, 250),
      jobs: new Set(),
      attached: false,
    };
    this.#seeds.set(href, seed);
    this.#pump(seed);
    return true;
  }

  /** The web seeds and their state. */
  list(): WebSeedInfo[] {
    const now = this.#core.clock.now();
    return [...this.#seeds.values()].map((s) => ({
      url: s.url,
      state: s.state,
      downloaded: s.down.total,
      downloadRate: s.down.rate(),
      requests: s.jobs.size,
      failures: s.failures,
      retryInMs: s.state === 'backoff' || s.state === 'failed' ? Math.max(0, s.retryAt - now) : undefined,
      error: s.error,
    }));
  }

  ready(): void {
    for (const s of this.#seeds.values()) this.#pump(s);
  }

  tick(): void {
    const now = this.#core.clock.now();
    for (const s of this.#seeds.values()) {
      if ((s.state === 'backoff' || s.state === 'failed') && now >= s.retryAt) s.state = 'active';
      this.#pump(s);
    }
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#seeds.values()) for (const j of s.jobs) j.abort();
    this.#agents?.http.destroy();
    this.#agents?.https.destroy();
  }

  /** Starts range requests for `seed` up to `webSeedRequests` in flight. */
  #pump(seed: Seed): void {
    const core = this.#core;
    const d = core.downloader();
    if (!d || this.#closed || core.paused() || core.stopped() || seed.state !== 'active') return;
    if (!seed.attached) {
      seed.attached = true;
      d.picker.addPeer(seed.id);
      d.picker.peerHaveAll(seed.id);
      d.external.set(seed.id, (piece, sole) => this.#badPiece(seed, piece, sole));
    }
    const { settings } = core;
    const bs = settings.blockSize;
    while (seed.jobs.size < settings.webSeedRequests && !d.picker.done) {
      const gate = core.downloadGate?.limited ? core.downloadGate : undefined;
      let want = this.#jobBlocks(seed, d);
      if (gate) want = gate.grant(want, bs);
      const blocks = want > 0 ? d.picker.pick(seed.id, want) : [];
      if (gate) gate.refund(want * bs - blocks.reduce((n, b) => n + b.length, 0));
      if (blocks.length === 0) return;
      void this.#run(seed, d, blocks);
    }
  }

  /**
   * Blocks for one job: what the seed delivers in `requestQueueSeconds` at its rate (as a peer's
   * pipeline is sized), shared by its jobs; at least a piece, at most 16 MiB; one piece in
   * endgame (an HTTP request cannot be cancelled block by block).
   */
  #jobBlocks(seed: Seed, d: Downloader): number {
    const s = this.#core.settings;
    const piece = d.picker.blocksPerPiece;
    if (d.picker.endgame) return piece;
    const bytes = (seed.down.rate() * s.requestQueueSeconds) / Math.max(1, s.webSeedRequests);
    return Math.max(piece, Math.ceil(Math.min(bytes, MAX_JOB_BYTES) / s.blockSize));
  }

  /** Fetches `blocks` (runs in order, each range by range); gives back what did not come. */
  async #run(seed: Seed, d: Downloader, blocks: readonly PickedBlock[]): Promise<void> {
    const job = new AbortController();
    seed.jobs.add(job);
    const delivered = new Set<PickedBlock>();
    const key = (b: PickedBlock) => b.piece * d.info.pieceLength + b.offset;
    let pending = blocks;
    try {
      while (!job.signal.aborted && !this.#core.paused() && !this.#core.stopped()) {
        // Blocks another source delivered meanwhile (endgame) are not fetched.
        const ours = new Set(d.picker.requestsOf(seed.id).map(key));
        pending = pending.filter((b) => ours.has(key(b)));
        const run = blockRuns(pending, d.info.pieceLength)[0];
        if (!run) break;
        await this.#fetchRun(seed, d, run, job, (b) => delivered.add(b));
        const fetched = new Set(run.blocks);
        pending = pending.filter((b) => !fetched.has(b));
      }
      if (!job.signal.aborted) {
        seed.failures = 0;
        seed.error = undefined;
      }
    } catch (err) {
      if (!job.signal.aborted && !this.#closed && seed.state === 'active') this.#failed(seed, err);
    } finally {
      seed.jobs.delete(job);
      if (seed.attached && !d.store.closed)
        for (const b of blocks) if (!delivered.has(b)) d.picker.requestFailed(seed.id, b.piece, b.offset);
    }
    this.#pump(seed);
  }

  /** One run: a range request per file it crosses (zeros for padding), cut into blocks. */
  async #fetchRun(
    seed: Seed,
    d: Downloader,
    run: Run,
    job: AbortController,
    done: (b: PickedBlock) => void,
  ): Promise<void> {
    const info: InfoDictionary = d.info;
    const { signal } = job;
    const core = this.#core;
    let k = 0;
    let buf = new Uint8Array((run.blocks[0] as PickedBlock).length);
    let filled = 0;
    const feed = (chunk: Uint8Array) => {
      // Paused or destroyed meanwhile: no more bytes (the blocks not delivered go back).
      if (core.paused() || core.stopped()) job.abort();
      let pos = 0;
      while (pos < chunk.length && k < run.blocks.length) {
        const n = Math.min(chunk.length - pos, buf.length - filled);
        buf.set(chunk.subarray(pos, pos + n), filled);
        filled += n;
        pos += n;
        if (filled === buf.length) {
          const b = run.blocks[k] as PickedBlock;
          seed.down.add(buf.length);
          if (!signal.aborted) {
            done(b);
            d.deliver(seed.id, b.piece, b.offset, buf);
          }
          k++;
          filled = 0;
          if (k < run.blocks.length) buf = new Uint8Array((run.blocks[k] as PickedBlock).length);
        }
      }
    };
    this.#agents ??= createWebSeedAgents(this.#agentOptions);
    const agents = this.#agents;
    for (const span of fileSpans(info.files, run.start, run.length)) {
      if (span.padding) {
        for (let left = span.length; left > 0; left -= ZEROS.length)
          feed(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
        continue;
      }
      const file = info.files[span.file];
      if (!file) continue;
      await fetchRange({
        url: webSeedFileUrl(seed.url, info, file),
        start: span.offset,
        length: span.length,
        fileLength: file.length,
        agents,
        timeoutMs: core.settings.webSeedTimeoutMs,
        clock: core.clock,
        signal,
        onData: feed,
      });
    }
  }

  /** A request failed: backoff (`Retry-After` honoured), or an hour off after a 404/410 or too many. */
  #failed(seed: Seed, err: unknown): void {
    const e =
      err instanceof SessionError
        ? err
        : new SessionError('SESSION_WEB_SEED_FAILED', 'web seed request failed', { cause: err });
    const s = this.#core.settings;
    seed.failures++;
    seed.error = e;
    const status = e.details.status;
    let wait = Math.min(MAX_BACKOFF_MS, s.webSeedRetryMs * 2 ** (seed.failures - 1));
    const retryAfter = e.details.retryAfterMs;
    if (typeof retryAfter === 'number') wait = Math.max(wait, retryAfter);
    const gone = status === 404 || status === 410 || seed.failures >= s.webSeedMaxFailures;
    this.#takeOut(seed, gone ? 'failed' : 'backoff', gone ? FAILED_REST_MS : wait);
    this.#core.warn(e);
  }

  /** A piece `seed` sent (all of it: `sole`) failed its hash check. */
  #badPiece(seed: Seed, piece: number, sole: boolean): void {
    if (seed.state === 'dropped' || (!sole && ++seed.mixed < MAX_MIXED_FAILURES)) return;
    seed.error = new SessionError('SESSION_WEB_SEED_DROPPED', `web seed ${seed.url} sent bad data: dropped`, {
      details: { url: seed.url.slice(0, 300), piece },
    });
    this.#takeOut(seed, 'dropped', Number.POSITIVE_INFINITY);
    this.#core.warn(seed.error);
  }

  /** Out of use: its requests are cancelled and go back to the picker. */
  #takeOut(seed: Seed, state: WebSeedState, ms: number): void {
    seed.state = state;
    seed.retryAt = this.#core.clock.now() + ms;
    for (const j of seed.jobs) j.abort();
    if (seed.attached) {
      seed.attached = false;
      this.#core.downloader()?.picker.removePeer(seed.id);
    }
  }
}

/** Options of {@link webSeedFeature}. */
export type WebSeedOptions = WebSeedAgentOptions;

/** The client feature that gives every torrent its {@link WebSeeds}. */
export function webSeedFeature(options: WebSeedOptions = {}): TorrentFeatureFactory {
  return (core) => new WebSeeds(core, options);
}

/** A torrent's {@link WebSeeds} among its features, if the client has them on. */
export function webSeedsOf(features: readonly TorrentFeature[]): WebSeeds | undefined {
  for (const f of features) if (f instanceof WebSeeds) return f;
  return undefined;
}
