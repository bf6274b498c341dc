/**
 * What a {@link UtpConnection} needs from its socket, and the fixed limits a connection runs
 * under.
 */
import type { Endpoint } from '../util/transport.js';
import type { UtpConnection } from './connection.js';
import type { ResolvedUtpOptions } from './options.js';
import type { ReceiveBudget } from './receiver.js';

/** What a connection needs from its socket. */
export interface UtpHost {
  readonly local: Endpoint;
  readonly options: ResolvedUtpOptions;
  /** Shared by the socket's connections: bytes buffered on the receive side. */
  readonly budget: ReceiveBudget;
  now(): number;
  send(data: Uint8Array, to: Endpoint): void;
  /** Runs `conn.flush()` soon (once per batch of incoming datagrams and writes). */
  scheduleFlush(conn: UtpConnection): void;
  /** The connection is done; `lingerMs` > 0 keeps it findable that long to answer stray packets. */
  release(conn: UtpConnection, lingerMs: number): void;
}

/** Most times one packet is sent before the connection gives up. */
export const MAX_SENDS = 8;
/** Packets allowed in flight regardless of the window's bytes (bounds the send map). */
export const MAX_OUT_PACKETS = 4096;
/**
 * Most new data packets one flush sends; the rest go on the next turn. A window's worth at once
 * (hundreds of MTU-sized packets when the window has grown) overflows a receiver's socket buffer
 * (212,992 bytes by default on Linux, ~90 such datagrams) and loses the whole tail of the burst,
 * which only a timeout recovers.
 */
export const MAX_BURST_PACKETS = 32;
/**
 * Shortest wait for an ack before a tail loss is presumed, ms (the probe timeout is four round
 * trips, at least this). See `UtpConnection.tick`.
 */
export const PROBE_MIN_MS = 100;
