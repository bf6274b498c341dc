/**
 * `bttkit serve` and `--play` (src/cli/serve.ts): the command line's refusals, a port in use,
 * and `playWith` handing a URL to a player found on PATH (a fake `mpv` script that records its
 * arguments) or saying what to do when there is none. The serve command playing in a browser is
 * test/interop/browser.test.ts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { playWith } from '../src/cli/serve.js';
import { run, tempDir } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

const tmp = tempDir('bttkit-cli-serve-');
afterAll(tmp.cleanup);
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts'), ...args], {
    timeoutMs: 60_000,
  });
const MAGNET = `magnet:?xt=urn:btih:${'ab'.repeat(20)}`;

describe('bttkit serve', () => {
  it('refuses a bad command line with the usage text (exit 2)', () => {
    const noDir = cli('serve', MAGNET);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toContain('serve needs -o <dir>');
    const badPort = cli('serve', MAGNET, '-o', tmp.path, '--http-port', '99999');
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toContain('bad port: 99999');
  });

  it('an HTTP port in use: exit 1 naming EADDRINUSE', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = cli('serve', MAGNET, '-o', tmp.path, '--no-dht', '--http-port', String(port));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/EADDRINUSE/);
      expect(r.stderr).toContain('SESSION_HTTP_LISTEN_FAILED');
    } finally {
      busy.close();
    }
  });
});

describe('playWith', () => {
  it('hands the URL to a player on PATH', async () => {
    const bin = join(tmp.path, 'bin');
    const record = join(tmp.path, 'args.txt');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'mpv'), `#!/bin/sh\necho "$@" > '${record}'\n`);
    chmodSync(join(bin, 'mpv'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = bin;
    const said: string[] = [];
    try {
      const child = playWith('mpv', 'http://127.0.0.1:1234/0', (l) => said.push(l));
      expect(child).toBeDefined();
      await waitFor(
        () => existsSync(record) && readFileSync(record, 'utf8').includes('\n'),
        10_000,
        'mpv to run',
      );
    } finally {
      process.env.PATH = path;
    }
    expect(readFileSync(record, 'utf8').trim()).toBe('--force-window=immediate http://127.0.0.1:1234/0');
    expect(said).toEqual(['playing http://127.0.0.1:1234/0 in mpv']);
  });

  it('says what to do when the player is not installed', () => {
    const path = process.env.PATH;
    process.env.PATH = join(tmp.path, 'nothing-here');
    const said: string[] = [];
    try {
      expect(playWith('vlc', 'http://127.0.0.1:1234/0', (l) => said.push(l))).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
    expect(said).toEqual([
      'vlc is not installed (not on PATH): open http://127.0.0.1:1234/0 in a player or a browser',
    ]);
  });
});
