import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeResults } from '../../src/sim/output.js';
import { runSwarm, type SwarmResult } from '../../src/sim/run.js';
import type { ScenarioInput } from '../../src/sim/scenario.js';
import { CLI, runOk, tempDir } from '../helpers/run.js';

const MiB = 1024 * 1024;

/** A small swarm with every strategy: seeds that sell slots, payers, tit-for-tat, a free-rider, churn. */
const mixed: ScenarioInput = {
  name: 'mixed',
  seed: 42,
  file: { size: '3 MiB', pieceLength: '128 KiB' },
  groups: [
    { name: 'seed', count: 1, seed: true, upload: '2 MiB/s', download: '2 MiB/s', strategy: 'auction' },
    { name: 'payers', count: 3, upload: '512 KiB/s', download: '4 MiB/s', strategy: 'auction', budget: '10' },
    { name: 'prop', count: 2, upload: '512 KiB/s', download: '4 MiB/s', strategy: 'propshare', budget: '5' },
    {
      name: 'tft',
      count: 3,
      upload: '256 KiB/s',
      download: '2 MiB/s',
      arrival: { kind: 'poisson', ratePerSecond: 2 },
    },
    { name: 'rider', count: 1, upload: '256 KiB/s', download: '2 MiB/s', strategy: 'free-rider' },
    {
      name: 'churner',
      count: 2,
      upload: '256 KiB/s',
      download: '1 MiB/s',
      departure: { kind: 'churn', meanOnlineSeconds: 2, meanOfflineSeconds: 1 },
    },
  ],
  settings: { rechokeIntervalMs: 2000 },
  sampleSeconds: 0.5,
};

const dirs: (() => void)[] = [];
afterAll(() => {
  for (const d of dirs) d();
});

describe('runSwarm', () => {
  let first: SwarmResult;

  it('completes a mixed swarm; the same scenario and seed give identical JSON', async () => {
    first = await runSwarm(mixed);
    const second = await runSwarm(mixed);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(first.completion.completed).toBe(first.completion.leechers);
    expect(first.completion.leechers).toBe(11);
    expect(first.completion.ratioToBound).toBeGreaterThanOrEqual(1);
    // Money moved, exactly, and the ledger's invariant held.
    expect(first.ledger?.invariantHolds).toBe(true);
    expect(Number(first.ledger?.paid)).toBeGreaterThan(0);
    const payers = first.groups.find((g) => g.name === 'payers');
    expect(Number(payers?.bttPaid)).toBeGreaterThan(0);
    const seedEarned = first.groups.find((g) => g.name === 'seed')?.bttEarned;
    expect(Number(seedEarned)).toBeGreaterThan(0);
    // Nobody who cannot pay paid; the free-rider uploaded nothing; churners came back.
    for (const g of ['tft', 'rider', 'churner'])
      expect(first.groups.find((x) => x.name === g)?.bttPaid).toBe('0');
    expect(first.peers.find((p) => p.group === 'rider')?.uploaded).toBe(0);
    expect(first.peers.filter((p) => p.group === 'churner').some((p) => p.sessions > 1)).toBe(true);
    // Poisson arrivals are spread out.
    const joins = first.peers.filter((p) => p.group === 'tft').map((p) => p.joinedAt ?? 0);
    expect(new Set(joins).size).toBe(3);
  }, 120_000);

  it('gives another result for another seed', async () => {
    const other = await runSwarm(mixed, { seed: 43 });
    expect(other.seed).toBe(43);
    expect(JSON.stringify(other.peers)).not.toBe(JSON.stringify(first.peers));
  }, 60_000);

  it('no peer sent or received more than its capacity allows', () => {
    const segment = 16_397;
    for (const p of first.peers) {
      const online = (p.leftAt ?? first.simulatedSeconds) - (p.joinedAt ?? 0);
      // Churners were online only part of that span: the bound still holds (it is looser).
      expect(p.wireSent).toBeLessThanOrEqual(p.upload * online + segment);
      expect(p.wireReceived).toBeLessThanOrEqual(p.download * online + segment);
    }
    // And the transfers used the links: the fastest payer received the file in well under 3 s at 4 MiB/s... but
    // never faster than its download capacity allows.
    for (const p of first.peers.filter((x) => !x.seed && x.downloadSeconds !== null))
      expect(p.downloadSeconds).toBeGreaterThanOrEqual((3 * MiB) / p.download);
  });

  it('writes JSON, CSV and SVG plots', async () => {
    const { path, cleanup } = tempDir('bttkit-sim-');
    dirs.push(cleanup);
    const files = await writeResults(first, path);
    expect(files.map((f) => f.slice(path.length + 1)).sort()).toEqual([
      'btt-earned.svg',
      'completion-cdf.svg',
      'download-rate.svg',
      'peers.csv',
      'result.json',
      'series.csv',
      'summary.txt',
    ]);
    expect(JSON.parse(await readFile(join(path, 'result.json'), 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(first)),
    );
    const peers = (await readFile(join(path, 'peers.csv'), 'utf8')).trim().split('\n');
    expect(peers[0]?.startsWith('id,group,strategy,seed')).toBe(true);
    expect(peers).toHaveLength(first.peers.length + 1);
    const series = (await readFile(join(path, 'series.csv'), 'utf8')).trim().split('\n');
    expect(series).toHaveLength(1 + first.peers.length * first.series.seconds.length);
    for (const svg of ['btt-earned.svg', 'completion-cdf.svg', 'download-rate.svg']) {
      const text = await readFile(join(path, svg), 'utf8');
      expect(text.startsWith('<?xml')).toBe(true);
      expect(text).toContain('</svg>');
      expect(text).not.toMatch(/NaN|Infinity/);
    }
    const summary = await readFile(join(path, 'summary.txt'), 'utf8');
    expect(summary).toContain('fluid bound T >= max(');
    expect(summary).toContain('× the bound');
  });
});

describe('large blocks (settings.blockSize)', () => {
  it('a swarm of bttkit peers agreeing on 64 KiB blocks completes; a bad size is refused', async () => {
    const scenario: ScenarioInput = {
      file: { size: '2 MiB', pieceLength: '256 KiB' },
      settings: { blockSize: 65536 },
      groups: [
        { name: 'seed', count: 1, seed: true, upload: '2 MiB/s', download: '2 MiB/s' },
        { name: 'l', count: 4, upload: '512 KiB/s', download: '2 MiB/s' },
      ],
    };
    const r = await runSwarm(scenario);
    expect(r.completion.completed).toBe(4);
    // Fewer requests reach the seed than with 16 KiB blocks (four times fewer for the same bytes).
    const small = await runSwarm({ ...scenario, settings: {} });
    expect(small.completion.completed).toBe(4);
    const seedIn = (x: typeof r) => x.peers.find((p) => p.seed)?.wireReceived ?? 0;
    expect(seedIn(r)).toBeLessThan(seedIn(small));
    await expect(runSwarm({ ...scenario, settings: { blockSize: 20_000 } })).rejects.toMatchObject({
      code: 'SIM_BAD_SCENARIO',
    });
  }, 60_000);
});

describe('bttkit swarm', () => {
  it('runs a scenario file and prints the bound and its ratio', async () => {
    const { path, cleanup } = tempDir('bttkit-sim-cli-');
    dirs.push(cleanup);
    const file = join(path, 'scenario.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      file,
      JSON.stringify({
        file: { size: '1 MiB' },
        groups: [
          { name: 'seed', count: 1, seed: true, upload: '1 MiB/s', download: '1 MiB/s' },
          { name: 'l', count: 4, upload: '256 KiB/s', download: '1 MiB/s' },
        ],
      }),
    );
    const text = runOk(process.execPath, [CLI, 'swarm', file, '--out', join(path, 'out'), '--seed', '5']);
    expect(text).toMatch(
      /fluid bound T >= max\(F\/u_s 1\.00 s, F\/d_min 1\.00 s, N·F\/\(u_s\+Σu_i\) 2\.00 s\) = 2\.00 s \(swarm\)/,
    );
    expect(text).toMatch(/all leechers done after [\d.]+ s = [\d.]+ × the bound/);
    const json =
      runOk(process.execPath, [CLI, 'swarm', file, '--seed', '5', '--json']).trim().split('\n').pop() ?? '';
    const summary = JSON.parse(json) as {
      seed: number;
      completion: { completed: number; ratioToBound: number };
    };
    expect(summary.seed).toBe(5);
    expect(summary.completion.completed).toBe(4);
    expect(summary.completion.ratioToBound).toBeGreaterThanOrEqual(1);
    const bad = join(path, 'bad.json');
    await writeFile(bad, JSON.stringify({ file: { size: 'x' }, groups: [] }));
    const { run } = await import('../helpers/run.js');
    const r = run(process.execPath, [CLI, 'swarm', bad]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('file.size');
  }, 60_000);
});
