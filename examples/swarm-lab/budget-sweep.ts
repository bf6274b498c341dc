/**
 * A BTT budget sweep: in an auction swarm with a capped seed, 10 leechers bid with a budget
 * of 0, 1, 5, 20 and 100 BTT against 20 that never pay. Prints the payers' mean download time
 * and what they spent — where extra money stops buying speed.
 *
 * Run: `npx tsx examples/swarm-lab/budget-sweep.ts [--csv]` (in your project: import from
 * 'bttkit/sim').
 */
import { runSwarm } from '../../src/sim/index.js';

const csv = process.argv.includes('--csv');
console.log(
  csv ? 'budget,payers_mean_s,others_mean_s,paid_btt' : 'budget BTT  payers mean s  others mean s  paid BTT',
);
for (const budget of ['0', '1', '5', '20', '100']) {
  const r = await runSwarm({
    name: `budget-${budget}`,
    seed: 11,
    file: { size: '16 MiB' },
    reservePrice: '0.01',
    groups: [
      { name: 'seed', count: 1, seed: true, upload: '2 MiB/s', download: '2 MiB/s', strategy: 'auction' },
      {
        name: 'payers',
        count: 10,
        upload: '256 KiB/s',
        download: '4 MiB/s',
        strategy: 'auction',
        ...(budget !== '0' ? { budget } : {}),
      },
      { name: 'others', count: 20, upload: '256 KiB/s', download: '4 MiB/s', strategy: 'auction' },
    ],
  });
  const payers = r.groups.find((g) => g.name === 'payers');
  const others = r.groups.find((g) => g.name === 'others');
  const row = [budget, payers?.meanDownloadSeconds, others?.meanDownloadSeconds, payers?.bttPaid];
  console.log(
    csv
      ? row.join(',')
      : `${budget.padStart(10)}  ${String(row[1]).padStart(13)}  ${String(row[2]).padStart(13)}  ${row[3]}`,
  );
}
