/**
 * {@link UtpSocket}: every uTP connection of one datagram socket. It decodes each datagram once,
 * finds its connection by (remote endpoint, connection id), accepts SYNs within bounds, answers
 * packets for unknown connections with a rate-limited RESET, runs one timer for all its
 * connections, and batches each connection's sends and acks into one flush per turn of the
 * event loop (after all datagrams that arrived in it were read).
 */
import { randomInt } from 'node:crypto';
import type { TimerHandle } from '../util/clock.js';
import { TransportError } from '../util/errors.js';
import type { Connection, ConnectOptions, Endpoint } from '../util/transport.js';
import { UtpConnection } from './connection.js';
import type { DatagramSocket } from './datagram.js';
import { UtpError, type UtpErrorCode } from './errors.js';
import type { UtpHost } from './host.js';
import { type ResolvedUtpOptions, resolveUtpOptions, type UtpOptions } from './options.js';
import { createPacket, decodeInto, encodePacket, ST_RESET, ST_SYN } from './packet.js';

/** The socket's timer period, ms: retransmission timeouts are at least `minRtoMs`. */
const TICK_MS = 50;

/** Counters of a {@link UtpSocket}. */
export interface UtpSocketStats {
  /** Datagrams received. */
  received: number;
  /** Datagrams dropped, by reason. */
  dropped: Partial<Record<UtpErrorCode, number>>;
  /** RESETs sent for packets of unknown connections. */
  resetsSent: number;
  /** Connections open (lingering ones included). */
  connections: number;
  /** Incoming connections not yet confirmed by a second packet. */
  halfOpen: number;
  /** Bytes held on the receive side by all connections (reorder buffers, paused consumers). */
  buffered: number;
}

/** Every uTP connection over one {@link DatagramSocket}. */
export class UtpSocket {
  readonly #dgram: DatagramSocket;
  readonly #opts: ResolvedUtpOptions;
  readonly #host: UtpHost;
  /** recv id → connections with that id (usually one). */
  readonly #conns = new Map<number, UtpConnection[]>();
  #count = 0;
  /** Incoming, unconfirmed connection → when it arrived. */
  readonly #halfOpen = new Map<UtpConnection, number>();
  /** Closed connection kept to answer stray packets → until when. */
  readonly #lingering = new Map<UtpConnection, number>();
  #timer: TimerHandle | undefined;
  #flushSet = new Set<UtpConnection>();
  #flushScheduled = false;
  #onConnection: ((c: Connection) => void) | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #resetTokens: number;
  #resetRefill: number;
  readonly #pkt = createPacket();
  readonly #budget: { used: number; max: number } = { used: 0, max: 0 };
  readonly #stats: UtpSocketStats = {
    received: 0,
    dropped: {},
    resetsSent: 0,
    connections: 0,
    halfOpen: 0,
    buffered: 0,
  };

  constructor(socket: DatagramSocket, options: UtpOptions = {}) {
    this.#dgram = socket;
    this.#opts = resolveUtpOptions(options);
    this.#budget.max = this.#opts.maxBufferedBytes;
    const clock = this.#opts.clock;
    this.#resetTokens = this.#opts.resetsPerSecond;
    this.#resetRefill = clock.now();
    this.#host = {
      local: socket.address,
      options: this.#opts,
      budget: this.#budget,
      now: () => clock.now(),
      send: (data, to) => this.#dgram.send(data, to),
      scheduleFlush: (c) => this.#scheduleFlush(c),
      release: (c, linger) => this.#release(c, linger),
    };
    socket.onMessage((data, from) => this.#onMessage(data, from));
  }

  /** The bound address. */
  get address(): Endpoint {
    return this.#dgram.address;
  }

  /** Reaches IPv4 and IPv6 peers alike (a `::` socket with IPv6-only off). */
  get dualStack(): boolean {
    return this.#dgram.dualStack === true;
  }

  /** Counters (a snapshot). */
  get stats(): UtpSocketStats {
    return {
      ...this.#stats,
      dropped: { ...this.#stats.dropped },
      connections: this.#count,
      halfOpen: this.#halfOpen.size,
      buffered: this.#budget.used,
    };
  }

  /** Hands each incoming connection (after its SYN) to `handler`; without one, SYNs are refused. */
  onConnection(handler: ((c: Connection) => void) | undefined): void {
    this.#onConnection = handler;
  }

  /**
   * Connects to `to` (an IP address). Rejects with `TRANSPORT_CONNECT_FAILED` (cause
   * `UTP_CONNECT_TIMEOUT` after `connectTimeoutMs`, or `UTP_TOO_MANY_CONNECTIONS`) or `ABORTED`.
   */
  connect(to: Endpoint, options: ConnectOptions = {}): Promise<Connection> {
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.reject(new TransportError('ABORTED', 'connect aborted', { cause: signal.reason }));
    }
    if (this.#closed || this.#count >= this.#opts.maxConnections) {
      const why = this.#closed ? 'UTP_SOCKET_CLOSED' : 'UTP_TOO_MANY_CONNECTIONS';
      return Promise.reject(
        new TransportError('TRANSPORT_CONNECT_FAILED', `cannot connect to ${to.host}:${to.port} over uTP`, {
          cause: new UtpError(why, why === 'UTP_SOCKET_CLOSED' ? 'socket closed' : 'too many connections'),
          details: { host: to.host, port: to.port },
        }),
      );
    }
    let id = randomInt(0x10000);
    for (let i = 0; i < 64 && (this.#find(to, id) || this.#find(to, (id + 1) & 0xffff)); i++)
      id = randomInt(0x10000);
    const conn = new UtpConnection(
      this.#host,
      to,
      { recv: id, send: (id + 1) & 0xffff },
      { incoming: false, seq: randomInt(0x10000) },
    );
    this.#add(conn);
    return new Promise<Connection>((resolve, reject) => {
      const onAbort = () =>
        conn.destroy(new TransportError('ABORTED', 'connect aborted', { cause: signal?.reason }));
      conn.onConnected = (err) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(conn);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      conn.start(this.#opts.connectTimeoutMs);
    });
  }

  /** Resolves once the socket has no connection (lingering ones included). */
  whenIdle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Fails every connection (`TRANSPORT_ERROR`, cause `UTP_SOCKET_CLOSED`) and closes the datagram socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onConnection = undefined;
    for (const list of [...this.#conns.values()]) for (const c of [...list]) c.socketClosed();
    this.#conns.clear();
    this.#lingering.clear();
    this.#halfOpen.clear();
    this.#count = 0;
    for (const w of this.#idleWaiters.splice(0)) w();
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#dgram.close();
  }

  /* ------------------------------------------------------------------ bookkeeping */

  #find(from: Endpoint, recvId: number): UtpConnection | undefined {
    const list = this.#conns.get(recvId);
    if (!list) return undefined;
    for (const c of list) if (c.remote.port === from.port && c.remote.host === from.host) return c;
    return undefined;
  }

  #findBySendId(from: Endpoint, sendId: number): UtpConnection | undefined {
    for (const id of [(sendId - 1) & 0xffff, (sendId + 1) & 0xffff]) {
      const c = this.#find(from, id);
      if (c && c.sendId === sendId) return c;
    }
    return undefined;
  }

  #add(c: UtpConnection): void {
    const list = this.#conns.get(c.recvId);
    if (list) list.push(c);
    else this.#conns.set(c.recvId, [c]);
    this.#count++;
    this.#timer ??= this.#opts.clock.setInterval(() => this.#tick(), TICK_MS);
  }

  #remove(c: UtpConnection): void {
    const list = this.#conns.get(c.recvId);
    if (!list) return;
    const i = list.indexOf(c);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#conns.delete(c.recvId);
    this.#count--;
    this.#lingering.delete(c);
    if (this.#count === 0) {
      this.#timer?.cancel();
      this.#timer = undefined;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #release(c: UtpConnection, lingerMs: number): void {
    this.#halfOpen.delete(c);
    this.#flushSet.delete(c);
    if (lingerMs > 0 && !this.#closed) this.#lingering.set(c, this.#opts.clock.now() + lingerMs);
    else this.#remove(c);
  }

  #scheduleFlush(c: UtpConnection): void {
    this.#flushSet.add(c);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const run = () => this.#flush();
    const clock = this.#opts.clock;
    if (clock.defer) clock.defer(run);
    else setImmediate(run);
  }

  #flush(): void {
    this.#flushScheduled = false;
    const set = this.#flushSet;
    this.#flushSet = new Set();
    for (const c of set) c.flush();
  }

  #tick(): void {
    const now = this.#opts.clock.now();
    for (const [c, until] of this.#lingering) if (now >= until) this.#remove(c);
    for (const [c, at] of this.#halfOpen) {
      if (now - at > this.#opts.connectTimeoutMs) {
        this.#halfOpen.delete(c);
        c.destroy(
          new TransportError('TRANSPORT_ERROR', 'uTP peer never confirmed its SYN', {
            cause: new UtpError('UTP_TIMEOUT', 'half-open'),
          }),
        );
      }
    }
    for (const list of [...this.#conns.values()]) for (const c of [...list]) c.tick(now);
  }

  #drop(code: UtpErrorCode): void {
    const d = this.#stats.dropped;
    d[code] = (d[code] ?? 0) + 1;
  }

  /* ------------------------------------------------------------------ input */

  #onMessage(data: Uint8Array, from: Endpoint): void {
    if (this.#closed) return;
    this.#stats.received++;
    const p = this.#pkt;
    const bad = decodeInto(data, p);
    if (bad) {
      this.#drop(bad);
      return;
    }
    if (p.type === ST_SYN) {
      const recvId = (p.connectionId + 1) & 0xffff;
      const known = this.#find(from, recvId);
      if (known) {
        if (known.incoming && !known.closed) known.onPacket(p);
        return;
      }
      const accept = this.#onConnection;
      if (!accept) {
        this.#drop('UTP_UNKNOWN_CONNECTION');
        this.#reset(from, p.connectionId, p.seq);
        return;
      }
      if (this.#count >= this.#opts.maxConnections || this.#halfOpen.size >= this.#opts.maxHalfOpen) {
        this.#drop('UTP_TOO_MANY_CONNECTIONS');
        return;
      }
      const conn = new UtpConnection(
        this.#host,
        from,
        { recv: recvId, send: p.connectionId },
        { incoming: true, seq: randomInt(0x10000), ack: p.seq, peerMaxDatagram: p.maxDatagram },
      );
      this.#add(conn);
      this.#halfOpen.set(conn, this.#opts.clock.now());
      conn.answerSyn(p.maxDatagram > 0);
      accept(conn);
      return;
    }
    let conn = this.#find(from, p.connectionId);
    // A RESET answering a packet of ours may carry our send id (we do so for unknown packets).
    if (!conn && p.type === ST_RESET) conn = this.#findBySendId(from, p.connectionId);
    if (!conn) {
      this.#drop('UTP_UNKNOWN_CONNECTION');
      if (p.type !== ST_RESET) this.#reset(from, p.connectionId, p.seq);
      return;
    }
    if (conn.closed) {
      conn.lingerPacket(p);
      return;
    }
    conn.onPacket(p);
    if (conn.confirmed) this.#halfOpen.delete(conn);
  }

  #reset(to: Endpoint, connectionId: number, seq: number): void {
    const now = this.#opts.clock.now();
    const rate = this.#opts.resetsPerSecond;
    this.#resetTokens = Math.min(rate, this.#resetTokens + ((now - this.#resetRefill) * rate) / 1000);
    this.#resetRefill = now;
    if (this.#resetTokens < 1) return;
    this.#resetTokens--;
    this.#stats.resetsSent++;
    this.#dgram.send(encodePacket({ type: ST_RESET, connectionId, seq: randomInt(0x10000), ack: seq }), to);
  }
}
