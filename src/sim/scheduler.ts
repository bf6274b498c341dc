import type { Clock, TimerHandle } from '../util/clock.js';
import { SimError } from './errors.js';

interface SimEvent {
  at: number;
  seq: number;
  every: number;
  fn: () => void;
  cancelled: boolean;
}

/** Options of {@link VirtualClock.run}. */
export interface RunOptions {
  /** Stop as soon as this returns true (checked after each batch of events). */
  until?: () => boolean;
  /** Stop before any event later than this virtual time (ms). Default: no limit. */
  endAt?: number;
  /** Called after each batch with the virtual time (ms): progress reports, sampling. */
  onBatch?: (now: number) => void;
}

const NOOP = (): void => {};

const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Virtual time for the swarm lab: a {@link Clock} whose timers live in a binary heap and fire
 * only when {@link VirtualClock.run} moves time forward. Events fire in time order, ties in the
 * order they were scheduled, so a run is deterministic.
 *
 * Events are processed in batches of one `quantumMs` (default 1 ms of virtual time); after each
 * batch the run yields to Node's event loop so that every promise continuation the batch
 * started (the session's `await`s) completes before time moves on. A continuation therefore sees
 * a time at most one quantum later than the event that caused it.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * clock.setTimeout(() => console.log('one minute later', clock.now()), 60_000);
 * await clock.run(); // returns at once: virtual time is free
 * ```
 */
export class VirtualClock implements Clock {
  readonly quantumMs: number;
  #now = 0;
  #seq = 0;
  #live = 0;
  /** Cancelled events still in the heap. */
  #dead = 0;
  #heap: SimEvent[] = [];
  #fired = 0;

  constructor(options: { quantumMs?: number } = {}) {
    this.quantumMs = options.quantumMs ?? 1;
    if (!(this.quantumMs > 0)) throw new SimError('SIM_BAD_ARGUMENT', 'VirtualClock: quantumMs must be > 0');
  }

  now(): number {
    return this.#now;
  }

  /** Timers still pending. */
  get pending(): number {
    return this.#live;
  }

  /** Events fired so far. */
  get fired(): number {
    return this.#fired;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#handle(this.#add(fn, Math.max(0, ms) || 0, 0));
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const every = Math.max(1, ms || 1);
    return this.#handle(this.#add(fn, every, every));
  }

  defer(fn: () => void): void {
    this.#add(fn, 0, 0);
  }

  /**
   * Runs events in time order until none is left, `until()` holds, or the next event is later
   * than `endAt`. An exception thrown by an event rejects the run (a bug in the code simulated).
   */
  async run(options: RunOptions = {}): Promise<void> {
    const { until, onBatch } = options;
    const endAt = options.endAt ?? Number.POSITIVE_INFINITY;
    const q = this.quantumMs;
    for (;;) {
      if (until?.()) return;
      let head = this.#peek();
      if (!head) {
        await drain();
        if (until?.()) return;
        head = this.#peek();
        if (!head) return;
      }
      if (head.at > endAt) {
        this.#now = Math.max(this.#now, endAt);
        return;
      }
      const horizon = (Math.floor(head.at / q) + 1) * q;
      for (;;) {
        const ev = this.#peek();
        if (!ev || ev.at >= horizon || ev.at > endAt) break;
        this.#pop();
        if (ev.at > this.#now) this.#now = ev.at;
        if (ev.every > 0) {
          ev.at += ev.every;
          ev.seq = this.#seq++;
          this.#push(ev);
        } else {
          ev.cancelled = true;
          this.#live--;
        }
        this.#fired++;
        ev.fn();
      }
      await drain();
      onBatch?.(this.#now);
    }
  }

  #handle(ev: SimEvent): TimerHandle {
    return {
      cancel: () => {
        if (ev.cancelled) return;
        ev.cancelled = true;
        // Release what the callback holds now (a closed connection's whole state, typically):
        // the event itself leaves the heap lazily.
        ev.fn = NOOP;
        this.#live--;
        this.#dead++;
        if (this.#dead > 4096 && this.#dead > this.#live) this.#compact();
      },
    };
  }

  /** Drops cancelled events from the heap (rebuilt in O(n)). */
  #compact(): void {
    const kept = this.#heap.filter((e) => !e.cancelled);
    this.#heap = [];
    for (const e of kept) this.#push(e);
    this.#dead = 0;
  }

  #add(fn: () => void, delay: number, every: number): SimEvent {
    const ev: SimEvent = { at: this.#now + delay, seq: this.#seq++, every, fn, cancelled: false };
    this.#live++;
    this.#push(ev);
    return ev;
  }

  /** The earliest live event (cancelled ones are dropped lazily). */
  #peek(): SimEvent | undefined {
    const h = this.#heap;
    while (h.length > 0) {
      const top = h[0] as SimEvent;
      if (!top.cancelled) return top;
      this.#pop();
      if (this.#dead > 0) this.#dead--;
    }
    return undefined;
  }

  #push(ev: SimEvent): void {
    const h = this.#heap;
    let i = h.length;
    h.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as SimEvent;
      if (parent.at < ev.at || (parent.at === ev.at && parent.seq < ev.seq)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = ev;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      const lv = h[l] as SimEvent;
      if (r < n) {
        const rv = h[r] as SimEvent;
        if (rv.at < lv.at || (rv.at === lv.at && rv.seq < lv.seq)) c = r;
      }
      const cv = h[c] as SimEvent;
      if (last.at < cv.at || (last.at === cv.at && last.seq < cv.seq)) break;
      h[i] = cv;
      i = c;
    }
    h[i] = last;
  }
}
