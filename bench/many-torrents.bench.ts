/**
 * `npm run bench -- many-torrents`: one process seeding 1,000 small torrents while it downloads
 * one large torrent from a seeder in another process — bttkit (bench/peers/bttkit-many.mjs, the
 * public `Client` API) against libtorrent in one session (bench/peers/libtorrent-many.py), in
 * the same run.
 *
 * Per client and run: a **cold** start (no resume data: every piece hashed) that then downloads
 * the large torrent from a libtorrent seeder and saves resume data at exit, and a **resume**
 * start from that data (bttkit: `resumeDir`; libtorrent: `read_resume_data`). bttkit also runs
 * a resume start with its shared intervals off (`timers: false`: each torrent its own 1 s and
 * 10 s timers, as before #22), to show the timer count before and after.
 * Measured: time from process start to every torrent seeding, pieces hashed (bttkit), RSS then,
 * peak RSS (VmHWM), most open fds and active timers (sampled every 50 ms), the large download's
 * MB/s while seeding the rest.
 *
 * Env: TORRENTS (1000), FILE_KB (256: each torrent's size; every 5th is 3 files), PIECE_KB (32),
 * SIZE_MB (1024: the large torrent, 1 MiB pieces; 0 = none), MAX_OPEN_FILES (128: bttkit
 * `maxOpenFiles`, libtorrent `file_pool_size`), RUNS (1; medians), CLIENTS (bttkit,libtorrent),
 * DIR (/dev/shm).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createTorrent } from '../src/metainfo/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const N = Number(process.env.TORRENTS ?? 1000);
const FILE = Number(process.env.FILE_KB ?? 256) * 1024;
const PIECE = Number(process.env.PIECE_KB ?? 32) * 1024;
const LARGE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const MAX_OPEN_FILES = Number(process.env.MAX_OPEN_FILES ?? 128);
const RUNS = Number(process.env.RUNS ?? 1);
const CLIENTS = (process.env.CLIENTS ?? 'bttkit,libtorrent').split(',').filter((c) => c !== '');
const BASE = mkdtempSync(join(process.env.DIR ?? '/dev/shm', 'bttkit-many-'));
let nextPort = 42000 + Math.floor(Math.random() * 1000) * 10;

type Event = Record<string, number | string | boolean | undefined> & { event: string };

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Runs a child to its exit (bounded), collecting its JSON lines. */
function run(cmd: string[], timeoutMs: number): Promise<Event[]> {
  return new Promise((resolvePromise, reject) => {
    const [bin, ...args] = cmd as [string, ...string[]];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const events: Event[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        events.push(JSON.parse(l) as Event);
      } catch {
        // not ours
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd.slice(0, 2).join(' ')}: no exit in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(events);
      else reject(new Error(`${cmd.slice(0, 2).join(' ')} exited ${code}: ${JSON.stringify(events.at(-1))}`));
    });
  });
}

function waitSeeding(child: ChildProcess): Promise<void> {
  return new Promise((ok, fail) => {
    const rl = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
    rl.on('line', (l) => {
      if (l.includes('"seeding"')) ok();
    });
    child.on('exit', (c) => fail(new Error(`seeder exited ${c}`)));
  });
}

async function makeData(): Promise<{ torrents: { torrent: string; path: string }[]; large?: string }> {
  const data = join(BASE, 'data');
  const tdir = join(BASE, 'torrents');
  mkdirSync(data, { recursive: true });
  mkdirSync(tdir, { recursive: true });
  const torrents: { torrent: string; path: string }[] = [];
  for (let i = 0; i < N; i++) {
    let src: string;
    if (i % 5 === 0) {
      src = join(data, `t${i}`);
      mkdirSync(src);
      const third = Math.floor(FILE / 3);
      for (let f = 0; f < 3; f++)
        writeFileSync(join(src, `f${f}.bin`), randomBytes(f === 2 ? FILE - 2 * third : third));
    } else {
      src = join(data, `t${i}.bin`);
      writeFileSync(src, randomBytes(FILE));
    }
    const { torrent } = await createTorrent(src, { pieceLength: PIECE });
    const file = join(tdir, `t${i}.torrent`);
    writeFileSync(file, torrent);
    torrents.push({ torrent: file, path: data });
  }
  if (LARGE === 0) return { torrents };
  const src = join(BASE, 'large-src');
  mkdirSync(src);
  const chunk = 16 * 1024 * 1024;
  const parts: Buffer[] = [];
  for (let off = 0; off < LARGE; off += chunk) parts.push(randomBytes(Math.min(chunk, LARGE - off)));
  writeFileSync(join(src, 'large.bin'), Buffer.concat(parts));
  parts.length = 0;
  const { torrent } = await createTorrent(join(src, 'large.bin'), { pieceLength: 1024 * 1024 });
  const large = join(BASE, 'large.torrent');
  writeFileSync(large, torrent);
  return { torrents, large };
}

interface Row {
  client: string;
  phase: string;
  seedingS: number;
  addS: number;
  hashed?: number;
  rssMiB: number;
  peakRssMiB: number;
  maxFds: number;
  maxFileFds: number;
  maxTimers?: number;
  firesPerS?: number;
  largeMBps?: number;
  load: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  console.log(
    `data: ${N} torrents of ${FILE / 1024} KiB (${PIECE / 1024} KiB pieces, every 5th 3 files)` +
      (LARGE ? ` + ${LARGE / 2 ** 20} MiB large` : '') +
      ` in ${BASE}; load ${loadavg()}`,
  );
  const { torrents, large } = await makeData();
  let seeder: ChildProcess | undefined;
  let seederPort = 0;
  if (large) {
    seederPort = nextPort++;
    seeder = spawn(
      '/usr/bin/python3',
      [
        join(ROOT, 'bench/peers/libtorrent-peer.py'),
        'seed',
        large,
        join(BASE, 'large-src'),
        String(seederPort),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await waitSeeding(seeder);
  }
  const rows: Row[] = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      for (const client of CLIENTS) {
        const resumeDir = join(BASE, `resume-${client}`);
        const largeDir = join(BASE, `large-${client}`);
        rmSync(resumeDir, { recursive: true, force: true });
        rmSync(largeDir, { recursive: true, force: true });
        mkdirSync(largeDir);
        const phases: {
          phase: string;
          resume: boolean;
          withLarge: boolean;
          timers?: boolean;
          none?: boolean;
        }[] = [
          { phase: 'large alone', resume: false, withLarge: true, none: true },
          { phase: 'cold', resume: false, withLarge: true },
          { phase: 'resume', resume: true, withLarge: false },
        ];
        if (client === 'bttkit')
          phases.push({ phase: 'resume, per-torrent timers', resume: true, withLarge: false, timers: false });
        for (const p of phases) {
          rmSync(largeDir, { recursive: true, force: true });
          mkdirSync(largeDir);
          if (!p.resume) rmSync(resumeDir, { recursive: true, force: true });
          const cfg = {
            torrents: p.none ? [] : torrents,
            port: nextPort++,
            maxOpenFiles: MAX_OPEN_FILES,
            resumeDir,
            resume: p.resume,
            ...(p.timers === false ? { timers: false } : {}),
            ...(p.withLarge && large ? { large: { torrent: large, path: largeDir, seederPort } } : {}),
          };
          const load = loadavg();
          let events: Event[];
          if (client === 'bttkit') {
            // bttkit reads resume data whenever resumeDir has it: the cold run starts with it empty.
            events = await run(
              [process.execPath, join(ROOT, 'bench/peers/bttkit-many.mjs'), JSON.stringify(cfg)],
              900_000,
            );
          } else {
            const file = join(BASE, 'lt-config.json');
            writeFileSync(file, JSON.stringify(cfg));
            events = await run(
              ['/usr/bin/python3', join(ROOT, 'bench/peers/libtorrent-many.py'), file],
              900_000,
            );
          }
          const seeding = events.find((e) => e.event === 'seeding');
          const exit = events.find((e) => e.event === 'exit');
          const idle = events.find((e) => e.event === 'idle');
          const lg = events.find((e) => e.event === 'large');
          if (!seeding || !exit) throw new Error(`${client} ${p.phase}: ${JSON.stringify(events)}`);
          const row: Row = {
            client,
            phase: p.phase,
            seedingS: Number(seeding.ms) / 1000,
            addS: Number(seeding.addMs) / 1000,
            ...(seeding.hashed !== undefined ? { hashed: Number(seeding.hashed) } : {}),
            rssMiB: Number(seeding.rssMiB),
            peakRssMiB: Number(exit.peakRssMiB),
            maxFds: Number(exit.maxFds),
            maxFileFds: Number(exit.maxFileFds),
            ...(exit.maxTimers !== undefined ? { maxTimers: Number(exit.maxTimers) } : {}),
            ...(idle ? { firesPerS: Number(idle.timerFiresPerSecond) } : {}),
            ...(lg ? { largeMBps: Number(lg.mbps) } : {}),
            load,
          };
          rows.push(row);
          console.log(JSON.stringify(row));
        }
      }
    }
  } finally {
    seeder?.kill('SIGKILL');
  }
  report(rows);
}

function report(rows: Row[]): void {
  const keys = [...new Set(rows.map((r) => `${r.client}|${r.phase}`))];
  const med = (k: string, f: (r: Row) => number | undefined): number | undefined => {
    const xs = rows.filter((r) => `${r.client}|${r.phase}` === k).map(f);
    const ok = xs.filter((x): x is number => x !== undefined);
    return ok.length ? median(ok) : undefined;
  };
  const fmt = (x: number | undefined, d = 0) => (x === undefined ? '—' : x.toFixed(d));
  console.log(`\n${N} torrents, RUNS=${RUNS}, medians; load at the end ${loadavg()}`);
  const head = [
    'client',
    'start',
    'process start → all seeding, s',
    'vs libtorrent',
    'first add → all seeding, s',
    'pieces hashed',
    'RSS then, MiB',
    'peak RSS, MiB',
    'most fds (of them data files)',
    'most timers',
    'timer calls/s',
    'large MB/s',
  ];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const k of keys) {
    const [client, phase] = k.split('|') as [string, string];
    const s = med(k, (r) => r.seedingS);
    const lt = med(`libtorrent|${phase.startsWith('resume') ? 'resume' : phase}`, (r) => r.seedingS);
    const alone = phase === 'large alone';
    const ratio =
      s !== undefined && lt !== undefined && client !== 'libtorrent' && !alone
        ? `${(s / lt).toFixed(2)}×`
        : '—';
    const cells = [
      client,
      alone ? 'the large torrent alone' : phase,
      alone ? '—' : fmt(s, 2),
      ratio,
      alone
        ? '—'
        : fmt(
            med(k, (r) => r.addS),
            2,
          ),
      fmt(med(k, (r) => r.hashed)),
      alone ? '—' : fmt(med(k, (r) => r.rssMiB)),
      fmt(med(k, (r) => r.peakRssMiB)),
      `${fmt(med(k, (r) => r.maxFds))} (${fmt(med(k, (r) => r.maxFileFds))})`,
      fmt(med(k, (r) => r.maxTimers)),
      fmt(med(k, (r) => r.firesPerS)),
      fmt(med(k, (r) => r.largeMBps)),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(BASE, { recursive: true, force: true }));
