/**
 * The hash worker's source, run with `new Worker(code, { eval: true })` so that it works the same
 * from the ESM and the CJS build (no worker file to locate next to the bundle). Node builtins only,
 * loaded with `require` or, where the code runs as a module, `process.getBuiltinModule`.
 *
 * Messages in: `{ id, buf, offset, length, back?, leaves? }` (bytes, shared or transferred; with
 * `back` a transferred `buf` is transferred back with the digest) or `{ id, ranges, leaves? }`
 * where `ranges` is a flat array `[fd, position, length, ...]` (`fd` −1: that many zero bytes).
 * Without `leaves` the digest is the SHA-1 of all the bytes; with it (v2), the SHA-256 of each
 * 16 KiB block of the first `leaves` bytes, concatenated — or, with `width` too, the Merkle root
 * of those leaves padded with zero hashes to `width` leaves.
 * Out: `{ id, digest: ArrayBuffer, complete, buf? }` or `{ id, error, code }`. `complete` is false when
 * a file ended before a range did (the piece is not all there).
 * SHA-1 of ranges: chunks that read as zeros (holes of a sparse file, padding) are counted, not
 * hashed, until data follows; a piece of zeros only gets the SHA-1 of that many zeros, hashed once
 * per length and kept (a partly written sparse file rechecks at read speed, not hash speed).
 */
export const WORKER_SOURCE = `'use strict';
const load = (id) => (typeof require === 'function' ? require(id) : process.getBuiltinModule(id));
const { parentPort } = load('node:worker_threads');
const { createHash } = load('node:crypto');
const fs = load('node:fs');
const CHUNK = 1 << 20;
let scratch = null;
let zeros = null;
const LEAF = 16384;
let piece = null;
function leafHashes(bytes) {
  const n = Math.ceil(bytes.length / LEAF);
  const out = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) {
    out.set(createHash('sha256').update(bytes.subarray(i * LEAF, (i + 1) * LEAF)).digest(), i * 32);
  }
  return out;
}
function leavesOfRanges(r, want) {
  if (piece === null || piece.length < want) piece = Buffer.allocUnsafe(want);
  let at = 0;
  for (let i = 0; i < r.length && at < want; i += 3) {
    const fd = r[i];
    const take = Math.min(r[i + 2], want - at);
    if (fd < 0) { piece.fill(0, at, at + take); at += take; continue; }
    let done = 0;
    while (done < take) {
      const n = fs.readSync(fd, piece, at + done, take - done, r[i + 1] + done);
      if (n === 0) return null;
      done += n;
    }
    at += take;
  }
  return leafHashes(piece.subarray(0, want));
}
function rootOf(leaves, width) {
  let level = leaves;
  let pad = new Uint8Array(32);
  const pair = new Uint8Array(64);
  for (let w = width; w > 1; w /= 2) {
    const have = level.length / 32;
    const next = new Uint8Array(Math.ceil(have / 2) * 32);
    for (let i = 0; 2 * i < have; i++) {
      pair.set(level.subarray(2 * i * 32, 2 * i * 32 + 32), 0);
      pair.set(2 * i + 1 < have ? level.subarray((2 * i + 1) * 32, (2 * i + 2) * 32) : pad, 32);
      next.set(createHash('sha256').update(pair).digest(), i * 32);
    }
    pair.set(pad, 0);
    pair.set(pad, 32);
    pad = createHash('sha256').update(pair).digest();
    level = next;
  }
  return level.subarray(0, 32);
}
function hashZeros(h, n) {
  if (zeros === null) zeros = new Uint8Array(CHUNK);
  for (let left = n; left > 0; left -= CHUNK) h.update(zeros.subarray(0, Math.min(left, CHUNK)));
}
const zeroDigests = new Map();
function zeroDigest(n) {
  let d = zeroDigests.get(n);
  if (d === undefined) {
    const h = createHash('sha1');
    hashZeros(h, n);
    d = h.digest();
    if (zeroDigests.size >= 8) zeroDigests.clear();
    zeroDigests.set(n, d);
  }
  return d;
}
function reply(m, d, complete) {
  const out = new ArrayBuffer(d.length);
  new Uint8Array(out).set(d);
  if (m.back === true) parentPort.postMessage({ id: m.id, digest: out, complete, buf: m.buf }, [out, m.buf]);
  else parentPort.postMessage({ id: m.id, digest: out, complete }, [out]);
}
parentPort.on('message', (m) => {
  try {
    if (m.leaves !== undefined) {
      const d = m.ranges === undefined ? leafHashes(new Uint8Array(m.buf, m.offset, m.leaves)) : leavesOfRanges(m.ranges, m.leaves);
      if (d === null) return reply(m, new Uint8Array(0), false);
      return reply(m, m.width === undefined ? d : rootOf(d, m.width), true);
    }
    const h = createHash('sha1');
    let complete = true;
    let zeroRun = 0;
    let hashed = 0;
    if (m.ranges === undefined) {
      h.update(new Uint8Array(m.buf, m.offset, m.length));
    } else {
      const r = m.ranges;
      for (let i = 0; i < r.length && complete; i += 3) {
        const fd = r[i];
        let pos = r[i + 1];
        let left = r[i + 2];
        if (fd < 0) {
          zeroRun += left;
          continue;
        }
        if (scratch === null) scratch = Buffer.allocUnsafe(CHUNK);
        if (zeros === null) zeros = new Uint8Array(CHUNK);
        while (left > 0) {
          const n = fs.readSync(fd, scratch, 0, Math.min(left, CHUNK), pos);
          if (n === 0) { complete = false; break; }
          // Zero chunks (holes of a sparse file) are counted, not hashed, until data comes.
          if (Buffer.compare(scratch.subarray(0, n), zeros.subarray(0, n)) === 0) zeroRun += n;
          else {
            if (zeroRun > 0) { hashZeros(h, zeroRun); hashed += zeroRun; zeroRun = 0; }
            h.update(scratch.subarray(0, n));
            hashed += n;
          }
          left -= n;
          pos += n;
        }
      }
    }
    // A piece that read as zeros only: the SHA-1 of that many zeros, hashed once per length.
    if (complete && hashed === 0 && zeroRun > 0) return reply(m, zeroDigest(zeroRun), complete);
    if (zeroRun > 0) hashZeros(h, zeroRun);
    reply(m, h.digest(), complete);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message), code: e && e.code });
  }
});
`;
