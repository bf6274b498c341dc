/**
 * The engine against real clients on loopback: bttkit downloads from libtorrent and aria2
 * seeders, and libtorrent and aria2 download from a bttkit seeder. aria2 finds peers only through
 * a tracker, so the test runs Debian's opentracker (the test announces the bttkit seeder to it:
 * bttkit's own tracker client arrives with the discovery issue). Every wait is bounded.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { type Opentracker, startOpentracker } from '../helpers/opentracker.js';
import { freePort, Procs, waitForExit, waitForLine, waitForPort } from '../helpers/procs.js';
import { pseudoRandomBytes, ROOT, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const LT_PEER = join(ROOT, 'bench/peers/libtorrent-peer.py');
const tmp = tempDir('bttkit-session-interop-');
const procs = new Procs();
let trackerPort = 0;
let tracker: Opentracker | undefined;
let torrentFile = '';
let torrentBytes: Uint8Array;
let meta: Metainfo;
const seedParent = join(tmp.path, 'seed');

afterAll(() => {
  tracker?.stop();
  procs.killAll();
  tmp.cleanup();
});

beforeAll(async () => {
  // A multi-file torrent with nested folders, an empty file and a last piece that is short.
  const content = join(seedParent, 'content');
  mkdirSync(join(content, 'nested', 'deeper'), { recursive: true });
  writeFileSync(join(content, 'a.bin'), pseudoRandomBytes(2_500_001, 41));
  writeFileSync(join(content, 'nested', 'b.bin'), pseudoRandomBytes(1_000_000, 42));
  writeFileSync(join(content, 'nested', 'deeper', 'c.txt'), 'hello from bttkit\n'.repeat(5000));
  writeFileSync(join(content, 'empty.txt'), '');

  trackerPort = await freePort();
  const created = await createTorrent(content, {
    pieceLength: 262144,
    announce: [`http://127.0.0.1:${trackerPort}/announce`],
  });
  torrentBytes = created.torrent;
  meta = created.metainfo;
  torrentFile = join(tmp.path, 'content.torrent');
  writeFileSync(torrentFile, torrentBytes);

  tracker = await startOpentracker([meta.infoHashBytes], trackerPort);
});

function expectSameFiles(dir: string): void {
  for (const f of meta.files) {
    const a = readFileSync(join(seedParent, 'content', ...f.segments));
    const b = readFileSync(join(dir, 'content', ...f.segments));
    expect(Buffer.compare(a, b), f.path).toBe(0);
  }
}

async function bttkitDownload(dir: string, port: number): Promise<void> {
  const client = new Client();
  try {
    const t = client.add(torrentBytes, { path: dir, peers: [{ host: '127.0.0.1', port }] });
    await Promise.race([
      new Promise<void>((r) => t.once('done', r)),
      new Promise((_, rej) => setTimeout(() => rej(new Error('bttkit download timed out')), 60_000).unref()),
    ]);
    await t.store?.flush();
  } finally {
    await client.destroy();
  }
}

async function bttkitSeeder(): Promise<{ client: Client; port: number }> {
  const client = new Client();
  const { port } = await client.listen(0, '127.0.0.1');
  const t = client.add(torrentBytes, { path: seedParent });
  await new Promise<void>((r) => t.once('ready', r));
  expect(t.done).toBe(true);
  return { client, port };
}

/** Tells the tracker about a peer (what bttkit's tracker client will do itself later). */
async function announce(port: number, left: number): Promise<void> {
  const ih = [...meta.infoHashBytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const url = `http://127.0.0.1:${trackerPort}/announce?info_hash=${ih}&peer_id=-BK0100-interop00001&port=${port}&uploaded=0&downloaded=0&left=${left}&compact=1&event=started`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expect(res.ok).toBe(true);
}

const ARIA2_COMMON = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--disable-ipv6=true',
  '--summary-interval=0',
  '--console-log-level=warn',
  '--file-allocation=none',
  '--stop=90',
];

describe('bttkit downloads from real seeders', () => {
  it('from libtorrent', async () => {
    const port = await freePort();
    const lt = procs.start(SYSTEM_PYTHON, [LT_PEER, 'seed', torrentFile, seedParent, String(port)], {
      LT_MAX_SECONDS: '90',
    });
    await waitForLine(lt, (l) => l.includes('seeding'), 20_000, 'libtorrent seeder');
    await waitForPort(port, 10_000);
    const dir = join(tmp.path, 'from-libtorrent');
    await bttkitDownload(dir, port);
    expectSameFiles(dir);
    lt.kill('SIGKILL');
  });

  it('from aria2', async () => {
    const port = await freePort();
    const aria = procs.start('aria2c', [
      ...ARIA2_COMMON,
      '--check-integrity=true',
      '--seed-ratio=0.0',
      `--listen-port=${port}`,
      '-d',
      seedParent,
      torrentFile,
    ]);
    await waitForPort(port, 20_000);
    const dir = join(tmp.path, 'from-aria2');
    await bttkitDownload(dir, port);
    expectSameFiles(dir);
    aria.kill('SIGKILL');
  });
});

describe('real clients download from a bttkit seeder', () => {
  it('libtorrent', async () => {
    const { client, port } = await bttkitSeeder();
    try {
      const dir = join(tmp.path, 'libtorrent-leech');
      const lt = procs.start(
        SYSTEM_PYTHON,
        [LT_PEER, 'leech', torrentFile, dir, String(await freePort()), String(port)],
        {
          LT_MAX_SECONDS: '60',
        },
      );
      const line = await waitForLine(lt, (l) => l.includes('"event"'), 70_000, 'libtorrent leecher');
      expect(JSON.parse(line).event).toBe('done');
      expect(await waitForExit(lt, 10_000, 'libtorrent leecher')).toBe(0);
      expectSameFiles(dir);
    } finally {
      await client.destroy();
    }
  });

  it('aria2, which finds the bttkit seeder through the tracker', async () => {
    const { client, port } = await bttkitSeeder();
    try {
      await announce(port, 0);
      const dir = join(tmp.path, 'aria2-leech');
      const aria = procs.start('aria2c', [
        ...ARIA2_COMMON,
        '--seed-time=0',
        `--listen-port=${await freePort()}`,
        '-d',
        dir,
        torrentFile,
      ]);
      expect(await waitForExit(aria, 90_000, 'aria2 leecher')).toBe(0);
      expectSameFiles(dir);
      // aria2 checked every piece itself: --check-integrity is implied for a completed download.
    } finally {
      await client.destroy();
    }
  });
});
