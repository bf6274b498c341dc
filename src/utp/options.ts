/** Options of a {@link UtpSocket} / {@link UtpTransport}, with their defaults. */
import type { Clock } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { DEFAULT_HIGH_WATER_MARK } from '../util/transport.js';

/** Options of uTP sockets and transports. Every field is optional. */
export interface UtpOptions {
  /** Most connections per socket (incoming and outgoing). Default 1000. */
  maxConnections?: number;
  /** Most incoming connections that have sent nothing after their SYN. Default 64. */
  maxHalfOpen?: number;
  /** LEDBAT's queuing-delay target, ms. Default 100 (BEP 29, libtorrent). */
  targetDelayMs?: number;
  /**
   * Largest datagram sent to a peer that did not offer large datagrams (header included).
   * Default 1400 (an Ethernet MTU less IP/UDP headers and tunnel headroom, as libtorrent).
   */
  packetSize?: number;
  /**
   * Largest datagram to and from a loopback peer that offers large datagrams too (bttkit's
   * extension in SYN/STATE; others ignore it). Default 64000; ≤ `packetSize` disables it.
   */
  largePacketSize?: number;
  /** Receive window advertised per connection, bytes. Default 1 MiB. */
  recvWindow?: number;
  /** Largest congestion window, bytes. Default 4 MiB. */
  maxWindow?: number;
  /** Most packets held ahead of a hole per connection. Default 1024. */
  maxReorder?: number;
  /** LEDBAT gain: most bytes the window grows per round trip at zero queuing delay. Default 3000. */
  gain?: number;
  /** `write` returns false above this many queued bytes. Default 256 KiB. */
  highWaterMark?: number;
  /** Connect gives up after this long. Default 6000 ms. */
  connectTimeoutMs?: number;
  /** A connection that received nothing this long fails. Default 60000 ms. */
  idleTimeoutMs?: number;
  /** Send an ack when nothing was sent this long. Default 20000 ms. */
  keepaliveMs?: number;
  /** Retransmission timeout floor and the first timeout, ms. Defaults 500 and 1000 (BEP 29). */
  minRtoMs?: number;
  initialRtoMs?: number;
  /** RESETs sent for packets of unknown connections, per second. Default 20. */
  resetsPerSecond?: number;
  /** Timers. Default the wall clock. */
  clock?: Clock;
}

/** {@link UtpOptions} with every default applied. */
export type ResolvedUtpOptions = Required<UtpOptions>;

/** Applies the defaults. */
export function resolveUtpOptions(o: UtpOptions = {}): ResolvedUtpOptions {
  const packetSize = clamp(o.packetSize ?? 1400, 150, 65507);
  return {
    maxConnections: clamp(o.maxConnections ?? 1000, 1, 65536),
    maxHalfOpen: clamp(o.maxHalfOpen ?? 64, 1, 65536),
    targetDelayMs: clamp(o.targetDelayMs ?? 100, 1, 10_000),
    packetSize,
    largePacketSize: clamp(o.largePacketSize ?? 64000, 0, 65507),
    recvWindow: clamp(o.recvWindow ?? 1024 * 1024, 4096, 0x7fffffff),
    maxWindow: clamp(o.maxWindow ?? 4 * 1024 * 1024, packetSize, 0x7fffffff),
    maxReorder: clamp(o.maxReorder ?? 1024, 16, 16384),
    gain: clamp(o.gain ?? 3000, 1, 1 << 24),
    highWaterMark: clamp(o.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, 1, 0x7fffffff),
    connectTimeoutMs: clamp(o.connectTimeoutMs ?? 6000, 1, 600_000),
    idleTimeoutMs: clamp(o.idleTimeoutMs ?? 60_000, 100, 3_600_000),
    keepaliveMs: clamp(o.keepaliveMs ?? 20_000, 10, 3_600_000),
    minRtoMs: clamp(o.minRtoMs ?? 500, 1, 60_000),
    initialRtoMs: clamp(o.initialRtoMs ?? 1000, 1, 60_000),
    resetsPerSecond: clamp(o.resetsPerSecond ?? 20, 0, 100_000),
    clock: o.clock ?? realClock,
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.floor(v))) : lo;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: where bttkit offers large datagrams. */
export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}
