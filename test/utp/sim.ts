/**
 * Test helpers for uTP: a virtual clock with `defer`, an in-memory datagram network on it (seeded
 * loss and latency), and a run loop that drives both until a condition holds.
 */
import { ManualClock } from '../../src/util/clock.js';
import type { Endpoint } from '../../src/util/transport.js';
import type { DatagramSocket } from '../../src/utp/index.js';

/** A ManualClock whose `defer` queues work that {@link runUntil} runs at the current instant. */
export class SimClock extends ManualClock {
  #q: (() => void)[] = [];
  defer(fn: () => void): void {
    this.#q.push(fn);
  }
  /** Runs the deferred work queued so far; false if there was none. */
  runDeferred(): boolean {
    if (this.#q.length === 0) return false;
    const q = this.#q;
    this.#q = [];
    for (const fn of q) fn();
    return true;
  }
}

/** Seeded xorshift32 in [0, 1). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

export interface NetOptions {
  /** Share of datagrams dropped, 0..1. */
  loss?: number;
  /** One-way latency, ms. */
  latencyMs?: number;
  seed?: number;
  /** Sees (and may rewrite or drop: return undefined) each datagram. */
  tap?: (data: Uint8Array, from: Endpoint, to: Endpoint) => Uint8Array | undefined;
  /**
   * One shared bottleneck link in front of the latency: datagrams queue (FIFO) and leave at
   * `bytesPerMs`; a datagram that would wait more than `maxQueueMs` is dropped (tail drop).
   */
  bottleneck?: { bytesPerMs: number; maxQueueMs: number };
}

/** An in-memory datagram network on a {@link SimClock}. */
export class SimNet {
  readonly clock: SimClock;
  #sockets = new Map<string, SimSocket>();
  #rand: () => number;
  #nextPort = 20000;
  sent = 0;
  lost = 0;
  /** Queuing delay (ms) of each datagram that crossed the bottleneck, with its size. */
  queued: { delay: number; bytes: number; at: number }[] = [];
  #linkFreeAt = 0;

  constructor(
    readonly options: NetOptions = {},
    clock = new SimClock(),
  ) {
    this.clock = clock;
    this.#rand = rng(options.seed ?? 1);
  }

  bind(host = '10.0.0.1', port = 0): SimSocket {
    const s = new SimSocket(this, { host, port: port || this.#nextPort++ });
    this.#sockets.set(`${s.address.host}|${s.address.port}`, s);
    return s;
  }

  unbind(s: SimSocket): void {
    this.#sockets.delete(`${s.address.host}|${s.address.port}`);
  }

  transmit(data: Uint8Array, from: Endpoint, to: Endpoint): void {
    this.sent++;
    let d: Uint8Array | undefined = data.slice();
    if (this.options.tap) d = this.options.tap(d, from, to);
    if (!d) return;
    if ((this.options.loss ?? 0) > 0 && this.#rand() < (this.options.loss ?? 0)) {
      this.lost++;
      return;
    }
    const bytes = d;
    const deliver = () => this.#sockets.get(`${to.host}|${to.port}`)?.receive(bytes, from);
    let extra = 0;
    const link = this.options.bottleneck;
    if (link) {
      const now = this.clock.now();
      const start = Math.max(now, this.#linkFreeAt);
      if (start - now > link.maxQueueMs) {
        this.lost++;
        return;
      }
      this.#linkFreeAt = start + bytes.length / link.bytesPerMs;
      extra = this.#linkFreeAt - now;
      this.queued.push({ delay: start - now, bytes: bytes.length, at: now });
    }
    this.clock.setTimeout(deliver, (this.options.latencyMs ?? 0) + extra);
  }
}

export class SimSocket implements DatagramSocket {
  #handler: ((d: Uint8Array, from: Endpoint) => void) | undefined;
  closed = false;
  constructor(
    readonly net: SimNet,
    readonly address: Endpoint,
  ) {}
  send(data: Uint8Array, to: Endpoint): void {
    if (!this.closed) this.net.transmit(data, this.address, to);
  }
  onMessage(handler: (data: Uint8Array, from: Endpoint) => void): void {
    this.#handler = handler;
  }
  receive(data: Uint8Array, from: Endpoint): void {
    if (!this.closed) this.#handler?.(data, { ...from });
  }
  async close(): Promise<void> {
    this.closed = true;
    this.net.unbind(this);
  }
}

/**
 * Drives the clock: runs deferred work and pending promise callbacks, else advances to the next
 * timer, until `cond()` holds. Throws past `maxVirtualMs` of virtual time or `maxSteps` steps.
 */
export async function runUntil(
  clock: SimClock,
  cond: () => boolean,
  maxVirtualMs: number,
  what: string,
  maxSteps = 5_000_000,
): Promise<void> {
  const limit = clock.now() + maxVirtualMs;
  for (let step = 0; !cond(); step++) {
    if (step > maxSteps) throw new Error(`runUntil: too many steps waiting for ${what}`);
    await Promise.resolve();
    await Promise.resolve();
    if (cond()) return;
    if (clock.runDeferred()) continue;
    const next = clock.nextAt();
    if (next === undefined || next > limit)
      throw new Error(`runUntil: ${what} did not happen within ${maxVirtualMs} virtual ms`);
    clock.runNext();
  }
}

/** Deterministic incompressible bytes. */
export function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  const r = rng(seed);
  for (let i = 0; i < n; i += 4) {
    const v = Math.floor(r() * 0x100000000);
    out[i] = v & 0xff;
    if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < n) out[i + 3] = (v >>> 24) & 0xff;
  }
  return out;
}
