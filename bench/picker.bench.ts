/**
 * Piece picker at 100,000 pieces × 1,000 peers (sizes by env: PIECES, PEERS).
 * Baseline in the same run: a naive picker that scans every piece for the rarest one on each pick.
 */
import { Bitfield, PiecePicker } from '../src/picker/index.js';

const PIECES = Number(process.env.PIECES ?? 100_000);
const PEERS = Number(process.env.PEERS ?? 1_000);
const PIECE = 256 * 1024;

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
const rand = rng(42);
const fields = Array.from({ length: PEERS }, () => {
  const b = new Bitfield(PIECES);
  for (let i = 0; i < PIECES; i++) if (rand() < 0.5) b.set(i);
  return b;
});

const time = (fn: () => void) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

const pk = new PiecePicker<number>({ pieceCount: PIECES, pieceLength: PIECE, random: rng(1) });
const tBitfields = time(() => {
  for (const [i, f] of fields.entries()) pk.peerBitfield(i, f.bytes);
});
const haves = 200_000;
const tHaves = time(() => {
  for (let k = 0; k < haves; k++) pk.peerHave(Math.floor(rand() * PEERS), Math.floor(rand() * PIECES));
});

// Download: pick 16 blocks (one 256 KiB piece) from a random peer, receive them, verify.
const picks = 20_000;
let blocks = 0;
const tPicks = time(() => {
  for (let k = 0; k < picks; k++) {
    const peer = Math.floor(rand() * PEERS);
    const reqs = pk.pick(peer, 16);
    for (const r of reqs) {
      blocks++;
      if (pk.blockReceived(peer, r.piece, r.offset).pieceComplete) pk.pieceVerified(r.piece, true);
    }
  }
});
const tLeave = time(() => {
  for (let i = 0; i < 100; i++) pk.removePeer(i);
});

// Naive baseline: availability array, linear scan for the rarest wanted piece the peer has.
const avail = new Uint32Array(PIECES);
const taken = new Uint8Array(PIECES);
for (const f of fields) for (let i = 0; i < PIECES; i++) if (f.get(i)) avail[i] = (avail[i] as number) + 1;
const naivePicks = 500;
const tNaive = time(() => {
  for (let k = 0; k < naivePicks; k++) {
    const f = fields[Math.floor(rand() * PEERS)] as Bitfield;
    let best = -1;
    for (let i = 0; i < PIECES; i++) {
      if (taken[i] || !f.get(i)) continue;
      if (best < 0 || (avail[i] as number) < (avail[best] as number)) best = i;
    }
    if (best >= 0) taken[best] = 1;
  }
});

const perPick = (tPicks / picks) * 1000;
const naivePerPick = (tNaive / naivePicks) * 1000;
console.log(
  `${PIECES.toLocaleString()} pieces × ${PEERS.toLocaleString()} peers, 256 KiB pieces, 16 KiB blocks`,
);
console.log('| operation | count | total ms | µs each |');
console.log('|---|---|---|---|');
console.log(
  `| bitfield (50 % full) | ${PEERS} | ${tBitfields.toFixed(0)} | ${((tBitfields / PEERS) * 1000).toFixed(1)} |`,
);
console.log(`| have | ${haves} | ${tHaves.toFixed(0)} | ${((tHaves / haves) * 1000).toFixed(2)} |`);
console.log(
  `| pick 16 blocks + receive + verify | ${picks} | ${tPicks.toFixed(0)} | ${perPick.toFixed(1)} |`,
);
console.log(
  `| peer leaves (50 % full) | 100 | ${tLeave.toFixed(0)} | ${((tLeave / 100) * 1000).toFixed(1)} |`,
);
console.log(
  `\nblocks requested: ${blocks}; pieces done: ${pk.have.count}; in progress: ${pk.downloadingCount}`,
);
console.log('| picker | µs per piece pick | vs naive |');
console.log('|---|---|---|');
console.log(`| naive linear scan (baseline) | ${naivePerPick.toFixed(1)} | 1.00× |`);
console.log(
  `| bttkit PiecePicker (incl. block bookkeeping) | ${perPick.toFixed(1)} | ${(naivePerPick / perPick).toFixed(1)}× |`,
);
