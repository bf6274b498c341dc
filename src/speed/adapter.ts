import type { BDict, BValue } from '../metainfo/bencode.js';
import type { ChokerPeer } from '../session/choker.js';
import { utf8 } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import { BTT_EXTENSION, type BttHandshake, BttSpeedExtension } from '../wire/btt-speed.js';
import { WireError } from '../wire/errors.js';
import type { ExtensionContext } from '../wire/extension.js';
import { SpeedCore, type SpeedOptions, type SpeedSwarm, type SpeedSwarmHost } from './core.js';
import { SpeedError } from './errors.js';

/**
 * BitTorrent Speed for any client built on `bittorrent-protocol` (WebTorrent and others): the
 * same rules as the session's {@link SpeedPlugin} (one {@link SpeedCore}), plugged in with
 * `wire.use(torrent.Extension)` and a few hooks the host calls. See docs/speed.md, "Adding
 * BitTorrent Speed to your client".
 * @module
 */

/**
 * The part of a `bittorrent-protocol` `Wire` (4.x or 5.x) the adapter uses: declared here so that
 * bttkit does not import the host's copy of the package.
 */
export interface ProtocolWire {
  /** Our extended handshake (less `m`): the adapter adds `btt`. */
  extendedHandshake: Record<string, unknown>;
  /** The peer's extension ids by name (from its extended handshake). */
  readonly peerExtendedMapping: Record<string, number>;
  /** Sends an extended message by the extension's name. */
  extended(ext: string, payload: Uint8Array): void;
  /**
   * Requests a block (the host's call). The adapter wraps it on each wire it is used on: only
   * blocks that answer our own requests count towards payment (the `piece` event also fires
   * for blocks nobody asked for).
   */
  request(
    index: number,
    offset: number,
    length: number,
    callback?: (err: Error | null, block?: Uint8Array | null) => void,
  ): unknown;
  /** Events used: `upload` (bytes), `close`. */
  on(event: string, listener: (...args: never[]) => void): unknown;
  destroy(): unknown;
  readonly destroyed?: boolean;
  readonly peerInterested: boolean;
  readonly amChoking: boolean;
  /** Set by WebTorrent: the peer is a seed. */
  readonly isSeeder?: boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number | string;
  /** Recent bytes/s from and to the peer (bittorrent-protocol's throughput meters). */
  downloadSpeed?(): number;
  uploadSpeed?(): number;
}

/** What `bittorrent-protocol` calls on an extension instance. */
export interface ProtocolExtension {
  /** The peer's decoded extended handshake (it listed `btt_speed`). */
  onExtendedHandshake(handshake: unknown): void;
  /** A `btt_speed` message (the payload after the extended id). */
  onMessage(payload: Uint8Array): void;
}

/** The class `wire.use(...)` takes: `new Extension(wire)`, named by `prototype.name` (`btt_speed`). */
export interface ProtocolExtensionClass {
  new (wire: ProtocolWire): ProtocolExtension;
  readonly prototype: ProtocolExtension & { readonly name: string };
}

/** What the host tells a {@link WireSpeedTorrent} about its torrent. */
export interface WireSpeedTorrentOptions {
  /** Bytes still to download and verify; `undefined` before metadata (no bids then). */
  remainingBytes(): number | bigint | undefined;
  /** The torrent's piece length once known: a payer's credit window holds at least two pieces. */
  pieceLength?(): number | undefined;
  /**
   * Count blocks received (`piece` events) and bytes uploaded (`upload` events) from each wire's
   * own events. Default true; false: the host calls {@link WireSpeedTorrent.received} and
   * {@link WireSpeedTorrent.uploaded} itself.
   */
  countFromWire?: boolean;
  /** Upload slots of the provider's choke round (half are sold by default). Default 4. */
  uploadSlots?: number;
  /** How often the provider's choke round (auction, grants) runs, ms. Default 10 s. */
  rechokeIntervalMs?: number;
}

/** Pieces whose received blocks are tracked at once (oldest forgotten first): bounds memory. */
const MAX_TRACKED_PIECES = 4096;
/** Blocks tracked per piece (more distinct offsets than any real piece has: ignored). */
const MAX_BLOCKS_PER_PIECE = 8192;

/** A `bittorrent-protocol` decoded value as our bencode type, bounded (only the `btt` key is read). */
function toBValue(v: unknown, depth: number): BValue | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return utf8(v);
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return BigInt(v);
    // An integer beyond 2^53 (precision lost by the host's decoder): outside every field's range.
    return v < 0 ? -(2n ** 64n) : 2n ** 64n;
  }
  if (typeof v === 'bigint') return v;
  if (depth <= 0 || v === null || typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    const out: BValue[] = [];
    for (const item of v.slice(0, 64)) {
      const b = toBValue(item, depth - 1);
      if (b !== undefined) out.push(b);
    }
    return out;
  }
  const out: BDict = new Map();
  for (const key of Object.keys(v).slice(0, 64)) {
    const b = toBValue((v as Record<string, unknown>)[key], depth - 1);
    if (b !== undefined) out.set(key, b);
  }
  return out;
}

/**
 * BitTorrent Speed for clients built on `bittorrent-protocol`: one account (its rail, budget and
 * totals, the {@link SpeedEvents}) over any number of torrents, each a {@link WireSpeedTorrent}.
 *
 * @example
 * ```ts
 * const speed = new WireSpeed({ wallet, ledger, ledgerId, budget: 10n ** 18n });
 * const t = speed.torrent({ remainingBytes: () => torrent.length - torrent.downloaded });
 * torrent.on('wire', (wire) => wire.use(t.Extension)); // WebTorrent
 * torrent.on('verified', (index) => t.verified(index)); // pays per verified piece
 * ```
 */
export class WireSpeed extends SpeedCore {
  readonly #clock: Clock;

  constructor(options: SpeedOptions) {
    super(options);
    this.#clock = options.clock ?? realClock;
  }

  /** The rules for one torrent of the host; close it with {@link WireSpeedTorrent.close}. */
  torrent(options: WireSpeedTorrentOptions): WireSpeedTorrent {
    return new WireSpeedTorrent(this.handshake, this.#clock, options, {
      open: (host) => this.openSwarm(host),
      dropped: (error) => {
        if (this.listenerCount('warning') > 0) this.emit('warning', error);
      },
    });
  }
}

interface WireEntry {
  readonly id: string;
  readonly ext: BttSpeedExtension;
  readonly connectedAt: number;
}

/**
 * One torrent of a `bittorrent-protocol` host: `wire.use(t.Extension)` on every wire, and the
 * hooks — {@link verified} (pay per verified piece, as a payer), {@link failed}, {@link uploaded}
 * (what a granted requester owes, as a payee), {@link isPaid} and {@link mayUnchoke} (the
 * auction's decision for the host's choker), {@link close}.
 */
export class WireSpeedTorrent {
  /** The `bittorrent-protocol` extension class: `wire.use(t.Extension)`. */
  readonly Extension: ProtocolExtensionClass;
  readonly #handshake: BttHandshake;
  readonly #dropped: (error: SpeedError) => void;
  readonly #clock: Clock;
  readonly #opts: WireSpeedTorrentOptions;
  readonly #swarm: SpeedSwarm;
  readonly #wires = new Map<ProtocolWire, WireEntry>();
  readonly #ids = new Set<string>();
  /** Received blocks of unverified pieces: index → offset → [peer, length]. */
  readonly #blocks = new Map<number, Map<number, readonly [string, number]>>();
  #unchoke: ReadonlySet<string> = new Set();
  #next = 0;
  #closed = false;
  readonly #timer: { cancel(): void };

  /** @internal Made by {@link WireSpeed.torrent}. */
  constructor(
    handshake: BttHandshake,
    clock: Clock,
    options: WireSpeedTorrentOptions,
    account: {
      open(host: SpeedSwarmHost): SpeedSwarm;
      dropped(error: SpeedError): void;
    },
  ) {
    this.#handshake = handshake;
    this.#dropped = account.dropped;
    this.#clock = clock;
    this.#opts = options;
    this.#swarm = account.open({
      remainingBytes: () => remainingOf(options),
      pieceLength: () => options.pieceLength?.(),
      downloadRates: () => new Map([...this.#wires].map(([w, e]) => [e.id, w.downloadSpeed?.() ?? 0])),
      rechoke: () => this.rechoke(),
      connected: (peer) => {
        for (const [w, e] of this.#wires) if (e.id === peer) return w.destroyed !== true;
        return false;
      },
    });
    this.#timer = clock.setInterval(() => this.rechoke(), options.rechokeIntervalMs ?? 10_000);
    const self = this;
    class BttSpeedWireExtension implements ProtocolExtension {
      readonly #ext: BttSpeedExtension;
      readonly #wire: ProtocolWire;
      constructor(wire: ProtocolWire) {
        this.#wire = wire;
        this.#ext = self.#attach(wire);
      }
      onExtendedHandshake(handshake: unknown): void {
        const btt =
          typeof handshake === 'object' && handshake !== null
            ? (handshake as { btt?: unknown }).btt
            : undefined;
        const value = toBValue(btt, 3);
        this.#guard(() =>
          this.#ext.onExtendedHandshake(value === undefined ? new Map() : new Map([['btt', value]])),
        );
      }
      onMessage(payload: Uint8Array): void {
        this.#guard(() => this.#ext.onMessage(payload));
      }
      /** A hostile peer (too many malformed messages) or a failing listener drops the wire. */
      #guard(run: () => void): void {
        try {
          run();
        } catch (err) {
          self.#drop(this.#wire, err);
        }
      }
    }
    Object.defineProperty(BttSpeedWireExtension.prototype, 'name', { value: BTT_EXTENSION });
    this.Extension = BttSpeedWireExtension as unknown as ProtocolExtensionClass;
  }

  /** The peer id of a wire in events (`peer`): `address:port` when the host set them. */
  peerOf(wire: ProtocolWire): string | undefined {
    return this.#wires.get(wire)?.id;
  }

  /**
   * Hook: piece `index` passed its hash check. Each provider holding our grant is paid for the
   * bytes of the piece it sent (the last copy of each block received counts).
   */
  verified(index: number): void {
    const blocks = this.#blocks.get(index);
    this.#blocks.delete(index);
    if (!blocks) return;
    const sources = new Map<string, number>();
    for (const [peer, length] of blocks.values()) sources.set(peer, (sources.get(peer) ?? 0) + length);
    this.#swarm.verified(sources);
  }

  /** Hook: piece `index` failed its hash check — what was received of it is never paid for. */
  failed(index: number): void {
    this.#blocks.delete(index);
  }

  /** Hook (only with `countFromWire: false`): a block of `length` bytes of piece `index` arrived on `wire`. */
  received(wire: ProtocolWire, index: number, offset: number, length: number): void {
    const e = this.#wires.get(wire);
    if (!e?.ext.active || !Number.isSafeInteger(index) || !Number.isSafeInteger(offset)) return;
    if (!Number.isSafeInteger(length) || length <= 0) return;
    let blocks = this.#blocks.get(index);
    if (!blocks) {
      if (this.#blocks.size >= MAX_TRACKED_PIECES) {
        const oldest = this.#blocks.keys().next();
        if (!oldest.done) this.#blocks.delete(oldest.value);
      }
      blocks = new Map();
      this.#blocks.set(index, blocks);
    }
    if (blocks.size >= MAX_BLOCKS_PER_PIECE && !blocks.has(offset)) return;
    blocks.set(offset, [e.id, length]);
  }

  /** Hook (only with `countFromWire: false`): we uploaded `bytes` of payload to `wire`. */
  uploaded(wire: ProtocolWire, bytes: number): void {
    const e = this.#wires.get(wire);
    if (e && Number.isSafeInteger(bytes) && bytes > 0) this.#swarm.uploaded(e.id, bytes);
  }

  /** The peer won a paid slot in the last round (and holds a grant). */
  isPaid(wire: ProtocolWire): boolean {
    const e = this.#wires.get(wire);
    return e !== undefined && this.#swarm.isPaid(e.id);
  }

  /**
   * The last round's decision for the host's choker: paid slots by auction, the rest by
   * tit-for-tat plus one optimistic slot (peers without `btt_speed` included).
   */
  mayUnchoke(wire: ProtocolWire): boolean {
    const e = this.#wires.get(wire);
    return e !== undefined && this.#unchoke.has(e.id);
  }

  /** Runs a provider's round now (auction, grants); it also runs every `rechokeIntervalMs`. */
  rechoke(): void {
    if (this.#closed) return;
    const peers: ChokerPeer[] = [];
    for (const [w, e] of this.#wires) {
      if (w.destroyed) continue;
      peers.push({
        id: e.id,
        interested: w.peerInterested,
        downloadRate: w.downloadSpeed?.() ?? 0,
        uploadRate: w.uploadSpeed?.() ?? 0,
        unchoked: !w.amChoking,
        connectedAt: e.connectedAt,
        seed: w.isSeeder === true,
      });
    }
    const remaining = remainingOf(this.#opts);
    const seeding = remaining !== undefined && remaining <= 0n;
    const slots = this.#opts.uploadSlots ?? 4;
    this.#unchoke = this.#swarm.choker.rechoke(peers, { seeding, now: this.#clock.now(), slots });
  }

  /** Hook: the download completed (accrued vouchers go out, bids stop). */
  done(): void {
    this.#swarm.done();
  }

  /**
   * Hook: the torrent closed. What is due for verified bytes goes out first (a batching rail's
   * vouchers, on wires still open); then every payee is collected (final), and nothing else runs:
   * no timer, no `btt_speed` message (a bid started by an extended handshake is not sent), no rail
   * call but those final collects. Acks that still arrive are counted ({@link SpeedCore.acknowledged}).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer.cancel();
    this.#swarm.close();
    this.#blocks.clear();
  }

  #attach(wire: ProtocolWire): BttSpeedExtension {
    const base =
      wire.remoteAddress !== undefined && wire.remotePort !== undefined
        ? `${wire.remoteAddress}:${wire.remotePort}`
        : `wire-${++this.#next}`;
    let id = base;
    for (let n = 2; this.#ids.has(id); n++) id = `${base}#${n}`;
    const ctx: ExtensionContext = {
      name: BTT_EXTENSION,
      clock: this.#clock,
      get peerSupports() {
        // A later extended handshake may set the id to 0 (BEP 10: the extension is off).
        return Boolean(wire.peerExtendedMapping[BTT_EXTENSION]);
      },
      send: (payload) => {
        if (wire.destroyed) return;
        if (!ctx.peerSupports) throw new WireError('WIRE_NOT_SUPPORTED', 'the peer lacks btt_speed');
        wire.extended(BTT_EXTENSION, payload);
      },
      drop: (error) => this.#drop(wire, error),
    };
    const ext = new BttSpeedExtension(ctx, { handshake: this.#handshake });
    wire.extendedHandshake.btt = ext.handshakeFields().btt;
    this.#ids.add(id);
    this.#wires.set(wire, { id, ext, connectedAt: this.#clock.now() });
    this.#swarm.addPeer(id, ext);
    if (this.#opts.countFromWire ?? true) {
      // Only answers to our own requests count (what the host stores): a provider sending blocks
      // nobody asked for earns nothing for them, and cannot fill the tracking tables.
      const request = wire.request.bind(wire);
      wire.request = (index, offset, length, callback) =>
        request(index, offset, length, (err, block) => {
          if (!err && block) this.received(wire, index, offset, block.length);
          callback?.(err, block);
        });
      wire.on('upload', (bytes: number) => this.uploaded(wire, bytes));
    }
    wire.on('close', () => {
      if (!this.#wires.delete(wire)) return;
      this.#ids.delete(id);
      this.#swarm.peerClosed(id);
    });
    return ext;
  }

  #drop(wire: ProtocolWire, err: unknown): void {
    const id = this.#wires.get(wire)?.id ?? 'a peer';
    const why = err instanceof Error ? err.message : String(err);
    this.#dropped(new SpeedError('SPEED_PEER_DROPPED', `dropped ${id}: ${why}`, { cause: err }));
    wire.destroy();
  }
}

/**
 * The host's `remainingBytes()` as a bigint, at least 0; `undefined` when it is not a whole
 * number yet (before metadata a host may well give `NaN`: `BigInt` of it would throw in a timer).
 */
function remainingOf(options: WireSpeedTorrentOptions): bigint | undefined {
  const r = options.remainingBytes();
  if (typeof r === 'bigint') return r > 0n ? r : 0n;
  if (typeof r !== 'number' || !Number.isSafeInteger(r)) return undefined;
  return r > 0 ? BigInt(r) : 0n;
}
