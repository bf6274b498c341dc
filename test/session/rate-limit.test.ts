/**
 * Rate limits on real sockets (issue 16's acceptance): a seeder and a leecher of our own Client
 * on 127.0.0.1, the leecher's data in memory. Rates are measured in real time over windows long
 * enough that a loaded 2-core machine does not decide the result: the token buckets refill by
 * the clock, so a stalled event loop catches up (up to a quarter second of burst) instead of
 * losing bytes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SIZE = 96 * MiB;

const tmp = tempDir('bttkit-rate-');
let torrentFile: Uint8Array;
let seeder: Client;
let seederTorrent: Torrent;
let port: number;

beforeAll(async () => {
  writeFileSync(join(tmp.path, 'big.bin'), pseudoRandomBytes(SIZE, 16));
  torrentFile = (await createTorrent(join(tmp.path, 'big.bin'), { pieceLength: 256 * 1024 })).torrent;
  seeder = new Client();
  port = (await seeder.listen(0, '127.0.0.1')).port;
  seederTorrent = seeder.add(torrentFile, { path: tmp.path });
  await waitFor(new Promise<void>((r) => seederTorrent.once('ready', r)), 30_000, 'seeder ready');
  expect(seederTorrent.done).toBe(true);
});

afterAll(async () => {
  await seeder?.destroy();
  tmp.cleanup();
});

/** Payload bytes/s the torrent received over the next `ms` (by the wall clock actually elapsed). */
async function measure(t: Torrent, ms: number): Promise<number> {
  const b0 = t.stats().downloaded;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((t.stats().downloaded - b0) * 1000) / (performance.now() - t0);
}

/** A leecher of the seeder's torrent, data in memory, once its first bytes arrived. */
async function leech(options: ConstructorParameters<typeof Client>[0] = {}) {
  const client = new Client(options);
  await client.listen(0, '127.0.0.1');
  const t = client.add(torrentFile, { peers: [{ host: '127.0.0.1', port }] });
  await waitFor(() => t.stats().downloaded > 0, 20_000, 'the first bytes');
  return { client, t };
}

const near = (rate: number, limit: number, tolerance: number) => {
  expect(rate, `${(rate / MiB).toFixed(2)} MiB/s vs limit ${(limit / MiB).toFixed(2)}`).toBeGreaterThan(
    limit * (1 - tolerance),
  );
  expect(rate, `${(rate / MiB).toFixed(2)} MiB/s vs limit ${(limit / MiB).toFixed(2)}`).toBeLessThan(
    limit * (1 + tolerance),
  );
};

describe('download limit', () => {
  it('holds 4 MiB/s within 10 % over 10 s, and a change at run time shows within a second', async () => {
    const { client, t } = await leech({ settings: { downloadRateLimit: 4 * MiB } });
    try {
      expect(client.downloadLimit).toBe(4 * MiB);
      await new Promise((r) => setTimeout(r, 500)); // past the initial burst
      near(await measure(t, 10_000), 4 * MiB, 0.1);

      // Lowered at run time: from one second after the change, the rate is the new one.
      client.throttleDownload(1 * MiB);
      expect(await measure(t, 1000)).toBeLessThan(1.6 * MiB); // the first second: 4 MiB unthrottled
      near(await measure(t, 2000), 1 * MiB, 0.15);

      // Raised, now by the torrent's own limit (the client's lifted): shows within a second too.
      client.throttleDownload(0);
      t.throttleDownload(8 * MiB);
      expect([client.downloadLimit, t.downloadLimit]).toEqual([0, 8 * MiB]);
      expect(await measure(t, 1000)).toBeGreaterThan(5 * MiB); // the first second already
      near(await measure(t, 2000), 8 * MiB, 0.15);
      expect(t.done).toBe(false); // the windows above measured a transfer still going
    } finally {
      await client.destroy();
    }
  });

  it('a torrent passes both its own and the client bucket: the tighter one rules', async () => {
    const { client, t } = await leech({ settings: { downloadRateLimit: 3 * MiB } });
    try {
      t.throttleDownload(1.5 * MiB);
      await new Promise((r) => setTimeout(r, 1000));
      near(await measure(t, 3000), 1.5 * MiB, 0.15);
    } finally {
      await client.destroy();
    }
  });
});

describe('upload limit', () => {
  it("caps the seeder's upload and follows a change at run time", async () => {
    seederTorrent.throttleUpload(2 * MiB);
    const { client, t } = await leech();
    try {
      await new Promise((r) => setTimeout(r, 500));
      near(await measure(t, 4000), 2 * MiB, 0.1);
      // The client's bucket is passed too: the tighter one rules, at once.
      seeder.throttleUpload(1 * MiB);
      expect(await measure(t, 1000)).toBeLessThan(1.6 * MiB); // what was queued goes at the new rate
      near(await measure(t, 3000), 1 * MiB, 0.15);
    } finally {
      seeder.throttleUpload(0);
      seederTorrent.throttleUpload(0);
      await client.destroy();
    }
  });
});
