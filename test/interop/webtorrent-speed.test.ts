/**
 * BitTorrent Speed inside a real WebTorrent (npm `webtorrent` 2.8, TCP only, in this process):
 * the `bittorrent-protocol` adapter (`WireSpeed`) through the example's glue
 * (examples/webtorrent-speed/glue.ts), against bttkit's own session and SpeedPlugin, over one
 * embedded ledger.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebTorrentClass from 'webtorrent';
import type { Torrent as WtTorrent } from 'webtorrent';
import { addSpeed } from '../../examples/webtorrent-speed/glue.js';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { FixedBid, MIB, speed, WireSpeed } from '../../src/speed/index.js';
import { pseudoRandomBytes, runOk, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('bttkit-wt-speed-');
const BTT = 10n ** 18n;
const RESERVE = BTT / 10n; // per MiB
const SIZE = 4 * 1024 * 1024;
let torrent: Uint8Array;
const src = join(tmp.path, 'seed');
let WebTorrent: typeof WebTorrentClass;
const clients: Client[] = [];
const wts: WebTorrentClass[] = [];

beforeAll(async () => {
  // WebTorrent imports WebRTC (a native module with no binary here): the bench's stub, TCP only.
  const stub: string = new URL('../../bench/peers/no-webrtc.mjs', import.meta.url).href;
  await import(stub);
  WebTorrent = (await import('webtorrent')).default;
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'movie.bin'), pseudoRandomBytes(SIZE, 24));
  ({ torrent } = await createTorrent(join(src, 'movie.bin'), { pieceLength: 256 * 1024 }));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  await Promise.all(wts.map((c) => new Promise<void>((r) => c.destroy(() => r()))));
  tmp.cleanup();
});

function webtorrent(uploadLimit?: number): WebTorrentClass {
  const c = new WebTorrent({
    dht: false,
    tracker: false,
    lsd: false,
    utp: false,
    utPex: false, // the two leechers must not trade pieces: only the seeder serves
    webSeeds: false,
    torrentPort: 0,
    ...(uploadLimit === undefined ? {} : { uploadLimit }),
  });
  c.on('error', (e) => {
    throw e instanceof Error ? e : new Error(e);
  });
  wts.push(c);
  return c;
}

const once = (t: WtTorrent, event: 'ready' | 'done') => new Promise<void>((r) => t.once(event, r));

async function openLedger(id: string, payer: TronKey): Promise<Ledger> {
  const ledger = await Ledger.open({ ledgerId: id });
  await ledger.deposit({
    account: payer.address,
    amount: 100n * BTT,
    txid: 'c'.repeat(64),
    idempotencyKey: 'dep',
  });
  return ledger;
}

describe('a WebTorrent leecher with the adapter', () => {
  it('bids to and pays a bttkit seeder per verified piece, and finishes before a non-paying WebTorrent leecher', async () => {
    const seedKey = TronKey.generate();
    const payKey = TronKey.generate();
    const ledger = await openLedger('bttkit:wt-a', payKey);

    // The bttkit seeder: one upload slot at 512 KiB/s, sold by auction (paidShare 1).
    const seedPlugin = speed({
      wallet: seedKey,
      ledger,
      ledgerId: 'bttkit:wt-a',
      reservePrice: RESERVE,
      paidShare: 1,
      redeemIntervalMs: 300,
    });
    const granted = new Set<string>();
    seedPlugin.on('grant', (g) => granted.add(g.peer));
    const seeder = new Client({
      plugins: [seedPlugin],
      settings: { uploadRateLimit: 512 * 1024, uploadSlots: 1, rechokeIntervalMs: 500 },
    });
    clients.push(seeder);
    const { port } = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');

    // The non-paying WebTorrent leecher arrives first: whatever favours the peer already there is
    // on its side, so only the payment can put the other one ahead.
    const free = webtorrent().add(torrent, { path: join(tmp.path, 'free'), announce: [] });
    const freeDone = once(free, 'done').then(() => performance.now());
    await waitFor(once(free, 'ready'), 10_000, 'free leecher ready');
    free.addPeer(`127.0.0.1:${port}`);
    await waitFor(() => free.downloaded > 0, 30_000, 'the free leecher to get its first piece');

    // The paying WebTorrent leecher: the adapter through the example's glue.
    const payer = new WireSpeed({
      wallet: payKey,
      ledger,
      ledgerId: 'bttkit:wt-a',
      budget: 20n * BTT,
      strategy: new FixedBid(BTT),
      bidIntervalMs: 200,
    });
    const paid: bigint[] = [];
    let paidBytes = 0n;
    const grants: bigint[] = [];
    payer.on('paid', (p) => {
      paid.push(p.amount);
      paidBytes = p.bytes;
    });
    payer.on('grant', (g) => grants.push(g.price));
    const paying = webtorrent().add(torrent, { path: join(tmp.path, 'paying'), announce: [] });
    addSpeed(paying, payer);
    const payingDone = once(paying, 'done').then(() => performance.now());
    await waitFor(once(paying, 'ready'), 10_000, 'paying leecher ready');
    const freeAtJoin = free.progress;
    paying.addPeer(`127.0.0.1:${port}`);

    const payerAt = await waitFor(payingDone, 60_000, 'the paying WebTorrent leecher');
    const freeAtPayerDone = free.progress;
    const freeAt = await waitFor(freeDone, 60_000, 'the free WebTorrent leecher');

    // The paying leecher won the seeder's only paid slot, at the reserve (no bid lost)…
    expect(grants).toContain(RESERVE);
    expect(granted.size).toBe(1);
    // …and finished first: while it held the slot the free one got next to nothing.
    expect(payerAt).toBeLessThan(freeAt);
    expect(freeAtPayerDone - freeAtJoin).toBeLessThan(0.5);

    // Paid per verified piece: Σ vouchers = verified bytes × clearing price / MiB, to the base unit.
    const total = paid.reduce((a, b) => a + b, 0n);
    expect(paid.length).toBeGreaterThan(4);
    expect(paidBytes).toBeGreaterThan(2n * MIB);
    expect(total).toBe(payer.spent);
    expect(total).toBe((paidBytes * RESERVE) / MIB);
    // The ledger shows what the seeder redeemed: exactly what was paid.
    await waitFor(
      async () => (await ledger.getAccount(seedKey.address)).balance >= total,
      20_000,
      "the seeder's redemptions to reach what the WebTorrent leecher paid",
    );
    expect((await ledger.getAccount(seedKey.address)).balance).toBe(total);
    expect(seedPlugin.redeemed).toBe(total);
    expect(seedPlugin.earned).toBe(total);
    const totals = await ledger.totals();
    expect(totals.balances + totals.locked).toBe(totals.deposits - totals.withdrawals);
  }, 120_000);
});

describe('a WebTorrent seeder with the adapter', () => {
  it('grants a bttkit leecher a paid slot, is paid per verified piece and redeems at the ledger', async () => {
    const seedKey = TronKey.generate();
    const payKey = TronKey.generate();
    const ledger = await openLedger('bttkit:wt-b', payKey);

    const provider = new WireSpeed({
      wallet: seedKey,
      ledger,
      ledgerId: 'bttkit:wt-b',
      reservePrice: RESERVE,
      redeemIntervalMs: 300,
    });
    const bids: bigint[] = [];
    provider.on('bid', (b) => bids.push(b.price));
    const wt = webtorrent(512 * 1024);
    const seeding = wt.add(torrent, { path: src, announce: [] });
    addSpeed(seeding, provider, 300);
    await waitFor(once(seeding, 'ready'), 10_000, 'WebTorrent seeder ready');
    await waitFor(
      () => seeding.done && wt.address() !== null,
      10_000,
      'WebTorrent seeder verified and listening',
    );
    const port = wt.address()?.port ?? 0;

    const payer = speed({
      wallet: payKey,
      ledger,
      ledgerId: 'bttkit:wt-b',
      budget: 20n * BTT,
      strategy: new FixedBid(BTT),
      bidIntervalMs: 200,
    });
    let paidBytes = 0n;
    const grants: bigint[] = [];
    payer.on('paid', (p) => {
      paidBytes = p.bytes;
    });
    payer.on('grant', (g) => grants.push(g.price));
    const leecher = new Client({ plugins: [payer] });
    clients.push(leecher);
    const t = leecher.add(torrent, {
      path: join(tmp.path, 'bttkit-payer'),
      peers: [{ host: '127.0.0.1', port }],
    });
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'the bttkit leecher');
    await t.destroy(); // the WebTorrent seeder collects for good when the peer leaves

    expect(bids).toContain(BTT);
    // One grant per bid: the payer bids again (same price) after each top-up of its channel.
    expect(grants.length).toBeGreaterThan(0);
    expect(new Set(grants)).toEqual(new Set([RESERVE]));
    const total = payer.spent;
    expect(total).toBeGreaterThan(0n);
    expect(paidBytes).toBeGreaterThan(2n * MIB);
    expect(total).toBe((paidBytes * RESERVE) / MIB);
    await waitFor(
      async () => (await ledger.getAccount(seedKey.address)).balance >= total,
      20_000,
      "the WebTorrent seeder's redemptions to reach what the bttkit leecher paid",
    );
    expect((await ledger.getAccount(seedKey.address)).balance).toBe(total);
    expect(provider.redeemed).toBe(total);
    expect(provider.earned).toBe(total);
    const totals = await ledger.totals();
    expect(totals.balances + totals.locked).toBe(totals.deposits - totals.withdrawals);
  }, 120_000);
});

describe('examples/webtorrent-speed/demo.ts', () => {
  it("runs as the README says: the seeder's ledger balance equals what the WebTorrent leecher spent", () => {
    const out = runOk(
      process.execPath,
      ['--import', './bench/peers/no-webrtc.mjs', '--import', 'tsx', 'examples/webtorrent-speed/demo.ts'],
      { timeoutMs: 60_000 },
    );
    const m = /spent (\d+); the seeder's ledger balance: (\d+)/.exec(out);
    expect(m, out).not.toBeNull();
    expect(BigInt(m?.[1] ?? '0')).toBeGreaterThan(0n);
    expect(m?.[2]).toBe(m?.[1]);
  });
});
