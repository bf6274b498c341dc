/**
 * uTP's congestion control, pure arithmetic (no I/O, no timers): the round-trip estimator that
 * sets the retransmission timeout (BEP 29: `rto = max(rtt + 4·rtt_var, min)`, doubled per
 * timeout) and LEDBAT (RFC 6817 as BEP 29 and libtorrent apply it): a one-way queuing-delay target
 * (100 ms), the base delay as the minimum of per-minute minima over the last minutes, a window
 * that grows in proportion to how far below the target the delay is and shrinks above it, halved
 * on loss, reset to one packet on a timeout.
 */

/** Sliding minimum of one-way delay samples (microseconds, mod 2^32): per-minute buckets. */
export class DelayHistory {
  readonly #buckets: number[] = [];
  #current = -1;
  #bucketStart = 0;
  #base = -1;

  constructor(
    /** How many one-minute buckets the base delay covers. */
    readonly minutes = 10,
  ) {}

  /** The base delay, or -1 before the first sample. */
  get base(): number {
    return this.#base;
  }

  /** Adds a sample taken at `nowMs`; returns its queuing delay above the base (≥ 0). */
  add(sampleUs: number, nowMs: number): number {
    if (this.#current < 0 || nowMs - this.#bucketStart >= 60_000) {
      if (this.#current >= 0) {
        this.#buckets.push(this.#current);
        if (this.#buckets.length >= this.minutes) this.#buckets.shift();
      }
      this.#current = sampleUs;
      this.#bucketStart = nowMs;
      this.#recompute();
    } else if (wrapLess(sampleUs, this.#current)) {
      this.#current = sampleUs;
      if (wrapLess(sampleUs, this.#base)) this.#base = sampleUs;
    }
    return Math.max(0, (sampleUs - this.#base) >>> 0 > 0x7fffffff ? 0 : (sampleUs - this.#base) >>> 0);
  }

  #recompute(): void {
    let b = this.#current;
    for (const x of this.#buckets) if (wrapLess(x, b)) b = x;
    this.#base = b;
  }
}

/** `a < b` on 32-bit microsecond stamps that may wrap. */
function wrapLess(a: number, b: number): boolean {
  return (a - b) >>> 0 > 0x7fffffff;
}

/** BEP 29's round-trip estimator. Times in milliseconds. */
export class RttEstimator {
  rtt = 0;
  rttVar = 0;
  #have = false;

  constructor(
    /** Floor of the timeout. */
    readonly minRtoMs = 500,
    /** Timeout before any sample. */
    readonly initialRtoMs = 1000,
  ) {}

  sample(ms: number): void {
    if (!this.#have) {
      this.#have = true;
      this.rtt = ms;
      this.rttVar = ms / 2;
      return;
    }
    const delta = this.rtt - ms;
    this.rttVar += (Math.abs(delta) - this.rttVar) / 4;
    this.rtt += (ms - this.rtt) / 8;
  }

  /** The retransmission timeout before backoff. */
  get rto(): number {
    return this.#have ? Math.max(this.rtt + 4 * this.rttVar, this.minRtoMs) : this.initialRtoMs;
  }
}

/** Options of {@link Ledbat}. */
export interface LedbatOptions {
  /** Queuing-delay target, microseconds (BEP 29, libtorrent: 100 ms). */
  targetUs: number;
  /** Bytes of one full packet's payload. */
  mss: number;
  /** Window bounds in bytes. */
  minWindow: number;
  maxWindow: number;
  /** Most the window grows per round trip at zero queuing delay (libtorrent: 3000 bytes). */
  gain: number;
}

/** The LEDBAT window (bytes). */
export class Ledbat {
  cwnd: number;
  #slowStart = true;
  #ssthresh: number;
  #lastCut = -Infinity;
  readonly o: LedbatOptions;

  constructor(o: LedbatOptions) {
    this.o = o;
    this.cwnd = Math.max(o.minWindow, Math.min(o.maxWindow, 4 * o.mss));
    this.#ssthresh = o.maxWindow;
  }

  get slowStart(): boolean {
    return this.#slowStart;
  }

  /** Sets the packet size (the large-packet extension was negotiated). */
  setMss(mss: number): void {
    this.o.mss = mss;
    this.o.minWindow = Math.max(this.o.minWindow, mss);
    if (this.cwnd < 4 * mss) this.cwnd = Math.min(this.o.maxWindow, 4 * mss);
  }

  /**
   * `acked` payload bytes were acknowledged; `delayUs` is the queuing delay above the base of
   * our packets; `inFlight` the bytes that were outstanding before the ack.
   */
  onAck(acked: number, delayUs: number, inFlight: number): void {
    if (acked <= 0) return;
    const o = this.o;
    // Application-limited: a window that was not used says nothing about the path.
    if (inFlight + o.mss < this.cwnd) return;
    const offTarget = (o.targetUs - delayUs) / o.targetUs;
    if (this.#slowStart) {
      if (delayUs > o.targetUs / 2 || this.cwnd >= this.#ssthresh) {
        this.#slowStart = false;
        this.#ssthresh = Math.max(this.cwnd, o.minWindow);
      } else {
        this.cwnd = Math.min(o.maxWindow, this.cwnd + acked);
        return;
      }
    }
    const windowFactor = Math.min(acked, inFlight) / Math.max(this.cwnd, inFlight);
    const next =
      this.cwnd + o.gain * Math.max(-1, offTarget) * windowFactor * Math.max(1, this.cwnd / (8 * o.mss));
    this.cwnd = Math.max(o.minWindow, Math.min(o.maxWindow, next));
  }

  /** A packet was lost (fast retransmit): halve, at most once per `rttMs`. */
  onLoss(nowMs: number, rttMs: number): void {
    if (nowMs - this.#lastCut < Math.max(rttMs, 1)) return;
    this.#lastCut = nowMs;
    this.#slowStart = false;
    this.cwnd = Math.max(this.o.minWindow, this.cwnd / 2);
    this.#ssthresh = this.cwnd;
  }

  /** A retransmission timeout: back to one packet, slow start up to half the old window. */
  onTimeout(): void {
    this.#ssthresh = Math.max(this.o.minWindow, this.cwnd / 2);
    this.#slowStart = true;
    this.cwnd = this.o.minWindow;
  }
}
