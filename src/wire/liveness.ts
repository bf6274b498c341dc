import type { Clock, TimerHandle } from '../util/clock.js';
import { WireError } from './errors.js';

/** Timing options of a {@link Liveness}. */
export interface LivenessOptions {
  /** Send a keep-alive when nothing was sent for this long. Default 60 s. */
  keepAliveMs?: number;
  /** Drop the peer when nothing arrived for this long once both handshakes are done. Default 150 s. */
  timeoutMs?: number;
  /** Drop the peer when both handshakes are not done in this time. Default 30 s. */
  handshakeTimeoutMs?: number;
}

/** What a {@link Liveness} asks of its wire. */
export interface LivenessHost {
  /** Both handshakes are done (sent and received). */
  readonly ready: boolean;
  /** Our handshake was sent: keep-alives may go out. */
  readonly handshakeSent: boolean;
  /** We stopped reading from the peer (backpressure): its silence is ours, not a timeout. */
  readonly readingPaused: boolean;
  sendKeepAlive(): void;
  /** Drop the peer: `WIRE_HANDSHAKE_TIMEOUT` or `WIRE_TIMEOUT`. */
  timedOut(error: WireError): void;
}

/**
 * Keep-alives and timeouts of one wire on its {@link Clock}: a keep-alive after `keepAliveMs`
 * of sending nothing, a drop after `handshakeTimeoutMs` without both handshakes, or after
 * `timeoutMs` of receiving nothing (not counting time with reading paused).
 */
export class Liveness {
  readonly #clock: Clock;
  readonly #host: LivenessHost;
  readonly #timeoutMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #created: number;
  #lastSent: number;
  #lastRecv: number;
  #keepAliveTimer: TimerHandle | undefined;
  #timeoutTimer: TimerHandle | undefined;
  #stopped = false;

  constructor(clock: Clock, host: LivenessHost, options: LivenessOptions = {}) {
    this.#clock = clock;
    this.#host = host;
    this.#timeoutMs = options.timeoutMs ?? 150_000;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 30_000;
    this.#created = this.#lastRecv = this.#lastSent = clock.now();
    this.arm();
    const keepAliveMs = options.keepAliveMs ?? 60_000;
    this.#keepAliveTimer = clock.setInterval(
      () => {
        if (host.handshakeSent && clock.now() - this.#lastSent >= keepAliveMs) host.sendKeepAlive();
      },
      Math.max(1, Math.floor(keepAliveMs / 4)),
    );
  }

  /** Something was sent now. */
  sent(): void {
    this.#lastSent = this.#clock.now();
  }

  /** Something arrived now (or reading resumed: the silence counts from here). */
  received(): void {
    this.#lastRecv = this.#clock.now();
  }

  /** (Re)arms the timeout for the current state (call when a handshake was sent or received). */
  arm(): void {
    this.#timeoutTimer?.cancel();
    if (this.#stopped) return;
    const clock = this.#clock;
    const host = this.#host;
    const ready = host.ready;
    const limit = ready ? this.#timeoutMs : this.#handshakeTimeoutMs;
    const from = ready ? this.#lastRecv : this.#created;
    const wait = Math.max(1, from + limit - clock.now());
    this.#timeoutTimer = clock.setTimeout(() => {
      if (this.#stopped) return;
      if (host.ready !== ready) return this.arm();
      if (ready && host.readingPaused) {
        // We are not reading: the peer's silence is ours.
        this.#lastRecv = clock.now();
        return this.arm();
      }
      const since = clock.now() - (ready ? this.#lastRecv : this.#created);
      if (since < limit) return this.arm();
      host.timedOut(
        ready
          ? new WireError('WIRE_TIMEOUT', `nothing received for ${since} ms`, { details: { ms: since } })
          : new WireError('WIRE_HANDSHAKE_TIMEOUT', `no handshake after ${since} ms`, {
              details: { ms: since },
            }),
      );
    }, wait);
  }

  /** Cancels both timers for good. */
  stop(): void {
    this.#stopped = true;
    this.#keepAliveTimer?.cancel();
    this.#timeoutTimer?.cancel();
  }
}
