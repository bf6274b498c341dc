/** A bttkit leecher finds its bttkit seeder only through a tracker, the DHT, or PEX. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dht } from '../../src/dht/index.js';
import { createTorrent, formatMagnet, type Metainfo } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { toHex } from '../../src/util/index.js';
import { type Opentracker, startOpentracker } from '../helpers/opentracker.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-discovery-');
const src = join(tmp.path, 'seed');
let torrent: Uint8Array;
let meta: Metainfo;
const clients: Client[] = [];
const dhtNodes: Dht[] = [];

beforeAll(async () => {
  mkdirSync(join(src, 'data'), { recursive: true });
  writeFileSync(join(src, 'data', 'file.bin'), pseudoRandomBytes(1_200_000, 5));
  ({ torrent, metainfo: meta } = await createTorrent(join(src, 'data'), { pieceLength: 65536 }));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  await Promise.all(dhtNodes.map((d) => d.destroy()));
  tmp.cleanup();
});

function client(options: ConstructorParameters<typeof Client>[0] = {}): Client {
  const c = new Client(options);
  clients.push(c);
  return c;
}

async function done(t: ReturnType<Client['add']>, ms: number): Promise<void> {
  await Promise.race([
    new Promise<void>((r) => {
      if (t.done) r();
      t.once('done', r);
    }),
    new Promise((_, rej) => setTimeout(() => rej(new Error('download did not finish')), ms).unref()),
  ]);
  await t.store?.flush();
}

function sameData(dir: string): boolean {
  return (
    Buffer.compare(
      readFileSync(join(dir, 'data', 'file.bin')),
      readFileSync(join(src, 'data', 'file.bin')),
    ) === 0
  );
}

const trackers: Opentracker[] = [];
afterAll(() => {
  for (const t of trackers) t.stop();
});

describe('discovery', () => {
  it('through a tracker only (opentracker, HTTP and UDP tiers)', async () => {
    const ot = await startOpentracker([meta.infoHashBytes]);
    trackers.push(ot);
    const urls = [ot.udp, ot.http];

    const seeder = client();
    await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src, trackers: urls });
    await new Promise<void>((r) => st.once('ready', r));
    const leecher = client();
    await leecher.listen(0, '127.0.0.1');
    const dir = join(tmp.path, 'tracker-leech');
    // The leecher may ask before the seeder announced: it re-announces (soon, while it has no peers).
    const t = leecher.add(torrent, { path: dir, trackers: urls });
    await done(t, 60_000);
    expect(sameData(dir)).toBe(true);
  });

  it('a hybrid is announced under its truncated v2 hash too: a urn:btmh: leecher finds it by tracker', async () => {
    const hy = await createTorrent(join(src, 'data'), { pieceLength: 65536, version: 'hybrid' });
    const v2 = hy.metainfo.infoHashV2Bytes as Uint8Array;
    // opentracker in whitelist mode: both of the hybrid's swarm hashes are allowed.
    const ot = await startOpentracker([hy.metainfo.infoHashBytes, v2.subarray(0, 20)]);
    trackers.push(ot);
    const seeder = client();
    await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(hy.torrent, { path: src, trackers: [ot.http] });
    await new Promise<void>((r) => st.once('ready', r));
    const leecher = client();
    await leecher.listen(0, '127.0.0.1');
    const dir = join(tmp.path, 'hybrid-leech');
    const t = leecher.add(formatMagnet({ infoHashV2: v2, trackers: [ot.http] }), { path: dir });
    await done(t, 60_000);
    expect(sameData(dir)).toBe(true);
    expect(t.info?.version).toBe('hybrid');
  });

  it('through a local DHT of 20 nodes only', async () => {
    const first = await Dht.create({ bootstrap: [], host: '127.0.0.1' });
    dhtNodes.push(first);
    const boot = [`127.0.0.1:${first.address.port}`];
    for (let i = 1; i < 18; i++) dhtNodes.push(await Dht.create({ bootstrap: boot, host: '127.0.0.1' }));
    await Promise.all(dhtNodes.map((d) => d.ready()));

    // Seeder and leecher each run their own DHT node (nodes 19 and 20), bootstrapped locally.
    const seeder = client({ dht: { bootstrap: boot } });
    await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await new Promise<void>((r) => st.once('ready', r));

    const leecher = client({ dht: { bootstrap: boot } });
    await leecher.listen(0, '127.0.0.1');
    const dir = join(tmp.path, 'dht-leech');
    const t = leecher.add(meta.infoHash, { path: dir }); // an info-hash alone: no peers, no metadata
    await done(t, 60_000);
    expect(sameData(dir)).toBe(true);
  });

  it('through PEX from a third peer only', async () => {
    // The seeder uploads slowly, so the third peer is still downloading when the leecher arrives.
    const seeder = client({ settings: { uploadRateLimit: 300_000 } });
    const seedAddr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await new Promise<void>((r) => st.once('ready', r));

    const third = client();
    const thirdAddr = await third.listen(0, '127.0.0.1');
    const tt = third.add(torrent, { path: join(tmp.path, 'third'), peers: [seedAddr] });
    await new Promise<void>((r) => tt.once('peer', () => r()));

    // The leecher is told only about the third peer; it learns the seeder's address through PEX.
    const leecher = client();
    await leecher.listen(0, '127.0.0.1');
    const dir = join(tmp.path, 'pex-leech');
    const t = leecher.add(torrent, { path: dir, peers: [thirdAddr] });
    const seen = new Set<string>();
    t.on('peer', (p) => seen.add(p.peerId ?? ''));
    await done(t, 60_000);
    expect(sameData(dir)).toBe(true);
    // Connected to the seeder (whichever side dialled, after learning the other through PEX).
    expect(seen.has(toHex(seeder.peerId))).toBe(true);
  });
});
