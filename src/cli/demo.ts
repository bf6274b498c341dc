import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../ledger/file-store.js';
import { TronKey } from '../ledger/keys.js';
import { Ledger } from '../ledger/ledger.js';
import type { Client } from '../session/client.js';
import { SettlementJournal } from '../settlement/journal.js';
import { LocalChain } from '../settlement/local-chain.js';
import { Settler } from '../settlement/settler.js';
import { speed } from '../speed/plugin.js';
import {
  BTT,
  btt,
  createDemoContent,
  type DemoOptions,
  demoCast,
  demoOut,
  demoSpeedOptions,
  endDemoSwarm,
  makeDemoPeers,
  payingFirstLine,
  printDemoTable,
  runDemoSwarm,
} from './demo-swarm.js';

export type { DemoOptions } from './demo-swarm.js';

/**
 * The main job on embedded defaults: an in-process swarm on 127.0.0.1 — one seeder with capped
 * upload, four leechers of which two pay in BTT through the embedded ledger (file journal),
 * funded by deposits on a {@link LocalChain}. Prints progress and a summary; returns true when
 * every leecher finished, the paying ones first, and the ledger's invariant holds.
 */
export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const out = demoOut(options);
  const dir = await mkdtemp(join(tmpdir(), 'bttkit-demo-'));
  const clients: Client[] = [];
  try {
    // 1. Content.
    const { torrent } = await createDemoContent(dir, options, 'bttkit demo');

    // 2. Money: a local chain, the embedded ledger with a file journal, deposits credited once.
    const chain = new LocalChain();
    const operator = TronKey.generate();
    const ledger = await Ledger.open({ store: new FileStore(join(dir, 'ledger')), ledgerId: 'bttkit:demo' });
    const ledgerWallet = chain.wallet(operator.address);
    const keys = Array.from({ length: 5 }, () => TronKey.generate());
    const payers = [keys[1], keys[2]].filter((k): k is TronKey => k !== undefined);
    for (const k of payers) {
      chain.mint(k.address, 1000n * BTT);
      await chain.wallet(k.address).transfer(operator.address, 100n * BTT, `deposit-${k.address}`);
    }
    chain.mine();
    const settler = new Settler({
      ledger,
      adapter: ledgerWallet,
      journal: await SettlementJournal.open(join(dir, 'settlement')),
    });
    const sync = await settler.syncDeposits();
    out(
      `ledger ${(await ledger.info()).ledgerId}: ${sync.deposits.length} deposits of 100 BTT credited from the local chain`,
    );

    // 3. The swarm, paying through the ledger's channels.
    const seederKey = keys[0] as TronKey;
    const { seeder, leechers } = makeDemoPeers(
      demoCast(options),
      (member, i) =>
        speed({ ...demoSpeedOptions(member), wallet: keys[i] as TronKey, ledger, ledgerId: 'bttkit:demo' }),
      clients,
    );
    await runDemoSwarm(seeder, leechers, torrent, dir, options);

    // 4. Settle: every torrent closes, and each provider redeems its best vouchers at the ledger.
    await endDemoSwarm(seeder, leechers, 2000);
    const seederAccount = await ledger.getAccount(seederKey.address);
    const totals = await ledger.totals();
    const redeemedTotal = [...leechers, seeder].reduce((a, p) => a + p.plugin.redeemed, 0n);
    const invariant = totals.balances + totals.locked === totals.deposits - totals.withdrawals;

    printDemoTable(seeder, leechers, out);
    const paidTotal = leechers.reduce((a, l) => a + l.plugin.spent, 0n);
    out('');
    out(
      `ledger: ${btt(redeemedTotal)} BTT redeemed by the providers of ${btt(paidTotal)} BTT paid in vouchers (the seeder's balance: ${btt(seederAccount.balance)} BTT)`,
    );
    out(
      `ledger invariant: balances + locked = deposits − withdrawals: ${btt(totals.balances + totals.locked)} = ${btt(totals.deposits - totals.withdrawals)} → ${invariant ? 'holds' : 'BROKEN'}`,
    );
    out(payingFirstLine(leechers));
    await ledger.close?.();
    return invariant && redeemedTotal === paidTotal;
  } finally {
    await Promise.all(clients.map((c) => c.destroy()));
    await rm(dir, { recursive: true, force: true });
  }
}
