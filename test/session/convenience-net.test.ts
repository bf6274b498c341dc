/**
 * The conveniences over a real transfer on 127.0.0.1: a buffer seeded with `client.seed()`,
 * fetched by its `magnetURI`; the leecher's `torrentFile` once the metadata arrived; coalesced
 * `download` / `upload` events that add up to the payload; the client's `torrent` event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { pseudoRandomBytes, waitFor } from '../helpers/run.js';

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
});

describe('seed → magnet over TCP', () => {
  it('downloads a seeded buffer by its magnet; byte events add up and are coalesced', async () => {
    const seeder = new Client();
    const leecher = new Client();
    clients.push(seeder, leecher);
    const addr = await seeder.listen(0, '127.0.0.1');
    await leecher.listen(0, '127.0.0.1');
    const data = pseudoRandomBytes(4 * 1024 * 1024 + 123, 21);
    const st = await seeder.seed(data, { name: 'clip.bin', pieceLength: 65536 });
    let uploadedEvents = 0;
    const uploadEvents: number[] = [];
    st.on('upload', (n) => {
      uploadEvents.push(n);
      uploadedEvents += n;
    });

    const ready: Torrent[] = [];
    leecher.on('torrent', (t) => ready.push(t));
    const t = leecher.add(st.magnetURI, { peers: [{ host: '127.0.0.1', port: addr.port }] });
    expect(t.torrentFile).toBeUndefined();
    const downloadEvents: number[] = [];
    t.on('download', (n) => downloadEvents.push(n));
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'download done');
    expect(ready).toEqual([t]);
    const sum = downloadEvents.reduce((a, b) => a + b, 0);
    // Everything received before `done` was reported before it.
    expect(sum).toBe(t.stats().downloaded);
    expect(sum).toBeGreaterThanOrEqual(data.length);
    for (const n of downloadEvents) expect(n).toBeGreaterThan(0);
    // 65 blocks of 16 KiB each at least: far fewer events than blocks.
    expect(downloadEvents.length).toBeLessThan(Math.ceil(data.length / 16384) / 2);
    expect(Buffer.from(await (t.store?.get(10, 0, 65536) ?? new Uint8Array()))).toEqual(
      Buffer.from(data.subarray(10 * 65536, 11 * 65536)),
    );
    expect(parseTorrent(t.torrentFile ?? new Uint8Array()).infoHash).toBe(st.infoHashHex);
    expect(leecher.progress).toBe(1);

    await waitFor(
      () => uploadedEvents === st.stats().uploaded && uploadedEvents >= data.length,
      5_000,
      'upload events',
    );
    expect(uploadEvents.length).toBeLessThan(Math.ceil(data.length / 16384) / 2);
  });
});
