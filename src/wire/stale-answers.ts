/**
 * Which answers to a peer's requests have gone stale. bittorrent-protocol matches an answer to
 * its request by (index, offset, length): after the peer cancels a block and asks for it again,
 * a late answer to the cancelled request would remove the new request instead — which then is
 * never answered, and the peer waits for its request timeout. Such late answers are dropped.
 */
export class StaleAnswers {
  /** Per block: requests received so far, and how many of them a cancel covered. */
  readonly #received = new Map<string, number>();
  readonly #cancelled = new Map<string, number>();

  /** A request arrived: returns its sequence number for {@link isStale}. */
  received(index: number, offset: number, length: number): number {
    const key = `${index}:${offset}:${length}`;
    const seq = (this.#received.get(key) ?? 0) + 1;
    this.#received.set(key, seq);
    return seq;
  }

  /** The peer cancelled the block: every request for it received so far is void. */
  cancelled(index: number, offset: number, length: number): void {
    const key = `${index}:${offset}:${length}`;
    const seq = this.#received.get(key);
    if (seq !== undefined) this.#cancelled.set(key, seq);
  }

  /** Whether the answer to request `seq` of the block must be dropped; forgets the block once its last request is answered. */
  isStale(index: number, offset: number, length: number, seq: number): boolean {
    const key = `${index}:${offset}:${length}`;
    const stale = (this.#cancelled.get(key) ?? 0) >= seq;
    if (this.#received.get(key) === seq) {
      this.#received.delete(key);
      this.#cancelled.delete(key);
    }
    return stale;
  }
}
