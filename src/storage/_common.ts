import { bitfieldGet, bitfieldSet, createBitfield } from '../util/bitfield.js';
import { AbortError, throwIfAborted } from '../util/errors.js';
import { createSha1 } from '../util/hash.js';
import { closedError, StorageError } from './errors.js';
import type { Layout } from './layout.js';

/** State shared by both stores: the completed-pieces bitfield, skipped files, closed flag. */
export class StoreState {
  readonly bits: Uint8Array;
  readonly skipped: boolean[];
  closed = false;
  #had = 0;

  constructor(readonly layout: Layout) {
    this.bits = createBitfield(layout.pieceCount);
    this.skipped = layout.meta.files.map(() => false);
  }

  check(signal?: AbortSignal): void {
    if (this.closed) throw closedError();
    throwIfAborted(signal);
  }

  has(piece: number): boolean {
    return (
      Number.isInteger(piece) && piece >= 0 && piece < this.layout.pieceCount && bitfieldGet(this.bits, piece)
    );
  }

  /** Whether every piece is marked had. */
  get complete(): boolean {
    return this.#had === this.layout.pieceCount;
  }

  mark(piece: number, ok: boolean): void {
    if (bitfieldGet(this.bits, piece) !== ok) this.#had += ok ? 1 : -1;
    bitfieldSet(this.bits, piece, ok);
  }

  checkFile(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.layout.meta.files.length) {
      throw new StorageError('STORAGE_OUT_OF_RANGE', `file ${index} outside the torrent`, {
        details: { file: index },
      });
    }
  }
}

/** Runs `work(i)` for i in [0, count) with at most `limit` in flight; stops early on abort. */
export async function forEachLimited(
  count: number,
  limit: number,
  signal: AbortSignal | undefined,
  work: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < count) {
      if (signal?.aborted) {
        failed = new AbortError(undefined, { cause: signal.reason });
        return;
      }
      const i = next++;
      try {
        await work(i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, lane));
  if (failed !== undefined) throw failed;
}

const ZERO_CHUNK = 64 * 1024;

/** SHA-1 of `length` zero bytes, hashed in 64 KiB chunks (no piece-sized buffer). */
export function zeroSha1(length: number): Uint8Array {
  const h = createSha1();
  const zeros = new Uint8Array(Math.min(ZERO_CHUNK, length));
  for (let left = length; left > 0; left -= zeros.length) {
    h.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  }
  return h.digest();
}
