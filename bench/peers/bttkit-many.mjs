/**
 * One bttkit process seeding many torrents, for bench/many-torrents.bench.ts — only the public
 * `Client` API of the built package (`npm run build` first).
 *
 *   node bench/peers/bttkit-many.mjs '<json config>'
 *   config: { torrents: [{ torrent, path }], resumeDir?, maxOpenFiles, port, timers?,
 *             large?: { torrent, path, seederPort } }
 *
 * Prints JSON lines: `seeding` once every torrent is seeding (ms since the process started,
 * RSS, open fds, active timers, pieces hashed so far), `large` when the large torrent finished
 * (seconds, MB/s), `exit` after `client.destroy()` (resume data saved) with the peaks sampled
 * every 50 ms: peak RSS (VmHWM), most fds, most live timers; `idle`: timer callbacks a second
 * over 3 s of seeding.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Client } from '../../dist/session/index.js';
import { sharedHashPool } from '../../dist/storage/index.js';
import { RealClock } from '../../dist/util/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');

const rawSetInterval = setInterval;
// Timers: bttkit's are unref'd, so process.getActiveResourcesInfo() does not list them. Count
// the live intervals and timeouts, and the callbacks they run, at the source.
const live = new Set();
let fires = 0;
for (const [set, clear] of [
  ['setInterval', 'clearInterval'],
  ['setTimeout', 'clearTimeout'],
]) {
  const origSet = globalThis[set];
  const origClear = globalThis[clear];
  const once = set === 'setTimeout';
  globalThis[set] = (fn, ms, ...rest) => {
    const h = origSet(
      (...a) => {
        fires++;
        if (once) live.delete(h);
        return fn(...a);
      },
      ms,
      ...rest,
    );
    live.add(h);
    return h;
  };
  globalThis[clear] = (h) => {
    live.delete(h);
    return origClear(h);
  };
}
const fds = () => readdirSync('/proc/self/fd').length;
/** Descriptors of the torrents' data files (under the folder of the first torrent, and the large one's). */
const dataRoots = [cfg.torrents[0]?.path, cfg.large?.path].filter((p) => p !== undefined);
const fileFds = () => {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`);
      if (dataRoots.some((r) => link.startsWith(r))) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
};
const timers = () => live.size;
const rssMiB = (field = 'VmRSS') => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let maxFds = 0; // sampled by a timer that is not counted
let maxFileFds = 0;
let maxTimers = 0;
const sampler = rawSetInterval(() => {
  maxFds = Math.max(maxFds, fds());
  maxFileFds = Math.max(maxFileFds, fileFds());
  maxTimers = Math.max(maxTimers, timers());
}, 50);

const client = new Client({
  utp: false,
  // `timers: false`: a clock of its own turns the shared intervals off (the "before" of #22).
  ...(cfg.timers === false ? { clock: new RealClock() } : {}),
  ...(cfg.resumeDir ? { resumeDir: cfg.resumeDir } : {}),
  settings: { lsd: false, portMapping: false, maxOpenFiles: cfg.maxOpenFiles ?? 128 },
});
await client.listen(cfg.port, '127.0.0.1');
const t0 = performance.now();
let seeding = 0;
const all = cfg.torrents.map(({ torrent, path }) => {
  const t = client.add(torrent, { path });
  t.on('error', (e) => out({ event: 'error', message: String(e?.message ?? e) }));
  return t;
});
const total = all.length;
await new Promise((resolve) => {
  const check = () => {
    if (seeding === total) resolve();
  };
  for (const t of all) {
    if (t.state === 'seeding') seeding++;
    else
      t.once('ready', () => {
        if (t.state === 'seeding') seeding++;
        else out({ event: 'not-seeding', name: t.name, state: t.state, progress: t.progress });
        check();
      });
  }
  check();
});
maxFds = Math.max(maxFds, fds());
maxTimers = Math.max(maxTimers, timers());
out({
  event: 'seeding',
  count: total,
  ms: performance.now(),
  addMs: performance.now() - t0,
  rssMiB: rssMiB(),
  fds: fds(),
  timers: timers(),
  hashed: sharedHashPool().hashed,
});
// Timer callbacks a second while seeding (the sampler, on the raw setInterval, not counted).
const f0 = fires;
await new Promise((r) => setTimeout(r, 3000));
out({ event: 'idle', timerFiresPerSecond: (fires - f0 - 1) / 3, timers: timers() });

if (cfg.large) {
  const started = performance.now();
  const t = client.add(cfg.large.torrent, {
    path: cfg.large.path,
    peers: [{ host: '127.0.0.1', port: cfg.large.seederPort }],
  });
  await new Promise((resolve) => {
    if (t.done) resolve();
    t.once('done', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  const length = t.info?.length ?? 0;
  out({ event: 'large', seconds, mbps: length / 1e6 / seconds, rssMiB: rssMiB(), fds: fds() });
}

const d0 = performance.now();
await client.destroy();
clearInterval(sampler);
out({
  event: 'exit',
  destroyMs: performance.now() - d0,
  peakRssMiB: rssMiB('VmHWM'),
  maxFds,
  maxFileFds,
  maxTimers,
});
