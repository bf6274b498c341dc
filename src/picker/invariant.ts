import type { Bitfield } from '../util/bitfield.js';
import type { AvailabilityIndex } from './availability.js';
import type { BlockTracker, PeerState } from './blocks.js';
import { PickerError } from './errors.js';

/** Piece states of the picker (one byte per piece). */
export const UNTOUCHED = 0; // wanted-or-skipped, no block requested or received
export const DOWNLOADING = 1; // some block requested or received
export const VERIFYING = 2; // every block received, waiting for the hash check
export const HAVE = 3;

/** The picker's inside, as {@link checkPickerInvariant} reads it. */
export interface PickerInside<K> {
  readonly pieceCount: number;
  readonly peers: ReadonlyMap<K, PeerState>;
  readonly state: Uint8Array;
  readonly priority: Uint8Array;
  readonly index: AvailabilityIndex;
  readonly have: Bitfield;
  readonly blocks: BlockTracker<K>;
  readonly wantedMissing: number;
}

/**
 * Verifies the picker's internal consistency in O(n + p·n) (for tests).
 * @throws {PickerError} `PICKER_INVARIANT` naming the first broken invariant.
 */
export function checkPickerInvariant<K>(x: PickerInside<K>): void {
  const fail = (m: string): never => {
    throw new PickerError('PICKER_INVARIANT', `picker invariant: ${m}`);
  };
  const { index, state, priority } = x;
  const avail = new Uint32Array(x.pieceCount);
  let seeds = 0;
  for (const p of x.peers.values()) {
    if (p.seed) {
      seeds++;
      if (p.bits.count !== 0) fail('seed with a bitfield');
      continue;
    }
    let wanted = 0;
    for (let i = 0; i < x.pieceCount; i++) {
      if (!p.bits.get(i)) continue;
      avail[i] = (avail[i] as number) + 1;
      if (state[i] !== HAVE && priority[i] !== 0) wanted++;
    }
    if (wanted !== p.wanted) fail(`peer wanted ${p.wanted} != ${wanted}`);
  }
  if (seeds !== index.seeds) fail('seed count');
  let bucketed = 0;
  let wantedMissing = 0;
  for (let i = 0; i < x.pieceCount; i++) {
    if (avail[i] !== index.avail[i]) fail(`availability of ${i}`);
    const s = state[i];
    const inBucket = index.isBucketed(i);
    const shouldBucket = s === UNTOUCHED && priority[i] !== 0;
    if (inBucket !== shouldBucket) fail(`bucket membership of ${i}`);
    if (inBucket) {
      bucketed++;
      if (!index.placed(i, priority[i] as number)) fail(`bucket position of ${i}`);
    }
    if ((s === HAVE) !== x.have.get(i)) fail(`have bit of ${i}`);
    if (s !== HAVE && priority[i] !== 0) wantedMissing++;
    if ((s === DOWNLOADING) !== x.blocks.downloading.has(i)) fail(`downloading set of ${i}`);
  }
  if (bucketed !== index.bucketed) fail('bucketed count');
  if (wantedMissing !== x.wantedMissing) fail('wanted count');
  x.blocks.checkInvariant(fail);
}
