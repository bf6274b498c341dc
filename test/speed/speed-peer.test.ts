/**
 * `bttkit speed-peer`, the btt_speed reference peer (the built CLI, a second process), plays
 * every conformance scenario against bttkit's own session — a Client with the SpeedPlugin,
 * paying and paid through the reference peer's ledger over HTTP — in both roles; and a scenario
 * fails against a deliberately broken provider. Integration project (vitest.config.ts).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerClient, TronKey } from '../../src/ledger/index.js';
import { Client, type Torrent, type TorrentPlugin } from '../../src/session/index.js';
import { speed } from '../../src/speed/index.js';
import { bttSpeed } from '../../src/wire/index.js';
import { type JsonLines, jsonLines, tail, waitEvent } from '../helpers/json-lines.js';
import { freePort, Procs, waitForExit } from '../helpers/procs.js';
import { CLI, tempDir } from '../helpers/run.js';

const BTT = 10n ** 18n;

interface Ready {
  addr: string;
  ledger: { url: string; id: string };
  torrent: string;
  content: string;
}

function speedPeerSuite(): void {
  const procs = new Procs();
  const tmp = tempDir('bttkit-speed-peer-');
  const clients: Client[] = [];
  afterAll(async () => {
    procs.killAll();
    await Promise.all(clients.map((c) => c.destroy()));
    tmp.cleanup();
  });

  async function refPeer(args: string[]): Promise<{ r: JsonLines; ready: Ready }> {
    const child = procs.start(process.execPath, [CLI, 'speed-peer', '--timeout', '20', ...args]);
    const r = jsonLines(child);
    const ready = (await waitEvent(
      r,
      (e) => e.event === 'ready',
      20_000,
      'the reference peer',
    )) as unknown as Ready;
    return { r, ready };
  }

  async function finish(
    r: JsonLines,
  ): Promise<{ code: number | null; results: Array<Record<string, unknown>> }> {
    const code = await waitForExit(r.child, 240_000, 'the reference peer');
    return { code, results: r.events.filter((e) => typeof e.scenario === 'string' && 'status' in e) };
  }

  function peerUnderTest(plugins: readonly TorrentPlugin[]): Client {
    const c = new Client({ plugins, settings: { rechokeIntervalMs: 200 } });
    clients.push(c);
    return c;
  }

  it('as the payer, against a bttkit provider: every scenario passes', async () => {
    const port = await freePort();
    const { r, ready } = await refPeer([
      '--role',
      'payer',
      '--scenario',
      'all',
      '--peer',
      `127.0.0.1:${port}`,
      '--dir',
      join(tmp.path, 'payer'),
    ]);
    const key = TronKey.generate();
    const ledger = new LedgerClient({ url: ready.ledger.url, key, ledgerId: ready.ledger.id });
    const c = peerUnderTest([
      speed({
        wallet: key,
        ledger,
        ledgerId: ready.ledger.id,
        reservePrice: BTT / 10n,
        redeemIntervalMs: 500,
      }),
    ]);
    await c.listen(port, '127.0.0.1');
    c.add(await readTorrent(ready.torrent), { path: join(ready.content, '..') });
    const { code, results } = await finish(r);
    const failed = results.filter((e) => e.status !== 'pass');
    expect(failed, tail(r, 80)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(15);
    expect(code).toBe(0);
  }, 300_000);

  it('as the payee, against a bttkit requester: every scenario passes', async () => {
    const port = await freePort();
    const key = TronKey.generate();
    const { r, ready } = await refPeer([
      '--role',
      'payee',
      '--scenario',
      'all',
      '--peer',
      `127.0.0.1:${port}`,
      '--fund',
      key.address,
      '--dir',
      join(tmp.path, 'payee'),
    ]);
    const ledger = new LedgerClient({ url: ready.ledger.url, key, ledgerId: ready.ledger.id });
    const c = peerUnderTest([
      speed({ wallet: key, ledger, ledgerId: ready.ledger.id, budget: 100n * BTT, channelAmount: 5n * BTT }),
    ]);
    await c.listen(port, '127.0.0.1');
    c.add(await readTorrent(ready.torrent), { path: join(tmp.path, 'leecher') });
    const { code, results } = await finish(r);
    const failed = results.filter((e) => e.status !== 'pass');
    expect(failed, tail(r, 80)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(15);
    expect(code).toBe(0);
  }, 300_000);

  it('a provider that acks a forged voucher fails voucher-forged (exit status 1)', async () => {
    const port = await freePort();
    const { r, ready } = await refPeer([
      '--role',
      'payer',
      '--scenario',
      'voucher-forged',
      '--peer',
      `127.0.0.1:${port}`,
      '--dir',
      join(tmp.path, 'broken'),
    ]);
    const key = TronKey.generate();
    // Grants every bid and acks every voucher without checking anything.
    const broken = {
      name: 'broken',
      attach(t: Torrent) {
        t.on('wire', (wire) => {
          const ext = wire.use(
            bttSpeed({
              handshake: { v: 1, addr: key.address, ledger: ready.ledger.id, token: 'BTT', reserve: 0n },
            }),
          );
          ext.on('bid', (b) => ext.grant(b.seq, b.price, 1 << 20));
          ext.on('pay', (p) => ext.ack(p.ch, p.amt));
        });
      },
    };
    const c = peerUnderTest([broken]);
    await c.listen(port, '127.0.0.1');
    c.add(await readTorrent(ready.torrent), { path: join(ready.content, '..') });
    const { code, results } = await finish(r);
    expect(results).toEqual([
      expect.objectContaining({
        scenario: 'voucher-forged',
        status: 'fail',
        reason: 'acked a forged voucher',
      }),
    ]);
    expect(code).toBe(1);
  }, 120_000);
}

async function readTorrent(path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  return new Uint8Array(await readFile(path));
}

describe('bttkit speed-peer: the btt_speed reference peer and conformance scenarios', speedPeerSuite);
