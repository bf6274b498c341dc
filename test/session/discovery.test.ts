/** A bttkit leecher finds its bttkit seeder only through the DHT, or only through PEX. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dht } from '../../src/dht/index.js';
import { createTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
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

describe('discovery', () => {
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
    const seeder = client();
    const seedAddr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await new Promise<void>((r) => st.once('ready', r));

    // The third peer knows the seeder but wants nothing (every file skipped).
    const third = client();
    const thirdAddr = await third.listen(0, '127.0.0.1');
    const tt = third.add(torrent, { path: join(tmp.path, 'third'), peers: [seedAddr], filePriorities: [0] });
    await new Promise<void>((r) => tt.once('peer', () => r()));

    const leecher = client();
    await leecher.listen(0, '127.0.0.1');
    const dir = join(tmp.path, 'pex-leech');
    const t = leecher.add(torrent, { path: dir, peers: [thirdAddr] });
    await done(t, 30_000);
    expect(sameData(dir)).toBe(true);
    expect(t.stats().peersSeen).toBeGreaterThanOrEqual(2);
    expect(tt.stats().verified).toBe(0);
  });
});
