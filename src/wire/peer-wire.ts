import { equalBytes, toHex } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import type { Connection, Endpoint, TransportError } from '../util/transport.js';
import { TypedEmitter } from './emitter.js';
import { WireError } from './errors.js';
import type { ExtensionFactory, HandshakeValue, WireExtension } from './extension.js';
import { type ExtendedHandshakeInfo, ExtensionRegistry } from './extension-registry.js';
import { FrameGuard, type GuardSink, type Handshake } from './guard.js';
import * as bep52 from './hash-messages.js';
import { ipBytes } from './ip.js';
import { DEFAULT_WIRE_LIMITS, MessageId, type WireLimits, type WireTorrent } from './limits.js';
import { Liveness } from './liveness.js';
import type {
  PeerHandshake,
  PeerWireEvents,
  PeerWireOptions,
  RequestCallback,
  RespondFn,
} from './peer-wire-types.js';
import { type UpstreamHandlers, UpstreamWire } from './upstream.js';
import { WriteBatcher } from './write-batch.js';

export type { ExtendedHandshakeInfo } from './extension-registry.js';
export { ipBytes } from './ip.js';

export type {
  BlockRequest,
  PeerCapabilities,
  PeerHandshake,
  PeerWireEvents,
  PeerWireOptions,
  RequestCallback,
  RespondFn,
} from './peer-wire-types.js';

/** What one of our listeners threw, as a {@link WireError} (`WIRE_HANDLER_ERROR` unless it is one). */
function handlerError(err: unknown): WireError {
  if (err instanceof WireError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new WireError('WIRE_HANDLER_ERROR', `a listener threw: ${msg}`, { cause: err });
}

/**
 * One BitTorrent peer connection over any {@link Connection}: the framing guard parses and
 * validates what the peer sends, `bittorrent-protocol`'s `Wire` (through the adapter in
 * upstream.ts) keeps the protocol state and encodes what we send, writes are batched per
 * event-loop turn (write-batch.ts), keep-alives and timeouts run on an injected {@link Clock}
 * (liveness.ts), and BEP 10 extensions are typed (extension-registry.ts). A hostile or broken
 * peer is dropped with a {@link WireError}; nothing it sends can throw out of the wire.
 *
 * @example
 * ```ts
 * const conn = await new TcpTransport().connect({ host: '127.0.0.1', port: 6881 });
 * const wire = new PeerWire(conn, { peerId, infoHash });
 * const meta = wire.use(utMetadata({ infoHash }));
 * wire.on('close', (err) => console.log('closed', err?.code));
 * wire.handshake();
 * ```
 */
export class PeerWire extends TypedEmitter<PeerWireEvents> {
  readonly connection: Connection;
  readonly clock: Clock;
  readonly limits: Readonly<WireLimits>;
  readonly #up: UpstreamWire;
  readonly #guard: FrameGuard;
  readonly #writer: WriteBatcher;
  readonly #liveness: Liveness;
  readonly #ext: ExtensionRegistry;
  readonly #opts: PeerWireOptions;
  /** Copy each received block before handing it on (lent reads, `lendBlocks` off). */
  readonly #copyBlocks: boolean;
  #infoHash: Uint8Array | undefined;
  #peer: PeerHandshake | undefined;
  #peerExtended: ExtendedHandshakeInfo | undefined;
  #handshakeSent = false;
  #closed = false;
  #closeError: WireError | undefined;
  #readPaused = false;
  readonly #bep52: bep52.HashExchange;

  constructor(connection: Connection, options: PeerWireOptions) {
    super();
    if (options.peerId.length !== 20) throw new WireError('WIRE_BAD_PEER_ID', 'peer id must be 20 bytes');
    if (options.infoHash && options.infoHash.length !== 20) {
      throw new WireError('WIRE_BAD_INFOHASH', 'info-hash must be 20 bytes');
    }
    this.#bep52 = new bep52.HashExchange(options, {
      request: (r) => this.emit('hash-request', r),
      hashes: (m) => this.emit('hashes', m),
      reject: (r) => this.emit('hash-reject', r),
    });
    this.connection = connection;
    this.clock = options.clock ?? realClock;
    this.limits = Object.freeze({ ...DEFAULT_WIRE_LIMITS, ...options.limits });
    this.#opts = options;
    this.#infoHash = options.infoHash;

    const lentChunks = connection.lendsReadBuffer === true;
    this.#copyBlocks = lentChunks && options.lendBlocks !== true;
    this.#writer = new WriteBatcher(connection, this.clock, options.batchWrites ?? true);
    this.#up = new UpstreamWire(this.#upstreamHandlers());
    this.#guard = new FrameGuard(this.#guardSink(), this.limits, options.torrent, { lentChunks });
    const self = this;
    this.#ext = new ExtensionRegistry({
      clock: this.clock,
      get closed() {
        return self.#closed;
      },
      sendExtended: (id, payload) => this.#up.extended(id, payload),
      drop: (error) => this.#drop(error),
    });
    this.#liveness = new Liveness(
      this.clock,
      {
        get ready() {
          return self.#handshakeSent && self.#peer !== undefined;
        },
        get handshakeSent() {
          return self.#handshakeSent;
        },
        get readingPaused() {
          return self.#readPaused;
        },
        sendKeepAlive: () => this.#up.keepAlive(),
        timedOut: (error) => this.#drop(error),
      },
      options,
    );
    connection.attach({
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#run(() => this.emit('drain')),
      onClose: (err) => this.#onTransportClose(err),
    });
  }

  /* ---------------------------------------------------------------- state */

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }
  /** Why the wire closed, if it did with an error. */
  get closeError(): WireError | undefined {
    return this.#closeError;
  }
  /** The remote address. */
  get remote(): Endpoint {
    return this.connection.remote;
  }
  /** The torrent's info-hash, once known (ours or the peer's). */
  get infoHash(): Uint8Array | undefined {
    return this.#infoHash ?? this.#peer?.infoHash;
  }
  /** The peer's handshake, once received. */
  get peerHandshake(): PeerHandshake | undefined {
    return this.#peer;
  }
  /** The peer's extended handshake, once received. */
  get peerExtendedHandshake(): ExtendedHandshakeInfo | undefined {
    return this.#peerExtended;
  }
  /** True once BEP 52 is negotiated (see `negotiatedV2`): hash messages may flow. */
  get v2(): boolean {
    return this.#bep52.on;
  }
  /** True when both ends offered BEP 6. */
  get fast(): boolean {
    return this.#up.hasFast;
  }
  get amChoking(): boolean {
    return this.#up.amChoking;
  }
  get amInterested(): boolean {
    return this.#up.amInterested;
  }
  get peerChoking(): boolean {
    return this.#up.peerChoking;
  }
  get peerInterested(): boolean {
    return this.#up.peerInterested;
  }
  /** True if the peer said it has piece `index` (bitfield, have, have-all). */
  peerHas(index: number): boolean {
    return this.#up.peerHas(index);
  }
  /** Our requests the peer has not answered yet. */
  get outstandingRequests(): number {
    return this.#up.requests;
  }
  /** The peer's requests we have not answered yet. */
  get peerRequests(): number {
    return this.#up.peerRequests;
  }
  /** Pieces the peer lets us request while choked (BEP 6). */
  get peerAllowedFast(): readonly number[] {
    return this.#up.peerAllowedFast;
  }
  /** Payload bytes sent in `piece` messages. */
  get uploaded(): number {
    return this.#up.uploaded;
  }
  /** Payload bytes received in `piece` messages. */
  get downloaded(): number {
    return this.#up.downloaded;
  }
  /** Bytes waiting to be written (batch plus transport buffer): a session pauses uploads above ~1 MiB. */
  get bufferedAmount(): number {
    return this.connection.bufferedAmount + this.#writer.queuedBytes;
  }

  /** Sets the torrent geometry (after BEP 9): checks a bitfield received before, then every index. */
  setTorrent(torrent: WireTorrent): void {
    this.#run(() => this.#guard.setTorrent(torrent));
  }

  /* ---------------------------------------------------------------- extensions */

  /**
   * Registers a BEP 10 extension; call before {@link handshake}. Returns the instance, whose own
   * methods and events are typed.
   */
  use<X extends WireExtension>(factory: ExtensionFactory<X>): X {
    if (this.#handshakeSent) throw new WireError('WIRE_TOO_LATE', 'register extensions before the handshake');
    return this.#ext.use(factory);
  }

  /** True when the peer's extended handshake lists `name`. */
  peerSupports(name: string): boolean {
    return this.#ext.peerSupports(name);
  }

  /* ---------------------------------------------------------------- outgoing */

  /**
   * Sends our handshake for `infoHash` (default: the one given in the options, else the peer's —
   * accepting an incoming connection). Sends the extended handshake when the peer supports BEP 10.
   * `v2`: the torrent's BEP 52 options, when only known now (accepting), over the constructor's.
   */
  handshake(infoHash?: Uint8Array, v2?: bep52.V2Options): void {
    if (this.#closed || this.#handshakeSent) return;
    if (v2) this.#bep52.configure(v2);
    const ih = infoHash ?? this.#infoHash ?? this.#peer?.infoHash;
    if (ih?.length !== 20) throw new WireError('WIRE_BAD_INFOHASH', 'info-hash must be 20 bytes');
    if (this.#peer && !equalBytes(this.#peer.infoHash, ih) && !(this.#peer.v2 && this.#bep52.upgrade(ih))) {
      this.#drop(new WireError('WIRE_INFOHASH_MISMATCH', 'the peer asked for another torrent'));
      return;
    }
    this.#infoHash = ih;
    const fields: Record<string, HandshakeValue> = {
      reqq: this.limits.maxPeerRequests,
      v: this.#opts.client ?? 'bttkit',
    };
    if (this.#opts.listenPort !== undefined) fields.p = this.#opts.listenPort;
    const yourip = ipBytes(this.connection.remote.host);
    if (yourip) fields.yourip = yourip;
    this.#ext.addHandshakeFields(fields);
    this.#handshakeSent = true;
    const flags = { dht: this.#opts.dht ?? false, fast: this.#opts.fast ?? true, v2: this.#bep52.bit };
    // Our handshake leaves at once, as a write of its own; what follows it (the extended
    // handshake, the bitfield) goes with the next flush, so on uTP in a later packet: Transmission
    // 3.00 reads a handshake off a uTP packet and leaves the rest of that packet unread until more
    // data comes (an 80 s stall, until our first keep-alive). An MSE responder sends its
    // handshake with crypto_select, so the peer's is often in hand when ours is written.
    this.#writer.writeNextAlone();
    this.#up.handshake(ih, this.#opts.peerId, flags, fields, this.#ext.names());
    if (this.#guard.holding && !this.#closed) {
      this.#settle();
      if (!this.#readPaused) this.connection.resume();
      this.#run(() => this.#guard.resume());
    }
    this.#liveness.arm();
  }

  /**
   * Stops reading from the peer until {@link resumeReading} (backpressure: what it sends waits in
   * the network buffers, and TCP slows it down). Messages already read are still delivered.
   * The silence timeout does not count the time paused.
   */
  pauseReading(): void {
    if (this.#readPaused || this.#closed) return;
    this.#readPaused = true;
    this.connection.pause();
  }

  /** Reads from the peer again after {@link pauseReading}. */
  resumeReading(): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    this.#liveness.received();
    if (!this.#closed && !this.#guard.holding) this.connection.resume();
  }

  /** True between {@link pauseReading} and {@link resumeReading}. */
  get readingPaused(): boolean {
    return this.#readPaused;
  }

  choke(): void {
    this.#up.choke();
  }
  unchoke(): void {
    this.#up.unchoke();
  }
  interested(): void {
    this.#up.interested();
  }
  uninterested(): void {
    this.#up.uninterested();
  }
  have(index: number): void {
    this.#up.have(index);
  }
  /** Sends our bitfield (`ceil(pieces / 8)` bytes, high bit first). */
  bitfield(bits: Uint8Array): void {
    this.#up.bitfield(bits);
  }
  /** BEP 6 have-all. Throws `WIRE_NOT_SUPPORTED` without BEP 6. */
  haveAll(): void {
    this.#needFast();
    this.#up.haveAll();
  }
  /** BEP 6 have-none. */
  haveNone(): void {
    this.#needFast();
    this.#up.haveNone();
  }
  /** BEP 6 suggest-piece. */
  suggest(index: number): void {
    this.#needFast();
    this.#up.suggest(index);
  }
  /** BEP 6 allowed-fast. */
  allowedFast(index: number): void {
    this.#needFast();
    this.#up.allowedFast(index);
  }
  /** BEP 6 reject-request (normally sent for you by the `respond` of a `request` event). */
  reject(index: number, offset: number, length: number): void {
    this.#needFast();
    this.#up.reject(index, offset, length);
  }
  /** BEP 5 port message. */
  port(port: number): void {
    this.#up.port(port);
  }

  /**
   * Requests a block (at most `limits.maxBlockLength`, normally 16 KiB). `callback` gets the block, or a {@link WireError}:
   * `WIRE_REQUEST_CHOKED`, `WIRE_REQUEST_REJECTED`, `WIRE_REQUEST_CANCELLED`, `WIRE_CLOSED`.
   */
  request(index: number, offset: number, length: number, callback: RequestCallback): void {
    if (length <= 0 || length > this.limits.maxBlockLength)
      throw new WireError('WIRE_BAD_REQUEST', `block length must be 1..${this.limits.maxBlockLength}`);
    this.#up.request(index, offset, length, callback);
  }

  /** Cancels one of our requests; its callback gets `WIRE_REQUEST_CANCELLED`. */
  cancel(index: number, offset: number, length: number): void {
    this.#up.cancel(index, offset, length);
  }

  /** Sends a block the peer did not go through `request`/`respond` for (rarely needed). */
  piece(index: number, offset: number, block: Uint8Array): void {
    this.#up.piece(index, offset, block);
  }

  /**
   * BEP 52: asks for hashes; the answer is a `hashes` or `hash-reject` event. Needs {@link v2}
   * (else `WIRE_NOT_SUPPORTED`); at most `MAX_OUTSTANDING_HASH_REQUESTS` unanswered
   * (`WIRE_TOO_MANY_REQUESTS`); fields out of bounds: `WIRE_BAD_HASH_MESSAGE`.
   */
  hashRequest(req: bep52.HashRequest): void {
    this.#up.send(this.#bep52.request(req));
  }

  /** BEP 52: answers a `hash-request` with the hashes and the uncles its `proofLayers` call for. */
  hashes(msg: bep52.HashesMessage): void {
    this.#up.send(this.#bep52.answer(msg));
  }

  /** BEP 52: declines a `hash-request` (same fields). */
  hashReject(req: bep52.HashRequest): void {
    this.#up.send(this.#bep52.reject(req));
  }

  /** Sends a keep-alive now. */
  keepAlive(): void {
    this.#up.keepAlive();
  }

  /**
   * Closes the wire. Without `error`, queued messages are sent first; with one, the connection is
   * dropped at once and `close` carries it.
   */
  close(error?: WireError): void {
    if (this.#closed) return;
    if (error) {
      this.#drop(error);
      return;
    }
    this.#writer.flush();
    this.#shutdown(undefined);
    this.connection.close();
  }

  /** Both handshakes are in: which optional messages may follow (BEP 6, BEP 52). */
  #settle(): void {
    this.#guard.setFast(this.#up.hasFast);
    this.#guard.setV2(this.#bep52.settle(this.#peer?.v2 === true, [this.#infoHash, this.#peer?.infoHash]));
  }

  #needFast(): void {
    if (!this.#up.hasFast) throw new WireError('WIRE_NOT_SUPPORTED', 'BEP 6 was not negotiated');
  }

  /* ---------------------------------------------------------------- from the state machine */

  #upstreamHandlers(): UpstreamHandlers {
    return {
      output: (data) => {
        if (this.#closed) return;
        this.#liveness.sent();
        this.#writer.enqueue(data);
      },
      choke: () => this.emit('choke'),
      unchoke: () => this.emit('unchoke'),
      interested: () => this.emit('interested'),
      uninterested: () => this.emit('uninterested'),
      have: (index) => this.emit('have', index),
      bitfield: (bits) => this.emit('bitfield', bits),
      haveAll: () => this.emit('have-all'),
      haveNone: () => this.emit('have-none'),
      request: (index, offset, length, respond) => {
        const max = this.limits.maxPeerRequests;
        if (this.#up.peerRequests > max) {
          throw new WireError('WIRE_TOO_MANY_REQUESTS', `more than ${max} requests queued`, {
            details: { max },
          });
        }
        const writer = this.#writer;
        const answer: RespondFn = (result, onSent) => {
          if (this.#closed) return;
          if (result instanceof Error) respond(result);
          else if (result.length !== length) {
            throw new WireError(
              'WIRE_BAD_BLOCK',
              `block of ${result.length} bytes for a request of ${length}`,
            );
          } else {
            const queued = writer.queued;
            respond(null, result);
            // Written at once (no batching): the transport was not asked to tell, so the block
            // is left to the GC.
            if (!onSent || this.#closed || !writer.batching) return;
            // Not queued (the request was cancelled or rejected by a choke meanwhile): nothing refers to the block.
            if (writer.queued === queued) queueMicrotask(onSent);
            // Released when the batch holding it is written.
            else writer.onFlushed(onSent);
          }
        };
        this.emit('request', { index, offset, length }, answer);
      },
      cancel: (index, offset, length) => {
        this.emit('cancel', { index, offset, length });
      },
      reject: (index, offset, length) => this.emit('reject', { index, offset, length }),
      allowedFast: (index) => this.emit('allowed-fast', index),
    };
  }

  /* ---------------------------------------------------------------- incoming */

  #guardSink(): GuardSink {
    const self = this;
    return {
      get stopped() {
        return self.#closed;
      },
      handshake: (hs) => this.#onHandshake(hs),
      keepAlive: () => this.emit('keep-alive'),
      message: (id, a, b, c) => {
        if (id === MessageId.port) this.emit('port', a);
        else if (id === MessageId.suggest) this.emit('suggest', a);
        else this.#up.onMessage(id, a, b, c);
      },
      bitfield: (bits) => this.#up.onBitfield(bits),
      piece: (index, offset, block) => this.#onPiece(index, offset, block),
      extended: (id, payload) => this.#onExtended(id, payload),
      unknown: (id, payload) => this.emit('unknown', id, payload),
      hash: (id, m) => this.#bep52.receive(id, m),
    };
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#liveness.received();
    this.#run(() => this.#guard.push(chunk));
  }

  /** Runs `fn`; what it throws drops the peer (a listener's error as `WIRE_HANDLER_ERROR`). */
  #run(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#drop(handlerError(err));
    }
  }

  #onHandshake(hs: Handshake): boolean {
    const r = hs.reserved;
    const peer: PeerHandshake = {
      infoHash: hs.infoHash.slice(),
      peerId: hs.peerId.slice(),
      reserved: r.slice(),
      extended: ((r[5] as number) & 0x10) !== 0,
      dht: ((r[7] as number) & 0x01) !== 0,
      fast: ((r[7] as number) & 0x04) !== 0,
      v2: ((r[7] as number) & 0x10) !== 0,
    };
    if (this.#infoHash && !equalBytes(this.#infoHash, peer.infoHash) && !this.#bep52.upgrade(peer.infoHash)) {
      throw new WireError('WIRE_INFOHASH_MISMATCH', `the peer asked for ${toHex(peer.infoHash)}`);
    }
    if (equalBytes(peer.peerId, this.#opts.peerId)) {
      throw new WireError('WIRE_SELF_CONNECTION', 'connected to ourselves');
    }
    this.#peer = peer;
    this.#up.onHandshake(peer.infoHash, peer.peerId, {
      dht: peer.dht,
      fast: peer.fast,
      extended: peer.extended,
    });
    this.#liveness.arm();
    if (this.#handshakeSent) this.#settle(); // listeners may send hash requests at once
    // Listeners may answer with our handshake right away (accepting an incoming connection).
    this.emit('handshake', peer);
    if (this.#closed) return false;
    if (this.#handshakeSent) {
      this.#settle();
      return true;
    }
    this.connection.pause();
    return false;
  }

  #onPiece(index: number, offset: number, lent: Uint8Array): void {
    const block = this.#copyBlocks ? lent.slice() : lent;
    this.#up.onPiece(index, offset, block);
    if (!this.#closed) this.emit('piece', index, offset, block);
  }

  #onExtended(id: number, payload: Uint8Array): void {
    if (id !== 0) {
      this.#ext.onMessage(id, payload);
      return;
    }
    const info = this.#ext.parseHandshake(payload);
    this.#peerExtended = info;
    this.emit('extended-handshake', info);
    this.#ext.deliverHandshake(info.dict);
  }

  /* ---------------------------------------------------------------- closing */

  #onTransportClose(err: TransportError | undefined): void {
    if (this.#closed) return;
    this.#shutdown(
      err
        ? new WireError('WIRE_CONNECTION_ERROR', err.message, { cause: err })
        : new WireError('WIRE_CONNECTION_CLOSED', 'the peer closed the connection'),
    );
  }

  #drop(error: WireError): void {
    if (this.#closed) return;
    this.#writer.clear();
    this.#shutdown(error);
    this.connection.destroy();
  }

  #shutdown(error: WireError | undefined): void {
    this.#closed = true;
    this.#closeError = error;
    this.#liveness.stop();
    this.#up.destroy();
    this.#bep52.close();
    this.#ext.close(error);
    try {
      this.emit('close', error);
    } catch {
      // A throwing close listener has nothing left to break.
    }
  }
}
