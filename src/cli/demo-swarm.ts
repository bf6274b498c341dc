import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTorrent } from '../metainfo/create.js';
import { Client } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import type { SpeedCommonOptions, SpeedPlugin } from '../speed/plugin.js';
import { AutoBid, NoBid } from '../speed/strategy.js';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';

/**
 * What `bttkit demo` and `bttkit demo --chain bttc` share: the content, the swarm's cast (one
 * seeder selling 2 of 4 slots, two paying leechers, two that do not pay), its run with progress
 * lines, and the summary table. Only the payment rail differs between the two.
 * @module
 */

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

/** 1 BTT in base units. */
export const BTT = 10n ** 18n;

/** Base units as BTT with four decimals (truncated). */
export function btt(units: bigint): string {
  const whole = units / BTT;
  const frac = ((units % BTT) * 10000n) / BTT;
  return `${whole}.${frac.toString().padStart(4, '0')}`;
}

/** The demo's output: `options.out` or stdout. */
export function demoOut(options: DemoOptions): (line: string) => void {
  return options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
}

/** One peer of the demo swarm. */
export interface DemoPeer {
  name: string;
  role: string;
  client: Client;
  plugin: SpeedPlugin;
  torrent?: Torrent;
  doneAt?: number;
}

/** Who is in the swarm: index 0 is the seeder, then alice, bob (paying), carol, dave. */
export interface DemoCastMember {
  name: string;
  role: string;
  /** Most this peer spends, base units (0: never pays). */
  budget: bigint;
  /** Upload cap, bytes/s. */
  upload: number;
}

/** The swarm's cast, seeder first. */
export function demoCast(options: DemoOptions): [DemoCastMember, ...DemoCastMember[]] {
  const leecherUpload = options.leecherUpload ?? 1024 * 1024;
  return [
    {
      name: 'seeder',
      role: 'seeds, sells 2 of 4 slots',
      budget: 0n,
      upload: options.seederUpload ?? 4 * 1024 * 1024,
    },
    { name: 'alice', role: 'pays (auto-bid, 20 BTT)', budget: 20n * BTT, upload: leecherUpload },
    { name: 'bob', role: 'pays (auto-bid, 20 BTT)', budget: 20n * BTT, upload: leecherUpload },
    { name: 'carol', role: 'does not pay', budget: 0n, upload: leecherUpload },
    { name: 'dave', role: 'does not pay', budget: 0n, upload: leecherUpload },
  ];
}

/** The Speed options every demo peer has whatever the rail: its budget, a 0.1 BTT/MiB reserve. */
export function demoSpeedOptions(member: DemoCastMember): SpeedCommonOptions {
  return {
    budget: member.budget,
    reservePrice: BTT / 10n, // 0.1 BTT per MiB
    strategy: member.budget > 0n ? new AutoBid({ spendingRate: 1 }) : new NoBid(),
    bidIntervalMs: 500,
    redeemIntervalMs: 1000,
  };
}

/** The swarm: a client per cast member with the plug-in `pluginOf` makes for it (index as in the cast). */
export function makeDemoPeers(
  cast: [DemoCastMember, ...DemoCastMember[]],
  pluginOf: (member: DemoCastMember, index: number) => SpeedPlugin,
  clients: Client[],
): { seeder: DemoPeer; leechers: DemoPeer[] } {
  const make = (m: DemoCastMember, i: number): DemoPeer => {
    const plugin = pluginOf(m, i);
    const client = new Client({
      plugins: [plugin],
      settings: { uploadRateLimit: m.upload, uploadSlots: 4, rechokeIntervalMs: 1000 },
    });
    clients.push(client);
    return { name: m.name, role: m.role, client, plugin };
  };
  const [first, ...rest] = cast;
  const seeder = make(first, 0);
  const leechers = rest.map((m, i) => make(m, i + 1));
  return { seeder, leechers };
}

/** Writes the demo file into `dir/seed` (random 64 KiB repeated, each 4 KiB block marked) and makes its torrent. */
export async function createDemoContent(
  dir: string,
  options: DemoOptions,
  title: string,
): Promise<{ torrent: Uint8Array; size: number; pieceCount: number; infoHash: string }> {
  const size = (options.sizeMiB ?? 16) * 1024 * 1024;
  await mkdir(join(dir, 'seed'), { recursive: true });
  const data = new Uint8Array(size);
  crypto.getRandomValues(data.subarray(0, 65536));
  for (let i = 65536; i < size; i += 65536) data.copyWithin(i, 0, Math.min(65536, size - i));
  for (let i = 0; i < size; i += 4096) data[i] = (i >>> 12) & 0xff;
  await writeFile(join(dir, 'seed', 'bttkit-demo.bin'), data);
  const { torrent, metainfo } = await createTorrent(join(dir, 'seed', 'bttkit-demo.bin'), {
    pieceLength: 256 * 1024,
  });
  demoOut(options)(
    `${title} — ${formatBytes(size)} in ${metainfo.pieceCount} pieces, info-hash ${metainfo.infoHash}`,
  );
  return { torrent, size, pieceCount: metainfo.pieceCount, infoHash: metainfo.infoHash };
}

/**
 * Runs the swarm on 127.0.0.1 until every leecher has the file (or 120 s: `CLI_DEMO_TIMEOUT`),
 * printing progress; sets each leecher's `torrent` and `doneAt` (seconds from the start).
 */
export async function runDemoSwarm(
  seeder: DemoPeer,
  leechers: DemoPeer[],
  torrent: Uint8Array,
  dir: string,
  options: DemoOptions,
): Promise<void> {
  const out = demoOut(options);
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
  try {
    await Promise.race([
      finished,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new CliError('CLI_DEMO_TIMEOUT', 'the demo swarm did not finish in 120 s')),
          120_000,
        ).unref(),
      ),
    ]);
  } finally {
    clearInterval(timer);
  }
  if (options.tty) {
    if (drawn > 0) process.stdout.write(`\x1b[${drawn}A`);
    for (const l of draw()) process.stdout.write(`\x1b[2K${l}\n`);
  }
}

/** Polls `done` every 50 ms for at most `maxMs`; whether it came true. */
async function waitUntil(done: () => boolean, maxMs: number): Promise<boolean> {
  for (let waited = 0; waited < maxMs; waited += 50) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return done();
}

const total = (peers: DemoPeer[], of: (p: SpeedPlugin) => bigint) =>
  peers.reduce((a, p) => a + of(p.plugin), 0n);

/**
 * Ends the swarm: waits (at most `maxMs` for each step) until the providers have accepted the
 * last vouchers, still on the wire when the last leecher finished (closing first would lose
 * them), closes every torrent (each provider then collects its best vouchers), and waits until
 * the collections cover what the leechers paid.
 */
export async function endDemoSwarm(seeder: DemoPeer, leechers: DemoPeer[], maxMs: number): Promise<void> {
  const everyone = [...leechers, seeder];
  await waitUntil(() => total(everyone, (p) => p.earned) >= total(everyone, (p) => p.spent), maxMs);
  const torrents = everyone.map((p) => p.torrent).filter((t): t is Torrent => t !== undefined);
  await Promise.all(torrents.map((t) => t.destroy()));
  await waitUntil(() => total(everyone, (p) => p.redeemed) >= total(everyone, (p) => p.spent), maxMs);
}

/** Prints the summary table: each peer's finish time, bytes, BTT paid and earned. */
export function printDemoTable(seeder: DemoPeer, leechers: DemoPeer[], out: (line: string) => void): void {
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
}

/** The closing line: whether the paying leechers (the first two) finished first. */
export function payingFirstLine(leechers: DemoPeer[]): string {
  const paying = leechers.slice(0, 2).map((l) => l.doneAt ?? Number.POSITIVE_INFINITY);
  const free = leechers.slice(2).map((l) => l.doneAt ?? Number.POSITIVE_INFINITY);
  return Math.max(...paying) <= Math.min(...free)
    ? 'the paying leechers finished first.'
    : 'note: a non-paying leecher finished before a paying one this time (the swarm also trades by tit-for-tat).';
}
