import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { FixedBid, MIB, type SpeedPlugin, speed } from '../../src/speed/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-speed-');
const BTT = 10n ** 18n;
let torrent: Uint8Array;
const src = join(tmp.path, 'seed');
const clients: Client[] = [];

beforeAll(async () => {
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'movie.bin'), pseudoRandomBytes(6 * 1024 * 1024, 31));
  ({ torrent } = await createTorrent(join(src, 'movie.bin'), { pieceLength: 256 * 1024 }));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  tmp.cleanup();
});

function until<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timed out: ${what}`)), ms).unref()),
  ]);
}

describe('BitTorrent Speed in a local swarm', () => {
  it('a paying leecher pays the seeder exactly Σ verified MiB × clearing price, and the ledger balances', async () => {
    const ledger = await Ledger.open({ ledgerId: 'bttkit:test' });
    const seedKey = TronKey.generate();
    const payKey = TronKey.generate();
    await ledger.deposit({
      account: payKey.address,
      amount: 1000n * BTT,
      txid: 'a'.repeat(64),
      idempotencyKey: 'dep-1',
    });

    const reserve = 2n * BTT; // per MiB
    const seedPlugin = speed({
      wallet: seedKey,
      ledger,
      ledgerId: 'bttkit:test',
      reservePrice: reserve,
      redeemIntervalMs: 200,
    });
    const seeder = new Client({
      plugins: [seedPlugin],
      settings: { uploadSlots: 2, rechokeIntervalMs: 500 },
    });
    clients.push(seeder);
    const addr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await until(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');

    const payer: SpeedPlugin = speed({
      wallet: payKey,
      ledger,
      ledgerId: 'bttkit:test',
      budget: 100n * BTT,
      strategy: new FixedBid(5n * BTT),
      bidIntervalMs: 100,
    });
    const paid: bigint[] = [];
    let paidBytes = 0n;
    payer.on('paid', (p) => {
      paid.push(p.amount);
      paidBytes = p.bytes;
    });
    const leecher = new Client({ plugins: [payer], settings: { rechokeIntervalMs: 500 } });
    clients.push(leecher);
    const t = leecher.add(torrent, { path: join(tmp.path, 'payer'), peers: [addr] });
    await until(new Promise<void>((r) => t.once('done', r)), 60_000, 'paying leecher');
    await t.destroy();
    await new Promise((r) => setTimeout(r, 500));

    const total = paid.reduce((a, b) => a + b, 0n);
    expect(total).toBeGreaterThan(0n);
    expect(total).toBe(payer.spent);
    // One bidder, two slots: no bid lost, so the clearing price is the reserve.
    expect(total).toBe((paidBytes * reserve) / MIB);
    expect(paidBytes).toBeGreaterThan(4n * MIB);
    const seederAccount = await ledger.getAccount(seedKey.address);
    expect(seederAccount.balance).toBe(total);
    const totals = await ledger.totals();
    expect(totals.balances + totals.locked).toBe(totals.deposits - totals.withdrawals);
  });
});
