import type { InfoDictionary } from '../metainfo/torrent.js';
import { filePiecePriorities, type PiecePicker, PRIORITY, type Priority } from '../picker/picker.js';
import type { Clock } from '../util/clock.js';
import { SessionError } from './errors.js';

/** A piece range selected with a priority (`torrent.select`). */
interface RangeSelection {
  start: number;
  end: number;
  priority: Priority;
}

/** How far ahead a reader asks for pieces with deadlines: bytes, and bounds in pieces. */
export const READ_AHEAD_BYTES = 8 * 1024 * 1024;
const READ_AHEAD_MIN_PIECES = 2;
const READ_AHEAD_MAX_PIECES = 64;
/** Deadline of the piece under the read head (from when it entered the window), and the step per piece after it. */
export const FIRST_DEADLINE_MS = 1000;
export const DEADLINE_STEP_MS = 250;

/**
 * What the torrent wants, piece by piece: per-file priorities, piece ranges selected with a
 * priority (`select`), and pieces with deadlines — the windows ahead of streaming readers and
 * `critical` ranges. It keeps the picker's priorities and deadlines in step with them:
 *
 * - a piece's priority is the highest of its files' and of the selected ranges covering it
 *   (0 = skip only when nothing wants it);
 * - a piece with a deadline is wanted even if its file is deselected (priority at least 1 while
 *   the deadline lasts), and is picked first, earliest deadline first;
 * - the deadline of a piece several readers want is the earliest of theirs.
 *
 * Also the one place where readers wait for pieces: {@link wait} resolves when the piece is
 * verified, and rejects when the torrent goes away.
 */
export class PieceWants {
  readonly #info: InfoDictionary;
  readonly #clock: Clock;
  #picker: PiecePicker<string> | undefined;
  #filePriorities: Priority[];
  readonly #ranges: RangeSelection[] = [];
  /** Priority from files and ranges, per piece (without deadlines). */
  #base: Uint8Array;
  /** Reader (or `critical`) → its pieces' deadlines. */
  readonly #claims = new Map<number, Map<number, number>>();
  /** Piece → the claims holding it (for the earliest deadline). */
  readonly #claimed = new Map<number, Set<number>>();
  readonly #waiters = new Map<number, { resolve: () => void; reject: (err: Error) => void }[]>();
  #nextId = 1;
  #closed: Error | undefined;

  constructor(info: InfoDictionary, clock: Clock, filePriorities?: readonly Priority[]) {
    this.#info = info;
    this.#clock = clock;
    this.#filePriorities = filePriorities ? [...filePriorities] : info.files.map(() => PRIORITY.normal);
    this.#base = this.#computeBase();
  }

  /** Piece priorities from files and ranges (what the picker starts with). */
  get basePriorities(): Uint8Array {
    return this.#base;
  }

  get filePriorities(): readonly Priority[] {
    return this.#filePriorities;
  }

  /** Reads ahead of a streaming reader: pieces of `pieceLength` bytes. */
  readAheadPieces(): number {
    const n = Math.ceil(READ_AHEAD_BYTES / this.#info.pieceLength);
    return Math.max(READ_AHEAD_MIN_PIECES, Math.min(READ_AHEAD_MAX_PIECES, n));
  }

  /** The picker exists (metadata and store are ready): priorities and deadlines go to it. */
  attach(picker: PiecePicker<string>): void {
    this.#picker = picker;
    this.#applyAll();
  }

  /** Replaces the per-file priorities (one per file, checked by the caller). */
  setFilePriorities(priorities: readonly Priority[]): void {
    this.#filePriorities = [...priorities];
    this.#rebase();
  }

  /** Sets one file's priority. */
  setFilePriority(index: number, priority: Priority): void {
    this.#filePriorities[index] = priority;
    this.#rebase();
  }

  /** Selects pieces `[start, end]` (inclusive) with `priority`. */
  select(start: number, end: number, priority: Priority): void {
    this.#ranges.push({ start, end, priority });
    this.#rebase();
  }

  /** Removes the selections of pieces `[start, end]` made by {@link select} (exact ranges). */
  deselect(start: number, end: number): void {
    for (let k = this.#ranges.length - 1; k >= 0; k--) {
      const r = this.#ranges[k] as RangeSelection;
      if (r.start === start && r.end === end) this.#ranges.splice(k, 1);
    }
    this.#rebase();
  }

  /** A new claim on pieces (a reader, or a `critical` range); release it with {@link release}. */
  claim(): number {
    const id = this.#nextId++;
    this.#claims.set(id, new Map());
    return id;
  }

  /**
   * Sets the pieces `[first, last]` of claim `id`, nearest first: pieces it held before keep
   * their deadlines, new ones get `now + FIRST_DEADLINE_MS + k · DEADLINE_STEP_MS` (k = place in
   * the window); pieces it no longer names are released.
   */
  window(id: number, first: number, last: number, firstDeadlineMs = FIRST_DEADLINE_MS): void {
    const claim = this.#claims.get(id);
    if (!claim) return;
    const now = this.#clock.now();
    for (const piece of [...claim.keys()]) {
      if (piece < first || piece > last) {
        claim.delete(piece);
        this.#unclaim(id, piece);
      }
    }
    for (let i = first, k = 0; i <= last; i++, k++) {
      if (claim.has(i) || this.#picker?.have.get(i)) continue;
      claim.set(i, now + firstDeadlineMs + k * DEADLINE_STEP_MS);
      let set = this.#claimed.get(i);
      if (!set) {
        set = new Set();
        this.#claimed.set(i, set);
      }
      set.add(id);
      this.#applyPiece(i);
    }
  }

  /** Ends claim `id`: its pieces lose the deadlines it gave them. */
  release(id: number): void {
    const claim = this.#claims.get(id);
    if (!claim) return;
    this.#claims.delete(id);
    for (const piece of claim.keys()) this.#unclaim(id, piece);
  }

  /** True when some reader or critical range waits for pieces. */
  get hasDeadlines(): boolean {
    return this.#claimed.size > 0;
  }

  /**
   * Resolves when piece `i` is verified (at once if it is).
   * @throws {SessionError} `SESSION_DESTROYED` (or the torrent's error) when it goes away first.
   */
  wait(i: number): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#picker?.have.get(i)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let list = this.#waiters.get(i);
      if (!list) {
        list = [];
        this.#waiters.set(i, list);
      }
      list.push({ resolve, reject });
    });
  }

  /** Piece `i` was verified: its waiters go on, and it leaves every claim. */
  verified(i: number): void {
    const list = this.#waiters.get(i);
    if (list) {
      this.#waiters.delete(i);
      for (const w of list) w.resolve();
    }
    const holders = this.#claimed.get(i);
    if (holders) {
      for (const id of holders) this.#claims.get(id)?.delete(i);
      this.#claimed.delete(i);
      this.#applyPiece(i);
    }
  }

  /** The torrent went away: every waiter fails with `err`, and later waits too. */
  close(err: Error = new SessionError('SESSION_DESTROYED', 'the torrent was destroyed')): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const list of this.#waiters.values()) for (const w of list) w.reject(err);
    this.#waiters.clear();
  }

  // ---- internals -----------------------------------------------------------------------------

  #unclaim(id: number, piece: number): void {
    const set = this.#claimed.get(piece);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.#claimed.delete(piece);
    this.#applyPiece(piece);
  }

  #computeBase(): Uint8Array {
    const info = this.#info;
    const base = filePiecePriorities(info.files, this.#filePriorities, info.pieceLength, info.pieceCount);
    for (const r of this.#ranges) {
      const end = Math.min(r.end, info.pieceCount - 1);
      for (let i = Math.max(0, r.start); i <= end; i++)
        if (r.priority > (base[i] as number)) base[i] = r.priority;
    }
    return base;
  }

  #rebase(): void {
    this.#base = this.#computeBase();
    this.#applyAll();
  }

  #applyAll(): void {
    const picker = this.#picker;
    if (!picker) return;
    for (let i = 0; i < this.#info.pieceCount; i++) picker.setPiecePriority(i, this.#effective(i));
    for (const i of [...picker.deadlinePieces()]) if (!this.#claimed.has(i)) picker.clearDeadline(i);
    for (const i of this.#claimed.keys()) this.#applyPiece(i);
  }

  #effective(i: number): Priority {
    const base = this.#base[i] as Priority;
    return base === 0 && this.#claimed.has(i) ? PRIORITY.low : base;
  }

  /** The picker's priority and deadline of piece `i` from the claims on it. */
  #applyPiece(i: number): void {
    const picker = this.#picker;
    if (!picker) return;
    picker.setPiecePriority(i, this.#effective(i));
    const holders = this.#claimed.get(i);
    if (!holders || picker.have.get(i)) {
      picker.clearDeadline(i);
      return;
    }
    let at = Number.POSITIVE_INFINITY;
    for (const id of holders) at = Math.min(at, this.#claims.get(id)?.get(i) ?? at);
    picker.setDeadline(i, at);
  }
}
