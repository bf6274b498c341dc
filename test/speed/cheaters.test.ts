/**
 * Non-payment and non-delivery between real processes over loopback: a cheating peer built from
 * bttkit's public API (test/speed/cheater-peer.ts, its own process under tsx) against honest
 * bttkit peers (a Client with the Speed plug-in, in this process), both on one ledger served over
 * HTTP on 127.0.0.1. Integration project (vitest.config.ts).
 * - a requester that never pays loses its paid slot once its debt passes the credit window,
 *   is never banned (it still completes through the free slots) and earns the provider nothing
 *   it did not pay;
 * - a provider that grants and never serves is never paid, drops out of the requester's bids
 *   after `grantTimeoutMs`, and the requester completes from an honest provider.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, LedgerService, TronKey } from '../../src/ledger/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { AutoBid, type BidContext, type BidStrategy, MIB, speed } from '../../src/speed/index.js';
import { type JsonLines, jsonLines, waitEvent } from '../helpers/json-lines.js';
import { Procs } from '../helpers/procs.js';
import { pseudoRandomBytes, ROOT, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const BTT = 10n ** 18n;
const LEDGER_ID = 'bttkit:cheaters';
const CHEATER = join(ROOT, 'test/speed/cheater-peer.ts');
const procs = new Procs();
const tmp = tempDir('bttkit-cheaters-');
const src = join(tmp.path, 'seed');
const clients: Client[] = [];
let torrentPath: string;
let torrent: Uint8Array;
let ledger: Ledger;
let service: LedgerService;
let ledgerUrl: string;

beforeAll(async () => {
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.bin'), pseudoRandomBytes(4 * 1024 * 1024, 23));
  ({ torrent } = await createTorrent(join(src, 'a.bin'), { pieceLength: 256 * 1024 }));
  torrentPath = join(tmp.path, 'a.torrent');
  writeFileSync(torrentPath, torrent);
  ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  service = new LedgerService(ledger, { operators: [TronKey.generate().address] });
  ledgerUrl = await service.listen(0, '127.0.0.1');
});
afterAll(async () => {
  procs.killAll();
  await Promise.all(clients.map((c) => c.destroy()));
  await service?.close();
  tmp.cleanup();
});

async function funded(amount: bigint): Promise<{ key: TronKey; hex: string }> {
  const hex = randomBytes(32).toString('hex');
  const key = TronKey.fromPrivateKey(hex);
  if (amount > 0n)
    await ledger.deposit({ account: key.address, amount, txid: hex, idempotencyKey: `dep-${hex}` });
  return { key, hex };
}

function cheater(mode: 'no-pay' | 'no-serve', args: Record<string, unknown>): JsonLines {
  const child = procs.start(process.execPath, [
    '--import',
    'tsx',
    CHEATER,
    mode,
    JSON.stringify({ ledgerUrl, ledgerId: LEDGER_ID, torrent: torrentPath, ...args }),
  ]);
  return jsonLines(child);
}

describe('cheating peers in their own process', () => {
  it('a requester that never pays: its paid slot ends past the credit window, and it still completes (never banned)', async () => {
    const price = BTT / 10n;
    const credit = 512 * 1024;
    const providerKey = TronKey.generate();
    const provider = speed({
      wallet: providerKey,
      ledger,
      ledgerId: LEDGER_ID,
      reservePrice: price,
      creditBytes: credit,
      redeemIntervalMs: 500,
    });
    const revoked: { due: bigint; paid: bigint }[] = [];
    provider.on('revoked', (r) => revoked.push(r));
    const seeder = new Client({
      plugins: [provider],
      settings: { rechokeIntervalMs: 250, uploadRateLimit: 1024 * 1024 },
    });
    clients.push(seeder);
    const addr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', () => r())), 10_000, 'the seeder');

    const { hex } = await funded(100n * BTT);
    const r = cheater('no-pay', {
      key: hex,
      dir: join(tmp.path, 'no-pay'),
      peers: [{ host: addr.host, port: addr.port }],
      price: String(price),
    });
    await waitEvent(r, (e) => e.event === 'grant', 30_000, 'the non-payer granted a slot');
    const done = await waitEvent(r, (e) => e.event === 'done', 60_000, 'the non-payer to complete');
    expect(done.spent).toBe('0');
    // Revoked once its debt passed the credit window (4 MiB served at 1 MiB/s, 250 ms rounds).
    expect(revoked.length).toBeGreaterThan(0);
    const first = revoked[0] ?? { due: 0n, paid: 0n };
    const allowance = (BigInt(credit) * price) / MIB;
    expect(first.paid).toBe(0n);
    expect(first.due).toBeGreaterThan(allowance);
    expect(first.due).toBeLessThan(allowance + price); // within one round's serving
    expect(provider.earned).toBe(0n);
  }, 120_000);

  it('a provider that grants and never serves: never paid, dropped from the bids, the download goes elsewhere', async () => {
    const price = BTT / 10n;
    const { hex } = await funded(0n);
    const r = cheater('no-serve', { key: hex, dir: src, price: String(price) });
    const ready = await waitEvent(r, (e) => e.event === 'ready', 30_000, 'the non-server');
    const cheaterPort = Number(ready.port);

    // An honest provider, slow enough that the timeout comes long before the end.
    const honest = new Client({
      plugins: [speed({ wallet: TronKey.generate(), ledger, ledgerId: LEDGER_ID, reservePrice: price })],
      settings: { rechokeIntervalMs: 250, uploadRateLimit: 256 * 1024 },
    });
    clients.push(honest);
    const honestAddr = await honest.listen(0, '127.0.0.1');
    const ht = honest.add(torrent, { path: src });
    await waitFor(new Promise<void>((res) => ht.once('ready', () => res())), 10_000, 'the honest seeder');

    const seen: string[][] = [];
    const auto = new AutoBid();
    const spy: BidStrategy = {
      name: 'spy',
      bids: (ctx: BidContext) => {
        seen.push(ctx.providers.map((p) => p.peer));
        return auto.bids(ctx);
      },
    };
    const { key } = await funded(100n * BTT);
    const payer = speed({
      wallet: key,
      ledger,
      ledgerId: LEDGER_ID,
      budget: 10n * BTT,
      strategy: spy,
      bidIntervalMs: 200,
      grantTimeoutMs: 1500,
    });
    const paidTo = new Map<string, bigint>();
    payer.on('paid', (p) => paidTo.set(p.peer, (paidTo.get(p.peer) ?? 0n) + p.amount));
    const grantsFrom = new Set<string>();
    payer.on('grant', (g) => grantsFrom.add(g.peer));
    const leecher = new Client({ plugins: [payer] });
    clients.push(leecher);
    const isCheater = (peer: string) => peer.endsWith(`:${cheaterPort}`);
    const t = leecher.add(torrent, {
      path: join(tmp.path, 'no-serve'),
      peers: [{ host: '127.0.0.1', port: cheaterPort }, honestAddr],
    });
    const finished = new Promise<void>((res) => t.once('done', () => res()));
    await waitFor(() => [...grantsFrom].some(isCheater), 30_000, 'a grant from the non-server');
    // It served nothing verified within grantTimeoutMs: it leaves the strategy's view.
    await waitFor(
      () => {
        const last = seen.at(-1);
        return last !== undefined && last.length > 0 && !last.some(isCheater);
      },
      30_000,
      'the non-server to drop out of the bids',
    );
    await waitFor(finished, 60_000, 'the download from the honest provider');
    expect([...paidTo].filter(([peer]) => isCheater(peer))).toEqual([]);
    expect(payer.spent).toBeGreaterThan(0n); // the honest provider was paid
  }, 120_000);
});
