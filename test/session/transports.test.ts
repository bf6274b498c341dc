import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type PeerInfo, type Settings, type Torrent } from '../../src/session/index.js';
import { pseudoRandomBytes, tempDir, waitFor } from '../helpers/run.js';

/**
 * The connection policy between two bttkit clients on 127.0.0.1: uTP first with TCP as the
 * fallback, MSE per policy (plaintext retry under `enabled`), what the peers report.
 */
const tmp = tempDir('bttkit-transports-');
afterAll(tmp.cleanup);

let torrent: Uint8Array;
let src: string;
let data: Buffer;
let n = 0;

beforeAll(async () => {
  src = join(tmp.path, 'seed');
  mkdirSync(src, { recursive: true });
  data = Buffer.from(pseudoRandomBytes(3 * 1024 * 1024 + 12_345, 17));
  writeFileSync(join(src, 'x.bin'), data);
  ({ torrent } = await createTorrent(join(src, 'x.bin'), { pieceLength: 65536 }));
});

interface Pair {
  seeder: Client;
  leecher: Client;
  lt: Torrent;
  st: Torrent;
}

async function pair(seedSettings: Partial<Settings>, leechSettings: Partial<Settings>): Promise<Pair> {
  const seeder = new Client({ settings: seedSettings });
  const leecher = new Client({ settings: leechSettings });
  const addr = await seeder.listen(0, '127.0.0.1');
  const st = seeder.add(torrent, { path: src });
  await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
  const dir = join(tmp.path, `leech${++n}`);
  const lt = leecher.add(torrent, { path: dir, peers: [{ host: '127.0.0.1', port: addr.port }] });
  return { seeder, leecher, lt, st };
}

async function transfer(p: Pair): Promise<PeerInfo> {
  // Seeds close their connections to each other once the download is done: watch meanwhile.
  let peer: PeerInfo | undefined;
  let seen: PeerInfo | undefined;
  const watch = setInterval(() => {
    peer = p.lt.peers()[0] ?? peer;
    seen = p.st.peers()[0] ?? seen;
  }, 20);
  try {
    await waitFor(new Promise<void>((r) => p.lt.once('done', r)), 60_000, 'download');
  } finally {
    clearInterval(watch);
  }
  await p.lt.store?.flush();
  const dir = join(tmp.path, `leech${n}`);
  expect(Buffer.compare(readFileSync(join(dir, 'x.bin')), data)).toBe(0);
  if (!peer) throw new Error('no peer seen');
  // Both ends agree on what carries the connection.
  expect(seen?.transport).toBe(peer.transport);
  expect(seen?.encryption).toBe(peer.encryption);
  return peer;
}

async function done(p: Pair): Promise<void> {
  await Promise.all([p.seeder.destroy(), p.leecher.destroy()]);
}

describe('transports and encryption between two bttkit clients', () => {
  it('default: uTP, with an MSE handshake and plaintext after it', async () => {
    const p = await pair({}, {});
    try {
      const peer = await transfer(p);
      expect(peer.transport).toBe('utp');
      expect(peer.encryption).toBe('plaintext');
    } finally {
      await done(p);
    }
  });

  it('forced on both: RC4 on every byte, over uTP and over TCP', async () => {
    for (const leech of [{}, { enableUtp: false }] as Partial<Settings>[]) {
      const p = await pair({ encryption: 'forced' }, { encryption: 'forced', ...leech });
      try {
        const peer = await transfer(p);
        expect(peer.encryption).toBe('rc4');
        expect(peer.transport).toBe(leech.enableUtp === false ? 'tcp' : 'utp');
      } finally {
        await done(p);
      }
    }
  });

  it('a seeder without uTP: the leecher falls back to TCP', async () => {
    const p = await pair({ enableUtp: false }, {});
    try {
      const peer = await transfer(p);
      expect(peer.transport).toBe('tcp');
    } finally {
      await done(p);
    }
  });

  it('a plaintext-only seeder: the MSE attempt fails and the plaintext retry works', async () => {
    const p = await pair({ encryption: 'disabled' }, {});
    try {
      const peer = await transfer(p);
      expect(peer.encryption).toBe('none');
    } finally {
      await done(p);
    }
  });

  it('forced against disabled: no connection, nothing transferred', async () => {
    const p = await pair({ encryption: 'disabled' }, { encryption: 'forced' });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(p.lt.peers()).toHaveLength(0);
      expect(p.lt.stats().downloaded).toBe(0);
    } finally {
      await done(p);
    }
  });

  it('uTP only on one side and TCP only on the other: no connection', async () => {
    const p = await pair({ enableUtp: false }, { enableTcp: false });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(p.lt.peers()).toHaveLength(0);
    } finally {
      await done(p);
    }
  });

  it('refuses settings that leave no transport or name an unknown policy', () => {
    expect(() => new Client({ settings: { enableTcp: false, enableUtp: false } })).toThrow(/enableTcp/);
    expect(() => new Client({ settings: { encryption: 'maybe' as Settings['encryption'] } })).toThrow(
      /encryption/,
    );
  });
});
