/**
 * The swarm lab at scale (each case in its own process, so that peak RSS is its own):
 *
 * - `flash`: a flash crowd of 100 leechers (1 MiB/s up, 4 MiB/s down) on one seed (4 MiB/s),
 *   FLASH_MB (default 96) MiB — completion time against the fluid-model bound (target ≤ 1.2×).
 * - `scale`: SCALE_PEERS (default 1,000) leechers sharing SCALE_MB (default 100) MiB from 4 seeds —
 *   wall time and peak RSS of the simulation (target: < 5 min, < 4 GiB on 2 cores).
 *
 * `CASES=flash` (or `scale`) runs one. The baseline is the fluid bound itself (same run).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ScenarioInput } from '../src/sim/index.js';
import { runSwarm } from '../src/sim/index.js';

const one = process.env.SIM_BENCH_CASE;

function scenario(name: string): ScenarioInput {
  if (name === 'flash') {
    // Every leecher can reach every other (as with libtorrent's unlimited per-torrent default)
    // and stays once done (the bound assumes everyone uploads to the end); 64 KiB blocks and
    // segments keep the run to a few minutes.
    return {
      name: 'flash-crowd-100',
      file: { size: `${Number(process.env.FLASH_MB ?? 96)} MiB`, pieceLength: '256 KiB' },
      settings: { maxConnectionsPerTorrent: 120, blockSize: 65536, minRequestQueue: 4 },
      network: { segmentBytes: 65536 + 13 },
      groups: [
        { name: 'seed', count: 1, seed: true, upload: '4 MiB/s', download: '4 MiB/s' },
        { name: 'leechers', count: 100, upload: '1 MiB/s', download: '4 MiB/s', departure: { kind: 'stay' } },
      ],
    };
  }
  // The 1,000-peer case. Its cost knobs (docs/sim.md): 1 MiB blocks between these bttkit peers
  // (64× fewer block messages than the wire's 16 KiB) in segments of one block message, 1 MiB
  // pieces, 30 connections per peer (as many as the swarm uses: results barely move, the cost of
  // connections falls by a third), leechers stay to share once done (SCALE_LEAVE=1: they leave).
  const block = Number(process.env.SCALE_BLOCK ?? 1024 * 1024);
  const segment = Number(process.env.SCALE_SEGMENT ?? block + 13);
  return {
    name: `swarm-${process.env.SCALE_PEERS ?? 1000}`,
    file: {
      size: `${Number(process.env.SCALE_MB ?? 100)} MiB`,
      pieceLength: Number(process.env.SCALE_PIECE ?? 1024 * 1024),
    },
    groups: [
      { name: 'seeds', count: 4, seed: true, upload: '8 MiB/s', download: '8 MiB/s' },
      {
        name: 'leechers',
        count: Number(process.env.SCALE_PEERS ?? 1000),
        upload: process.env.SCALE_UP ?? '1 MiB/s',
        download: process.env.SCALE_DOWN ?? '8 MiB/s',
        arrival: { kind: 'poisson', ratePerSecond: Number(process.env.SCALE_ARRIVALS ?? 20) },
        ...(process.env.SCALE_LEAVE ? {} : { departure: { kind: 'stay' as const } }),
      },
    ],
    settings: {
      maxConnectionsPerTorrent: Number(process.env.SCALE_CONNS ?? 30),
      blockSize: block,
      minRequestQueue: Math.max(2, Math.round((1024 * 1024) / block)),
    },
    network: { segmentBytes: segment, windowBytes: Math.max(256 * 1024, 2 * segment) },
    sampleSeconds: 10,
  };
}

if (one) {
  const wall = performance.now();
  const r = await runSwarm(scenario(one), {
    onProgress: (p) =>
      process.stderr.write(
        `  t=${p.time.toFixed(0)} s ${p.completed}/${p.leechers} done, ${p.online} online, ${((performance.now() - wall) / 1000).toFixed(0)} s wall\n`,
      ),
    progressEverySeconds: 30,
  });
  const seconds = (performance.now() - wall) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      name: r.name,
      peers: r.peers.length,
      fileMiB: r.fileBytes / 2 ** 20,
      completed: r.completion.completed,
      leechers: r.completion.leechers,
      simulated: r.simulatedSeconds,
      last: r.completion.seconds,
      bound: r.bound.seconds,
      binding: r.bound.binding,
      ratio: r.completion.ratioToBound,
      meanDownload: r.completion.meanDownloadSeconds,
      events: r.events,
      wallSeconds: Math.round(seconds * 10) / 10,
      cpuSeconds: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1e5) / 10,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    })}\n`,
  );
  process.exit(0);
}

const cases = (process.env.CASES ?? 'flash,scale').split(',');
console.log('machine: see bench/README.md; one process per case\n');
for (const c of cases) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, SIM_BENCH_CASE: c },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    console.log(`${c}: failed (exit ${r.status})`);
    continue;
  }
  const x = JSON.parse(line) as Record<string, number | string | null>;
  console.log(
    `${String(x.name).padEnd(18)} ${x.peers} peers, ${x.fileMiB} MiB: ${x.completed}/${x.leechers} done; last at ${x.last} s, ` +
      `fluid bound ${x.bound} s (${x.binding}) → ${x.ratio}× the bound; ${x.simulated} s simulated in ${x.wallSeconds} s wall (${x.cpuSeconds} CPU-s), ` +
      `${x.events} events, peak RSS ${x.peakRssMiB} MiB`,
  );
}
