import type { InfoDictionary } from '../metainfo/torrent.js';
import type { PiecePicker, Priority } from '../picker/picker.js';
import type { ChunkStore } from '../storage/types.js';
import type { Clock } from '../util/clock.js';
import { SessionError } from './errors.js';
import { type FileHost, TorrentFileHandle } from './file.js';
import { PieceWants } from './wants.js';

/** What {@link Content} needs from its torrent. */
export interface ContentHost {
  readonly clock: Clock;
  /** The store, once the metadata is known. */
  store(): ChunkStore | undefined;
  /** The torrent's error once destroyed or failed. */
  gone(): Error | undefined;
  /** What we want changed: interest, requests and the torrent's state follow. */
  changed(): void;
  /** The store failed. */
  storeFailed(err: unknown): void;
}

/**
 * A torrent's content as apps see it: its files ({@link TorrentFileHandle}), what is wanted of
 * it (file priorities, piece selections, `critical` ranges, streaming readers — kept in
 * {@link PieceWants}) and the download order (rarest-first or sequential). Calls made before the
 * metadata is known wait for it.
 */
export class Content {
  readonly #host: ContentHost;
  #info: InfoDictionary | undefined;
  #picker: PiecePicker<string> | undefined;
  #wants: PieceWants | undefined;
  #pending: ((w: PieceWants) => void)[] = [];
  #filePriorities: readonly Priority[] | undefined;
  #files: readonly TorrentFileHandle[] = [];
  #sequential = false;
  /** Critical ranges still waiting: claim id → pieces. */
  readonly #critical = new Map<number, { start: number; end: number }>();

  constructor(host: ContentHost, filePriorities: readonly Priority[] | undefined) {
    this.#host = host;
    this.#filePriorities = filePriorities;
  }

  get files(): readonly TorrentFileHandle[] {
    return this.#files;
  }

  /** File priorities asked for (before the metadata: as given; later: one per file). */
  get filePriorities(): readonly Priority[] | undefined {
    return this.#wants?.filePriorities ?? this.#filePriorities;
  }

  /** True when readers or critical ranges wait for pieces. */
  get critical(): boolean {
    return this.#wants?.hasDeadlines ?? false;
  }

  get sequential(): boolean {
    return this.#sequential;
  }

  set sequential(on: boolean) {
    this.#sequential = on;
    this.#picker?.setMode(on ? 'sequential' : 'rarest');
  }

  /** Forgets file priorities given before the metadata that turned out wrong. */
  dropFilePriorities(): void {
    this.#filePriorities = undefined;
  }

  /** The metadata and picker exist: selections made so far apply, files appear. */
  open(info: InfoDictionary, picker: PiecePicker<string>): void {
    this.#info = info;
    this.#picker = picker;
    if (this.#sequential) picker.setMode('sequential');
    const wants = new PieceWants(info, this.#host.clock, this.#filePriorities);
    for (const op of this.#pending) op(wants);
    this.#pending = [];
    wants.attach(picker);
    this.#wants = wants;
    const host = this.#fileHost(info, wants);
    this.#files = info.files.map((f, i) => new TorrentFileHandle(host, i, f));
  }

  select(start: number, end: number, priority: Priority): void {
    this.#checkPieces(start, end);
    checkPriority(priority);
    this.#with((w) => w.select(start, end, priority));
  }

  deselect(start: number, end: number): void {
    this.#checkPieces(start, end);
    this.#with((w) => w.deselect(start, end));
  }

  markCritical(start: number, end: number): void {
    this.#checkPieces(start, end);
    this.#with((w) => {
      const id = w.claim();
      w.window(id, start, end, 0);
      this.#critical.set(id, { start, end });
      this.#settleCritical();
    });
  }

  /** Sets every file's priority (one per file once the metadata is known, checked by the caller). */
  async setFilePriorities(priorities: readonly Priority[]): Promise<void> {
    for (const p of priorities) checkPriority(p);
    this.#filePriorities = priorities;
    const w = this.#wants;
    if (!w) return;
    w.setFilePriorities(priorities);
    this.#host.changed();
    await this.#skipFiles();
  }

  /** Piece `i` was verified: readers waiting for it go on. */
  verified(i: number): void {
    this.#wants?.verified(i);
    if (this.#critical.size > 0) this.#settleCritical();
  }

  /** The torrent went away (`err`: why): readers fail with it. */
  close(err: Error): void {
    this.#wants?.close(err);
  }

  // ---- internals -----------------------------------------------------------------------------

  #with(op: (w: PieceWants) => void): void {
    const w = this.#wants;
    if (!w) {
      this.#pending.push(op);
      return;
    }
    op(w);
    this.#host.changed();
  }

  /** Releases critical ranges whose pieces are all verified. */
  #settleCritical(): void {
    const have = this.#picker?.have;
    const w = this.#wants;
    if (!have || !w) return;
    for (const [id, r] of this.#critical) {
      let all = true;
      for (let i = r.start; i <= r.end && all; i++) all = have.get(i);
      if (!all) continue;
      this.#critical.delete(id);
      w.release(id);
    }
  }

  /** Marks skipped files (priority 0) in the store, which keeps their bytes aside. */
  async #skipFiles(): Promise<void> {
    const store = this.#host.store();
    const prios = this.#wants?.filePriorities;
    if (!store || !prios) return;
    for (let i = 0; i < prios.length; i++)
      if (store.isFileSkipped(i) !== (prios[i] === 0)) await store.setFileSkipped(i, prios[i] === 0);
  }

  #fileHost(info: InfoDictionary, wants: PieceWants): FileHost {
    const host = this.#host;
    return {
      info,
      wants,
      store: () => {
        const store = host.store();
        const gone = host.gone();
        if (!store || gone) throw gone ?? new SessionError('SESSION_DESTROYED', 'no store');
        return store;
      },
      has: (i) => this.#picker?.have.get(i) ?? false,
      setFilePriority: (index, priority) => {
        checkPriority(priority);
        const list = [...wants.filePriorities];
        list[index] = priority;
        void this.setFilePriorities(list).catch((err: unknown) => host.storeFailed(err));
      },
      wantsChanged: () => host.changed(),
      gone: () => host.gone(),
    };
  }

  #checkPieces(start: number, end: number): void {
    const count = this.#info?.pieceCount ?? Number.MAX_SAFE_INTEGER;
    if (
      !(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end < count)
    )
      throw new SessionError('SESSION_BAD_RANGE', `bad piece range ${start}-${end}`, {
        details: { start, end, pieceCount: count },
      });
  }
}

/**
 * Throws unless `p` is a priority.
 * @throws {SessionError} `SESSION_BAD_PRIORITY` unless `p` is an integer 0…7.
 */
export function checkPriority(p: number): asserts p is Priority {
  if (!(Number.isInteger(p) && p >= 0 && p <= 7))
    throw new SessionError('SESSION_BAD_PRIORITY', `priority must be an integer 0..7, not ${p}`);
}
