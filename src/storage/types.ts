import type { InfoDictionary } from '../metainfo/torrent.js';
import type { ResumeFileStat } from './resume.js';

/** `{ signal }` accepted by every async call of a {@link ChunkStore}. */
export interface StorageAbortOptions {
  signal?: AbortSignal;
}

/** Options of {@link ChunkStore.get}. */
export interface StorageGetOptions extends StorageAbortOptions {
  /**
   * A buffer of at least `length` bytes to read into instead of a new one (an uploader recycles
   * piece buffers so); the result is then a view of it. A store may ignore it and return a new
   * buffer: use what `get()` returns.
   */
  into?: Uint8Array;
}

/** Progress of {@link ChunkStore.recheck}, reported after each piece. */
export interface RecheckProgress {
  /** Pieces looked at so far. */
  readonly checked: number;
  /** Pieces in the torrent. */
  readonly total: number;
  /** Pieces found correct so far. */
  readonly valid: number;
}

/**
 * Fast-resume data for {@link ChunkStore.recheck}: the pieces verified before, and the files as
 * they were then (see `ResumeRecord`).
 */
export interface RecheckResume {
  /** BEP 3 bitfield of the pieces claimed. */
  readonly have: Uint8Array;
  /** Per file: size and mtime when `have` was taken, undefined when it was not on disk. */
  readonly files: readonly (ResumeFileStat | undefined)[];
}

/** Options of {@link ChunkStore.recheck}. */
export interface RecheckOptions extends StorageAbortOptions {
  /** Called after each piece (in completion order, not piece order). */
  onProgress?: (progress: RecheckProgress) => void;
  /**
   * Fast resume. A store that keeps files (the file store) then trusts, without hashing, each
   * claimed piece whose files all have the size and mtime recorded; it hashes the claimed pieces
   * touching a file that changed, and counts unclaimed pieces missing without reading them, as
   * libtorrent does with valid resume data. A store may ignore it (a full recheck).
   */
  resume?: RecheckResume;
}

/**
 * Where a torrent's pieces live. The session engine writes blocks as they arrive, asks for a
 * piece to be verified once all its blocks are in, and reads blocks of verified pieces to upload.
 *
 * Flow: `put()` every block of a piece → `verify(piece)` → `true`: `has(piece)` is now true and the
 * piece may be uploaded with `get()`; `false`: the data is wrong, download the piece again (its
 * blocks are simply overwritten). On start, `recheck()` finds what is already on disk (resume).
 *
 * Implementations: {@link MemoryChunkStore}, {@link FsChunkStore}; both pass the same compliance
 * suite. Every async call takes `{ signal }`; every error thrown on purpose is a
 * {@link StorageError} with a stable code.
 */
export interface ChunkStore {
  /** The torrent this store holds. */
  readonly meta: InfoDictionary;
  /** True once `close()` or `destroy()` was called. */
  readonly closed: boolean;
  /**
   * Bytes the store holds for data accepted by `put()` and not yet written — for the file store
   * its write queue plus the pieces it assembles in memory (whole piece buffers, until their
   * hash is back) — never above
   * the store's cap (except for one block larger than the cap, accepted alone). Always 0 for the
   * memory store.
   */
  readonly pendingBytes: number;
  /**
   * The cap of `pendingBytes`, for a store that has one (the file store's `maxQueuedBytes`): the
   * session stops reading from peers as the store nears it.
   */
  readonly maxPendingBytes?: number;

  /**
   * Subscribes to the drain signal: `listener` is called (synchronously, from the store) each
   * time `pendingBytes` falls — a queued write finished, or a piece assembled in memory left it.
   * A writer held back by backpressure waits for it instead of polling `pendingBytes`. Returns
   * the unsubscribe function (calling it twice is harmless). The built-in stores call listeners
   * after their own bookkeeping and rethrow a listener's error asynchronously, so a listener
   * cannot disturb them.
   *
   * Required for any store whose `pendingBytes` can be above 0 (the file store); a store whose
   * `pendingBytes` is always 0 may omit it or return a no-op (the memory and swarm-lab stores
   * do the latter).
   */
  onDrain?(listener: () => void): () => void;

  /**
   * True when `put()` copies `bytes` before it returns (before its first `await`), so the
   * caller may reuse them at once. The session then puts blocks as views into its network read
   * buffer; to a store without it, it hands a copy. True for the built-in stores.
   */
  readonly copiesOnPut?: boolean;

  /**
   * Stores a block of `piece` at `offset`. Resolves once the block is accepted — for the file
   * store that means queued, not yet on disk; when the queue is at its byte cap, `put()` waits
   * (backpressure) until it drains. Unless the store `copiesOnPut`, it takes ownership of
   * `bytes`: do not modify them afterwards. Bytes that fall in BEP 47 padding files are dropped
   * (padding reads as zeros).
   * A block for a piece that already verified (`has(piece)`), or that arrives while the file
   * store verifies the piece from memory, is ignored, so a late duplicate (endgame) can never
   * overwrite good data.
   * @throws {StorageError} `STORAGE_OUT_OF_RANGE`, `STORAGE_CLOSED`, `STORAGE_IO` (an earlier
   *   queued write failed), `ABORTED`.
   */
  put(piece: number, offset: number, bytes: Uint8Array, options?: StorageAbortOptions): Promise<void>;

  /**
   * Reads `length` bytes of `piece` at `offset` (queued writes included). Padding reads as zeros;
   * bytes never written read as zeros where the file is short or missing in the memory store,
   * and fail with `STORAGE_IO` in the file store when the file is missing or short.
   * @throws {StorageError} `STORAGE_OUT_OF_RANGE`, `STORAGE_CLOSED`, `STORAGE_IO`, `ABORTED`.
   */
  get(piece: number, offset: number, length: number, options?: StorageGetOptions): Promise<Uint8Array>;

  /**
   * Hashes the whole piece (SHA-1, in the hash pool: off the main thread) and compares it with
   * the torrent's piece hash. On `true` the piece is marked complete (`has`); on `false` it is
   * marked incomplete. Waits for the piece's queued writes first. The file store writes a piece it
   * assembled whole in memory with one write, then hashes it from memory (no read-back) —
   * whether it verifies or not, `get()` then reads what was received.
   */
  verify(piece: number, options?: StorageAbortOptions): Promise<boolean>;

  /** True when `piece` verified (by `verify` or `recheck`). */
  has(piece: number): boolean;

  /** A BEP 3 bitfield (a copy) of the pieces for which `has` is true. */
  bitfield(): Uint8Array;

  /**
   * Hashes every piece already stored (resume) and returns a BEP 3 bitfield of those that are
   * correct; `has()` then agrees with it. Missing or short files make their pieces missing, not
   * errors.
   */
  recheck(options?: RecheckOptions): Promise<Uint8Array>;

  /**
   * Marks file `index` skipped (the user does not want it) or wanted again. A skipped file is
   * never created; bytes of it that arrive anyway (pieces shared with a wanted file) go to a side
   * store — see docs/storage.md. Call it before the first `put()` / `recheck()` for the files
   * skipped from the start.
   */
  setFileSkipped(index: number, skipped: boolean, options?: StorageAbortOptions): Promise<void>;

  /** True when file `index` is marked skipped. */
  isFileSkipped(index: number): boolean;

  /**
   * Optional: size and mtime of each file on disk (undefined: not a file of its own there), for
   * fast-resume records. Stores without files leave it out.
   */
  fileStats?(options?: StorageAbortOptions): Promise<(ResumeFileStat | undefined)[]>;

  /** Waits until every queued write is on disk (not fsync'd). */
  flush(options?: StorageAbortOptions): Promise<void>;

  /** Flushes queued writes and releases every resource. Later calls throw `STORAGE_CLOSED`. */
  close(options?: StorageAbortOptions): Promise<void>;

  /** Drops queued writes, closes, and deletes the torrent's data (only files the torrent names). */
  destroy(options?: StorageAbortOptions): Promise<void>;
}
