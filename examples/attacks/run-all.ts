/**
 * Runs every attack scenario of this folder as written (the defaults) and with its defense on and
 * off (its `defense.on` / `defense.off` patches, where it has them), each over several seeds and
 * each run against the same scenario and seed with the attacker group honest (and, for the
 * attacks on payment, with the attacker group a plain peer that never pays), and prints the
 * outcome table (markdown): per row the median over the seeds and the range of the gain.
 * `--write` also puts the table into docs/speed.md between its `attacks:begin` / `attacks:end`
 * markers.
 *
 * Run: `npx tsx examples/attacks/run-all.ts [--write] [--seeds N] [--only name]` (N seeds per row,
 * default 5: the file's seed and the N − 1 after it; about 15 minutes at 5). Every number comes
 * from the scenarios' fixed seeds, so a second run prints the same table.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AttackGain,
  type DefenseMode,
  runAttack,
  type ScenarioInput,
  withDefense,
} from '../../src/sim/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const docs = join(here, '../../docs/speed.md');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const seedCount = Math.max(1, Number(arg('--seeds') ?? 5));
const only = arg('--only');

/** Attacks on payment: their reference also includes a plain peer that never pays. */
const PAYMENT = new Set(['non-payment', 'forged-vouchers', 'unfunded-bids']);

interface Row {
  file: string;
  defense: DefenseMode;
  seeds: number[];
  gains: AttackGain[];
}

const median = (xs: readonly number[]): number | null => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
};
const nums = (xs: readonly (number | null | undefined)[]): number[] =>
  xs.filter((x): x is number => typeof x === 'number');
const s = (x: number | null): string => (x === null ? '—' : x.toFixed(1));
const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
const btt = (x: number | null): string => (x === null ? '' : Math.abs(x) < 0.0005 ? '0' : x.toFixed(3));
const range = (xs: number[]): string =>
  xs.length < 2 ? '' : ` (${(Math.min(...xs) * 100).toFixed(0)}…${(Math.max(...xs) * 100).toFixed(0)})`;

function row(r: Row): string {
  const g0 = r.gains[0] as AttackGain;
  const att = median(nums(r.gains.map((g) => g.attacker.meanSeconds)));
  const hon = median(nums(r.gains.map((g) => g.honest.meanSeconds)));
  const shares = nums(r.gains.map((g) => g.gainShare));
  const free = median(nums(r.gains.map((g) => g.free?.meanSeconds)));
  const overFree = nums(r.gains.map((g) => g.gainOverFreeShare));
  const gainBtt = median(r.gains.map((g) => Number(g.gainBtt)));
  const coalition = g0.beneficiary
    ? median(r.gains.map((g) => Number(g.beneficiary?.coalitionGainBtt ?? Number.NaN)))
    : null;
  const others = Object.keys(g0.othersSlowerSeconds)
    .map((n) => {
      const d = median(nums(r.gains.map((g) => g.othersSlowerSeconds[n])));
      return `${n} ${d === null ? '—' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}`}`;
    })
    .join(', ');
  const freeCols = PAYMENT.has(g0.attack) ? `${s(free)} | ${pct(median(overFree))}${range(overFree)}` : ' | ';
  return `| \`${r.file}\` | ${g0.attack} | ${g0.attacker.count} | ${r.defense} | ${s(att)} | ${s(hon)} | ${pct(median(shares))}${range(shares)} | ${btt(gainBtt)} | ${btt(coalition)} | ${freeCols} | ${others} |`;
}

async function main(): Promise<void> {
  const files = (await readdir(here))
    .filter((f) => f.endsWith('.json') && (only === undefined || f.startsWith(only)))
    .sort();
  const rows: Row[] = [];
  const settings: string[] = [];
  for (const file of files) {
    const input = JSON.parse(await readFile(join(here, file), 'utf8')) as ScenarioInput;
    const defense = input.defense as { setting?: string; on?: unknown; off?: unknown } | undefined;
    const first = input.seed ?? 1;
    const seeds = Array.from({ length: seedCount }, (_, k) => first + k);
    settings.push(`- \`${file}\` (seeds ${first}–${first + seedCount - 1}): ${defense?.setting ?? 'none'}`);
    const modes: DefenseMode[] = ['default'];
    if (defense?.on !== undefined) modes.push('on');
    if (defense?.off !== undefined) modes.push('off');
    const payment = input.groups.some((g) => g.attack !== undefined && PAYMENT.has(g.attack));
    for (const mode of modes) {
      const wall = performance.now();
      const byGroup = new Map<string, AttackGain[]>();
      for (const seed of seeds) {
        const { gains } = await runAttack(withDefense(input, mode), { seed, free: payment });
        for (const g of gains) byGroup.set(g.group, [...(byGroup.get(g.group) ?? []), g]);
      }
      process.stderr.write(
        `${file} defense ${mode}: ${((performance.now() - wall) / 1000).toFixed(1)} s wall\n`,
      );
      for (const gains of byGroup.values()) rows.push({ file, defense: mode, seeds, gains });
    }
  }
  const table = [
    `Medians over ${seedCount} seeds per row; the gain's range over them in brackets (%).`,
    '',
    '| scenario | attack | attackers | defense | attacker mean s | honest in its place s | gain in time (range) | gain BTT per peer | coalition gain BTT | plain peer in its place s | gain over a plain peer (range) | others slower, s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(row),
    '',
    'Defense settings ("default" is the scenario as written, with the defaults; "on" and "off" apply its `defense.on` / `defense.off`):',
    '',
    ...settings,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--write') && only === undefined) {
    const text = await readFile(docs, 'utf8');
    const begin = '<!-- attacks:begin -->';
    const end = '<!-- attacks:end -->';
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`docs/speed.md has no ${begin} … ${end} block`);
    await writeFile(docs, `${text.slice(0, a + begin.length)}\n${table}\n${text.slice(b)}`);
    process.stderr.write('docs/speed.md updated\n');
  }
}

await main();
