/**
 * One uTP connection (BEP 29): the state machine behind a {@link Connection}. It does no I/O of
 * its own: its {@link UtpHost} (the {@link UtpSocket}) feeds it decoded packets, sends its
 * datagrams, ticks its timers and runs its deferred flush. Send side: queued write chunks are
 * copied once, straight into datagram buffers kept until acked; a cumulative ack, selective acks
 * (BEP 29 extension 1), three duplicate acks or a timeout free or resend them; LEDBAT sizes the
 * window. Receive side: see {@link Receiver}.
 */
import type { TransportError } from '../util/errors.js';
import type { Connection, ConnectionHandlers, Endpoint } from '../util/transport.js';
import { DelayHistory, Ledbat, RttEstimator } from './congestion.js';
import { closedBy, connectFailed, UtpError } from './errors.js';
import { MAX_BURST_PACKETS, MAX_OUT_PACKETS, MAX_SENDS, PROBE_MIN_MS, type UtpHost } from './host.js';
import { isLoopback } from './options.js';
import { Outbound, type OutPacket } from './outbound.js';
import {
  controlPacket,
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
import { SendQueue } from './send-queue.js';

type State = 'syn-sent' | 'connected' | 'closing' | 'fin-sent' | 'closed';

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
  #out: Outbound;
  #queue = new SendQueue();
  #wantDrain = false;
  #mss: number;
  #peerWnd: number;
  #dupAcks = 0;
  #fastResendSeq: number;
  #timeouts = 0;
  #rtoAt = 0;
  /** When the oldest unacked packet was sent or the last ack advanced, for the tail-loss probe. */
  #progressAt = 0;
  /** The tail-loss recovery ran since the last ack advance. */
  #tailProbed = false;
  #probeAt = 0;
  #ledbat: Ledbat;
  #rtt: RttEstimator;
  #delay = new DelayHistory();
  #replyMicro = 0;
  #lastSent: number;
  #lastReceived: number;
  #connectDeadline = 0;
  /** Packets no state accepts (acks of unsent data, sequence numbers far out), and valid ones. */
  #invalid = 0;
  #valid = 0;
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
    this.#out = new Outbound(init.seq - 1);
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
    this.#rx = new Receiver(o.recvWindow, o.maxReorder, host.budget);
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
    return this.#queue.bytes;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlight(): number {
    return this.#out.inFlight;
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
    this.#queue.push(chunks, onWritten);
    this.#host.scheduleFlush(this);
    const ok = this.#queue.bytes < this.#host.options.highWaterMark;
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  pause(): void {
    this.#rx.pause();
  }

  resume(): void {
    if (!this.#rx.paused) return;
    this.#rx.resume();
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
    const buf = controlPacket(
      ST_SYN,
      this.recvId,
      this.#micros(),
      0,
      this.#rx.window(),
      this.#seqNr,
      0,
      undefined,
      this.#offerLarge(),
    );
    this.#synBuf = buf;
    this.#seqNr = (this.#seqNr + 1) & 0xffff;
    this.#rtoAt = now + this.#rtt.rto;
    this.#sendRaw(buf);
  }

  /** Answers a SYN (again, for a resent one): a STATE, with the large-datagram offer if made. */
  answerSyn(offered: boolean): void {
    this.#sendRaw(this.#control(ST_STATE, undefined, offered ? this.#offerLarge() : 0));
  }

  /** Sends what the windows allow, a FIN when closing, and an ack if one is owed. */
  flush(): void {
    const st = this.#state;
    if (st === 'closed' || st === 'syn-sent') return;
    this.#rx.deliverBatch();
    if (this.#state === 'closed') return;
    const now = this.#host.now();
    let sentData = false;
    // After a timeout: the packets presumed lost first, in order, as the window allows.
    this.#out.forEachLost((seq, o) => {
      const window = Math.min(this.#ledbat.cwnd, this.#peerWnd);
      if (this.#out.inFlight > 0 && this.#out.inFlight + o.payload > window) return false;
      this.#out.resent(o);
      this.#resend(seq, o, now);
      sentData = true;
      return this.#state !== 'closed';
    });
    if ((this.#state as State) === 'closed') return;
    let burst = 0;
    while (this.#queue.bytes > 0 && this.#out.lostCount === 0) {
      if (++burst > MAX_BURST_PACKETS) {
        this.#host.scheduleFlush(this);
        break;
      }
      const window = Math.min(this.#ledbat.cwnd, this.#peerWnd);
      const n = Math.min(this.#mss, this.#queue.bytes);
      if (this.#out.inFlight + n > window && this.#out.inFlight > 0) break;
      if (this.#out.inFlight === 0 && window < n && now < this.#probeAt) break;
      // Bounded however the peer acks (selective acks keep packets until the hole is filled).
      if (this.#out.size >= MAX_OUT_PACKETS || this.#out.bytes >= 2 * this.#host.options.maxWindow) break;
      this.#sendData(n, now);
      sentData = true;
      if (window < n) {
        // A zero-window probe: one packet, then wait for the window to open.
        this.#probeAt = now + this.#rtt.rto;
        break;
      }
    }
    if (this.#wantDrain && this.#queue.bytes < this.#host.options.highWaterMark) {
      this.#wantDrain = false;
      this.#handlers?.onDrain();
    }
    if (this.#state === 'closing' && this.#queue.bytes === 0) {
      this.#state = 'fin-sent';
      const buf = this.#control(ST_FIN, undefined, 0);
      this.#seqNr = (this.#seqNr + 1) & 0xffff;
      this.#track(buf, 0, now);
      sentData = true;
    }
    if (this.#rx.needAck && !sentData) this.#sendAck();
    this.#rx.needAck = false;
  }

  #sendData(n: number, now: number): void {
    const buf = new Uint8Array(HEADER_SIZE + n);
    this.#queue.take(buf, HEADER_SIZE, n);
    this.#stamp(buf, ST_DATA, 0, this.#seqNr);
    this.#seqNr = (this.#seqNr + 1) & 0xffff;
    this.#track(buf, n, now);
  }

  #track(buf: Uint8Array, payload: number, now: number): void {
    const seq = (this.#seqNr - 1) & 0xffff;
    this.#out.track(seq, buf, payload, now);
    if (this.#rtoAt === 0) {
      this.#rtoAt = now + this.#rtt.rto;
      this.#progressAt = now;
    }
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

  #control(type: number, sack: Uint8Array | undefined, large: number): Uint8Array {
    const rx = this.#rx;
    const ts = this.#micros();
    return controlPacket(
      type,
      this.sendId,
      ts,
      this.#replyMicro,
      rx.window(),
      this.#seqNr,
      rx.ackNr,
      sack,
      large,
    );
  }

  #sendAck(): void {
    this.#sendRaw(this.#control(ST_STATE, this.#rx.sack(), 0));
  }

  #sendControl(type: number): void {
    this.#sendRaw(this.#control(type, undefined, 0));
  }

  #resend(seq: number, p: OutPacket, now: number): void {
    refreshHeader(p.buf, this.#micros(), this.#replyMicro, this.#rx.window(), this.#rx.ackNr);
    // A peer that answers (a closed window, a lost resend) is alive: only sends into silence
    // count towards giving up.
    p.silentSends = this.#lastReceived > p.sentAt ? 1 : p.silentSends + 1;
    p.sends++;
    p.sentAt = now;
    if (p.silentSends > MAX_SENDS) {
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
      // A RESET answering our SYN is a refusal: nothing accepts uTP connections there.
      const err =
        st === 'syn-sent'
          ? connectFailed(this.remote, 'UTP_RESET', 'refused (RESET)')
          : closedBy(new UtpError('UTP_RESET', 'RESET received'));
      this.#finish(err, 0);
      return;
    }
    if (p.type === ST_SYN) {
      if (this.incoming) this.answerSyn(p.maxDatagram > 0);
      return;
    }
    // An ack of something never sent: stray or forged; ignore the whole packet.
    const lastSent = (this.#seqNr - 1) & 0xffff;
    if (seqDiff(p.ack, lastSent) > 0) {
      this.#invalidPacket();
      return;
    }
    if (st === 'syn-sent') {
      if (p.type !== ST_STATE || p.ack !== lastSent) return;
      this.#state = 'connected';
      this.#out.ackedSeq = lastSent;
      this.#synBuf = undefined;
      this.#rtoAt = 0;
      // The SYN's round trip, unless it was resent (which send is answered is unknown).
      if (this.#timeouts === 0)
        this.#rtt.sample(now - (this.#connectDeadline - this.#host.options.connectTimeoutMs));
      this.#timeouts = 0;
      this.#rx.ackNr = (p.seq - 1) & 0xffff;
      this.#useLargePackets(p.maxDatagram);
      const cb = this.onConnected;
      this.onConnected = undefined;
      cb?.(undefined);
    } else if (!this.confirmed) this.confirmed = true;
    this.#lastReceived = now;
    this.#timeouts = 0;
    if (++this.#valid >= 1024) this.#valid = this.#invalid = 0;
    this.#replyMicro = (this.#micros() - p.timestamp) >>> 0;
    this.#peerWnd = p.wnd;
    this.#onAcks(p, now);
    if (this.#state === 'closed') return;
    if (p.type === ST_DATA || p.type === ST_FIN) {
      if (!this.#rx.onData(p)) this.#invalidPacket();
      if ((this.#state as State) === 'closed') return;
      this.#host.scheduleFlush(this);
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
    // Packets presumed lost (a timeout, the tail-loss probe) go out as acks open the window.
    if (this.#queue.bytes > 0 || this.#out.lostCount > 0 || this.#state === 'closing')
      this.#host.scheduleFlush(this);
  }

  /** Ignored; but a peer that sends more of them than valid packets is not one to keep. */
  #invalidPacket(): void {
    if (++this.#invalid >= 256 && this.#invalid > this.#valid) {
      this.#fail(new UtpError('UTP_PROTOCOL', `${this.#invalid} packets outside the connection's state`));
    }
  }

  #onAcks(p: UtpPacket, now: number): void {
    const out = this.#out;
    const inFlightBefore = out.inFlight;
    let acked = 0;
    let minRtt = Infinity;
    const d = seqDiff(p.ack, out.ackedSeq);
    if (d > 0) {
      acked = out.ackTo(p.ack, now);
      minRtt = out.minRtt;
      if (seqDiff(this.#fastResendSeq, p.ack) <= 0) this.#fastResendSeq = (p.ack + 1) & 0xffff;
      this.#dupAcks = 0;
      this.#timeouts = 0;
      this.#rtoAt = out.size > 0 ? now + this.#rtt.rto : 0;
      this.#progressAt = now;
      this.#tailProbed = false;
    } else if (d === 0 && p.type === ST_STATE && out.size > 0) this.#dupAcks++;
    if (p.sackLength > 0 && out.size > 0) {
      let lost = false;
      acked += out.sack(p, this.#seqNr, now, this.#rtt.rtt, (seq, o) => {
        lost = true;
        this.#resend(seq, o, now);
        return this.#state !== 'closed';
      });
      if (lost) this.#ledbat.onLoss(now, this.#rtt.rtt);
      if (this.#state === 'closed') return;
    }
    if (minRtt !== Infinity) this.#rtt.sample(minRtt);
    if (this.#dupAcks >= 3 && this.#fastResendSeq === ((out.ackedSeq + 1) & 0xffff)) {
      const o = out.get(this.#fastResendSeq);
      this.#fastResendSeq = (this.#fastResendSeq + 1) & 0xffff;
      // (A packet presumed lost by a timeout is resent by the flush, in order.)
      if (o && !o.lost) {
        this.#ledbat.onLoss(now, this.#rtt.rtt);
        this.#resend(out.ackedSeq + 1, o, now);
      }
    }
    if (acked > 0 && p.timestampDiff !== 0) {
      const queuing = this.#delay.add(p.timestampDiff, now);
      const capped = minRtt === Infinity ? queuing : Math.min(queuing, minRtt * 1000);
      this.#ledbat.onAck(acked, capped, inFlightBefore);
    }
  }

  /* ------------------------------------------------------------------ timers */

  /** Called by the socket's one timer. */
  tick(now: number): void {
    const st = this.#state;
    if (st === 'closed') return;
    const o = this.#host.options;
    if (st === 'syn-sent') {
      if (now >= this.#connectDeadline) {
        this.#finish(connectFailed(this.remote, 'UTP_CONNECT_TIMEOUT', 'no answer to SYN'), 0);
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
      // Everything unacked is presumed lost and resent from the oldest, one window at a time
      // (as libtorrent): with a whole burst lost, acks then bring the rest back quickly instead
      // of one packet per timeout.
      this.#out.markAllLost();
      this.flush();
      return;
    }
    if (
      !this.#tailProbed &&
      this.#timeouts === 0 &&
      this.#rtoAt !== 0 &&
      this.#out.inFlight > 0 &&
      now - this.#progressAt >= Math.max(PROBE_MIN_MS, 4 * this.#rtt.rtt)
    ) {
      // No ack for four round trips (the timeout is at least 500 ms): the tail of a burst is
      // lost — a receiver's socket buffer overflowed — and no later packet will bring a
      // selective ack that shows it. Resend what is unacked now, as after a timeout but with
      // the window halved (a loss) rather than collapsed, once until the acks move again
      // (RFC 8985's tail-loss probe, resending everything rather than one packet).
      this.#tailProbed = true;
      this.#ledbat.onLoss(now, this.#rtt.rtt);
      this.#out.markAllLost();
      this.flush();
      return;
    }
    if (this.#queue.bytes > 0 && this.#out.inFlight === 0 && now >= this.#probeAt)
      this.#host.scheduleFlush(this);
    if (now - this.#lastSent > o.keepaliveMs) this.#sendAck();
  }

  /* ------------------------------------------------------------------ teardown */

  /** The socket went away. */
  socketClosed(): void {
    this.#finish(closedBy(new UtpError('UTP_SOCKET_CLOSED', 'socket closed')), 0);
  }

  #fail(err: UtpError): void {
    if (this.#state === 'closed') return;
    this.#sendControl(ST_RESET);
    this.#finish(closedBy(err), 0);
  }

  #finish(error: TransportError | undefined, lingerMs: number): void {
    if (this.#state === 'closed') return;
    if (!error) {
      // A clean close: what arrived this turn still reaches the consumer, before onClose.
      this.#rx.deliverBatch();
      if ((this.#state as State) === 'closed') return;
    }
    const wasConnecting = this.#state === 'syn-sent';
    this.#state = 'closed';
    this.#closeError = error;
    this.#queue.clear();
    this.#out.clear();
    this.#out.inFlight = 0;
    this.#rx.clear();
    this.#host.release(this, lingerMs);
    if (wasConnecting) {
      const cb = this.onConnected;
      this.onConnected = undefined;
      cb?.(error ?? connectFailed(this.remote, 'UTP_SOCKET_CLOSED', 'cancelled'));
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
      this.#host.send(this.#control(ST_STATE, undefined, 0), this.remote);
    }
  }
}
