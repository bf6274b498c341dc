import { constants as fsConstants, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, rmdir, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { forEachLimited } from './_common.js';
import { ioError, StorageError } from './errors.js';
import type { FdCache, FdEntry } from './fd-cache.js';
import type { HashPool, HashRange } from './hash-pool.js';
import type { Layout } from './layout.js';
import type { ResumeFileStat } from './resume.js';
import type { PieceVerifier } from './verifier.js';
import type { QueuedBlock } from './write-queue.js';

const PART_KEY = 'part';
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
const WRITE_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | O_NOFOLLOW;
const READ_FLAGS = fsConstants.O_RDONLY | O_NOFOLLOW;

function errno(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** A `STORAGE_UNSAFE_PATH` error. */
export function unsafe(message: string, details: Record<string, string> = {}): StorageError {
  return new StorageError('STORAGE_UNSAFE_PATH', message, { details });
}

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

/**
 * The files of a torrent as recheck finds them: sizes (−1: missing) and the files that are all
 * holes, keyed by route (a file, or the part file).
 */
export interface DiskScan {
  readonly sizes: ReadonlyMap<string, number>;
  readonly holesOnly: ReadonlySet<string>;
}

/** Smallest file trusted to be all holes when it has no allocated block (see {@link holesOnlyFile}). */
const HOLES_MIN_SIZE = 64 * 1024;
/** Files said to be all holes whose first bytes are read to check the file system's word. */
const HOLES_SAMPLES = 4;
/** `lstat`s in flight while scanning a torrent's files. */
const SCAN_CONCURRENCY = 16;

/**
 * True when a file has no allocated block at all, so every byte of it reads as zero: a file
 * made by `truncate` (or preallocated sparse) that nothing was written to. Trusted only where
 * `st_blocks` means allocated space (not on Windows, where Node reports none) and for files of
 * at least 64 KiB (file systems that keep tiny files inside the inode, such as ext4's
 * `inline_data`, report no blocks for them).
 */
export function holesOnlyFile(st: Pick<Stats, 'size' | 'blocks'>): boolean {
  return (
    process.platform !== 'win32' &&
    st.size >= HOLES_MIN_SIZE &&
    typeof st.blocks === 'number' &&
    st.blocks === 0
  );
}

/** Where a byte of a file lives: its own file, or the part file of skipped files. */
interface Route {
  readonly key: string;
  readonly path: string;
  readonly position: number;
}

/**
 * The file store's files: safe paths, open handles (an LRU), routing of skipped files' bytes to
 * the part file, and the reads, writes and hashing of pieces on disk.
 *
 * Safety: every path must resolve inside the download folder; folders are created one level at
 * a time and a symlink met inside the folder (folder or file) is refused (`STORAGE_UNSAFE_PATH`);
 * files are opened with `O_NOFOLLOW`.
 */
export class FsFiles {
  /** Absolute path of the download folder. */
  readonly root: string;
  readonly #layout: Layout;
  readonly #meta: InfoDictionary;
  /** The store's skipped flags, shared (read only here). */
  readonly #skipped: readonly boolean[];
  readonly #fds: FdCache;
  /** This store's key prefix in `#fds` (which other stores may share). */
  readonly #scope: string;
  readonly #paths: string[];
  readonly #partPath: string;
  /** Files whose bytes go to the part file (skipped while missing on disk). */
  readonly #usePart: boolean[];
  /** The route key of each file (`f<index>`), made once. */
  readonly #keys: string[];
  readonly #dirsOk = new Set<string>();
  #emptyFiles: Promise<void> | undefined;

  /** @throws {StorageError} `STORAGE_BAD_LAYOUT`, `STORAGE_UNSAFE_PATH`. */
  constructor(layout: Layout, root: string, fds: FdCache, skipped: readonly boolean[]) {
    this.#layout = layout;
    this.#meta = layout.meta;
    this.#skipped = skipped;
    this.#fds = fds;
    this.#scope = fds.scope();
    this.root = resolve(root);
    if (!/^[0-9a-f]{40}$/.test(this.#meta.infoHash)) {
      throw new StorageError('STORAGE_BAD_LAYOUT', 'info-hash is not 40 lower-case hex digits');
    }
    this.#partPath = join(this.root, `.${this.#meta.infoHash}.parts`);
    this.#paths = this.#checkPaths();
    this.#usePart = this.#meta.files.map(() => false);
    this.#keys = this.#meta.files.map((_, i) => `f${i}`);
  }

  /** Absolute path of file `index` (already range-checked). */
  path(index: number): string {
    return this.#paths[index] as string;
  }

  /** Whether bytes of file `index` go to the part file. */
  inPart(index: number): boolean {
    return this.#usePart[index] === true;
  }

  /**
   * Routes file `index` (now skipped) to the part file unless it already exists on disk (its data
   * may be complete).
   */
  async skip(index: number): Promise<void> {
    const f = this.#meta.files[index];
    this.#usePart[index] = f !== undefined && f.length > 0 && (await this.sizeOf(this.path(index))) < 0;
  }

  /** File `index` is wanted again: a zero-length file is created, part-file bytes moved in. */
  async unskip(index: number, has: (piece: number) => boolean): Promise<void> {
    const f = this.#meta.files[index];
    if (!f) return;
    if (f.length === 0) {
      if (this.#emptyFiles) await this.#createFile(this.path(index));
      return;
    }
    if (!this.#usePart[index]) return;
    await this.#movePartToFile(index, has);
    this.#usePart[index] = false;
  }

  /** Size of each distinct file of the torrent (−1: missing), keyed by route. */
  async sizes(): Promise<ReadonlyMap<string, number>> {
    return (await this.scan()).sizes;
  }

  /**
   * One `lstat` per distinct file of the torrent: its size (−1: missing) and whether it is all
   * holes (see {@link DiskScan}).
   */
  async scan(): Promise<DiskScan> {
    const sizes = new Map<string, number>();
    const holesOnly = new Set<string>();
    const routes = new Map<string, string>();
    for (let i = 0; i < this.#meta.files.length; i++) {
      const r = this.#route(i, 0);
      if (r) routes.set(r.key, r.path);
    }
    // Many files: stats in parallel (a thread-pool round trip each), missing folders once.
    const todo = [...routes];
    const missing = new Set<string>();
    await forEachLimited(todo.length, SCAN_CONCURRENCY, undefined, async (k) => {
      const [key, path] = todo[k] as [string, string];
      const st = await this.#stat(path, missing);
      sizes.set(key, st ? st.size : -1);
      if (st && holesOnlyFile(st)) holesOnly.add(key);
    });
    // The file system's word is checked on a few of them: their first 4 KiB must read as zeros.
    // One that reports no blocks for files with data (some FUSE ones) is then not trusted at all.
    for (const key of [...holesOnly].slice(0, HOLES_SAMPLES)) {
      if (!(await this.#startsWithZeros(routes.get(key) as string))) {
        holesOnly.clear();
        break;
      }
    }
    return { sizes, holesOnly };
  }

  /** True when the first 4 KiB of the file (or all of it, if shorter) are zeros. */
  async #startsWithZeros(path: string): Promise<boolean> {
    const fh = await open(path, READ_FLAGS).catch(() => undefined);
    if (!fh) return false;
    try {
      const buf = new Uint8Array(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead).every((b) => b === 0);
    } catch {
      return false;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * What recheck must do for `piece`, without reading it: `missing` when a byte of it lies past
   * the end of its file (or the file is missing), `zeros` when all of it lies in padding or in
   * files that are all holes (it reads as zeros: compare with the hash of a zero piece), else
   * `read`.
   */
  classify(piece: number, scan: DiskScan): 'missing' | 'zeros' | 'read' {
    // The segments of the piece walked in place (no objects: this runs once per piece).
    const files = this.#meta.files;
    let pos = piece * this.#layout.pieceLength;
    const end = pos + this.#layout.pieceSize(piece);
    let zeros = true;
    for (let i = this.#layout.fileAt(pos); pos < end && i < files.length; i++) {
      const f = files[i];
      if (!f || f.length === 0) continue;
      const n = Math.min(end, f.offset + f.length) - pos;
      if (n <= 0) continue;
      const fileOffset = pos - f.offset;
      pos += n;
      if (f.padding) continue;
      const part = this.#usePart[i] === true;
      const key = part ? PART_KEY : (this.#keys[i] as string);
      const size = scan.sizes.get(key);
      if (size === undefined) return 'read';
      if (size < (part ? f.offset : 0) + fileOffset + n) return 'missing';
      if (!scan.holesOnly.has(key)) zeros = false;
    }
    return zeros ? 'zeros' : 'read';
  }

  /**
   * Size and mtime (ms, floored) of file `index` when it is a file of its own on disk; undefined
   * when missing, padding or routed to the part file.
   */
  async statOf(index: number): Promise<ResumeFileStat | undefined> {
    const f = this.#meta.files[index];
    if (!f || f.padding || this.#usePart[index]) return undefined;
    const path = this.path(index);
    if (!(await this.#dirsSafe(path))) return undefined;
    try {
      const st = await lstat(path);
      return st.isFile() ? { size: st.size, mtimeMs: Math.floor(st.mtimeMs) } : undefined;
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw ioError('stat', e);
    }
  }

  /** Size of a file, −1 if it does not exist. */
  async sizeOf(path: string): Promise<number> {
    return (await this.#stat(path))?.size ?? -1;
  }

  /** `lstat` of a regular file inside the folder; undefined when missing or not a file. */
  async #stat(path: string, missing?: Set<string>): Promise<Stats | undefined> {
    if (!(await this.#dirsOf(path, false, missing))) return undefined;
    const st = await lstat(path).catch((e) => {
      if (errno(e) === 'ENOENT') return undefined;
      throw ioError('stat', e);
    });
    if (st?.isSymbolicLink()) throw unsafe(`a symlink inside the download folder: ${path}`, { path });
    return st?.isFile() ? st : undefined;
  }

  /** Creates the zero-length files that are not skipped (once, before the first write). */
  createEmptyFiles(): Promise<void> {
    this.#emptyFiles ??= (async () => {
      for (let i = 0; i < this.#meta.files.length; i++) {
        const f = this.#meta.files[i];
        if (f && f.length === 0 && !f.padding && !this.#skipped[i]) {
          await this.#createFile(this.path(i));
        }
      }
    })();
    return this.#emptyFiles;
  }

  /**
   * Reads `out.length` bytes of `piece` at `offset` into `out`. Padding reads as zeros (`out`
   * is zeroed there when `reused`, a new buffer already is).
   */
  async read(piece: number, offset: number, out: Uint8Array, reused: boolean): Promise<void> {
    for (const s of this.#layout.blockSegments(piece, offset, out.length)) {
      const route = this.#route(s.file, s.fileOffset);
      if (!route) {
        if (reused) out.fill(0, s.bufOffset, s.bufOffset + s.length);
        continue;
      }
      const e = await this.#acquire(route, false);
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
  }

  /** Writes a run of contiguous blocks of one piece (`bytes` in all). */
  async write(run: readonly QueuedBlock[], bytes: number): Promise<void> {
    await this.createEmptyFiles();
    const first = run[0];
    if (!first) return;
    for (const s of this.#layout.blockSegments(first.piece, first.offset, bytes)) {
      const r = this.#route(s.file, s.fileOffset);
      if (!r) continue;
      const views = sliceRun(run, s.bufOffset, s.length);
      const e = await this.#acquire(r, true);
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

  /**
   * Hashes piece `piece` from disk in `pool` (its workers read through the descriptors); false
   * when a file is missing or short (`sizes` from {@link sizes} saves a read of a short file).
   */
  async hashPiece(
    pool: HashPool,
    verifier: PieceVerifier,
    piece: number,
    sizes: ReadonlyMap<string, number> | undefined,
  ): Promise<boolean> {
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
        const e = await this.#acquire(r, false, held.length > 0);
        if (!e) return false;
        held.push(e);
        ranges.push({ fd: e.fh.fd, position: r.position, length: s.length });
      }
      const { digest, complete } = await pool.hashRanges(ranges, verifier.kind(piece));
      return complete && verifier.matches(piece, digest);
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw ioError('hash', e);
    } finally {
      for (const e of held) this.#fds.release(e);
    }
  }

  /** Closes every open handle. */
  closeAll(): Promise<void> {
    return this.#fds.closeAll(this.#scope);
  }

  /**
   * Deletes the torrent's files and the part file (only regular files the torrent names, never
   * through a symlink), then the folders left empty.
   * @throws {StorageError} `STORAGE_UNSAFE_PATH` naming what was not deleted; `STORAGE_IO`.
   */
  async deleteAll(): Promise<void> {
    const refused: string[] = [];
    const dirs = new Set<string>();
    const targets = [this.#partPath, ...this.#paths.filter((_, i) => this.#meta.files[i]?.padding !== true)];
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

  /** Absolute paths of the files; each must resolve inside the root (segments were checked safe). */
  #checkPaths(): string[] {
    const meta = this.#meta;
    const root = this.root;
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
    if (!(await this.#dirsOf(path, create))) return false;
    const st = await lstat(path).catch(() => undefined);
    if (st?.isSymbolicLink()) throw unsafe(`a symlink inside the download folder: ${path}`, { path });
    return true;
  }

  /**
   * The folders of `path` checked (and made, with `create`); false when one is missing. Folders
   * found missing are added to `missing`, and a folder in it is taken as missing unchecked (one
   * scan of many files under a missing folder costs one `lstat`, not one per file).
   */
  async #dirsOf(path: string, create: boolean, missing?: Set<string>): Promise<boolean> {
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
      if (missing?.has(dir)) return false;
      let st = await lstat(dir).catch((e) => {
        if (errno(e) === 'ENOENT') return undefined;
        throw ioError('lstat', e);
      });
      if (!st) {
        if (!create) {
          missing?.add(dir);
          return false;
        }
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

  /** `holding`: the caller already pins another handle (it must not wait for room: see FdCache). */
  #acquire(route: Route, writable: boolean, holding = false): Promise<FdEntry | undefined> {
    const open = () => this.#openFile(route.path, writable);
    return this.#fds.acquire(this.#scope + route.key, writable, open, holding);
  }

  async #createFile(path: string): Promise<void> {
    const fh = await this.#openFile(path, true);
    await fh?.close();
  }

  /** Where byte `fileOffset` of file `index` lives; `undefined` for padding (zeros). */
  #route(index: number, fileOffset: number): Route | undefined {
    const f = this.#meta.files[index];
    if (!f || f.padding) return undefined;
    if (this.#usePart[index]) return { key: PART_KEY, path: this.#partPath, position: f.offset + fileOffset };
    return { key: this.#keys[index] as string, path: this.#paths[index] as string, position: fileOffset };
  }

  /** Copies the verified pieces' bytes of file `index` from the part file into the file. */
  async #movePartToFile(index: number, has: (piece: number) => boolean): Promise<void> {
    const range = this.#layout.piecesOfFile(index);
    const f = this.#meta.files[index];
    if (!range || !f) return;
    const part = await this.#acquire({ key: PART_KEY, path: this.#partPath, position: 0 }, false);
    if (!part) return;
    try {
      const file = await this.#acquire({ key: `f${index}`, path: this.path(index), position: 0 }, true, true);
      if (!file) return;
      try {
        const pl = this.#layout.pieceLength;
        for (let p = range.first; p <= range.last; p++) {
          if (!has(p)) continue;
          const start = Math.max(f.offset, p * pl);
          const end = Math.min(f.offset + f.length, p * pl + this.#layout.pieceSize(p));
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
}
