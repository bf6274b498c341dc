import { createHash } from 'node:crypto';
import { closeSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HashPool } from '../../src/storage/index.js';
import { pseudoRandomBytes, ROOT, runOk, tempDir } from '../helpers/run.js';

const sha1 = (b: Uint8Array) => new Uint8Array(createHash('sha1').update(b).digest());

describe('HashPool', () => {
  const tmp = tempDir('bttkit-pool-');
  afterAll(() => tmp.cleanup());

  for (const size of [0, 1, 2]) {
    it(`size ${size}: digests equal node:crypto for plain, shared, lent and file-range input`, async () => {
      const pool = new HashPool({ size });
      try {
        const data = pseudoRandomBytes(3 * 1024 * 1024 + 17, 5);
        expect(await pool.hash(data)).toEqual(sha1(data));
        // A view into a larger buffer; the caller's bytes stay intact (copied, not transferred).
        const view = data.subarray(100, 5000);
        expect(await pool.hash(view)).toEqual(sha1(view));
        expect(data.length).toBe(3 * 1024 * 1024 + 17);
        const shared = new Uint8Array(new SharedArrayBuffer(4096));
        shared.set(data.subarray(0, 4096));
        expect(await pool.hash(shared.subarray(10))).toEqual(sha1(data.subarray(10, 4096)));
        // Lent: the buffer comes back with the digest, same bytes; a view is hashed, not moved.
        const own = data.slice(0, 1 << 20);
        const lent = await pool.hashLent(own);
        expect(lent.digest).toEqual(sha1(data.subarray(0, 1 << 20)));
        expect(Buffer.compare(lent.bytes, data.subarray(0, 1 << 20))).toBe(0);
        const lentView = await pool.hashLent(view);
        expect(lentView.digest).toEqual(sha1(view));
        expect(lentView.bytes).toBe(view);
        expect(view.length).toBe(4900);
        // Many at once: all resolve, in any order, to the right digests.
        const parts = Array.from({ length: 20 }, (_, i) => data.subarray(i * 1000, i * 1000 + 3000));
        expect(await Promise.all(parts.map((p) => pool.hash(p)))).toEqual(parts.map(sha1));

        const path = join(tmp.path, `f${size}`);
        writeFileSync(path, data);
        const fd = openSync(path, 'r');
        try {
          const r = await pool.hashRanges([
            { fd, position: 10, length: 2_000_000 },
            { fd: -1, position: 0, length: 1_500_000 },
            { fd, position: 0, length: 5 },
          ]);
          const want = createHash('sha1')
            .update(data.subarray(10, 2_000_010))
            .update(new Uint8Array(1_500_000))
            .update(data.subarray(0, 5))
            .digest();
          expect(r).toEqual({ digest: new Uint8Array(want), complete: true });
          const short = await pool.hashRanges([{ fd, position: data.length - 10, length: 20 }]);
          expect(short.complete).toBe(false);
        } finally {
          closeSync(fd);
        }
      } finally {
        await pool.close();
      }
    });
  }

  it('starts a second worker only when the first is full', async () => {
    const pool = new HashPool({ size: 2, depth: 2 });
    try {
      const data = pseudoRandomBytes(1 << 20, 9);
      expect(pool.workers).toBe(0);
      // One piece at a time, as a download verifies them: one worker does it all.
      for (let i = 0; i < 4; i++) expect(await pool.hash(data)).toEqual(sha1(data));
      expect(pool.workers).toBe(1);
      // Two in flight fit the first worker's depth.
      await Promise.all([pool.hash(data), pool.hash(data)]);
      expect(pool.workers).toBe(1);
      // A backlog (a recheck): the second one starts.
      const many = await Promise.all(Array.from({ length: 6 }, () => pool.hash(data)));
      expect(many.every((d) => Buffer.compare(d, sha1(data)) === 0)).toBe(true);
      expect(pool.workers).toBe(2);
    } finally {
      await pool.close();
    }
    expect(pool.workers).toBe(0);
  });

  it('after close, hashes on the calling thread', async () => {
    const pool = new HashPool({ size: 1 });
    await pool.close();
    const d = new Uint8Array(100).fill(1);
    expect(await pool.hash(d)).toEqual(sha1(d));
  });

  it('works from both the ESM and the CJS build (the worker is spawned from a code string)', () => {
    const out = join(tmp.path, 'build');
    runOk('npx', [
      'tsup',
      'src/storage/index.ts',
      '--no-config',
      '--format',
      'cjs,esm',
      '--target',
      'node20',
      '--out-dir',
      out,
    ]);
    symlinkSync(join(ROOT, 'node_modules'), join(tmp.path, 'node_modules'));
    const script = (mod: string) =>
      `const p = new s.HashPool({ size: 1 }); p.hash(new Uint8Array(10)).then(async (d) => {` +
      ` console.log(Buffer.from(d).toString('hex')); await p.close(); });`.replace('s.', `${mod}.`);
    const want = createHash('sha1').update(new Uint8Array(10)).digest('hex');
    const cjs = runOk(process.execPath, [
      '-e',
      `const s = require(${JSON.stringify(join(out, 'index.cjs'))}); ${script('s')}`,
    ]);
    expect(cjs.trim()).toBe(want);
    const esm = runOk(process.execPath, [
      '--input-type=module',
      '-e',
      `import * as s from ${JSON.stringify(join(out, 'index.js'))}; ${script('s')}`,
    ]);
    expect(esm.trim()).toBe(want);
  });
});
