import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const script = join('scripts', 'build-contracts.mjs');

function check(cwdRoot: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(cwdRoot, script), '--check'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('contracts build (solc-js 0.8.37, deterministic)', () => {
  const copies: string[] = [];
  afterAll(() => {
    for (const d of copies) rmSync(d, { recursive: true, force: true });
  });

  it('--check fails when a contract changed and the artifacts were not rebuilt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bttkit-contracts-'));
    copies.push(dir);
    cpSync(join(root, 'scripts'), join(dir, 'scripts'), { recursive: true });
    cpSync(join(root, 'contracts'), join(dir, 'contracts'), { recursive: true });
    cpSync(join(root, 'src', 'settlement', 'bttc'), join(dir, 'src', 'settlement', 'bttc'), {
      recursive: true,
    });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const file = join(dir, 'contracts', 'BttkitChannel.sol');
    writeFileSync(file, readFileSync(file, 'utf8').replace('PAYOUT_GAS = 100_000', 'PAYOUT_GAS = 100_001'));
    const r = check(dir);
    expect(r.out).toContain('is not what contracts/ compile to');
    expect(r.status).toBe(1);
  });
});
