import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../ledger/file-store.js';
import { TronKey } from '../ledger/keys.js';
import { Ledger } from '../ledger/ledger.js';
import { createTorrent } from '../metainfo/create.js';
import { Client } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import { SettlementJournal } from '../settlement/journal.js';
import { LocalChain } from '../settlement/local-chain.js';
import { Settler } from '../settlement/settler.js';
import { type SpeedPlugin, speed } from '../speed/plugin.js';
import { AutoBid, NoBid } from '../speed/strategy.js';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';

/** Options of the demo (the CLI and `npm run demo` use the defaults). */
export interface DemoOptions {
  /** Size of the file shared. Default 16 MiB. */
  sizeMiB?: number;
  /** The seeder's upload cap, bytes/s. Default 4 MiB/s. */
  seederUpload?: number;
  /** Each leecher's upload cap, bytes/s. Default 1 MiB/s. */
  leecherUpload?: number;
  /** Redraw progress bars in place (a TTY) or print a line every 2 s. */
  tty?: boolean;
  out?: (line: string) => void;
}

const BTT = 10n ** 18n;

function btt(units: bigint): string {
  const whole = units / BTT;
  const frac = ((units % BTT) * 10000n) / BTT;
  return `${whole}.${frac.toString().padStart(4, '0')}`;
}

interface Peer {
  name: string;
  role: string;
  client: Client;
  plugin: SpeedPlugin;
  key: TronKey;
  torrent?: Torrent;
  doneAt?: number;
}

function everyoneTorrents(leechers: Peer[], seeder: Peer): Torrent[] {
  return [...leechers, seeder].map((p) => p.torrent).filter((t): t is Torrent => t !== undefined);
}

/**
 * The main job on embedded defaults: an in-process swarm on 127.0.0.1 — one seeder with capped
 * upload, four leechers of which two pay in BTT through the embedded ledger (file journal),
 * funded by deposits on a {@link LocalChain}. Prints progress and a summary; returns true when
 * every leecher finished, the paying ones first, and the ledger's invariant holds.
 */
export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'bttkit-demo-'));
  const clients: Client[] = [];
  try {
    const size = (options.sizeMiB ?? 16) * 1024 * 1024;
    // 1. Content.
    await mkdir(join(dir, 'seed'), { recursive: true });
    const data = new Uint8Array(size);
    crypto.getRandomValues(data.subarray(0, 65536));
    for (let i = 65536; i < size; i += 65536) data.copyWithin(i, 0, Math.min(65536, size - i));
    for (let i = 0; i < size; i += 4096) data[i] = (i >>> 12) & 0xff;
    await writeFile(join(dir, 'seed', 'bttkit-demo.bin'), data);
    const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'bttkit-demo.bin'), {
      pieceLength: 256 * 1024,
    });
    out(
      `bttkit demo — ${formatBytes(size)} in ${metainfo.pieceCount} pieces, info-hash ${metainfo.infoHash}`,
    );

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

    // 3. The swarm.
    const reserve = BTT / 10n; // 0.1 BTT per MiB
    const mk = (name: string, role: string, key: TronKey, budget: bigint, upload: number): Peer => {
      const plugin = speed({
        wallet: key,
        ledger,
        ledgerId: 'bttkit:demo',
        budget,
        reservePrice: reserve,
        strategy: budget > 0n ? new AutoBid({ spendingRate: 1 }) : new NoBid(),
        bidIntervalMs: 500,
        redeemIntervalMs: 1000,
      });
      const client = new Client({
        plugins: [plugin],
        settings: { uploadRateLimit: upload, uploadSlots: 4, rechokeIntervalMs: 1000 },
      });
      clients.push(client);
      return { name, role, client, plugin, key };
    };
    const seederKey = keys[0] as TronKey;
    const seeder = mk(
      'seeder',
      'seeds, sells 2 of 4 slots',
      seederKey,
      0n,
      options.seederUpload ?? 4 * 1024 * 1024,
    );
    const leechers = [
      mk(
        'alice',
        'pays (auto-bid, 20 BTT)',
        keys[1] as TronKey,
        20n * BTT,
        options.leecherUpload ?? 1024 * 1024,
      ),
      mk(
        'bob',
        'pays (auto-bid, 20 BTT)',
        keys[2] as TronKey,
        20n * BTT,
        options.leecherUpload ?? 1024 * 1024,
      ),
      mk('carol', 'does not pay', keys[3] as TronKey, 0n, options.leecherUpload ?? 1024 * 1024),
      mk('dave', 'does not pay', keys[4] as TronKey, 0n, options.leecherUpload ?? 1024 * 1024),
    ];
    const seedAddr = await seeder.client.listen(0, '127.0.0.1');
    seeder.torrent = seeder.client.add(torrent, { path: join(dir, 'seed') });
    await new Promise<void>((r) => seeder.torrent?.once('ready', r));
    const started = performance.now();
    const addrs: { host: string; port: number }[] = [];
    for (const l of leechers) addrs.push(await l.client.listen(0, '127.0.0.1'));
    const finished = Promise.all(
      leechers.map(
        (l, i) =>
          new Promise<void>((resolve, reject) => {
            const others = addrs.filter((_, j) => j !== i);
            l.torrent = l.client.add(torrent, { path: join(dir, l.name), peers: [seedAddr, ...others] });
            l.torrent.once('done', () => {
              l.doneAt = (performance.now() - started) / 1000;
              resolve();
            });
            l.torrent.once('error', reject);
          }),
      ),
    );

    // 4. Progress.
    const draw = () => {
      const lines = leechers.map((l) => {
        const s = l.torrent?.stats();
        const p = s?.progress ?? 0;
        const bar = `${'#'.repeat(Math.round(p * 30))}${'.'.repeat(30 - Math.round(p * 30))}`;
        const rate = formatBytes(s?.downloadRate ?? 0);
        return `${l.name.padEnd(6)} [${bar}] ${(p * 100).toFixed(0).padStart(3)}% ${`${rate}/s`.padStart(12)}  paid ${btt(l.plugin.spent)} BTT`;
      });
      lines.push(`seeder earned ${btt(seeder.plugin.earned)} BTT`);
      return lines;
    };
    let drawn = 0;
    const timer = setInterval(
      () => {
        const lines = draw();
        if (options.tty) {
          if (drawn > 0) process.stdout.write(`\x1b[${drawn}A`);
          for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
          drawn = lines.length;
        } else {
          out(
            lines
              .slice(0, 4)
              .map((l) => l.replace(/\s+\[.*\]/, ''))
              .join(' | '),
          );
        }
      },
      options.tty ? 250 : 2000,
    );
    await Promise.race([
      finished,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new CliError('CLI_DEMO_TIMEOUT', 'the demo swarm did not finish in 120 s')),
          120_000,
        ).unref(),
      ),
    ]);
    clearInterval(timer);
    if (options.tty) {
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A`);
      for (const l of draw()) process.stdout.write(`\x1b[2K${l}\n`);
    }

    // 5. Settle: every torrent closes, and each provider redeems its best vouchers at the ledger.
    await Promise.all(everyoneTorrents(leechers, seeder).map((t) => t.destroy()));
    for (let i = 0; i < 40; i++) {
      const paid = leechers.reduce((a, l) => a + l.plugin.spent, 0n);
      const redeemed = [...leechers, seeder].reduce((a, p) => a + p.plugin.redeemed, 0n);
      if (redeemed >= paid) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seederAccount = await ledger.getAccount(seederKey.address);
    const totals = await ledger.totals();
    const everyone = [...leechers, seeder];
    const redeemedTotal = everyone.reduce((a, p) => a + p.plugin.redeemed, 0n);
    const invariant = totals.balances + totals.locked === totals.deposits - totals.withdrawals;

    out('');
    out('| peer   | role                       | finished | downloaded | BTT paid | BTT earned |');
    out('|--------|----------------------------|----------|------------|----------|------------|');
    for (const p of [...leechers, seeder]) {
      const s = p.torrent?.stats();
      const when = p.doneAt === undefined ? (p === seeder ? 'seed' : '—') : `${p.doneAt.toFixed(1)} s`;
      out(
        `| ${p.name.padEnd(6)} | ${p.role.padEnd(26)} | ${when.padStart(8)} | ${formatBytes(s?.downloaded ?? 0).padStart(10)} | ${btt(p.plugin.spent).padStart(8)} | ${btt(p.plugin.earned).padStart(10)} |`,
      );
    }
    const paidTotal = leechers.reduce((a, l) => a + l.plugin.spent, 0n);
    out('');
    out(
      `ledger: ${btt(redeemedTotal)} BTT redeemed by the providers of ${btt(paidTotal)} BTT paid in vouchers (the seeder's balance: ${btt(seederAccount.balance)} BTT)`,
    );
    out(
      `ledger invariant: balances + locked = deposits − withdrawals: ${btt(totals.balances + totals.locked)} = ${btt(totals.deposits - totals.withdrawals)} → ${invariant ? 'holds' : 'BROKEN'}`,
    );
    const paying = leechers.slice(0, 2).map((l) => l.doneAt ?? Number.POSITIVE_INFINITY);
    const free = leechers.slice(2).map((l) => l.doneAt ?? Number.POSITIVE_INFINITY);
    const payingFirst = Math.max(...paying) <= Math.min(...free);
    out(
      payingFirst
        ? 'the paying leechers finished first.'
        : 'note: a non-paying leecher finished before a paying one this time (the swarm also trades by tit-for-tat).',
    );
    await ledger.close?.();
    return invariant && redeemedTotal === paidTotal;
  } finally {
    await Promise.all(clients.map((c) => c.destroy()));
    await rm(dir, { recursive: true, force: true });
  }
}
