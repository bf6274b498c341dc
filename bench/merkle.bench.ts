/**
 * Piece verification cost, BitTorrent v2 (BEP 52: SHA-256 over 16 KiB blocks, then a Merkle tree
 * up to the piece) against v1 (one SHA-1 over the piece), on the same bytes in the same run.
 * `SIZE_MB` (default 256) of random data in `PIECE_KB` (default 1024) pieces, `RUNS` (default 5)
 * runs of each, one thread; prints MB/s and CPU seconds per GiB (medians).
 *
 * Rows:
 * - v1: SHA-1 of each piece with `node:crypto` (what the storage's hashing workers do) — baseline;
 * - v2, bttkit `pieceRoot` (src/metainfo/merkle.ts, `@noble/hashes` SHA-256 in JavaScript);
 * - v2, the same tree with `node:crypto` SHA-256 for the leaves and nodes (the native ceiling a
 *   v2 hashing worker could reach).
 *
 *   node --import tsx bench/merkle.bench.ts
 */
import { createHash, randomFillSync } from 'node:crypto';
import { MERKLE_BLOCK_SIZE, pieceRoot } from '../src/metainfo/index.js';

const SIZE = Number(process.env.SIZE_MB ?? 256) * 1024 * 1024;
const PIECE = Number(process.env.PIECE_KB ?? 1024) * 1024;
const RUNS = Number(process.env.RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** The v2 piece hash with node:crypto: leaves of 16 KiB blocks, then pairs up to one root. */
function nativePieceRoot(piece: Uint8Array): Buffer {
  let layer: Buffer[] = [];
  for (let off = 0; off < piece.length; off += MERKLE_BLOCK_SIZE)
    layer.push(
      createHash('sha256')
        .update(piece.subarray(off, off + MERKLE_BLOCK_SIZE))
        .digest(),
    );
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2)
      next.push(
        createHash('sha256')
          .update(layer[i] as Buffer)
          .update(layer[i + 1] as Buffer)
          .digest(),
      );
    layer = next;
  }
  return layer[0] as Buffer;
}

const data = new Uint8Array(SIZE);
for (let off = 0; off < SIZE; off += 65536) randomFillSync(data, off, Math.min(65536, SIZE - off));
const pieces: Uint8Array[] = [];
for (let off = 0; off < SIZE; off += PIECE) pieces.push(data.subarray(off, off + PIECE));

// The two v2 implementations must agree (the bench measures the same work).
if (
  Buffer.compare(
    Buffer.from(pieceRoot(pieces[0] as Uint8Array, PIECE)),
    nativePieceRoot(pieces[0] as Uint8Array),
  ) !== 0
)
  throw new Error('pieceRoot and the node:crypto tree disagree'); // internal: a bench self-check

const cases: [string, (p: Uint8Array) => unknown][] = [
  ['v1: SHA-1 per piece, node:crypto (baseline)', (p) => createHash('sha1').update(p).digest()],
  ['v2: bttkit pieceRoot (@noble/hashes SHA-256)', (p) => pieceRoot(p, PIECE)],
  ['v2: the same tree with node:crypto SHA-256', (p) => nativePieceRoot(p)],
];

const results = cases.map(([name, fn]) => {
  const mbs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const p of pieces) fn(p);
    const c = process.cpuUsage(c0);
    const s = (performance.now() - t0) / 1000;
    mbs.push(SIZE / 1e6 / s);
    cpu.push((c.user + c.system) / 1e6 / (SIZE / 2 ** 30));
  }
  return { name, mbs: median(mbs), cpu: median(cpu) };
});

const base = results[0]?.mbs ?? 1;
console.log(
  `${SIZE / 2 ** 20} MiB in ${PIECE / 1024} KiB pieces, one thread, median of ${RUNS}; load ${(
    await import('node:os')
  )
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('| verification | MB/s | CPU s/GiB | vs v1 SHA-1 |');
console.log('|---|---|---|---|');
for (const r of results)
  console.log(`| ${r.name} | ${Math.round(r.mbs)} | ${r.cpu.toFixed(2)} | ${(r.mbs / base).toFixed(2)}× |`);
