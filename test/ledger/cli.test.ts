import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerClient, TronKey } from '../../src/ledger/index.js';
import { account, txid } from './world.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.ts');

function serve(dir: string): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'ledger', 'serve', '--port', '0', '--data', dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1], out: () => out });
    });
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe('bttkit ledger serve', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('serves on loopback, stops cleanly on SIGTERM and SIGINT, and keeps its journal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bttkit-cli-'));
    dirs.push(dir);
    const first = await serve(dir);
    const operator = TronKey.fromPrivateKey((await readFile(join(dir, 'operator.key'), 'utf8')).trim());
    const alice = account(30);
    const op = new LedgerClient({ url: first.url, key: operator });
    await op.deposit({ account: alice.address, amount: 12345n, txid: txid('cli'), idempotencyKey: 'cli-1' });
    const ledgerId = (await op.info()).ledgerId;
    const done = exited(first.child);
    first.child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(first.out()).toContain('ledger stopped');

    const second = await serve(dir);
    const again = new LedgerClient({ url: second.url, key: alice });
    expect((await again.info()).ledgerId).toBe(ledgerId);
    expect((await again.getAccount(alice.address)).balance).toBe(12345n);
    const done2 = exited(second.child);
    second.child.kill('SIGINT');
    expect(await done2).toBe(0);
  });

  it('prints usage and exits 2 on a bad subcommand', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'ledger', 'fly'], { stdio: 'ignore' });
    expect(await exited(child)).toBe(2);
  });

  it('starts on a data folder whose first start was killed while writing operator.key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bttkit-cli-key-'));
    dirs.push(dir);
    // What the first start of earlier versions left when killed between creating and writing it.
    await writeFile(join(dir, 'operator.key'), '');
    const s = await serve(dir);
    const key = TronKey.fromPrivateKey((await readFile(join(dir, 'operator.key'), 'utf8')).trim());
    const op = new LedgerClient({ url: s.url, key });
    await op.deposit({
      account: account(31).address,
      amount: 1n,
      txid: txid('key'),
      idempotencyKey: 'key-1',
    });
    const done = exited(s.child);
    s.child.kill('SIGTERM');
    expect(await done).toBe(0);
    // Written atomically: no temporary file left, the key file readable only by its owner.
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect((await stat(join(dir, 'operator.key'))).mode & 0o777).toBe(0o600);
  });
});
