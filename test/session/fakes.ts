/**
 * Fakes for unit tests of the session's parts: a wire that records what the part did to it and
 * lets the test play the remote peer, and a store whose fill level the test sets.
 */
import { encode, type InfoDictionary, parseInfoDictionary } from '../../src/metainfo/index.js';
import { NO_LINK } from '../../src/session/links.js';
import { PeerConn } from '../../src/session/peer.js';
import { DEFAULT_SETTINGS, type Settings } from '../../src/session/settings.js';
import type { ChunkStore } from '../../src/storage/types.js';
import type { Clock } from '../../src/util/clock.js';
import type { WireError } from '../../src/wire/errors.js';
import type { PeerWire, RequestCallback } from '../../src/wire/peer-wire.js';

export interface SentRequest {
  piece: number;
  offset: number;
  length: number;
  cb: RequestCallback;
}

/** The part of `PeerWire` the session's parts use, recorded. */
export class FakeWire {
  closed = false;
  closeError: WireError | undefined;
  peerChoking = false;
  peerInterested = false;
  amChoking = true;
  fast = true;
  readingPaused = false;
  pauses = 0;
  peerHandshake: { peerId: Uint8Array } | undefined;
  peerExtendedHandshake: { port?: number; reqq?: number } | undefined;
  readonly requests: SentRequest[] = [];
  /** Payload bytes of every block message received, as `PeerWire.downloaded`. */
  downloaded = 0;
  readonly cancels: string[] = [];
  readonly sent: string[] = [];
  readonly #closeListeners: ((err: WireError | undefined) => void)[] = [];
  readonly #pieces = new Set<number>();

  constructor(readonly remote: { host: string; port: number }) {}

  get outstandingRequests(): number {
    return this.requests.length;
  }
  peerHas(i: number): boolean {
    return this.#pieces.has(i);
  }
  givePieces(...pieces: number[]): void {
    for (const p of pieces) this.#pieces.add(p);
  }
  request(piece: number, offset: number, length: number, cb: RequestCallback): void {
    this.requests.push({ piece, offset, length, cb });
  }
  /** Plays the peer answering request `i` (0: the oldest) with `block`, or failing it. */
  answer(i: number, block: Uint8Array | null): void {
    const [r] = this.requests.splice(i, 1);
    if (!r) throw new Error(`no request ${i}`);
    if (block) this.downloaded += block.length;
    if (block) r.cb(null, block);
    else r.cb({ code: 'WIRE_REQUEST_CANCELLED' } as WireError);
  }
  /** Plays the peer sending a block that answers none of our requests (a cancelled one's, late). */
  stray(length: number): void {
    this.downloaded += length;
  }
  cancel(piece: number, offset: number, length: number): void {
    this.cancels.push(`${piece}:${offset}:${length}`);
    const i = this.requests.findIndex((r) => r.piece === piece && r.offset === offset);
    if (i >= 0) this.answer(i, null);
  }
  pauseReading(): void {
    this.readingPaused = true;
    this.pauses++;
  }
  resumeReading(): void {
    this.readingPaused = false;
  }
  interested(): void {
    this.sent.push('interested');
  }
  uninterested(): void {
    this.sent.push('uninterested');
  }
  choke(): void {
    this.amChoking = true;
    this.sent.push('choke');
  }
  unchoke(): void {
    this.amChoking = false;
    this.sent.push('unchoke');
  }
  have(i: number): void {
    this.sent.push(`have ${i}`);
  }
  haveAll(): void {
    this.sent.push('have-all');
  }
  haveNone(): void {
    this.sent.push('have-none');
  }
  bitfield(): void {
    this.sent.push('bitfield');
  }
  once(_event: 'close', fn: (err: WireError | undefined) => void): this {
    this.#closeListeners.push(fn);
    return this;
  }
  close(err?: WireError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    for (const fn of this.#closeListeners.splice(0)) fn(err);
  }
}

/** A `PeerConn` over a {@link FakeWire}. */
export function fakePeer(
  clock: Clock,
  id: string,
  options: { incoming?: boolean; queue?: number } = {},
): PeerConn & { wire: PeerWire; fake: FakeWire } {
  const [host = '', port = '0'] = id.split(':');
  const fake = new FakeWire({ host, port: Number(port) });
  const peer = new PeerConn(
    id,
    fake as unknown as PeerWire,
    options.incoming ?? false,
    clock,
    options.queue ?? 4,
    NO_LINK,
  );
  return Object.assign(peer, { fake });
}

/** Settings for unit tests (defaults, overridden). */
export function testSettings(over: Partial<Settings> = {}): Readonly<Settings> {
  return Object.freeze({ ...DEFAULT_SETTINGS, ...over });
}

/** A small torrent's info dictionary: `pieces` pieces of 16 KiB. */
export function smallInfo(pieces = 4): InfoDictionary {
  return parseInfoDictionary(
    encode(
      new Map<string, string | number | Uint8Array>([
        ['length', pieces * 16384],
        ['name', 'f'],
        ['piece length', 16384],
        ['pieces', new Uint8Array(20 * pieces)],
      ]),
    ),
  );
}

/** A store whose `pendingBytes` the test sets, with the drain signal; puts resolve when told. */
export class GatedStore {
  pendingBytes = 0;
  maxPendingBytes = 1 << 20;
  copiesOnPut = true;
  closed = false;
  readonly puts: { piece: number; offset: number; resolve: () => void }[] = [];
  readonly #drain = new Set<() => void>();
  readonly #have = new Set<number>();

  constructor(readonly meta: InfoDictionary) {}

  get drainListeners(): number {
    return this.#drain.size;
  }
  onDrain(fn: () => void): () => void {
    this.#drain.add(fn);
    return () => this.#drain.delete(fn);
  }
  /** Plays the disk writing: pending bytes fall, drain listeners hear it. */
  drainTo(bytes: number): void {
    this.pendingBytes = bytes;
    for (const fn of [...this.#drain]) fn();
  }
  put(piece: number, offset: number): Promise<void> {
    return new Promise((resolve) => this.puts.push({ piece, offset, resolve }));
  }
  resolvePuts(): void {
    for (const p of this.puts.splice(0)) p.resolve();
  }
  async verify(piece: number): Promise<boolean> {
    this.#have.add(piece);
    return true;
  }
  has(piece: number): boolean {
    return this.#have.has(piece);
  }
  async get(_piece: number, _offset: number, length: number): Promise<Uint8Array> {
    return new Uint8Array(length);
  }

  asStore(): ChunkStore {
    return this as unknown as ChunkStore;
  }
}
