import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bitfieldCount, FsChunkStore, StorageError } from '../../src/storage/index.js';
import { chunkStoreCompliance } from './compliance.js';
import { makeTorrent, singleFile } from './fixtures.js';

chunkStoreCompliance({
  name: 'FsChunkStore',
  open: (meta, dir, options) => new FsChunkStore(meta, { path: dir, ...options }),
  persistent: true,
  makesFiles: true,
});

describe('FsChunkStore: the download folder', () => {
  let dir = '';
  let outside = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-fs-'));
    outside = mkdtempSync(join(tmpdir(), 'bttkit-outside-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const fx = makeTorrent(
    [
      { length: 3000, path: ['sub', 'a.bin'] },
      { length: 2000, path: ['b.bin'] },
    ],
    1024,
  );

  async function code(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'OK';
    } catch (e) {
      return e instanceof StorageError ? e.code : String(e);
    }
  }

  it('lays files out as <path>/<name>/<file path>, single-file as <path>/<name>', async () => {
    const store = new FsChunkStore(fx.meta, { path: dir });
    expect(store.filePath(0)).toBe(join(dir, 'tor', 'sub', 'a.bin'));
    await store.put(0, 0, fx.data.slice(0, 1024));
    await store.close();
    expect(readFileSync(join(dir, 'tor', 'sub', 'a.bin')).subarray(0, 1024)).toEqual(
      Buffer.from(fx.data.subarray(0, 1024)),
    );
    const single = singleFile(100, 1024);
    const s2 = new FsChunkStore(single.meta, { path: dir });
    await s2.put(0, 0, single.data.slice());
    expect(await s2.verify(0)).toBe(true);
    await s2.close();
    expect(readFileSync(join(dir, 'single.bin'))).toEqual(Buffer.from(single.data));
  });

  for (const [what, link, target] of [
    ['the torrent folder', ['tor'], 'dir'],
    ['a sub-folder', ['tor', 'sub'], 'dir'],
    ['a file', ['tor', 'sub', 'a.bin'], 'file'],
  ] as const) {
    it(`never writes through a symlink: ${what}`, async () => {
      const linkPath = join(dir, ...link);
      mkdirSync(join(linkPath, '..'), { recursive: true });
      const victim = join(outside, 'victim');
      if (target === 'file') writeFileSync(victim, 'keep');
      else mkdirSync(victim);
      symlinkSync(victim, linkPath);
      const store = new FsChunkStore(fx.meta, { path: dir });
      await store.put(0, 0, fx.data.slice(0, 1024));
      expect(await code(store.flush())).toBe('STORAGE_UNSAFE_PATH');
      expect(await code(store.get(0, 0, 10))).toBe('STORAGE_UNSAFE_PATH');
      expect(await code(store.recheck())).toBe('STORAGE_UNSAFE_PATH');
      expect(await code(store.destroy())).toBe('STORAGE_UNSAFE_PATH');
      expect(lstatSync(linkPath).isSymbolicLink()).toBe(true);
      if (target === 'file') expect(readFileSync(victim, 'utf8')).toBe('keep');
      else expect(readdirSync(victim)).toEqual([]);
    });
  }

  it('keeps using a skipped file that already exists', async () => {
    const store = new FsChunkStore(fx.meta, { path: dir });
    await store.put(0, 0, fx.data.slice(0, 1024));
    await store.flush();
    await store.setFileSkipped(0, true);
    for (let p = 0; p < fx.meta.pieceCount; p++) {
      await store.put(p, 0, fx.data.slice(p * 1024, Math.min(fx.meta.length, (p + 1) * 1024)));
    }
    for (let p = 0; p < fx.meta.pieceCount; p++) expect(await store.verify(p)).toBe(true);
    await store.close();
    expect(statSync(join(dir, 'tor', 'sub', 'a.bin')).size).toBe(3000);
    expect(existsSync(join(dir, `.${fx.meta.infoHash}.parts`))).toBe(false);
  });

  it('skipped file bytes survive a restart in the part file', async () => {
    const store = new FsChunkStore(fx.meta, { path: dir });
    await store.setFileSkipped(0, true);
    for (let p = 0; p < fx.meta.pieceCount; p++) {
      await store.put(p, 0, fx.data.slice(p * 1024, Math.min(fx.meta.length, (p + 1) * 1024)));
    }
    await store.close();
    expect(existsSync(join(dir, 'tor', 'sub', 'a.bin'))).toBe(false);
    const again = new FsChunkStore(fx.meta, { path: dir });
    await again.setFileSkipped(0, true);
    expect(bitfieldCount(await again.recheck())).toBe(fx.meta.pieceCount);
    await again.destroy();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps open files under its cap', async () => {
    const many = makeTorrent(
      Array.from({ length: 40 }, (_, i) => ({ length: 100, path: [`f${i}`] })),
      1024,
    );
    const store = new FsChunkStore(many.meta, { path: dir, maxOpenFiles: 3 });
    for (let p = 0; p < many.meta.pieceCount; p++) {
      await store.put(p, 0, many.data.slice(p * 1024, Math.min(many.meta.length, (p + 1) * 1024)));
    }
    expect(bitfieldCount(await store.recheck())).toBe(many.meta.pieceCount);
    await store.close();
  });
});
