/**
 * The hash worker's source, run with `new Worker(code, { eval: true })` so that it works the same
 * from the ESM and the CJS build (no worker file to locate next to the bundle). Node builtins only,
 * loaded with `require` or, where the code runs as a module, `process.getBuiltinModule`.
 *
 * Messages in: `{ id, buf, offset, length, back? }` (bytes, shared or transferred; with `back` a
 * transferred `buf` is transferred back with the digest) or `{ id, ranges }`
 * where `ranges` is a flat array `[fd, position, length, ...]` (`fd` −1: that many zero bytes).
 * Out: `{ id, digest: ArrayBuffer, complete, buf? }` or `{ id, error, code }`. `complete` is false when
 * a file ended before a range did (the piece is not all there).
 */
export const WORKER_SOURCE = `'use strict';
const load = (id) => (typeof require === 'function' ? require(id) : process.getBuiltinModule(id));
const { parentPort } = load('node:worker_threads');
const { createHash } = load('node:crypto');
const fs = load('node:fs');
const CHUNK = 1 << 20;
let scratch = null;
let zeros = null;
parentPort.on('message', (m) => {
  try {
    const h = createHash('sha1');
    let complete = true;
    if (m.ranges === undefined) {
      h.update(new Uint8Array(m.buf, m.offset, m.length));
    } else {
      const r = m.ranges;
      for (let i = 0; i < r.length && complete; i += 3) {
        const fd = r[i];
        let pos = r[i + 1];
        let left = r[i + 2];
        if (fd < 0) {
          if (zeros === null) zeros = new Uint8Array(CHUNK);
          while (left > 0) {
            const n = Math.min(left, CHUNK);
            h.update(zeros.subarray(0, n));
            left -= n;
          }
          continue;
        }
        if (scratch === null) scratch = Buffer.allocUnsafe(CHUNK);
        while (left > 0) {
          const n = fs.readSync(fd, scratch, 0, Math.min(left, CHUNK), pos);
          if (n === 0) { complete = false; break; }
          h.update(scratch.subarray(0, n));
          left -= n;
          pos += n;
        }
      }
    }
    const d = h.digest();
    const out = new ArrayBuffer(20);
    new Uint8Array(out).set(d);
    if (m.back === true) parentPort.postMessage({ id: m.id, digest: out, complete, buf: m.buf }, [out, m.buf]);
    else parentPort.postMessage({ id: m.id, digest: out, complete }, [out]);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message), code: e && e.code });
  }
});
`;
