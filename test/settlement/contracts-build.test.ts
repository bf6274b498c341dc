import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const script = join('scripts', 'build-contracts.mjs');

function check(cwdRoot: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(cwdRoot, script), '--check'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('contracts build (solc-js 0.8.37, deterministic)', () => {
  it('the committed artifacts are exactly what contracts/ compile to', () => {
    const r = check(root);
    expect(r.out).toContain('is up to date');
    expect(r.status).toBe(0);
  });
});
