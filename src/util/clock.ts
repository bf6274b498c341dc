import { ArgumentError } from './errors.js';

/** An opaque timer handle returned by a {@link Clock}. */
export interface TimerHandle {
  /** Cancels the timer; calling it twice is harmless. */
  cancel(): void;
}

/**
 * Every timer in bttkit goes through a `Clock`, so the same code runs on wall time and on the
 * swarm lab's virtual time. Times are milliseconds.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; never goes backwards. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /**
   * Runs `fn` soon, at the current time, after the work already queued (used to batch writes).
   * Optional: without it, callers use `setImmediate`. A virtual clock provides it so that the
   * deferred work happens at the same virtual instant and in a deterministic order.
   */
  defer?(fn: () => void): void;
}

/** The wall clock: `performance.now()` and Node's timers. Timers do not keep the process alive. */
export class RealClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, Math.max(1, ms));
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  }

  defer(fn: () => void): void {
    setImmediate(fn);
  }
}

/** The shared wall clock. */
export const realClock: Clock = new RealClock();

interface ManualTimer {
  id: number;
  at: number;
  every: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to: for tests and simulations. Timers fire in time order
 * (ties in creation order) during {@link ManualClock.advance}.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.setTimeout(() => console.log('fired'), 1000);
 * clock.advance(999); // nothing
 * clock.advance(1);   // "fired"
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, Math.max(0, ms), 0);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const every = Math.max(1, ms);
    return this.#add(fn, every, every);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** The time of the next pending timer, or `undefined`. */
  nextAt(): number | undefined {
    let best: number | undefined;
    for (const t of this.#timers) if (!t.cancelled && (best === undefined || t.at < best)) best = t.at;
    return best;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order. A negative `ms`
   * throws {@link ArgumentError} `UTIL_OUT_OF_RANGE`.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new ArgumentError('UTIL_OUT_OF_RANGE', 'ManualClock.advance: ms must be >= 0');
    const target = this.#now + ms;
    for (;;) {
      const next = this.#popDue(target);
      if (!next) break;
      this.#now = next.at;
      if (next.every > 0) {
        next.at += next.every;
        this.#timers.push(next);
      }
      next.fn();
    }
    this.#now = target;
  }

  /** Advances straight to the next timer and fires it; returns false if none is pending. */
  runNext(): boolean {
    const at = this.nextAt();
    if (at === undefined) return false;
    this.advance(at - this.#now);
    return true;
  }

  #add(fn: () => void, delay: number, every: number): TimerHandle {
    const timer: ManualTimer = { id: this.#seq++, at: this.#now + delay, every, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
    };
  }

  #popDue(target: number): ManualTimer | undefined {
    let bestIdx = -1;
    for (let i = 0; i < this.#timers.length; i++) {
      const t = this.#timers[i];
      if (!t || t.cancelled || t.at > target) continue;
      const best = bestIdx >= 0 ? this.#timers[bestIdx] : undefined;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) bestIdx = i;
    }
    if (bestIdx < 0) return undefined;
    const [t] = this.#timers.splice(bestIdx, 1);
    return t;
  }
}
