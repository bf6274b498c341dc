/**
 * BEP 52 interop with python3-libtorrent 2.0.8: v2-only and hybrid torrents of one multi-file
 * folder (nested folders, a file smaller than a block, a file of exactly one piece, an empty
 * file, multi-piece files with short last pieces). libtorrent's torrents parse in bttkit with the
 * same v1 and v2 info-hashes, files, pieces roots and piece layers; bttkit's torrents load in
 * libtorrent with the info-hashes bttkit computed, and libtorrent checks the data against them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo, parseTorrent, verifyPieceLayer } from '../../src/metainfo/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { pseudoRandomBytes, ROOT, run, runOk, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const LT = join(ROOT, 'test/fixtures/lt_meta_v2.py');
const LT_VERIFY = join(ROOT, 'test/fixtures/lt_meta.py');
const PIECE = 32 * 1024;

interface LtInfo {
  v1: string | null;
  v2: string | null;
  name: string;
  pieceLength: number;
  pieces: number;
  length: number;
  files: { path: string; length: number; offset: number; pad: boolean; root: string | null }[];
  layers: Record<string, string>;
}

const tmp = tempDir('bttkit-v2-interop-');
afterAll(tmp.cleanup);
let tree: string;
let single: string;

beforeAll(() => {
  const r = run(SYSTEM_PYTHON, ['-c', 'import libtorrent; assert libtorrent.__version__.startswith("2.")']);
  if (r.status !== 0)
    throw new Error(`python3-libtorrent 2.x is missing: run npm run test:deps\n${r.stderr}`);
  tree = join(tmp.path, 'v2 tree');
  mkdirSync(join(tree, 'nested', 'deeper'), { recursive: true });
  mkdirSync(join(tree, 'nested-x'), { recursive: true });
  writeFileSync(join(tree, 'a.bin'), pseudoRandomBytes(300_000, 21));
  writeFileSync(join(tree, 'empty.txt'), '');
  writeFileSync(join(tree, 'nested', 'small.bin'), pseudoRandomBytes(1000, 22));
  writeFileSync(join(tree, 'nested', 'deeper', 'one-piece.bin'), pseudoRandomBytes(PIECE, 23));
  writeFileSync(join(tree, 'nested-x', 'ü.bin'), pseudoRandomBytes(16 * 1024 + 1, 24));
  writeFileSync(join(tree, 'z.bin'), pseudoRandomBytes(5 * PIECE + 17, 25));
  single = join(tmp.path, 'single é.bin');
  writeFileSync(single, pseudoRandomBytes(2 * PIECE + 5, 26));
});

/** libtorrent's torrent of the folder, made once per kind. */
function ltTorrent(kind: 2 | 'hybrid'): string {
  const out = join(tmp.path, `lt-${kind}.torrent`);
  if (!existsSync(out))
    runOk(SYSTEM_PYTHON, [LT, 'create', tree, out, String(PIECE), kind === 2 ? 'v2' : 'hybrid']);
  return out;
}

function ltInfo(path: string): LtInfo {
  return JSON.parse(runOk(SYSTEM_PYTHON, [LT, 'info', path]).trim()) as LtInfo;
}

function expectSame(meta: Metainfo, lt: LtInfo, kind: 2 | 'hybrid', layers = 2): void {
  expect(meta.version).toBe(kind);
  expect(meta.infoHashV2).toBe(lt.v2);
  if (kind === 'hybrid') expect(meta.infoHash).toBe(lt.v1);
  else expect(meta.infoHash).toBe(lt.v2?.slice(0, 40));
  expect(meta.name).toBe(lt.name);
  expect(meta.pieceLength).toBe(lt.pieceLength);
  expect(meta.pieceCount).toBe(lt.pieces);
  expect(meta.length).toBe(lt.length);
  expect(
    meta.files.map((f) => ({
      path: f.padding ? f.path : meta.multiFile ? `${meta.name}/${f.path}` : f.path,
      length: f.length,
      offset: f.offset,
      pad: f.padding,
      root: f.piecesRoot ? toHex(f.piecesRoot) : null,
    })),
  ).toEqual(
    // libtorrent shows padding files under the torrent's name (`<name>/.pad/<n>`, even for a
    // single-file torrent): compare their own `.pad/<n>`.
    lt.files.map((f) => (f.pad ? { ...f, path: f.path.split('/').slice(-2).join('/') } : f)),
  );
  const ours = Object.fromEntries([...(meta.pieceLayers ?? new Map())].map(([k, v]) => [k, toHex(v)]));
  expect(ours).toEqual(lt.layers);
  // The fixture has two multi-piece files; their layers verify against libtorrent's roots.
  expect(Object.keys(lt.layers).length).toBe(layers);
  for (const f of lt.files) {
    const layer = f.root ? lt.layers[f.root] : undefined;
    if (f.root && layer)
      expect(verifyPieceLayer(fromHex(f.root), fromHex(layer), f.length, PIECE)).toBe(true);
  }
}

describe.each([2, 'hybrid'] as const)('BEP 52 %s torrents', (kind) => {
  it('parses libtorrent’s torrent with libtorrent’s hashes, files, roots and layers', () => {
    const out = ltTorrent(kind);
    const lt = ltInfo(out);
    expect(lt.v2).toMatch(/^[0-9a-f]{64}$/);
    if (kind === 'hybrid') expect(lt.v1).toMatch(/^[0-9a-f]{40}$/);
    else expect(lt.v1).toBeNull();
    expectSame(parseTorrent(readFileSync(out)), lt, kind);
  });

  it('creates a torrent libtorrent loads with the same info-hashes and verifies against the data', async () => {
    const { torrent, metainfo } = await createTorrent(tree, { version: kind, pieceLength: PIECE });
    const out = join(tmp.path, `bttkit-${kind}.torrent`);
    writeFileSync(out, torrent);
    const lt = ltInfo(out);
    expect(lt.v2).toBe(metainfo.infoHashV2);
    expect(lt.v1).toBe(kind === 'hybrid' ? metainfo.infoHash : null);
    expectSame(metainfo, lt, kind);
    // The same info dictionary libtorrent makes from the same folder.
    expect(parseTorrent(readFileSync(ltTorrent(kind))).infoHashV2).toBe(metainfo.infoHashV2);
    // libtorrent hashes the files against bttkit's Merkle roots (and SHA-1 pieces for hybrids).
    const v = JSON.parse(runOk(SYSTEM_PYTHON, [LT_VERIFY, 'verify', out, tmp.path]).trim()) as {
      piecesOk: number;
      pieces: number;
      seeding: boolean;
    };
    expect(v).toMatchObject({ piecesOk: metainfo.pieceCount, pieces: metainfo.pieceCount, seeding: true });
  });
});

describe.each([2, 'hybrid'] as const)('BEP 52 %s single-file torrents', (kind) => {
  it('agree with libtorrent both ways', async () => {
    const out = join(tmp.path, `lt-single-${kind}.torrent`);
    runOk(SYSTEM_PYTHON, [LT, 'create', single, out, String(PIECE), kind === 2 ? 'v2' : 'hybrid']);
    const lt = ltInfo(out);
    expectSame(parseTorrent(readFileSync(out)), lt, kind, 1);
    const { torrent, metainfo } = await createTorrent(single, { version: kind, pieceLength: PIECE });
    const ours = join(tmp.path, `bttkit-single-${kind}.torrent`);
    writeFileSync(ours, torrent);
    expect(metainfo.infoHashV2).toBe(lt.v2);
    expectSame(metainfo, ltInfo(ours), kind, 1);
  });
});
