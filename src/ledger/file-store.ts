import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { concatBytes, equalBytes, utf8 } from '../util/bytes.js';
import { AppendJournal, type JournalErrors, PidLock, syncDir } from '../util/journal.js';
import { decodeEvent, decodeState, encodeEvent, encodeState, frameRecord, readRecord } from './codec.js';
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

const journalName = (gen: number) => `journal-${gen}.log`;
const snapshotName = (gen: number) => `snapshot-${gen}.bin`;

// The payload of every event record starts with these bytes (canonical bencode, first key "at").
const EVENT_PREFIX = utf8('d2:ati');

const JOURNAL_ERRORS: JournalErrors = {
  corrupt: (message, details) => new LedgerError('LEDGER_JOURNAL_CORRUPT', message, { details }),
  failed: (message, cause) => new LedgerError('LEDGER_JOURNAL_FAILED', message, { cause }),
  closed: (message) => new LedgerError('LEDGER_CLOSED', message),
};

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
 * one is corruption and refuses to open (`LEDGER_JOURNAL_CORRUPT`). A `LOCK` file holds the
 * owner's pid (`LEDGER_STORE_LOCKED` while a live process holds it). The journal and the lock are
 * the package's one implementation (`src/util/journal.ts`), shared with the settlement journal.
 */
export class FileStore implements LedgerStore {
  readonly dir: string;
  readonly #sync: boolean;
  #gen = 0;
  #journal: AppendJournal | undefined;
  #lock: PidLock | undefined;
  #since = 0;
  /** Events appended since load (to count those that land in the next generation). */
  #appended = 0;
  #closed = false;
  /** What the last {@link FileStore.load} found. */
  recovery: RecoveryReport | undefined;

  constructor(dir: string, options: FileStoreOptions = {}) {
    this.dir = dir;
    this.#sync = !options.unsafeNoSync;
  }

  get eventsSinceSnapshot(): number {
    return this.#since;
  }

  async load(): Promise<StoreContents> {
    await mkdir(this.dir, { recursive: true });
    this.#lock = await PidLock.acquire(
      join(this.dir, 'LOCK'),
      (pid) =>
        new LedgerError(
          'LEDGER_STORE_LOCKED',
          pid === undefined
            ? 'cannot take the ledger directory lock'
            : `ledger directory in use by process ${pid}`,
        ),
    );
    this.#closed = false;
    try {
      return await this.#load();
    } catch (err) {
      await this.#lock.release();
      throw err;
    }
  }

  async #load(): Promise<StoreContents> {
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
        throw new LedgerError('LEDGER_JOURNAL_CORRUPT', 'bad snapshot magic');
      const r = readRecord(data, 8, MAX_SNAPSHOT);
      if (r.kind !== 'ok' || r.end !== data.length)
        throw new LedgerError('LEDGER_JOURNAL_CORRUPT', 'bad snapshot record');
      state = decodeState(r.payload);
    }
    for (const g of gens(/^journal-(\d{1,15})\.log$/)) {
      if (g > gen)
        throw new LedgerError('LEDGER_JOURNAL_CORRUPT', `journal ${g} newer than the newest snapshot ${gen}`);
    }
    // Remove what an interrupted compaction left behind, and older generations.
    for (const n of names) {
      const m = /^(snapshot|journal)-(\d{1,15})\.(bin|log)$/.exec(n);
      if (n.endsWith('.tmp') || (m && Number(m[2]) < gen)) await rm(join(this.dir, n), { force: true });
    }
    const { journal, records, truncatedBytes } = await AppendJournal.open(join(this.dir, journalName(gen)), {
      magic: JOURNAL_MAGIC,
      errors: JOURNAL_ERRORS,
      recordPrefix: EVENT_PREFIX,
      sync: this.#sync,
    });
    let events: LedgerEvent[];
    try {
      events = records.map(decodeEvent);
    } catch (err) {
      await journal.close();
      throw err;
    }
    this.#journal = journal;
    this.#gen = gen;
    this.#since = events.length;
    this.recovery = { generation: gen, events: events.length, truncatedBytes };
    return { state, events };
  }

  append(event: LedgerEvent): Promise<void> {
    const journal = this.#journal;
    if (this.#closed || !journal) return Promise.reject(new LedgerError('LEDGER_CLOSED', 'store is closed'));
    const done = journal.append(encodeEvent(event));
    if (!journal.failed) {
      this.#appended++;
      this.#since++;
    }
    return done;
  }

  flush(): Promise<void> {
    return this.#journal?.flush() ?? Promise.resolve();
  }

  async compact(state: LedgerStateData): Promise<void> {
    const journal = this.#journal;
    if (this.#closed || !journal) throw new LedgerError('LEDGER_CLOSED', 'store is closed');
    const snap = concatBytes([SNAPSHOT_MAGIC, frameRecord(encodeState(state))]);
    const next = this.#gen + 1;
    const covered = this.#appended;
    await journal.rotate(join(this.dir, journalName(next)), async () => {
      const tmp = join(this.dir, `${snapshotName(next)}.tmp`);
      const sf = await open(tmp, 'w');
      try {
        await sf.write(snap);
        if (this.#sync) await sf.sync();
      } finally {
        await sf.close();
      }
      await rename(tmp, join(this.dir, snapshotName(next)));
      if (this.#sync) await syncDir(this.dir);
    });
    const prev = this.#gen;
    this.#gen = next;
    this.#since = this.#appended - covered;
    await rm(join(this.dir, journalName(prev)), { force: true });
    await rm(join(this.dir, snapshotName(prev)), { force: true });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#journal?.close();
    this.#journal = undefined;
    await this.#lock?.release();
  }
}
