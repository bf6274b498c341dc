/**
 * Runs every attack scenario of this folder as written (the defaults) and with its defense on and
 * off (its `defense.on` / `defense.off` patches, where it has them), each against the same
 * scenario and seed with the attacker group honest, and prints the outcome table (markdown). `--write` also puts the table
 * into docs/sim.md between its `attacks:begin` / `attacks:end` markers.
 *
 * Run: `npx tsx examples/attacks/run-all.ts [--write]` (about a minute; every number comes from
 * the scenarios' fixed seeds, so a second run prints the same table).
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
const docs = join(here, '../../docs/sim.md');

interface Row {
  file: string;
  defense: DefenseMode;
  setting: string;
  gain: AttackGain;
}

const s = (x: number | null): string => (x === null ? '—' : x.toFixed(1));
const btt = (x: string): string => {
  const n = Number(x);
  return Math.abs(n) < 0.0005 ? '0' : n.toFixed(3);
};

function row(r: Row): string {
  const g = r.gain;
  const share = g.gainShare === null ? '' : ` (${(g.gainShare * 100).toFixed(1)} %)`;
  const others = Object.entries(g.othersSlowerSeconds)
    .map(([n, d]) => `${n} ${d === null ? '—' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}`}`)
    .join(', ');
  const coalition = g.beneficiary ? `${btt(g.beneficiary.coalitionGainBtt)}` : '';
  return `| \`${r.file}\` | ${g.attack} | ${g.attacker.count} | ${r.defense} | ${s(g.attacker.meanSeconds)} | ${s(g.honest.meanSeconds)} | ${s(g.gainSeconds)}${share} | ${btt(g.gainBtt)} | ${coalition} | ${others} |`;
}

async function main(): Promise<void> {
  const files = (await readdir(here)).filter((f) => f.endsWith('.json')).sort();
  const rows: Row[] = [];
  const settings: string[] = [];
  for (const file of files) {
    const input = JSON.parse(await readFile(join(here, file), 'utf8')) as ScenarioInput;
    const defense = input.defense as { setting?: string; on?: unknown; off?: unknown } | undefined;
    const setting = defense?.setting ?? 'none';
    settings.push(`- \`${file}\` (seed ${input.seed ?? 1}): ${setting}`);
    const modes: DefenseMode[] = ['default'];
    if (defense?.on !== undefined) modes.push('on');
    if (defense?.off !== undefined) modes.push('off');
    for (const mode of modes) {
      const wall = performance.now();
      const { gains } = await runAttack(withDefense(input, mode));
      process.stderr.write(
        `${file} defense ${mode}: ${((performance.now() - wall) / 1000).toFixed(1)} s wall\n`,
      );
      for (const gain of gains) rows.push({ file, defense: mode, setting, gain });
    }
  }
  const table = [
    '| scenario | attack | attackers | defense | attacker mean s | honest in its place s | gain s (share) | gain BTT per peer | coalition gain BTT | others slower, s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(row),
    '',
    'Defense settings ("default" is the scenario as written, with the defaults; "on" and "off" apply its `defense.on` / `defense.off`):',
    '',
    ...settings,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--write')) {
    const text = await readFile(docs, 'utf8');
    const begin = '<!-- attacks:begin -->';
    const end = '<!-- attacks:end -->';
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`docs/sim.md has no ${begin} … ${end} block`);
    await writeFile(docs, `${text.slice(0, a + begin.length)}\n${table}\n${text.slice(b)}`);
    process.stderr.write('docs/sim.md updated\n');
  }
}

await main();
