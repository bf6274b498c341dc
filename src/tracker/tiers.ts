/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/** One tracker's place in the announce list. */
export interface TierEntry {
  /** Index of the tier (0 = first). */
  tier: number;
  url: string;
}

/**
 * The multitracker announce list of BEP 12, as pure data: each tier is shuffled once, tiers are
 * tried in order, trackers within a tier in their current order, and a tracker that answers moves
 * to the front of its tier. Duplicate URLs (across tiers too) keep their first place.
 *
 * @example
 * ```ts
 * const t = new TrackerTiers([['a', 'b'], ['c']], Math.random);
 * for (const { url } of t.entries()) { ... }  // a/b in shuffled order, then c
 * t.promote('b');                             // b answered: first of tier 0 from now on
 * ```
 */
export class TrackerTiers {
  readonly #tiers: string[][];

  constructor(tiers: readonly (readonly string[])[], random: RandomSource = Math.random) {
    const seen = new Set<string>();
    this.#tiers = [];
    for (const tier of tiers) {
      const list = tier.filter((u) => {
        if (seen.has(u)) return false;
        seen.add(u);
        return true;
      });
      if (list.length === 0) continue;
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.min(i, Math.floor(random() * (i + 1)));
        const a = list[i] as string;
        list[i] = list[j] as string;
        list[j] = a;
      }
      this.#tiers.push(list);
    }
  }

  /** The tiers in their current order (a copy). */
  get tiers(): string[][] {
    return this.#tiers.map((t) => t.slice());
  }

  /** Every tracker, tier by tier, in the order they should be tried. */
  entries(): TierEntry[] {
    return this.#tiers.flatMap((t, tier) => t.map((url) => ({ tier, url })));
  }

  /** Number of distinct trackers. */
  get size(): number {
    return this.#tiers.reduce((n, t) => n + t.length, 0);
  }

  /** Moves `url` to the front of its tier (BEP 12: the tracker that answered). No-op if unknown. */
  promote(url: string): void {
    for (const t of this.#tiers) {
      const i = t.indexOf(url);
      if (i > 0) {
        t.splice(i, 1);
        t.unshift(url);
      }
      if (i >= 0) return;
    }
  }
}
