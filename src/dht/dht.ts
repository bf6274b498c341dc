import { createSocket, type Socket } from 'node:dgram';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import DHT from 'bittorrent-dht';
import { decode } from '../metainfo/bencode.js';
import { formatPeerAddress, type PeerAddress, parsePeerAddress } from '../metainfo/magnet.js';
import { fromHex, toHex } from '../util/bytes.js';
import { TypedEmitter } from '../util/emitter.js';
import { AbortError } from '../util/errors.js';
import { ipVersion } from '../util/ip.js';
import type { Endpoint } from '../util/transport.js';
import { DhtError, type DhtErrorCode } from './errors.js';
import { MAINLINE_ROUTERS } from './routers.js';

export { DHT_ERROR_CODES, DhtError, type DhtErrorCode } from './errors.js';

export { MAINLINE_ROUTERS } from './routers.js';

/** Options of {@link Dht.create}. */
export interface DhtOptions {
  /** Bootstrap nodes (`host:port` or endpoints). Default {@link MAINLINE_ROUTERS}; `[]` for none. */
  bootstrap?: readonly (string | Endpoint)[];
  /** Address to bind. Default `0.0.0.0`. */
  host?: string;
  /** UDP port. Default 0 (any). */
  port?: number;
  /** 20-byte node id. Default random. */
  nodeId?: Uint8Array;
  /**
   * A file holding the routing table: read on start (its nodes bootstrap this run) and written
   * by {@link Dht.saveRoutingTable} and on {@link Dht.destroy}.
   */
  routingTableFile?: string;
  /** Largest datagram accepted; larger ones are dropped unread. Default 8 KiB. */
  maxDatagramBytes?: number;
}

/** A BEP 44 item. */
export interface DhtItem {
  /** The value (bencoded by the writer; at most 1000 bytes). */
  value: Uint8Array;
  /** Mutable items: the ed25519 public key, sequence number and salt. */
  publicKey?: Uint8Array;
  seq?: number;
  salt?: Uint8Array;
}

/** An ed25519 key pair for BEP 44 mutable items. */
export interface DhtKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** Events of a {@link Dht}. */
export interface DhtEvents {
  /** A peer for `infoHash` (hex), found by a lookup. */
  peer: [peer: PeerAddress, infoHash: string];
  /** Bootstrap finished. */
  ready: [];
  /** Something went wrong that the DHT survives (including hostile datagrams dropped). */
  warning: [DhtError];
}

/** Limits applied to every datagram before bittorrent-dht's own decoder sees it. */
function isPlausibleKrpc(buf: Uint8Array, max: number): boolean {
  if (buf.length === 0 || buf.length > max) return false;
  try {
    const v = decode(buf, { maxBytes: max, maxDepth: 8, maxItems: 2000, maxIntegerDigits: 20 });
    return v instanceof Map && v.get('y') instanceof Uint8Array && v.get('t') instanceof Uint8Array;
  } catch {
    return false;
  }
}

function toNode(e: string | Endpoint): { host: string; port: number } {
  return typeof e === 'string' ? parsePeerAddress(e) : { host: e.host, port: e.port };
}

function withSignal<T>(
  signal: AbortSignal | undefined,
  run: (done: (err: Error | null, v?: T) => void) => (() => void) | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(undefined, { cause: signal.reason }));
      return;
    }
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      cancel?.();
      reject(new AbortError(undefined, { cause: signal?.reason }));
    };
    const cancel = run((err, v) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(v as T);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A typed layer over `bittorrent-dht` (BEP 5, BEP 44): configurable bootstrap, lookups and
 * announces feeding the session, the routing table saved to a file and reused, BEP 44 `put` /
 * `get`. Every datagram is checked by bttkit's bounded bencode decoder (size, depth, item count)
 * before the library's decoder sees it; the rest are dropped and counted.
 *
 * Timers inside bittorrent-dht are its own (real time); this layer adds none.
 *
 * @example
 * ```ts
 * const dht = await Dht.create({ bootstrap: ['127.0.0.1:6881'] });
 * dht.on('peer', (peer, ih) => console.log(ih, peer));
 * await dht.lookup(infoHash);
 * ```
 */
export class Dht extends TypedEmitter<DhtEvents> {
  #dht: DHT;
  #socket: Socket;
  #options: DhtOptions;
  #dropped = 0;
  #destroyed = false;
  /** Datagrams received (before filtering) and sent. */
  readonly traffic = { received: 0, sent: 0 };

  private constructor(dht: DHT, socket: Socket, options: DhtOptions) {
    super();
    this.#dht = dht;
    this.#socket = socket;
    this.#options = options;
    dht.on('peer', (peer: { host: string; port: number }, infoHash: Uint8Array) => {
      if (peer.port > 0 && peer.port < 65536)
        this.emit('peer', { host: peer.host, port: peer.port }, toHex(infoHash));
    });
    dht.on('ready', () => this.emit('ready'));
    dht.on('warning', (err: Error) => this.#warn('DHT_WARNING', err.message, err));
    dht.on('error', (err: Error) => this.#warn('DHT_ERROR', err.message, err));
  }

  /** Creates a DHT node, binds its UDP socket and starts bootstrapping. */
  static async create(options: DhtOptions = {}): Promise<Dht> {
    const max = options.maxDatagramBytes ?? 8192;
    const socket = createSocket('udp4');
    let self: Dht | undefined;
    // Drop implausible datagrams before the library decodes them (it recurses without limits).
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    socket.send = ((...args: unknown[]) => {
      if (self) self.traffic.sent++;
      send(...args);
    }) as typeof socket.send;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'message' && self) self.traffic.received++;
      if (event === 'message' && !isPlausibleKrpc(args[0] as Uint8Array, max)) {
        if (self) {
          self.#dropped++;
          self.#warn('DHT_BAD_DATAGRAM', 'dropped a malformed or oversized KRPC datagram');
        }
        return false;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;

    const saved = options.routingTableFile ? await loadTable(options.routingTableFile) : [];
    const bootstrap = [...(options.bootstrap ?? MAINLINE_ROUTERS)].map(toNode);
    const dht = new DHT({
      bootstrap: [...saved, ...bootstrap].map((n) => formatPeerAddress(n)),
      socket,
      verify: (sig, value, pub) => {
        try {
          return ed25519.verify(sig, value, pub);
        } catch {
          return false;
        }
      },
      ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    });
    self = new Dht(dht, socket, options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new DhtError('DHT_LISTEN_FAILED', err.message, { cause: err }));
      dht.once('error', onError);
      dht.listen(options.port ?? 0, options.host ?? '0.0.0.0', () => {
        dht.off('error', onError);
        resolve();
      });
    });
    return self;
  }

  /** Our node id. */
  get nodeId(): string {
    return toHex(this.#dht.nodeId);
  }

  /** The bound UDP address. */
  get address(): Endpoint {
    const a = this.#dht.address();
    return { host: a.address, port: a.port };
  }

  /** Datagrams dropped by the pre-decoder (malformed, oversized, too deep). */
  get droppedDatagrams(): number {
    return this.#dropped;
  }

  /** Nodes in the routing table. */
  nodes(): Endpoint[] {
    return this.#dht.toJSON().nodes.map((n) => ({ host: n.host, port: n.port }));
  }

  /** Resolves once bootstrap has finished. */
  ready(): Promise<void> {
    if (this.#dht.ready) return Promise.resolve();
    return new Promise((resolve) => this.once('ready', resolve));
  }

  /**
   * Adds a node (e.g. from a peer's BEP 5 `port` message). IPv6 nodes are ignored: this DHT is
   * IPv4 only (`bittorrent-dht` does not implement BEP 32).
   */
  addNode(node: Endpoint): void {
    if (ipVersion(node.host) === 6) return;
    this.#dht.addNode({ host: node.host, port: node.port });
  }

  /**
   * Looks up peers for `infoHash`; each is emitted as a `peer` event. Resolves with the number
   * of nodes that had peers.
   */
  lookup(infoHash: Uint8Array | string, options: { signal?: AbortSignal } = {}): Promise<number> {
    const ih = typeof infoHash === 'string' ? fromHex(infoHash) : infoHash;
    return withSignal<number>(options.signal, (done) =>
      this.#dht.lookup(Buffer.from(ih), (err, n) =>
        done(err ? this.#wrap('DHT_LOOKUP_FAILED', err) : null, n ?? 0),
      ),
    );
  }

  /** Announces that we have `infoHash` on TCP `port`. */
  announce(
    infoHash: Uint8Array | string,
    port: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const ih = typeof infoHash === 'string' ? fromHex(infoHash) : infoHash;
    return withSignal<void>(options.signal, (done) => {
      this.#dht.announce(Buffer.from(ih), port, (err) =>
        done(err ? this.#wrap('DHT_ANNOUNCE_FAILED', err) : null),
      );
      return undefined;
    });
  }

  /** BEP 44: stores an immutable value; resolves with its target (SHA-1 of the value) in hex. */
  putImmutable(
    value: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ target: string; nodes: number }> {
    if (value.length > 1000)
      throw new DhtError('DHT_VALUE_TOO_LARGE', 'BEP 44 values are at most 1000 bytes');
    return withSignal(options.signal, (done) => {
      this.#dht.put({ v: Buffer.from(value) }, (err, hash, n) =>
        done(err ? this.#wrap('DHT_PUT_FAILED', err) : null, { target: toHex(hash), nodes: n }),
      );
      return undefined;
    });
  }

  /** BEP 44: stores a mutable value signed with `keyPair`; resolves with its target in hex. */
  putMutable(
    item: { value: Uint8Array; keyPair: DhtKeyPair; seq: number; salt?: Uint8Array; cas?: number },
    options: { signal?: AbortSignal } = {},
  ): Promise<{ target: string; nodes: number }> {
    if (item.value.length > 1000)
      throw new DhtError('DHT_VALUE_TOO_LARGE', 'BEP 44 values are at most 1000 bytes');
    if (item.salt && item.salt.length > 64)
      throw new DhtError('DHT_SALT_TOO_LARGE', 'salt is at most 64 bytes');
    const { secretKey, publicKey } = item.keyPair;
    return withSignal(options.signal, (done) => {
      this.#dht.put(
        {
          v: Buffer.from(item.value),
          k: Buffer.from(publicKey),
          seq: item.seq,
          ...(item.salt ? { salt: Buffer.from(item.salt) } : {}),
          ...(item.cas !== undefined ? { cas: item.cas } : {}),
          sign: (buf) => Buffer.from(ed25519.sign(buf, secretKey)),
        },
        (err, hash, n) =>
          done(err ? this.#wrap('DHT_PUT_FAILED', err) : null, { target: toHex(hash), nodes: n }),
      );
      return undefined;
    });
  }

  /** BEP 44: reads an item by target (hex or bytes); `undefined` when no node has it. */
  get(
    target: Uint8Array | string,
    options: { salt?: Uint8Array; signal?: AbortSignal } = {},
  ): Promise<DhtItem | undefined> {
    const t = typeof target === 'string' ? fromHex(target) : target;
    return withSignal(options.signal, (done) => {
      this.#dht.get(
        Buffer.from(t),
        { ...(options.salt ? { salt: Buffer.from(options.salt) } : {}), cache: false },
        (err, res) => {
          if (err) return done(this.#wrap('DHT_GET_FAILED', err));
          if (!res) return done(null, undefined);
          const item: DhtItem = { value: new Uint8Array(res.v) };
          if (res.k) item.publicKey = new Uint8Array(res.k);
          if (res.seq !== undefined) item.seq = res.seq;
          if (res.salt) item.salt = new Uint8Array(res.salt);
          done(null, item);
        },
      );
      return undefined;
    });
  }

  /** Writes the routing table to `routingTableFile` (atomically). */
  async saveRoutingTable(): Promise<void> {
    const file = this.#options.routingTableFile;
    if (!file) return;
    const nodes = this.nodes().slice(0, MAX_SAVED_NODES);
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify({ version: 1, nodes: nodes.map(formatPeerAddress) })}\n`);
    await rename(tmp, file);
  }

  /** Saves the routing table (if configured) and closes the socket. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    try {
      await this.saveRoutingTable();
    } catch (err) {
      this.#warn('DHT_SAVE_FAILED', 'could not save the routing table', err);
    }
    await new Promise<void>((resolve) => this.#dht.destroy(() => resolve()));
    void this.#socket;
  }

  /** A new ed25519 key pair for mutable items. */
  static keyPair(): DhtKeyPair {
    const secretKey = ed25519.utils.randomSecretKey();
    return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
  }

  #wrap(code: DhtErrorCode, err: Error): DhtError {
    return err instanceof DhtError ? err : new DhtError(code, err.message, { cause: err });
  }

  #warn(code: DhtErrorCode, message: string, cause?: unknown): void {
    if (this.listenerCount('warning') > 0)
      this.emit('warning', new DhtError(code, message, cause === undefined ? {} : { cause }));
  }
}

const MAX_SAVED_NODES = 500;
const MAX_TABLE_FILE = 256 * 1024;

async function loadTable(file: string): Promise<{ host: string; port: number }[]> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_TABLE_FILE) return [];
    text = buf.toString('utf8');
  } catch {
    return [];
  }
  try {
    const j = JSON.parse(text) as { version?: unknown; nodes?: unknown };
    if (j.version !== 1 || !Array.isArray(j.nodes)) return [];
    const out: { host: string; port: number }[] = [];
    for (const n of j.nodes.slice(0, MAX_SAVED_NODES)) {
      if (typeof n !== 'string') continue;
      try {
        out.push(parsePeerAddress(n));
      } catch {
        // skip a bad entry
      }
    }
    return out;
  } catch {
    return [];
  }
}
