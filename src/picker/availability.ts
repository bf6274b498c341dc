/**
 * The picker's availability index: how many peers have each piece, and the untouched wanted
 * pieces in buckets by (priority, availability) for rarest-first picking.
 *
 * Moving a piece between buckets is O(1): swap-remove, then insert at a random position, which
 * is also the random tie-break among equally rare pieces. Peers with every piece are counted
 * once (`seeds`), not per piece. The picker decides which pieces belong in a bucket (untouched,
 * priority > 0); this class keeps them there.
 */
export class AvailabilityIndex {
  /** Peers (seeds aside) that have each piece. */
  readonly avail: Uint32Array;
  /** Peers that have every piece. */
  seeds = 0;
  /** Index of each piece in its bucket, −1 when it is in none. */
  readonly #pos: Int32Array;
  /** `#buckets[priority][availability]` = pieces. */
  readonly #buckets: number[][][] = Array.from({ length: 8 }, () => []);
  #bucketed = 0;
  readonly #random: () => number;

  constructor(pieceCount: number, random: () => number) {
    this.avail = new Uint32Array(pieceCount);
    this.#pos = new Int32Array(pieceCount).fill(-1);
    this.#random = random;
  }

  /** Pieces in a bucket. */
  get bucketed(): number {
    return this.#bucketed;
  }

  /** How many known peers have piece `i`. */
  availability(i: number): number {
    return (this.avail[i] ?? 0) + this.seeds;
  }

  /** Whether piece `i` is in a bucket. */
  isBucketed(i: number): boolean {
    return this.#pos[i] !== -1;
  }

  /** Puts piece `i` (not in a bucket) in the bucket of `prio` (> 0) and its availability. */
  insert(i: number, prio: number): void {
    const byAvail = this.#buckets[prio] as number[][];
    const a = this.avail[i] as number;
    while (byAvail.length <= a) byAvail.push([]);
    const list = byAvail[a] as number[];
    list.push(i);
    // Random position: the tie-break among equally rare pieces.
    const j = Math.floor(this.#random() * list.length);
    const other = list[j] as number;
    list[j] = i;
    list[list.length - 1] = other;
    this.#pos[other] = list.length - 1;
    this.#pos[i] = j;
    this.#bucketed++;
  }

  /** Takes piece `i` out of its bucket (`prio` is its priority); no-op when in none. */
  remove(i: number, prio: number): void {
    const at = this.#pos[i] as number;
    if (at < 0) return;
    const list = this.#buckets[prio]?.[this.avail[i] as number] as number[];
    const last = list.pop() as number;
    if (last !== i) {
      list[at] = last;
      this.#pos[last] = at;
    }
    this.#pos[i] = -1;
    this.#bucketed--;
  }

  /** One more (+1) or one fewer (−1) peer has piece `i` (priority `prio`): it changes bucket. */
  change(i: number, delta: number, prio: number): void {
    const bucketed = this.#pos[i] !== -1;
    if (bucketed) this.remove(i, prio);
    this.avail[i] = (this.avail[i] as number) + delta;
    if (bucketed) this.insert(i, prio);
  }

  /** The bucketed piece of highest priority, then rarest, for which `has` is true; −1 if none. */
  first(has: (i: number) => boolean): number {
    for (let prio = 7; prio >= 1; prio--) {
      const byAvail = this.#buckets[prio] as number[][];
      for (const list of byAvail) {
        for (const i of list) if (has(i)) return i;
      }
    }
    return -1;
  }

  /** For invariant checks: piece `i` sits where its position says, in the bucket of `prio`. */
  placed(i: number, prio: number): boolean {
    const list = this.#buckets[prio]?.[this.avail[i] as number];
    return list?.[this.#pos[i] as number] === i;
  }
}
