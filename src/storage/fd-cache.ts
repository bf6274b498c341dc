import type { FileHandle } from 'node:fs/promises';

/** One open file, pinned while `refs` > 0. */
export interface FdEntry {
  readonly key: string;
  readonly fh: FileHandle;
  readonly writable: boolean;
  refs: number;
  /** Replaced by a writable handle or evicted while pinned: close on last release. */
  stale: boolean;
}

/**
 * An LRU of open file handles. Entries in use (`refs` > 0, e.g. while a hash worker reads
 * through the descriptor) are never closed; the cache may exceed its cap while they are pinned.
 *
 * The cap holds under concurrency too: a miss that finds the cap reached with every handle pinned
 * waits until one is released, instead of opening past it — unless its caller already holds a
 * pin (`holding`: the second file of a piece that straddles two), which could otherwise wait on
 * itself. So open handles stay within the cap plus the extra files of such straddling calls.
 *
 * One cache may be shared by many stores (a client's `maxOpenFiles`, libtorrent's
 * `file_pool_size`): each store uses keys under its own {@link scope} prefix and closes only its
 * own handles with `closeAll(prefix)`.
 */
export class FdCache {
  #scopes = 0;
  readonly #cap: number;
  readonly #map = new Map<string, FdEntry>();
  readonly #opening = new Map<string, Promise<FdEntry | undefined>>();
  readonly #closing = new Set<Promise<void>>();
  /** Acquirers waiting for room (every handle pinned, the cap reached). */
  #waiters: (() => void)[] = [];

  constructor(cap: number) {
    this.#cap = Math.max(1, cap);
  }

  /** Open handles, pinned or not. */
  get size(): number {
    return this.#map.size;
  }

  /** The cap (pinned handles may take the cache over it). */
  get cap(): number {
    return this.#cap;
  }

  /** A key prefix no other user of this cache has: a store's keys are `<scope><its key>`. */
  scope(): string {
    return `s${++this.#scopes}:`;
  }

  /**
   * A pinned handle for `key`, opening it with `open` on a miss (`undefined` from `open`: the
   * file does not exist). Release it with {@link release}.
   */
  async acquire(
    key: string,
    writable: boolean,
    open: () => Promise<FileHandle | undefined>,
    holding = false,
  ): Promise<FdEntry | undefined> {
    for (;;) {
      const hit = this.#map.get(key);
      if (hit && (hit.writable || !writable)) {
        this.#map.delete(key);
        this.#map.set(key, hit);
        hit.refs++;
        this.#wake();
        return hit;
      }
      const pending = this.#opening.get(key);
      if (pending) {
        await pending;
        continue;
      }
      if (!holding && this.#full()) {
        await new Promise<void>((wake) => this.#waiters.push(wake));
        continue;
      }
      // The opener's slot is taken (in #opening, below) before the next waiter looks.
      queueMicrotask(() => this.#wake());
      // The opener's pin is taken before eviction runs, so a fresh entry is never evicted.
      const p = (async () => {
        const fh = await open();
        if (!fh) return undefined;
        const old = this.#map.get(key);
        if (old) {
          this.#map.delete(key);
          this.#retire(old);
        }
        const entry: FdEntry = { key, fh, writable, refs: 1, stale: false };
        this.#map.set(key, entry);
        this.#evict();
        return entry;
      })();
      this.#opening.set(key, p);
      try {
        return await p;
      } finally {
        this.#opening.delete(key);
        this.#wake();
      }
    }
  }

  /** Unpins `entry`. */
  release(entry: FdEntry): void {
    entry.refs--;
    if (entry.refs <= 0 && entry.stale) this.#close(entry);
    else this.#evict();
    if (entry.refs <= 0) this.#wake();
  }

  /** At the cap (opening ones included) with nothing unpinned to close for room. */
  #full(): boolean {
    // Opens and closes in flight each take room; an unpinned handle is room (closed for one).
    let room = this.#cap - this.#map.size - this.#opening.size - this.#closing.size;
    if (room > 0) return false;
    for (const e of this.#map.values()) if (e.refs <= 0 && ++room > 0) return false;
    return true;
  }

  /**
   * Wakes the oldest waiter when there is room. One at a time (each woken one wakes the next as
   * it goes, while room is left): waking all of them on every release was quadratic with
   * thousands of stores rechecking at once (1,000 torrents took 16 s instead of 2).
   */
  #wake(): void {
    if (this.#waiters.length === 0 || this.#full()) return;
    this.#waiters.shift()?.();
  }

  /** Closes the handle of `key` (when unpinned; else when released). */
  forget(key: string): void {
    const e = this.#map.get(key);
    if (!e) return;
    this.#map.delete(key);
    this.#retire(e);
    this.#wake();
  }

  /**
   * Closes every handle whose key starts with `prefix` (all without one); pinned ones are closed
   * anyway: call when no reader of them is left.
   */
  async closeAll(prefix?: string): Promise<void> {
    const match = (key: string) => prefix === undefined || key.startsWith(prefix);
    // Opens in flight end first: a handle opened while its store closes is closed too (else it
    // stayed in a shared cache, keeping a deleted file's space, until evicted — maybe never).
    await Promise.all([...this.#opening].filter(([k]) => match(k)).map(([, p]) => p.catch(() => undefined)));
    const all = [...this.#map.values()].filter((e) => match(e.key));
    for (const e of all) {
      this.#map.delete(e.key);
      this.#close(e);
    }
    this.#wake();
    await Promise.all([...this.#closing]);
  }

  #retire(e: FdEntry): void {
    e.stale = true;
    if (e.refs <= 0) this.#close(e);
  }

  #evict(): void {
    if (this.#map.size <= this.#cap) return;
    for (const e of this.#map.values()) {
      if (this.#map.size <= this.#cap) return;
      if (e.refs > 0) continue;
      this.#map.delete(e.key);
      this.#retire(e);
    }
  }

  #close(e: FdEntry): void {
    const p = e.fh.close().catch(() => undefined);
    this.#closing.add(p);
    void p.then(() => {
      this.#closing.delete(p);
      this.#wake();
    });
  }
}
