import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent, formatMagnet } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { pseudoRandomBytes, tempDir, waitFor } from '../helpers/run.js';

const tmp = tempDir('bttkit-swarm-');
afterAll(tmp.cleanup);

describe('bttkit to bttkit', () => {
  it('one seeder, four leechers joining at once: all finish byte-identical', async () => {
    const src = join(tmp.path, 'seed');
    mkdirSync(join(src, 'content', 'sub'), { recursive: true });
    writeFileSync(join(src, 'content', 'a.bin'), pseudoRandomBytes(3_000_001, 1));
    writeFileSync(join(src, 'content', 'sub', 'b.bin'), pseudoRandomBytes(1_234_567, 2));
    writeFileSync(join(src, 'content', 'empty'), '');
    const { torrent, metainfo } = await createTorrent(join(src, 'content'), { pieceLength: 65536 });

    const seeder = new Client();
    const addr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
    expect(st.done).toBe(true);

    const leechers = Array.from({ length: 4 }, () => new Client());
    try {
      const dirs: string[] = [];
      const finished = await Promise.all(
        leechers.map(async (c, i) => {
          await c.listen(0, '127.0.0.1');
          const dir = join(tmp.path, `leech${i}`);
          dirs.push(dir);
          const t = c.add(torrent, { path: dir, peers: [{ host: '127.0.0.1', port: addr.port }] });
          await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, `leecher ${i}`);
          return t.stats();
        }),
      );
      for (const [i, s] of finished.entries()) {
        expect(s.progress).toBe(1);
        const dir = dirs[i] ?? '';
        for (const f of metainfo.files) {
          const a = readFileSync(join(src, 'content', ...f.segments));
          const b = readFileSync(join(dir, 'content', ...f.segments));
          expect(Buffer.compare(a, b), f.path).toBe(0);
        }
      }
    } finally {
      await Promise.all([seeder.destroy(), ...leechers.map((c) => c.destroy())]);
    }
  });
});

describe('magnet links', () => {
  it('fetch the metadata (BEP 9) from a bttkit seeder, then the data', async () => {
    const src = join(tmp.path, 'mseed');
    mkdirSync(join(src, 'folder'), { recursive: true });
    writeFileSync(join(src, 'folder', 'x.bin'), pseudoRandomBytes(700_000, 9));
    const { torrent, metainfo } = await createTorrent(join(src, 'folder'), { pieceLength: 32768 });
    const seeder = new Client();
    const leecher = new Client();
    try {
      const addr = await seeder.listen(0, '127.0.0.1');
      const st = seeder.add(torrent, { path: src });
      await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
      const magnet = formatMagnet({
        infoHash: metainfo.infoHash,
        name: 'folder',
        peers: [{ host: '127.0.0.1', port: addr.port }],
      });
      const t = leecher.add(magnet, { path: join(tmp.path, 'mleech') });
      expect(t.state).toBe('metadata');
      expect(t.name).toBe('folder');
      const gotMeta = new Promise<void>((r) => t.once('metadata', () => r()));
      await waitFor(new Promise<void>((r) => t.once('done', r)), 30_000, 'magnet download');
      await gotMeta;
      expect(t.info?.infoHash).toBe(metainfo.infoHash);
      await t.store?.flush();
      expect(
        Buffer.compare(
          readFileSync(join(tmp.path, 'mleech', 'folder', 'x.bin')),
          readFileSync(join(src, 'folder', 'x.bin')),
        ),
      ).toBe(0);
    } finally {
      await Promise.all([seeder.destroy(), leecher.destroy()]);
    }
  });
});
