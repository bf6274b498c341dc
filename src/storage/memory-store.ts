import type { InfoDictionary } from '../metainfo/torrent.js';
import { forEachLimited, StoreState } from './_common.js';
import { type HashPool, sharedHashPool } from './hash-pool.js';
import { Layout } from './layout.js';
import type { ChunkStore, RecheckOptions, StorageAbortOptions, StorageGetOptions } from './types.js';
import { type PieceVerifier, pieceVerifier } from './verifier.js';

const noop = (): void => {};

/** Options of {@link MemoryChunkStore}. */
export interface MemoryChunkStoreOptions {
  /** Pool that hashes pieces. Default: the shared pool ({@link sharedHashPool}). */
  hashPool?: HashPool;
}

/**
 * A {@link ChunkStore} in memory: one buffer per piece, allocated on the first block (in a
 * `SharedArrayBuffer` where available, so the hash workers read it in place). For tests, the
 * swarm lab and small torrents; memory grows with the data stored. Skipped files change nothing
 * here (there are no files); padding is never stored and reads as zeros.
 */
export class MemoryChunkStore implements ChunkStore {
  readonly meta: InfoDictionary;
  /** `put()` is done with the block before it returns. */
  readonly copiesOnPut = true;
  readonly pendingBytes = 0;
  readonly #layout: Layout;
  readonly #verifier: PieceVerifier;
  readonly #state: StoreState;
  readonly #pool: HashPool;
  #pieces: (Uint8Array | undefined)[];

  constructor(meta: InfoDictionary, options: MemoryChunkStoreOptions = {}) {
    this.meta = meta;
    this.#layout = new Layout(meta);
    this.#verifier = pieceVerifier(meta);
    this.#state = new StoreState(this.#layout);
    this.#pool = options.hashPool ?? sharedHashPool();
    this.#pieces = new Array(this.#layout.pieceCount);
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  /** `pendingBytes` is always 0 here, so the listener is never called. */
  onDrain(_listener: () => void): () => void {
    return noop;
  }

  async put(
    piece: number,
    offset: number,
    bytes: Uint8Array,
    options: StorageAbortOptions = {},
  ): Promise<void> {
    this.#state.check(options.signal);
    this.#layout.checkBlock(piece, offset, bytes.length);
    if (this.#state.has(piece)) return;
    const buf = this.#piece(piece);
    const files = this.meta.files;
    for (const s of this.#layout.blockSegments(piece, offset, bytes.length)) {
      if (files[s.file]?.padding) continue;
      buf.set(bytes.subarray(s.bufOffset, s.bufOffset + s.length), offset + s.bufOffset);
    }
  }

  async get(
    piece: number,
    offset: number,
    length: number,
    options: StorageGetOptions = {},
  ): Promise<Uint8Array> {
    this.#state.check(options.signal);
    this.#layout.checkBlock(piece, offset, length);
    const into = options.into;
    const reused = into !== undefined && into.length >= length;
    const out = reused ? into.subarray(0, length) : new Uint8Array(length);
    const buf = this.#pieces[piece];
    if (buf) out.set(buf.subarray(offset, offset + length));
    else if (reused) out.fill(0);
    return out;
  }

  async verify(piece: number, options: StorageAbortOptions = {}): Promise<boolean> {
    this.#state.check(options.signal);
    this.#layout.checkPiece(piece);
    const ok = await this.#check(piece);
    this.#state.check(options.signal);
    this.#state.mark(piece, ok);
    return ok;
  }

  has(piece: number): boolean {
    return this.#state.has(piece);
  }

  bitfield(): Uint8Array {
    return this.#state.bits.slice();
  }

  async recheck(options: RecheckOptions = {}): Promise<Uint8Array> {
    this.#state.check(options.signal);
    const total = this.#layout.pieceCount;
    let checked = 0;
    let valid = 0;
    await forEachLimited(total, Math.max(2, this.#pool.size * 2), options.signal, async (i) => {
      const ok = await this.#check(i);
      this.#state.check();
      this.#state.mark(i, ok);
      checked++;
      if (ok) valid++;
      options.onProgress?.({ checked, total, valid });
    });
    return this.bitfield();
  }

  async setFileSkipped(index: number, skipped: boolean, options: StorageAbortOptions = {}): Promise<void> {
    this.#state.check(options.signal);
    this.#state.checkFile(index);
    this.#state.skipped[index] = skipped;
  }

  isFileSkipped(index: number): boolean {
    return this.#state.skipped[index] === true;
  }

  async flush(options: StorageAbortOptions = {}): Promise<void> {
    this.#state.check(options.signal);
  }

  async close(): Promise<void> {
    this.#state.closed = true;
  }

  async destroy(): Promise<void> {
    this.#state.closed = true;
    this.#pieces = [];
  }

  async #check(piece: number): Promise<boolean> {
    const size = this.#layout.pieceSize(piece);
    const buf = this.#pieces[piece] ?? (this.#allPadding(piece) ? new Uint8Array(size) : undefined);
    if (!buf) return false;
    return this.#verifier.matches(piece, await this.#pool.hash(buf, this.#verifier.kind(piece)));
  }

  #allPadding(piece: number): boolean {
    const segs = this.#layout.blockSegments(piece, 0, this.#layout.pieceSize(piece));
    return segs.every((s) => this.meta.files[s.file]?.padding === true);
  }

  #piece(piece: number): Uint8Array {
    let buf = this.#pieces[piece];
    if (!buf) {
      const size = this.#layout.pieceSize(piece);
      buf =
        typeof SharedArrayBuffer === 'undefined'
          ? new Uint8Array(size)
          : new Uint8Array(new SharedArrayBuffer(size));
      this.#pieces[piece] = buf;
    }
    return buf;
  }
}
