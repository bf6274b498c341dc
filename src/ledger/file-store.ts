import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { concatBytes, equalBytes, utf8 } from '../util/bytes.js';
import {
  decodeEvent,
  decodeState,
  encodeEvent,
  encodeState,
  frameRecord,
  RECORD_HEADER,
  readRecord,
} from './codec.js';
import type { LedgerEvent, LedgerStateData } from './core.js';
import { LedgerError } from './errors.js';
import type { LedgerStore, StoreContents } from './store.js';

/** First 8 bytes of every journal file. */
export const JOURNAL_MAGIC = utf8('BTTKLOG1');
/** First 8 bytes of every snapshot file. */
export const SNAPSHOT_MAGIC = utf8('BTTKSNP1');
/** Largest snapshot accepted (bytes). */
export const MAX_SNAPSHOT = 2 ** 31 - 1;

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /** Skip fsync (benchmarks of the non-durable path only; never in production). Default false. */
  unsafeNoSync?: boolean;
}

interface Pending {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Directories this process holds the lock of. */
const heldDirs = new Set<string>();

const journalName = (gen: number) => `journal-${gen}.log`;
const snapshotName = (gen: number) => `snapshot-${gen}.bin`;

// The payload of every event record starts with these bytes (canonical bencode, first key "at").
const EVENT_PREFIX = utf8('d2:ati');

/** What {@link FileStore} found and repaired when it opened. */
export interface RecoveryReport {
  generation: number;
  events: number;
  /** Bytes cut from a torn journal tail (0 if none). */
  truncatedBytes: number;
}

/**
 * A {@link LedgerStore} on disk, in one directory:
 * - `journal-<g>.log`: `BTTKLOG1` then records `u32 length ‖ u32 CRC-32 ‖ payload` (bencoded
 *   events); appended with group commit, `fdatasync` before any append is acknowledged;
 * - `snapshot-<g>.bin`: `BTTKSNP1` then one record holding the whole state after the events of
 *   generation g−1; written to a temporary file, fsync'd, renamed, directory fsync'd.
 * On open the newest snapshot is loaded and its journal replayed; a torn tail (a record cut
 * short, or garbage with no valid record after it) is truncated; a bad record followed by a valid
 * one is corruption and refuses to open (`JOURNAL_CORRUPT`). A `LOCK` file holds the owner's pid.
 */
export class FileStore implements LedgerStore {
  readonly dir: string;
  readonly #sync: boolean;
  #gen = 0;
  #fh: FileHandle | undefined;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #barrier = false;
  #failed: unknown;
  #since = 0;
  #closed = false;
  #idle: (() => void)[] = [];
  /** What the last {@link FileStore.load} found. */
  recovery: RecoveryReport | undefined;

  constructor(dir: string, options: FileStoreOptions = {}) {
    this.dir = dir;
    this.#sync = !options.unsafeNoSync;
  }

  get eventsSinceSnapshot(): number {
    return this.#since;
  }

  async #syncDir(): Promise<void> {
    if (!this.#sync) return;
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  async #lock(): Promise<void> {
    const path = join(this.dir, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        heldDirs.add(resolve(this.dir));
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      let alive = pid === process.pid && heldDirs.has(resolve(this.dir));
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as { code?: string }).code === 'EPERM';
        }
      }
      if (alive) throw new LedgerError('STORE_LOCKED', `ledger directory in use by process ${pid}`);
      await rm(path, { force: true });
    }
    throw new LedgerError('STORE_LOCKED', 'cannot take the ledger directory lock');
  }

  async load(): Promise<StoreContents> {
    await mkdir(this.dir, { recursive: true });
    await this.#lock();
    const names = await readdir(this.dir);
    const gens = (re: RegExp) =>
      names.flatMap((n) => {
        const m = re.exec(n);
        return m ? [Number(m[1])] : [];
      });
    const snapGens = gens(/^snapshot-(\d{1,15})\.bin$/).sort((a, b) => b - a);
    const gen = snapGens[0] ?? 0;
    let state: LedgerStateData | undefined;
    if (snapGens.length > 0) {
      const data = new Uint8Array(await readFile(join(this.dir, snapshotName(gen))));
      if (!equalBytes(data.subarray(0, 8), SNAPSHOT_MAGIC))
        throw new LedgerError('JOURNAL_CORRUPT', 'bad snapshot magic');
      const r = readRecord(data, 8, MAX_SNAPSHOT);
      if (r.kind !== 'ok' || r.end !== data.length)
        throw new LedgerError('JOURNAL_CORRUPT', 'bad snapshot record');
      state = decodeState(r.payload);
    }
    for (const g of gens(/^journal-(\d{1,15})\.log$/)) {
      if (g > gen)
        throw new LedgerError('JOURNAL_CORRUPT', `journal ${g} newer than the newest snapshot ${gen}`);
    }
    // Remove what an interrupted compaction left behind, and older generations.
    for (const n of names) {
      const m = /^(snapshot|journal)-(\d{1,15})\.(bin|log)$/.exec(n);
      if (n.endsWith('.tmp') || (m && Number(m[2]) < gen)) await rm(join(this.dir, n), { force: true });
    }
    const { events, truncatedBytes } = await this.#openJournal(gen);
    this.#gen = gen;
    this.#since = events.length;
    this.recovery = { generation: gen, events: events.length, truncatedBytes };
    return { state, events };
  }

  async #openJournal(gen: number): Promise<{ events: LedgerEvent[]; truncatedBytes: number }> {
    const path = join(this.dir, journalName(gen));
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(path));
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      data = new Uint8Array(0);
    }
    const events: LedgerEvent[] = [];
    let truncatedBytes = 0;
    let good = 8;
    if (data.length < 8 || !equalBytes(data.subarray(0, 8), JOURNAL_MAGIC)) {
      // A journal whose header never reached the disk holds nothing.
      if (data.length >= 8) throw new LedgerError('JOURNAL_CORRUPT', 'bad journal magic');
      truncatedBytes = data.length;
      const fh = await open(path, 'w');
      await fh.write(JOURNAL_MAGIC);
      if (this.#sync) await fh.datasync();
      await fh.close();
      await this.#syncDir();
    } else {
      for (;;) {
        const r = readRecord(data, good);
        if (r.kind === 'end') break;
        if (r.kind === 'ok') {
          events.push(decodeEvent(r.payload));
          good = r.end;
          continue;
        }
        if (r.kind === 'bad' && hasValidRecordAfter(data, good + 1)) {
          throw new LedgerError('JOURNAL_CORRUPT', `bad journal record at offset ${good} (${r.reason})`, {
            details: { offset: good },
          });
        }
        break;
      }
      if (good < data.length) {
        truncatedBytes = data.length - good;
        const fh = await open(path, 'r+');
        await fh.truncate(good);
        if (this.#sync) await fh.sync();
        await fh.close();
      }
    }
    this.#fh = await open(path, 'a');
    return { events, truncatedBytes };
  }

  append(event: LedgerEvent): Promise<void> {
    if (this.#failed !== undefined) {
      return Promise.reject(
        new LedgerError('JOURNAL_FAILED', 'journal failed earlier', { cause: this.#failed }),
      );
    }
    if (this.#closed || !this.#fh) return Promise.reject(new LedgerError('LEDGER_CLOSED', 'store is closed'));
    const bytes = frameRecord(encodeEvent(event));
    this.#since++;
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

  async #writeBatch(batch: Pending[]): Promise<void> {
    const fh = this.#fh;
    try {
      if (!fh) throw new LedgerError('LEDGER_CLOSED', 'store is closed');
      const buf = batch.length === 1 ? (batch[0] as Pending).bytes : concatBytes(batch.map((p) => p.bytes));
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      if (this.#sync) await fh.datasync();
    } catch (err) {
      this.#failed = err;
      const e = new LedgerError('JOURNAL_FAILED', 'journal write failed', { cause: err });
      for (const p of batch) p.reject(e);
      for (const p of this.#queue.splice(0)) p.reject(e);
      throw e;
    }
    for (const p of batch) p.resolve();
  }

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0 && !this.#barrier && this.#failed === undefined) {
      await this.#writeBatch(this.#queue.splice(0)).catch(() => undefined);
    }
  }

  flush(): Promise<void> {
    if (this.#failed !== undefined) {
      return Promise.reject(
        new LedgerError('JOURNAL_FAILED', 'journal failed earlier', { cause: this.#failed }),
      );
    }
    if (!this.#flushing && this.#queue.length === 0 && !this.#barrier) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve)).then(() => this.flush());
  }

  async compact(state: LedgerStateData): Promise<void> {
    if (this.#barrier) throw new LedgerError('JOURNAL_FAILED', 'compaction already running');
    const snap = concatBytes([SNAPSHOT_MAGIC, frameRecord(encodeState(state))]);
    const older = this.#queue.splice(0);
    this.#barrier = true;
    const next = this.#gen + 1;
    try {
      while (this.#flushing) await this.#flushing;
      if (this.#failed !== undefined) throw new LedgerError('JOURNAL_FAILED', 'journal failed earlier');
      if (older.length > 0) await this.#writeBatch(older);
      const tmp = join(this.dir, `${snapshotName(next)}.tmp`);
      const sf = await open(tmp, 'w');
      try {
        await sf.write(snap);
        if (this.#sync) await sf.sync();
      } finally {
        await sf.close();
      }
      await rename(tmp, join(this.dir, snapshotName(next)));
      await this.#syncDir();
      const jf = await open(join(this.dir, journalName(next)), 'w');
      await jf.write(JOURNAL_MAGIC);
      if (this.#sync) await jf.datasync();
      await jf.close();
      await this.#syncDir();
      await this.#fh?.close();
      this.#fh = await open(join(this.dir, journalName(next)), 'a');
      const prev = this.#gen;
      this.#gen = next;
      this.#since = this.#queue.length;
      await rm(join(this.dir, journalName(prev)), { force: true });
      await rm(join(this.dir, snapshotName(prev)), { force: true });
    } catch (err) {
      if (this.#failed === undefined) this.#failed = err;
      const e = new LedgerError('JOURNAL_FAILED', 'compaction failed', { cause: err });
      for (const p of this.#queue.splice(0)) p.reject(e);
      throw e;
    } finally {
      this.#barrier = false;
      this.#kick();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => undefined);
    this.#closed = true;
    await this.#fh?.close();
    this.#fh = undefined;
    await rm(join(this.dir, 'LOCK'), { force: true });
    heldDirs.delete(resolve(this.dir));
  }
}

/** True if some offset ≥ `from` starts a record with a valid checksum and an event payload. */
function hasValidRecordAfter(data: Uint8Array, from: number): boolean {
  const last = data.length - RECORD_HEADER - EVENT_PREFIX.length;
  for (let i = from; i <= last; i++) {
    let match = true;
    for (let k = 0; k < EVENT_PREFIX.length; k++) {
      if (data[i + RECORD_HEADER + k] !== EVENT_PREFIX[k]) {
        match = false;
        break;
      }
    }
    if (match && readRecord(data, i).kind === 'ok') return true;
  }
  return false;
}
