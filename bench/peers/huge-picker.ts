/**
 * Picker costs for the huge-torrent benchmark (bench/huge.bench.ts), in a process of its own:
 * `node --expose-gc --import tsx bench/peers/huge-picker.ts <pieces> <pieceKiB> <pickBlocks>`.
 * Prints one JSON line: the time of each operation (ms; per-operation µs where there are many)
 * and the heap the picker holds. The same operations at every size, so a small torrent in the
 * same run is the baseline.
 */
import { Bitfield, PiecePicker } from '../../src/picker/index.js';

const [count, pieceKiB, pickCount] = process.argv.slice(2).map(Number) as [number, number, number];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const collect = gc;
const heap = () => {
  collect();
  collect();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(7);
const time = (fn: () => void): number => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

const full = new Bitfield(count);
for (let i = 0; i < count; i++) full.set(i);
const half = new Bitfield(count);
for (let i = 0; i < count; i += 2) half.set(i);
const haves = Array.from({ length: 1000 }, () => 1 + 2 * Math.floor(rand() * Math.floor(count / 2)));

const h0 = heap();
let pk: PiecePicker<string> | undefined;
const construct = time(() => {
  pk = new PiecePicker<string>({ pieceCount: count, pieceLength: pieceKiB * 1024, random: rng(1) });
});
const picker = pk as PiecePicker<string>;
const pickerHeap = heap() - h0;
// A seed's full bitfield, a half peer's bitfield, then 1,000 haves from the half peer.
const seedBitfield = time(() => picker.peerBitfield('seed', full.bytes));
const halfBitfield = time(() => picker.peerBitfield('half', half.bytes));
const havesMs = time(() => {
  for (const i of haves) picker.peerHave('half', i);
});
// The first `pickCount` blocks from the seed (rarest-first: every piece equally rare), 256 at a
// time, received and their pieces verified as a download does.
let picks = 0;
let blocks = 0;
const pickMs = time(() => {
  while (blocks < pickCount) {
    const got = picker.pick('seed', 256);
    picks++;
    if (got.length === 0) break;
    for (const b of got) {
      blocks++;
      if (picker.blockReceived('seed', b.piece, b.offset).pieceComplete) picker.pieceVerified(b.piece, true);
    }
  }
});
const interested = time(() => {
  for (let k = 0; k < 1000; k++) picker.isInteresting('half');
});
const leave = time(() => picker.removePeer('half'));
console.log(
  JSON.stringify({
    pieces: count,
    constructMs: construct,
    pickerHeapMiB: pickerHeap,
    seedBitfieldMs: seedBitfield,
    halfBitfieldMs: halfBitfield,
    haveUs: (havesMs / haves.length) * 1000,
    pickUsPerBlock: (pickMs / Math.max(1, blocks)) * 1000,
    pickUsPerCall: (pickMs / Math.max(1, picks)) * 1000,
    blocks,
    interestedUs: interested,
    removePeerMs: leave,
  }),
);
