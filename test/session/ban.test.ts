import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent, type InfoDictionary } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { FsChunkStore } from '../../src/storage/index.js';
import { corrupting } from '../helpers/corrupt-store.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-ban-');
afterAll(tmp.cleanup);

describe('a peer that sends corrupt data', () => {
  it('is banned, and the download completes from the honest peer', async () => {
    const src = join(tmp.path, 'seed');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'data.bin'), pseudoRandomBytes(4_000_000, 3));
    const { torrent } = await createTorrent(join(src, 'data.bin'), { pieceLength: 65536 });

    const good = new Client();
    const bad = new Client();
    const leecher = new Client({ settings: { uploadSlots: 4 } });
    try {
      const goodAddr = await good.listen(0, '127.0.0.1');
      // Another loopback address: peers are banned by IP, as libtorrent does.
      const badAddr = await bad.listen(0, '127.0.0.2');
      const gt = good.add(torrent, { path: src });
      const bt = bad.add(torrent, {
        store: (info: InfoDictionary) => corrupting(new FsChunkStore(info, { path: src })),
      });
      await Promise.all([
        new Promise<void>((r) => gt.once('ready', r)),
        new Promise<void>((r) => bt.once('ready', r)),
      ]);

      const t = leecher.add(torrent, {
        path: join(tmp.path, 'leech'),
        // The bad peer first, so it is surely used.
        peers: [badAddr, goodAddr],
      });
      const warnings: string[] = [];
      t.on('warning', (w) => warnings.push(w.code));
      await Promise.race([
        new Promise<void>((r) => t.once('done', r)),
        new Promise((_, rej) => setTimeout(() => rej(new Error('download did not finish')), 60_000).unref()),
      ]);
      const s = t.stats();
      expect(s.hashFailures).toBeGreaterThan(0);
      expect(s.bannedPeers).toBe(1);
      expect(warnings).toContain('SESSION_PEER_BANNED');
      expect(t.peers().some((p) => p.host === '127.0.0.2')).toBe(false);
      await t.store?.flush();
      expect(
        Buffer.compare(
          readFileSync(join(tmp.path, 'leech', 'data.bin')),
          readFileSync(join(src, 'data.bin')),
        ),
      ).toBe(0);
    } finally {
      await Promise.all([good.destroy(), bad.destroy(), leecher.destroy()]);
    }
  });
});
