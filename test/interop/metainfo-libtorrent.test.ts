/**
 * Interop with real tools: torrents made by mktorrent and by libtorrent parse in bttkit exactly as
 * libtorrent reads them; torrents made by bttkit load in libtorrent with the same info-hash and
 * verify against the data. Needs Debian's mktorrent and python3-libtorrent (`npm test`'s pretest
 * installs them).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo, parseTorrent } from '../../src/metainfo/index.js';
import { pseudoRandomBytes, ROOT, run, runOk, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const LT = join(ROOT, 'test/fixtures/lt_meta.py');

interface LtInfo {
  infoHash: string;
  name: string;
  pieceLength: number;
  pieces: number;
  length: number;
  private: boolean;
  files: { path: string; length: number; pad: boolean }[];
  trackers: { url: string; tier: number }[];
}

const tmp = tempDir('bttkit-interop-');
afterAll(tmp.cleanup);

let tree: string;
let single: string;

beforeAll(() => {
  for (const [cmd, args] of [
    ['mktorrent', ['-v']],
    [SYSTEM_PYTHON, ['-c', 'import libtorrent']],
  ] as const) {
    const r = run(cmd, args);
    if (r.status !== 0 && !(cmd === 'mktorrent' && r.stdout.includes('mktorrent'))) {
      throw new Error(
        `${cmd} is missing: run npm run test:deps (it installs mktorrent and python3-libtorrent)\n${r.stderr}`,
      );
    }
  }
  tree = join(tmp.path, 'Ünïcode tree');
  mkdirSync(join(tree, 'nested', 'deeper', 'deepest'), { recursive: true });
  mkdirSync(join(tree, '日本語'), { recursive: true });
  writeFileSync(join(tree, 'a.bin'), pseudoRandomBytes(300_000, 11));
  writeFileSync(join(tree, 'empty.txt'), '');
  writeFileSync(join(tree, 'nested', 'b.txt'), 'some text\n'.repeat(1000));
  writeFileSync(join(tree, 'nested', 'deeper', 'deepest', 'c.dat'), pseudoRandomBytes(70_001, 12));
  writeFileSync(join(tree, '日本語', 'ファイル ü.bin'), pseudoRandomBytes(123_457, 13));
  single = join(tmp.path, 'single file é.bin');
  writeFileSync(single, pseudoRandomBytes(1_000_003, 14));
});

function ltInfo(paths: string[]): LtInfo[] {
  const out = runOk(SYSTEM_PYTHON, [LT, 'info', ...paths]);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LtInfo);
}

function expectSame(meta: Metainfo, lt: LtInfo): void {
  expect(meta.infoHash).toBe(lt.infoHash);
  expect(meta.name).toBe(lt.name);
  expect(meta.pieceLength).toBe(lt.pieceLength);
  expect(meta.pieceCount).toBe(lt.pieces);
  expect(meta.length).toBe(lt.length);
  expect(meta.private).toBe(lt.private);
  const ours = meta.files.map((f) => ({
    path: meta.multiFile ? `${meta.name}/${f.path}` : f.path,
    length: f.length,
  }));
  expect(ours).toEqual(lt.files.map((f) => ({ path: f.path, length: f.length })));
  // libtorrent shuffles URLs inside a tier (BEP 12): compare tiers as sets.
  const ltTiers: string[][] = [];
  for (const t of lt.trackers) {
    const tier = ltTiers[t.tier] ?? [];
    tier.push(t.url);
    ltTiers[t.tier] = tier;
  }
  expect(meta.announce.map((t) => [...t].sort())).toEqual(ltTiers.map((t) => t.sort()));
}

describe('torrents made by mktorrent', () => {
  it('parse to what libtorrent reports (single and multi-file, piece sizes, private, tiers)', () => {
    const made: string[] = [];
    const variants = [
      { src: () => tree, exp: 15, priv: false },
      { src: () => tree, exp: 16, priv: true },
      { src: () => tree, exp: 18, priv: false },
      { src: () => single, exp: 15, priv: true },
      { src: () => single, exp: 17, priv: false },
    ];
    for (const [i, v] of variants.entries()) {
      const out = join(tmp.path, `mk-${i}.torrent`);
      const args = [
        '-l',
        String(v.exp),
        '-a',
        'udp://127.0.0.1:6969,http://127.0.0.1:8000/announce',
        '-a',
        'http://127.0.0.1:8001/a',
        '-o',
        out,
      ];
      if (v.priv) args.push('-p');
      runOk('mktorrent', [...args, v.src()], { cwd: tmp.path });
      made.push(out);
    }
    const lt = ltInfo(made);
    made.forEach((path, i) => {
      const meta = parseTorrent(readFileSync(path));
      expectSame(meta, lt[i] as LtInfo);
      expect(meta.pieceLength).toBe(2 ** (variants[i]?.exp ?? 0));
      expect(meta.files.some((f) => f.length === 0)).toBe(meta.multiFile);
    });
  });
});

describe('torrents made by libtorrent', () => {
  it('parse to what libtorrent reports', () => {
    const made: string[] = [];
    const variants = [
      {
        src: tree,
        pl: 16384,
        priv: '0',
        tiers: [['udp://127.0.0.1:1'], ['http://127.0.0.1:2/a', 'http://127.0.0.1:3/a']],
      },
      { src: tree, pl: 262144, priv: '1', tiers: [] },
      { src: single, pl: 65536, priv: '0', tiers: [['udp://127.0.0.1:1']] },
    ];
    for (const [i, v] of variants.entries()) {
      const out = join(tmp.path, `lt-${i}.torrent`);
      runOk(SYSTEM_PYTHON, [LT, 'create', v.src, out, String(v.pl), v.priv, JSON.stringify(v.tiers)]);
      made.push(out);
    }
    const lt = ltInfo(made);
    made.forEach((path, i) => {
      expectSame(parseTorrent(readFileSync(path)), lt[i] as LtInfo);
    });
  });
});

describe('torrents made by bttkit', () => {
  it('load in libtorrent with the same info-hash and verify against the data', async () => {
    const cases = [
      {
        src: tree,
        opts: {
          pieceLength: 16384,
          announce: ['udp://127.0.0.1:1', ['http://127.0.0.1:2/a', 'http://127.0.0.1:3/a']],
        },
      },
      { src: tree, opts: { pieceLength: 65536, private: true } },
      { src: tree, opts: {} },
      { src: single, opts: { pieceLength: 32768 } },
    ];
    for (const [i, c] of cases.entries()) {
      const { torrent, metainfo } = await createTorrent(c.src, c.opts);
      const path = join(tmp.path, `bt-${i}.torrent`);
      writeFileSync(path, torrent);
      const [lt] = ltInfo([path]);
      expectSame(metainfo, lt as LtInfo);
      const verified = JSON.parse(runOk(SYSTEM_PYTHON, [LT, 'verify', path, tmp.path])) as {
        progress: number;
        seeding: boolean;
        piecesOk: number;
        pieces: number;
      };
      expect(verified, `case ${i}`).toMatchObject({
        progress: 1,
        seeding: true,
        piecesOk: metainfo.pieceCount,
      });
    }
  });

  it('a torrent over different data does not verify in libtorrent (the check can fail)', async () => {
    const src = join(tmp.path, 'changing.bin');
    writeFileSync(src, pseudoRandomBytes(100_000, 21));
    const { torrent } = await createTorrent(src, { pieceLength: 16384 });
    const data = pseudoRandomBytes(100_000, 21);
    data[50_000] = (data[50_000] ?? 0) ^ 1;
    writeFileSync(src, data);
    const path = join(tmp.path, 'changing.torrent');
    writeFileSync(path, torrent);
    const verified = JSON.parse(runOk(SYSTEM_PYTHON, [LT, 'verify', path, tmp.path])) as {
      seeding: boolean;
      piecesOk: number;
      pieces: number;
    };
    expect(verified.seeding).toBe(false);
    expect(verified.piecesOk).toBe(verified.pieces - 1);
  });
});
