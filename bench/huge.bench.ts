/**
 * `npm run bench -- huge`: a 1 TiB torrent in 4 MiB pieces (262,144 pieces), without writing
 * 1 TiB. The content is all zeros, so every piece has the same SHA-1 (hashed once): the .torrent
 * is built at once (5 MiB of `pieces`), and a seeder serves it from sparse files (`ftruncate`:
 * holes read as zeros). Every figure that involves memory comes from a fresh process of its own
 * (bench/peers/huge-peer.ts, run with --expose-gc: RSS after gc, before and after).
 *
 * Cases (CASES, comma list; default all):
 * - `metainfo`: parse time and the parsed object's RSS, one file and FILES files (default 10,000);
 *   baseline: libtorrent's `torrent_info` in the same run.
 * - `add`: a Client adds the torrent for download into an empty folder on DIR (tmpfs): time
 *   until `add()` returns and until `ready`, extra RSS, files created; the same with sparse
 *   files of the full size already there (recheck); baseline: python3-libtorrent adding it.
 * - `partial`: recheck of a PARTIAL_GIB (default 1) GiB sparse file with 64 MiB written (read
 *   whole: holes are compared with zeros, not hashed); baseline: the same size all data.
 * - `picker`: a seed's full bitfield (32 KiB), a half peer's bitfield, 1,000 haves, picking the
 *   first PICK_BLOCKS blocks; baseline: the same at 1 GiB in 1 MiB pieces (1,024 pieces).
 * - `wire`: a PeerWire peer (no BEP 6) connects to a bttkit seeder (its 32 KiB bitfield) and to a
 *   bttkit leecher (sends a 32 KiB bitfield; time until `interested`).
 * - `download`: the first HUGE_MB (default 256) MiB, seeder → leecher on 127.0.0.1, each its own
 *   process: bttkit → bttkit (the seeder is a bttkit Client on sparse files: its recheck finds
 *   files with no allocated block and compares pieces with the zero-piece hash, unread),
 *   libtorrent (seed_mode) → libtorrent (baseline), libtorrent → bttkit, bttkit → libtorrent.
 *   bttkit downloads in sequential mode until HUGE_MB are verified; libtorrent with the other
 *   pieces at priority 0.
 *
 * Env: RUNS (default 5; medians), HUGE_MB, FILES, PICK_BLOCKS (default 4,096), PARTIAL_GIB, DIR (default
 * /dev/shm), CASES, HUGE_MAX_SECONDS (default 120: a download run that takes longer is reported as
 * failed, not waited for).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { encode, parseTorrent } from '../src/metainfo/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.RUNS ?? 5);
const HUGE_MB = Number(process.env.HUGE_MB ?? 256);
const FILES = Number(process.env.FILES ?? 10_000);
const PICK_BLOCKS = Number(process.env.PICK_BLOCKS ?? 4096);
const CASES = (process.env.CASES ?? 'metainfo,add,partial,picker,wire,download').split(',');
// Each download run is bounded (bttkit leecher and libtorrent leecher alike).
process.env.HUGE_MAX_SECONDS ??= '120';
process.env.LT_MAX_SECONDS ??= process.env.HUGE_MAX_SECONDS;
const BASE = mkdtempSync(join(process.env.DIR ?? '/dev/shm', 'bttkit-huge-'));
const PIECE = 4 * 1024 * 1024;
const COUNT = 262_144;
const TOTAL = PIECE * COUNT;
const PEER = join(ROOT, 'bench/peers/huge-peer.ts');
const LT = join(ROOT, 'bench/peers/libtorrent-huge.py');
// Whatever happens, the data and the long-running processes go with this one.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(BASE, { recursive: true, force: true });
});
let nextPort = 43000 + Math.floor(Math.random() * 1000) * 10;
let dirs = 0;
const freshDir = () => {
  const d = join(BASE, `d${dirs++}`);
  mkdirSync(d);
  return d;
};

// ---- the torrents ---------------------------------------------------------------------------

const zeroHash = createHash('sha1').update(new Uint8Array(PIECE)).digest();
const pieces = new Uint8Array(COUNT * 20);
for (let i = 0; i < COUNT; i++) pieces.set(zeroHash, i * 20);
function writeTorrent(name: string, files: { length: number; path: string[] }[] | undefined): string {
  const info = files
    ? { name, 'piece length': PIECE, pieces, files }
    : { name, 'piece length': PIECE, pieces, length: TOTAL };
  const path = join(BASE, `${name}.torrent`);
  writeFileSync(path, encode({ announce: 'http://127.0.0.1:9/announce', info }));
  return path;
}
const each = Math.floor(TOTAL / FILES);
const multiFiles = Array.from({ length: FILES }, (_, i) => ({
  length: i === FILES - 1 ? TOTAL - each * (FILES - 1) : each,
  path: [`d${i % 100}`, `f${i}.bin`],
}));
const torrents = [
  { label: '1 TiB, 1 file', path: writeTorrent('zeros.bin', undefined) },
  { label: `1 TiB, ${FILES.toLocaleString('en')} files`, path: writeTorrent('zeros', multiFiles) },
];

/** Sparse files of the torrent's full size in `dir` (nothing written: all holes). */
function sparse(torrent: string, dir: string): void {
  const meta = parseTorrent(new Uint8Array(readFileSync(torrent)));
  const base = meta.multiFile ? join(dir, meta.name) : dir;
  for (const f of meta.files) {
    const p = join(base, ...f.segments);
    mkdirSync(dirname(p), { recursive: true });
    const fd = openSync(p, 'w');
    ftruncateSync(fd, f.length);
    closeSync(fd);
  }
}

// ---- processes ------------------------------------------------------------------------------

type Json = Record<string, unknown>;
const nodeArgs = ['--expose-gc', '--import', 'tsx'];
function runJson(cmd: string, args: string[]): Json {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  }
  return JSON.parse(line) as Json;
}
const peer = (...args: string[]) => runJson(process.execPath, [...nodeArgs, PEER, ...args]);
const lt = (...args: string[]) => runJson('/usr/bin/python3', [LT, ...args]);

/** Starts a long-running process; resolves with it and its first JSON line. */
function start(cmd: string, args: string[]): Promise<{ child: ChildProcess; first: Json }> {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (l) => resolve({ child, first: JSON.parse(l) as Json }));
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${err}`)));
  });
}
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const num = (o: Json, k: string) => Number(o[k]);
const med = (rows: Json[], k: string) => median(rows.map((r) => num(r, k)));
const range = (rows: Json[], k: string, d = 0) => {
  const xs = rows.map((r) => num(r, k));
  return `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
};
const times = <T>(n: number, fn: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => fn(i));

// ---- cases ----------------------------------------------------------------------------------

const load0 = loadavg();
console.log(
  `1 TiB of zeros in 4 MiB pieces (${COUNT.toLocaleString('en')} pieces), RUNS=${RUNS}, ${new Date().toISOString()}, load ${load0.map((l) => l.toFixed(2)).join(' ')}`,
);

if (CASES.includes('metainfo')) {
  console.log('\n### metainfo: parse (fresh process each run; medians)\n');
  console.log(
    '| torrent | bttkit parseTorrent ms (runs) | parsed object RSS MiB | heap + external MiB | libtorrent torrent_info ms | vs libtorrent |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const t of torrents) {
    const ours = times(RUNS, () => peer('parse', t.path));
    const theirs = times(RUNS, () => lt('add', t.path, freshDir()));
    const a = med(ours, 'ms');
    const b = med(theirs, 'parseMs');
    console.log(
      `| ${t.label} | ${a.toFixed(1)} (${range(ours, 'ms', 1)}) | ${med(ours, 'rssMiB').toFixed(1)} | ${(med(ours, 'heapMiB') + med(ours, 'externalMiB')).toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(2)}× |`,
    );
  }
}

if (CASES.includes('add')) {
  console.log('\n### add: a Client adds it for download (fresh process each run; medians)\n');
  console.log(
    '| torrent | folder | add() ms | until ready ms (runs) | CPU s | extra RSS MiB (runs) | state | files created |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const t of torrents) {
    for (const kind of ['empty', 'sparse files, full size'] as const) {
      const rows = times(RUNS, () => {
        const d = freshDir();
        if (kind !== 'empty') sparse(t.path, d);
        const r = peer('add', t.path, d);
        rmSync(d, { recursive: true, force: true });
        return r;
      });
      console.log(
        `| ${t.label} | ${kind} | ${med(rows, 'addMs').toFixed(1)} | ${med(rows, 'readyMs').toFixed(0)} (${range(rows, 'readyMs')}) | ${med(rows, 'cpuS').toFixed(2)} | ${med(rows, 'rssMiB').toFixed(1)} (${range(rows, 'rssMiB', 1)}) | ${rows[0]?.state} ${Number(rows[0]?.progress) * 100}% | ${rows[0]?.filesCreated} |`,
      );
    }
    const base = times(RUNS, () => {
      const d = freshDir();
      const r = lt('add', t.path, d);
      rmSync(d, { recursive: true, force: true });
      return r;
    });
    console.log(
      `| ${t.label} | empty, **libtorrent** (baseline) | ${med(base, 'addMs').toFixed(1)} | ${med(base, 'readyMs').toFixed(0)} (${range(base, 'readyMs')}) | – | ${med(base, 'rssMiB').toFixed(1)} (${range(base, 'rssMiB', 1)}) | ${base[0]?.state} | – |`,
    );
  }
}

if (CASES.includes('partial')) {
  // What recheck costs over a sparse file that holds some data (read whole: no SEEK_DATA in
  // Node): holes are compared with zeros, not hashed. Baseline: the same size all data.
  const gib = Number(process.env.PARTIAL_GIB ?? 1);
  console.log(
    `\n### partial: recheck of a ${gib} GiB sparse file (4 MiB pieces, 2 hash workers; medians of ${RUNS})\n`,
  );
  console.log('| file | seconds (runs) | GB/s | CPU s (all threads) | vs all data |');
  console.log('|---|---|---|---|---|');
  const rows = (written: string) =>
    times(RUNS, () => {
      const d = freshDir();
      const r = peer('recheck', d, String(gib), written);
      rmSync(d, { recursive: true, force: true });
      return r;
    });
  const data = rows('all');
  const base = med(data, 'seconds');
  for (const [label, rs] of [
    ['64 MiB written, the rest holes', rows('64')],
    ['all data (baseline: hashed)', data],
  ] as const) {
    const sec = med(rs, 'seconds');
    console.log(
      `| ${label} | ${sec.toFixed(2)} (${range(rs, 'seconds', 2)}) | ${(Number(rs[0]?.bytes) / 1e9 / sec).toFixed(2)} | ${med(rs, 'cpuS').toFixed(2)} | ${(base / sec).toFixed(2)}× |`,
    );
  }
}

if (CASES.includes('picker')) {
  console.log(`\n### picker: one process per size (medians of ${RUNS})\n`);
  const sizes = [
    { label: '1 GiB, 1 MiB pieces (baseline)', args: ['1024', '1024'] },
    { label: '1 TiB, 4 MiB pieces', args: [String(COUNT), '4096'] },
  ];
  console.log(
    '| torrent | new picker ms | picker heap MiB | seed bitfield ms | half bitfield ms | have µs | pick µs/block | isInteresting µs | removePeer (half) ms |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const s of sizes) {
    const rows = times(RUNS, () =>
      runJson(process.execPath, [
        ...nodeArgs,
        join(ROOT, 'bench/peers/huge-picker.ts'),
        ...s.args,
        String(PICK_BLOCKS),
      ]),
    );
    const f = (k: string, d = 2) => med(rows, k).toFixed(d);
    console.log(
      `| ${s.label} | ${f('constructMs')} | ${f('pickerHeapMiB', 1)} | ${f('seedBitfieldMs')} | ${f('halfBitfieldMs')} | ${f('haveUs')} | ${f('pickUsPerBlock')} | ${f('interestedUs', 3)} | ${f('removePeerMs')} |`,
    );
  }
}

if (CASES.includes('wire')) {
  console.log('\n### wire: bitfield messages with a PeerWire peer (no BEP 6; medians)\n');
  const single = torrents[0]?.path as string;
  const meta = parseTorrent(new Uint8Array(readFileSync(single)));
  const seeds: Json[] = [];
  const leechs: Json[] = [];
  for (let r = 0; r < RUNS; r++) {
    const port = nextPort++;
    const s = await start(process.execPath, [...nodeArgs, PEER, 'seed', single, freshDir(), String(port)]);
    seeds.push(peer('wire', String(port), meta.infoHash, String(COUNT)));
    await stop(s.child);
    const lport = nextPort++;
    const l = await start(process.execPath, [
      ...nodeArgs,
      PEER,
      'leech',
      single,
      freshDir(),
      String(nextPort++),
      '1',
      String(lport),
    ]);
    leechs.push(peer('wire', String(lport), meta.infoHash, String(COUNT)));
    await stop(l.child);
  }
  // By info-hash from the same seeder: the 5 MiB info dictionary over BEP 9 (320 blocks).
  const magnets: Json[] = [];
  for (let r = 0; r < RUNS; r++) {
    const port = nextPort++;
    const s = await start(process.execPath, [...nodeArgs, PEER, 'seed', single, freshDir(), String(port)]);
    magnets.push(peer('magnet', meta.infoHash, freshDir(), String(port)));
    await stop(s.child);
  }
  const rec = (rows: Json[]) => rows[0]?.received as Json;
  console.log(
    '| bttkit client | it sends | bytes | handshake → its message ms | our 32 KiB bitfield → its `interested` ms |',
  );
  console.log('|---|---|---|---|---|');
  const ms = (rows: Json[]) =>
    rec(rows)?.kind === 'none'
      ? '– (nothing in 2 s)'
      : median(rows.map((r) => Number((r.received as Json).ms))).toFixed(1);
  console.log(
    `| seeding (sparse files, rechecked) | ${rec(seeds)?.kind} | ${rec(seeds)?.bytes} | ${ms(seeds)} | – |`,
  );
  console.log(
    `| downloading (has nothing) | ${rec(leechs)?.kind} | ${rec(leechs)?.bytes} | ${ms(leechs)} | ${med(leechs, 'interestedMs').toFixed(1)} |`,
  );
  console.log(
    `\nAdded by info-hash, the info dictionary (${(meta.infoBytes.length / 1048576).toFixed(1)} MiB) from the bttkit seeder over BEP 9: metadata in ${med(magnets, 'metadataMs').toFixed(0)} ms (${range(magnets, 'metadataMs')}), ready in ${med(magnets, 'readyMs').toFixed(0)} ms, +${med(magnets, 'rssMiB').toFixed(1)} MiB RSS (${magnets[0]?.state}).`,
  );
}

if (CASES.includes('download')) {
  const n = Math.ceil((HUGE_MB * 1024 * 1024) / PIECE);
  console.log(
    `\n### download: the first ${HUGE_MB} MiB (${n} pieces) over TCP on 127.0.0.1 (medians of ${RUNS})\n`,
  );
  const single = torrents[0]?.path as string;
  const seeders = {
    bttkit: (dir: string, port: number) =>
      start(process.execPath, [...nodeArgs, PEER, 'seed', single, dir, String(port)]),
    libtorrent: (dir: string, port: number) => {
      sparse(single, dir);
      return start('/usr/bin/python3', [LT, 'seed', single, dir, String(port)]);
    },
  };
  const leechers = {
    bttkit: (dir: string, seederPort: number) => peer('leech', single, dir, String(seederPort), String(n)),
    libtorrent: (dir: string, seederPort: number) =>
      lt('leech', single, dir, String(nextPort++), String(seederPort), String(n)),
  };
  const pairs = [
    ['libtorrent', 'libtorrent'],
    ['bttkit', 'bttkit'],
    ['libtorrent', 'bttkit'],
    ['bttkit', 'libtorrent'],
  ] as const;
  const results = new Map<string, Json[]>();
  const failures: string[] = [];
  for (let r = 0; r < RUNS; r++) {
    for (const [s, l] of pairs) {
      const port = nextPort++;
      const sd = freshDir();
      const ld = freshDir();
      const seeder = await seeders[s](sd, port);
      const key = `${s} → ${l}`;
      try {
        const row = leechers[l](ld, port);
        results.set(key, [...(results.get(key) ?? []), row]);
      } catch (e) {
        // A stalled run (bounded by HUGE_MAX_SECONDS / LT_MAX_SECONDS) is reported, not fatal.
        failures.push(
          `${key}: ${String(e instanceof Error ? e.message : e)
            .split('\n')[0]
            ?.slice(0, 200)}`,
        );
      } finally {
        await stop(seeder.child);
        rmSync(sd, { recursive: true, force: true });
        rmSync(ld, { recursive: true, force: true });
      }
    }
  }
  for (const f of failures) console.log(`failed run: ${f}`);
  const mbps = (rows: Json[]) => rows.map((x) => Number(x.bytes) / 1e6 / Number(x.seconds));
  const base = median(mbps(results.get('libtorrent → libtorrent') ?? []));
  console.log('| seeder → leecher | MB/s (runs) | vs libtorrent → libtorrent | leecher RSS MiB |');
  console.log('|---|---|---|---|');
  for (const [key, rows] of results) {
    const xs = mbps(rows);
    console.log(
      `| ${key} | ${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}) | ${(median(xs) / base).toFixed(2)}× | ${med(rows, 'rssMiB').toFixed(0)} |`,
    );
  }
}

console.log(
  `\nload average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
rmSync(BASE, { recursive: true, force: true });
