/**
 * One uTP connection (BEP 29): the state machine behind a {@link Connection}. It does no I/O of
 * its own: its {@link UtpHost} (the {@link UtpSocket}) feeds it decoded packets, sends its
 * datagrams, ticks its timers and runs its deferred flush. Send side: queued write chunks are
 * copied once, straight into datagram buffers kept until acked; a cumulative ack, selective acks
 * (BEP 29 extension 1), three duplicate acks or a timeout free or resend them; LEDBAT sizes the
 * window. Receive side: see {@link Receiver}.
 */
import { TransportError } from '../util/errors.js';
import type { Connection, ConnectionHandlers, Endpoint } from '../util/transport.js';
import { DelayHistory, Ledbat, RttEstimator } from './congestion.js';
import { UtpError, type UtpErrorCode } from './errors.js';
import type { ResolvedUtpOptions } from './options.js';
import {
  EXT_BTTKIT,
  EXT_SACK,
  HEADER_SIZE,
  refreshHeader,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  seqDiff,
  type UtpPacket,
  writeHeader,
} from './packet.js';
import { Receiver } from './receiver.js';

/** What a connection needs from its socket. */
export interface UtpHost {
  readonly local: Endpoint;
  readonly options: ResolvedUtpOptions;
  now(): number;
  send(data: Uint8Array, to: Endpoint): void;
  /** Runs `conn.flush()` soon (once per batch of incoming datagrams and writes). */
  scheduleFlush(conn: UtpConnection): void;
  /** The connection is done; `lingerMs` > 0 keeps it findable that long to answer stray packets. */
  release(conn: UtpConnection, lingerMs: number): void;
}

type State = 'syn-sent' | 'connected' | 'closing' | 'fin-sent' | 'closed';

interface OutPacket {
  buf: Uint8Array;
  payload: number;
  sentAt: number;
  sends: number;
  sacked: boolean;
}

interface QueuedChunk {
  chunk: Uint8Array;
  off: number;
  cb: (() => void) | undefined;
}

/** Most times one packet is sent before the connection gives up. */
const MAX_SENDS = 8;
/** Packets allowed in flight regardless of the window's bytes (bounds the send map). */
const MAX_OUT_PACKETS = 4096;

/** A uTP connection. Created by {@link UtpSocket}; used through {@link Connection}. */
export class UtpConnection implements Connection {
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly lendsReadBuffer = true;
  readonly recvId: number;
  readonly sendId: number;
  /** Accepted (not dialled): counted as half-open until the initiator's second packet. */
  readonly incoming: boolean;
  confirmed: boolean;
  /** Set by the socket: `connect` settles through it. */
  onConnected: ((err: TransportError | undefined) => void) | undefined;

  #host: UtpHost;
  #state: State;
  #handlers: ConnectionHandlers | undefined;
  #closeError: TransportError | undefined;
  #notified = false;
  #rx: Receiver;

  // Send side.
  #seqNr: number;
  #ackedSeq: number;
  #out = new Map<number, OutPacket>();
  #inFlight = 0;
  #queue: QueuedChunk[] = [];
  #queued = 0;
  #wantDrain = false;
  #finSeq = -1;
  #mss: number;
  #peerWnd: number;
  #dupAcks = 0;
  #fastResendSeq: number;
  #timeouts = 0;
  #rtoAt = 0;
  #probeAt = 0;
  #ledbat: Ledbat;
  #rtt: RttEstimator;
  #delay = new DelayHistory();
  #replyMicro = 0;
  #lastSent: number;
  #lastReceived: number;
  #connectDeadline = 0;
  #synBuf: Uint8Array | undefined;

  constructor(
    host: UtpHost,
    remote: Endpoint,
    ids: { recv: number; send: number },
    init: { incoming: boolean; seq: number; ack?: number; peerMaxDatagram?: number },
  ) {
    this.#host = host;
    const o = host.options;
    this.remote = { host: remote.host, port: remote.port };
    this.local = host.local;
    this.recvId = ids.recv;
    this.sendId = ids.send;
    this.incoming = init.incoming;
    this.confirmed = !init.incoming;
    this.#seqNr = init.seq & 0xffff;
    this.#ackedSeq = (init.seq - 1) & 0xffff;
    this.#fastResendSeq = this.#seqNr;
    this.#mss = o.packetSize - HEADER_SIZE;
    this.#peerWnd = o.recvWindow;
    this.#rtt = new RttEstimator(o.minRtoMs, o.initialRtoMs);
    this.#ledbat = new Ledbat({
      targetUs: o.targetDelayMs * 1000,
      mss: this.#mss,
      minWindow: this.#mss,
      maxWindow: o.maxWindow,
      gain: o.gain,
    });
    this.#rx = new Receiver(o.recvWindow, o.maxReorder, (err) => this.#fail(err));
    const now = host.now();
    this.#lastSent = now;
    this.#lastReceived = now;
    this.#state = init.incoming ? 'connected' : 'syn-sent';
    if (init.incoming) {
      this.#rx.ackNr = (init.ack ?? 0) & 0xffff;
      this.#useLargePackets(init.peerMaxDatagram ?? 0);
    }
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The congestion window (bytes). */
  get window(): number {
    return this.#ledbat.cwnd;
  }

  /** Payload bytes per packet on this connection. */
  get mss(): number {
    return this.#mss;
  }

  /** Whether a large-datagram offer goes to `remote` (a loopback peer). */
  #offerLarge(): number {
    const o = this.#host.options;
    return o.largePacketSize > o.packetSize && isLoopback(this.remote.host) ? o.largePacketSize : 0;
  }

  #useLargePackets(peerMax: number): void {
    const mine = this.#offerLarge();
    if (mine === 0 || peerMax <= this.#host.options.packetSize) return;
    this.#mss = Math.min(mine, peerMax) - HEADER_SIZE;
    this.#ledbat.setMss(this.#mss);
  }

  /* ------------------------------------------------------------------ Connection */

  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    if (this.#state === 'closed') {
      this.#notify();
      return;
    }
    this.#rx.attach(handlers);
    if (!this.#rx.paused) this.#rx.flushHeld();
    this.#host.scheduleFlush(this);
  }

  write(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    if (this.#state !== 'connected' && this.#state !== 'syn-sent') return false;
    let last: QueuedChunk | undefined;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      last = { chunk, off: 0, cb: undefined };
      this.#queue.push(last);
      this.#queued += chunk.length;
    }
    if (onWritten) {
      if (last) last.cb = onWritten;
      else queueMicrotask(onWritten);
    }
    this.#host.scheduleFlush(this);
    const ok = this.#queued < this.#host.options.highWaterMark;
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  pause(): void {
    this.#rx.paused = true;
  }

  resume(): void {
    if (!this.#rx.paused) return;
    this.#rx.paused = false;
    if (this.#handlers) this.#rx.flushHeld();
    // The advertised window opened: say so.
    this.#rx.needAck = true;
    this.#host.scheduleFlush(this);
  }

  close(): void {
    if (this.#state === 'syn-sent') {
      this.destroy();
      return;
    }
    if (this.#state !== 'connected') return;
    this.#state = 'closing';
    this.#host.scheduleFlush(this);
  }

  destroy(error?: TransportError): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'syn-sent') this.#sendControl(ST_RESET);
    this.#finish(error, 0);
  }

  /* ------------------------------------------------------------------ sending */

  /** Sends the SYN (dialled connections; resent by {@link tick}). */
  start(connectTimeoutMs: number): void {
    const now = this.#host.now();
    this.#connectDeadline = now + connectTimeoutMs;
    const large = this.#offerLarge();
    const buf = new Uint8Array(HEADER_SIZE + (large ? 6 : 0));
    writeHeader(
      buf,
      ST_SYN,
      large ? EXT_BTTKIT : 0,
      this.recvId,
      this.#micros(),
      0,
      this.#rx.window(),
      this.#seqNr,
      0,
    );
    if (large) buf.set([0, 4, 0x62, 0x74, (large >> 8) & 0xff, large & 0xff], HEADER_SIZE);
    this.#synBuf = buf;
    this.#seqNr = (this.#seqNr + 1) & 0xffff;
    this.#rtoAt = now + this.#rtt.rto;
    this.#sendRaw(buf);
  }

  /** Answers a SYN (again, for a resent one): a STATE, with the large-datagram offer if made. */
  answerSyn(offered: boolean): void {
    const large = offered ? this.#offerLarge() : 0;
    const buf = new Uint8Array(HEADER_SIZE + (large ? 6 : 0));
    writeHeader(
      buf,
      ST_STATE,
      large ? EXT_BTTKIT : 0,
      this.sendId,
      this.#micros(),
      this.#replyMicro,
      this.#rx.window(),
      this.#seqNr,
      this.#rx.ackNr,
    );
    if (large) buf.set([0, 4, 0x62, 0x74, (large >> 8) & 0xff, large & 0xff], HEADER_SIZE);
    this.#sendRaw(buf);
  }

  /** Sends what the windows allow, a FIN when closing, and an ack if one is owed. */
  flush(): void {
    const st = this.#state;
    if (st === 'closed' || st === 'syn-sent') return;
    const now = this.#host.now();
    let sentData = false;
    while (this.#queued > 0) {
      const window = Math.min(this.#ledbat.cwnd, this.#peerWnd);
      const n = Math.min(this.#mss, this.#queued);
      if (this.#inFlight + n > window && this.#inFlight > 0) break;
      if (this.#inFlight === 0 && window < n && now < this.#probeAt) break;
      if (this.#out.size >= MAX_OUT_PACKETS) break;
      this.#sendData(n, now);
      sentData = true;
      if (window < n) {
        // A zero-window probe: one packet, then wait for the window to open.
        this.#probeAt = now + this.#rtt.rto;
        break;
      }
    }
    if (this.#wantDrain && this.#queued < this.#host.options.highWaterMark) {
      this.#wantDrain = false;
      this.#handlers?.onDrain();
    }
    if (this.#state === 'closing' && this.#queued === 0) {
      this.#state = 'fin-sent';
      this.#finSeq = this.#seqNr;
      const buf = new Uint8Array(HEADER_SIZE);
      this.#stamp(buf, ST_FIN, 0, this.#seqNr);
      this.#seqNr = (this.#seqNr + 1) & 0xffff;
      this.#track(buf, 0, now);
      sentData = true;
    }
    if (this.#rx.needAck && !sentData) this.#sendAck();
    this.#rx.needAck = false;
  }

  #sendData(n: number, now: number): void {
    const buf = new Uint8Array(HEADER_SIZE + n);
    let p = HEADER_SIZE;
    const q = this.#queue;
    while (p < buf.length) {
      const head = q[0] as QueuedChunk;
      const take = Math.min(head.chunk.length - head.off, buf.length - p);
      buf.set(take === head.chunk.length ? head.chunk : head.chunk.subarray(head.off, head.off + take), p);
      p += take;
      head.off += take;
      if (head.off === head.chunk.length) {
        q.shift();
        if (head.cb) queueMicrotask(head.cb);
      }
    }
    this.#queued -= n;
    this.#stamp(buf, ST_DATA, 0, this.#seqNr);
    this.#seqNr = (this.#seqNr + 1) & 0xffff;
    this.#track(buf, n, now);
  }

  #track(buf: Uint8Array, payload: number, now: number): void {
    const seq = (this.#seqNr - 1) & 0xffff;
    this.#out.set(seq, { buf, payload, sentAt: now, sends: 1, sacked: false });
    this.#inFlight += payload;
    if (this.#rtoAt === 0) this.#rtoAt = now + this.#rtt.rto;
    this.#sendRaw(buf);
  }

  #stamp(buf: Uint8Array, type: number, ext: number, seq: number): void {
    writeHeader(
      buf,
      type,
      ext,
      this.sendId,
      this.#micros(),
      this.#replyMicro,
      this.#rx.window(),
      seq,
      this.#rx.ackNr,
    );
  }

  #sendAck(): void {
    const sack = this.#rx.sack();
    const buf = new Uint8Array(HEADER_SIZE + (sack ? 2 + sack.length : 0));
    this.#stamp(buf, ST_STATE, sack ? EXT_SACK : 0, this.#seqNr);
    if (sack) {
      buf[HEADER_SIZE] = 0;
      buf[HEADER_SIZE + 1] = sack.length;
      buf.set(sack, HEADER_SIZE + 2);
    }
    this.#sendRaw(buf);
  }

  #sendControl(type: number): void {
    const buf = new Uint8Array(HEADER_SIZE);
    this.#stamp(buf, type, 0, this.#seqNr);
    this.#sendRaw(buf);
  }

  #resend(seq: number, p: OutPacket, now: number): void {
    refreshHeader(p.buf, this.#micros(), this.#replyMicro, this.#rx.window(), this.#rx.ackNr);
    p.sends++;
    p.sentAt = now;
    if (p.sends > MAX_SENDS) {
      this.#fail(new UtpError('UTP_TIMEOUT', `packet ${seq} unacknowledged after ${MAX_SENDS} sends`));
      return;
    }
    this.#sendRaw(p.buf);
  }

  #sendRaw(buf: Uint8Array): void {
    this.#lastSent = this.#host.now();
    this.#host.send(buf, this.remote);
  }

  #micros(): number {
    return Math.floor(this.#host.now() * 1000) >>> 0;
  }

  /* ------------------------------------------------------------------ receiving */

  /** A packet for this connection (decoded by the socket; `p.data` valid during the call). */
  onPacket(p: UtpPacket): void {
    const st = this.#state;
    if (st === 'closed') return;
    const now = this.#host.now();
    if (p.type === ST_RESET) {
      this.#finish(
        new TransportError('TRANSPORT_RESET', 'connection reset by peer', {
          cause: new UtpError('UTP_RESET', 'RESET received'),
        }),
        0,
      );
      return;
    }
    if (p.type === ST_SYN) {
      if (this.incoming) this.answerSyn(p.maxDatagram > 0);
      return;
    }
    // An ack of something never sent: stray or forged; ignore the whole packet.
    const lastSent = (this.#seqNr - 1) & 0xffff;
    if (seqDiff(p.ack, lastSent) > 0) return;
    if (st === 'syn-sent') {
      if (p.type !== ST_STATE || p.ack !== lastSent) return;
      this.#state = 'connected';
      this.#ackedSeq = lastSent;
      this.#synBuf = undefined;
      this.#rtoAt = 0;
      this.#timeouts = 0;
      this.#rx.ackNr = (p.seq - 1) & 0xffff;
      this.#useLargePackets(p.maxDatagram);
      this.#rtt.sample(now - (this.#connectDeadline - this.#host.options.connectTimeoutMs));
      const cb = this.onConnected;
      this.onConnected = undefined;
      cb?.(undefined);
    } else if (!this.confirmed) this.confirmed = true;
    this.#lastReceived = now;
    this.#replyMicro = (this.#micros() - p.timestamp) >>> 0;
    this.#peerWnd = p.wnd;
    this.#onAcks(p, now);
    if (this.#state === 'closed') return;
    if (p.type === ST_DATA || p.type === ST_FIN) {
      const seqOk = this.#rx.onData(p, this.#handlers);
      if (seqOk) this.#host.scheduleFlush(this);
      if (this.#rx.eof && this.#state === 'connected') this.close();
    }
    if (this.#state === 'fin-sent' && this.#out.size === 0) {
      // Our FIN is acked. Ack what we owe (the remote's FIN), then linger a little to ack it
      // again if that ack is lost, or the remote's FIN if it is still on its way.
      if (this.#rx.needAck) this.#sendAck();
      this.#rx.needAck = false;
      this.#finish(undefined, Math.min(4 * this.#rtt.rto, 5000));
      return;
    }
    if (this.#queued > 0 || this.#state === 'closing') this.#host.scheduleFlush(this);
  }

  #onAcks(p: UtpPacket, now: number): void {
    const inFlightBefore = this.#inFlight;
    let acked = 0;
    let minRtt = Infinity;
    const d = seqDiff(p.ack, this.#ackedSeq);
    if (d > 0) {
      for (let s = (this.#ackedSeq + 1) & 0xffff, i = 0; i < d; i++, s = (s + 1) & 0xffff) {
        const o = this.#out.get(s);
        if (!o) continue;
        this.#out.delete(s);
        if (!o.sacked) {
          acked += o.payload;
          this.#inFlight -= o.payload;
        }
        if (o.sends === 1) minRtt = Math.min(minRtt, now - o.sentAt);
      }
      this.#ackedSeq = p.ack;
      if (seqDiff(this.#fastResendSeq, p.ack) <= 0) this.#fastResendSeq = (p.ack + 1) & 0xffff;
      this.#dupAcks = 0;
      this.#timeouts = 0;
      this.#rtoAt = this.#out.size > 0 ? now + this.#rtt.rto : 0;
    } else if (d === 0 && p.type === ST_STATE && this.#out.size > 0) this.#dupAcks++;
    if (p.sackLength > 0 && this.#out.size > 0) acked += this.#onSack(p, now);
    if (minRtt !== Infinity) this.#rtt.sample(minRtt);
    if (this.#dupAcks >= 3 && this.#fastResendSeq === ((this.#ackedSeq + 1) & 0xffff)) {
      const o = this.#out.get(this.#fastResendSeq);
      this.#fastResendSeq = (this.#fastResendSeq + 1) & 0xffff;
      if (o) {
        this.#ledbat.onLoss(now, this.#rtt.rtt);
        this.#resend(this.#ackedSeq + 1, o, now);
      }
    }
    if (acked > 0 && p.timestampDiff !== 0) {
      const queuing = this.#delay.add(p.timestampDiff, now);
      const capped = minRtt === Infinity ? queuing : Math.min(queuing, minRtt * 1000);
      this.#ledbat.onAck(acked, capped, inFlightBefore);
    }
  }

  /** Applies a selective ack; resends holes with three or more acked packets above them. */
  #onSack(p: UtpPacket, now: number): number {
    const data = p.data;
    const base = (p.ack + 2) & 0xffff;
    const bits = p.sackLength * 8;
    let acked = 0;
    let above = 0;
    let resends = 0;
    let lost = false;
    for (let i = bits - 1; i >= -1; i--) {
      const seq = (base + i) & 0xffff;
      if (seqDiff(seq, this.#seqNr) >= 0) continue;
      const set = i >= 0 && ((data[p.sackOffset + (i >> 3)] as number) & (1 << (i & 7))) !== 0;
      const o = this.#out.get(seq);
      if (set) {
        above++;
        if (o && !o.sacked) {
          o.sacked = true;
          acked += o.payload;
          this.#inFlight -= o.payload;
        }
      } else if (
        o &&
        !o.sacked &&
        above >= 3 &&
        resends < 4 &&
        (o.sends === 1 || now - o.sentAt >= this.#rtt.rtt)
      ) {
        lost = true;
        resends++;
        this.#resend(seq, o, now);
        if (this.#state === 'closed') return acked;
      }
    }
    if (lost) this.#ledbat.onLoss(now, this.#rtt.rtt);
    return acked;
  }

  /* ------------------------------------------------------------------ timers */

  /** Called by the socket's one timer. */
  tick(now: number): void {
    const st = this.#state;
    if (st === 'closed') return;
    const o = this.#host.options;
    if (st === 'syn-sent') {
      if (now >= this.#connectDeadline) {
        this.#finish(
          new TransportError(
            'TRANSPORT_CONNECT_FAILED',
            `cannot connect to ${this.remote.host}:${this.remote.port} over uTP`,
            {
              cause: new UtpError('UTP_CONNECT_TIMEOUT', 'no answer to SYN'),
              details: { host: this.remote.host, port: this.remote.port },
            },
          ),
          0,
        );
      } else if (now >= this.#rtoAt && this.#synBuf) {
        this.#timeouts++;
        this.#rtoAt = now + this.#rtt.rto * 2 ** Math.min(this.#timeouts, 6);
        this.#sendRaw(this.#synBuf);
      }
      return;
    }
    if (now - this.#lastReceived > o.idleTimeoutMs) {
      this.#fail(new UtpError('UTP_TIMEOUT', `nothing received for ${o.idleTimeoutMs} ms`));
      return;
    }
    if (this.#rtoAt !== 0 && now >= this.#rtoAt && this.#out.size > 0) {
      this.#timeouts++;
      this.#ledbat.onTimeout();
      this.#dupAcks = 0;
      this.#rtoAt = now + this.#rtt.rto * 2 ** Math.min(this.#timeouts, 6);
      const first = (this.#ackedSeq + 1) & 0xffff;
      const p = this.#out.get(first) ?? this.#out.values().next().value;
      if (p) this.#resend(first, p, now);
      return;
    }
    if (this.#queued > 0 && this.#inFlight === 0 && now >= this.#probeAt) this.#host.scheduleFlush(this);
    if (now - this.#lastSent > o.keepaliveMs) this.#sendAck();
  }

  /* ------------------------------------------------------------------ teardown */

  /** The socket went away. */
  socketClosed(): void {
    this.#finish(
      new TransportError('TRANSPORT_ERROR', 'uTP socket closed', {
        cause: new UtpError('UTP_SOCKET_CLOSED', 'socket closed'),
      }),
      0,
    );
  }

  #fail(err: UtpError): void {
    if (this.#state === 'closed') return;
    this.#sendControl(ST_RESET);
    const code: UtpErrorCode = err.code;
    this.#finish(new TransportError('TRANSPORT_ERROR', `uTP connection failed: ${code}`, { cause: err }), 0);
  }

  #finish(error: TransportError | undefined, lingerMs: number): void {
    if (this.#state === 'closed') return;
    const wasConnecting = this.#state === 'syn-sent';
    this.#state = 'closed';
    this.#closeError = error;
    this.#queue = [];
    this.#queued = 0;
    this.#out.clear();
    this.#inFlight = 0;
    this.#rx.clear();
    this.#host.release(this, lingerMs);
    if (wasConnecting) {
      const cb = this.onConnected;
      this.onConnected = undefined;
      cb?.(error ?? new TransportError('TRANSPORT_CONNECT_FAILED', 'uTP connect cancelled'));
    }
    if (this.#handlers) this.#notify();
  }

  #notify(): void {
    if (this.#notified) return;
    this.#notified = true;
    const h = this.#handlers;
    const err = this.#closeError;
    queueMicrotask(() => h?.onClose(err));
  }

  /** Answers a stray packet while lingering after close (acks a late FIN). */
  lingerPacket(p: UtpPacket): void {
    if (p.type === ST_FIN || p.type === ST_DATA) {
      if (seqDiff(p.seq, this.#rx.ackNr) === 1) this.#rx.ackNr = p.seq;
      const buf = new Uint8Array(HEADER_SIZE);
      writeHeader(buf, ST_STATE, 0, this.sendId, this.#micros(), 0, 0, this.#seqNr, this.#rx.ackNr);
      this.#host.send(buf, this.remote);
    }
  }

  /** Zero-window probe time, finish-linger bookkeeping: exposed for tests. */
  get debugState(): {
    state: State;
    seq: number;
    ackedSeq: number;
    ackNr: number;
    outPackets: number;
    peerWnd: number;
  } {
    return {
      state: this.#state,
      seq: this.#seqNr,
      ackedSeq: this.#ackedSeq,
      ackNr: this.#rx.ackNr,
      outPackets: this.#out.size,
      peerWnd: this.#peerWnd,
    };
  }
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.') || host === 'localhost';
}
