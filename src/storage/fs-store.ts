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
import type { ChunkStore, RecheckOptions, StorageAbortOptions } from './types.js';

/** Options of {@link FsChunkStore}. */
export interface FsChunkStoreOptions {
  /**
   * The download folder. A single-file torrent is `<path>/<name>`; a multi-file torrent is
   * `<path>/<name>/<file path>`. Nothing is ever created outside it.
   */
  path: string;
  /** Pool that hashes pieces (workers read the files themselves). Default: the shared pool. */
  hashPool?: HashPool;
  /** Byte cap of the write queue; `put()` waits when it is reached. Default 64 MiB. */
  maxQueuedBytes?: number;
  /** Writes in flight at once. Default 4 (libuv's thread pool). */
  writeConcurrency?: number;
  /** Most files kept open. Default 64. */
  maxOpenFiles?: number;
}

interface QueuedBlock {
  readonly piece: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
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
 * Writes go through a queue capped at `maxQueuedBytes` (backpressure on `put()`); verification
 * and recheck hash in the {@link HashPool}, whose workers read the pieces from disk.
 */
export class FsChunkStore implements ChunkStore {
  readonly meta: InfoDictionary;
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
    if (this.#state.has(piece)) return;
    // Never pin a larger buffer than the bytes counted against the cap.
    const owned = bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    while (this.#pendingBytes > 0 && this.#pendingBytes + owned.length > this.#cap) {
      await this.#waitSpace(options.signal, owned.length);
      this.#state.check(options.signal);
    }
    this.#queue.push({ piece, offset, bytes: owned });
    this.#pendingBytes += owned.length;
    const pw = this.#perPiece.get(piece);
    if (pw) pw.count++;
    else this.#perPiece.set(piece, { count: 1, error: undefined, waiters: [] });
    this.#pump();
  }

  async get(
    piece: number,
    offset: number,
    length: number,
    options: StorageAbortOptions = {},
  ): Promise<Uint8Array> {
    this.#state.check(options.signal);
    this.#layout.checkBlock(piece, offset, length);
    await this.#settled(piece);
    this.#state.check(options.signal);
    const out = new Uint8Array(length);
    for (const s of this.#layout.blockSegments(piece, offset, length)) {
      const route = this.#route(s.file, s.fileOffset);
      if (!route) continue;
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
    await this.#drain(options.signal);
    const err = this.#lastError;
    this.#lastError = undefined;
    if (err) throw err;
  }

  async close(): Promise<void> {
    if (this.#state.closed) return;
    this.#state.closed = true;
    this.#wakeSpace(true);
    await this.#drain();
    await this.#fds.closeAll();
  }

  async destroy(): Promise<void> {
    const wasClosed = this.#state.closed;
    this.#state.closed = true;
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

  // --- write queue ---------------------------------------------------------------------------

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
      this.#pendingBytes -= b.bytes.length;
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
      if (!all && this.#pendingBytes > 0 && first.bytes > free) break;
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
