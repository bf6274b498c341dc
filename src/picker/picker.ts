import { Bitfield } from '../util/bitfield.js';

/** Piece priority: 0 = skip (never download), 1 = lowest … 7 = highest; 4 is the default. */
export type Priority = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Named priorities. */
export const PRIORITY = { skip: 0, low: 1, normal: 4, high: 6, top: 7 } as const satisfies Record<
  string,
  Priority
>;

/** How new pieces are chosen. */
export type PickMode = 'rarest' | 'sequential';

/** One block to request: `length` bytes at `offset` in `piece`. */
export interface BlockRequest {
  piece: number;
  offset: number;
  length: number;
}

/** A request the engine should cancel (endgame: another peer delivered the block first). */
export interface PeerBlock<K> extends BlockRequest {
  peer: K;
}

/** What {@link PiecePicker.blockReceived} tells the engine. */
export interface BlockReceipt<K> {
  /** The block was already received (a duplicate: endgame or an unsolicited resend). */
  duplicate: boolean;
  /** Every block of the piece is now received: hash it, then call `pieceVerified`. */
  pieceComplete: boolean;
  /** Requests for this block still outstanding at other peers: send them `cancel`. */
  cancel: PeerBlock<K>[];
}

/** Options of {@link PiecePicker}. */
export interface PickerOptions {
  pieceCount: number;
  pieceLength: number;
  /** Length of the last piece (default: `pieceLength`). */
  lastPieceLength?: number;
  /** Block size; 16 KiB, the size every client accepts. */
  blockSize?: number;
  /** `rarest` (default) or strict `sequential`. */
  mode?: PickMode;
  /** Pick new pieces at random until this many are complete (default 4), as libtorrent does. */
  randomFirstPieces?: number;
  /** Most peers a block is requested from at once in endgame (default 2). */
  endgameRequesters?: number;
  /** Random source in [0, 1) — injectable for reproducible tests and simulations. */
  random?: () => number;
}

const UNTOUCHED = 0; // wanted-or-skipped, no block requested or received
const DOWNLOADING = 1; // some block requested or received
const VERIFYING = 2; // every block received, waiting for the hash check
const HAVE = 3;

const FREE = 0;
const REQUESTED = 1;
const RECEIVED = 2;

interface Progress<K> {
  piece: number;
  state: Uint8Array; // per block: FREE / REQUESTED / RECEIVED
  requesters: (K[] | undefined)[];
  free: number;
  received: number;
}

interface PeerState {
  bits: Bitfield;
  seed: boolean; // have-all: counted in `seeds`, not per piece
  /** Pieces this (non-seed) peer has that we still want. */
  wanted: number;
  /** Outstanding requests: piece * blocksPerPiece + block. */
  requests: Set<number>;
}

/**
 * A pure, synchronous piece picker in the manner of libtorrent's: no I/O, peers are opaque keys.
 *
 * - Availability per piece is kept current on bitfield / have / have-all / have-none / peer
 *   leaving. Peers with every piece are counted once (`seeds`), not per piece.
 * - New pieces come rarest-first: untouched wanted pieces sit in buckets by (priority,
 *   availability); moving a piece between buckets is O(1) (swap-remove, insert at a random
 *   position, which is also the random tie-break). The first few pieces are picked at random.
 * - Pieces already being downloaded are finished first, which keeps the number of partial
 *   pieces — and the memory they hold — small.
 * - Strict sequential mode, and a streaming window (pieces from a playback position on, in
 *   order, before anything else).
 * - Priorities per piece (0 = skip … 7) and, through {@link filePiecePriorities}, per file.
 * - Block-level tracking; endgame once no untouched wanted piece is left: blocks already
 *   requested elsewhere are requested again (at most `endgameRequesters` peers per block) and
 *   the duplicates are cancelled when the first copy arrives.
 *
 * Complexity (n pieces, p peers): have / have-none / verified O(1) plus O(p) on verify to keep
 * each peer's interest count; bitfield O(n); pick O(d + b·s) where d is the number of pieces
 * being downloaded, b the blocks returned and s the bucket entries skipped because the peer
 * lacks them (0 for seeds; bounded by n).
 */
export class PiecePicker<K = string> {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly lastPieceLength: number;
  readonly blockSize: number;
  readonly blocksPerPiece: number;
  /** The pieces we have (verified). */
  readonly have: Bitfield;

  #mode: PickMode;
  #randomFirst: number;
  #endgameMax: number;
  #random: () => number;

  #state: Uint8Array;
  #priority: Uint8Array;
  #avail: Uint32Array;
  #seeds = 0;
  /** #buckets[priority][availability] = pieces; #pos[piece] = index in its bucket, -1 if none. */
  #buckets: number[][][] = Array.from({ length: 8 }, () => []);
  #pos: Int32Array;
  #bucketed = 0;
  #wantedMissing = 0;
  #downloading = new Map<number, Progress<K>>();
  /** (block, requester) pairs outstanding: when a peer holds all of them, endgame has nothing to add. */
  #requestPairs = 0;
  #peers = new Map<K, PeerState>();
  #seqCursor = 0;
  #window: { start: number; count: number } | undefined;

  constructor(options: PickerOptions) {
    const { pieceCount, pieceLength } = options;
    if (!Number.isInteger(pieceCount) || pieceCount < 0)
      throw new RangeError('pieceCount must be a natural number');
    if (!Number.isInteger(pieceLength) || pieceLength <= 0)
      throw new RangeError('pieceLength must be positive');
    this.pieceCount = pieceCount;
    this.pieceLength = pieceLength;
    this.lastPieceLength = options.lastPieceLength ?? pieceLength;
    if (this.lastPieceLength <= 0 || this.lastPieceLength > pieceLength)
      throw new RangeError('bad lastPieceLength');
    this.blockSize = options.blockSize ?? 16384;
    this.blocksPerPiece = Math.ceil(pieceLength / this.blockSize);
    this.#mode = options.mode ?? 'rarest';
    this.#randomFirst = options.randomFirstPieces ?? 4;
    this.#endgameMax = Math.max(1, options.endgameRequesters ?? 2);
    this.#random = options.random ?? Math.random;
    this.have = new Bitfield(pieceCount);
    this.#state = new Uint8Array(pieceCount);
    this.#priority = new Uint8Array(pieceCount).fill(PRIORITY.normal);
    this.#avail = new Uint32Array(pieceCount);
    this.#pos = new Int32Array(pieceCount).fill(-1);
    for (let i = 0; i < pieceCount; i++) this.#bucketInsert(i);
    this.#wantedMissing = pieceCount;
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Current mode. */
  get mode(): PickMode {
    return this.#mode;
  }

  /** Pieces wanted (priority > 0) and not yet verified. */
  get wantedRemaining(): number {
    return this.#wantedMissing;
  }

  /** True when every wanted piece is verified. */
  get done(): boolean {
    return this.#wantedMissing === 0;
  }

  /** True once no untouched wanted piece is left (duplicate requests are being made). */
  get endgame(): boolean {
    return this.#bucketed === 0 && this.#wantedMissing > 0;
  }

  /** Number of pieces partly downloaded. */
  get downloadingCount(): number {
    return this.#downloading.size;
  }

  /** Number of peers known. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** How many known peers have piece `i`. */
  availability(i: number): number {
    return (this.#avail[i] ?? 0) + this.#seeds;
  }

  /** Priority of piece `i`. */
  priority(i: number): Priority {
    return (this.#priority[i] ?? 0) as Priority;
  }

  /** Length of piece `i`. */
  pieceSize(i: number): number {
    return i === this.pieceCount - 1 ? this.lastPieceLength : this.pieceLength;
  }

  /** Whether we want something `peer` has (send `interested` while true). */
  isInteresting(peer: K): boolean {
    const p = this.#peers.get(peer);
    if (!p) return false;
    return p.seed ? this.#wantedMissing > 0 : p.wanted > 0;
  }

  /** Whether `peer` is known to the picker. */
  hasPeer(peer: K): boolean {
    return this.#peers.has(peer);
  }

  /** Whether `peer` has every piece (have-all, or pieces that add up to all). O(1). */
  peerIsSeed(peer: K): boolean {
    const p = this.#peers.get(peer);
    return p !== undefined && (p.seed || p.bits.full);
  }

  /** Whether `peer` has piece `i`. */
  peerHas(peer: K, i: number): boolean {
    const p = this.#peers.get(peer);
    return p !== undefined && (p.seed || p.bits.get(i));
  }

  /** Requests outstanding at `peer`. */
  requestsOf(peer: K): BlockRequest[] {
    const p = this.#peers.get(peer);
    return p ? [...p.requests].map((key) => this.#blockOf(key)) : [];
  }

  // ---- peers ---------------------------------------------------------------------------------

  /** Adds a peer that has nothing yet. Adding a known peer is a no-op. */
  addPeer(peer: K): void {
    if (this.#peers.has(peer)) return;
    this.#peers.set(peer, {
      bits: new Bitfield(this.pieceCount),
      seed: false,
      wanted: 0,
      requests: new Set(),
    });
  }

  /** Removes a peer: its pieces leave the availability counts and its requests are freed. */
  removePeer(peer: K): void {
    const p = this.#peers.get(peer);
    if (!p) return;
    this.#dropRequests(peer, p);
    this.#clearPieces(p);
    this.#peers.delete(peer);
  }

  /** The peer's BEP 3 bitfield (replaces what was known). Throws `RangeError` if mis-sized. */
  peerBitfield(peer: K, bytes: Uint8Array): void {
    if (bytes.length !== Math.ceil(this.pieceCount / 8)) throw new RangeError('bitfield has the wrong size');
    const p = this.#peer(peer);
    this.#clearPieces(p);
    const bits = new Bitfield(this.pieceCount, bytes);
    if (bits.full && this.pieceCount > 0) {
      this.#makeSeed(p);
      return;
    }
    for (let byte = 0; byte < bits.bytes.length; byte++) {
      const v = bits.bytes[byte] as number;
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (v & (0x80 >> bit)) this.#gain(p, byte * 8 + bit);
    }
  }

  /** BEP 3 `have`. Throws `RangeError` for a piece out of range. */
  peerHave(peer: K, i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.pieceCount)
      throw new RangeError(`piece ${i} out of range`);
    const p = this.#peer(peer);
    if (p.seed || p.bits.get(i)) return;
    this.#gain(p, i);
    if (p.bits.full) {
      this.#clearPieces(p);
      this.#makeSeed(p);
    }
  }

  /** BEP 6 `have all`. */
  peerHaveAll(peer: K): void {
    const p = this.#peer(peer);
    this.#clearPieces(p);
    this.#makeSeed(p);
  }

  /** BEP 6 `have none`. */
  peerHaveNone(peer: K): void {
    this.#clearPieces(this.#peer(peer));
  }

  // ---- picking -------------------------------------------------------------------------------

  /**
   * Up to `max` blocks to request from `peer`, marked requested. Pieces being downloaded come
   * first (streaming window before them), then new pieces by mode, then endgame duplicates.
   */
  pick(peer: K, max: number): BlockRequest[] {
    const p = this.#peers.get(peer);
    const out: BlockRequest[] = [];
    if (!p || max <= 0 || this.#wantedMissing === 0) return out;
    const has = (i: number) => p.seed || p.bits.get(i);

    if (this.#window) {
      const end = Math.min(this.pieceCount, this.#window.start + this.#window.count);
      for (let i = this.#window.start; i < end && out.length < max; i++) {
        if (!has(i) || this.#priority[i] === 0) continue;
        const s = this.#state[i];
        if (s === UNTOUCHED) this.#takeBlocks(peer, p, this.#startPiece(i), max, out);
        else if (s === DOWNLOADING) this.#takeBlocks(peer, p, this.#progress(i), max, out);
      }
    }
    for (const prog of this.#downloading.values()) {
      if (out.length >= max) break;
      if (prog.free > 0 && has(prog.piece)) this.#takeBlocks(peer, p, prog, max, out);
    }
    while (out.length < max) {
      const i = this.#nextNewPiece(p);
      if (i < 0) break;
      this.#takeBlocks(peer, p, this.#startPiece(i), max, out);
    }
    if (out.length < max && this.#bucketed === 0 && this.#requestPairs > p.requests.size) {
      this.#endgamePick(peer, p, max, out);
    }
    return out;
  }

  /**
   * Records a received block. Unrequested blocks of wanted, unfinished pieces are accepted too
   * (the data is checked by the piece hash anyway).
   */
  blockReceived(peer: K, piece: number, offset: number): BlockReceipt<K> {
    const none: BlockReceipt<K> = { duplicate: true, pieceComplete: false, cancel: [] };
    const block = this.#blockIndex(piece, offset);
    if (block < 0) return none;
    const p = this.#peers.get(peer);
    const s = this.#state[piece];
    if (s === HAVE || s === VERIFYING || this.#priority[piece] === 0) {
      this.#delReq(p, piece * this.blocksPerPiece + block);
      return none;
    }
    const prog = s === UNTOUCHED ? this.#startPiece(piece) : this.#progress(piece);
    const key = piece * this.blocksPerPiece + block;
    const cancel: PeerBlock<K>[] = [];
    const st = prog.state[block];
    if (st === RECEIVED) {
      this.#delReq(p, key);
      return none;
    }
    const requesters = prog.requesters[block] ?? [];
    for (const other of requesters) {
      const op = this.#peers.get(other);
      this.#delReq(op, key);
      if (other !== peer) cancel.push({ peer: other, ...this.#blockOf(key) });
    }
    this.#delReq(p, key);
    prog.requesters[block] = undefined;
    if (st === FREE) prog.free--;
    prog.state[block] = RECEIVED;
    prog.received++;
    const complete = prog.received === prog.state.length;
    if (complete) {
      this.#downloading.delete(piece);
      this.#state[piece] = VERIFYING;
    }
    return { duplicate: false, pieceComplete: complete, cancel };
  }

  /** A request was rejected, timed out or lost to a choke: the block becomes free again. */
  requestFailed(peer: K, piece: number, offset: number): void {
    const block = this.#blockIndex(piece, offset);
    const p = this.#peers.get(peer);
    if (block < 0 || !p) return;
    const key = piece * this.blocksPerPiece + block;
    if (!this.#delReq(p, key)) return;
    this.#unrequest(peer, piece, block);
  }

  /** The peer choked us: every request outstanding there is freed. */
  peerChoked(peer: K): void {
    const p = this.#peers.get(peer);
    if (p) this.#dropRequests(peer, p);
  }

  /**
   * The hash check of a complete piece: `true` makes it ours; `false` discards its blocks so it
   * is downloaded again.
   */
  pieceVerified(piece: number, ok: boolean): void {
    if (this.#state[piece] !== VERIFYING) return;
    if (ok) {
      this.#acquire(piece);
    } else {
      this.#state[piece] = UNTOUCHED;
      this.#bucketInsert(piece);
    }
  }

  /** Marks a piece as ours without downloading it (resume after a recheck). */
  markHave(piece: number): void {
    const s = this.#state[piece];
    if (s === undefined || s === HAVE) return;
    if (s === UNTOUCHED) this.#bucketRemove(piece);
    if (s === DOWNLOADING) this.#abandon(piece);
    this.#acquire(piece);
  }

  // ---- modes and priorities ------------------------------------------------------------------

  /** Switches between rarest-first and strict sequential. */
  setMode(mode: PickMode): void {
    this.#mode = mode;
    this.#seqCursor = 0;
  }

  /**
   * Streaming: pieces `[start, start + count)` are picked first, in order (a deadline window
   * ahead of a playback position). `undefined` turns it off.
   */
  setStreamingWindow(window: { start: number; count: number } | undefined): void {
    this.#window = window && {
      start: Math.max(0, Math.floor(window.start)),
      count: Math.max(0, Math.floor(window.count)),
    };
  }

  /** Sets the priority of one piece (0 = skip). */
  setPiecePriority(piece: number, priority: Priority): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount)
      throw new RangeError(`piece ${piece} out of range`);
    if (!Number.isInteger(priority) || priority < 0 || priority > 7)
      throw new RangeError('priority must be 0..7');
    const old = this.#priority[piece] as number;
    if (old === priority) return;
    const s = this.#state[piece];
    if (s === UNTOUCHED) this.#bucketRemove(piece);
    this.#priority[piece] = priority;
    if (s === UNTOUCHED) this.#bucketInsert(piece);
    if (s !== HAVE && (old === 0) !== (priority === 0)) {
      const delta = priority === 0 ? -1 : 1;
      this.#wantedMissing += delta;
      for (const p of this.#peers.values()) if (!p.seed && p.bits.get(piece)) p.wanted += delta;
      if (priority === 0 && s === DOWNLOADING) this.#abandon(piece);
    }
  }

  /** Sets every piece's priority at once (e.g. from {@link filePiecePriorities}). */
  setPriorities(priorities: ArrayLike<number>): void {
    if (priorities.length !== this.pieceCount) throw new RangeError('one priority per piece');
    for (let i = 0; i < this.pieceCount; i++) this.setPiecePriority(i, (priorities[i] ?? 4) as Priority);
  }

  /**
   * Verifies internal consistency in O(n + p·n): for tests. Throws an `Error` naming the first
   * broken invariant.
   */
  checkInvariant(): void {
    const fail = (m: string) => {
      throw new Error(`picker invariant: ${m}`);
    };
    const avail = new Uint32Array(this.pieceCount);
    let seeds = 0;
    for (const p of this.#peers.values()) {
      if (p.seed) {
        seeds++;
        if (p.bits.count !== 0) fail('seed with a bitfield');
        continue;
      }
      let wanted = 0;
      for (let i = 0; i < this.pieceCount; i++) {
        if (!p.bits.get(i)) continue;
        avail[i] = (avail[i] as number) + 1;
        if (this.#state[i] !== HAVE && this.#priority[i] !== 0) wanted++;
      }
      if (wanted !== p.wanted) fail(`peer wanted ${p.wanted} != ${wanted}`);
    }
    if (seeds !== this.#seeds) fail('seed count');
    let bucketed = 0;
    let wantedMissing = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      if (avail[i] !== this.#avail[i]) fail(`availability of ${i}`);
      const s = this.#state[i];
      const inBucket = this.#pos[i] !== -1;
      const shouldBucket = s === UNTOUCHED && this.#priority[i] !== 0;
      if (inBucket !== shouldBucket) fail(`bucket membership of ${i}`);
      if (inBucket) {
        bucketed++;
        const list = this.#buckets[this.#priority[i] as number]?.[this.#avail[i] as number];
        if (list?.[this.#pos[i] as number] !== i) fail(`bucket position of ${i}`);
      }
      if ((s === HAVE) !== this.have.get(i)) fail(`have bit of ${i}`);
      if (s !== HAVE && this.#priority[i] !== 0) wantedMissing++;
      if ((s === DOWNLOADING) !== this.#downloading.has(i)) fail(`downloading set of ${i}`);
    }
    if (bucketed !== this.#bucketed) fail('bucketed count');
    let pairs = 0;
    for (const p of this.#peers.values()) pairs += p.requests.size;
    if (pairs !== this.#requestPairs) fail(`request pairs ${this.#requestPairs} != ${pairs}`);
    if (wantedMissing !== this.#wantedMissing) fail('wanted count');
    for (const [peer, p] of this.#peers) {
      for (const key of p.requests) {
        const { piece } = this.#blockOf(key);
        const prog = this.#downloading.get(piece);
        const block = key % this.blocksPerPiece;
        if (!prog || prog.state[block] !== REQUESTED || !prog.requesters[block]?.includes(peer)) {
          fail(`request ${key} of a peer not recorded on its block`);
        }
      }
    }
    for (const prog of this.#downloading.values()) {
      let free = 0;
      let received = 0;
      prog.state.forEach((s, b) => {
        if (s === FREE) free++;
        if (s === RECEIVED) received++;
        const r = prog.requesters[b];
        if (s === REQUESTED && (!r || r.length === 0)) fail('requested block without requester');
        if (s !== REQUESTED && r && r.length > 0) fail('requester on a block not requested');
      });
      if (free !== prog.free || received !== prog.received) fail(`block counts of piece ${prog.piece}`);
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  #peer(peer: K): PeerState {
    this.addPeer(peer);
    return this.#peers.get(peer) as PeerState;
  }

  #gain(p: PeerState, i: number): void {
    p.bits.set(i);
    this.#availChange(i, +1);
    if (this.#state[i] !== HAVE && this.#priority[i] !== 0) p.wanted++;
  }

  #makeSeed(p: PeerState): void {
    p.seed = true;
    p.wanted = 0;
    this.#seeds++;
  }

  /** Removes everything the peer was counted as having. */
  #clearPieces(p: PeerState): void {
    if (p.seed) {
      p.seed = false;
      this.#seeds--;
      return;
    }
    if (p.bits.count === 0) return;
    const bytes = p.bits.bytes;
    for (let byte = 0; byte < bytes.length; byte++) {
      const v = bytes[byte] as number;
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (v & (0x80 >> bit)) this.#availChange(byte * 8 + bit, -1);
    }
    p.bits = new Bitfield(this.pieceCount);
    p.wanted = 0;
  }

  #availChange(i: number, delta: number): void {
    const bucketed = this.#pos[i] !== -1;
    if (bucketed) this.#bucketRemove(i);
    this.#avail[i] = (this.#avail[i] as number) + delta;
    if (bucketed) this.#bucketInsert(i);
  }

  #bucketInsert(i: number): void {
    const prio = this.#priority[i] as number;
    if (prio === 0 || this.#state[i] !== UNTOUCHED) return;
    const byAvail = this.#buckets[prio] as number[][];
    const a = this.#avail[i] as number;
    while (byAvail.length <= a) byAvail.push([]);
    const list = byAvail[a] as number[];
    list.push(i);
    // Random position: the tie-break among equally rare pieces.
    const j = Math.floor(this.#random() * list.length);
    const other = list[j] as number;
    list[j] = i;
    list[list.length - 1] = other;
    this.#pos[other] = list.length - 1;
    this.#pos[i] = j;
    this.#bucketed++;
    if (i < this.#seqCursor) this.#seqCursor = i;
  }

  #bucketRemove(i: number): void {
    const at = this.#pos[i] as number;
    if (at < 0) return;
    const list = this.#buckets[this.#priority[i] as number]?.[this.#avail[i] as number] as number[];
    const last = list.pop() as number;
    if (last !== i) {
      list[at] = last;
      this.#pos[last] = at;
    }
    this.#pos[i] = -1;
    this.#bucketed--;
  }

  #nextNewPiece(p: PeerState): number {
    if (this.#bucketed === 0) return -1;
    const has = (i: number) => p.seed || p.bits.get(i);
    if (this.#mode === 'sequential') {
      for (let i = this.#seqCursor; i < this.pieceCount; i++) {
        if (this.#pos[i] !== -1 && has(i)) return i;
      }
      return -1;
    }
    if (this.have.count < this.#randomFirst) {
      for (let k = 0; k < 32; k++) {
        const i = Math.floor(this.#random() * this.pieceCount);
        if (this.#pos[i] !== -1 && (this.#priority[i] as number) >= PRIORITY.normal && has(i)) return i;
      }
    }
    for (let prio = 7; prio >= 1; prio--) {
      const byAvail = this.#buckets[prio] as number[][];
      for (const list of byAvail) {
        for (const i of list) if (has(i)) return i;
      }
    }
    return -1;
  }

  #startPiece(i: number): Progress<K> {
    this.#bucketRemove(i);
    const size = this.pieceSize(i);
    const blocks = Math.ceil(size / this.blockSize);
    const prog: Progress<K> = {
      piece: i,
      state: new Uint8Array(blocks),
      requesters: new Array(blocks).fill(undefined),
      free: blocks,
      received: 0,
    };
    this.#state[i] = DOWNLOADING;
    this.#downloading.set(i, prog);
    if (this.#mode === 'sequential') {
      while (this.#seqCursor < this.pieceCount && this.#pos[this.#seqCursor] === -1) this.#seqCursor++;
    }
    return prog;
  }

  #progress(i: number): Progress<K> {
    return this.#downloading.get(i) as Progress<K>;
  }

  #takeBlocks(peer: K, p: PeerState, prog: Progress<K>, max: number, out: BlockRequest[]): void {
    for (let b = 0; b < prog.state.length && out.length < max && prog.free > 0; b++) {
      if (prog.state[b] !== FREE) continue;
      prog.state[b] = REQUESTED;
      prog.requesters[b] = [peer];
      prog.free--;
      const key = prog.piece * this.blocksPerPiece + b;
      this.#addReq(p, key);
      out.push(this.#blockOf(key));
    }
  }

  #endgamePick(peer: K, p: PeerState, max: number, out: BlockRequest[]): void {
    for (const prog of this.#downloading.values()) {
      if (out.length >= max) return;
      if (!(p.seed || p.bits.get(prog.piece))) continue;
      for (let b = 0; b < prog.state.length && out.length < max; b++) {
        if (prog.state[b] !== REQUESTED) continue;
        const r = prog.requesters[b] as K[];
        if (r.length >= this.#endgameMax || r.includes(peer)) continue;
        r.push(peer);
        const key = prog.piece * this.blocksPerPiece + b;
        this.#addReq(p, key);
        out.push(this.#blockOf(key));
      }
    }
  }

  #addReq(p: PeerState, key: number): void {
    if (!p.requests.has(key)) {
      p.requests.add(key);
      this.#requestPairs++;
    }
  }

  #delReq(p: PeerState | undefined, key: number): boolean {
    if (!p?.requests.delete(key)) return false;
    this.#requestPairs--;
    return true;
  }

  #unrequest(peer: K, piece: number, block: number): void {
    const prog = this.#downloading.get(piece);
    if (!prog || prog.state[block] !== REQUESTED) return;
    const r = (prog.requesters[block] ?? []).filter((x) => x !== peer);
    if (r.length > 0) {
      prog.requesters[block] = r;
      return;
    }
    prog.requesters[block] = undefined;
    prog.state[block] = FREE;
    prog.free++;
  }

  #dropRequests(peer: K, p: PeerState): void {
    for (const key of p.requests)
      this.#unrequest(peer, Math.floor(key / this.blocksPerPiece), key % this.blocksPerPiece);
    this.#requestPairs -= p.requests.size;
    p.requests.clear();
  }

  /** Forgets a piece being downloaded (it became unwanted or was obtained otherwise). */
  #abandon(piece: number): void {
    const prog = this.#downloading.get(piece);
    if (!prog) return;
    prog.requesters.forEach((r, b) => {
      for (const peer of r ?? []) this.#delReq(this.#peers.get(peer), piece * this.blocksPerPiece + b);
    });
    this.#downloading.delete(piece);
    this.#state[piece] = UNTOUCHED;
    this.#bucketInsert(piece);
  }

  #acquire(piece: number): void {
    if (this.#state[piece] === UNTOUCHED) this.#bucketRemove(piece);
    this.#state[piece] = HAVE;
    this.have.set(piece);
    if (this.#priority[piece] !== 0) {
      this.#wantedMissing--;
      for (const p of this.#peers.values()) if (!p.seed && p.bits.get(piece)) p.wanted--;
    }
  }

  #blockIndex(piece: number, offset: number): number {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) return -1;
    if (!Number.isInteger(offset) || offset < 0 || offset % this.blockSize !== 0) return -1;
    if (offset >= this.pieceSize(piece)) return -1;
    return offset / this.blockSize;
  }

  #blockOf(key: number): BlockRequest {
    const piece = Math.floor(key / this.blocksPerPiece);
    const block = key % this.blocksPerPiece;
    const offset = block * this.blockSize;
    return { piece, offset, length: Math.min(this.blockSize, this.pieceSize(piece) - offset) };
  }
}

/**
 * Piece priorities from file priorities: a piece takes the highest priority of the files it
 * overlaps (so a piece shared with a wanted file is downloaded even if the other file is
 * skipped). Zero-length files overlap nothing.
 */
export function filePiecePriorities(
  files: readonly { offset: number; length: number }[],
  filePriorities: readonly Priority[],
  pieceLength: number,
  pieceCount: number,
): Uint8Array {
  if (files.length !== filePriorities.length) throw new RangeError('one priority per file');
  const out = new Uint8Array(pieceCount);
  files.forEach((f, k) => {
    if (f.length === 0) return;
    const prio = filePriorities[k] as number;
    const first = Math.floor(f.offset / pieceLength);
    const last = Math.min(pieceCount - 1, Math.floor((f.offset + f.length - 1) / pieceLength));
    for (let i = first; i <= last; i++) if (prio > (out[i] as number)) out[i] = prio;
  });
  return out;
}
