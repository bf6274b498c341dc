import * as net from 'node:net';
import { TransportError } from './errors.js';
import { normalizeHost } from './ip.js';

/** A network endpoint: an IPv4 or IPv6 address (IPv6 without brackets) and a port. */
export interface Endpoint {
  host: string;
  port: number;
}

/** What a {@link Connection} reports to its one consumer. */
export interface ConnectionHandlers {
  /**
   * Bytes arrived. The chunk is only valid during the call unless copied: a connection that
   * {@link Connection.lendsReadBuffer | lends its read buffer} overwrites it with the next read.
   */
  onData(chunk: Uint8Array): void;
  /** The write buffer fell below its high-water mark after a `write` returned `false`. */
  onDrain(): void;
  /** The connection is gone (remote end, error or local close). Called once. */
  onClose(error: TransportError | undefined): void;
}

/**
 * A reliable, ordered byte stream to one peer, with a single consumer (see {@link attach}).
 * Implementations: TCP ({@link TcpTransport}) and in-memory ({@link createMemoryPair}).
 */
export interface Connection {
  /** The other end. */
  readonly remote: Endpoint;
  /** Our end. */
  readonly local: Endpoint;
  /** True once closed. */
  readonly closed: boolean;
  /**
   * True when the chunks given to `onData` are views into a buffer reused for later reads (the
   * TCP transport's dialled connections read into one buffer shared by all of them): a consumer
   * must copy any bytes it keeps past the call. When false or absent a chunk is never reused,
   * so views into it stay valid (consumers still must not modify it).
   */
  readonly lendsReadBuffer?: boolean;
  /**
   * Attaches the consumer; data is held until then. A second call replaces the handlers.
   * If the connection already closed, `onClose` runs on the next tick.
   */
  attach(handlers: ConnectionHandlers): void;
  /**
   * Writes `chunks` in order, as one batch (one system call on TCP where the OS allows).
   * Returns `false` when the outgoing buffer is above its high-water mark: wait for `onDrain`.
   * Writing to a closed connection is a no-op that returns `false`.
   *
   * `onWritten`, when given, is called once, asynchronously, when the connection holds no
   * reference to `chunks` any more (TCP: handed to the kernel; in memory: copied), so the caller
   * may reuse their buffers. It may never be called — the connection closed first, or the
   * implementation cannot tell (it then keeps the chunks as long as it likes): treat it as a
   * chance to recycle memory, never as a condition to make progress.
   */
  write(chunks: readonly Uint8Array[], onWritten?: () => void): boolean;
  /** Stops delivering `onData` until {@link resume}. */
  pause(): void;
  resume(): void;
  /** Bytes queued for sending and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Closes after queued data is sent. */
  close(): void;
  /** Closes at once, dropping queued data. */
  destroy(error?: TransportError): void;
}

/** Accepts connections; returned by {@link Transport.listen}. */
export interface Listener {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: Endpoint;
  /** Stops accepting. Existing connections stay open. */
  close(): Promise<void>;
}

/** Options of {@link Transport.connect}. */
export interface ConnectOptions {
  /** Aborts the attempt. */
  signal?: AbortSignal;
}

/** Opens and accepts {@link Connection}s. */
export interface Transport {
  /** Connects to `to`. Rejects with a {@link TransportError} (`TRANSPORT_CONNECT_FAILED`, `ABORTED`). */
  connect(to: Endpoint, options?: ConnectOptions): Promise<Connection>;
  /** Listens on `on` (port 0: any free port) and hands each accepted connection to `onConnection`. */
  listen(on: Endpoint, onConnection: (connection: Connection) => void): Promise<Listener>;
}

// Defined beside util's other errors (this file is near the 600-line limit); importable from here too.
export { TRANSPORT_ERROR_CODES, TransportError, type TransportErrorCode } from './errors.js';

/** High-water mark of the write buffer, in bytes, for both built-in transports. */
export const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

/* ------------------------------------------------------------------------------------------ */
/* TCP                                                                                         */
/* ------------------------------------------------------------------------------------------ */

/**
 * Bytes read per system call by dialled TCP connections, into one buffer shared by all of them
 * (reads and their `onData` calls run one at a time on the event loop, and consumers copy what
 * they keep). Node's default read path allocates a fresh 64 KiB buffer per read: at a few
 * hundred MB/s that is thousands of buffers a second for the GC, which a lent buffer avoids.
 * Not larger: libuv reads up to 32 times per readiness event, and 32 reads of a bigger buffer
 * keep the event loop from write completions long enough for a fast download to fill the
 * store's queue (measured: 256 KiB and up made it slower; bench/README.md, "read path").
 */
export const TCP_READ_BUFFER_SIZE = 64 * 1024;
let sharedReadBuffer: Uint8Array | undefined;

function tcpReadBuffer(): Uint8Array {
  sharedReadBuffer ??= new Uint8Array(TCP_READ_BUFFER_SIZE);
  return sharedReadBuffer;
}

class TcpConnection implements Connection {
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly lendsReadBuffer: boolean;
  #socket: net.Socket;
  #handlers: ConnectionHandlers | undefined;
  #held: Uint8Array[] = [];
  #closed = false;
  #closeError: TransportError | undefined;

  /**
   * `lent`: the socket reads into the shared buffer (`onread`) and its reads arrive through
   * {@link onLentRead}; otherwise through `data` events, each a fresh buffer.
   */
  constructor(socket: net.Socket, lent = false) {
    this.#socket = socket;
    this.lendsReadBuffer = lent;
    // A dual-stack (`::`) socket shows an IPv4 peer as `::ffff:a.b.c.d`: it is the IPv4 peer.
    this.remote = { host: normalizeHost(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    this.local = { host: normalizeHost(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    socket.setNoDelay(true);
    if (!lent) {
      socket.on('data', (chunk: Buffer) => {
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (this.#handlers) this.#handlers.onData(bytes);
        else {
          this.#held.push(bytes);
          socket.pause();
        }
      });
    }
    socket.on('drain', () => this.#handlers?.onDrain());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#closeError = new TransportError('TRANSPORT_ERROR', `socket error: ${err.code ?? err.message}`, {
        cause: err,
      });
    });
    socket.on('close', () => this.#finish());
    // Half-open streams are not part of BitTorrent: end our side when the remote ends.
    socket.on('end', () => socket.end());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** `nread` bytes arrived in the shared read buffer `buf`. */
  onLentRead(nread: number, buf: Uint8Array): void {
    const bytes = buf.subarray(0, nread);
    if (this.#handlers) this.#handlers.onData(bytes);
    else {
      // Not attached yet: keep a copy (the buffer is reused) and stop reading until then.
      this.#held.push(bytes.slice());
      this.#socket.pause();
    }
  }

  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    if (this.#closed) {
      process.nextTick(() => handlers.onClose(this.#closeError));
      return;
    }
    const held = this.#held;
    this.#held = [];
    for (const chunk of held) handlers.onData(chunk);
    if (!this.#closed) this.#socket.resume();
  }

  write(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    const s = this.#socket;
    if (this.#closed || s.destroyed || !s.writable) return false;
    // Writes complete in order: the callback of the last one means every chunk was handed on.
    // An error (the socket destroyed first) means no callback: nothing is promised then.
    const cb = onWritten
      ? (err?: Error | null) => {
          if (!err) onWritten();
        }
      : undefined;
    const n = chunks.length;
    if (n === 1) s.write(chunks[0] as Uint8Array, cb);
    else if (n > 1) {
      s.cork();
      for (let i = 0; i < n - 1; i++) s.write(chunks[i] as Uint8Array);
      s.write(chunks[n - 1] as Uint8Array, cb);
      s.uncork();
    } else if (onWritten) queueMicrotask(onWritten);
    return s.writableLength < DEFAULT_HIGH_WATER_MARK;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (this.#handlers) this.#socket.resume();
  }

  close(): void {
    this.#socket.end();
  }

  destroy(error?: TransportError): void {
    if (error && !this.#closeError) this.#closeError = error;
    this.#socket.destroy();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers?.onClose(this.#closeError);
  }
}

/** Options of a {@link TcpTransport}. */
export interface TcpTransportOptions {
  /**
   * Connections this transport dials read into one shared, reused buffer
   * ({@link Connection.lendsReadBuffer}, {@link TCP_READ_BUFFER_SIZE}) instead of a fresh buffer
   * per read. Only for consumers that honour the flag (`PeerWire` does); a wrapper around these
   * connections must pass `lendsReadBuffer` on. Default false; a `Client` creates its default
   * transport with it on.
   */
  lendReadBuffer?: boolean;
}

/** BitTorrent over TCP (`node:net`). Sockets have Nagle off; writes are batched by the caller. */
export class TcpTransport implements Transport {
  readonly #lend: boolean;

  constructor(options: TcpTransportOptions = {}) {
    this.#lend = options.lendReadBuffer === true;
  }

  connect(to: Endpoint, options: ConnectOptions = {}): Promise<Connection> {
    const lend = this.#lend;
    return new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) {
        reject(new TransportError('ABORTED', 'connect aborted', { cause: signal.reason }));
        return;
      }
      // Node starts reading only after the `connect` listeners ran, so `conn` is set by then.
      let conn: TcpConnection | undefined;
      const socket = lend
        ? net.connect({
            host: to.host,
            port: to.port,
            onread: {
              buffer: tcpReadBuffer(),
              callback: (nread: number, buf: Uint8Array) => {
                conn?.onLentRead(nread, buf);
                return true; // pausing goes through `socket.pause()`
              },
            },
          })
        : net.connect({ host: to.host, port: to.port });
      const onAbort = () => {
        socket.destroy();
        reject(new TransportError('ABORTED', 'connect aborted', { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        conn = new TcpConnection(socket, lend);
        resolve(conn);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        reject(
          new TransportError('TRANSPORT_CONNECT_FAILED', `cannot connect to ${to.host}:${to.port}`, {
            cause: err,
            details: { host: to.host, port: to.port, errno: err.code ?? null },
          }),
        );
      });
    });
  }

  listen(on: Endpoint, onConnection: (connection: Connection) => void): Promise<Listener> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => {
        if (socket.remoteAddress === undefined) {
          socket.destroy();
          return;
        }
        onConnection(new TcpConnection(socket));
      });
      server.once('error', (err) =>
        reject(
          new TransportError('TRANSPORT_LISTEN_FAILED', `cannot listen on ${on.host}:${on.port}`, {
            cause: err,
          }),
        ),
      );
      // On `::` both families (IPv6-only off): IPv4 peers arrive as mapped addresses (normalised).
      server.listen({ port: on.port, host: on.host, ipv6Only: false }, () => {
        const a = server.address();
        const address = typeof a === 'object' && a ? { host: a.address, port: a.port } : { ...on };
        server.removeAllListeners('error');
        server.on('error', () => {});
        resolve({
          address,
          // Stops listening at once; the callback of `server.close` would wait for every
          // accepted connection to end.
          close: async () => {
            server.close();
          },
        });
      });
    });
  }
}

/* ------------------------------------------------------------------------------------------ */
/* In memory                                                                                   */
/* ------------------------------------------------------------------------------------------ */

class MemoryConnection implements Connection {
  peer: MemoryConnection | undefined;
  #handlers: ConnectionHandlers | undefined;
  #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  #paused = false;
  #scheduled = false;
  #closed = false;
  #closing = false;
  #closeError: TransportError | undefined;
  #notified = false;
  #wantDrain = false;

  readonly lendsReadBuffer: boolean;
  /** The reused buffer chunks are delivered in, when lending. */
  #scratch: Uint8Array | undefined;

  constructor(
    readonly local: Endpoint,
    readonly remote: Endpoint,
    lend = false,
  ) {
    this.lendsReadBuffer = lend;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes written by us and not yet delivered to the peer's consumer. */
  get bufferedAmount(): number {
    const peer = this.peer;
    return peer ? peer.#inboxBytes : 0;
  }

  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    this.#schedule();
  }

  write(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    const peer = this.peer;
    if (this.#closed || this.#closing || !peer || peer.#closed) return false;
    for (const c of chunks) {
      if (c.length === 0) continue;
      // Copy: the caller may reuse its buffers, as it may with a socket.
      peer.#inbox.push(c.slice());
      peer.#inboxBytes += c.length;
    }
    if (onWritten) queueMicrotask(onWritten);
    peer.#schedule();
    const ok = peer.#inboxBytes < DEFAULT_HIGH_WATER_MARK;
    if (!ok) this.#wantDrain = true;
    return ok;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#schedule();
  }

  close(): void {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    // Deliver what is queued, then close both ends.
    const peer = this.peer;
    if (peer && !peer.#closed) {
      peer.#remoteClosing = true;
      peer.#schedule();
    } else this.#finish(undefined);
  }

  destroy(error?: TransportError): void {
    if (this.#closed) return;
    this.#finish(error);
    const peer = this.peer;
    if (peer && !peer.#closed) {
      peer.#inbox = [];
      peer.#inboxBytes = 0;
      peer.#finish(new TransportError('TRANSPORT_RESET', 'connection reset by peer'));
    }
  }

  #remoteClosing = false;

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#deliver();
    });
  }

  #deliver(): void {
    if (this.#closed) {
      this.#notify();
      return;
    }
    const h = this.#handlers;
    if (!h) return;
    if (this.lendsReadBuffer) this.#deliverLent(h);
    else {
      while (!this.#paused && !this.#closed && this.#inbox.length > 0) {
        const chunk = this.#inbox.shift() as Uint8Array;
        this.#inboxBytes -= chunk.length;
        h.onData(chunk);
      }
    }
    const writer = this.peer;
    if (
      writer instanceof MemoryConnection &&
      writer.#wantDrain &&
      this.#inboxBytes < DEFAULT_HIGH_WATER_MARK
    ) {
      writer.#wantDrain = false;
      writer.#handlers?.onDrain();
    }
    if (this.#inbox.length === 0 && this.#remoteClosing && !this.#closed) {
      this.#finish(undefined);
      if (writer) writer.#finish(undefined);
    }
  }

  /**
   * Delivers the inbox the way a lending TCP connection does: one read per turn of the event
   * loop (promise callbacks run between reads, as between socket reads), of up to
   * {@link LENT_READ_BYTES} (an odd size) taken from what is queued regardless of how it was
   * written (so messages are cut anywhere), into one reused buffer that is scribbled over after
   * the `onData` call — a consumer that kept a view instead of copying reads garbage (tests).
   */
  #deliverLent(h: ConnectionHandlers): void {
    if (this.#paused || this.#closed || this.#inbox.length === 0) return;
    this.#scratch ??= new Uint8Array(LENT_READ_BYTES);
    let n = 0;
    while (n < LENT_READ_BYTES && this.#inbox.length > 0) {
      const c = this.#inbox[0] as Uint8Array;
      const take = Math.min(c.length, LENT_READ_BYTES - n);
      this.#scratch.set(c.subarray(0, take), n);
      n += take;
      if (take === c.length) this.#inbox.shift();
      else this.#inbox[0] = c.subarray(take);
    }
    this.#inboxBytes -= n;
    const view = this.#scratch.subarray(0, n);
    h.onData(view);
    view.fill(0xee);
    if (this.#inbox.length > 0) this.#schedule();
  }

  #finish(error: TransportError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#schedule();
  }

  #notify(): void {
    if (this.#notified || !this.#handlers) return;
    this.#notified = true;
    this.#handlers.onClose(this.#closeError);
  }
}

let memoryPort = 40000;
/** Largest read of a lending in-memory connection (see `lendReadBuffer`). */
const LENT_READ_BYTES = 40_009;

/** Options of {@link createMemoryPair} and {@link MemoryTransport}. */
export interface MemoryConnectionOptions {
  /**
   * Deliver received bytes in reads of at most 40,009 bytes into a buffer reused for every read
   * and scribbled over after each `onData` call, as a lending TCP connection would
   * ({@link Connection.lendsReadBuffer}): a test of consumers that must copy what they keep.
   * Default false.
   */
  lendReadBuffer?: boolean;
}

/**
 * Two connected in-memory {@link Connection}s. Delivery is asynchronous (one `setImmediate`
 * per batch), ordered and lossless; each written chunk is copied.
 */
export function createMemoryPair(
  a: Endpoint = { host: '127.0.0.1', port: ++memoryPort },
  b: Endpoint = { host: '127.0.0.1', port: ++memoryPort },
  options: MemoryConnectionOptions = {},
): [Connection, Connection] {
  const lend = options.lendReadBuffer === true;
  const ca = new MemoryConnection(a, b, lend);
  const cb = new MemoryConnection(b, a, lend);
  ca.peer = cb;
  cb.peer = ca;
  return [ca, cb];
}

/**
 * An in-memory {@link Transport}: `listen` registers an address in this instance, `connect`
 * reaches it through a {@link createMemoryPair}. For tests and the swarm lab.
 */
export class MemoryTransport implements Transport {
  #listeners = new Map<string, (c: Connection) => void>();
  #nextPort = 10000;
  readonly #options: MemoryConnectionOptions;

  constructor(options: MemoryConnectionOptions = {}) {
    this.#options = options;
  }

  async connect(to: Endpoint, options: ConnectOptions = {}): Promise<Connection> {
    if (options.signal?.aborted) throw new TransportError('ABORTED', 'connect aborted');
    const accept = this.#listeners.get(`${to.host}|${to.port}`);
    if (!accept) {
      throw new TransportError('TRANSPORT_CONNECT_FAILED', `nothing listens on ${to.host}:${to.port}`, {
        details: { host: to.host, port: to.port },
      });
    }
    const [mine, theirs] = createMemoryPair(
      { host: '127.0.0.1', port: this.#nextPort++ },
      { ...to },
      this.#options,
    );
    accept(theirs);
    return mine;
  }

  async listen(on: Endpoint, onConnection: (connection: Connection) => void): Promise<Listener> {
    const port = on.port === 0 ? this.#nextPort++ : on.port;
    const key = `${on.host}|${port}`;
    if (this.#listeners.has(key)) {
      throw new TransportError('TRANSPORT_LISTEN_FAILED', `${on.host}:${port} is in use`);
    }
    this.#listeners.set(key, onConnection);
    return {
      address: { host: on.host, port },
      close: async () => {
        this.#listeners.delete(key);
      },
    };
  }
}
