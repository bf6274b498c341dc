/** The `bttkit` command as built (dist/cli/main.js): info and create. */
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
      expect(summary).toMatchObject({ complete: true, bytes: 1_500_000, peers: 1 });
      expect(summary.infoHash).toMatch(/^[0-9a-f]{40}$/);
      expect(summary.seconds).toBeGreaterThan(0);
      expect(
        Buffer.compare(
          readFileSync(join(tmp.path, 'got', 'movie.bin')),
          readFileSync(join(tmp.path, 'share', 'movie.bin')),
        ),
      ).toBe(0);

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
