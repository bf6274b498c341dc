import { randomBytes } from 'node:crypto';
import { type FileHandle, link, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { concatBytes, equalBytes } from './bytes.js';

/**
 * The append-only journal shared by the ledger's file store and the settlement journal: one file
 * of a magic header then framed records, group-committed and fsync'd before an append is
 * acknowledged, its torn tail cut on open; and the PID lock file that keeps a second writer out.
 * Errors are made by the owner ({@link JournalErrors}) so each module throws its own codes.
 * @module
 */

/** Largest record payload accepted by default (bytes). */
export const MAX_RECORD = 1024 * 1024;
/** Bytes before each record's payload: u32 length ‖ u32 CRC-32. */
export const RECORD_HEADER = 8;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as in zlib) of `data`. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++)
    c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Frames a payload: u32 BE length ‖ u32 BE CRC-32(payload) ‖ payload. */
export function frameRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length);
  dv.setUint32(4, crc32(payload));
  out.set(payload, RECORD_HEADER);
  return out;
}

/** The result of {@link readRecord}. */
export type RecordRead =
  | { kind: 'ok'; payload: Uint8Array; end: number }
  | { kind: 'end' }
  | { kind: 'torn'; reason: string }
  | { kind: 'bad'; reason: string; end: number };

/**
 * Reads the record at `offset`. `torn`: the data ends inside it (a write cut short). `bad`: it is
 * complete but its length is absurd or its checksum fails.
 */
export function readRecord(data: Uint8Array, offset: number, maxRecord = MAX_RECORD): RecordRead {
  if (offset === data.length) return { kind: 'end' };
  if (data.length - offset < RECORD_HEADER) return { kind: 'torn', reason: 'truncated header' };
  const dv = new DataView(data.buffer, data.byteOffset + offset, RECORD_HEADER);
  const len = dv.getUint32(0);
  const sum = dv.getUint32(4);
  if (len === 0 || len > maxRecord)
    return { kind: 'bad', reason: `record length ${len} out of range`, end: -1 };
  const end = offset + RECORD_HEADER + len;
  if (end > data.length) return { kind: 'torn', reason: 'truncated payload' };
  const payload = data.subarray(offset + RECORD_HEADER, end);
  if (crc32(payload) !== sum) return { kind: 'bad', reason: 'checksum mismatch', end };
  return { kind: 'ok', payload, end };
}

/** The owner's errors: each module throws its own codes for the journal's failures. */
export interface JournalErrors {
  /** The file is not such a journal, or a bad record is followed by a good one. */
  corrupt(message: string, details: { offset: number }): Error;
  /** A write, fsync or rotation failed, or a record is too large. */
  failed(message: string, cause?: unknown): Error;
  /** The journal was closed. */
  closed(message: string): Error;
}

/** Options of {@link AppendJournal.open}. */
export interface JournalOptions {
  /** The file's first bytes, naming its kind (8 bytes by convention, e.g. `BTTKLOG1`). */
  magic: Uint8Array;
  errors: JournalErrors;
  /** Largest record payload. Default {@link MAX_RECORD}. */
  maxRecord?: number;
  /**
   * The bytes every real record's payload starts with. A bad record is corruption only if a
   * valid record starting with them follows it; this keeps a torn tail from being mistaken for
   * corruption by a checksum that matches by chance. Default: none (any valid record).
   */
  recordPrefix?: Uint8Array;
  /** fsync appends, the header and the directory. Default true; false only for benchmarks. */
  sync?: boolean;
}

/** What {@link AppendJournal.open} read. */
export interface JournalOpened {
  journal: AppendJournal;
  /** The payloads of the complete records, in order. */
  records: Uint8Array[];
  /** Bytes cut from a torn tail (or a header that never reached the disk); 0 if none. */
  truncatedBytes: number;
}

interface Pending {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** fsyncs directory `dir` (so a created or renamed entry in it is durable). */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Writes `path` atomically and durably: a temporary file next to it (`mode`), fsync'd, renamed
 * over `path`, the directory fsync'd. A crash at any point leaves either no file or the whole
 * one (plus, at worst, a stray `<name>.tmp-<pid>` that the next write replaces).
 */
export async function writeFileDurably(path: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.chmod(mode); // (a stray temporary file keeps its old mode through open)
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Writes a new journal file holding only `magic`, durably (file and directory). */
async function createFile(path: string, magic: Uint8Array, sync: boolean): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.write(magic);
    if (sync) await fh.datasync();
  } finally {
    await fh.close();
  }
  if (sync) await syncDir(dirname(path));
}

/**
 * One append-only file: `magic`, then records `u32 length ‖ u32 CRC-32 ‖ payload`.
 *
 * - Open: a file shorter than the magic (its header never reached the disk) is rewritten empty;
 *   another magic is corruption; records are read up to the first one that is not complete and
 *   valid; if a valid record follows that one it is corruption (the open is refused), else it is a
 *   torn tail and is truncated (and the truncation fsync'd) before appends resume.
 * - Append: group commit. Records appended while a write is in flight are written together by
 *   the next write; each append resolves only after its bytes are written and `fdatasync`'d, in
 *   append order. A failed write or fsync fails the journal for good: that append, every queued
 *   one and every later one are refused (the owner reopens to recover).
 * - Rotate: moves on to a new file after every earlier append is durable, for compaction.
 */
export class AppendJournal {
  readonly #magic: Uint8Array;
  readonly #errors: JournalErrors;
  readonly #maxRecord: number;
  readonly #sync: boolean;
  #path: string;
  #fh: FileHandle | undefined;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #barrier = false;
  #failed: unknown;
  #closed = false;
  #idle: (() => void)[] = [];

  private constructor(path: string, options: JournalOptions) {
    this.#path = path;
    this.#magic = options.magic;
    this.#errors = options.errors;
    this.#maxRecord = options.maxRecord ?? MAX_RECORD;
    this.#sync = options.sync ?? true;
  }

  /** Opens (creating if needed) the journal at `path`, reads its records and repairs a torn tail. */
  static async open(path: string, options: JournalOptions): Promise<JournalOpened> {
    const j = new AppendJournal(path, options);
    const { magic, errors } = options;
    const maxRecord = j.#maxRecord;
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(path));
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      data = new Uint8Array(0);
    }
    const records: Uint8Array[] = [];
    let truncatedBytes = 0;
    if (data.length < magic.length) {
      // A journal whose header never reached the disk holds nothing.
      truncatedBytes = data.length;
      await createFile(path, magic, j.#sync);
    } else {
      if (!equalBytes(data.subarray(0, magic.length), magic))
        throw errors.corrupt('bad journal magic', { offset: 0 });
      let good = magic.length;
      for (;;) {
        const r = readRecord(data, good, maxRecord);
        if (r.kind === 'end') break;
        if (r.kind === 'ok') {
          records.push(r.payload);
          good = r.end;
          continue;
        }
        if (r.kind === 'bad' && validRecordAfter(data, good + 1, maxRecord, options.recordPrefix)) {
          throw errors.corrupt(`bad journal record at offset ${good} (${r.reason})`, { offset: good });
        }
        break;
      }
      if (good < data.length) {
        truncatedBytes = data.length - good;
        const fh = await open(path, 'r+');
        try {
          await fh.truncate(good);
          if (j.#sync) await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    j.#fh = await open(path, 'a');
    return { journal: j, records, truncatedBytes };
  }

  /** The file appended to now. */
  get path(): string {
    return this.#path;
  }

  /** True once a write, fsync or rotation failed (every append is refused after). */
  get failed(): boolean {
    return this.#failed !== undefined;
  }

  #refusal(): Error | undefined {
    if (this.#failed !== undefined) return this.#errors.failed('journal failed earlier', this.#failed);
    if (this.#closed || !this.#fh) return this.#errors.closed('journal is closed');
    return undefined;
  }

  /**
   * Appends a record; resolves once it is durable. The record is framed now (the caller may
   * reuse `payload`); one larger than `maxRecord` is refused without failing the journal.
   */
  append(payload: Uint8Array): Promise<void> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    if (payload.length === 0 || payload.length > this.#maxRecord)
      return Promise.reject(this.#errors.failed(`record of ${payload.length} bytes out of range`));
    const bytes = frameRecord(payload);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#flushing || this.#barrier) return;
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0 && !this.#barrier && this.#failed === undefined) this.#kick();
      else for (const f of this.#idle.splice(0)) f();
    });
  }

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0 && !this.#barrier && this.#failed === undefined) {
      await this.#writeBatch(this.#queue.splice(0)).catch(() => undefined);
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    const fh = this.#fh;
    try {
      if (!fh) throw this.#errors.closed('journal is closed');
      const buf = batch.length === 1 ? (batch[0] as Pending).bytes : concatBytes(batch.map((p) => p.bytes));
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      if (this.#sync) await fh.datasync();
    } catch (err) {
      this.#failed ??= err;
      const e = this.#errors.failed('journal write failed', err);
      for (const p of batch) p.reject(e);
      for (const p of this.#queue.splice(0)) p.reject(e);
      throw e;
    }
    for (const p of batch) p.resolve();
  }

  /** Resolves once every record appended so far is durable; rejects if the journal failed. */
  flush(): Promise<void> {
    if (this.#failed !== undefined)
      return Promise.reject(this.#errors.failed('journal failed earlier', this.#failed));
    if (!this.#flushing && this.#queue.length === 0 && !this.#barrier) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve)).then(() => this.flush());
  }

  /**
   * Moves on to a new file at `nextPath`. Records appended before this call are written to the
   * current file and made durable; then `between` runs (e.g. writes a snapshot of them); then the
   * new file is created (magic, fsync'd, directory fsync'd) and later records go there. Records
   * appended meanwhile wait, then go to the new file. Any failure fails the journal. The old
   * file is left in place for the caller to remove.
   */
  async rotate(nextPath: string, between: () => Promise<void>): Promise<void> {
    if (this.#barrier) throw this.#errors.failed('rotation already running');
    const refused = this.#refusal();
    if (refused) throw refused;
    const older = this.#queue.splice(0);
    this.#barrier = true;
    try {
      while (this.#flushing) await this.#flushing;
      if (this.#failed !== undefined) throw this.#errors.failed('journal failed earlier', this.#failed);
      if (older.length > 0) await this.#writeBatch(older);
      await between();
      await createFile(nextPath, this.#magic, this.#sync);
      const next = await open(nextPath, 'a');
      const prev = this.#fh;
      this.#fh = next;
      this.#path = nextPath;
      await prev?.close();
    } catch (err) {
      this.#failed ??= err;
      const e = this.#errors.failed('journal rotation failed', err);
      for (const p of older) p.reject(e);
      for (const p of this.#queue.splice(0)) p.reject(e);
      throw e;
    } finally {
      this.#barrier = false;
      this.#kick();
    }
  }

  /** Waits for the appends in flight (their outcome is theirs) and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => undefined);
    this.#closed = true;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }
}

/** True if some offset ≥ `from` starts a record with a valid checksum (and payload `prefix`). */
function validRecordAfter(data: Uint8Array, from: number, maxRecord: number, prefix?: Uint8Array): boolean {
  const pre = prefix ?? new Uint8Array(0);
  const last = data.length - RECORD_HEADER - Math.max(1, pre.length);
  for (let i = from; i <= last; i++) {
    let match = true;
    for (let k = 0; k < pre.length; k++) {
      if (data[i + RECORD_HEADER + k] !== pre[k]) {
        match = false;
        break;
      }
    }
    if (match && readRecord(data, i, maxRecord).kind === 'ok') return true;
  }
  return false;
}

// ---- the PID lock ----

/** Lock paths held in this process, shared by every copy of this module (ESM and CJS builds). */
const HELD: Set<string> = (() => {
  const g = globalThis as { [k: symbol]: Set<string> | undefined };
  const key = Symbol.for('bttkit.journal.heldLocks');
  g[key] ??= new Set<string>();
  return g[key];
})();

/** This process's (and thread's) mark in a lock file: `<pid>`, or `<pid>:<threadId>` off the main thread. */
const ownMark = (): string => (threadId === 0 ? String(process.pid) : `${process.pid}:${threadId}`);

/** The owner a lock file names; `undefined` if it names none (a file cut short while written). */
export function parseLockOwner(text: string): { pid: number; thread: number } | undefined {
  const m = /^([1-9][0-9]{0,9})(?::([0-9]{1,10}))?\s*$/.exec(text);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) ? { pid, thread: Number(m[2] ?? '0') } : undefined;
}

/** True if process `pid` exists (also when it belongs to another user). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * Whether the lock a file names is held by a live owner:
 * - another PID: held while that process exists;
 * - this PID and thread: held only if this process took it and has not released it — otherwise
 *   an earlier process with the same PID left it (PIDs are reused, e.g. PID 1 in a container
 *   restarted after a crash), so it is stale;
 * - this PID, another thread: held (a thread's liveness cannot be told from here; refusing is safe).
 * A file naming no owner is stale (the owner writes the file whole; see {@link PidLock.acquire}).
 */
function lockIsLive(path: string, text: string): { live: boolean; pid: number | undefined } {
  const owner = parseLockOwner(text);
  if (!owner) return { live: false, pid: undefined };
  if (owner.pid !== process.pid) return { live: processExists(owner.pid), pid: owner.pid };
  if (owner.thread !== threadId) return { live: true, pid: owner.pid };
  return { live: HELD.has(path), pid: owner.pid };
}

/**
 * A lock file naming its owner's PID: the one writer of a journal directory.
 *
 * Taking it writes the owner's mark to a private temporary file and hard-links it to `path`, so
 * the lock file never exists half-written. If `path` exists, its owner is checked: a live owner
 * (see above) refuses with the caller's error; a stale lock is moved aside under a unique name,
 * checked to still be the stale file (else it is put back and the lock refused), removed, and the
 * lock taken again. Only a process that died can lose its lock this way.
 */
export class PidLock {
  readonly path: string;
  #released = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Takes the lock at `path` (its directory must exist).
   * @param locked makes the error thrown when a live owner holds it (`pid` undefined if unknown).
   */
  static async acquire(path: string, locked: (pid: number | undefined) => Error): Promise<PidLock> {
    const abs = resolve(path);
    const suffix = `${process.pid}.${threadId}.${randomBytes(6).toString('hex')}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (HELD.has(abs)) throw locked(process.pid);
      const tmp = `${abs}.${suffix}.tmp`;
      try {
        const fh = await open(tmp, 'wx');
        try {
          await fh.write(ownMark());
        } finally {
          await fh.close();
        }
        await link(tmp, abs);
        HELD.add(abs);
        return new PidLock(abs);
      } catch (err) {
        const code = (err as { code?: string }).code;
        // ENOENT: our temporary file was swept by the holder's clean-up of `*.tmp`; try again.
        if (code !== 'EEXIST' && code !== 'ENOENT') throw err;
        if (code === 'ENOENT') continue;
      } finally {
        await rm(tmp, { force: true });
      }
      const text = await readFile(abs, 'utf8').catch((err: { code?: string }) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (text === undefined) continue; // released meanwhile: try again
      const { live, pid } = lockIsLive(abs, text);
      if (live) throw locked(pid);
      // Stale: move it aside, and make sure what was moved is the file judged stale.
      const aside = `${abs}.${suffix}.stale.tmp`;
      try {
        await rename(abs, aside);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') continue;
        throw err;
      }
      const moved = await readFile(aside, 'utf8').catch(() => '');
      if (moved !== text) {
        // Another process took the lock between the read and the move: give it back.
        await link(aside, abs).catch(() => undefined);
        await rm(aside, { force: true });
        throw locked(parseLockOwner(moved)?.pid);
      }
      await rm(aside, { force: true });
    }
    throw locked(undefined);
  }

  /** True while this lock is held. */
  get held(): boolean {
    return !this.#released;
  }

  /** Removes the lock file (idempotent). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      await rm(this.path, { force: true });
    } finally {
      HELD.delete(this.path);
    }
  }
}
