/**
 * The ChunkStore compliance suite: every store runs it (test/storage/memory.test.ts and
 * test/storage/fs.test.ts). Store-specific checks on the folder's contents run where the harness
 * says the store makes files.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InfoDictionary } from '../../src/metainfo/index.js';
import { bitfieldCount, bitfieldGet, type ChunkStore, StorageError } from '../../src/storage/index.js';
import { type FileSpec, type Fixture, makeTorrent, pieceBytes, singleFile } from './fixtures.js';

/** How the suite opens a store. */
export interface StoreHarness {
  readonly name: string;
  /** Opens a store of `meta` in folder `dir` (stores without a folder ignore it). */
  open(meta: InfoDictionary, dir: string, options?: { maxQueuedBytes?: number }): ChunkStore;
  /** Data survives `close()` and a new `open()` on the same folder. */
  readonly persistent: boolean;
  /** The store makes files in `dir`. */
  readonly makesFiles: boolean;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof StorageError) return e.code;
    if (e instanceof Error && 'code' in e) return String(e.code);
    throw e;
  }
  return 'OK';
}

/** Writes the whole of `fx` in blocks of `block` bytes (in order). */
async function writeAll(store: ChunkStore, fx: Fixture, block = 1 << 14, pieces?: readonly number[]) {
  const list = pieces ?? Array.from({ length: fx.meta.pieceCount }, (_, i) => i);
  for (const i of list) {
    const p = pieceBytes(fx, i);
    for (let o = 0; o < p.length; o += block) await store.put(i, o, p.slice(o, o + block));
  }
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (
    readdirSync(dir, { recursive: true, withFileTypes: true }) as {
      name: string;
      parentPath: string;
      isDirectory(): boolean;
    }[]
  )
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

// Files across piece boundaries, a zero-length file, a padding file.
const LAYOUT: FileSpec[] = [
  { length: 700, path: ['a.bin'] },
  { length: 0, path: ['empty'] },
  { length: 1500, path: ['sub', 'b.bin'] },
  { length: 348, path: ['.pad', '348'], padding: true },
  { length: 2100, path: ['sub', 'deeper', 'c.bin'] },
  { length: 30, path: ['d.bin'] },
];
const PL = 1024;

/** Runs the suite against `h`. */
export function chunkStoreCompliance(h: StoreHarness): void {
  describe(`ChunkStore compliance: ${h.name}`, () => {
    let dir = '';
    const open: ChunkStore[] = [];
    const openStore = (meta: InfoDictionary, options?: { maxQueuedBytes?: number }) => {
      const s = h.open(meta, dir, options);
      open.push(s);
      return s;
    };
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'bttkit-storage-'));
    });
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes and reads back blocks across file boundaries, verifies every piece', async () => {
      const fx = makeTorrent(LAYOUT, PL);
      const store = openStore(fx.meta);
      await writeAll(store, fx, 300);
      for (let i = 0; i < fx.meta.pieceCount; i++) {
        expect(await store.verify(i)).toBe(true);
        expect(store.has(i)).toBe(true);
      }
      expect(bitfieldCount(store.bitfield())).toBe(fx.meta.pieceCount);
      const last = fx.meta.pieceCount - 1;
      expect(await store.get(0, 600, 200)).toEqual(fx.data.subarray(600, 800));
      expect(await store.get(last, 0, fx.meta.lastPieceLength)).toEqual(pieceBytes(fx, last));
      // The padding file's bytes read as zeros.
      expect(await store.get(2, 152, 348)).toEqual(new Uint8Array(348));
      // Into a caller's (dirty) buffer: a view of it, padding zeroed there too.
      for (const piece of [0, 2]) {
        const into = new Uint8Array(PL + 16).fill(0xee);
        const got = await store.get(piece, 0, PL, { into });
        expect(got.buffer).toBe(into.buffer);
        expect(got).toEqual(pieceBytes(fx, piece));
      }
      if (h.makesFiles) {
        expect(listFiles(join(dir, 'tor'))).toEqual([
          'a.bin',
          'd.bin',
          'empty',
          'sub/b.bin',
          'sub/deeper/c.bin',
        ]);
      }
    });

    it('property: random layouts and random block writes read back as written', async () => {
      const fileArb = fc.record({
        length: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 900 })),
        padding: fc.integer({ min: 0, max: 9 }).map((x) => x < 3),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fileArb, { minLength: 1, maxLength: 6 }),
          fc.constantFrom(64, 256, 1000),
          fc.integer({ min: 1, max: 400 }),
          fc.integer(),
          async (specs, pieceLength, block, seed) => {
            const files = specs.map((s, i) => ({ ...s, path: [`d${i % 2}`, `f${i}`] }));
            if (files.reduce((n, f) => n + f.length, 0) === 0) return;
            const fx = makeTorrent(files, pieceLength, { seed: seed | 1 });
            const sub = mkdtempSync(join(dir, 'p-'));
            const store = h.open(fx.meta, sub);
            try {
              // Blocks in a seeded random order; padding bytes are zeros in fx.data.
              const blocks: [number, number, number][] = [];
              for (let i = 0; i < fx.meta.pieceCount; i++) {
                const n = pieceBytes(fx, i).length;
                for (let o = 0; o < n; o += block) blocks.push([i, o, Math.min(block, n - o)]);
              }
              let x = seed | 1;
              for (let k = blocks.length - 1; k > 0; k--) {
                x = (x * 1103515245 + 12345) & 0x7fffffff;
                const j = x % (k + 1);
                [blocks[k], blocks[j]] = [
                  blocks[j] as [number, number, number],
                  blocks[k] as [number, number, number],
                ];
              }
              for (const [i, o, n] of blocks) await store.put(i, o, pieceBytes(fx, i).slice(o, o + n));
              for (const [i, o, n] of blocks) {
                expect(await store.get(i, o, n)).toEqual(pieceBytes(fx, i).subarray(o, o + n));
              }
              const victim = (seed >>> 0) % fx.meta.pieceCount;
              for (let i = 0; i < fx.meta.pieceCount; i++) expect(await store.verify(i)).toBe(true);
              // Corrupt one byte of a fresh store's piece: verify is false, fixing it makes it true.
              const again = h.open(fx.meta, mkdtempSync(join(dir, 'q-')));
              try {
                const good = pieceBytes(fx, victim);
                const bad = good.slice();
                const at = (seed >>> 3) % bad.length;
                bad[at] = (bad[at] as number) ^ 0xff;
                await again.put(victim, 0, bad);
                const pos = victim * pieceLength + at;
                const hitsPadding = fx.meta.files.some(
                  (f) => f.padding && pos >= f.offset && pos < f.offset + f.length,
                );
                expect(await again.verify(victim)).toBe(hitsPadding);
                await again.put(victim, 0, good.slice());
                expect(await again.verify(victim)).toBe(true);
              } finally {
                await again.close();
              }
            } finally {
              await store.close();
            }
          },
        ),
        { numRuns: h.makesFiles ? 25 : 60 },
      );
    });

    it('refuses hostile layouts even when they skipped the metainfo parser', async () => {
      const hostile: [FileSpec[], { name?: string; multiFile?: boolean }][] = [
        [[{ length: 10, path: ['..', 'escape'] }], {}],
        [[{ length: 10, path: ['/etc', 'passwd'] }], {}],
        [[{ length: 10, path: ['a/../../x'] }], {}],
        [[{ length: 10, path: ['ok'] }], { name: '..' }],
        [[{ length: 10, path: ['C:', 'x'] }], {}],
        [[{ length: 10, path: [] }], {}],
        [[{ length: 10, path: ['..'] }], { name: '..', multiFile: false }],
        [[{ length: 10, path: ['a'] }], { name: 'b', multiFile: false }],
      ];
      for (const [files, opts] of hostile) {
        const fx = makeTorrent(files, PL, opts);
        expect(await codeOf(() => h.open(fx.meta, dir))).toBe('STORAGE_UNSAFE_PATH');
      }
      const dup = makeTorrent(
        [
          { length: 5, path: ['x'] },
          { length: 5, path: ['x'] },
        ],
        PL,
      );
      expect(await codeOf(() => h.open(dup.meta, dir))).toBe('STORAGE_BAD_LAYOUT');
      const fileAndFolder = makeTorrent(
        [
          { length: 5, path: ['x'] },
          { length: 5, path: ['x', 'y'] },
        ],
        PL,
      );
      expect(await codeOf(() => h.open(fileAndFolder.meta, dir))).toBe('STORAGE_BAD_LAYOUT');
      const fx = makeTorrent(LAYOUT, PL);
      const shifted = {
        ...fx.meta,
        files: fx.meta.files.map((f, i) => (i === 2 ? { ...f, offset: f.offset + 1 } : f)),
      };
      expect(await codeOf(() => h.open(shifted, dir))).toBe('STORAGE_BAD_LAYOUT');
      expect(await codeOf(() => h.open({ ...fx.meta, pieceCount: 2 }, dir))).toBe('STORAGE_BAD_LAYOUT');
      if (h.makesFiles) expect(listFiles(dir)).toEqual([]);
    });

    it('refuses out-of-range requests with typed errors', async () => {
      const fx = makeTorrent(LAYOUT, PL);
      const store = openStore(fx.meta);
      const n = fx.meta.pieceCount;
      const b = new Uint8Array(16);
      for (const [piece, offset, len] of [
        [-1, 0, 16],
        [n, 0, 16],
        [1.5, 0, 16],
        [0, -1, 16],
        [0, PL - 8, 16],
        [n - 1, fx.meta.lastPieceLength - 1, 2],
        [0, 0, 0],
      ] as const) {
        expect(await codeOf(store.put(piece, offset, b.subarray(0, len)))).toBe('STORAGE_OUT_OF_RANGE');
        expect(await codeOf(store.get(piece, offset, len))).toBe('STORAGE_OUT_OF_RANGE');
      }
      expect(await codeOf(store.verify(n))).toBe('STORAGE_OUT_OF_RANGE');
      expect(await codeOf(store.setFileSkipped(LAYOUT.length, true))).toBe('STORAGE_OUT_OF_RANGE');
      expect(store.has(n)).toBe(false);
      expect(store.has(-1)).toBe(false);
    });

    it('ignores blocks for a piece that already verified', async () => {
      const fx = makeTorrent(LAYOUT, PL);
      const store = openStore(fx.meta);
      await writeAll(store, fx);
      expect(await store.verify(1)).toBe(true);
      await store.put(1, 0, new Uint8Array(100).fill(9));
      expect(await store.get(1, 0, 100)).toEqual(pieceBytes(fx, 1).subarray(0, 100));
      expect(await store.verify(1)).toBe(true);
    });

    it('keeps skipped files uncreated, and boundary pieces still verify', async () => {
      const fx = makeTorrent(LAYOUT, PL);
      const store = openStore(fx.meta);
      await store.setFileSkipped(2, true); // sub/b.bin: bytes 700..2200, pieces 0..2
      await store.setFileSkipped(1, true); // the empty file
      expect(store.isFileSkipped(2)).toBe(true);
      await writeAll(store, fx, 500);
      for (let i = 0; i < fx.meta.pieceCount; i++) expect(await store.verify(i)).toBe(true);
      expect(await store.get(0, 690, 20)).toEqual(fx.data.subarray(690, 710));
      if (h.makesFiles) {
        expect(listFiles(join(dir, 'tor'))).toEqual(['a.bin', 'd.bin', 'sub/deeper/c.bin']);
      }
      // Wanted again: the file appears with the verified pieces' bytes.
      await store.setFileSkipped(2, false);
      await store.setFileSkipped(1, false);
      expect(await store.get(1, 0, 1024)).toEqual(pieceBytes(fx, 1));
      expect(await store.recheck()).toEqual(store.bitfield());
      expect(bitfieldCount(store.bitfield())).toBe(fx.meta.pieceCount);
      if (h.makesFiles) {
        expect(listFiles(join(dir, 'tor'))).toEqual([
          'a.bin',
          'd.bin',
          'empty',
          'sub/b.bin',
          'sub/deeper/c.bin',
        ]);
      }
    });

    it('recheck finds exactly the correct pieces after partial writes (and after a restart)', async () => {
      const fx = makeTorrent(LAYOUT, PL);
      const n = fx.meta.pieceCount;
      const store = openStore(fx.meta);
      expect(bitfieldCount(await store.recheck())).toBe(0);
      await writeAll(store, fx, 256, [0, 2, n - 1]);
      const p1 = pieceBytes(fx, 1);
      await store.put(1, 0, p1.slice(0, 512)); // half of piece 1
      const bad = pieceBytes(fx, 3).slice();
      bad[5] = (bad[5] as number) ^ 1;
      await store.put(3, 0, bad); // piece 3 corrupted
      await store.flush();
      const progress: number[] = [];
      const bits = await store.recheck({ onProgress: (p) => progress.push(p.checked) });
      const want = [0, 2, n - 1];
      for (let i = 0; i < n; i++) expect(bitfieldGet(bits, i)).toBe(want.includes(i));
      expect(progress.length).toBe(n);
      expect(progress[n - 1]).toBe(n);
      for (let i = 0; i < n; i++) expect(store.has(i)).toBe(want.includes(i));
      if (!h.persistent) return;
      await store.close();
      const again = openStore(fx.meta);
      expect(again.has(0)).toBe(false);
      expect(await again.recheck()).toEqual(bits);
      await writeAll(again, fx, 1024, [1, 3]);
      for (let i = 0; i < n; i++) await again.verify(i);
      expect(bitfieldCount(again.bitfield())).toBe(n);
    });

    it('recheck can be aborted', async () => {
      const fx = singleFile(64 * 1024, 1024);
      const store = openStore(fx.meta);
      const ac = new AbortController();
      const p = store.recheck({ signal: ac.signal, onProgress: (pr) => pr.checked === 3 && ac.abort() });
      expect(await codeOf(p)).toBe('ABORTED');
    });

    it('holds queued bytes under the write-queue cap (backpressure)', async () => {
      const fx = singleFile(512 * 1024, 16 * 1024);
      const cap = 64 * 1024;
      const store = openStore(fx.meta, { maxQueuedBytes: cap });
      let peak = 0;
      const puts: Promise<void>[] = [];
      for (let i = 0; i < fx.meta.pieceCount; i++) {
        const p = pieceBytes(fx, i);
        for (let o = 0; o < p.length; o += 4096) {
          puts.push(
            store.put(i, o, p.slice(o, o + 4096)).then(() => {
              peak = Math.max(peak, store.pendingBytes);
            }),
          );
        }
      }
      await Promise.all(puts);
      await store.flush();
      expect(peak).toBeLessThanOrEqual(cap);
      expect(store.pendingBytes).toBe(0);
      for (let i = 0; i < fx.meta.pieceCount; i++) expect(await store.verify(i)).toBe(true);
    });

    it('signals every fall of pendingBytes through onDrain (a writer waiting on it never stalls)', async () => {
      const fx = singleFile(512 * 1024, 16 * 1024);
      const cap = 64 * 1024;
      const block = 4096;
      const store = openStore(fx.meta, { maxQueuedBytes: cap });
      // `last` is pendingBytes as last seen: after each put() call (puts are only made with room
      // under the cap, so they never wait and charge synchronously) and at each drain signal.
      // A fall that is not signalled shows as pendingBytes below `last` at the next put or at
      // the end; a signal without a fall is counted in `notFalling`.
      let last = store.pendingBytes;
      let signals = 0;
      let notFalling = 0;
      let unsignalled = 0;
      let peak = 0;
      const off = store.onDrain?.(() => {
        signals++;
        if (!(store.pendingBytes < last)) notFalling++;
        last = store.pendingBytes;
      });
      if (!store.onDrain) expect(store.pendingBytes).toBe(0);
      // Waits for the next signal; a missed one fails here in 10 s, not at the test's timeout.
      const drained = () =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            stop?.();
            reject(new Error(`no drain signal in 10 s, pendingBytes ${store.pendingBytes}`));
          }, 10_000);
          const stop = store.onDrain?.(() => {
            stop?.();
            clearTimeout(timer);
            resolve();
          });
          if (!stop) {
            clearTimeout(timer);
            resolve();
          }
        });
      const work: Promise<unknown>[] = [];
      // Blocks of 8 pieces at a time interleaved (as from several peers): a file store
      // assembles some pieces in memory and queues the others' blocks one by one.
      const group = 8;
      const pieceLength = fx.meta.pieceLength;
      for (let first = 0; first < fx.meta.pieceCount; first += group) {
        for (let o = 0; o < pieceLength; o += block) {
          for (let i = first; i < first + group; i++) {
            // The session's way: stop before the cap, wait for the signal (no polling).
            while (store.pendingBytes + block > cap) await drained();
            if (store.pendingBytes !== last) unsignalled++;
            work.push(store.put(i, o, pieceBytes(fx, i).slice(o, o + block)));
            last = store.pendingBytes;
            peak = Math.max(peak, last);
          }
        }
        for (let i = first; i < first + group; i++) work.push(store.verify(i));
      }
      const verdicts = await Promise.all(work);
      await store.flush();
      expect(verdicts.filter((v) => v === true)).toHaveLength(fx.meta.pieceCount);
      expect(store.pendingBytes).toBe(0);
      if (store.pendingBytes !== last) unsignalled++;
      expect(unsignalled).toBe(0);
      expect(notFalling).toBe(0);
      expect(peak).toBeLessThanOrEqual(cap);
      // A store that ever held bytes must have signalled (the last signal saw them all gone).
      if (peak > 0) {
        expect(signals).toBeGreaterThan(0);
        expect(last).toBe(0);
      } else expect(signals).toBe(0);
      off?.();
    });

    it('onDrain: unsubscribing stops the calls, twice is harmless, others keep theirs', async () => {
      const fx = singleFile(256 * 1024, 16 * 1024);
      const store = openStore(fx.meta, { maxQueuedBytes: 64 * 1024 });
      if (!store.onDrain) {
        expect(store.pendingBytes).toBe(0);
        return;
      }
      let a = 0;
      let b = 0;
      let self = 0;
      const offA = store.onDrain(() => a++);
      store.onDrain(() => b++);
      const offSelf = store.onDrain(() => {
        self++;
        offSelf(); // unsubscribing from inside a call must not skip the others
      });
      await writeAll(store, fx, 4096, [0, 1, 2, 3]);
      await store.flush();
      const aBefore = a;
      offA();
      offA();
      await writeAll(store, fx, 4096, [4, 5, 6, 7, 8, 9, 10, 11]);
      await store.flush();
      expect(a).toBe(aBefore);
      expect(self).toBeLessThanOrEqual(1);
      if (b > 0) {
        // The store holds bytes at times (a file store): every listener heard the first falls.
        expect(aBefore).toBeGreaterThan(0);
        expect(self).toBe(1);
        expect(b).toBeGreaterThan(aBefore);
      }
      for (let i = 0; i < 12; i++) expect(await store.verify(i)).toBe(true);
    });

    it('close: later calls throw STORAGE_CLOSED; data written before close is kept', async () => {
      const fx = singleFile(5000, 1024);
      const store = openStore(fx.meta);
      await writeAll(store, fx);
      await store.close();
      expect(store.closed).toBe(true);
      expect(await codeOf(store.put(0, 0, new Uint8Array(1)))).toBe('STORAGE_CLOSED');
      expect(await codeOf(store.get(0, 0, 1))).toBe('STORAGE_CLOSED');
      expect(await codeOf(store.verify(0))).toBe('STORAGE_CLOSED');
      expect(await codeOf(store.recheck())).toBe('STORAGE_CLOSED');
      await store.close();
      if (h.persistent) {
        const again = openStore(fx.meta);
        expect(bitfieldCount(await again.recheck())).toBe(fx.meta.pieceCount);
      }
    });

    it('destroy deletes the data and closes', async () => {
      const fx = makeTorrent(LAYOUT, PL);
      const store = openStore(fx.meta);
      await store.setFileSkipped(4, true);
      await writeAll(store, fx);
      await store.flush();
      await store.destroy();
      expect(await codeOf(store.get(0, 0, 1))).toBe('STORAGE_CLOSED');
      if (h.makesFiles) expect(listFiles(dir)).toEqual([]);
      const again = openStore(fx.meta);
      expect(bitfieldCount(await again.recheck())).toBe(0);
    });
  });
}
