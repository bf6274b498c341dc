/**
 * `npm run bench -- many-peers`: one torrent, many peers at once, over loopback (issue #22).
 *
 * - fan-in: SEEDERS seeders → one bttkit leecher (`bttkit download --peer … --peer …`, its own
 *   process). The seeders are hosted several per process to keep the two cores usable: one node
 *   process running the bttkit Clients (bench/peers/bttkit-host.mjs), one python process running
 *   the libtorrent sessions (bench/peers/libtorrent-host.py), each on its own port; they start
 *   once and serve every run. Baseline in the same run: the same leecher from one seeder of each
 *   kind (bttkit → bttkit, libtorrent → bttkit). Reported: aggregate MB/s (wall time of the
 *   leecher process, start-up included, as bench/download.bench.ts), its ratio to the
 *   single-seeder figures, each seeder's share of the bytes (from the seeders' own upload
 *   counters) with Jain's fairness index, and the leecher's wasted bytes (`torrent.stats().wasted`:
 *   endgame duplicates and late answers to cancelled requests) as a % of the size.
 * - fan-out: one bttkit seeder (`bttkit seed`, its own process) → LEECHERS leechers hosted as
 *   above (bttkit leechers keep nothing: a store that drops each piece once verified, so 20 GiB
 *   need no tmpfs; libtorrent leechers write to DIR). Baseline: one bttkit leecher. Reported:
 *   aggregate MB/s (LEECHERS × size over the last leecher's completion time), its ratio to the
 *   single-leecher figure, the spread of completion times and Jain's index over the leechers'
 *   rates, the seeder's upload bytes and CPU.
 *
 * Env: SIZE_MB (1024), PIECE_KB (1024), SEEDERS (20), LEECHERS (20), RUNS (1; medians),
 * MIX (fan-in seeders by client, `bttkit:10,libtorrent:10` — the counts are scaled to SEEDERS),
 * OUT_MIX (fan-out leechers, default `bttkit:1`, scaled to LEECHERS; libtorrent leechers need
 * LEECHERS × SIZE of free space in DIR), CASES (`fan-in,fan-out`), DIR (/dev/shm),
 * REF_CLI (another build's dist/cli/main.js: its leecher runs the fan-in cases too, for a
 * before/after in one run).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createTorrent } from '../src/metainfo/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const SIZE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const PIECE = Number(process.env.PIECE_KB ?? 1024) * 1024;
const RUNS = Number(process.env.RUNS ?? 1);
const SEEDERS = Number(process.env.SEEDERS ?? 20);
const LEECHERS = Number(process.env.LEECHERS ?? 20);
const CASES = (process.env.CASES ?? 'fan-in,fan-out').split(',').filter((c) => c !== '');
const DIR = process.env.DIR ?? '/dev/shm';
const BASE = mkdtempSync(join(DIR, 'bttkit-many-'));
const CLI = join(ROOT, 'dist/cli/main.js');
const REF_CLI = process.env.REF_CLI;
const PY = '/usr/bin/python3';
/** Fan-in also runs a libtorrent leecher (bench/peers/libtorrent-peer.py) against the same seeders. */
const FAN_IN_LIBTORRENT = (process.env.FAN_IN_LIBTORRENT ?? '1') !== '0';
/** The `cli` of the libtorrent leecher's cases. */
const LIBTORRENT_LEECHER = 'libtorrent';
const KINDS = ['bttkit', 'libtorrent'] as const;
type Kind = (typeof KINDS)[number];
let nextPort = 42000 + Math.floor(Math.random() * 800) * 20;

/** `bttkit:10,libtorrent:10` scaled to `total` peers (largest remainders), by kind. */
function mix(spec: string, total: number): Record<Kind, number> {
  const parts = spec.split(',').map((p) => {
    const [kind, n] = p.split(':');
    if (!KINDS.includes(kind as Kind) || !(Number(n) >= 0)) throw new Error(`mix: ${p} is not kind:count`);
    return { kind: kind as Kind, n: Number(n) };
  });
  const sum = parts.reduce((s, p) => s + p.n, 0);
  if (sum <= 0) throw new Error(`mix ${spec} is empty`);
  const out: Record<Kind, number> = { bttkit: 0, libtorrent: 0 };
  for (const p of parts) out[p.kind] += Math.floor((p.n * total) / sum);
  let left = total - out.bttkit - out.libtorrent;
  for (const p of [...parts].sort((a, b) => ((b.n * total) % sum) - ((a.n * total) % sum)))
    if (left-- > 0) out[p.kind]++;
  return out;
}

const ports = (n: number) => Array.from({ length: n }, () => nextPort++);
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor(s.length / 2)] as number);
};
/** Jain's fairness index: 1 when every share is equal, 1/n when one peer has everything. */
const jain = (xs: readonly number[]) => {
  const s = xs.reduce((a, b) => a + b, 0);
  const q = xs.reduce((a, b) => a + b * b, 0);
  return q === 0 ? Number.NaN : (s * s) / (xs.length * q);
};
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const mb = (bytes: number) => bytes / 1e6;

/** User + system CPU seconds of a process so far, from /proc (NaN if unavailable). */
function procCpu(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** A child's stdout as JSON lines, each handed to the waiting `next()` calls in order. */
class Lines {
  readonly #queue: unknown[] = [];
  readonly #waiters: ((v: unknown) => void)[] = [];
  exited = false;
  constructor(readonly child: ChildProcess) {
    if (!child.stdout) throw new Error('no stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const v: unknown = JSON.parse(line);
      const w = this.#waiters.shift();
      if (w) w(v);
      else this.#queue.push(v);
    });
    child.once('exit', () => {
      this.exited = true;
    });
  }
  /** The next JSON line for which `test` holds (others are dropped), within `ms` in all. */
  async until(
    test: (v: Record<string, unknown>) => boolean,
    ms: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.next(Math.max(1, end - Date.now()), what);
      if (test(v)) return v;
    }
  }

  /** The next JSON line, within `ms`. */
  next(ms: number, what: string): Promise<Record<string, unknown>> {
    const ready = this.#queue.shift();
    if (ready !== undefined) return Promise.resolve(ready as Record<string, unknown>);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
      const onExit = (code: number | null) => rej(new Error(`${what}: process exited with ${code}`));
      this.child.once('exit', onExit);
      this.#waiters.push((v) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        res(v as Record<string, unknown>);
      });
    });
  }
}

/** A process hosting several seeders of one kind. */
interface SeederHost {
  kind: Kind;
  ports: number[];
  lines: Lines;
  /** Payload bytes uploaded so far, by port. */
  uploaded(): Promise<Map<number, number>>;
}

async function startSeeders(kind: Kind, torrent: string, dir: string, n: number): Promise<SeederHost> {
  const list = ports(n);
  const cmd =
    kind === 'bttkit'
      ? [process.execPath, join(ROOT, 'bench/peers/bttkit-host.mjs'), 'seed', torrent, dir, list.join(',')]
      : [PY, join(ROOT, 'bench/peers/libtorrent-host.py'), 'seed', torrent, dir, list.join(',')];
  const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = new Lines(child);
  const ready = await lines.next(300_000, `${kind} seeders`);
  if (ready.event !== 'seeding') throw new Error(`${kind} seeders: ${JSON.stringify(ready)}`);
  return {
    kind,
    ports: list,
    lines,
    async uploaded() {
      child.stdin?.write('stats\n');
      const s = await lines.next(10_000, `${kind} seeder stats`);
      return new Map(Object.entries(s.uploaded as Record<string, number>).map(([p, b]) => [Number(p), b]));
    },
  };
}

async function fileSha1(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const BTTKIT_FLAGS = [
  '--json',
  '--no-dht',
  '--no-utp',
  '--encryption',
  'disabled',
  '--no-port-mapping',
  '--no-lsd',
];

interface FanInResult {
  seconds: number;
  cpu: number;
  rssMiB: number;
  wasted: number;
  /** Bytes each seeder uploaded in this run, by port. */
  shares: number[];
}

async function fanInOnce(
  name: string,
  cli: string,
  torrent: string,
  want: string,
  hosts: readonly SeederHost[],
  seederPorts: readonly number[],
): Promise<FanInResult> {
  const out = join(BASE, `out-${name.replace(/\W+/g, '_')}`);
  rmSync(out, { recursive: true, force: true });
  const before = new Map<number, number>();
  for (const h of hosts) for (const [p, b] of await h.uploaded()) before.set(p, b);
  const timeFile = join(BASE, 'time');
  const peers = seederPorts.flatMap((p) => ['--peer', `127.0.0.1:${p}`]);
  const cmd =
    cli === LIBTORRENT_LEECHER
      ? [
          PY,
          join(ROOT, 'bench/peers/libtorrent-peer.py'),
          'leech',
          torrent,
          out,
          String(nextPort++),
          seederPorts.join(','),
          '--enc',
          'none',
        ]
      : [process.execPath, cli, 'download', torrent, '-o', out, ...peers, ...BTTKIT_FLAGS];
  const leecher = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', ...cmd], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  leecher.stdout?.setEncoding('utf8');
  leecher.stdout?.on('data', (d: string) => {
    if (stdout.length < 1 << 16) stdout += d;
  });
  const code = await new Promise<number | null>((res, rej) => {
    const timer = setTimeout(() => {
      leecher.kill('SIGKILL');
      rej(new Error(`${name}: leecher timed out`));
    }, 600_000);
    leecher.once('exit', (c) => {
      clearTimeout(timer);
      res(c);
    });
  });
  if (code !== 0) throw new Error(`${name}: leecher exited with ${code}`);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { wasted?: number };
  const [elapsed, user, sys, rssKb] =
    readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  const after = new Map<number, number>();
  for (const h of hosts) for (const [p, b] of await h.uploaded()) after.set(p, b);
  if ((await fileSha1(join(out, 'data.bin'))) !== want) throw new Error(`${name}: downloaded data differs`);
  rmSync(out, { recursive: true, force: true });
  return {
    seconds: elapsed ?? Number.NaN,
    cpu: (user ?? 0) + (sys ?? 0),
    rssMiB: (rssKb ?? 0) / 1024,
    wasted: summary.wasted ?? Number.NaN,
    shares: seederPorts.map((p) => (after.get(p) ?? 0) - (before.get(p) ?? 0)),
  };
}

async function fanIn(torrent: string, dataDir: string, want: string): Promise<void> {
  const counts = mix(process.env.MIX ?? 'bttkit:10,libtorrent:10', SEEDERS);
  const hosts: SeederHost[] = [];
  // The single-seeder baselines have hosts of their own: a seeder of the many-seeder runs learns
  // the others through PEX (the leecher tells it), keeps seed-to-seed connections, and would
  // hand them to a leecher meant to see one seeder.
  const singles: SeederHost[] = [];
  try {
    for (const kind of KINDS)
      if (counts[kind] > 0) {
        hosts.push(await startSeeders(kind, torrent, dataDir, counts[kind]));
        singles.push(await startSeeders(kind, torrent, dataDir, 1));
      }
    const all = hosts.flatMap((h) => h.ports);
    const leechers: [string, string][] = [
      ['bttkit', CLI],
      ...(REF_CLI ? [['bttkit-ref', REF_CLI] as [string, string]] : []),
      ...(FAN_IN_LIBTORRENT ? [['libtorrent', LIBTORRENT_LEECHER] as [string, string]] : []),
    ];
    const cases = leechers.flatMap(([lname, cli]) => [
      ...singles.map((h) => ({ label: `1 ${h.kind} → ${lname}`, cli, seeders: h.ports, single: true })),
      {
        label: `${all.length} (${KINDS.map((k) => `${counts[k]} ${k}`).join(' + ')}) → ${lname}`,
        cli,
        seeders: all,
        single: false,
      },
    ]);
    const results = new Map<string, FanInResult[]>(cases.map((c) => [c.label, []]));
    for (let r = 0; r < RUNS; r++)
      for (const c of cases) {
        try {
          const res = await fanInOnce(c.label, c.cli, torrent, want, c.single ? singles : hosts, c.seeders);
          results.get(c.label)?.push(res);
          console.error(
            `fan-in ${c.label} run ${r + 1}: ${(mb(SIZE) / res.seconds).toFixed(1)} MB/s, wasted ${((100 * res.wasted) / SIZE).toFixed(2)} %, Jain ${jain(res.shares).toFixed(3)}, leecher ${res.cpu.toFixed(1)} CPU-s ${res.rssMiB.toFixed(0)} MiB; load ${load()}`,
          );
        } catch (e) {
          console.error(`fan-in ${c.label}: ${(e as Error).message}`);
        }
      }
    const gib = SIZE / 1024 ** 3;
    console.log(
      `\nfan-in: ${(SIZE / 1024 ** 2).toFixed(0)} MiB, ${PIECE / 1024} KiB pieces, TCP plaintext, loopback, ${DIR}; median of ${RUNS}; leecher process wall time incl. start-up; load now ${load()}`,
    );
    console.log(
      '| seeders → leecher | MB/s (runs) | vs 1 bttkit seeder | vs 1 libtorrent seeder | wasted % of size | Jain (per-seeder bytes) | seeder MB min–max | leecher CPU s/GiB | leecher RSS MiB |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const c of cases) {
      const rs = results.get(c.label) ?? [];
      if (rs.length === 0) continue;
      const rates = rs.map((x) => mb(SIZE) / x.seconds);
      const m = median(rates);
      const lname = c.label.split(' → ')[1];
      const base = (kind: Kind) => {
        const b = results.get(`1 ${kind} → ${lname}`) ?? [];
        return b.length === 0 || c.single
          ? '–'
          : `${(m / median(b.map((x) => mb(SIZE) / x.seconds))).toFixed(2)}×`;
      };
      const shares = rs.flatMap((x) => x.shares);
      const range =
        rs.length > 1 ? ` (${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)})` : '';
      console.log(
        `| ${c.label} | ${m.toFixed(0)}${range} | ${base('bttkit')} | ${base('libtorrent')} | ${median(rs.map((x) => (100 * x.wasted) / SIZE)).toFixed(2)} | ${c.single ? '–' : median(rs.map((x) => jain(x.shares))).toFixed(3)} | ${mb(Math.min(...shares)).toFixed(0)}–${mb(Math.max(...shares)).toFixed(0)} | ${median(rs.map((x) => x.cpu / gib)).toFixed(2)} | ${median(rs.map((x) => x.rssMiB)).toFixed(0)} |`,
      );
    }
  } finally {
    for (const h of [...hosts, ...singles]) h.lines.child.kill('SIGKILL');
  }
}

interface FanOutResult {
  /** Completion seconds of each leecher (from its host's start of the run). */
  seconds: number[];
  uploaded: number;
  seederCpu: number;
}

async function fanOutOnce(
  torrent: string,
  dataDir: string,
  counts: Record<Kind, number>,
): Promise<FanOutResult> {
  const [port] = ports(1);
  const seeder = spawn(
    process.execPath,
    [CLI, 'seed', torrent, dataDir, '--port', String(port), ...BTTKIT_FLAGS],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const sl = new Lines(seeder);
  const hosts: Lines[] = [];
  const outDir = join(BASE, 'fan-out');
  try {
    await sl.until((v) => v.seeding === true, 300_000, 'seeder');
    const cpu0 = procCpu(seeder.pid);
    if (counts.bttkit > 0) {
      const cmd = [
        join(ROOT, 'bench/peers/bttkit-host.mjs'),
        'leech',
        torrent,
        ports(counts.bttkit).join(','),
        `127.0.0.1:${port}`,
      ];
      hosts.push(new Lines(spawn(process.execPath, cmd, { stdio: ['ignore', 'pipe', 'inherit'] })));
    }
    if (counts.libtorrent > 0) {
      await mkdir(outDir, { recursive: true });
      const cmd = [
        join(ROOT, 'bench/peers/libtorrent-host.py'),
        'leech',
        torrent,
        outDir,
        ports(counts.libtorrent).join(','),
        String(port),
      ];
      hosts.push(new Lines(spawn(PY, cmd, { stdio: ['ignore', 'pipe', 'inherit'] })));
    }
    const seconds: number[] = [];
    await Promise.all(
      hosts.map(async (h) => {
        for (;;) {
          const e = await h.next(600_000, 'leechers');
          if (e.event === 'all-done') return;
          if (e.event === 'done') seconds.push(Number(e.seconds));
        }
      }),
    );
    const seederCpu = procCpu(seeder.pid) - cpu0;
    seeder.kill('SIGINT');
    const stopped = await sl.until((v) => v.stopped !== undefined, 30_000, 'seeder stop');
    return { seconds, uploaded: Number(stopped.uploaded), seederCpu };
  } finally {
    seeder.kill('SIGKILL');
    for (const h of hosts) h.child.kill('SIGKILL');
    rmSync(outDir, { recursive: true, force: true });
  }
}

async function fanOut(torrent: string, dataDir: string): Promise<void> {
  const counts = mix(process.env.OUT_MIX ?? 'bttkit:1', LEECHERS);
  const free = (() => {
    const s = statfsSync(DIR);
    return s.bavail * s.bsize;
  })();
  if (counts.libtorrent * SIZE > free - 2 * 1024 ** 3)
    throw new Error(
      `fan-out: ${counts.libtorrent} libtorrent leechers need ${counts.libtorrent * SIZE} bytes in ${DIR}`,
    );
  const cases = [
    { label: '1 bttkit leecher', counts: { bttkit: 1, libtorrent: 0 } },
    { label: `${LEECHERS} leechers (${KINDS.map((k) => `${counts[k]} ${k}`).join(' + ')})`, counts },
  ];
  const results = new Map<string, FanOutResult[]>(cases.map((c) => [c.label, []]));
  for (let r = 0; r < RUNS; r++)
    for (const c of cases) {
      try {
        const res = await fanOutOnce(torrent, dataDir, c.counts);
        results.get(c.label)?.push(res);
        const n = res.seconds.length;
        console.error(
          `fan-out ${c.label} run ${r + 1}: ${((n * mb(SIZE)) / Math.max(...res.seconds)).toFixed(1)} MB/s aggregate, done ${Math.min(...res.seconds).toFixed(1)}–${Math.max(...res.seconds).toFixed(1)} s, seeder uploaded ${mb(res.uploaded).toFixed(0)} MB, ${res.seederCpu.toFixed(1)} CPU-s; load ${load()}`,
        );
      } catch (e) {
        console.error(`fan-out ${c.label}: ${(e as Error).message}`);
      }
    }
  const agg = (x: FanOutResult) => (x.seconds.length * mb(SIZE)) / Math.max(...x.seconds);
  const single = median((results.get(cases[0]?.label ?? '') ?? []).map(agg));
  console.log(
    `\nfan-out: one bttkit seeder (its own process), ${(SIZE / 1024 ** 2).toFixed(0)} MiB, TCP plaintext, loopback; median of ${RUNS}; completion from the leecher host's start; load now ${load()}`,
  );
  console.log(
    '| seeder → leechers | aggregate MB/s (runs) | vs 1 leecher | completion s min / median / max | Jain (leecher rates) | seeder uploaded MB | seeder CPU s/GiB sent |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const c of cases) {
    const rs = results.get(c.label) ?? [];
    if (rs.length === 0) continue;
    const aggs = rs.map(agg);
    const m = median(aggs);
    const mid = rs.find((x) => agg(x) === m) as FanOutResult;
    const range = rs.length > 1 ? ` (${Math.min(...aggs).toFixed(0)}–${Math.max(...aggs).toFixed(0)})` : '';
    const s = mid.seconds;
    console.log(
      `| bttkit → ${c.label} | ${m.toFixed(0)}${range} | ${(m / single).toFixed(2)}× | ${Math.min(...s).toFixed(1)} / ${median(s).toFixed(1)} / ${Math.max(...s).toFixed(1)} | ${jain(s.map((x) => 1 / x)).toFixed(3)} | ${mb(mid.uploaded).toFixed(0)} | ${(mid.seederCpu / (mid.uploaded / 1024 ** 3)).toFixed(2)} |`,
    );
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: npm run build');
  const dataDir = join(BASE, 'seed');
  const dataFile = join(dataDir, 'data.bin');
  await mkdir(dataDir, { recursive: true });
  const fh = await open(dataFile, 'w');
  const chunk = new Uint8Array(4 << 20);
  let x = 12345;
  for (let written = 0; written < SIZE; written += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x & 0xff;
      chunk[i + 1] = (x >>> 8) & 0xff;
      chunk[i + 2] = (x >>> 16) & 0xff;
      chunk[i + 3] = (x >>> 24) & 0xff;
    }
    await fh.write(chunk, 0, Math.min(chunk.length, SIZE - written));
  }
  await fh.close();
  const { torrent } = await createTorrent(dataFile, { pieceLength: PIECE });
  const torrentFile = join(BASE, 'data.torrent');
  writeFileSync(torrentFile, torrent);
  const want = await fileSha1(dataFile);
  if (CASES.includes('fan-in')) await fanIn(torrentFile, dataDir, want);
  if (CASES.includes('fan-out')) await fanOut(torrentFile, dataDir);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(BASE, { recursive: true, force: true }));
