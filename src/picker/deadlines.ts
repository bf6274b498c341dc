/**
 * Pieces with a deadline (libtorrent's `set_piece_deadline` idea): a streaming reader marks the
 * pieces ahead of its read head, each with the time it wants it by; the picker requests them
 * before anything else, earliest first. Times are on whatever clock the caller uses (only their
 * order and, for the session, their passing matter).
 */
export class DeadlineSet {
  readonly #at = new Map<number, number>();
  #ordered: number[] | undefined = [];

  /** Number of pieces with a deadline. */
  get size(): number {
    return this.#at.size;
  }

  has(piece: number): boolean {
    return this.#at.has(piece);
  }

  /** The deadline of `piece`, if it has one. */
  at(piece: number): number | undefined {
    return this.#at.get(piece);
  }

  /** Sets (or moves) the deadline of `piece`; false when it was already that. */
  set(piece: number, at: number): boolean {
    if (this.#at.get(piece) === at) return false;
    this.#at.set(piece, at);
    this.#ordered = undefined;
    return true;
  }

  /** Removes the deadline of `piece`; false when it had none. */
  delete(piece: number): boolean {
    if (!this.#at.delete(piece)) return false;
    this.#ordered = undefined;
    return true;
  }

  /** The pieces, earliest deadline first (ties: lower piece first). Cached until a change. */
  ordered(): readonly number[] {
    if (!this.#ordered) {
      const at = this.#at;
      this.#ordered = [...at.keys()].sort((a, b) => (at.get(a) as number) - (at.get(b) as number) || a - b);
    }
    return this.#ordered;
  }
}
