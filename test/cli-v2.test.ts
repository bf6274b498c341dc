/**
 * `bttkit create --v2 | --hybrid` and `bttkit info` on BitTorrent v2 and hybrid torrents (BEP 52),
 * run as built (dist/cli/main.js). The libtorrent cross-check is
 * test/interop/cli-v2-libtorrent.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Metainfo, parseTorrent } from '../src/metainfo/index.js';
import { toHex } from '../src/util/bytes.js';
import { CLI, pseudoRandomBytes, run, tempDir } from './helpers/run.js';

const tmp = tempDir('bttkit-cli-v2-');
afterAll(tmp.cleanup);
const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { cwd: tmp.path });

interface InfoJson {
  infoHash: string;
  infoHashV2?: string;
  version: 1 | 2 | 'hybrid';
  name: string;
  pieceLength: number;
  pieces: number;
  length: number;
  files: { path: string; length: number; padding?: true; piecesRoot?: string }[];
  magnet: string;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const d = join(tmp.path, 'tree');
  mkdirSync(join(d, 'nested', 'deeper'), { recursive: true });
  writeFileSync(join(d, 'big.bin'), pseudoRandomBytes(70_000, 31));
  writeFileSync(join(d, 'empty.txt'), '');
  writeFileSync(join(d, 'nested', 'tiny.txt'), 'tiny');
  writeFileSync(join(d, 'nested', 'deeper', 'mid.bin'), pseudoRandomBytes(20_000, 32));
});

/** Runs `bttkit create tree <flag> --json` and returns its JSON and the parsed .torrent. */
function create(flag: '--v2' | '--hybrid', out: string): { j: Record<string, unknown>; meta: Metainfo } {
  const c = cli('create', 'tree', flag, '-l', '16k', '-o', out, '--tracker', 'udp://127.0.0.1:1', '--json');
  expect(c.stderr).toBe('');
  expect(c.status).toBe(0);
  const lines = c.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return { j: JSON.parse(lines[0] ?? ''), meta: parseTorrent(readFileSync(join(tmp.path, out))) };
}

const REAL_FILES = ['big.bin', 'empty.txt', 'nested/deeper/mid.bin', 'nested/tiny.txt'];

describe.each([
  ['--v2', 2],
  ['--hybrid', 'hybrid'],
] as const)('bttkit create %s', (flag, version) => {
  it('writes a torrent of that version and prints both hashes as JSON', () => {
    const { j, meta } = create(flag, `${version}.torrent`);
    expect(meta.version).toBe(version);
    expect(meta.infoHashV2).toMatch(/^[0-9a-f]{64}$/);
    expect(j).toEqual({
      infoHash: meta.infoHash,
      infoHashV2: meta.infoHashV2,
      version,
      name: 'tree',
      output: join(tmp.path, `${version}.torrent`),
      pieceLength: 16384,
      pieces: meta.pieceCount,
      length: meta.length,
    });
    // v2 orders the file tree element by element: nested/deeper/… before nested/tiny.txt.
    expect(meta.files.filter((f) => !f.padding).map((f) => f.path)).toEqual(REAL_FILES);
    if (version === 2) expect(meta.infoHash).toBe(meta.infoHashV2?.slice(0, 40));
    else expect(meta.infoHash).not.toBe(meta.infoHashV2?.slice(0, 40));
  });

  it('prints the hashes for people', () => {
    const c = cli('create', 'tree', flag, '-o', `${version}-human.torrent`);
    expect(c.status).toBe(0);
    const meta = parseTorrent(readFileSync(join(tmp.path, `${version}-human.torrent`)));
    expect(c.stdout).toContain(`info-hash v2 ${meta.infoHashV2}`);
    if (version === 'hybrid') expect(c.stdout).toContain(`info-hash v1 ${meta.infoHash}`);
    else expect(c.stdout).not.toContain('info-hash v1');
    expect(c.stdout).toContain(version === 2 ? 'v2 only' : 'hybrid');
  });

  it('info --json reports the same hashes, the version, and each file’s pieces root', () => {
    const { meta } = create(flag, `${version}-info.torrent`);
    const r = cli('info', `${version}-info.torrent`, '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as InfoJson;
    expect(j).toMatchObject({
      infoHash: meta.infoHash,
      infoHashV2: meta.infoHashV2,
      version,
      name: 'tree',
      pieceLength: 16384,
      pieces: meta.pieceCount,
      length: meta.length,
    });
    // Every file, padding included, at its torrent index (the one download --select takes).
    expect(j.files).toHaveLength(meta.files.length);
    expect(j.files.some((f) => f.padding)).toBe(true);
    meta.files.forEach((f, i) => {
      expect(j.files[i]).toEqual({
        path: f.path,
        length: f.length,
        ...(f.padding ? { padding: true } : {}),
        ...(f.piecesRoot ? { piecesRoot: toHex(f.piecesRoot) } : {}),
      });
    });
    const roots = Object.fromEntries(j.files.filter((f) => !f.padding).map((f) => [f.path, f.piecesRoot]));
    expect(roots['empty.txt']).toBeUndefined();
    for (const p of ['big.bin', 'nested/tiny.txt', 'nested/deeper/mid.bin'])
      expect(roots[p]).toMatch(/^[0-9a-f]{64}$/);
    // The magnet: urn:btmh: always, urn:btih: for a hybrid only.
    const btmh = `xt=urn:btmh:1220${meta.infoHashV2}`;
    const btih = `xt=urn:btih:${meta.infoHash}`;
    expect(j.magnet).toBe(
      `magnet:?${version === 'hybrid' ? `${btih}&` : ''}${btmh}&dn=tree&tr=udp%3A%2F%2F127.0.0.1%3A1`,
    );
    // The magnet goes back in: info prints the same hashes.
    const m = JSON.parse(cli('info', j.magnet, '--json').stdout);
    expect(m).toMatchObject({ infoHash: meta.infoHash, infoHashV2: meta.infoHashV2, name: 'tree' });
  });

  it('info prints the version, both hashes, and the files without padding at their indexes', () => {
    const { meta } = create(flag, `${version}-list.torrent`);
    const r = cli('info', `${version}-list.torrent`);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`info-hash v2  ${meta.infoHashV2}\n`);
    if (version === 'hybrid') {
      expect(r.stdout).toMatch(/^version +hybrid/m);
      expect(r.stdout).toContain(`info-hash v1  ${meta.infoHash}\n`);
    } else {
      expect(r.stdout).toMatch(/^version +2/m);
      expect(r.stdout).toContain(`info-hash     ${meta.infoHash} (the first 20 bytes of the v2 info-hash)`);
    }
    expect(r.stdout).not.toContain('.pad');
    const padding = meta.files.filter((f) => f.padding).length;
    expect(r.stdout).toContain(`files (4, and ${padding} padding files not listed):`);
    for (const p of REAL_FILES) {
      const i = meta.files.findIndex((f) => f.path === p);
      expect(r.stdout).toMatch(new RegExp(`^ +${i} +\\S+ \\S+ +${p.replace(/\./g, '\\.')}$`, 'm'));
    }
  });
});

describe('bttkit create: version flags', () => {
  it('refuses --v2 with --hybrid as a usage error', () => {
    const r = cli('create', 'tree', '--v2', '--hybrid');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^bttkit: --v2 and --hybrid exclude each other/);
    expect(existsSync(join(tmp.path, 'tree.torrent'))).toBe(false);
  });

  it.each([
    ['--v2', '20000'],
    ['--hybrid', '8k'],
    ['--v2', '24k'],
  ])('refuses %s with --piece-length %s (not a power of two ≥ 16 KiB)', (flag, len) => {
    const r = cli('create', 'tree', flag, '--piece-length', len);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `--piece-length ${len}: a v2 or hybrid torrent needs a power of two of at least 16k`,
    );
    expect(existsSync(join(tmp.path, 'tree.torrent'))).toBe(false);
  });

  it('takes the smallest v2 piece length', () => {
    expect(create('--v2', 'small-pieces.torrent').meta.pieceLength).toBe(16384);
  });

  it('--help names both flags', () => {
    const r = cli('create', '--help');
    expect(r.stdout).toMatch(/--v2 /);
    expect(r.stdout).toMatch(/--hybrid /);
  });

  it('keeps v1 as the default: version 1, no infoHashV2, no piecesRoot', () => {
    const c = cli('create', 'tree', '-o', 'v1.torrent', '--json');
    expect(c.status).toBe(0);
    const meta = parseTorrent(readFileSync(join(tmp.path, 'v1.torrent')));
    expect(meta.version).toBe(1);
    const j = JSON.parse(c.stdout);
    expect(j.version).toBe(1);
    expect(j).not.toHaveProperty('infoHashV2');
    const i = JSON.parse(cli('info', 'v1.torrent', '--json').stdout) as InfoJson;
    expect(i).toMatchObject({ infoHash: meta.infoHash, version: 1 });
    expect(i).not.toHaveProperty('infoHashV2');
    expect(i.files.some((f) => 'piecesRoot' in f)).toBe(false);
    const human = cli('info', 'v1.torrent').stdout;
    expect(human).toContain(`info-hash     ${meta.infoHash}\n`);
    expect(human).not.toMatch(/^version|info-hash v2/m);
  });
});

describe('bttkit info on v2 magnets', () => {
  const v2 = 'cd'.repeat(32);
  const v1 = 'ab'.repeat(20);

  it('prints the v2 info-hash of a urn:btmh: magnet', () => {
    const uri = `magnet:?xt=urn:btmh:1220${v2}&dn=x`;
    const j = JSON.parse(cli('info', uri, '--json').stdout);
    expect(j).toMatchObject({ infoHash: v2.slice(0, 40), infoHashV2: v2, name: 'x' });
    const human = cli('info', uri);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(`v2 hash    ${v2}\n`);
    expect(human.stdout).toContain('(the first 20 bytes of the v2 info-hash)');
  });

  it('prints both hashes of a hybrid magnet', () => {
    const uri = `magnet:?xt=urn:btih:${v1}&xt=urn:btmh:1220${v2}`;
    expect(JSON.parse(cli('info', uri, '--json').stdout)).toMatchObject({ infoHash: v1, infoHashV2: v2 });
    const human = cli('info', uri).stdout;
    expect(human).toContain(`info-hash  ${v1}\n`);
    expect(human).toContain(`v2 hash    ${v2}\n`);
  });

  it('leaves infoHashV2 out for a v1 magnet', () => {
    const j = JSON.parse(cli('info', `magnet:?xt=urn:btih:${v1}`, '--json').stdout);
    expect(j.infoHash).toBe(v1);
    expect(j).not.toHaveProperty('infoHashV2');
  });

  it('refuses a malformed btmh with one line and exit 1', () => {
    const r = cli('info', `magnet:?xt=urn:btmh:1220${v2.slice(2)}`);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('[MAGNET_BAD_INFOHASH]');
  });
});

describe('bttkit seed <path> --v2 | --hybrid', () => {
  it('makes the torrent, prints a magnet with urn:btmh:, and a bttkit download from it completes', async () => {
    const { spawn } = await import('node:child_process');
    const { waitForLine, waitForExit } = await import('./helpers/procs.js');
    const seed = spawn(
      process.execPath,
      [CLI, 'seed', 'tree', '--v2', '-o', 'seeded.torrent', '--json', '--no-dht', '--no-utp'],
      {
        cwd: tmp.path,
      },
    );
    try {
      const ready = JSON.parse(await waitForLine(seed, (l) => l.includes('"seeding"'), 20_000, 'seeder'));
      const meta = parseTorrent(readFileSync(join(tmp.path, 'seeded.torrent')));
      expect(meta.version).toBe(2);
      expect(ready.magnet).toBe(`magnet:?xt=urn:btmh:1220${meta.infoHashV2}&dn=tree`);
      const dl = run(
        process.execPath,
        [
          CLI,
          'download',
          ready.magnet,
          '-o',
          'got',
          '--peer',
          `127.0.0.1:${ready.port}`,
          '--no-dht',
          '--no-utp',
          '--json',
          '--timeout',
          '60',
        ],
        { cwd: tmp.path },
      );
      expect(dl.status).toBe(0);
      for (const f of REAL_FILES)
        expect(
          Buffer.compare(
            readFileSync(join(tmp.path, 'got', 'tree', f)),
            readFileSync(join(tmp.path, 'tree', f)),
          ),
        ).toBe(0);
    } finally {
      seed.kill('SIGINT');
      await waitForExit(seed, 10_000, 'seeder').catch(() => seed.kill('SIGKILL'));
    }
  });

  it('refuses --v2 with --hybrid, and a v2 piece length that is not a power of two', () => {
    expect(cli('seed', 'tree', '--v2', '--hybrid').status).toBe(2);
    expect(cli('seed', 'tree', '--hybrid', '--piece-length', '24k').status).toBe(2);
  });
});
