import { constants as fsConstants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, rmdir, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { AbortError } from '../util/errors.js';
import { forEachLimited, hashMatches, StoreState } from './_common.js';
import { closedError, ioError, StorageError } from './errors.js';
import { FdCache, type FdEntry } from './fd-cache.js';
import { type HashPool, type HashRange, sharedHashPool } from './hash-pool.js';
import { Layout } from './layout.js';
import type { ChunkStore, RecheckOptions, StorageAbortOptions, StorageGetOptions } from './types.js';

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
  /** Most files kept open. Default 64. */
  maxOpenFiles?: number;
}

interface QueuedBlock {
  readonly piece: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** Bytes of `pendingBytes` released once written (more than `bytes` for a spilled piece's last). */
  readonly charge: number;
}

/** A piece being assembled in memory: received ranges are merged until the piece is whole. */
interface Assembly {
  readonly piece: number;
  readonly buf: Uint8Array;
  /** Received byte ranges, sorted, disjoint and merged: `[start, end, start, end, …]`. */
  ranges: number[];
  /** Bytes the ranges cover (padding counts as received). */
  covered: number;
  /** `#putBytes` at the last block: an assembly left behind by a vanished peer gets spilled. */
  touched: number;
}

/** Adds `[s, e)` to the sorted, merged `ranges`; returns the bytes newly covered. */
function addRange(ranges: number[], s: number, e: number): number {
  const n = ranges.length;
  if (n === 0 || s > (ranges[n - 1] as number)) {
    ranges.push(s, e);
    return e - s;
  }
  if (s === ranges[n - 1]) {
    ranges[n - 1] = e;
    return e - s;
  }
  // General case: rebuild, merging every range that overlaps or touches [s, e).
  let before = 0;
  let lo = s;
  let hi = e;
  const out: number[] = [];
  for (let i = 0; i < n; i += 2) {
    const a = ranges[i] as number;
    const b = ranges[i + 1] as number;
    before += b - a;
    if (b < s || a > e) out.push(a, b);
    else {
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
  }
  let at = 0;
  while (at < out.length && (out[at] as number) < lo) at += 2;
  out.splice(at, 0, lo, hi);
  ranges.length = 0;
  let after = 0;
  for (let i = 0; i < out.length; i += 2) {
    ranges.push(out[i] as number, out[i + 1] as number);
    after += (out[i + 1] as number) - (out[i] as number);
  }
  return after - before;
}

interface PieceWrites {
  count: number;
  error: StorageError | undefined;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

const PART_KEY = 'part';
/** Largest run of queued blocks written with one call. */
const MAX_RUN_BYTES = 4 * 1024 * 1024;

/** Views of `[start, start + length)` of the concatenation of `parts` (bytes or blocks). */
function sliceRun(parts: readonly (QueuedBlock | Uint8Array)[], start: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  const end = start + length;
  for (const p of parts) {
    const b = p instanceof Uint8Array ? p : p.bytes;
    const next = pos + b.length;
    if (next > start && pos < end)
      out.push(b.subarray(Math.max(0, start - pos), Math.min(b.length, end - pos)));
    pos = next;
    if (pos >= end) break;
  }
  return out;
}
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
const WRITE_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | O_NOFOLLOW;
const READ_FLAGS = fsConstants.O_RDONLY | O_NOFOLLOW;

function errno(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function unsafe(message: string, details: Record<string, string> = {}): StorageError {
  return new StorageError('STORAGE_UNSAFE_PATH', message, { details });
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
 * writes go through a queue; both count against `maxQueuedBytes` (backpressure on `put()`).
 * Verification of pieces not assembled, and recheck, hash in the pool, whose workers read the
 * pieces from disk.
 */
export class FsChunkStore implements ChunkStore {
  readonly meta: InfoDictionary;
  /** `put()` copies the block before it returns (into a piece being assembled, or a copy). */
  readonly copiesOnPut = true;
  /** Absolute path of the download folder. */
  readonly root: string;
  readonly #layout: Layout;
  readonly #state: StoreState;
  readonly #pool: HashPool;
  readonly #fds: FdCache;
  readonly #cap: number;
  readonly #concurrency: number;
  readonly #paths: string[];
  readonly #partPath: string;
  readonly #usePart: boolean[];
  readonly #dirsOk = new Set<string>();
  #queue: (QueuedBlock | undefined)[] = [];
  #head = 0;
  #inflight = 0;
  #pendingBytes = 0;
  readonly #perPiece = new Map<number, PieceWrites>();
  readonly #assemble: boolean;
  /** Pieces being assembled in memory; their whole buffers count in `#pendingBytes`. */
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
  /** put() calls waiting for queue space, first come first served, with the bytes they bring. */
  #spaceWaiters: { bytes: number; wake: () => void }[] = [];
  #idleWaiters: (() => void)[] = [];
  #lastError: StorageError | undefined;
  #emptyFiles: Promise<void> | undefined;

  /** @throws {StorageError} `STORAGE_BAD_LAYOUT`, `STORAGE_UNSAFE_PATH`. */
  constructor(meta: InfoDictionary, options: FsChunkStoreOptions) {
    this.meta = meta;
    this.#layout = new Layout(meta);
    this.#state = new StoreState(this.#layout);
    this.#pool = options.hashPool ?? sharedHashPool();
    this.#fds = new FdCache(options.maxOpenFiles ?? 64);
    this.#cap = Math.max(1, options.maxQueuedBytes ?? 64 * 1024 * 1024);
    this.#concurrency = Math.max(1, options.writeConcurrency ?? 4);
    this.#assemble = options.assemblePieces ?? true;
    this.#hasPadding = meta.files.some((f) => f.padding);
    this.root = resolve(options.path);
    if (!/^[0-9a-f]{40}$/.test(meta.infoHash)) {
      throw new StorageError('STORAGE_BAD_LAYOUT', 'info-hash is not 40 lower-case hex digits');
    }
    this.#partPath = join(this.root, `.${meta.infoHash}.parts`);
    this.#paths = this.#checkPaths();
    this.#usePart = meta.files.map(() => false);
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The cap of {@link pendingBytes} (`maxQueuedBytes`). */
  get maxPendingBytes(): number {
    return this.#cap;
  }

  /** Absolute path of file `index` (whether or not it exists). */
  filePath(index: number): string {
    this.#state.checkFile(index);
    return this.#paths[index] as string;
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
    while (this.#pendingBytes > 0 && this.#pendingBytes + owned.length > this.#cap) {
      // Only assemblies left, nothing being written that would free space: write one out.
      if (this.#pendingBytes === this.#assembledBytes) this.#spill(this.#oldestAssembly());
      await this.#waitSpace(options.signal, owned.length);
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
    this.#pendingBytes += owned.length;
    this.#enqueue({ piece, offset, bytes: owned, charge: owned.length });
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
    await this.#settled(piece);
    this.#state.check(options.signal);
    const into = options.into;
    const reused = into !== undefined && into.length >= length;
    const out = reused ? into.subarray(0, length) : new Uint8Array(length);
    for (const s of this.#layout.blockSegments(piece, offset, length)) {
      const route = this.#route(s.file, s.fileOffset);
      if (!route) {
        if (reused) out.fill(0, s.bufOffset, s.bufOffset + s.length); // a new buffer is zeros
        continue;
      }
      const e = await this.#acquire(route.key, route.path, false);
      if (!e) throw new StorageError('STORAGE_IO', `file missing: ${route.path}`, { details: { piece } });
      try {
        let done = 0;
        while (done < s.length) {
          const { bytesRead } = await e.fh.read(
            out,
            s.bufOffset + done,
            s.length - done,
            route.position + done,
          );
          if (bytesRead === 0) {
            throw new StorageError('STORAGE_IO', `short file: ${route.path}`, { details: { piece } });
          }
          done += bytesRead;
        }
      } catch (err) {
        throw ioError('read', err);
      } finally {
        this.#fds.release(e);
      }
    }
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
    await this.#settled(piece);
    this.#state.check(options.signal);
    const ok = await this.#hashPiece(piece, undefined);
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
    this.#spillAll();
    await this.#drain();
    await this.#createEmptyFiles();
    // One stat per file: a piece that needs bytes beyond a file's end is missing, unhashed.
    const sizes = new Map<string, number>();
    for (let i = 0; i < this.meta.files.length; i++) {
      const r = this.#route(i, 0);
      if (r && !sizes.has(r.key)) sizes.set(r.key, await this.#sizeOf(r.path));
    }
    const total = this.#layout.pieceCount;
    let checked = 0;
    let valid = 0;
    await forEachLimited(total, Math.max(2, this.#pool.size * 2), options.signal, async (i) => {
      const ok = await this.#hashPiece(i, sizes);
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
    const f = this.meta.files[index];
    const was = this.#state.skipped[index] === true;
    if (!f || was === skipped) return;
    this.#state.skipped[index] = skipped;
    if (f.padding) return;
    const path = this.#paths[index] as string;
    if (skipped) {
      // A file already on disk keeps being used (its data may be complete); else the part file.
      this.#usePart[index] = f.length > 0 && (await this.#sizeOf(path)) < 0;
      return;
    }
    if (f.length === 0) {
      if (this.#emptyFiles) await this.#createFile(path);
      return;
    }
    if (!this.#usePart[index]) return;
    await this.#drain();
    await this.#movePartToFile(index);
    this.#usePart[index] = false;
  }

  isFileSkipped(index: number): boolean {
    return this.#state.skipped[index] === true;
  }

  async flush(options: StorageAbortOptions = {}): Promise<void> {
    this.#state.check(options.signal);
    this.#spillAll();
    await this.#drain(options.signal);
    const err = this.#lastError;
    this.#lastError = undefined;
    if (err) throw err;
  }

  async close(): Promise<void> {
    if (this.#state.closed) return;
    this.#state.closed = true;
    this.#spillAll();
    this.#wakeSpace(true);
    await this.#drain();
    await this.#fds.closeAll();
    this.#spare = [];
  }

  async destroy(): Promise<void> {
    const wasClosed = this.#state.closed;
    this.#state.closed = true;
    for (const a of this.#assemblies.values()) this.#pendingBytes -= a.buf.length;
    this.#assemblies.clear();
    this.#assembledBytes = 0;
    this.#spare = [];
    // Drop what is not being written yet.
    const dropped = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#finishRun(
      dropped.filter((b): b is QueuedBlock => b !== undefined),
      false,
      closedError(),
    );
    this.#wakeSpace(true);
    if (!wasClosed) await this.#drain();
    await this.#fds.closeAll();
    const refused: string[] = [];
    const dirs = new Set<string>();
    const targets = [this.#partPath, ...this.#paths.filter((_, i) => this.meta.files[i]?.padding !== true)];
    for (const path of targets) {
      try {
        if (!(await this.#dirsSafe(path))) continue;
        const st = await lstat(path);
        if (st.isFile()) await unlink(path);
        else refused.push(path);
      } catch (e) {
        if (e instanceof StorageError) refused.push(path);
        else if (errno(e) !== 'ENOENT') throw ioError('delete', e);
      }
      for (let d = resolve(path, '..'); d.startsWith(this.root + sep); d = resolve(d, '..')) dirs.add(d);
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      await rmdir(d).catch(() => undefined);
    }
    if (refused.length > 0) {
      throw unsafe(`not deleted (not a regular file, or behind a symlink): ${refused.join(', ')}`);
    }
  }

  // --- paths ---------------------------------------------------------------------------------

  /** Absolute paths of the files; each must resolve inside the root (segments were checked safe). */
  #checkPaths(): string[] {
    const { meta, root } = this;
    const base = meta.multiFile ? join(root, meta.name) : root;
    return meta.files.map((f, i) => {
      const p = resolve(base, ...f.segments);
      if (!p.startsWith(root + sep) || p === this.#partPath) {
        throw unsafe(`files[${i}] resolves outside the download folder`, { path: f.path });
      }
      return p;
    });
  }

  /**
   * Checks every folder between the root and `path` (and `path` itself if it exists) is not a
   * symlink; with `create`, makes missing folders. Returns false when one is missing (no create).
   */
  async #dirsSafe(path: string, create = false): Promise<boolean> {
    const parts = relative(this.root, path).split(sep);
    if (create && !this.#dirsOk.has(this.root)) {
      await mkdir(this.root, { recursive: true }).catch((e) => {
        throw ioError('mkdir', e);
      });
      this.#dirsOk.add(this.root);
    }
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      dir = join(dir, parts[i] as string);
      if (this.#dirsOk.has(dir)) continue;
      let st = await lstat(dir).catch((e) => {
        if (errno(e) === 'ENOENT') return undefined;
        throw ioError('lstat', e);
      });
      if (!st) {
        if (!create) return false;
        await mkdir(dir).catch((e) => {
          if (errno(e) !== 'EEXIST') throw ioError('mkdir', e);
        });
        st = await lstat(dir).catch((e) => {
          throw ioError('lstat', e);
        });
      }
      if (st.isSymbolicLink()) throw unsafe(`a symlink inside the download folder: ${dir}`, { path: dir });
      if (!st.isDirectory())
        throw new StorageError('STORAGE_IO', `not a folder: ${dir}`, { details: { path: dir } });
      this.#dirsOk.add(dir);
    }
    const st = await lstat(path).catch(() => undefined);
    if (st?.isSymbolicLink()) throw unsafe(`a symlink inside the download folder: ${path}`, { path });
    return true;
  }

  async #openFile(path: string, writable: boolean): Promise<FileHandle | undefined> {
    if (!(await this.#dirsSafe(path, writable))) return undefined;
    try {
      return await open(path, writable ? WRITE_FLAGS : READ_FLAGS, 0o666);
    } catch (e) {
      if (!writable && errno(e) === 'ENOENT') return undefined;
      throw ioError(writable ? 'open for writing' : 'open', e);
    }
  }

  #acquire(key: string, path: string, writable: boolean): Promise<FdEntry | undefined> {
    return this.#fds.acquire(key, writable, () => this.#openFile(path, writable));
  }

  /** Size of a file, −1 if it does not exist. */
  async #sizeOf(path: string): Promise<number> {
    if (!(await this.#dirsSafe(path))) return -1;
    try {
      const st = await lstat(path);
      return st.isFile() ? st.size : -1;
    } catch (e) {
      if (errno(e) === 'ENOENT') return -1;
      throw ioError('stat', e);
    }
  }

  async #createFile(path: string): Promise<void> {
    const fh = await this.#openFile(path, true);
    await fh?.close();
  }

  /** Creates the zero-length files that are not skipped (once, before the first write). */
  #createEmptyFiles(): Promise<void> {
    this.#emptyFiles ??= (async () => {
      for (let i = 0; i < this.meta.files.length; i++) {
        const f = this.meta.files[i];
        if (f && f.length === 0 && !f.padding && !this.#state.skipped[i]) {
          await this.#createFile(this.#paths[i] as string);
        }
      }
    })();
    return this.#emptyFiles;
  }

  /** Where byte `fileOffset` of file `index` lives; `undefined` for padding (zeros). */
  #route(index: number, fileOffset: number): { key: string; path: string; position: number } | undefined {
    const f = this.meta.files[index];
    if (!f || f.padding) return undefined;
    if (this.#usePart[index]) return { key: PART_KEY, path: this.#partPath, position: f.offset + fileOffset };
    return { key: `f${index}`, path: this.#paths[index] as string, position: fileOffset };
  }

  /** Copies the verified pieces' bytes of file `index` from the part file into the file. */
  async #movePartToFile(index: number): Promise<void> {
    const range = this.#layout.piecesOfFile(index);
    const f = this.meta.files[index];
    if (!range || !f) return;
    const part = await this.#acquire(PART_KEY, this.#partPath, false);
    if (!part) return;
    try {
      const file = await this.#acquire(`f${index}`, this.#paths[index] as string, true);
      if (!file) return;
      try {
        for (let p = range.first; p <= range.last; p++) {
          if (!this.#state.has(p)) continue;
          const start = Math.max(f.offset, p * this.#layout.pieceLength);
          const end = Math.min(f.offset + f.length, p * this.#layout.pieceLength + this.#layout.pieceSize(p));
          const buf = new Uint8Array(end - start);
          const { bytesRead } = await part.fh.read(buf, 0, buf.length, start);
          await file.fh.write(buf, 0, bytesRead, start - f.offset);
        }
      } finally {
        this.#fds.release(file);
      }
    } catch (e) {
      throw ioError('move from part file', e);
    } finally {
      this.#fds.release(part);
    }
  }

  // --- hashing -------------------------------------------------------------------------------

  /** Hashes piece `piece` from disk; false when a file is missing or short. */
  async #hashPiece(piece: number, sizes: Map<string, number> | undefined): Promise<boolean> {
    const segs = this.#layout.blockSegments(piece, 0, this.#layout.pieceSize(piece));
    const held: FdEntry[] = [];
    try {
      const ranges: HashRange[] = [];
      for (const s of segs) {
        const r = this.#route(s.file, s.fileOffset);
        if (!r) {
          ranges.push({ fd: -1, position: 0, length: s.length });
          continue;
        }
        const size = sizes?.get(r.key);
        if (size !== undefined && size < r.position + s.length) return false;
        const e = await this.#acquire(r.key, r.path, false);
        if (!e) return false;
        held.push(e);
        ranges.push({ fd: e.fh.fd, position: r.position, length: s.length });
      }
      const { digest, complete } = await this.#pool.hashRanges(ranges);
      return complete && hashMatches(this.meta, piece, digest);
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw ioError('hash', e);
    } finally {
      for (const e of held) this.#fds.release(e);
    }
  }

  // --- pieces assembled in memory ----------------------------------------------------------

  /**
   * Starts assembling `piece` in memory when that fits: assembling is on, no put waits for room,
   * no write of the piece is queued (a whole-piece write must not race older writes of it), the
   * piece is at most half the cap, and assemblies stay within half the cap (one left behind by a
   * vanished peer is written out to make room) without pushing the total over the cap.
   */
  #startAssembly(piece: number): Assembly | undefined {
    // Room goes to waiting puts first, in order.
    if (!this.#assemble || this.#perPiece.has(piece) || this.#spaceWaiters.length > 0) return undefined;
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
    if (this.#pendingBytes + size > this.#cap) return undefined;
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
    this.#pendingBytes += size;
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
      this.#pendingBytes -= asm.buf.length;
      this.#wakeSpace();
      return;
    }
    for (let i = 0; i < r.length; i += 2) {
      const start = r[i] as number;
      const end = r[i + 1] as number;
      const last = i + 2 >= r.length;
      const charge = last ? end - start + asm.buf.length - asm.covered : end - start;
      this.#enqueue({ piece: asm.piece, offset: start, bytes: asm.buf.subarray(start, end), charge });
    }
  }

  #spillAll(): void {
    for (const a of [...this.#assemblies.values()]) this.#spill(a);
  }

  /**
   * Verifies a whole piece assembled in memory: writes it with one write, then hashes it in a
   * worker, to which the buffer is lent (moved, not copied) and which gives it back for reuse.
   * Blocks for the piece are ignored meanwhile.
   */
  async #verifyAssembled(asm: Assembly, signal: AbortSignal | undefined): Promise<boolean> {
    const { piece, buf } = asm;
    this.#assemblies.delete(piece);
    this.#assembledBytes -= buf.length;
    this.#verifying.add(piece);
    let digest: Uint8Array;
    try {
      this.#enqueue({ piece, offset: 0, bytes: buf, charge: buf.length });
      await this.#settled(piece);
      let lent: { digest: Uint8Array; bytes: Uint8Array };
      try {
        lent = await this.#pool.hashLent(buf);
      } catch (e) {
        throw e instanceof StorageError ? e : ioError('hash', e);
      }
      digest = lent.digest;
      this.#keepSpare(lent.bytes);
    } finally {
      this.#verifying.delete(piece);
    }
    this.#state.check(signal);
    const ok = hashMatches(this.meta, piece, digest);
    this.#state.mark(piece, ok);
    return ok;
  }

  /** Keeps a piece buffer for the next assembly while spare and pending bytes fit in the cap. */
  #keepSpare(buf: Uint8Array): void {
    if (
      buf.length === this.#layout.pieceLength &&
      this.#pendingBytes + (this.#spare.length + 1) * buf.length <= this.#cap &&
      !this.#state.closed
    ) {
      this.#spare.push(buf);
    }
  }

  // --- write queue ---------------------------------------------------------------------------

  /** Queues a block for writing (its `charge` is already counted in `#pendingBytes`). */
  #enqueue(block: QueuedBlock): void {
    this.#queue.push(block);
    const pw = this.#perPiece.get(block.piece);
    if (pw) pw.count++;
    else this.#perPiece.set(block.piece, { count: 1, error: undefined, waiters: [] });
    this.#pump();
  }

  /**
   * Starts writes while fewer than `writeConcurrency` are in flight. Blocks queued back to back
   * for one piece (they pile up only while every writer is busy) go out as one `writev` per file.
   */
  #pump(): void {
    while (this.#inflight < this.#concurrency && this.#head < this.#queue.length) {
      const first = this.#take();
      if (!first) continue;
      const run = [first];
      let end = first.offset + first.bytes.length;
      let bytes = first.bytes.length;
      for (;;) {
        const next = this.#queue[this.#head];
        if (!next || next.piece !== first.piece || next.offset !== end || bytes >= MAX_RUN_BYTES) break;
        this.#take();
        run.push(next);
        end += next.bytes.length;
        bytes += next.bytes.length;
      }
      this.#inflight++;
      this.#write(run, bytes).then(
        () => this.#finishRun(run, true, undefined),
        (e: unknown) => this.#finishRun(run, true, ioError('write', e)),
      );
    }
  }

  #take(): QueuedBlock | undefined {
    const b = this.#queue[this.#head];
    this.#queue[this.#head] = undefined;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return b;
  }

  /** Writes a run of contiguous blocks of one piece (`bytes` in all). */
  async #write(run: readonly QueuedBlock[], bytes: number): Promise<void> {
    await this.#createEmptyFiles();
    const first = run[0];
    if (!first) return;
    for (const s of this.#layout.blockSegments(first.piece, first.offset, bytes)) {
      const r = this.#route(s.file, s.fileOffset);
      if (!r) continue;
      const views = sliceRun(run, s.bufOffset, s.length);
      const e = await this.#acquire(r.key, r.path, true);
      if (!e) throw new StorageError('STORAGE_IO', `cannot open ${r.path}`);
      try {
        let done = 0;
        while (done < s.length) {
          const rest = done === 0 ? views : sliceRun(views, done, s.length - done);
          const { bytesWritten } =
            rest.length === 1
              ? await e.fh.write(rest[0] as Uint8Array, 0, s.length - done, r.position + done)
              : await e.fh.writev(rest, r.position + done);
          done += bytesWritten;
        }
      } finally {
        this.#fds.release(e);
      }
    }
  }

  /** Bookkeeping once a run is written, failed, or dropped unwritten (`wasInflight` false). */
  #finishRun(run: readonly QueuedBlock[], wasInflight: boolean, error: StorageError | undefined): void {
    if (wasInflight) this.#inflight--;
    if (error && wasInflight) this.#lastError ??= error;
    for (const b of run) {
      this.#pendingBytes -= b.charge;
      const pw = this.#perPiece.get(b.piece);
      if (!pw) continue;
      if (error) pw.error ??= error;
      if (--pw.count === 0) {
        this.#perPiece.delete(b.piece);
        for (const w of pw.waiters) {
          if (pw.error) w.reject(pw.error);
          else w.resolve();
        }
      }
    }
    this.#wakeSpace();
    this.#pump();
    if (this.#inflight === 0 && this.#head >= this.#queue.length) {
      const idle = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of idle) w();
    }
  }

  /**
   * Wakes waiting put() calls in arrival order, only as many as now fit under the cap (all of
   * them with `all`, on close): waking every waiter on each freed block made thousands of them
   * re-check and re-queue at once (quadratic work when a fast peer outran the disk).
   */
  #wakeSpace(all = false): void {
    let free = this.#cap - this.#pendingBytes;
    while (this.#spaceWaiters.length > 0) {
      const first = this.#spaceWaiters[0] as { bytes: number; wake: () => void };
      if (!all && this.#pendingBytes > 0 && first.bytes > free) {
        // Nothing left to write but assemblies: write one out, its writes will free space.
        if (this.#pendingBytes === this.#assembledBytes) this.#spill(this.#oldestAssembly());
        break;
      }
      this.#spaceWaiters.shift();
      free -= first.bytes;
      first.wake();
    }
  }

  #waitSpace(signal: AbortSignal | undefined, bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#state.closed) return reject(closedError());
      const onAbort = () => {
        this.#spaceWaiters = this.#spaceWaiters.filter((f) => f.wake !== wake);
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#spaceWaiters.push({ bytes, wake });
    });
  }

  /** Waits until the piece's queued writes are done; rejects with the first write error. */
  #settled(piece: number): Promise<void> {
    const pw = this.#perPiece.get(piece);
    if (!pw) return Promise.resolve();
    return new Promise((resolve, reject) => pw.waiters.push({ resolve, reject }));
  }

  /** Waits until the write queue is empty. */
  #drain(signal?: AbortSignal): Promise<void> {
    if (this.#inflight === 0 && this.#head >= this.#queue.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new AbortError(undefined, { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#idleWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
