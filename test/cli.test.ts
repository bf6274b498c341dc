/** The `bttkit` command as built (dist/cli/main.js): every command, as a user runs it. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, parseTorrent } from '../src/metainfo/index.js';
import { CLI, pseudoRandomBytes, run, tempDir } from './helpers/run.js';

const tmp = tempDir('bttkit-cli-');
afterAll(tmp.cleanup);
const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { cwd: tmp.path });

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  mkdirSync(join(tmp.path, 'data', 'sub'), { recursive: true });
  writeFileSync(join(tmp.path, 'data', 'x.bin'), pseudoRandomBytes(200_000, 5));
  writeFileSync(join(tmp.path, 'data', 'sub', 'y.txt'), 'y');
});

describe('bttkit create and info', () => {
  it('creates a torrent and prints its metainfo as one JSON line', () => {
    const c = cli(
      'create',
      'data',
      '-o',
      'out.torrent',
      '--tracker',
      'udp://127.0.0.1:6969',
      '--tracker',
      'http://127.0.0.1:8000/announce',
      '--piece-length',
      '32k',
      '--private',
    );
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/info-hash [0-9a-f]{40}/);
    const meta = parseTorrent(readFileSync(join(tmp.path, 'out.torrent')));

    const r = cli('info', 'out.torrent', '--json');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0] ?? '');
    expect(j).toMatchObject({
      infoHash: meta.infoHash,
      name: 'data',
      pieceLength: 32768,
      pieces: 7,
      length: 200_001,
      private: true,
      files: [
        { path: 'sub/y.txt', length: 1 },
        { path: 'x.bin', length: 200_000 },
      ],
      announce: [['udp://127.0.0.1:6969'], ['http://127.0.0.1:8000/announce']],
    });

    const human = cli('info', 'out.torrent');
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(meta.infoHash);
    expect(human.stdout).toContain('sub/y.txt');
  });

  it('prints a magnet link', () => {
    const ih = 'ab'.repeat(20);
    const r = cli(
      'info',
      `magnet:?xt=urn:btih:${ih}&dn=name&tr=udp%3A%2F%2F127.0.0.1%3A1&x.pe=127.0.0.1:6881`,
      '--json',
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ infoHash: ih, name: 'name', peers: ['127.0.0.1:6881'] });
  });

  it.each([
    [
      'a file that is not a torrent',
      () => writeFileSync(join(tmp.path, 'bad.torrent'), 'hello'),
      ['info', 'bad.torrent'],
    ],
    [
      'a hostile torrent',
      () =>
        writeFileSync(
          join(tmp.path, 'evil.torrent'),
          encode({
            info: {
              name: 'x',
              'piece length': 16384,
              pieces: new Uint8Array(20),
              files: [{ length: 5, path: ['..', 'x'] }],
            },
          }),
        ),
      ['info', 'evil.torrent'],
    ],
    ['a missing file', () => {}, ['info', 'missing.torrent']],
    ['a bad magnet', () => {}, ['info', 'magnet:?xt=urn:btih:123']],
    ['an empty folder', () => mkdirSync(join(tmp.path, 'void'), { recursive: true }), ['create', 'void']],
  ])('refuses %s with one line on stderr and a non-zero exit', (_name, setup, args) => {
    setup();
    const r = cli(...args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^bttkit: /);
    expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+/);
  });

  it('reports usage errors with exit code 2', () => {
    expect(cli('frobnicate').status).toBe(2);
    expect(cli('info').status).toBe(2);
    expect(cli('info', '--bogus', 'x').status).toBe(2);
    const badPolicy = cli('download', 'x.torrent', '-o', 'out', '--encryption', 'maybe');
    expect([badPolicy.status, badPolicy.stderr]).toEqual([2, expect.stringContaining('--encryption')]);
    const noTransport = cli('seed', 'x', '--no-utp', '--no-tcp');
    expect([noTransport.status, noTransport.stderr]).toEqual([2, expect.stringContaining('no transport')]);
    expect(cli('--help').status).toBe(0);
  });
});

describe('bttkit seed and download', () => {
  it('download gets a complete, verified copy from a seed and prints a JSON summary; seed stops on SIGINT', async () => {
    const { spawn } = await import('node:child_process');
    const { waitForLine, waitForExit } = await import('./helpers/procs.js');
    mkdirSync(join(tmp.path, 'share'), { recursive: true });
    writeFileSync(join(tmp.path, 'share', 'movie.bin'), pseudoRandomBytes(1_500_000, 77));
    expect(cli('create', join('share', 'movie.bin'), '-o', 'movie.torrent').status).toBe(0);

    const seed = spawn(
      process.execPath,
      [CLI, 'seed', 'movie.torrent', join('share', 'movie.bin'), '--json', '--no-dht'],
      {
        cwd: tmp.path,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const ready = JSON.parse(await waitForLine(seed, (l) => l.includes('"seeding"'), 20_000, 'seeder'));
      expect(ready.seeding).toBe(true);
      const dl = spawn(
        process.execPath,
        [
          CLI,
          'download',
          'movie.torrent',
          '-o',
          'got',
          '--peer',
          `127.0.0.1:${ready.port}`,
          '--json',
          '--no-dht',
        ],
        { cwd: tmp.path, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      dl.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      expect(await waitForExit(dl, 60_000, 'download')).toBe(0);
      const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '');
      // One peer: no endgame duplicates, nothing wasted.
      expect(summary).toMatchObject({ complete: true, bytes: 1_500_000, peers: 1, wasted: 0 });
      expect(summary.infoHash).toMatch(/^[0-9a-f]{40}$/);
      expect(summary.seconds).toBeGreaterThan(0);
      expect(
        Buffer.compare(
          readFileSync(join(tmp.path, 'got', 'movie.bin')),
          readFileSync(join(tmp.path, 'share', 'movie.bin')),
        ),
      ).toBe(0);

      // Resumed: everything is already there, so nothing is fetched — the summary's speed is over
      // the bytes fetched in this run (0), not over the whole size.
      const again = cli(
        'download',
        'movie.torrent',
        '-o',
        'got',
        '--peer',
        `127.0.0.1:${ready.port}`,
        '--json',
        '--no-dht',
      );
      expect(again.status).toBe(0);
      expect(JSON.parse(again.stdout.trim().split('\n').at(-1) ?? '')).toMatchObject({
        complete: true,
        bytes: 1_500_000,
        downloaded: 0,
        speed: 0,
      });
      const human = cli('download', 'movie.torrent', '-o', 'got', '--no-dht');
      expect(human.status).toBe(0);
      expect(human.stdout).toMatch(
        /done: movie\.bin — 1\.43 MiB \(0 B fetched in [\d.]+ s, 0 B\/s, 1\.43 MiB already there\)/,
      );

      seed.kill('SIGINT');
      const last = await waitForLine(seed, (l) => l.includes('"stopped"'), 10_000, 'seeder stop line');
      expect(JSON.parse(last)).toMatchObject({ stopped: 'SIGINT', uploaded: 1_500_000 });
      expect(await waitForExit(seed, 10_000, 'seeder')).toBe(0);
    } finally {
      seed.kill('SIGKILL');
    }
  });

  it('seed refuses data that does not match the torrent', () => {
    mkdirSync(join(tmp.path, 'wrong'), { recursive: true });
    writeFileSync(join(tmp.path, 'wrong', 'movie.bin'), pseudoRandomBytes(1_500_000, 78));
    const r = cli('seed', 'movie.torrent', 'wrong', '--no-dht');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/CLI_INCOMPLETE_DATA/);
    writeFileSync(join(tmp.path, 'other.bin'), pseudoRandomBytes(100, 79));
    const r2 = cli('seed', 'movie.torrent', 'other.bin', '--no-dht');
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/CLI_NO_DATA/);
  });
});

describe('bttkit download --dht-bootstrap', () => {
  it('finds the seeder through a local DHT only', async () => {
    const { spawn } = await import('node:child_process');
    const { waitForLine, waitForExit } = await import('./helpers/procs.js');
    const { Dht } = await import('../src/dht/index.js');
    const dhts = [await Dht.create({ bootstrap: [], host: '127.0.0.1' })];
    const boot = `127.0.0.1:${dhts[0]?.address.port}`;
    for (let i = 0; i < 5; i++) dhts.push(await Dht.create({ bootstrap: [boot], host: '127.0.0.1' }));
    mkdirSync(join(tmp.path, 'dshare'), { recursive: true });
    writeFileSync(join(tmp.path, 'dshare', 'song.bin'), pseudoRandomBytes(300_000, 80));
    expect(cli('create', join('dshare', 'song.bin'), '-o', 'song.torrent').status).toBe(0);
    const seed = spawn(
      process.execPath,
      [CLI, 'seed', 'song.torrent', join('dshare', 'song.bin'), '--json', '--dht-bootstrap', boot],
      {
        cwd: tmp.path,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await waitForLine(seed, (l) => l.includes('"seeding"'), 20_000, 'seeder');
      const dl = spawn(
        process.execPath,
        [CLI, 'download', 'song.torrent', '-o', 'dgot', '--json', '--dht-bootstrap', boot],
        {
          cwd: tmp.path,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      dl.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      expect(await waitForExit(dl, 60_000, 'download')).toBe(0);
      expect(JSON.parse(out.trim().split('\n').at(-1) ?? '')).toMatchObject({
        complete: true,
        bytes: 300_000,
      });
      expect(
        Buffer.compare(
          readFileSync(join(tmp.path, 'dgot', 'song.bin')),
          readFileSync(join(tmp.path, 'dshare', 'song.bin')),
        ),
      ).toBe(0);
    } finally {
      seed.kill('SIGKILL');
      await Promise.all(dhts.map((d) => d.destroy()));
    }
  });
});

describe('bttkit help', () => {
  it.each(['info', 'create', 'download', 'seed', 'swarm', 'demo', 'ledger'])(
    '%s --help prints its usage and exits 0 (and does nothing else)',
    (command) => {
      const r = cli(command, '--help');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: bttkit ${command}`));
    },
  );

  it('help <command> is the same as <command> --help', () => {
    const r = cli('help', 'download');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(cli('download', '--help').stdout);
    expect(r.stdout).toMatch(/--select FILES/);
  });

  it('refuses options a command does not take', () => {
    expect(cli('demo', '--bogus').status).toBe(2);
    expect(cli('download', 'x.torrent', '-o', 'd', '--comment', 'c').status).toBe(2);
    expect(cli('download', 'x.torrent', '-o', 'd', '--timeout', 'soon').status).toBe(2);
    expect(cli('seed', 'x', '--keep-seeding').status).toBe(2);
  });
});

describe('bttkit info magnet', () => {
  it('prints the magnet link of a .torrent and the file indexes', () => {
    expect(cli('create', 'data', '-o', 'm.torrent', '--tracker', 'udp://127.0.0.1:1').status).toBe(0);
    const meta = parseTorrent(readFileSync(join(tmp.path, 'm.torrent')));
    const j = JSON.parse(cli('info', 'm.torrent', '--json').stdout);
    expect(j.magnet).toBe(`magnet:?xt=urn:btih:${meta.infoHash}&dn=data&tr=udp%3A%2F%2F127.0.0.1%3A1`);
    const human = cli('info', 'm.torrent').stdout;
    expect(human).toContain(`magnet        ${j.magnet}`);
    expect(human).toMatch(/^ {2}0 .* sub\/y\.txt$/m);
    expect(human).toMatch(/^ {2}1 .* x\.bin$/m);
  });
});

describe('bttkit download without peers', () => {
  const magnet = `magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=nothing`;

  it('warns that no peer answers, then gives up at --timeout with CLI_TIMEOUT; JSON progress lines', () => {
    const r = cli(
      'download',
      magnet,
      '-o',
      'none',
      '--no-dht',
      '--timeout',
      '2',
      '--json',
      '--progress-interval',
      '0.3',
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/warning: no peer has answered for 1 s/);
    expect(r.stderr).toMatch(/no data for 2 s \(--timeout\).*\[CLI_TIMEOUT\]/);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines)
      expect(l).toMatchObject({ event: 'progress', infoHash: 'ab'.repeat(20), state: 'metadata', peers: 0 });
  });

  it('prints plain progress lines when not on a terminal', () => {
    const r = cli(
      'download',
      magnet,
      '-o',
      'none',
      '--no-dht',
      '--timeout',
      '1',
      '--progress-interval',
      '0.2',
    );
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toBe('progress: fetching metadata, 0 peers');
    expect(r.stdout.includes('\u001b') || r.stdout.includes('\r')).toBe(false);
  });

  it('says a port in use is in use (EADDRINUSE → CLI_PORT_IN_USE, exit 1)', async () => {
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '0.0.0.0', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const r = cli('download', magnet, '-o', 'none', '--no-dht', '--port', String(port));
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        `bttkit: port ${port} is already in use by another program: choose another with --port (0: any free port) [CLI_PORT_IN_USE]`,
      );
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('bttkit seed <path>, download --select --keep-seeding', () => {
  it('seeds a folder without a .torrent, prints its magnet; a magnet download of selected files, then seeds', async () => {
    const { spawn } = await import('node:child_process');
    const { waitForLine, waitForExit } = await import('./helpers/procs.js');
    const show = join(tmp.path, 'show');
    mkdirSync(join(show, 's1'), { recursive: true });
    writeFileSync(join(show, 's1', 'e1.mkv'), pseudoRandomBytes(400_000, 11));
    writeFileSync(join(show, 's1', 'e1.srt'), pseudoRandomBytes(3_000, 12));
    writeFileSync(join(show, 'e2.mkv'), pseudoRandomBytes(200_000, 13));
    const seed = spawn(process.execPath, [CLI, 'seed', 'show', '-o', 'show.torrent', '--json', '--no-dht'], {
      cwd: tmp.path,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const procs = [seed];
    try {
      const ready = JSON.parse(await waitForLine(seed, (l) => l.includes('"seeding"'), 20_000, 'seeder'));
      const meta = parseTorrent(readFileSync(join(tmp.path, 'show.torrent')));
      expect(ready).toMatchObject({
        infoHash: meta.infoHash,
        magnet: `magnet:?xt=urn:btih:${meta.infoHash}&dn=show`,
      });
      // Files in torrent order: e2.mkv (0), s1/e1.mkv (1), s1/e1.srt (2).
      expect(meta.files.map((f) => f.path)).toEqual(['e2.mkv', 's1/e1.mkv', 's1/e1.srt']);
      const dl = spawn(
        process.execPath,
        [
          CLI,
          'download',
          ready.magnet,
          '-o',
          'sel',
          '--peer',
          `127.0.0.1:${ready.port}`,
          '--select',
          's1/*.mkv,2',
          '--keep-seeding',
          '--json',
          '--no-dht',
        ],
        { cwd: tmp.path, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      procs.push(dl);
      const lines: string[] = [];
      dl.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
      await waitForLine(dl, (l) => l.includes('"seeding":true'), 60_000, 'downloader seeding');
      const summary = lines.map((l) => JSON.parse(l)).find((j) => j.complete === true);
      expect(summary).toMatchObject({ complete: true, bytes: 403_000, infoHash: meta.infoHash });
      for (const f of ['s1/e1.mkv', 's1/e1.srt'])
        expect(
          Buffer.compare(readFileSync(join(tmp.path, 'sel', 'show', f)), readFileSync(join(show, f))),
          f,
        ).toBe(0);
      expect(existsSync(join(tmp.path, 'sel', 'show', 'e2.mkv'))).toBe(false);
      dl.kill('SIGINT');
      expect(await waitForExit(dl, 10_000, 'downloader')).toBe(0);
      expect(JSON.parse(lines.at(-1) ?? '')).toMatchObject({ stopped: 'SIGINT' });
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
  });

  it('refuses a --select that matches nothing', () => {
    const r = cli('download', 'show.torrent', '-o', 'x', '--select', '*.avi', '--no-dht');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--select \*\.avi: no file of the torrent matches \[CLI_BAD_SELECT\]/);
    expect(cli('download', 'show.torrent', '-o', 'x', '--select', '3', '--no-dht').stderr).toMatch(
      /CLI_BAD_SELECT/,
    );
  });
});
