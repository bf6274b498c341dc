import { pieceLengthAt } from '../metainfo/torrent.js';
import { Bitfield, bitfieldByteLength } from '../util/bitfield.js';
import { AvailabilityIndex } from './availability.js';
import { BlockTracker, checkDataLengths, type PeerState, type Progress } from './blocks.js';
import { DeadlineSet } from './deadlines.js';
import { PickerError } from './errors.js';
import { checkPickerInvariant, DOWNLOADING, HAVE, UNTOUCHED, VERIFYING } from './invariant.js';
import {
  type BlockReceipt,
  type PickedBlock,
  type PickerOptions,
  type PickMode,
  type PickOptions,
  PRIORITY,
  type Priority,
} from './types.js';

export { filePiecePriorities } from './priorities.js';
export {
  type BlockReceipt,
  type PeerBlock,
  type PickedBlock,
  type PickerOptions,
  type PickMode,
  type PickOptions,
  PRIORITY,
  type Priority,
} from './types.js';

function outOfRange(piece: number): PickerError {
  return new PickerError('PICKER_OUT_OF_RANGE', `piece ${piece} out of range`, { details: { piece } });
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
 *   the duplicates are cancelled when the first copy arrives; only to an idle peer (blocks.ts).
 *
 * Complexity (n pieces, p peers): have / have-none / verified O(1) plus O(p) on verify to keep
 * each peer's interest count; bitfield O(n); pick O(d + b·s) where d is the number of pieces
 * being downloaded, b the blocks returned and s the bucket entries skipped because the peer
 * lacks them (0 for seeds; bounded by n).
 *
 * Inside: the availability index and rarest-first buckets ({@link AvailabilityIndex}), the block
 * level and endgame ({@link BlockTracker}); this class keeps each piece's state and priority, the
 * peers, and the modes, and ties the two together.
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
  readonly #dataLengths: Uint32Array | undefined;
  readonly #randomFirst: number;
  readonly #random: () => number;

  readonly #state: Uint8Array;
  readonly #priority: Uint8Array;
  readonly #index: AvailabilityIndex;
  readonly #blocks: BlockTracker<K>;
  #wantedMissing = 0;
  readonly #peers = new Map<K, PeerState>();
  #seqCursor = 0;
  #window: { start: number; count: number } | undefined;
  readonly #deadlines = new DeadlineSet();

  /** @throws {PickerError} `PICKER_BAD_OPTIONS` for a piece count or length out of range. */
  constructor(options: PickerOptions) {
    const { pieceCount, pieceLength } = options;
    if (!Number.isInteger(pieceCount) || pieceCount < 0)
      throw new PickerError('PICKER_BAD_OPTIONS', 'pieceCount must be a natural number');
    if (!Number.isInteger(pieceLength) || pieceLength <= 0)
      throw new PickerError('PICKER_BAD_OPTIONS', 'pieceLength must be positive');
    this.pieceCount = pieceCount;
    this.pieceLength = pieceLength;
    this.lastPieceLength = options.lastPieceLength ?? pieceLength;
    if (!(this.lastPieceLength > 0 && this.lastPieceLength <= pieceLength))
      throw new PickerError('PICKER_BAD_OPTIONS', 'bad lastPieceLength');
    this.#dataLengths = checkDataLengths(options.pieceDataLengths, this);
    this.blockSize = options.blockSize ?? 16384;
    this.blocksPerPiece = Math.ceil(pieceLength / this.blockSize);
    this.#mode = options.mode ?? 'rarest';
    this.#randomFirst = options.randomFirstPieces ?? 4;
    this.#random = options.random ?? Math.random;
    this.have = new Bitfield(pieceCount);
    this.#state = new Uint8Array(pieceCount);
    this.#priority = new Uint8Array(pieceCount).fill(PRIORITY.normal);
    this.#index = new AvailabilityIndex(pieceCount, this.#random);
    this.#blocks = new BlockTracker(this, this.#peers, Math.max(1, options.endgameRequesters ?? 2));
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
    return this.#index.bucketed === 0 && this.#wantedMissing > 0;
  }

  /** Requests outstanding over all peers: (block, peer) pairs (an endgame duplicate counts twice). */
  get outstandingRequests(): number {
    return this.#blocks.requestPairs;
  }

  /** Number of pieces partly downloaded. */
  get downloadingCount(): number {
    return this.#blocks.downloading.size;
  }

  /** Number of peers known. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** How many known peers have piece `i`. */
  availability(i: number): number {
    return this.#index.availability(i);
  }

  /** Priority of piece `i`. */
  priority(i: number): Priority {
    return (this.#priority[i] ?? 0) as Priority;
  }

  /** Length of piece `i` ({@link pieceLengthAt}). */
  pieceSize(i: number): number {
    return pieceLengthAt(this, i);
  }

  /** Bytes of piece `i` that are downloaded: its length minus the padding at its end. */
  pieceDataLength(i: number): number {
    return this.#dataLengths?.[i] ?? pieceLengthAt(this, i);
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
  requestsOf(peer: K): PickedBlock[] {
    const p = this.#peers.get(peer);
    return p ? [...p.requests].map((key) => this.#blocks.blockOf(key)) : [];
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
    this.#blocks.dropRequests(peer, p);
    this.#clearPieces(p);
    this.#peers.delete(peer);
  }

  /**
   * The peer's BEP 3 bitfield (replaces what was known).
   * @throws {PickerError} `PICKER_BAD_BITFIELD` when it is not `ceil(pieceCount / 8)` bytes.
   */
  peerBitfield(peer: K, bytes: Uint8Array): void {
    if (bytes.length !== bitfieldByteLength(this.pieceCount)) {
      throw new PickerError('PICKER_BAD_BITFIELD', 'bitfield has the wrong size', {
        details: { length: bytes.length, pieceCount: this.pieceCount },
      });
    }
    const p = this.#peer(peer);
    this.#clearPieces(p);
    const bits = new Bitfield(this.pieceCount, bytes);
    if (bits.full && this.pieceCount > 0) {
      this.#makeSeed(p);
      return;
    }
    for (let i = bits.nextSet(0); i >= 0; i = bits.nextSet(i + 1)) this.#gain(p, i);
  }

  /**
   * BEP 3 `have`.
   * @throws {PickerError} `PICKER_OUT_OF_RANGE` for a piece outside the torrent.
   */
  peerHave(peer: K, i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.pieceCount) throw outOfRange(i);
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
   * Up to `max` blocks to request from `peer`, marked requested. Pieces with a deadline come
   * first, earliest first (only for a `critical` peer — see {@link PickOptions}), then the
   * streaming window, pieces being downloaded, new pieces by mode, and endgame duplicates.
   */
  pick(peer: K, max: number, options: PickOptions = {}): PickedBlock[] {
    const p = this.#peers.get(peer);
    const out: PickedBlock[] = [];
    if (!p || max <= 0 || this.#wantedMissing === 0) return out;
    const deadlines = this.#deadlines;
    const skipDeadlines = deadlines.size > 0 && options.critical === false;
    const has = skipDeadlines
      ? (i: number) => (p.seed || p.bits.get(i)) && !deadlines.has(i)
      : (i: number) => p.seed || p.bits.get(i);
    const blocks = this.#blocks;

    if (deadlines.size > 0 && !skipDeadlines) this.#takeInOrder(peer, p, deadlines.ordered(), has, max, out);
    const w = this.#window;
    if (w) {
      const end = Math.min(this.pieceCount, w.start + w.count);
      this.#takeInOrder(
        peer,
        p,
        Array.from({ length: Math.max(0, end - w.start) }, (_, k) => w.start + k),
        has,
        max,
        out,
      );
    }
    for (const prog of blocks.downloading.values()) {
      if (out.length >= max) break;
      if (prog.free > 0 && has(prog.piece)) blocks.take(peer, p, prog, max, out);
    }
    while (out.length < max) {
      const i = this.#nextNewPiece(has);
      if (i < 0) break;
      blocks.take(peer, p, this.#startPiece(i), max, out);
    }
    // Endgame (libtorrent's rule): only to a peer with nothing outstanding, one block (see blocks.ts).
    if (out.length === 0 && p.requests.size === 0 && this.#index.bucketed === 0 && blocks.requestPairs > 0)
      blocks.endgame(peer, p, 1, out);
    return out;
  }

  /**
   * A piece with a deadline is late: up to `max` of its blocks requested from `peer` — free ones,
   * and ones outstanding elsewhere (a duplicate, cancelled when the first copy arrives; at most
   * `endgameRequesters` + 1 peers per block). Nothing when `peer` lacks the piece or already has
   * every missing block of it requested.
   */
  pickLate(peer: K, piece: number, max: number): PickedBlock[] {
    const p = this.#peers.get(peer);
    const out: PickedBlock[] = [];
    if (!p || max <= 0 || !(p.seed || p.bits.get(piece)) || this.#priority[piece] === 0) return out;
    const s = this.#state[piece];
    if (s === UNTOUCHED) this.#blocks.take(peer, p, this.#startPiece(piece), max, out);
    else if (s === DOWNLOADING) this.#blocks.hurry(peer, p, this.#progress(piece), max, out);
    return out;
  }

  /**
   * Records a received block. Unrequested blocks of wanted, unfinished pieces are accepted too
   * (the data is checked by the piece hash anyway).
   */
  blockReceived(peer: K, piece: number, offset: number): BlockReceipt<K> {
    const blocks = this.#blocks;
    const block = blocks.blockIndex(piece, offset);
    if (block < 0) return { duplicate: true, pieceComplete: false, cancel: [] };
    const p = this.#peers.get(peer);
    const s = this.#state[piece];
    if (s === HAVE || s === VERIFYING || this.#priority[piece] === 0) {
      blocks.forget(p, piece * this.blocksPerPiece + block);
      return { duplicate: true, pieceComplete: false, cancel: [] };
    }
    const prog = s === UNTOUCHED ? this.#startPiece(piece) : this.#progress(piece);
    const receipt = blocks.receive(peer, p, prog, block);
    if (receipt.pieceComplete) this.#state[piece] = VERIFYING;
    return receipt;
  }

  /** A request was rejected, timed out or lost to a choke: the block becomes free again. */
  requestFailed(peer: K, piece: number, offset: number): void {
    const block = this.#blocks.blockIndex(piece, offset);
    const p = this.#peers.get(peer);
    if (block < 0 || !p) return;
    this.#blocks.failed(peer, p, piece, block);
  }

  /** The peer choked us: every request outstanding there is freed. */
  peerChoked(peer: K): void {
    const p = this.#peers.get(peer);
    if (p) this.#blocks.dropRequests(peer, p);
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

  /**
   * Gives piece `i` a deadline (a time on the caller's clock; earlier is more urgent): pieces
   * with a deadline are picked before all others, earliest first, by peers picked as `critical`.
   * A piece of priority 0 is never picked, deadline or not: raise its priority too.
   * @throws {PickerError} `PICKER_OUT_OF_RANGE`.
   */
  setDeadline(i: number, at: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.pieceCount) throw outOfRange(i);
    this.#deadlines.set(i, at);
  }

  /** Removes the deadline of piece `i` (no-op without one). */
  clearDeadline(i: number): void {
    this.#deadlines.delete(i);
  }

  /** The deadline of piece `i`, if any. */
  deadline(i: number): number | undefined {
    return this.#deadlines.at(i);
  }

  /** Pieces with a deadline, earliest first (verified ones included until cleared). */
  deadlinePieces(): readonly number[] {
    return this.#deadlines.ordered();
  }

  /**
   * Sets the priority of one piece (0 = skip).
   * @throws {PickerError} `PICKER_OUT_OF_RANGE`, `PICKER_BAD_PRIORITY`.
   */
  setPiecePriority(piece: number, priority: Priority): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) throw outOfRange(piece);
    if (!Number.isInteger(priority) || priority < 0 || priority > 7) {
      throw new PickerError('PICKER_BAD_PRIORITY', 'priority must be 0..7', {
        details: { piece, priority },
      });
    }
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

  /**
   * Sets every piece's priority at once (e.g. from {@link filePiecePriorities}).
   * @throws {PickerError} `PICKER_WRONG_LENGTH` unless there is one per piece; `PICKER_BAD_PRIORITY`.
   */
  setPriorities(priorities: ArrayLike<number>): void {
    if (priorities.length !== this.pieceCount) {
      throw new PickerError('PICKER_WRONG_LENGTH', 'one priority per piece', {
        details: { priorities: priorities.length, pieceCount: this.pieceCount },
      });
    }
    for (let i = 0; i < this.pieceCount; i++) this.setPiecePriority(i, (priorities[i] ?? 4) as Priority);
  }

  /**
   * Verifies internal consistency in O(n + p·n): for tests.
   * @throws {PickerError} `PICKER_INVARIANT` naming the first broken invariant.
   */
  checkInvariant(): void {
    checkPickerInvariant({
      pieceCount: this.pieceCount,
      peers: this.#peers,
      state: this.#state,
      priority: this.#priority,
      index: this.#index,
      have: this.have,
      blocks: this.#blocks,
      wantedMissing: this.#wantedMissing,
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  #peer(peer: K): PeerState {
    this.addPeer(peer);
    return this.#peers.get(peer) as PeerState;
  }

  #gain(p: PeerState, i: number): void {
    p.bits.set(i);
    this.#index.change(i, +1, this.#priority[i] as number);
    if (this.#state[i] !== HAVE && this.#priority[i] !== 0) p.wanted++;
  }

  #makeSeed(p: PeerState): void {
    p.seed = true;
    p.wanted = 0;
    this.#index.seeds++;
  }

  /** Removes everything the peer was counted as having. */
  #clearPieces(p: PeerState): void {
    if (p.seed) {
      p.seed = false;
      this.#index.seeds--;
      return;
    }
    if (p.bits.count === 0) return;
    const bits = p.bits;
    for (let i = bits.nextSet(0); i >= 0; i = bits.nextSet(i + 1)) {
      this.#index.change(i, -1, this.#priority[i] as number);
    }
    p.bits = new Bitfield(this.pieceCount);
    p.wanted = 0;
  }

  /** Puts piece `i` in its bucket if it belongs in one (untouched and wanted). */
  #bucketInsert(i: number): void {
    const prio = this.#priority[i] as number;
    if (prio === 0 || this.#state[i] !== UNTOUCHED) return;
    this.#index.insert(i, prio);
    if (i < this.#seqCursor) this.#seqCursor = i;
  }

  #bucketRemove(i: number): void {
    this.#index.remove(i, this.#priority[i] as number);
  }

  #nextNewPiece(has: (i: number) => boolean): number {
    const index = this.#index;
    if (index.bucketed === 0) return -1;
    if (this.#mode === 'sequential') {
      for (let i = this.#seqCursor; i < this.pieceCount; i++) {
        if (index.isBucketed(i) && has(i)) return i;
      }
      return -1;
    }
    if (this.have.count < this.#randomFirst) {
      for (let k = 0; k < 32; k++) {
        const i = Math.floor(this.#random() * this.pieceCount);
        if (index.isBucketed(i) && (this.#priority[i] as number) >= PRIORITY.normal && has(i)) return i;
      }
    }
    return index.first(has);
  }

  /** Blocks of `pieces` (in that order) that `peer` has and we want, into `out`. */
  #takeInOrder(
    peer: K,
    p: PeerState,
    pieces: readonly number[],
    has: (i: number) => boolean,
    max: number,
    out: PickedBlock[],
  ): void {
    for (const i of pieces) {
      if (out.length >= max) return;
      if (!has(i) || this.#priority[i] === 0) continue;
      const s = this.#state[i];
      if (s === UNTOUCHED) this.#blocks.take(peer, p, this.#startPiece(i), max, out);
      else if (s === DOWNLOADING) this.#blocks.take(peer, p, this.#progress(i), max, out);
    }
  }

  #startPiece(i: number): Progress<K> {
    this.#bucketRemove(i);
    const prog = this.#blocks.start(i);
    this.#state[i] = DOWNLOADING;
    if (this.#mode === 'sequential') {
      while (this.#seqCursor < this.pieceCount && !this.#index.isBucketed(this.#seqCursor)) this.#seqCursor++;
    }
    return prog;
  }

  #progress(i: number): Progress<K> {
    return this.#blocks.downloading.get(i) as Progress<K>;
  }

  /** Forgets a piece being downloaded (it became unwanted or was obtained otherwise). */
  #abandon(piece: number): void {
    if (!this.#blocks.abandon(piece)) return;
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
}
