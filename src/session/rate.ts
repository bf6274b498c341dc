import type { Clock } from '../util/clock.js';

/**
 * Bytes per second over a sliding window (default 10 s) of one-second slots, on an injected
 * {@link Clock}. O(1) per sample, O(window) memory.
 */
export class RateMeter {
  readonly #clock: Clock;
  // A plain array: a typed array costs an ArrayBuffer per meter (two per connection), slow to
  // create and to collect when a large swarm churns connections.
  readonly #slots: number[];
  readonly #slotMs: number;
  #slot: number;
  #sum = 0;
  #total = 0;
  readonly #started: number;

  constructor(clock: Clock, windowMs = 10_000, slotMs = 1000) {
    this.#clock = clock;
    this.#slotMs = slotMs;
    this.#slots = new Array<number>(Math.max(1, Math.round(windowMs / slotMs))).fill(0);
    this.#started = clock.now();
    this.#slot = Math.floor(this.#started / slotMs);
  }

  /** Counts `bytes` now. */
  add(bytes: number): void {
    this.#advance();
    const i = this.#slot % this.#slots.length;
    this.#slots[i] = (this.#slots[i] as number) + bytes;
    this.#sum += bytes;
    this.#total += bytes;
  }

  /** Total bytes ever counted. */
  get total(): number {
    return this.#total;
  }

  /** Bytes per second over the window (or since creation, if younger than the window). */
  rate(): number {
    this.#advance();
    const age = this.#clock.now() - this.#started;
    const span = Math.min(this.#slots.length * this.#slotMs, Math.max(age, this.#slotMs));
    return (this.#sum * 1000) / span;
  }

  #advance(): void {
    const slot = Math.floor(this.#clock.now() / this.#slotMs);
    if (slot <= this.#slot) return;
    const steps = Math.min(slot - this.#slot, this.#slots.length);
    for (let k = 1; k <= steps; k++) {
      const i = (this.#slot + k) % this.#slots.length;
      this.#sum -= this.#slots[i] as number;
      this.#slots[i] = 0;
    }
    this.#slot = slot;
    if (this.#sum < 1e-9) this.#sum = 0;
  }
}
