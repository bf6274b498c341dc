/**
 * `bttkit demo --chain bttc` as a user runs it (the built CLI, dist/cli/main.js): it starts its
 * own hardhat node, deploys BttkitChannel, runs the demo swarm paying through channels, and
 * reads the chain back. Checked from its output: every channel finished, the seeder's balance
 * change plus its gas equals what it was paid in vouchers, paid = collected, exit status 0; a
 * bad --chain is a usage error (2); without hardhat, CLI_EVM_NODE_MISSING (1).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, run, tempDir } from '../../helpers/run.js';

const tmp = tempDir('bttkit-demo-bttc-');
afterAll(tmp.cleanup);

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
});

describe('bttkit demo --chain bttc', () => {
  it('pays through channels on a local EVM node and collects every BTT paid on chain', () => {
    const r = run(process.execPath, [CLI, 'demo', '--chain', 'bttc', '--size-mib', '8'], {
      cwd: tmp.path,
      timeoutMs: 120_000,
    });
    const out = r.stdout;
    expect(r.stderr, out).toBe('');
    expect(out, out).toMatch(/local EVM node \(hardhat, a test chain on this machine — not BTTC\)/);
    const contract = /BttkitChannel deployed by the seeder at (0x[0-9a-f]{40})/.exec(out)?.[1];
    expect(contract).toBeDefined();
    expect(out).toContain(`on chain — contract ${contract}, chain id 199`);
    // Every leecher finished; the summary table names all five peers.
    for (const name of ['alice', 'bob', 'carol', 'dave'])
      expect(out, out).toMatch(new RegExp(`\\| ${name}\\s+\\|[^|]+\\|\\s+[0-9.]+ s \\|\\s+8\\.00 MiB \\|`));
    // The channel rows: at least one per paying leecher to the seeder, every one finished.
    const rows = [
      ...out.matchAll(
        /^\| (0x[0-9a-f]{8})… \| (\w+) → (\w+)\s+\|[^|]+\|\s+([0-9.]+) \|[^|]+\| (\w+)\s+\|$/gm,
      ),
    ];
    expect(rows.length, out).toBeGreaterThanOrEqual(2);
    for (const m of rows) expect(m[5], out).toBe('finished');
    const paidToSeeder = rows.filter((m) => m[3] === 'seeder' && Number(m[4]) > 0);
    expect(paidToSeeder.length, out).toBeGreaterThanOrEqual(1);
    // The seeder: balance change + gas = what it was paid in vouchers.
    expect(out, out).toMatch(
      /seeder on chain: balance \+[0-9.]+ BTT, gas [0-9.]+ BTT → ([0-9.]+) BTT collected; paid to it in vouchers: \1 BTT → equal/,
    );
    expect(out).toContain("every peer's balance moved by exactly BTT earned − BTT paid − gas: yes");
    const last =
      /paid = collected on chain: ([0-9.]+) BTT paid in vouchers, ([0-9.]+) BTT collected; (\d+) channels all finished → yes/.exec(
        out,
      );
    expect(last, out).not.toBeNull();
    expect(last?.[1]).toBe(last?.[2]);
    expect(Number(last?.[1])).toBeGreaterThan(0);
    expect(Number(last?.[3])).toBe(rows.length);
    expect(out).not.toMatch(/^warning:/m);
    expect(r.status, out).toBe(0);
  }, 150_000);

  it('--chain takes local or bttc: anything else is a usage error', () => {
    const r = run(process.execPath, [CLI, 'demo', '--chain', 'bogus'], { cwd: tmp.path });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--chain takes local or bttc/);
    expect(run(process.execPath, [CLI, 'demo', '--size-mib', '0'], { cwd: tmp.path }).status).toBe(2);
    expect(run(process.execPath, [CLI, 'demo', '--size-mib', '1.5'], { cwd: tmp.path }).status).toBe(2);
  });

  it('without hardhat installed: CLI_EVM_NODE_MISSING on stderr, exit status 1', () => {
    // The built CLI in a package whose node_modules has everything but hardhat.
    const pkg = join(tmp.path, 'pkg');
    mkdirSync(join(pkg, 'node_modules'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === 'hardhat' || name.startsWith('.')) continue;
      symlinkSync(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
    }
    const r = run(
      process.execPath,
      [join(pkg, 'dist', 'cli', 'main.js'), 'demo', '--chain', 'bttc', '--size-mib', '1'],
      {
        cwd: tmp.path,
        timeoutMs: 60_000,
      },
    );
    expect(r.stderr).toMatch(
      /^bttkit: a local EVM node needs the npm package hardhat 2\.x.*\[CLI_EVM_NODE_MISSING\]\n$/,
    );
    expect(r.status).toBe(1);
  });
});
