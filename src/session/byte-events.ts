import type { Clock, TimerHandle } from '../util/clock.js';

/** How often, at most, a torrent emits each of its `download` / `upload` events. */
export const BYTE_EVENT_INTERVAL_MS = 200;

/**
 * Coalesces byte counts into one event per {@link BYTE_EVENT_INTERVAL_MS}: the first bytes after a
 * quiet spell start a timer; when it fires, the sum since is emitted. `add()` is a number
 * addition (and, once per interval, a timer): the caller only calls it when someone listens.
 */
export class ByteEvents {
  #pending = 0;
  #timer: TimerHandle | undefined;
  readonly #clock: Clock;
  readonly #emit: (bytes: number) => void;

  constructor(clock: Clock, emit: (bytes: number) => void) {
    this.#clock = clock;
    this.#emit = emit;
  }

  add(bytes: number): void {
    this.#pending += bytes;
    if (this.#timer === undefined)
      this.#timer = this.#clock.setTimeout(() => this.flush(), BYTE_EVENT_INTERVAL_MS);
  }

  /** Emits what is pending now (before `done`, before `close`). */
  flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const n = this.#pending;
    this.#pending = 0;
    if (n > 0) this.#emit(n);
  }
}
