import type { InfoDictionary } from '../metainfo/torrent.js';
import { bitfieldGet } from '../util/bitfield.js';
import { forEachLimited, StoreState, zeroSha1 } from './_common.js';
import { type Assembly, addRange } from './assembly.js';
import { closedError, ioError, StorageError } from './errors.js';
import { FdCache } from './fd-cache.js';
import { FsFiles } from './fs-files.js';
import { type HashPool, sharedHashPool } from './hash-pool.js';
import { Layout } from './layout.js';
import type { ResumeFileStat } from './resume.js';
import type { ChunkStore, RecheckOptions, StorageAbortOptions, StorageGetOptions } from './types.js';
import { type PieceVerifier, pieceVerifier } from './verifier.js';
import { WriteQueue } from './write-queue.js';

/** Options of {@link FsChunkStore}. */
export interface FsChunkStoreOptions {
  /**
   * The download folder. A single-file torrent is `<path>/<name>`; a multi-file torrent is
   * `<path>/<name>/<file path>`. Nothing is ever created outside it.
   */
  path: string;
  /** Pool that hashes pieces (workers read the files themselves). Default: the shared pool. */
  hashPool?: HashPool;
  /**
   * Byte cap of the memory the store holds for data not yet written: the write queue plus the
   * pieces being assembled in memory (at most half the cap). `put()` waits when it is reached.
   * Default 64 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Assemble pieces in memory (up to half of `maxQueuedBytes`), so that a complete piece is
   * hashed from memory and written with one write instead of one per block. Default true.
   */
  assemblePieces?: boolean;
  /** Writes in flight at once. Default 4 (libuv's thread pool). */
  writeConcurrency?: number;
  /** Most files kept open. Default 64. Ignored with `fdCache`. */
  maxOpenFiles?: number;
  /**
   * A cache of open files shared with other stores (a client's `maxOpenFiles`): this store's
   * files count against its one cap. Default: a cache of this store's own.
   */
  fdCache?: FdCache;
}

/**
 * A {@link ChunkStore} on the file system. Multi-file torrents, pieces across file boundaries,
 * sparse files, zero-length files created, BEP 47 padding never written.
 *
 * Safety: every path is checked again with `assertSafePath` and must resolve inside the download
 * folder; folders are created one level at a time and a symlink met inside the folder (folder or
 * file) is refused (`STORAGE_UNSAFE_PATH`); files are opened with `O_NOFOLLOW`.
 *
 * Skipped files are never created: bytes that fall in them (pieces shared with a wanted file) go
 * to a sparse part file `<path>/.<infohash>.parts` at their torrent offset, like libtorrent's
 * partfile. A file that already exists when it is skipped keeps being used.
 *
 * Blocks are assembled into whole pieces in memory where that fits (see `assemblePieces`): a
 * whole piece is hashed in place by the {@link HashPool} and written with one write. Other
 * writes go through a queue; both count against `maxQueuedBytes` (backpressure on `put()`), and
 * every fall of `pendingBytes` is told to {@link onDrain} listeners.
 * Verification of pieces not assembled, and recheck, hash in the pool, whose workers read the
 * pieces from disk.
 *
 * Inside: the write queue and `pendingBytes` ({@link WriteQueue}), the files and their handles
 * ({@link FsFiles}); this class assembles pieces and ties the two together.
 */
export class FsChunkStore implements ChunkStore {
  readonly meta: InfoDictionary;
  /** `put()` copies the block before it returns (into a piece being assembled, or a copy). */
  readonly copiesOnPut = true;
  /** Absolute path of the download folder. */
  readonly root: string;
  readonly #layout: Layout;
  readonly #verifier: PieceVerifier;
  readonly #state: StoreState;
  readonly #pool: HashPool;
  readonly #files: FsFiles;
  readonly #queue: WriteQueue;
  readonly #cap: number;
  readonly #assemble: boolean;
  /** Pieces being assembled in memory; their whole buffers count in `pendingBytes`. */
  readonly #assemblies = new Map<number, Assembly>();
  #assembledBytes = 0;
  /** Bytes put so far (the clock of `Assembly.touched`). */
  #putBytes = 0;
  /**
   * Piece-sized buffers of assemblies that were written and hashed, for reuse (allocating a
   * shared buffer per piece left the freed ones to a late GC: hundreds of MiB of RSS).
   */
  #spare: Uint8Array[] = [];
  /** Pieces being verified from memory: blocks for them are ignored meanwhile. */
  readonly #verifying = new Set<number>();
  readonly #hasPadding: boolean;

  /** @throws {StorageError} `STORAGE_BAD_LAYOUT`, `STORAGE_UNSAFE_PATH`. */
  constructor(meta: InfoDictionary, options: FsChunkStoreOptions) {
    this.meta = meta;
    this.#layout = new Layout(meta);
    this.#verifier = pieceVerifier(meta);
    this.#state = new StoreState(this.#layout);
    this.#pool = options.hashPool ?? sharedHashPool();
    this.#cap = Math.max(1, options.maxQueuedBytes ?? 64 * 1024 * 1024);
    this.#assemble = options.assemblePieces ?? true;
    this.#hasPadding = meta.files.some((f) => f.padding);
    const fds = options.fdCache ?? new FdCache(options.maxOpenFiles ?? 64);
    this.#files = new FsFiles(this.#layout, options.path, fds, this.#state.skipped);
    this.root = this.#files.root;
    this.#queue = new WriteQueue({
      cap: this.#cap,
      concurrency: Math.max(1, options.writeConcurrency ?? 4),
      write: (run, bytes) => this.#files.write(run, bytes),
      stalled: () => this.#stalled(),
    });
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  get pendingBytes(): number {
    return this.#queue.pendingBytes;
  }

  /**
   * Bytes of piece buffers kept for the next assemblies (memory held besides
   * {@link pendingBytes}; together within the cap). Dropped once the store holds every piece.
   */
  get spareBytes(): number {
    return this.#spare.length * this.#layout.pieceLength;
  }

  /** The cap of {@link pendingBytes} (`maxQueuedBytes`). */
  get maxPendingBytes(): number {
    return this.#cap;
  }

  /**
   * Calls `listener` each time {@link pendingBytes} falls (a queued write finished, or an
   * assembled piece left memory unwritten); returns the unsubscribe function.
   */
  onDrain(listener: () => void): () => void {
    return this.#queue.onDrain(listener);
  }

  /** Absolute path of file `index` (whether or not it exists). */
  filePath(index: number): string {
    this.#state.checkFile(index);
    return this.#files.path(index);
  }

  async put(
    piece: number,
    offset: number,
    bytes: Uint8Array,
    options: StorageAbortOptions = {},
  ): Promise<void> {
    this.#state.check(options.signal);
    this.#layout.checkBlock(piece, offset, bytes.length);
    if (this.#state.has(piece) || this.#verifying.has(piece)) return;
    this.#putBytes += bytes.length;
    const asm = this.#assemblies.get(piece) ?? this.#startAssembly(piece);
    if (asm) {
      this.#fill(asm, offset, bytes);
      return;
    }
    // A copy (`copiesOnPut`): the caller may reuse `bytes` (a view into a network read buffer)
    // once this returns, and a view would pin a larger buffer than the bytes counted here.
    const owned = bytes.slice();
    const q = this.#queue;
    while (q.pendingBytes > 0 && q.pendingBytes + owned.length > this.#cap) {
      // Only assemblies left, nothing being written that would free space: write one out.
      this.#stalled();
      if (this.#state.closed) throw closedError();
      await q.waitSpace(options.signal, owned.length);
      this.#state.check(options.signal);
    }
    if (this.#state.has(piece) || this.#verifying.has(piece)) return;
    // The piece began assembling while this block waited, or can begin now (no put waits any
    // more): the block joins the assembly (queued alone it costs a write and a read to hash).
    const late = this.#assemblies.get(piece) ?? this.#startAssembly(piece);
    if (late) {
      this.#fill(late, offset, owned);
      return;
    }
    q.charge(owned.length);
    q.enqueue({ piece, offset, bytes: owned, charge: owned.length });
  }

  async get(
    piece: number,
    offset: number,
    length: number,
    options: StorageGetOptions = {},
  ): Promise<Uint8Array> {
    this.#state.check(options.signal);
    this.#layout.checkBlock(piece, offset, length);
    this.#spill(this.#assemblies.get(piece));
    await this.#queue.settled(piece);
    this.#state.check(options.signal);
    const into = options.into;
    const reused = into !== undefined && into.length >= length;
    const out = reused ? into.subarray(0, length) : new Uint8Array(length);
    await this.#files.read(piece, offset, out, reused);
    return out;
  }

  async verify(piece: number, options: StorageAbortOptions = {}): Promise<boolean> {
    this.#state.check(options.signal);
    this.#layout.checkPiece(piece);
    const asm = this.#assemblies.get(piece);
    if (asm && asm.covered === asm.buf.length && !this.#verifying.has(piece)) {
      return this.#verifyAssembled(asm, options.signal);
    }
    this.#spill(asm);
    await this.#queue.settled(piece);
    this.#state.check(options.signal);
    const ok = await this.#files.hashPiece(this.#pool, this.#verifier, piece, undefined);
    this.#state.check(options.signal);
    this.#mark(piece, ok);
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
    this.#spillAll();
    await this.#queue.idle();
    await this.#files.createEmptyFiles();
    const total = this.#layout.pieceCount;
    let checked = 0;
    let valid = 0;
    let todo: number[] | undefined;
    if (options.resume) {
      // Fast resume: claimed pieces on unchanged files are trusted, the rest missing unread.
      todo = [];
      const trusted = resumeTrust(this.meta.files, options.resume, await this.fileStats());
      for (let i = 0; i < total; i++) {
        const claimed = bitfieldGet(options.resume.have, i);
        if (
          claimed &&
          !this.#layout.blockSegments(i, 0, this.#layout.pieceSize(i)).every((s) => trusted[s.file])
        )
          todo.push(i);
        else {
          this.#state.mark(i, claimed);
          checked++;
          if (claimed) valid++;
        }
      }
      if (checked > 0) options.onProgress?.({ checked, total, valid });
      if (todo.length === 0) return this.bitfield();
    }
    // One stat per file: a piece that needs bytes beyond a file's end is missing, unhashed; a
    // piece that lies in files with no allocated block (and padding) reads as zeros: it is
    // compared with the hash of a zero piece, unread. Only the rest is read and hashed.
    const scan = await this.#files.scan();
    const done = (i: number, ok: boolean) => {
      this.#state.mark(i, ok);
      checked++;
      if (ok) valid++;
      options.onProgress?.({ checked, total, valid });
    };
    const list = todo;
    const count = list ? list.length : total;
    const toRead = new Uint32Array(count);
    let reads = 0;
    const zeroDigests = new Map<number, Uint8Array>();
    for (let k = 0; k < count; k++) {
      const i = list ? (list[k] as number) : k;
      this.#state.check(options.signal);
      const c = this.#files.classify(i, scan);
      if (c === 'missing') done(i, false);
      else if (c === 'zeros' && this.#verifier.kind(i).algo === 'sha1') {
        const size = this.#layout.pieceSize(i);
        const digest = zeroDigests.get(size) ?? zeroSha1(size);
        zeroDigests.set(size, digest);
        done(i, this.#verifier.matches(i, digest));
      } else toRead[reads++] = i;
    }
    await forEachLimited(reads, Math.max(2, this.#pool.size * 2), options.signal, async (k) => {
      const i = toRead[k] as number;
      const ok = await this.#files.hashPiece(this.#pool, this.#verifier, i, scan.sizes);
      this.#state.check();
      done(i, ok);
    });
    this.#state.check(options.signal);
    return this.bitfield();
  }

  /** Size and mtime (ms) of each file as a file of its own on disk (see `ChunkStore.fileStats`). */
  async fileStats(options: StorageAbortOptions = {}): Promise<(ResumeFileStat | undefined)[]> {
    this.#state.check(options.signal);
    const out: (ResumeFileStat | undefined)[] = [];
    for (let i = 0; i < this.meta.files.length; i++) out.push(await this.#files.statOf(i));
    return out;
  }

  async setFileSkipped(index: number, skipped: boolean, options: StorageAbortOptions = {}): Promise<void> {
    this.#state.check(options.signal);
    this.#state.checkFile(index);
    const f = this.meta.files[index];
    const was = this.#state.skipped[index] === true;
    if (!f || was === skipped) return;
    this.#state.skipped[index] = skipped;
    if (f.padding) return;
    if (skipped) {
      await this.#files.skip(index);
      return;
    }
    // Moving bytes out of the part file waits for the writes queued into it.
    if (f.length > 0 && this.#files.inPart(index)) await this.#queue.idle();
    await this.#files.unskip(index, (p) => this.#state.has(p));
  }

  isFileSkipped(index: number): boolean {
    return this.#state.skipped[index] === true;
  }

  async flush(options: StorageAbortOptions = {}): Promise<void> {
    this.#state.check(options.signal);
    this.#spillAll();
    await this.#queue.idle(options.signal);
    const err = this.#queue.takeError();
    if (err) throw err;
  }

  async close(): Promise<void> {
    if (this.#state.closed) return;
    this.#state.closed = true;
    this.#spillAll();
    this.#queue.wakeAll();
    await this.#queue.idle();
    await this.#files.closeAll();
    this.#spare = [];
  }

  async destroy(): Promise<void> {
    const wasClosed = this.#state.closed;
    this.#state.closed = true;
    let held = 0;
    for (const a of this.#assemblies.values()) held += a.buf.length;
    this.#assemblies.clear();
    this.#assembledBytes = 0;
    this.#spare = [];
    this.#queue.release(held);
    // Drop what is not being written yet.
    this.#queue.dropQueued(closedError());
    this.#queue.wakeAll();
    if (!wasClosed) await this.#queue.idle();
    await this.#files.closeAll();
    await this.#files.deleteAll();
  }

  // --- pieces assembled in memory ----------------------------------------------------------

  /** Room is wanted and only assemblies hold bytes (no write would free any): write one out. */
  #stalled(): void {
    if (this.#queue.pendingBytes === this.#assembledBytes) this.#spill(this.#oldestAssembly());
  }

  /**
   * Starts assembling `piece` in memory when that fits: assembling is on, no put waits for room,
   * no write of the piece is queued (a whole-piece write must not race older writes of it), the
   * piece is at most half the cap, and assemblies stay within half the cap (one left behind by a
   * vanished peer is written out to make room) without pushing the total over the cap.
   */
  #startAssembly(piece: number): Assembly | undefined {
    // Room goes to waiting puts first, in order.
    if (!this.#assemble || this.#queue.writing(piece) || this.#queue.waiting) return undefined;
    const size = this.#layout.pieceSize(piece);
    const half = this.#cap / 2;
    if (size > half) return undefined;
    if (this.#assembledBytes + size > half) {
      const old = this.#oldestAssembly();
      if (!old || this.#putBytes - old.touched <= this.#cap) return undefined;
      this.#spill(old);
      // The one spilled may have been smaller (the last piece): still within half?
      if (this.#assembledBytes + size > half) return undefined;
    }
    if (this.#queue.pendingBytes + size > this.#cap) return undefined;
    const buf = (size === this.#layout.pieceLength ? this.#spare.pop() : undefined) ?? new Uint8Array(size);
    const asm: Assembly = { piece, buf, ranges: [], covered: 0, touched: this.#putBytes };
    if (this.#hasPadding) {
      // Padding is never written and hashes as zeros: count it as received.
      for (const s of this.#layout.blockSegments(piece, 0, size)) {
        if (!this.meta.files[s.file]?.padding) continue;
        buf.fill(0, s.bufOffset, s.bufOffset + s.length);
        asm.covered += addRange(asm.ranges, s.bufOffset, s.bufOffset + s.length);
      }
    }
    this.#assemblies.set(piece, asm);
    this.#assembledBytes += size;
    this.#queue.charge(size);
    return asm;
  }

  /** Copies a block into its assembly (padding bytes are dropped, as on disk). */
  #fill(asm: Assembly, offset: number, bytes: Uint8Array): void {
    asm.touched = this.#putBytes;
    if (!this.#hasPadding) asm.buf.set(bytes, offset);
    else {
      for (const s of this.#layout.blockSegments(asm.piece, offset, bytes.length)) {
        if (this.meta.files[s.file]?.padding) continue;
        asm.buf.set(bytes.subarray(s.bufOffset, s.bufOffset + s.length), offset + s.bufOffset);
      }
    }
    asm.covered += addRange(asm.ranges, offset, offset + bytes.length);
  }

  #oldestAssembly(): Assembly | undefined {
    let oldest: Assembly | undefined;
    for (const a of this.#assemblies.values()) if (!oldest || a.touched < oldest.touched) oldest = a;
    return oldest;
  }

  /**
   * Ends an assembly: its received ranges become queued writes (views of its buffer). The whole
   * buffer stays counted until the last of them is written.
   */
  #spill(asm: Assembly | undefined): void {
    if (!asm || this.#assemblies.get(asm.piece) !== asm) return;
    this.#assemblies.delete(asm.piece);
    this.#assembledBytes -= asm.buf.length;
    const r = asm.ranges;
    if (r.length === 0) {
      this.#queue.release(asm.buf.length);
      return;
    }
    for (let i = 0; i < r.length; i += 2) {
      const start = r[i] as number;
      const end = r[i + 1] as number;
      const last = i + 2 >= r.length;
      const charge = last ? end - start + asm.buf.length - asm.covered : end - start;
      this.#queue.enqueue({ piece: asm.piece, offset: start, bytes: asm.buf.subarray(start, end), charge });
    }
  }

  #spillAll(): void {
    for (const a of [...this.#assemblies.values()]) this.#spill(a);
  }

  /**
   * Verifies a whole piece assembled in memory: writes it with one write, then hashes it in a
   * worker, to which the buffer is lent (moved, not copied) and which gives it back for reuse.
   * Blocks for the piece are ignored meanwhile. The buffer stays counted in `pendingBytes` (as
   * charged when its assembly began) until its hash is back: a hash queue behind a busy CPU then
   * holds reading back instead of growing (with 20 peers, 64 pieces waited to be hashed, their
   * buffers uncounted — and dropped for want of room once back, to be allocated again).
   */
  async #verifyAssembled(asm: Assembly, signal: AbortSignal | undefined): Promise<boolean> {
    const { piece, buf } = asm;
    this.#assemblies.delete(piece);
    this.#assembledBytes -= buf.length;
    this.#verifying.add(piece);
    let digest: Uint8Array;
    let charged = buf.length;
    try {
      this.#queue.enqueue({ piece, offset: 0, bytes: buf, charge: 0 });
      await this.#queue.settled(piece);
      let lent: { digest: Uint8Array; bytes: Uint8Array };
      try {
        lent = await this.#pool.hashLent(buf, this.#verifier.kind(piece));
      } catch (e) {
        throw e instanceof StorageError ? e : ioError('hash', e);
      }
      digest = lent.digest;
      this.#queue.release(charged);
      charged = 0;
      this.#keepSpare(lent.bytes);
    } finally {
      this.#queue.release(charged);
      this.#verifying.delete(piece);
    }
    this.#state.check(signal);
    const ok = this.#verifier.matches(piece, digest);
    this.#mark(piece, ok);
    return ok;
  }

  /** Marks a verified piece; with every piece here nothing is left to assemble: no spares kept. */
  #mark(piece: number, ok: boolean): void {
    this.#state.mark(piece, ok);
    if (this.#state.complete) this.#spare = [];
  }

  /** Keeps a piece buffer for the next assembly while spare and pending bytes fit in the cap. */
  #keepSpare(buf: Uint8Array): void {
    if (
      buf.length === this.#layout.pieceLength &&
      !this.#state.complete &&
      this.#queue.pendingBytes + (this.#spare.length + 1) * buf.length <= this.#cap &&
      !this.#state.closed
    ) {
      this.#spare.push(buf);
    }
  }
}

/**
 * Per file: whether the pieces it holds may be trusted from resume data — padding always, a
 * file only when it is on disk with the size and mtime recorded.
 */
function resumeTrust(
  files: InfoDictionary['files'],
  resume: RecheckOptions['resume'] & object,
  now: readonly (ResumeFileStat | undefined)[],
): boolean[] {
  return files.map((f, i) => {
    if (f.padding) return true;
    const was = resume.files[i];
    const is = now[i];
    return was !== undefined && is !== undefined && was.size === is.size && was.mtimeMs === is.mtimeMs;
  });
}
