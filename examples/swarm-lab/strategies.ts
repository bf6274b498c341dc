/**
 * Tit-for-tat vs auction vs PropShare: the same swarm three times — a capped seed, 10 leechers
 * with a BTT budget and 20 without — with the peers' choking strategy changed. Prints how long
 * each group took and what was paid.
 *
 * Run: `npx tsx examples/swarm-lab/strategies.ts [--out DIR]` (in your project: import from
 * 'bttkit/sim').
 */
import { join } from 'node:path';
import { runSwarm, type ScenarioInput, type SimStrategy, writeResults } from '../../src/sim/index.js';

const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1] : undefined;

function swarm(strategy: SimStrategy): ScenarioInput {
  const paying = strategy !== 'tit-for-tat';
  return {
    name: strategy,
    seed: 7,
    file: { size: '16 MiB' },
    groups: [
      { name: 'seed', count: 1, seed: true, upload: '2 MiB/s', download: '2 MiB/s', strategy },
      {
        name: 'budget',
        count: 10,
        upload: '256 KiB/s',
        download: '4 MiB/s',
        strategy,
        ...(paying ? { budget: '20' } : {}),
      },
      { name: 'no-budget', count: 20, upload: '256 KiB/s', download: '4 MiB/s', strategy },
    ],
    reservePrice: '0.01',
  };
}

console.log('strategy      group        mean s  median s  BTT paid');
for (const strategy of ['tit-for-tat', 'auction', 'propshare'] as const) {
  const r = await runSwarm(swarm(strategy));
  for (const g of r.groups.filter((x) => x.name !== 'seed')) {
    console.log(
      `${strategy.padEnd(13)} ${g.name.padEnd(11)} ${String(g.meanDownloadSeconds).padStart(7)} ${String(g.medianDownloadSeconds).padStart(9)}  ${g.bttPaid}`,
    );
  }
  console.log(
    `${''.padEnd(13)} all done after ${r.completion.seconds} s = ${r.completion.ratioToBound}× the fluid bound`,
  );
  if (out) await writeResults(r, join(out, strategy));
}
