import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { barChart, cdfChart, lineChart, type Series } from './plot.js';
import type { SwarmResult } from './run.js';

const MB = 1024 * 1024;

function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per peer: the columns of {@link PeerResult}. */
export function peersCsv(result: SwarmResult): string {
  const cols = [
    'id',
    'group',
    'strategy',
    'seed',
    'host',
    'upload',
    'download',
    'joinedAt',
    'completedAt',
    'downloadSeconds',
    'leftAt',
    'sessions',
    'downloaded',
    'uploaded',
    'wireSent',
    'wireReceived',
    'bttPaid',
    'bttEarned',
    'bttRedeemed',
  ] as const;
  const lines = [cols.join(',')];
  for (const p of result.peers) lines.push(cols.map((c) => csvField(p[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/** Long format: `seconds,peer,downloaded,uploaded` (cumulative payload bytes). */
export function seriesCsv(result: SwarmResult): string {
  const lines = ['seconds,peer,downloaded,uploaded'];
  const { seconds, downloaded, uploaded } = result.series;
  for (const p of result.peers) {
    const d = downloaded[p.id] ?? [];
    const u = uploaded[p.id] ?? [];
    for (let i = 0; i < seconds.length; i++)
      lines.push(`${seconds[i]},${csvField(p.id)},${d[i] ?? 0},${u[i] ?? 0}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The three plots of a run, as SVG documents keyed by file name. */
export function plots(result: SwarmResult): Record<string, string> {
  const groups = [...new Set(result.peers.filter((p) => !p.seed).map((p) => p.group))];
  const out: Record<string, string> = {};
  out['completion-cdf.svg'] = cdfChart({
    title: `${result.name}: completion time (fluid bound ${result.bound.seconds.toFixed(1)} s)`,
    xLabel: 'download time (s)',
    series: groups.map((g) => ({
      name: g,
      values: result.peers
        .filter((p) => p.group === g)
        .map((p) => (p.downloadSeconds === null ? Number.POSITIVE_INFINITY : p.downloadSeconds)),
    })),
  });
  // Mean download rate per group over time (MiB/s), from the cumulative samples.
  const { seconds, downloaded } = result.series;
  const rateSeries: Series[] = groups.map((g) => {
    const members = result.peers.filter((p) => p.group === g);
    const points: [number, number][] = [];
    for (let i = 1; i < seconds.length; i++) {
      const dt = (seconds[i] as number) - (seconds[i - 1] as number);
      if (!(dt > 0)) continue;
      let sum = 0;
      let active = 0;
      for (const p of members) {
        const d = downloaded[p.id];
        if (!d) continue;
        const delta = (d[i] ?? 0) - (d[i - 1] ?? 0);
        const joined = p.joinedAt !== null && p.joinedAt <= (seconds[i] as number);
        const busy = p.completedAt === null || p.completedAt >= (seconds[i - 1] as number);
        if (joined && busy) {
          sum += delta / dt;
          active++;
        }
      }
      if (active > 0) points.push([seconds[i] as number, sum / active / MB]);
    }
    return { name: g, points };
  });
  out['download-rate.svg'] = lineChart({
    title: `${result.name}: mean download rate of downloading peers`,
    xLabel: 'time (s)',
    yLabel: 'MiB/s per peer',
    series: rateSeries,
  });
  out['btt-earned.svg'] = barChart({
    title: `${result.name}: BTT earned per peer`,
    xLabel: 'peer',
    yLabel: 'BTT earned',
    bars: result.peers.map((p) => ({ label: p.id, value: Number(p.bttEarned), group: p.group })),
  });
  return out;
}

/** The human summary printed after a run (also `summary.txt`). */
export function summary(result: SwarmResult): string {
  const c = result.completion;
  const b = result.bound;
  const lines = [
    `${result.name} (seed ${result.seed}): ${c.completed}/${c.leechers} leechers completed; ${(result.fileBytes / MB).toFixed(1)} MiB, ${result.simulatedSeconds.toFixed(1)} s simulated, ${result.events} events`,
    `fluid bound T >= max(F/u_s ${b.terms.seed.toFixed(2)} s, F/d_min ${b.terms.download.toFixed(2)} s, N·F/(u_s+Σu_i) ${b.terms.swarm.toFixed(2)} s) = ${b.seconds.toFixed(2)} s (${b.binding})`,
    c.seconds === null
      ? 'not every leecher completed: no ratio to the bound'
      : `all leechers done after ${c.seconds.toFixed(2)} s = ${(c.ratioToBound ?? 0).toFixed(3)} × the bound`,
  ];
  for (const g of result.groups) {
    const t =
      g.meanDownloadSeconds === null
        ? '—'
        : `${g.meanDownloadSeconds.toFixed(1)} s mean, ${g.medianDownloadSeconds?.toFixed(1)} s median`;
    lines.push(
      `  ${g.name.padEnd(14)} ${g.strategy.padEnd(12)} ${String(g.completed).padStart(5)}/${String(g.count).padEnd(5)} ${t}; BTT paid ${g.bttPaid}, earned ${g.bttEarned}`,
    );
  }
  if (result.ledger)
    lines.push(
      `ledger: deposits ${result.ledger.deposits} BTT, vouchers paid ${result.ledger.paid}, redeemed ${result.ledger.redeemed}; invariant ${result.ledger.invariantHolds ? 'holds' : 'BROKEN'}`,
    );
  return `${lines.join('\n')}\n`;
}

/**
 * Writes `result.json`, `peers.csv`, `series.csv`, `summary.txt` and the SVG plots
 * (`completion-cdf.svg`, `download-rate.svg`, `btt-earned.svg`) into `dir` (created).
 * Returns the paths written.
 */
export async function writeResults(result: SwarmResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    'result.json': `${JSON.stringify(result, null, 1)}\n`,
    'peers.csv': peersCsv(result),
    'series.csv': seriesCsv(result),
    'summary.txt': summary(result),
    ...plots(result),
  };
  const paths: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const p = join(dir, name);
    await writeFile(p, text);
    paths.push(p);
  }
  return paths;
}
