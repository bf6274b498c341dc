import { encode } from '../metainfo/bencode.js';
import { type InfoDictionary, parseInfoDictionary, pieceLengthAt } from '../metainfo/torrent.js';
import { closedError, StorageError } from '../storage/errors.js';
import type { ChunkStore, RecheckOptions, StorageAbortOptions } from '../storage/types.js';
import { bitfieldGet, bitfieldSet, createBitfield } from '../util/bitfield.js';
import { throwIfAborted } from '../util/errors.js';
import { createSha1 } from '../util/hash.js';
import { SimError } from './errors.js';
import type { SimRandom } from './random.js';

const HEADER = 8;
const noop = (): void => {};

/**
 * The content a simulated swarm shares, generated rather than stored: piece `i` is one random
 * pattern of a piece's length whose first 8 bytes are replaced by `i` (so every piece differs and
 * has its own SHA-1 in the info dictionary). One copy serves every peer of a run, whatever the
 * file size.
 */
export class SimContent {
  readonly info: InfoDictionary;
  readonly #pattern: Uint8Array;
  /** Whole pieces made on first read, kept for the run (bounded by the file size). */
  readonly #pieces: (Uint8Array | undefined)[] = [];

  constructor(size: number, pieceLength: number, random: SimRandom, name = 'swarm-lab.bin') {
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new SimError('SIM_BAD_ARGUMENT', 'SimContent: size must be a positive integer');
    this.#pattern = random.bytes(pieceLength);
    const count = Math.ceil(size / pieceLength);
    const geometry = { pieceCount: count, pieceLength, lastPieceLength: size - (count - 1) * pieceLength };
    const hashes = new Uint8Array(count * 20);
    for (let i = 0; i < count; i++) {
      const len = pieceLengthAt(geometry, i);
      const h = createSha1();
      const head = this.#header(i);
      if (len <= HEADER) h.update(head.subarray(0, len));
      else {
        h.update(head);
        h.update(this.#pattern.subarray(HEADER, len));
      }
      hashes.set(h.digest(), i * 20);
    }
    const infoBytes = encode(
      new Map<string, Uint8Array | number>([
        ['length', size],
        ['name', new TextEncoder().encode(name)],
        ['piece length', pieceLength],
        ['pieces', hashes],
      ]),
    );
    this.info = parseInfoDictionary(infoBytes);
  }

  /** Bytes `[offset, offset + length)` of `piece` (a view when it can be, else a copy). */
  read(piece: number, offset: number, length: number): Uint8Array {
    if (offset >= HEADER) return this.#pattern.subarray(offset, offset + length);
    let whole = this.#pieces[piece];
    if (!whole) {
      const size = pieceLengthAt(this.info, piece);
      whole = this.#pattern.slice(0, size);
      whole.set(this.#header(piece).subarray(0, Math.min(HEADER, size)));
      this.#pieces[piece] = whole;
    }
    return whole.subarray(offset, offset + length);
  }

  /** True when `bytes` are the content of `piece` at `offset`. */
  matches(piece: number, offset: number, bytes: Uint8Array): boolean {
    if (offset + bytes.length > this.#pattern.length) return false;
    const expected = this.read(piece, offset, bytes.length);
    return (
      Buffer.compare(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
      ) === 0
    );
  }

  #header(piece: number): Uint8Array {
    const h = new Uint8Array(HEADER);
    const v = new DataView(h.buffer);
    v.setUint32(0, piece);
    v.setUint32(4, ~piece >>> 0);
    return h;
  }
}

/**
 * What one simulated peer holds: verified pieces and, for pieces in progress, which byte
 * ranges arrived intact. It outlives the peer's sessions (a churning peer resumes).
 */
export class SimPieces {
  readonly have: Uint8Array;
  readonly partial = new Map<number, { good: number; bad: boolean; offsets: Set<number> }>();
  #count = 0;

  constructor(
    readonly content: SimContent,
    complete = false,
  ) {
    const n = content.info.pieceCount;
    this.have = createBitfield(n);
    if (complete) {
      for (let i = 0; i < n; i++) bitfieldSet(this.have, i, true);
      this.#count = n;
    }
  }

  /** Verified pieces. */
  get count(): number {
    return this.#count;
  }

  mark(piece: number, ok: boolean): void {
    const had = bitfieldGet(this.have, piece);
    if (had !== ok) this.#count += ok ? 1 : -1;
    bitfieldSet(this.have, piece, ok);
  }
}

/**
 * The swarm lab's {@link ChunkStore}: nothing is stored. A block is checked against the
 * generated content as it arrives, and `verify` passes a piece when all its bytes arrived intact —
 * the verdict SHA-1 would give, without hashing gigabytes per run. Reads return the content.
 */
export class SimStore implements ChunkStore {
  readonly meta: InfoDictionary;
  /** `put()` is done with the block before it returns. */
  readonly copiesOnPut = true;
  readonly pendingBytes = 0;
  readonly #pieces: SimPieces;
  readonly #skipped: boolean[];
  #closed = false;

  constructor(pieces: SimPieces) {
    this.#pieces = pieces;
    this.meta = pieces.content.info;
    this.#skipped = this.meta.files.map(() => false);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** `pendingBytes` is always 0 here, so the listener is never called. */
  onDrain(_listener: () => void): () => void {
    return noop;
  }

  async put(piece: number, offset: number, bytes: Uint8Array, options?: StorageAbortOptions): Promise<void> {
    this.#check(options);
    const size = this.#range(piece, offset, bytes.length);
    if (bitfieldGet(this.#pieces.have, piece)) return;
    let p = this.#pieces.partial.get(piece);
    if (!p) {
      p = { good: 0, bad: false, offsets: new Set() };
      this.#pieces.partial.set(piece, p);
    }
    const ok = this.#pieces.content.matches(piece, offset, bytes) && offset + bytes.length <= size;
    if (!ok) p.bad = true;
    else if (!p.offsets.has(offset)) {
      p.offsets.add(offset);
      p.good += bytes.length;
    }
  }

  async get(
    piece: number,
    offset: number,
    length: number,
    options?: StorageAbortOptions,
  ): Promise<Uint8Array> {
    this.#check(options);
    this.#range(piece, offset, length);
    return this.#pieces.content.read(piece, offset, length);
  }

  async verify(piece: number, options?: StorageAbortOptions): Promise<boolean> {
    this.#check(options);
    const size = this.#range(piece, 0, 0);
    if (bitfieldGet(this.#pieces.have, piece)) return true;
    const p = this.#pieces.partial.get(piece);
    const ok = p !== undefined && !p.bad && p.good === size;
    this.#pieces.partial.delete(piece);
    this.#pieces.mark(piece, ok);
    return ok;
  }

  has(piece: number): boolean {
    return (
      Number.isInteger(piece) &&
      piece >= 0 &&
      piece < this.meta.pieceCount &&
      bitfieldGet(this.#pieces.have, piece)
    );
  }

  bitfield(): Uint8Array {
    return this.#pieces.have.slice();
  }

  async recheck(options?: RecheckOptions): Promise<Uint8Array> {
    this.#check(options);
    const total = this.meta.pieceCount;
    options?.onProgress?.({ checked: total, total, valid: this.#pieces.count });
    return this.#pieces.have.slice();
  }

  async setFileSkipped(index: number, skipped: boolean, options?: StorageAbortOptions): Promise<void> {
    this.#check(options);
    if (!Number.isInteger(index) || index < 0 || index >= this.#skipped.length)
      throw new StorageError('STORAGE_OUT_OF_RANGE', `file ${index} outside the torrent`);
    this.#skipped[index] = skipped;
  }

  isFileSkipped(index: number): boolean {
    return this.#skipped[index] ?? false;
  }

  async flush(options?: StorageAbortOptions): Promise<void> {
    this.#check(options);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async destroy(): Promise<void> {
    this.#closed = true;
  }

  #check(options?: StorageAbortOptions): void {
    if (this.#closed) throw closedError();
    throwIfAborted(options?.signal);
  }

  /** Checks the range and returns the piece's size. */
  #range(piece: number, offset: number, length: number): number {
    const m = this.meta;
    if (!Number.isInteger(piece) || piece < 0 || piece >= m.pieceCount)
      throw new StorageError('STORAGE_OUT_OF_RANGE', `piece ${piece} outside the torrent`);
    const size = pieceLengthAt(m, piece);
    if (!Number.isInteger(offset) || offset < 0 || length < 0 || offset + length > size)
      throw new StorageError('STORAGE_OUT_OF_RANGE', `bytes ${offset}+${length} outside piece ${piece}`);
    return size;
  }
}
