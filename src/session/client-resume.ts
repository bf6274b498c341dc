import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { decodeResume, encodeResume, MAX_RESUME_BYTES, type ResumeRecord } from '../storage/resume.js';
import type { RecheckResume } from '../storage/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { BttkitError } from '../util/errors.js';
import { SessionError } from './errors.js';
import type { Torrent } from './torrent.js';
import type { TorrentResumeHooks } from './torrent-types.js';

/** Resume files read or written at once, over the client. */
const RESUME_IO = 8;

/** What {@link ClientResume} needs from its client. */
export interface ClientResumeOptions {
  /** Folder of `<info-hash hex>.resume` files; undefined: apps keep resume data themselves. */
  readonly dir: string | undefined;
  readonly clock: Clock;
  /** Longest a changed torrent waits for its save, ms (`settings.resumeSaveIntervalMs`). */
  readonly intervalMs: number;
}

/** Per torrent: what the record carries besides the torrent's own state. */
interface Entry {
  readonly torrent: Torrent;
  /** Resume bytes the app gave to `add()`: used once, instead of the file. */
  given: Uint8Array | undefined;
  /** The data was checked (`ready`): a record before that would claim too little. */
  ready: boolean;
  addedAt: number;
  completedAt: number | undefined;
  uploaded: number;
  downloaded: number;
  /** The torrent's warnings (bad resume data, a failed save), given with `load`. */
  warn: ((err: SessionError) => void) | undefined;
}

/**
 * A client's fast-resume: reads each torrent's record before its data is checked (the app's
 * `resumeData` option, else `<resumeDir>/<info-hash hex>.resume`), builds records
 * (`torrent.resumeData()`), and with a `resumeDir` saves them — batched: a torrent that
 * verified pieces is marked, and one client-wide timer saves every marked torrent at most every
 * `resumeSaveIntervalMs`; also on pause and destroy (so on the client's destroy). Files are
 * written to a temporary name and renamed over the old one (atomic on POSIX), not fsync'd: a
 * record lost or torn by a crash is refused when read, and the torrent is rechecked in full.
 */
export class ClientResume implements TorrentResumeHooks {
  readonly #o: ClientResumeOptions;
  readonly #entries = new Map<Torrent, Entry>();
  readonly #dirty = new Set<Torrent>();
  #timer: TimerHandle | undefined;
  #dirMade: Promise<unknown> | undefined;
  /** Resume files being read or written now (at most {@link RESUME_IO}: 1,000 at once would hold 1,000 fds). */
  #io = 0;
  readonly #ioWaiting: (() => void)[] = [];

  constructor(options: ClientResumeOptions) {
    this.#o = options;
  }

  /** Follows a torrent just added; `given` are resume bytes from the app. */
  watch(torrent: Torrent, given: Uint8Array | undefined): void {
    const e: Entry = {
      torrent,
      given,
      ready: false,
      addedAt: Date.now(),
      completedAt: undefined,
      uploaded: 0,
      downloaded: 0,
      warn: undefined,
    };
    this.#entries.set(torrent, e);
    torrent.once('ready', () => {
      e.ready = true;
    });
    torrent.on('piece', () => this.#mark(torrent));
    torrent.once('done', () => {
      e.completedAt ??= Date.now();
    });
    torrent.once('close', () => {
      this.#entries.delete(torrent);
      this.#dirty.delete(torrent);
    });
  }

  async load(
    torrent: Torrent,
    info: InfoDictionary,
    warn: (err: SessionError) => void,
  ): Promise<RecheckResume | undefined> {
    const e = this.#entries.get(torrent);
    if (!e) return undefined;
    e.warn = warn;
    const given = e.given;
    e.given = undefined;
    let bytes = given;
    try {
      if (!bytes && this.#o.dir !== undefined) {
        const path = this.#path(torrent);
        bytes = await this.#limited(() => readBounded(path));
      }
      if (!bytes) return undefined;
      const r = decodeResume(bytes, info);
      e.addedAt = r.addedAt;
      e.completedAt = r.completedAt;
      e.uploaded = r.uploaded;
      e.downloaded = r.downloaded;
      return { have: r.have, files: r.files };
    } catch (cause) {
      const why = cause instanceof BttkitError ? cause.message : String(cause);
      warn(new SessionError('SESSION_BAD_RESUME', `resume data not used (full recheck): ${why}`, { cause }));
      return undefined;
    }
  }

  async data(torrent: Torrent): Promise<Uint8Array | undefined> {
    const r = await this.record(torrent);
    return r && encodeResume(r);
  }

  /** The torrent's record now, or undefined (no metadata yet, or its data not checked yet). */
  async record(torrent: Torrent): Promise<ResumeRecord | undefined> {
    const e = this.#entries.get(torrent);
    const info = torrent.info;
    const store = torrent.store;
    if (!e?.ready || !info || !store || store.closed) return undefined;
    // Bits first, stats after: a write after the stat can only touch a piece not claimed.
    const have = store.bitfield();
    const files = (await store.fileStats?.()) ?? info.files.map(() => undefined);
    const s = torrent.stats();
    const priorities = torrent.files.map((f) => f.priority);
    return {
      infoHash: torrent.infoHash,
      pieceLength: info.pieceLength,
      pieceCount: info.pieceCount,
      have,
      files,
      uploaded: e.uploaded + s.uploaded,
      downloaded: e.downloaded + s.downloaded,
      addedAt: e.addedAt,
      completedAt: e.completedAt,
      savedAt: Date.now(),
      paused: torrent.state === 'paused',
      filePriorities: priorities.some((p) => p !== 4) ? priorities : undefined,
    };
  }

  async save(torrent: Torrent): Promise<void> {
    this.#dirty.delete(torrent);
    const dir = this.#o.dir;
    if (dir === undefined) return;
    try {
      const bytes = await this.data(torrent);
      if (!bytes) return;
      this.#dirMade ??= mkdir(dir, { recursive: true });
      await this.#dirMade;
      const path = this.#path(torrent);
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      await this.#limited(async () => {
        try {
          await writeFile(tmp, bytes);
          await rename(tmp, path);
        } catch (err) {
          await unlink(tmp).catch(() => undefined);
          throw err;
        }
      });
    } catch (cause) {
      if (cause instanceof BttkitError && cause.code === 'STORAGE_CLOSED') return;
      const why = cause instanceof Error ? cause.message : String(cause);
      this.#entries
        .get(torrent)
        ?.warn?.(new SessionError('SESSION_RESUME_SAVE_FAILED', `resume data not saved: ${why}`, { cause }));
    }
  }

  /** Deletes a torrent's resume file (its data was deleted). */
  async forget(torrent: Torrent): Promise<void> {
    this.#dirty.delete(torrent);
    if (this.#o.dir !== undefined) await unlink(this.#path(torrent)).catch(() => undefined);
  }

  /** Stops the save timer (the torrents' own saves on destroy still happen). */
  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #limited<T>(work: () => Promise<T>): Promise<T> {
    while (this.#io >= RESUME_IO) await new Promise<void>((r) => this.#ioWaiting.push(r));
    this.#io++;
    try {
      return await work();
    } finally {
      this.#io--;
      this.#ioWaiting.shift()?.();
    }
  }

  #path(torrent: Torrent): string {
    return join(this.#o.dir ?? '.', `${torrent.infoHashHex}.resume`);
  }

  /** A torrent changed: save it within `intervalMs` (one timer for the client, armed only while needed). */
  #mark(torrent: Torrent): void {
    if (this.#o.dir === undefined) return;
    this.#dirty.add(torrent);
    this.#timer ??= this.#o.clock.setTimeout(() => void this.#flush(), this.#o.intervalMs);
  }

  async #flush(): Promise<void> {
    this.#timer = undefined;
    const batch = [...this.#dirty];
    for (const t of batch) await this.save(t);
  }
}

/**
 * A file's bytes, at most {@link MAX_RESUME_BYTES} (a larger one is refused unread); undefined
 * when it does not exist.
 */
async function readBounded(path: string): Promise<Uint8Array | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_RESUME_BYTES)
      throw new SessionError('SESSION_BAD_RESUME', 'resume file too large or not a file', {
        details: { bytes: st.size },
      });
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}
