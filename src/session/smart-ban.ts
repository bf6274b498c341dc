import { toHex } from '../util/bytes.js';
import { sha1 } from '../util/hash.js';

/**
 * Finds the peer that sent bad data, after libtorrent's smart-ban: when a piece fails its hash
 * check, the hash of every block and who sent it is remembered; when the piece later passes, the
 * blocks whose hash differs from the good copy name the culprits. Memory: 20 bytes per block of
 * failed pieces only, forgotten once the piece passes.
 */
export class SmartBan {
  readonly #failed = new Map<number, Map<number, { peer: string; hash: string }>>();

  /** Remembers the blocks of a piece that failed (`blocks`: offset → sender and bytes). */
  recordFailure(piece: number, blocks: ReadonlyMap<number, { peer: string; data: Uint8Array }>): void {
    const prev = this.#failed.get(piece) ?? new Map<number, { peer: string; hash: string }>();
    for (const [offset, b] of blocks) prev.set(offset, { peer: b.peer, hash: toHex(sha1(b.data)) });
    this.#failed.set(piece, prev);
  }

  /** True if a failure of `piece` is on record (its good copy should be compared). */
  pending(piece: number): boolean {
    return this.#failed.has(piece);
  }

  /** Compares the good copy of `piece` with the failed one; returns the peers who sent bad blocks. */
  resolve(piece: number, good: Uint8Array, blockSize: number): Set<string> {
    const culprits = new Set<string>();
    const failed = this.#failed.get(piece);
    if (!failed) return culprits;
    this.#failed.delete(piece);
    for (const [offset, b] of failed) {
      const block = good.subarray(offset, offset + blockSize);
      if (toHex(sha1(block)) !== b.hash) culprits.add(b.peer);
    }
    return culprits;
  }

  /** Forgets everything about `piece`. */
  forget(piece: number): void {
    this.#failed.delete(piece);
  }
}
