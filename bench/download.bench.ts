/**
 * `npm run bench -- download`: one seeder → one leecher over loopback, each its own process,
 * for bttkit, libtorrent (default and high-performance settings) and WebTorrent, in the same run.
 * Reports throughput, the leecher's CPU seconds per GiB and its peak RSS, with ratios.
 *
 * Env: SIZE_MB (default 1024), PIECE_KB (1024), RUNS (1; each column is the median of its own
 * metric over the runs, RSS with its max),
 * CLIENTS (comma list: bttkit,libtorrent,libtorrent-hp,webtorrent; also bttkit-ref; each one
 * seeds to itself), PAIRS (comma list of seeder>leecher across clients, e.g.
 * `bttkit>libtorrent,libtorrent>bttkit`; with PAIRS and no CLIENTS only the pairs run; with
 * neither, every client runs to itself and the four mixed pairs bttkit ⇄ libtorrent and
 * bttkit ⇄ libtorrent-hp run too, and a summary compares each bttkit role with libtorrent in it),
 * DIR (default /dev/shm), REF_CLI (for `bttkit-ref`: another build's `dist/cli/main.js`, to
 * compare two builds of bttkit in one run; or `name=path,…` for clients `bttkit-<name>`).
 * TRANSPORT=tcp|utp (default tcp): the only transport both sides may use (bttkit `--no-utp` /
 * `--no-tcp`; libtorrent-peer.py `--utp` turns TCP off). ENCRYPTION=none|rc4 (default: each
 * client's own default): none = encryption disabled on both sides, rc4 = forced (bttkit
 * `--encryption forced`, libtorrent pe_forced with RC4 only). WebTorrent takes neither.
 * A libtorrent leecher reports the transport and encryption of its connection (checked: a run
 * that fell back to another transport or to plaintext fails).
 * VERSIONS (or VERSION)=1|2|hybrid, a comma list (default 1): the torrent's BEP 52 version. Each
 * torrent is created once per run from the same data and every client downloads that same
 * torrent (so a v2 run has bttkit and libtorrent verify the same SHA-256 Merkle trees). With more
 * than one version the rows are labelled `(v1)`, `(v2)`, `(hybrid)`, "vs libtorrent" compares
 * with libtorrent on the same version, and a column gives each row's MB/s against the same pair
 * on v1 (when 1 is in the list): the ratio of the medians, and with RUNS > 1 the median of the
 * ratios of each round's two runs, which ran back to back ("paired"). WebTorrent reads no v2
 * torrent: its v2 runs fail and are reported as such.
 *
 * The seeder's CPU is measured too (from /proc, between "seeding" and the leecher's exit): for
 * a Node seeder it is main-thread work that shares the two cores with the leecher.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createTorrent } from '../src/metainfo/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const SIZE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const PIECE = Number(process.env.PIECE_KB ?? 1024) * 1024;
const RUNS = Number(process.env.RUNS ?? 1);
const PAIRS = (process.env.PAIRS ?? '')
  .split(',')
  .filter((p) => p !== '')
  .map((p) => {
    const [seeder, leecher, ...rest] = p.split('>');
    if (!seeder || !leecher || rest.length > 0) throw new Error(`PAIRS: ${p} is not seeder>leecher`);
    return { seeder, leecher };
  });
/** With neither CLIENTS nor PAIRS: every client to itself and the mixed bttkit/libtorrent pairs. */
const DEFAULT_RUN = process.env.CLIENTS === undefined && PAIRS.length === 0;
if (DEFAULT_RUN)
  for (const lt of ['libtorrent', 'libtorrent-hp'])
    PAIRS.push({ seeder: 'bttkit', leecher: lt }, { seeder: lt, leecher: 'bttkit' });
const CLIENTS = (
  process.env.CLIENTS ??
  (PAIRS.length > 0 && !DEFAULT_RUN ? '' : 'bttkit,libtorrent,libtorrent-hp,webtorrent')
)
  .split(',')
  .filter((c) => c !== '');
const TRANSPORT = process.env.TRANSPORT ?? 'tcp';
if (TRANSPORT !== 'tcp' && TRANSPORT !== 'utp') throw new Error('TRANSPORT is tcp or utp');
const ENCRYPTION = process.env.ENCRYPTION;
if (ENCRYPTION !== undefined && ENCRYPTION !== 'none' && ENCRYPTION !== 'rc4')
  throw new Error('ENCRYPTION is none or rc4');
const VERSIONS = (process.env.VERSIONS ?? process.env.VERSION ?? '1')
  .split(',')
  .filter((v) => v !== '')
  .map((v): TorrentVersion => {
    if (v === '1' || v === '2') return Number(v) as 1 | 2;
    if (v === 'hybrid') return v;
    throw new Error(`VERSIONS: ${v} is not 1, 2 or hybrid`);
  });
if (VERSIONS.length === 0) throw new Error('VERSIONS is empty');
type TorrentVersion = 1 | 2 | 'hybrid';
/** The label suffix of a version: none when only v1 runs (the labels stay as they were). */
const versionTag = (v: TorrentVersion): string =>
  VERSIONS.length === 1 && v === 1 ? '' : ` (${v === 'hybrid' ? 'hybrid' : `v${v}`})`;
const BASE = mkdtempSync(join(process.env.DIR ?? '/dev/shm', 'bttkit-bench-'));
const CLI = join(ROOT, 'dist/cli/main.js');
/**
 * REF_CLI: one other build's CLI (client `bttkit-ref`), or several as `name=path,name=path`
 * (clients `bttkit-<name>`), e.g. to bisect a change over several commits in one run.
 */
const REF_CLIS: Record<string, string> = {};
for (const item of (process.env.REF_CLI ?? '').split(',').filter((x) => x !== '')) {
  const eq = item.indexOf('=');
  if (eq < 0) REF_CLIS['bttkit-ref'] = item;
  else REF_CLIS[`bttkit-${item.slice(0, eq)}`] = item.slice(eq + 1);
}
let nextPort = 41000 + Math.floor(Math.random() * 1000) * 10;

interface Peer {
  seed(torrent: string, dir: string, port: number): string[];
  leech(torrent: string, dir: string, port: number, seederPort: number): string[];
}

const node = process.execPath;
const wtImport = ['--import', join(ROOT, 'bench/peers/no-webrtc.mjs')];

/**
 * The transport and encryption flags for one bttkit build. A build whose CLI has no
 * `--no-utp` (before uTP) speaks TCP only and plaintext only: TRANSPORT=tcp and ENCRYPTION unset
 * or none need no flag there; anything else is an error rather than a silent TCP/plaintext run.
 */
function bttkitFlags(cli: string): string[] {
  const help = spawnSync(node, [cli, 'download', '--help'], { encoding: 'utf8' }).stdout ?? '';
  const hasUtp = help.includes('--no-utp');
  const hasEnc = help.includes('--encryption');
  const flags: string[] = [];
  if (TRANSPORT === 'utp') {
    if (!hasUtp) throw new Error(`${cli} has no uTP (no --no-tcp): TRANSPORT=utp cannot run it`);
    flags.push('--no-tcp');
  } else if (hasUtp) flags.push('--no-utp');
  if (ENCRYPTION === 'rc4') {
    if (!hasEnc) throw new Error(`${cli} has no --encryption: ENCRYPTION=rc4 cannot run it`);
    flags.push('--encryption', 'forced');
  } else if (ENCRYPTION === 'none' && hasEnc) flags.push('--encryption', 'disabled');
  // Like libtorrent-peer.py (enable_upnp/natpmp/lsd off): no router probing or LAN multicast on
  // loopback. (With it on, each process also boots the port-mapping worker, ~150 ms of CPU.)
  if (help.includes('--no-port-mapping')) flags.push('--no-port-mapping');
  if (help.includes('--no-lsd')) flags.push('--no-lsd');
  return flags;
}

function bttkitPeer(cli: string): Peer {
  let flags: string[] | undefined;
  const f = () => {
    flags ??= bttkitFlags(cli);
    return flags;
  };
  return {
    seed: (t, d, p) => [node, cli, 'seed', t, d, '--port', String(p), '--json', '--no-dht', ...f()],
    leech: (t, d, _p, s) => [
      node,
      cli,
      'download',
      t,
      '-o',
      d,
      '--peer',
      `127.0.0.1:${s}`,
      '--json',
      '--no-dht',
      ...f(),
    ],
  };
}

/** libtorrent-peer.py's transport and encryption flags. */
const LT_FLAGS = [
  ...(TRANSPORT === 'utp' ? ['--utp'] : []),
  ...(ENCRYPTION !== undefined ? ['--enc', ENCRYPTION] : []),
];

const peers: Record<string, Peer> = {
  bttkit: bttkitPeer(CLI),
  ...Object.fromEntries(Object.entries(REF_CLIS).map(([name, cli]) => [name, bttkitPeer(cli)])),
  libtorrent: {
    seed: (t, d, p) => [
      '/usr/bin/python3',
      join(ROOT, 'bench/peers/libtorrent-peer.py'),
      'seed',
      t,
      d,
      String(p),
      ...LT_FLAGS,
    ],
    leech: (t, d, p, s) => [
      '/usr/bin/python3',
      join(ROOT, 'bench/peers/libtorrent-peer.py'),
      'leech',
      t,
      d,
      String(p),
      String(s),
      ...LT_FLAGS,
    ],
  },
  'libtorrent-hp': {
    seed: (t, d, p) => [
      '/usr/bin/python3',
      join(ROOT, 'bench/peers/libtorrent-peer.py'),
      'seed',
      t,
      d,
      String(p),
      ...LT_FLAGS,
      'hp',
    ],
    leech: (t, d, p, s) => [
      '/usr/bin/python3',
      join(ROOT, 'bench/peers/libtorrent-peer.py'),
      'leech',
      t,
      d,
      String(p),
      String(s),
      ...LT_FLAGS,
      'hp',
    ],
  },
  webtorrent: {
    seed: (t, d, p) => [
      node,
      ...wtImport,
      join(ROOT, 'bench/peers/webtorrent-peer.mjs'),
      'seed',
      t,
      d,
      String(p),
    ],
    leech: (t, d, p, s) => [
      node,
      ...wtImport,
      join(ROOT, 'bench/peers/webtorrent-peer.mjs'),
      'leech',
      t,
      d,
      String(p),
      String(s),
    ],
  },
};

function waitForLine(
  child: ChildProcess,
  test: (line: string) => boolean,
  ms: number,
  what: string,
): Promise<string> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
    if (!child.stdout) return rej(new Error('no stdout'));
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      if (test(line)) {
        clearTimeout(timer);
        res(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${what}: process exited with ${code}`));
    });
  });
}

interface Result {
  seconds: number;
  cpu: number;
  rssMiB: number;
  /** Seeder CPU seconds while the leecher ran (NaN where /proc is missing). */
  seederCpu: number;
}

/** User + system CPU seconds of a process so far, from /proc (NaN if unavailable). */
function procCpu(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function fileSha1(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A libtorrent leecher's last line names its connections' transport and encryption: check them. */
function checkConnections(name: string, lines: readonly string[]): void {
  const done = lines.map((l) => l.trim()).find((l) => l.startsWith('{') && l.includes('"connections"'));
  if (!done) return; // not libtorrent
  const conns = (JSON.parse(done) as { connections: { utp: boolean; rc4: boolean }[] }).connections;
  if (conns.length === 0) throw new Error(`${name}: the libtorrent leecher saw no connection`);
  for (const c of conns) {
    if (c.utp !== (TRANSPORT === 'utp'))
      throw new Error(`${name}: the leecher's connection was not ${TRANSPORT}`);
    if (ENCRYPTION !== undefined && c.rc4 !== (ENCRYPTION === 'rc4'))
      throw new Error(`${name}: the leecher's connection was ${c.rc4 ? '' : 'not '}RC4-encrypted`);
  }
}

async function runOnce(
  name: string,
  seedPeer: Peer,
  leechPeer: Peer,
  torrent: string,
  dataDir: string,
  want: string,
): Promise<Result> {
  const seedPort = nextPort++;
  const leechPort = nextPort++;
  const out = join(BASE, `out-${name.replace(/\W+/g, '_')}`);
  rmSync(out, { recursive: true, force: true });
  const [scmd, ...sargs] = seedPeer.seed(torrent, dataDir, seedPort);
  const seeder = spawn(scmd as string, sargs, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await waitForLine(seeder, (l) => l.includes('seeding'), 180_000, `${name} seeder`);
    const seederCpu0 = procCpu(seeder.pid);
    const timeFile = join(BASE, `time-${name.replace(/\W+/g, '_')}`);
    const leechCmd = leechPeer.leech(torrent, out, leechPort, seedPort);
    const leecher = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', ...leechCmd], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let leecherOut = '';
    const code = await new Promise<number | null>((res, rej) => {
      const timer = setTimeout(() => {
        leecher.kill('SIGKILL');
        rej(new Error(`${name} leecher timed out`));
      }, 600_000);
      leecher.stdout?.setEncoding('utf8');
      leecher.stdout?.on('data', (d: string) => {
        if (leecherOut.length < 1 << 16) leecherOut += d;
      });
      leecher.once('exit', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    const seederCpu = procCpu(seeder.pid) - seederCpu0;
    if (code !== 0) throw new Error(`${name} leecher exited with ${code}`);
    checkConnections(name, leecherOut.split('\n'));
    const fh = await open(timeFile);
    const [elapsed, user, sys, rssKb] =
      (await fh.readFile('utf8')).trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
    await fh.close();
    const got = await fileSha1(join(out, 'data.bin'));
    if (got !== want) throw new Error(`${name}: downloaded data differs`);
    return {
      seconds: elapsed ?? 0,
      cpu: (user ?? 0) + (sys ?? 0),
      rssMiB: (rssKb ?? 0) / 1024,
      seederCpu,
    };
  } finally {
    seeder.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: npm run build');
  const dataDir = join(BASE, 'seed');
  const dataFile = join(dataDir, 'data.bin');
  await (await import('node:fs/promises')).mkdir(dataDir, { recursive: true });
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
  // One torrent per version, created once and downloaded by every client of the run.
  const torrentFiles = new Map<TorrentVersion, string>();
  for (const version of VERSIONS) {
    const t0 = performance.now();
    const { torrent } = await createTorrent(dataFile, { pieceLength: PIECE, version });
    const torrentFile = join(BASE, `data-${version}.torrent`);
    writeFileSync(torrentFile, torrent);
    torrentFiles.set(version, torrentFile);
    if (VERSIONS.length > 1 || version !== 1)
      console.error(
        `torrent ${versionTag(version).trim()}: ${torrent.length} bytes, created in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
  }
  const want = await fileSha1(dataFile);

  // Round-robin over the runs (run 1 of each, then run 2…) so that a change in the machine's
  // load during the benchmark falls on all of them alike.
  const gib = SIZE / 1024 ** 3;
  const pairs = [
    ...CLIENTS.map((c) => ({ seeder: c, leecher: c })),
    ...PAIRS.filter((p) => !CLIENTS.includes(p.seeder) || p.seeder !== p.leecher),
  ];
  // Pair by pair, each pair's versions back to back: a ratio v2/v1 compares neighbours in time.
  const runs = pairs.flatMap((p) =>
    VERSIONS.map((version) => ({
      ...p,
      version,
      pair: `${p.seeder} → ${p.leecher}`,
      label: `${p.seeder} → ${p.leecher}${versionTag(version)}`,
    })),
  );
  const all = new Map<string, Result[]>();
  /** Each row's results by round, for ratios between runs of the same round. */
  const byRound = new Map<string, Map<number, Result>>();
  for (const run of runs) {
    for (const c of [run.seeder, run.leecher]) {
      if (!peers[c]) throw new Error(`unknown client ${c}`);
      if (c === 'webtorrent' && (TRANSPORT !== 'tcp' || ENCRYPTION !== undefined))
        throw new Error('webtorrent-peer.mjs takes neither TRANSPORT=utp nor ENCRYPTION');
    }
    all.set(run.label, []);
    byRound.set(run.label, new Map());
  }
  for (let r = 0; r < RUNS; r++) {
    for (const run of runs) {
      const name = run.label;
      try {
        const res = await runOnce(
          name,
          peers[run.seeder] as Peer,
          peers[run.leecher] as Peer,
          torrentFiles.get(run.version) as string,
          dataDir,
          want,
        );
        all.get(name)?.push(res);
        byRound.get(name)?.set(r, res);
        console.error(
          `${name} run ${r + 1}: ${(SIZE / 1e6 / res.seconds).toFixed(1)} MB/s, leecher ${(res.cpu / gib).toFixed(2)} CPU-s/GiB, seeder ${(res.seederCpu / gib).toFixed(2)}, ${res.rssMiB.toFixed(0)} MiB; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
        );
      } catch (e) {
        console.error(`${name}: ${(e as Error).message}`);
      }
    }
  }
  const results = new Map<string, { median: Result; all: Result[] }>();
  for (const [name, rs] of all) {
    if (rs.length === 0) continue;
    rs.sort((a, b) => a.seconds - b.seconds);
    results.set(name, { median: rs[Math.floor(rs.length / 2)] as Result, all: rs });
  }

  const mbps = (r: Result) => SIZE / 1e6 / r.seconds;
  const versionOf = new Map(runs.map((r) => [r.label, r]));
  /** The median of `pair` on `version`, if it ran. */
  const medianOf = (pair: string, version: TorrentVersion) =>
    results.get(`${pair}${versionTag(version)}`)?.median;
  const withV1 = VERSIONS.length > 1 && VERSIONS.includes(1);
  /** The median over the rounds where both ran of `f(row's run, v1 run)`: neighbours in time. */
  const pairedV1 = (label: string, pair: string, f: (r: Result, v1: Result) => number) => {
    const v1Runs = byRound.get(`${pair}${versionTag(1)}`);
    const rs = [...(byRound.get(label) ?? [])]
      .flatMap(([round, r]) => {
        const v1 = v1Runs?.get(round);
        return v1 ? [f(r, v1)] : [];
      })
      .sort((a, b) => a - b);
    return rs.length === 0 ? undefined : (rs[Math.floor(rs.length / 2)] as number);
  };
  const fmt = (n: number) => (n >= 20 ? n.toFixed(0) : n.toFixed(1));
  console.log(
    `${(SIZE / 1024 ** 2).toFixed(0)} MiB, ${PIECE / 1024} KiB pieces, loopback, ${process.env.DIR ?? '/dev/shm'}; transport ${TRANSPORT}, encryption ${ENCRYPTION ?? "each client's default"}; median of ${RUNS}; leecher process measured (wall time incl. start-up)`,
  );
  console.log(
    `| seeder → leecher | MB/s (runs) | leecher CPU s/GiB | seeder CPU s/GiB | leecher peak RSS MiB | MB/s vs WebTorrent | MB/s vs libtorrent |${withV1 ? ' MB/s vs v1 | leecher CPU vs v1 |' : ''}`,
  );
  console.log(`|---|---|---|---|---|---|---|${withV1 ? '---|---|' : ''}`);
  const ratio = (a: number, b: number | undefined) => (b === undefined ? '–×' : `${(a / b).toFixed(2)}×`);
  /** The median of one metric over a row's runs (each column its own median, not the fastest run's). */
  const med = (rs: readonly Result[], f: (r: Result) => number) => {
    const xs = rs.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)] as number;
  };
  for (const [name, { median: r, all: rs }] of results) {
    const run = versionOf.get(name);
    if (!run) continue;
    const wt = medianOf('webtorrent → webtorrent', run.version);
    const lt = medianOf('libtorrent → libtorrent', run.version);
    const v1 = medianOf(run.pair, 1);
    const range = rs.length > 1 ? ` (${fmt(mbps(rs.at(-1) as Result))}–${fmt(mbps(rs[0] as Result))})` : '';
    const paired = (f: (r: Result, v1: Result) => number) => {
      const x = pairedV1(name, run.pair, f);
      return x === undefined || RUNS === 1 ? '' : ` (paired ${x.toFixed(2)}×)`;
    };
    const vsV1 = withV1
      ? ` ${ratio(mbps(r), v1 && mbps(v1))}${paired((a, b) => b.seconds / a.seconds)} | ${ratio(r.cpu, v1?.cpu)}${paired((a, b) => a.cpu / b.cpu)} |`
      : '';
    console.log(
      `| ${name} | ${fmt(mbps(r))}${range} | ${(med(rs, (x) => x.cpu) / gib).toFixed(2)} | ${(med(rs, (x) => x.seederCpu) / gib).toFixed(2)} | ${med(rs, (x) => x.rssMiB).toFixed(0)} (max ${Math.max(...rs.map((x) => x.rssMiB)).toFixed(0)}) | ${ratio(mbps(r), wt && mbps(wt))} | ${ratio(mbps(r), lt && mbps(lt))} |${vsV1}`,
    );
  }
  if (VERSIONS.length === 1) summary(byRound, results);
}

/**
 * The comparisons of the issue's acceptance, when their runs are there: bttkit in each role
 * against libtorrent in the same role. Each ratio is the median over rounds of the two runs of
 * that round ("paired": neighbours in time), and the ratio of the medians beside it.
 */
function summary(byRound: Map<string, Map<number, Result>>, results: Map<string, { median: Result }>): void {
  const paired = (a: string, b: string, f: (x: Result, y: Result) => number): number | undefined => {
    const bs = byRound.get(b);
    const rs = [...(byRound.get(a) ?? [])]
      .flatMap(([round, x]) => {
        const y = bs?.get(round);
        return y ? [f(x, y)] : [];
      })
      .sort((x, y) => x - y);
    return rs.length === 0 ? undefined : (rs[Math.floor(rs.length / 2)] as number);
  };
  const rows: [string, string, string, number][] = [
    // [what, bttkit row, libtorrent row, at least (MB/s ratio)]
    [
      'bttkit → bttkit vs libtorrent-hp → libtorrent-hp',
      'bttkit → bttkit',
      'libtorrent-hp → libtorrent-hp',
      1.2,
    ],
    [
      'bttkit seeding libtorrent vs libtorrent seeding libtorrent',
      'bttkit → libtorrent',
      'libtorrent → libtorrent',
      1,
    ],
    [
      'bttkit seeding libtorrent-hp vs libtorrent-hp seeding it',
      'bttkit → libtorrent-hp',
      'libtorrent-hp → libtorrent-hp',
      1,
    ],
    [
      'bttkit leeching from libtorrent vs libtorrent leeching',
      'libtorrent → bttkit',
      'libtorrent → libtorrent',
      1,
    ],
    [
      'bttkit leeching from libtorrent-hp vs libtorrent-hp leeching',
      'libtorrent-hp → bttkit',
      'libtorrent-hp → libtorrent-hp',
      1,
    ],
  ];
  const lines: string[] = [];
  for (const [what, a, b, min] of rows) {
    const ra = results.get(a)?.median;
    const rb = results.get(b)?.median;
    if (!ra || !rb) continue;
    const speed = paired(a, b, (x, y) => y.seconds / x.seconds) ?? rb.seconds / ra.seconds;
    const cpu = paired(a, b, (x, y) => x.cpu / y.cpu) ?? ra.cpu / rb.cpu;
    lines.push(
      `| ${what} | ${speed.toFixed(2)}× (medians ${(rb.seconds / ra.seconds).toFixed(2)}×) | ≥ ${min}× | ${speed >= min ? 'yes' : 'no'} | ${cpu.toFixed(2)}× |`,
    );
  }
  if (lines.length === 0) return;
  console.log('\nbttkit in each role against libtorrent in it (paired by round):');
  console.log('| comparison | MB/s ratio | wanted | met | leecher CPU ratio |');
  console.log('|---|---|---|---|---|');
  for (const l of lines) console.log(l);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(BASE, { recursive: true, force: true }));
