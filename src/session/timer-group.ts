import type { Clock, TimerHandle } from '../util/clock.js';

interface Member {
  readonly fn: () => void;
  /** Next time it is due (clock ms). */
  next: number;
  cancelled: boolean;
}

interface Bucket {
  readonly members: Set<Member>;
  handle: TimerHandle;
}

/**
 * A {@link Clock} whose intervals of the same period share one underlying timer: a client's
 * 1,000 torrents each asking for a 1 s tick and a 10 s choking round cost two timers, not
 * 2,000 (a timer storm of as many wake-ups a second). `setTimeout`, `now` and `defer` pass
 * through to the clock underneath.
 *
 * An interval still never fires before its period has passed since it was set: it joins the
 * shared timer's grid, so its first call comes after one to two periods, then every period.
 * The shared timer stops when its last member is cancelled.
 */
export class TimerGroup implements Clock {
  readonly #clock: Clock;
  readonly #buckets = new Map<number, Bucket>();

  /** Wraps `clock` (its timers are the ones that run). */
  constructor(clock: Clock) {
    this.#clock = clock;
    if (clock.defer) this.defer = (fn) => clock.defer?.(fn);
  }

  /** Underlying timers running (one per distinct interval period in use). */
  get timers(): number {
    return this.#buckets.size;
  }

  /** The underlying clock's `defer`, when it has one. */
  defer?: (fn: () => void) => void;

  now(): number {
    return this.#clock.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#clock.setTimeout(fn, ms);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const period = Math.max(1, ms);
    let bucket = this.#buckets.get(period);
    if (!bucket) {
      const members = new Set<Member>();
      const b: Bucket = { members, handle: this.#clock.setInterval(() => this.#fire(b, period), period) };
      this.#buckets.set(period, b);
      bucket = b;
    }
    const m: Member = { fn, next: this.#clock.now() + period, cancelled: false };
    bucket.members.add(m);
    const owner = bucket;
    return {
      cancel: () => {
        if (m.cancelled) return;
        m.cancelled = true;
        owner.members.delete(m);
        if (owner.members.size === 0 && this.#buckets.get(period) === owner) {
          owner.handle.cancel();
          this.#buckets.delete(period);
        }
      },
    };
  }

  #fire(bucket: Bucket, period: number): void {
    // A timer may fire a little early or late: 1 ms (or 1 %) of slack on the due time.
    const now = this.#clock.now() + Math.max(1, period / 100);
    for (const m of [...bucket.members]) {
      if (m.cancelled || m.next > now) continue;
      m.next += period;
      if (m.next <= now) m.next = now;
      try {
        m.fn();
      } catch (err) {
        // Uncaught, as from a timer of its own, without skipping the other members.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/**
 * A client-wide budget of first tracker announces: at most `perSecond` torrents start
 * announcing in any second, so many torrents added at once spread their announces over time.
 */
export class AnnounceGate {
  readonly #clock: Clock;
  readonly #perSecond: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;

  /** `perSecond` ≤ 0: no limit. */
  constructor(clock: Clock, perSecond: number) {
    this.#clock = clock;
    this.#perSecond = perSecond > 0 ? perSecond : Number.POSITIVE_INFINITY;
  }

  /** Takes one announce start if this second's budget allows it. */
  take(): boolean {
    const now = this.#clock.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used >= this.#perSecond) return false;
    this.#used++;
    return true;
  }
}
