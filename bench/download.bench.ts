/**
 * `npm run bench -- download`: one seeder → one leecher over loopback, each its own process,
 * for bttkit, libtorrent (default and high-performance settings) and WebTorrent, in the same run.
 * Reports throughput, the leecher's CPU seconds per GiB and its peak RSS, with ratios.
 *
 * Env: SIZE_MB (default 1024), PIECE_KB (1024), RUNS (1; the median is reported),
 * CLIENTS (comma list: bttkit,libtorrent,libtorrent-hp,webtorrent; also bttkit-ref),
 * DIR (default /dev/shm), REF_CLI (for `bttkit-ref`: another build's `dist/cli/main.js`, to
 * compare two builds of bttkit in one run).
 *
 * The seeder's CPU is measured too (from /proc, between "seeding" and the leecher's exit): for
 * a Node seeder it is main-thread work that shares the two cores with the leecher.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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
const CLIENTS = (process.env.CLIENTS ?? 'bttkit,libtorrent,libtorrent-hp,webtorrent').split(',');
const BASE = mkdtempSync(join(process.env.DIR ?? '/dev/shm', 'bttkit-bench-'));
const CLI = join(ROOT, 'dist/cli/main.js');
const REF_CLI = process.env.REF_CLI;
let nextPort = 41000 + Math.floor(Math.random() * 1000) * 10;

interface Peer {
  seed(torrent: string, dir: string, port: number): string[];
  leech(torrent: string, dir: string, port: number, seederPort: number): string[];
}

const node = process.execPath;
const wtImport = ['--import', join(ROOT, 'bench/peers/no-webrtc.mjs')];
function bttkitPeer(cli: string): Peer {
  return {
    seed: (t, d, p) => [node, cli, 'seed', t, d, '--port', String(p), '--json', '--no-dht'],
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
    ],
  };
}

const peers: Record<string, Peer> = {
  bttkit: bttkitPeer(CLI),
  ...(REF_CLI ? { 'bttkit-ref': bttkitPeer(REF_CLI) } : {}),
  libtorrent: {
    seed: (t, d, p) => [
      '/usr/bin/python3',
      join(ROOT, 'bench/peers/libtorrent-peer.py'),
      'seed',
      t,
      d,
      String(p),
    ],
    leech: (t, d, p, s) => [
      '/usr/bin/python3',
      join(ROOT, 'bench/peers/libtorrent-peer.py'),
      'leech',
      t,
      d,
      String(p),
      String(s),
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

async function runOnce(
  name: string,
  peer: Peer,
  torrent: string,
  dataDir: string,
  want: string,
): Promise<Result> {
  const seedPort = nextPort++;
  const leechPort = nextPort++;
  const out = join(BASE, `out-${name}`);
  rmSync(out, { recursive: true, force: true });
  const [scmd, ...sargs] = peer.seed(torrent, dataDir, seedPort);
  const seeder = spawn(scmd as string, sargs, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await waitForLine(seeder, (l) => l.includes('seeding'), 180_000, `${name} seeder`);
    const seederCpu0 = procCpu(seeder.pid);
    const timeFile = join(BASE, `time-${name}`);
    const leechCmd = peer.leech(torrent, out, leechPort, seedPort);
    const leecher = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', ...leechCmd], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const code = await new Promise<number | null>((res, rej) => {
      const timer = setTimeout(() => {
        leecher.kill('SIGKILL');
        rej(new Error(`${name} leecher timed out`));
      }, 600_000);
      leecher.stdout?.resume();
      leecher.once('exit', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    const seederCpu = procCpu(seeder.pid) - seederCpu0;
    if (code !== 0) throw new Error(`${name} leecher exited with ${code}`);
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
  const { torrent } = await createTorrent(dataFile, { pieceLength: PIECE });
  const torrentFile = join(BASE, 'data.torrent');
  writeFileSync(torrentFile, torrent);
  const want = await fileSha1(dataFile);

  // Round-robin over the clients (run 1 of each, then run 2…) so that a change in the machine's
  // load during the benchmark falls on all of them alike.
  const gib = SIZE / 1024 ** 3;
  const all = new Map<string, Result[]>();
  for (const name of CLIENTS) {
    if (!peers[name]) throw new Error(`unknown client ${name}`);
    all.set(name, []);
  }
  for (let r = 0; r < RUNS; r++) {
    for (const name of CLIENTS) {
      try {
        const res = await runOnce(name, peers[name] as Peer, torrentFile, dataDir, want);
        all.get(name)?.push(res);
        console.error(
          `${name} run ${r + 1}: ${(SIZE / 1e6 / res.seconds).toFixed(0)} MB/s, leecher ${(res.cpu / gib).toFixed(2)} CPU-s/GiB, seeder ${(res.seederCpu / gib).toFixed(2)}, ${res.rssMiB.toFixed(0)} MiB; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
        );
      } catch (e) {
        console.error(`${name}: ${(e as Error).message}`);
      }
    }
  }
  const results = new Map<string, Result>();
  for (const [name, runs] of all) {
    if (runs.length === 0) continue;
    runs.sort((a, b) => a.seconds - b.seconds);
    results.set(name, runs[Math.floor(runs.length / 2)] as Result);
  }

  const mbps = (r: Result) => SIZE / 1e6 / r.seconds;
  const wt = results.get('webtorrent');
  const lt = results.get('libtorrent');
  console.log(
    `${(SIZE / 1024 ** 2).toFixed(0)} MiB, ${PIECE / 1024} KiB pieces, loopback, ${process.env.DIR ?? '/dev/shm'}; median of ${RUNS}; leecher process measured (wall time incl. start-up)`,
  );
  console.log(
    '| seeder → leecher | MB/s | leecher CPU s/GiB | seeder CPU s/GiB | leecher peak RSS MiB | MB/s vs WebTorrent | MB/s vs libtorrent |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, r] of results) {
    const vsWt = wt ? (mbps(r) / mbps(wt)).toFixed(2) : '–';
    const vsLt = lt ? (mbps(r) / mbps(lt)).toFixed(2) : '–';
    console.log(
      `| ${name} → ${name} | ${mbps(r).toFixed(0)} | ${(r.cpu / gib).toFixed(2)} | ${(r.seederCpu / gib).toFixed(2)} | ${r.rssMiB.toFixed(0)} | ${vsWt}× | ${vsLt}× |`,
    );
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(BASE, { recursive: true, force: true }));
