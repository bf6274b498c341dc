import type { Clock, TimerHandle } from '../util/clock.js';
import { SessionError } from './errors.js';

/**
 * Checks a rate in bytes per second: a finite number ≥ 0 (0 = unlimited).
 * @throws {SessionError} `SESSION_BAD_RATE`
 */
export function checkRate(bytesPerSecond: number, what = 'rate'): number {
  if (typeof bytesPerSecond !== 'number' || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0)
    throw new SessionError(
      'SESSION_BAD_RATE',
      `${what} must be a finite number of bytes/s ≥ 0 (0 = unlimited)`,
      {
        details: { value: String(bytesPerSecond) },
      },
    );
  return bytesPerSecond;
}

/**
 * A rate given by an application: bytes/s ≥ 0, 0 = unlimited; -1 is taken as unlimited too
 * (WebTorrent's spelling of "no limit").
 * @throws {SessionError} `SESSION_BAD_RATE`
 */
export function appRate(bytesPerSecond: number, what: string): number {
  return bytesPerSecond === -1 ? 0 : checkRate(bytesPerSecond, what);
}

/**
 * A token bucket on the injected clock, changeable at run time: it fills at `bytesPerSecond` up
 * to `burst` bytes; `take(bytes)` books bytes (the bucket may go into debt) and returns how long
 * (ms) to wait before they may go out. A rate of 0 means unlimited: nothing waits.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter(4 * 1024 * 1024, realClock);
 * const wait = limiter.take(16384); // ms before these 16 KiB may go
 * limiter.setRate(1024 * 1024);     // takes effect at once
 * ```
 */
export class RateLimiter {
  readonly clock: Clock;
  #rate = 0;
  #burst = 0;
  readonly #fixedBurst: number | undefined;
  /** Bytes in the bucket at `#at` (negative: debt). */
  #tokens = 0;
  #at: number;
  readonly #listeners = new Set<() => void>();

  /**
   * @param bytesPerSecond the rate, bytes/s ≥ 0 (0 = unlimited)
   * @param burst bytes that may go at once after a quiet spell; default the larger of 64 KiB and
   *   a quarter second of the rate (recomputed when the rate changes)
   * @throws {SessionError} `SESSION_BAD_RATE` for a negative, non-finite or missing rate or burst
   */
  constructor(bytesPerSecond: number, clock: Clock, burst?: number) {
    this.clock = clock;
    if (burst !== undefined && !(checkRate(burst, 'burst') > 0))
      throw new SessionError('SESSION_BAD_RATE', 'burst must be a positive number of bytes');
    this.#fixedBurst = burst;
    this.#at = clock.now();
    this.#apply(checkRate(bytesPerSecond, 'bytesPerSecond'));
    this.#tokens = this.#burst;
  }

  /** The rate in bytes/s; 0 = unlimited. */
  get bytesPerSecond(): number {
    return this.#rate;
  }

  /** Bytes that may go at once after a quiet spell (0 when unlimited). */
  get burst(): number {
    return this.#burst;
  }

  /** False when unlimited. */
  get limited(): boolean {
    return this.#rate > 0;
  }

  /**
   * Changes the rate at once (0 = unlimited). Bytes booked at the old rate stay booked, but no
   * more than one second of the new rate is owed, so that a lower rate shows within a second.
   * @throws {SessionError} `SESSION_BAD_RATE`
   */
  setRate(bytesPerSecond: number): void {
    checkRate(bytesPerSecond, 'bytesPerSecond');
    if (bytesPerSecond === this.#rate) return;
    const wasLimited = this.limited;
    this.#refill();
    this.#apply(bytesPerSecond);
    if (!wasLimited) this.#tokens = this.#burst;
    else this.#tokens = Math.max(-this.#rate, Math.min(this.#burst, this.#tokens));
    for (const fn of [...this.#listeners]) fn();
  }

  /** Calls `fn` after each rate change; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Bytes in the bucket now (negative: debt); `Infinity` when unlimited. */
  available(): number {
    if (!this.limited) return Number.POSITIVE_INFINITY;
    this.#refill();
    return this.#tokens;
  }

  /** How long `bytes` would wait now, ms, without booking them. */
  wouldWait(bytes: number): number {
    if (!this.limited) return 0;
    this.#refill();
    return Math.max(0, ((bytes - this.#tokens) * 1000) / this.#rate);
  }

  /** Books `bytes`; returns how long to wait before they may go out, ms. */
  take(bytes: number): number {
    if (!this.limited) return 0;
    this.#refill();
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.#rate;
  }

  /** Gives back `bytes` booked and not used (up to a full bucket). */
  refund(bytes: number): void {
    if (!this.limited) return;
    this.#refill();
    this.#tokens = Math.min(this.#burst, this.#tokens + bytes);
  }

  #apply(rate: number): void {
    this.#rate = rate;
    this.#burst = rate > 0 ? (this.#fixedBurst ?? Math.max(65536, rate / 4)) : 0;
  }

  #refill(): void {
    const now = this.clock.now();
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
      this.#at = now;
    }
  }
}

/**
 * Several buckets passed in a row (a torrent's own and its client's): bytes go when every one
 * allows them and are booked in each. Limiters that are unlimited are simply passed.
 */
export class Throttle {
  readonly limiters: readonly RateLimiter[];

  constructor(limiters: readonly (RateLimiter | undefined)[]) {
    this.limiters = limiters.filter((l): l is RateLimiter => l !== undefined);
  }

  /** True when some bucket of the chain has a rate. */
  get limited(): boolean {
    return this.limiters.some((l) => l.limited);
  }

  /** The tightest rate of the chain, bytes/s; 0 when unlimited. */
  get bytesPerSecond(): number {
    let rate = 0;
    for (const l of this.limiters)
      if (l.limited && (rate === 0 || l.bytesPerSecond < rate)) rate = l.bytesPerSecond;
    return rate;
  }

  /** The smallest burst of the limited buckets; 0 when unlimited. */
  get burst(): number {
    let burst = 0;
    for (const l of this.limiters) if (l.limited && (burst === 0 || l.burst < burst)) burst = l.burst;
    return burst;
  }

  /** Bytes every bucket allows now (`Infinity` when unlimited; negative: debt). */
  available(): number {
    let a = Number.POSITIVE_INFINITY;
    for (const l of this.limiters) a = Math.min(a, l.available());
    return a;
  }

  wouldWait(bytes: number): number {
    let w = 0;
    for (const l of this.limiters) w = Math.max(w, l.wouldWait(bytes));
    return w;
  }

  take(bytes: number): number {
    let w = 0;
    for (const l of this.limiters) w = Math.max(w, l.take(bytes));
    return w;
  }

  refund(bytes: number): void {
    for (const l of this.limiters) l.refund(bytes);
  }

  /** Calls `fn` when any bucket's rate changes; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    const offs = this.limiters.map((l) => l.onChange(fn));
    return () => {
      for (const off of offs) off();
    };
  }
}

/** Seconds of the download limit that one peer may have requested and not yet delivered. */
const LIMITED_QUEUE_SECONDS = 0.5;
/** A refused gate wakes when this share of a second of the rate is in the bucket (batching). */
const WAKE_SECONDS = 0.05;

/**
 * The download limit at request time (the downloader's `fill`): requests for blocks go out only
 * as fast as the buckets allow, so the payload arrives at the limit; requests already sent are
 * always received. When the buckets refuse, one timer is armed to try again (`wake`); unlimited,
 * the gate costs nothing. A rate change wakes the downloader at once.
 */
export class DownloadGate {
  readonly throttle: Throttle;
  readonly #clock: Clock;
  readonly #wake: () => void;
  readonly #off: () => void;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(throttle: Throttle, clock: Clock, wake: () => void) {
    this.throttle = throttle;
    this.#clock = clock;
    this.#wake = wake;
    this.#off = throttle.onChange(() => {
      this.#timer?.cancel();
      this.#timer = undefined;
      if (!this.#stopped) this.#wake();
    });
  }

  get limited(): boolean {
    return this.throttle.limited;
  }

  /**
   * Most requests of `blockSize` one peer may have outstanding under the limit (half a second
   * of it, at least 2); `Infinity` when unlimited. Without this cap a peer slower than the
   * limit would hold its whole pipeline (64 × 16 KiB) and a lowered limit would show late.
   */
  queueCap(blockSize: number): number {
    const rate = this.throttle.bytesPerSecond;
    if (rate === 0) return Number.POSITIVE_INFINITY;
    return Math.max(2, Math.ceil((rate * LIMITED_QUEUE_SECONDS) / blockSize));
  }

  /**
   * Of `want` requests of `blockSize` bytes, how many may go now; books them (the last may
   * put the buckets slightly in debt). 0 arms a wake-up for when the buckets have refilled.
   */
  grant(want: number, blockSize: number): number {
    if (want <= 0) return 0;
    const throttle = this.throttle;
    if (!throttle.limited) return want;
    const available = throttle.available();
    if (available <= 0) {
      this.#arm(blockSize);
      return 0;
    }
    const n = Math.min(want, Math.ceil(available / blockSize));
    throttle.take(n * blockSize);
    return n;
  }

  /** Gives back bytes booked for requests that were not sent or not answered. */
  refund(bytes: number): void {
    if (bytes > 0) this.throttle.refund(bytes);
  }

  /** Cancels the wake-up and stops listening to rate changes. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#off();
  }

  #arm(blockSize: number): void {
    if (this.#timer || this.#stopped) return;
    const t = this.throttle;
    const batch = Math.min(t.burst, Math.max(blockSize, t.bytesPerSecond * WAKE_SECONDS));
    const wait = Math.max(1, t.wouldWait(batch));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#wake();
    }, wait);
  }
}

/** The limiter an upload queue draws on (a {@link Throttle}, or a test's fake). */
export interface PaceLimiter {
  /** Reserves `bytes`; returns how long to wait before sending them, ms. */
  take(bytes: number): number;
  /** How long `bytes` would wait if reserved now, ms. */
  wouldWait(bytes: number): number;
  /** False when no limit applies (optional: absent means limited). */
  readonly limited?: boolean;
  /** Called on each rate change (optional). */
  onChange?(fn: () => void): () => void;
}

interface Paced {
  readonly bytes: number;
  readonly send: () => void;
  readonly drop: () => void;
}

/**
 * Sends in order, each item when the limiter allows, with one timer for the head of the queue
 * (no timer per item). Bytes are booked when they go, so a rate change applies to everything
 * still queued at once. `push` refuses what would wait over `maxWaitMs` behind the queue.
 */
export class PacedQueue {
  readonly #limiter: PaceLimiter;
  readonly #clock: Clock;
  readonly #maxWaitMs: number;
  readonly #off: (() => void) | undefined;
  #queue: Paced[] = [];
  #head = 0;
  #queued = 0;
  #timer: TimerHandle | undefined;
  /** The timer armed for the head fired: it goes even if rounding says a hair too early. */
  #due = false;
  #stopped = false;

  constructor(limiter: PaceLimiter, clock: Clock, maxWaitMs: number) {
    this.#limiter = limiter;
    this.#clock = clock;
    this.#maxWaitMs = maxWaitMs;
    this.#off = limiter.onChange?.(() => {
      this.#timer?.cancel();
      this.#timer = undefined;
      this.#due = false;
      this.#drain();
    });
  }

  /** Items waiting. */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Bytes waiting. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /**
   * Queues `bytes`: `send` runs when they may go. Returns false (and runs nothing) when they
   * would wait over `maxWaitMs`. `drop` runs instead of `send` if the queue is stopped first.
   */
  push(bytes: number, send: () => void, drop: () => void): boolean {
    if (this.#stopped) {
      drop();
      return true;
    }
    const limiter = this.#limiter;
    if (this.length === 0 && limiter.limited === false) {
      send();
      return true;
    }
    if (limiter.wouldWait(this.#queued + bytes) > this.#maxWaitMs) return false;
    this.#queue.push({ bytes, send, drop });
    this.#queued += bytes;
    if (!this.#timer) this.#drain();
    return true;
  }

  /** Drops everything queued (each item's `drop` runs) and stops. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#off?.();
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queued = 0;
    for (const item of rest) item.drop();
  }

  #drain(): void {
    const limiter = this.#limiter;
    while (!this.#stopped && this.#head < this.#queue.length) {
      const item = this.#queue[this.#head] as Paced;
      if (limiter.limited !== false) {
        const wait = limiter.wouldWait(item.bytes);
        if (wait > 0 && !this.#due) {
          this.#timer = this.#clock.setTimeout(() => {
            this.#timer = undefined;
            this.#due = true;
            this.#drain();
          }, wait);
          return;
        }
        limiter.take(item.bytes);
      }
      this.#due = false;
      this.#head++;
      this.#queued -= item.bytes;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      item.send();
    }
  }
}

/**
 * A torrent's rate control: its own download and upload buckets (unlimited until set), each
 * chained with its client's; the download gate for the downloader and the upload chain for the
 * uploader.
 */
export class TorrentThrottle {
  readonly download: RateLimiter;
  readonly upload: RateLimiter;
  /** Torrent then client upload bucket (the uploader's limiter). */
  readonly uploadChain: Throttle;
  readonly gate: DownloadGate;

  /** `wake`: tops up the torrent's request pipelines (after a refusal, or a rate change). */
  constructor(
    client: {
      readonly clock: Clock;
      readonly uploadLimiter?: RateLimiter | undefined;
      readonly downloadLimiter?: RateLimiter | undefined;
    },
    wake: () => void,
  ) {
    this.download = new RateLimiter(0, client.clock);
    this.upload = new RateLimiter(0, client.clock);
    this.uploadChain = new Throttle([this.upload, client.uploadLimiter]);
    this.gate = new DownloadGate(new Throttle([this.download, client.downloadLimiter]), client.clock, wake);
  }

  /** Stops the gate's timer and the subscriptions to the client's buckets. */
  stop(): void {
    this.gate.stop();
  }
}
