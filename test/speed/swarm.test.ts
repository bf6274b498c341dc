import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import type { InfoDictionary } from '../../src/metainfo/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { FixedBid, MIB, SpeedClient, type SpeedPlugin, speed } from '../../src/speed/index.js';
import { FsChunkStore } from '../../src/storage/index.js';
import { corrupting } from '../helpers/corrupt-store.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

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
    await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');

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
    // The option form is the same plug-in: off without `speed`.
    expect(new SpeedClient().speed).toBeUndefined();
    expect(
      new SpeedClient({ speed: { wallet: payKey, ledger, ledgerId: 'bttkit:test' } }).speed,
    ).toBeDefined();
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'paying leecher');
    await t.destroy();
    // The last vouchers reach the seeder and are redeemed on its next rounds (every 200 ms):
    // wait for the ledger to show all that was paid, not for a fixed time.
    const sumPaid = () => paid.reduce((a, b) => a + b, 0n);
    await waitFor(
      async () => (await ledger.getAccount(seedKey.address)).balance >= sumPaid(),
      20_000,
      "the seeder's redemptions to reach what the leecher paid",
    );

    const total = sumPaid();
    expect(total).toBeGreaterThan(0n);
    expect(total).toBe(payer.spent);
    // One bidder, two slots: no bid lost, so the clearing price is the reserve.
    expect(total).toBe((paidBytes * reserve) / MIB);
    expect(paidBytes).toBeGreaterThan(4n * MIB);
    const seederAccount = await ledger.getAccount(seedKey.address);
    expect(seederAccount.balance).toBe(total);
    const totals = await ledger.totals();
    expect(totals.balances + totals.locked).toBe(totals.deposits - totals.withdrawals);
  }, 120_000);
});

describe('contended swarm', () => {
  it('paying leechers finish first; a zero-budget requester is a plain peer', async () => {
    const ledger = await Ledger.open({ ledgerId: 'bttkit:contend' });
    const keys = Array.from({ length: 5 }, () => TronKey.generate());
    for (const k of keys.slice(1, 3)) {
      await ledger.deposit({
        account: k.address,
        amount: 100n * BTT,
        txid: k.hexAddress.padEnd(64, '0').slice(0, 64),
        idempotencyKey: `dep-${k.address}`,
      });
    }
    const mk = (key: TronKey, budget: bigint, upload: number, slots = 4, paidShare?: number) => {
      const plugin = speed({
        wallet: key,
        ledger,
        ledgerId: 'bttkit:contend',
        budget,
        reservePrice: BTT / 10n,
        bidIntervalMs: 200,
        redeemIntervalMs: 500,
        ...(paidShare === undefined ? {} : { paidShare }),
      });
      const c = new Client({
        plugins: [plugin],
        settings: { uploadRateLimit: upload, uploadSlots: slots, rechokeIntervalMs: 500 },
      });
      clients.push(c);
      return { c, plugin };
    };
    // The seeder sells both of its two slots: while the payers bid, the free leechers get nothing
    // from it, only what the leechers pass on (128 KiB/s each). With a seeder slot for every
    // leecher the margin was a matter of timing.
    const seeder = mk(keys[0] as TronKey, 0n, 1024 * 1024, 2, 1);
    const seedAddr = await seeder.c.listen(0, '127.0.0.1');
    const st = seeder.c.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');

    const leechers = [
      mk(keys[1] as TronKey, 20n * BTT, 128 * 1024),
      mk(keys[2] as TronKey, 20n * BTT, 128 * 1024),
      mk(keys[3] as TronKey, 0n, 128 * 1024),
      mk(keys[4] as TronKey, 0n, 128 * 1024),
    ];
    const bidsByFree = [0, 0];
    leechers.slice(2).forEach((l, k) => {
      l.plugin.on('bid', (b) => {
        if (b.role === 'requester') bidsByFree[k] = (bidsByFree[k] ?? 0) + 1;
      });
    });
    const addrs: { host: string; port: number }[] = [];
    for (const l of leechers) addrs.push(await l.c.listen(0, '127.0.0.1'));
    const doneAt: number[] = [];
    const progressAtFirstPayerDone: number[] = [];
    const torrents: ReturnType<Client['add']>[] = [];
    const finished: Promise<void>[] = [];
    const startLeecher = (i: number) => {
      const t = (leechers[i] as (typeof leechers)[number]).c.add(torrent, {
        path: join(tmp.path, `c${i}`),
        peers: [seedAddr, ...addrs.filter((_, j) => j !== i)],
      });
      torrents[i] = t;
      finished.push(
        new Promise<void>((r) =>
          t.once('done', () => {
            doneAt[i] = performance.now();
            if (i < 2 && progressAtFirstPayerDone.length === 0) {
              for (const x of torrents.slice(2)) progressAtFirstPayerDone.push(x.stats().progress);
            }
            r();
          }),
        ),
      );
    };
    // The free leechers join first and are served before the payers arrive: whatever favours
    // the peers already there (the seeder's regular slot goes to the one it serves fastest) is on
    // their side, so only the payment can put the payers ahead.
    startLeecher(2);
    startLeecher(3);
    await waitFor(
      () => torrents.slice(2).every((t) => t.stats().verified > 0),
      30_000,
      'the free leechers to get their first piece',
    );
    const progressAtPayersJoin = torrents.slice(2).map((t) => t.stats().progress);
    startLeecher(0);
    startLeecher(1);
    await waitFor(Promise.all(finished), 110_000, 'contended swarm');
    // Order: both paying leechers before both free ones…
    expect(Math.max(doneAt[0] ?? 0, doneAt[1] ?? 0)).toBeLessThan(Math.min(doneAt[2] ?? 0, doneAt[3] ?? 0));
    // …with a margin: from the payers' arrival to the first payer's end (a whole download), the
    // free ones got about a quarter of the file, from the leechers only; alike service would have
    // given them about as much as the payer.
    expect(progressAtFirstPayerDone).toHaveLength(2);
    progressAtFirstPayerDone.forEach((p, k) => {
      expect(p - (progressAtPayersJoin[k] ?? 0)).toBeLessThan(0.6);
    });
    // Zero budget: never bid, never opened a channel, never paid — and still finished.
    expect(bidsByFree).toEqual([0, 0]);
    expect(leechers[2]?.plugin.spent).toBe(0n);
    expect(leechers[3]?.plugin.spent).toBe(0n);
    const totals = await ledger.totals();
    expect(totals.balances + totals.locked).toBe(totals.deposits - totals.withdrawals);
  }, 120_000);
});

describe('payment discipline', () => {
  it('a leecher that stops paying loses its paid slot within the credit window', async () => {
    const ledger = await Ledger.open({ ledgerId: 'bttkit:stop' });
    const seedKey = TronKey.generate();
    const payKey = TronKey.generate();
    await ledger.deposit({
      account: payKey.address,
      amount: 10n * BTT,
      txid: 'b'.repeat(64),
      idempotencyKey: 'dep',
    });
    const credit = 512 * 1024;
    const price = BTT; // 1 BTT per MiB
    const seedPlugin = speed({
      wallet: seedKey,
      ledger,
      ledgerId: 'bttkit:stop',
      reservePrice: price,
      creditBytes: credit,
      redeemIntervalMs: 500,
    });
    const revoked: { due: bigint; paid: bigint }[] = [];
    seedPlugin.on('revoked', (r) => revoked.push(r));
    const seeder = new Client({
      plugins: [seedPlugin],
      settings: { uploadSlots: 2, rechokeIntervalMs: 250, uploadRateLimit: 2 * 1024 * 1024 },
    });
    clients.push(seeder);
    const addr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
    // Budget for one MiB only: it pays for the first MiB, then stops paying — from a channel
    // that could pay for 4 MiB (a channel it cannot pay from ends the slot sooner: fundedBids).
    const payer = speed({
      wallet: payKey,
      ledger,
      ledgerId: 'bttkit:stop',
      budget: price,
      channelAmount: 4n * price,
      strategy: new FixedBid(price),
      bidIntervalMs: 100,
    });
    const leecher = new Client({ plugins: [payer] });
    clients.push(leecher);
    const t = leecher.add(torrent, { path: join(tmp.path, 'stopper'), peers: [addr] });
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'leecher');
    expect(payer.spent).toBe(price);
    expect(revoked.length).toBeGreaterThan(0);
    const first = revoked[0];
    // Revoked once it owed more than the credit window beyond what it paid (plus one rechoke
    // round of serving at 2 MiB/s): never long after.
    expect(first && first.due - first.paid).toBeGreaterThan((BigInt(credit) * price) / MIB);
    expect(first && first.due - first.paid).toBeLessThan((BigInt(credit) * price) / MIB + price);
  });
});

describe('corrupt data', () => {
  it('is never paid for', async () => {
    const ledger = await Ledger.open({ ledgerId: 'bttkit:corrupt' });
    const [goodKey, badKey, payKey] = [TronKey.generate(), TronKey.generate(), TronKey.generate()];
    await ledger.deposit({
      account: payKey.address,
      amount: 100n * BTT,
      txid: 'c'.repeat(64),
      idempotencyKey: 'dep',
    });
    const provider = (key: TronKey) =>
      speed({ wallet: key, ledger, ledgerId: 'bttkit:corrupt', reservePrice: BTT / 10n });
    const good = new Client({ plugins: [provider(goodKey)], settings: { rechokeIntervalMs: 250 } });
    const bad = new Client({ plugins: [provider(badKey)], settings: { rechokeIntervalMs: 250 } });
    clients.push(good, bad);
    const goodAddr = await good.listen(0, '127.0.0.1');
    const badAddr = await bad.listen(0, '127.0.0.2');
    const gt = good.add(torrent, { path: src });
    const bt = bad.add(torrent, {
      store: (info: InfoDictionary) => corrupting(new FsChunkStore(info, { path: src }), 0x55),
    });
    await Promise.all([
      new Promise<void>((r) => gt.once('ready', r)),
      new Promise<void>((r) => bt.once('ready', r)),
    ]);

    const payer = speed({
      wallet: payKey,
      ledger,
      ledgerId: 'bttkit:corrupt',
      budget: 50n * BTT,
      strategy: new FixedBid(BTT),
      bidIntervalMs: 100,
    });
    const paidTo = new Map<string, bigint>();
    payer.on('paid', (p) => paidTo.set(p.peer, (paidTo.get(p.peer) ?? 0n) + p.amount));
    const grantedBy = new Set<string>();
    payer.on('grant', (g) => {
      if (g.role === 'requester') grantedBy.add(g.peer.split(':')[0] ?? '');
    });
    const leecher = new Client({ plugins: [payer] });
    clients.push(leecher);
    const t = leecher.add(torrent, { path: join(tmp.path, 'corrupt-leech'), peers: [badAddr, goodAddr] });
    await waitFor(new Promise<void>((r) => t.once('done', r)), 60_000, 'leecher');
    expect(t.stats().hashFailures).toBeGreaterThan(0);
    const toBad = [...paidTo]
      .filter(([peer]) => peer.startsWith('127.0.0.2:'))
      .reduce((a, [, v]) => a + v, 0n);
    expect(grantedBy.has('127.0.0.2')).toBe(true); // the bad provider did sell us a slot…
    expect(toBad).toBe(0n); // …and was never paid
    expect([...paidTo.values()].reduce((a, b) => a + b, 0n)).toBeGreaterThan(0n);
  });
});

describe('a plain BitTorrent client in a paying swarm', () => {
  it('a libtorrent leecher completes while a bttkit leecher pays', async () => {
    const { Procs, freePort, waitForExit, waitForLine } = await import('../helpers/procs.js');
    const { ROOT, SYSTEM_PYTHON } = await import('../helpers/run.js');
    const { readFileSync } = await import('node:fs');
    const procs = new Procs();
    try {
      const ledger = await Ledger.open({ ledgerId: 'bttkit:mixed' });
      const seedKey = TronKey.generate();
      const payKey = TronKey.generate();
      await ledger.deposit({
        account: payKey.address,
        amount: 100n * BTT,
        txid: 'd'.repeat(64),
        idempotencyKey: 'dep',
      });
      const seeder = new Client({
        plugins: [speed({ wallet: seedKey, ledger, ledgerId: 'bttkit:mixed', reservePrice: BTT / 10n })],
        settings: { uploadSlots: 2, rechokeIntervalMs: 500, uploadRateLimit: 3 * 1024 * 1024 },
      });
      clients.push(seeder);
      const addr = await seeder.listen(0, '127.0.0.1');
      const st = seeder.add(torrent, { path: src });
      await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
      const torrentFile = join(tmp.path, 'mixed.torrent');
      writeFileSync(torrentFile, torrent);

      const payer = speed({
        wallet: payKey,
        ledger,
        ledgerId: 'bttkit:mixed',
        budget: 20n * BTT,
        strategy: new FixedBid(BTT),
        bidIntervalMs: 100,
      });
      const leecher = new Client({ plugins: [payer] });
      clients.push(leecher);
      const t = leecher.add(torrent, { path: join(tmp.path, 'mixed-payer'), peers: [addr] });
      const ltDir = join(tmp.path, 'mixed-lt');
      const lt = procs.start(
        SYSTEM_PYTHON,
        [
          join(ROOT, 'bench/peers/libtorrent-peer.py'),
          'leech',
          torrentFile,
          ltDir,
          String(await freePort()),
          String(addr.port),
        ],
        { LT_MAX_SECONDS: '60' },
      );
      const line = await waitForLine(lt, (l) => l.includes('"event"'), 70_000, 'libtorrent leecher');
      expect(JSON.parse(line).event).toBe('done');
      expect(await waitForExit(lt, 10_000, 'libtorrent')).toBe(0);
      await waitFor(new Promise<void>((r) => (t.done ? r() : t.once('done', r))), 60_000, 'paying leecher');
      expect(payer.spent).toBeGreaterThan(0n);
      expect(
        Buffer.compare(readFileSync(join(ltDir, 'movie.bin')), readFileSync(join(src, 'movie.bin'))),
      ).toBe(0);
    } finally {
      procs.killAll();
    }
  }, 120_000);
});
