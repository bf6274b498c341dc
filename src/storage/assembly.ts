/** A piece being assembled in memory: received ranges are merged until the piece is whole. */
export interface Assembly {
  readonly piece: number;
  readonly buf: Uint8Array;
  /** Received byte ranges, sorted, disjoint and merged: `[start, end, start, end, …]`. */
  ranges: number[];
  /** Bytes the ranges cover (padding counts as received). */
  covered: number;
  /** The store's put-byte clock at the last block: an assembly left behind by a vanished peer gets spilled. */
  touched: number;
}

/** Adds `[s, e)` to the sorted, merged `ranges`; returns the bytes newly covered. */
export function addRange(ranges: number[], s: number, e: number): number {
  const n = ranges.length;
  if (n === 0 || s > (ranges[n - 1] as number)) {
    ranges.push(s, e);
    return e - s;
  }
  if (s === ranges[n - 1]) {
    ranges[n - 1] = e;
    return e - s;
  }
  // General case: rebuild, merging every range that overlaps or touches [s, e).
  let before = 0;
  let lo = s;
  let hi = e;
  const out: number[] = [];
  for (let i = 0; i < n; i += 2) {
    const a = ranges[i] as number;
    const b = ranges[i + 1] as number;
    before += b - a;
    if (b < s || a > e) out.push(a, b);
    else {
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
  }
  let at = 0;
  while (at < out.length && (out[at] as number) < lo) at += 2;
  out.splice(at, 0, lo, hi);
  ranges.length = 0;
  let after = 0;
  for (let i = 0; i < out.length; i += 2) {
    ranges.push(out[i] as number, out[i + 1] as number);
    after += (out[i + 1] as number) - (out[i] as number);
  }
  return after - before;
}
