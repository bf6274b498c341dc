import Wire, { type WireRequest } from 'bittorrent-protocol';
import { type BDict, decode } from '../metainfo/bencode.js';
import { concatBytes, equalBytes, toHex } from '../util/bytes.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { ArgumentError } from '../util/errors.js';
import type { Connection, Endpoint, TransportError } from '../util/transport.js';
import { TypedEmitter } from './emitter.js';
import { WireError } from './errors.js';
import type { ExtensionContext, ExtensionFactory, HandshakeValue, WireExtension } from './extension.js';
import { FrameGuard, type GuardSink, type Handshake } from './guard.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits, type WireTorrent } from './limits.js';

/** One block: a piece index, a byte offset inside the piece and a length. */
export interface BlockRequest {
  index: number;
  offset: number;
  length: number;
}

/** The handshake reserved bits bttkit reads. */
export interface PeerCapabilities {
  /** BEP 10 extension protocol (reserved byte 5, bit 0x10). */
  extended: boolean;
  /** BEP 5 DHT, i.e. the `port` message (reserved byte 7, bit 0x01). */
  dht: boolean;
  /** BEP 6 fast extension (reserved byte 7, bit 0x04). */
  fast: boolean;
}

/** The peer's handshake. */
export interface PeerHandshake extends PeerCapabilities {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The 8 reserved bytes as sent. */
  reserved: Uint8Array;
}

/** The peer's BEP 10 handshake, with the common fields pulled out. */
export interface ExtendedHandshakeInfo {
  /** The whole decoded dictionary. */
  dict: BDict;
  /** Extension name → the peer's id for it (only those with id 1–255). */
  extensions: ReadonlyMap<string, number>;
  /** `reqq`: how many requests the peer queues, if it said. */
  reqq?: number;
  /** `v`: client name and version. */
  client?: string;
  /** `p`: the peer's listen port. */
  port?: number;
}

/**
 * Answers a peer's request: the block, or an error (sends a BEP 6 reject when possible).
 * `onSent`, given with a block, is called once the wire and its connection hold no reference to
 * the block any more (written, or not sent at all), so its buffer may be reused; it may never be
 * called (the wire closed, or the connection cannot tell) — a buffer is then left to the GC.
 */
export type RespondFn = (result: Uint8Array | Error, onSent?: () => void) => void;

/** Called once with the block, or a {@link WireError}. */
export type RequestCallback = (error: WireError | null, block?: Uint8Array) => void;

/**
 * Events of a {@link PeerWire}. Byte arrays are views into received data: copy to keep them
 * apart. With {@link PeerWireOptions.lendBlocks} the block of `piece` (and of a request's
 * callback) is valid only during the call.
 */
export interface PeerWireEvents {
  [event: string]: unknown[];
  handshake: [PeerHandshake];
  'extended-handshake': [ExtendedHandshakeInfo];
  'keep-alive': [];
  choke: [];
  unchoke: [];
  interested: [];
  uninterested: [];
  have: [index: number];
  bitfield: [bits: Uint8Array];
  'have-all': [];
  'have-none': [];
  request: [request: BlockRequest, respond: RespondFn];
  piece: [index: number, offset: number, block: Uint8Array];
  cancel: [request: BlockRequest];
  port: [port: number];
  suggest: [index: number];
  reject: [request: BlockRequest];
  'allowed-fast': [index: number];
  /** A message of a type we do not know (ignored by the protocol). */
  unknown: [id: number, payload: Uint8Array];
  /** The write buffer drained after going above its high-water mark. */
  drain: [];
  /** The wire is closed: `undefined` when we closed it without a reason. Emitted once. */
  close: [error: WireError | undefined];
}

/** Options of a {@link PeerWire}. */
export interface PeerWireOptions {
  /** Our 20-byte peer id. */
  peerId: Uint8Array;
  /** The torrent, when known (outgoing connections). A peer naming another is dropped. */
  infoHash?: Uint8Array;
  /** The torrent's geometry, when known; enables index checks. See {@link PeerWire.setTorrent}. */
  torrent?: WireTorrent;
  /** Timer source. Default: the real clock. */
  clock?: Clock;
  /** Offer BEP 6. Default true. */
  fast?: boolean;
  /** Set the BEP 5 DHT bit (we can answer a `port` message). Default false. */
  dht?: boolean;
  /** `v` in our extended handshake. Default `bttkit`. */
  client?: string;
  /** `p` in our extended handshake: our listen port. */
  listenPort?: number;
  /** Limits on what the peer may send. */
  limits?: Partial<WireLimits>;
  /** Send a keep-alive when nothing was sent for this long. Default 60 s. */
  keepAliveMs?: number;
  /** Drop the peer when nothing arrived for this long. Default 150 s (BEP 3 says two minutes). */
  timeoutMs?: number;
  /** Drop the peer when both handshakes are not done in this time. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Batch outgoing messages into one write per event-loop turn. Default true. */
  batchWrites?: boolean;
  /**
   * Hand received blocks (the `piece` event, request callbacks) on as views into the
   * connection's read buffer, valid only during the call, when the connection lends it
   * ({@link Connection.lendsReadBuffer}): no copy per block for a consumer that copies anyway,
   * like the session, which puts blocks into its store. Default false: such a block is copied
   * first, so it may be kept.
   */
  lendBlocks?: boolean;
}

class BatchingWire extends Wire {
  sink: (data: Uint8Array) => void = () => {};
  /** Where the last pulled request was in `requests`: the next answer is usually right after. */
  #hint = 0;

  override _push(data: Uint8Array): boolean {
    if (this._finished) return false;
    this.sink(data);
    return true;
  }

  /**
   * The stock `_pull` scans from the start; as it removes by moving the last request into the
   * hole, answers arriving in request order sit ever deeper (hundreds of compares per block with
   * a deep queue). Same result — a match, taken out the same way — found from a hint first.
   */
  override _pull(requests: WireRequest[], piece: number, offset: number, length: number): WireRequest | null {
    if (requests !== this.requests) return super._pull(requests, piece, offset, length);
    const n = requests.length;
    const start = this.#hint < n ? this.#hint : 0;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      const r = requests[i] as WireRequest;
      if (r.piece === piece && r.offset === offset && r.length === length) {
        const last = requests.pop() as WireRequest;
        if (i < n - 1) requests[i] = last;
        this.#hint = i + 1;
        return r;
      }
    }
    return null;
  }
}

const noop = () => {};

function requestError(err: Error, closed: boolean): WireError {
  if (closed || /closed/.test(err.message)) return new WireError('WIRE_CLOSED', 'the wire is closed');
  if (/chok/.test(err.message)) return new WireError('WIRE_REQUEST_CHOKED', 'the peer is choking us');
  if (/reject/.test(err.message))
    return new WireError('WIRE_REQUEST_REJECTED', 'the peer rejected the request');
  if (/cancel/.test(err.message)) return new WireError('WIRE_REQUEST_CANCELLED', 'the request was cancelled');
  return new WireError('WIRE_CLOSED', err.message);
}

function asWireError(err: unknown, fallback: 'WIRE_HANDLER_ERROR' | 'WIRE_EXTENSION_ERROR'): WireError {
  if (err instanceof WireError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new WireError(
    fallback,
    `${fallback === 'WIRE_HANDLER_ERROR' ? 'a listener' : 'an extension'} threw: ${msg}`,
    {
      cause: err,
    },
  );
}

/**
 * One BitTorrent peer connection: `bittorrent-protocol`'s `Wire` (state machine and encoders)
 * behind a {@link FrameGuard}, over any {@link Connection}, with keep-alives and timeouts on an
 * injected {@link Clock}, outgoing writes batched per event-loop turn, and typed BEP 10
 * extensions. A hostile or broken peer is dropped with a {@link WireError}; nothing it sends can
 * throw out of the wire.
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
  #wire = new BatchingWire();
  #guard: FrameGuard;
  #opts: PeerWireOptions;
  #infoHash: Uint8Array | undefined;
  #peer: PeerHandshake | undefined;
  #peerExtended: ExtendedHandshakeInfo | undefined;
  #handshakeSent = false;
  #closed = false;
  #closeError: WireError | undefined;
  #out: Uint8Array[] = [];
  /** `onSent` callbacks of blocks in `#out`: run once the batch is written. */
  #outSent: (() => void)[] = [];
  #flushScheduled = false;
  #batch: boolean;
  /** Copy each received block before handing it on (lent reads, `lendBlocks` off). */
  readonly #copyBlocks: boolean;
  #lastSent: number;
  #lastRecv: number;
  #readPaused = false;
  #keepAliveTimer: TimerHandle | undefined;
  #timeoutTimer: TimerHandle | undefined;
  #created: number;
  #extensions: WireExtension[] = [];
  #extByName = new Map<string, WireExtension>();
  #peerExtIds = new Map<string, number>();

  constructor(connection: Connection, options: PeerWireOptions) {
    super();
    if (options.peerId.length !== 20) throw new ArgumentError('BAD_PEER_ID', 'peer id must be 20 bytes');
    if (options.infoHash && options.infoHash.length !== 20) {
      throw new ArgumentError('BAD_INFOHASH', 'info-hash must be 20 bytes');
    }
    this.connection = connection;
    this.clock = options.clock ?? realClock;
    this.limits = Object.freeze({ ...DEFAULT_WIRE_LIMITS, ...options.limits });
    this.#opts = options;
    this.#infoHash = options.infoHash;
    this.#batch = options.batchWrites ?? true;
    this.#created = this.#lastRecv = this.#lastSent = this.clock.now();

    const lentChunks = connection.lendsReadBuffer === true;
    this.#copyBlocks = lentChunks && options.lendBlocks !== true;
    this.#guard = new FrameGuard(this.#sink(), this.limits, options.torrent, { lentChunks });
    this.#wire.sink = (data) => this.#enqueue(data);
    this.#bindWire();
    this.#armTimeout();
    const keepAliveMs = options.keepAliveMs ?? 60_000;
    this.#keepAliveTimer = this.clock.setInterval(
      () => {
        if (this.#handshakeSent && this.clock.now() - this.#lastSent >= keepAliveMs) this.#wire.keepAlive();
      },
      Math.max(1, Math.floor(keepAliveMs / 4)),
    );
    connection.attach({
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#emitSafe('drain'),
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
  /** True when both ends offered BEP 6. */
  get fast(): boolean {
    return this.#wire.hasFast;
  }
  get amChoking(): boolean {
    return this.#wire.amChoking;
  }
  get amInterested(): boolean {
    return this.#wire.amInterested;
  }
  get peerChoking(): boolean {
    return this.#wire.peerChoking;
  }
  get peerInterested(): boolean {
    return this.#wire.peerInterested;
  }
  /** True if the peer said it has piece `index` (bitfield, have, have-all). */
  peerHas(index: number): boolean {
    return this.#wire.peerPieces.get(index);
  }
  /** Our requests the peer has not answered yet. */
  get outstandingRequests(): number {
    return this.#wire.requests.length;
  }
  /** The peer's requests we have not answered yet. */
  get peerRequests(): number {
    return this.#wire.peerRequests.length;
  }
  /** Pieces the peer lets us request while choked (BEP 6). */
  get peerAllowedFast(): readonly number[] {
    return this.#wire.peerAllowedFastSet;
  }
  /** Payload bytes sent in `piece` messages. */
  get uploaded(): number {
    return this.#wire.uploaded;
  }
  /** Payload bytes received in `piece` messages. */
  get downloaded(): number {
    return this.#wire.downloaded;
  }
  /** Bytes waiting to be written (batch plus transport buffer): a session pauses uploads above ~1 MiB. */
  get bufferedAmount(): number {
    let n = this.connection.bufferedAmount;
    for (const c of this.#out) n += c.length;
    return n;
  }

  /** Sets the torrent geometry (after BEP 9): checks a bitfield received before, then every index. */
  setTorrent(torrent: WireTorrent): void {
    try {
      this.#guard.setTorrent(torrent);
    } catch (err) {
      this.#drop(asWireError(err, 'WIRE_HANDLER_ERROR'));
    }
  }

  /* ---------------------------------------------------------------- extensions */

  /**
   * Registers a BEP 10 extension; call before {@link handshake}. Returns the instance, whose own
   * methods and events are typed.
   */
  use<X extends WireExtension>(factory: ExtensionFactory<X>): X {
    if (this.#handshakeSent)
      throw new ArgumentError('WIRE_TOO_LATE', 'register extensions before the handshake');
    const self = this;
    let name = '';
    const ctx: ExtensionContext = {
      get name() {
        return name;
      },
      clock: this.clock,
      get peerSupports() {
        return self.#peerExtIds.has(name);
      },
      send: (payload) => this.#sendExtended(name, payload),
      drop: (error) => this.#drop(error),
    };
    const ext = factory(ctx);
    name = ext.name;
    if (this.#extByName.has(name))
      throw new ArgumentError('WIRE_DUPLICATE_EXTENSION', `${name} registered twice`);
    if (this.#extensions.length >= 250)
      throw new ArgumentError('WIRE_TOO_MANY_EXTENSIONS', 'too many extensions');
    this.#extensions.push(ext);
    this.#extByName.set(name, ext);
    return ext;
  }

  /** True when the peer's extended handshake lists `name`. */
  peerSupports(name: string): boolean {
    return this.#peerExtIds.has(name);
  }

  #sendExtended(name: string, payload: Uint8Array): void {
    const id = this.#peerExtIds.get(name);
    if (id === undefined) throw new WireError('WIRE_NOT_SUPPORTED', `the peer does not support ${name}`);
    if (this.#closed) return;
    this.#wire.extended(id, payload);
  }

  /* ---------------------------------------------------------------- outgoing */

  /**
   * Sends our handshake for `infoHash` (default: the one given in the options, else the peer's —
   * accepting an incoming connection). Sends the extended handshake when the peer supports BEP 10.
   */
  handshake(infoHash?: Uint8Array): void {
    if (this.#closed || this.#handshakeSent) return;
    const ih = infoHash ?? this.#infoHash ?? this.#peer?.infoHash;
    if (ih?.length !== 20) throw new ArgumentError('BAD_INFOHASH', 'info-hash must be 20 bytes');
    if (this.#peer && !equalBytes(this.#peer.infoHash, ih)) {
      this.#drop(new WireError('WIRE_INFOHASH_MISMATCH', 'the peer asked for another torrent'));
      return;
    }
    this.#infoHash = ih;
    const w = this.#wire;
    const fields: Record<string, HandshakeValue> = {
      reqq: this.limits.maxPeerRequests,
      v: this.#opts.client ?? 'bttkit',
    };
    if (this.#opts.listenPort !== undefined) fields.p = this.#opts.listenPort;
    const ip = this.connection.remote.host;
    const yourip = ipBytes(ip);
    if (yourip) fields.yourip = yourip;
    this.#extensions.forEach((ext, i) => {
      w.extendedMapping[i + 1] = ext.name;
      Object.assign(fields, ext.handshakeFields?.() ?? {});
    });
    w.extendedHandshake = fields;
    this.#handshakeSent = true;
    w.handshake(ih, this.#opts.peerId, { dht: this.#opts.dht ?? false, fast: this.#opts.fast ?? true });
    if (this.#guard.holding && !this.#closed) {
      this.#guard.setFast(w.hasFast);
      if (!this.#readPaused) this.connection.resume();
      this.#run(() => this.#guard.resume(), 'WIRE_HANDLER_ERROR');
    }
    this.#armTimeout();
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
    this.#lastRecv = this.clock.now();
    if (!this.#closed && !this.#guard.holding) this.connection.resume();
  }

  /** True between {@link pauseReading} and {@link resumeReading}. */
  get readingPaused(): boolean {
    return this.#readPaused;
  }

  choke(): void {
    this.#wire.choke();
  }
  unchoke(): void {
    this.#wire.unchoke();
  }
  interested(): void {
    this.#wire.interested();
  }
  uninterested(): void {
    this.#wire.uninterested();
  }
  have(index: number): void {
    this.#wire.have(index);
  }
  /** Sends our bitfield (`ceil(pieces / 8)` bytes, high bit first). */
  bitfield(bits: Uint8Array): void {
    this.#wire.bitfield(bits);
  }
  /** BEP 6 have-all. Throws `WIRE_NOT_SUPPORTED` without BEP 6. */
  haveAll(): void {
    this.#needFast();
    this.#wire.haveAll();
  }
  /** BEP 6 have-none. */
  haveNone(): void {
    this.#needFast();
    this.#wire.haveNone();
  }
  /** BEP 6 suggest-piece. */
  suggest(index: number): void {
    this.#needFast();
    this.#wire.suggest(index);
  }
  /** BEP 6 allowed-fast. */
  allowedFast(index: number): void {
    this.#needFast();
    this.#wire.allowedFast(index);
  }
  /** BEP 6 reject-request (normally sent for you by the `respond` of a `request` event). */
  reject(index: number, offset: number, length: number): void {
    this.#needFast();
    this.#wire.reject(index, offset, length);
  }
  /** BEP 5 port message. */
  port(port: number): void {
    this.#wire.port(port);
  }

  /**
   * Requests a block (at most `limits.maxBlockLength`, normally 16 KiB). `callback` gets the block, or a {@link WireError}:
   * `WIRE_REQUEST_CHOKED`, `WIRE_REQUEST_REJECTED`, `WIRE_REQUEST_CANCELLED`, `WIRE_CLOSED`.
   */
  request(index: number, offset: number, length: number, callback: RequestCallback): void {
    if (length <= 0 || length > this.limits.maxBlockLength)
      throw new ArgumentError('BAD_REQUEST', `block length must be 1..${this.limits.maxBlockLength}`);
    this.#wire.request(index, offset, length, (err, block) => {
      if (err) callback(requestError(err, this.#closed));
      else callback(null, block ?? new Uint8Array(0));
    });
  }

  /** Cancels one of our requests; its callback gets `WIRE_REQUEST_CANCELLED`. */
  cancel(index: number, offset: number, length: number): void {
    this.#wire.cancel(index, offset, length);
  }

  /** Sends a block the peer did not go through `request`/`respond` for (rarely needed). */
  piece(index: number, offset: number, block: Uint8Array): void {
    this.#wire.piece(index, offset, block);
  }

  /** Sends a keep-alive now. */
  keepAlive(): void {
    this.#wire.keepAlive();
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
    this.#flush();
    this.#shutdown(undefined);
    this.connection.close();
  }

  #needFast(): void {
    if (!this.#wire.hasFast) throw new WireError('WIRE_NOT_SUPPORTED', 'BEP 6 was not negotiated');
  }

  #enqueue(data: Uint8Array): void {
    if (this.#closed) return;
    this.#lastSent = this.clock.now();
    if (!this.#batch) {
      this.connection.write([data]);
      return;
    }
    this.#out.push(data);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      const flush = () => {
        this.#flushScheduled = false;
        this.#flush();
      };
      if (this.clock.defer) this.clock.defer(flush);
      else setImmediate(flush);
    }
  }

  #flush(): void {
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    const sent = this.#outSent;
    let onWritten: (() => void) | undefined;
    if (sent.length > 0) {
      this.#outSent = [];
      onWritten = () => {
        for (const f of sent) f();
      };
    }
    this.connection.write(coalesce(out), onWritten);
  }

  /* ---------------------------------------------------------------- incoming */

  #sink(): GuardSink {
    const self = this;
    return {
      get stopped() {
        return self.#closed;
      },
      handshake: (frame, hs) => this.#onHandshake(frame, hs),
      frames: (run) => this.#wire._write(run, noop),
      extended: (id, payload) => this.#onExtended(id, payload),
      piece: (index, offset, block) => this.#onPiece(index, offset, block),
    };
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastRecv = this.clock.now();
    this.#run(() => this.#guard.push(chunk), 'WIRE_HANDLER_ERROR');
  }

  #run(fn: () => void, fallback: 'WIRE_HANDLER_ERROR' | 'WIRE_EXTENSION_ERROR'): void {
    try {
      fn();
    } catch (err) {
      this.#drop(asWireError(err, fallback));
    }
  }

  #onHandshake(frame: Uint8Array, hs: Handshake): boolean {
    const r = hs.reserved;
    const peer: PeerHandshake = {
      infoHash: hs.infoHash.slice(),
      peerId: hs.peerId.slice(),
      reserved: r.slice(),
      extended: ((r[5] as number) & 0x10) !== 0,
      dht: ((r[7] as number) & 0x01) !== 0,
      fast: ((r[7] as number) & 0x04) !== 0,
    };
    if (this.#infoHash && !equalBytes(this.#infoHash, peer.infoHash)) {
      throw new WireError('WIRE_INFOHASH_MISMATCH', `the peer asked for ${toHex(peer.infoHash)}`);
    }
    if (equalBytes(peer.peerId, this.#opts.peerId)) {
      throw new WireError('WIRE_SELF_CONNECTION', 'connected to ourselves');
    }
    this.#peer = peer;
    this.#wire._write(frame, noop);
    this.#armTimeout();
    // Listeners may answer with our handshake right away (accepting an incoming connection).
    this.emit('handshake', peer);
    if (this.#closed) return false;
    if (this.#handshakeSent) {
      this.#guard.setFast(this.#wire.hasFast);
      return true;
    }
    this.connection.pause();
    return false;
  }

  /**
   * A piece message, taken apart from the others by the guard (which hands on the messages
   * before it first): what `Wire._onPiece` does, without its parser, debug log, speed meter and
   * two events per block.
   */
  #onPiece(index: number, offset: number, lent: Uint8Array): void {
    const block = this.#copyBlocks ? lent.slice() : lent;
    const w = this.#wire;
    w._callback(w._pull(w.requests, index, offset, block.length), null, block);
    w.downloaded += block.length;
    if (!this.#closed) this.emit('piece', index, offset, block);
  }

  #onExtended(id: number, payload: Uint8Array): void {
    if (id === 0) {
      this.#onExtendedHandshake(payload);
      return;
    }
    const ext = this.#extensions[id - 1];
    if (!ext) return; // not an id we gave out: ignored, as BEP 10 asks
    if (payload.length > ext.maxPayload) {
      throw new WireError(
        'WIRE_EXTENSION_MESSAGE_TOO_LARGE',
        `${ext.name} message of ${payload.length} bytes`,
        {
          details: { extension: ext.name, length: payload.length, max: ext.maxPayload },
        },
      );
    }
    try {
      ext.onMessage(payload);
    } catch (err) {
      throw asWireError(err, 'WIRE_EXTENSION_ERROR');
    }
  }

  #onExtendedHandshake(payload: Uint8Array): void {
    let dict: BDict;
    try {
      const v = decode(payload, { maxBytes: payload.length, maxDepth: 16, maxItems: 10_000 });
      if (!(v instanceof Map)) throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', 'not a dictionary');
      dict = v;
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', 'malformed extended handshake', { cause: err });
    }
    const m = dict.get('m');
    if (m !== undefined) {
      if (!(m instanceof Map)) throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', '`m` is not a dictionary');
      for (const [name, v] of m) {
        if (typeof v !== 'bigint' || v < 0n || v > 255n) continue;
        if (v === 0n) this.#peerExtIds.delete(name);
        else this.#peerExtIds.set(name, Number(v));
      }
    }
    const info: ExtendedHandshakeInfo = { dict, extensions: new Map(this.#peerExtIds) };
    const reqq = dict.get('reqq');
    if (typeof reqq === 'bigint' && reqq > 0n && reqq <= 1_000_000n) info.reqq = Number(reqq);
    const v = dict.get('v');
    if (v instanceof Uint8Array && v.length <= 256) info.client = new TextDecoder().decode(v);
    const p = dict.get('p');
    if (typeof p === 'bigint' && p > 0n && p < 65536n) info.port = Number(p);
    this.#peerExtended = info;
    this.emit('extended-handshake', info);
    for (const ext of this.#extensions) {
      if (this.#closed) return;
      try {
        ext.onExtendedHandshake?.(dict);
      } catch (err) {
        throw asWireError(err, 'WIRE_EXTENSION_ERROR');
      }
    }
  }

  #bindWire(): void {
    const w = this.#wire;
    const on = (event: string, fn: (...args: never[]) => void) => {
      w.on(event, (...args: never[]) => {
        if (!this.#closed) fn(...args);
      });
    };
    on('keep-alive', () => this.emit('keep-alive'));
    on('choke', () => this.emit('choke'));
    on('unchoke', () => this.emit('unchoke'));
    on('interested', () => this.emit('interested'));
    on('uninterested', () => this.emit('uninterested'));
    on('have', (index: number) => this.emit('have', index));
    on('bitfield', () => this.emit('bitfield', w.peerPieces.buffer));
    on('have-all', () => this.emit('have-all'));
    on('have-none', () => this.emit('have-none'));
    on(
      'request',
      (index: number, offset: number, length: number, respond: (e: Error | null, b?: Uint8Array) => void) => {
        if (w.peerRequests.length > this.limits.maxPeerRequests) {
          throw new WireError(
            'WIRE_TOO_MANY_REQUESTS',
            `more than ${this.limits.maxPeerRequests} requests queued`,
            {
              details: { max: this.limits.maxPeerRequests },
            },
          );
        }
        const answer: RespondFn = (result, onSent) => {
          if (this.#closed) return;
          if (result instanceof Error) respond(result);
          else if (result.length !== length) {
            throw new ArgumentError(
              'BAD_BLOCK',
              `block of ${result.length} bytes for a request of ${length}`,
            );
          } else {
            const queued = this.#out.length;
            respond(null, result);
            // Written at once (no batching): the transport was not asked to tell, so the block
            // is left to the GC.
            if (!onSent || this.#closed || !this.#batch) return;
            // Not queued (the request was cancelled meanwhile): nothing refers to the block.
            if (this.#out.length === queued) queueMicrotask(onSent);
            // Released when the batch holding it is written.
            else this.#outSent.push(onSent);
          }
        };
        this.emit('request', { index, offset, length }, answer);
      },
    );
    on('piece', (index: number, offset: number, block: Uint8Array) =>
      this.emit('piece', index, offset, block),
    );
    on('cancel', (index: number, offset: number, length: number) =>
      this.emit('cancel', { index, offset, length }),
    );
    on('port', (port: number) => this.emit('port', port));
    on('suggest', (index: number) => this.emit('suggest', index));
    on('reject', (index: number, offset: number, length: number) =>
      this.emit('reject', { index, offset, length }),
    );
    on('allowed-fast', (index: number) => this.emit('allowed-fast', index));
    on('unknownmessage', (buf: Uint8Array) => this.emit('unknown', buf[0] as number, buf.subarray(1)));
    // Wire emits 'error' only from streamx internals; keep it from becoming an uncaught exception.
    w.on('error', noop);
  }

  #emitSafe(event: 'drain'): void {
    this.#run(() => this.emit(event), 'WIRE_HANDLER_ERROR');
  }

  /* ---------------------------------------------------------------- timers and closing */

  #armTimeout(): void {
    this.#timeoutTimer?.cancel();
    if (this.#closed) return;
    const ready = this.#handshakeSent && this.#peer !== undefined;
    const limit = ready ? (this.#opts.timeoutMs ?? 150_000) : (this.#opts.handshakeTimeoutMs ?? 30_000);
    const from = ready ? this.#lastRecv : this.#created;
    const wait = Math.max(1, from + limit - this.clock.now());
    this.#timeoutTimer = this.clock.setTimeout(() => {
      if (this.#closed) return;
      const nowReady = this.#handshakeSent && this.#peer !== undefined;
      if (nowReady !== ready) return this.#armTimeout();
      if (ready && this.#readPaused) {
        // We are not reading: the peer's silence is ours.
        this.#lastRecv = this.clock.now();
        return this.#armTimeout();
      }
      const since = this.clock.now() - (ready ? this.#lastRecv : this.#created);
      if (since < limit) return this.#armTimeout();
      this.#drop(
        ready
          ? new WireError('WIRE_TIMEOUT', `nothing received for ${since} ms`, { details: { ms: since } })
          : new WireError('WIRE_HANDSHAKE_TIMEOUT', `no handshake after ${since} ms`, {
              details: { ms: since },
            }),
      );
    }, wait);
  }

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
    this.#out = [];
    this.#outSent = [];
    this.#shutdown(error);
    this.connection.destroy();
  }

  #shutdown(error: WireError | undefined): void {
    this.#closed = true;
    this.#closeError = error;
    this.#keepAliveTimer?.cancel();
    this.#timeoutTimer?.cancel();
    this.#wire.destroy();
    for (const ext of this.#extensions) {
      try {
        ext.onClose?.(error);
      } catch {
        // An extension failing while closing must not stop the others.
      }
    }
    try {
      this.emit('close', error);
    } catch {
      // A throwing close listener has nothing left to break.
    }
  }
}

/** A dotted-quad IPv4 literal (1–3 digits per part, each ≤ 255) as 4 bytes, or undefined. */
function ipv4Bytes(host: string): Uint8Array | undefined {
  const n = host.length;
  if (n < 7 || n > 15) return undefined;
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? host.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else if (c === 46) {
      if (digits === 0 || value > 255 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

/** Chunks at most this long are joined into one buffer before a write (request messages…). */
const SMALL_CHUNK = 256;

/**
 * Joins runs of small chunks (message headers, requests, haves) into one buffer each, so that a
 * batch of 100 requests is one 1,700-byte chunk for the socket rather than 100 of 17 bytes
 * (each chunk of a `writev` costs a conversion and an iovec). Large chunks (blocks) stay as
 * they are: copying them would cost more than it saves.
 */
function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  const n = chunks.length;
  if (n < 2) return chunks;
  let small = 0;
  for (let i = 0; i < n; i++) if ((chunks[i] as Uint8Array).length <= SMALL_CHUNK) small++;
  if (small < 2) return chunks;
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < n) {
    const c = chunks[i] as Uint8Array;
    if (c.length > SMALL_CHUNK) {
      out.push(c);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && (chunks[j] as Uint8Array).length <= SMALL_CHUNK) j++;
    out.push(j - i === 1 ? c : concatBytes(chunks.slice(i, j)));
    i = j;
  }
  return out;
}

/** The 4 or 16 bytes of an IP address literal, or undefined. */
export function ipBytes(host: string): Uint8Array | undefined {
  const v4 = ipv4Bytes(host);
  if (v4) return v4;
  if (!host.includes(':')) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped?.[1]) return ipBytes(mapped[1]);
  const halves = host.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? '';
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = Number.parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  return out;
}
