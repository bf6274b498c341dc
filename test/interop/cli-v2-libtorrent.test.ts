/**
 * `bttkit create --v2 | --hybrid` and `bttkit info` against python3-libtorrent 2.0.8 (BEP 52), the
 * CLI run as built (dist/cli/main.js): libtorrent reads bttkit's torrents with the info-hashes
 * bttkit printed, and bttkit prints libtorrent's hashes for libtorrent's torrents. The folder has
 * nested folders, an empty file, a file smaller than a block and a multi-piece file.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, pseudoRandomBytes, ROOT, run, runOk, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const LT = join(ROOT, 'test/fixtures/lt_meta_v2.py');

interface LtInfo {
  v1: string | null;
  v2: string | null;
  pieces: number;
  files: { path: string; length: number; pad: boolean; root: string | null }[];
}

const tmp = tempDir('bttkit-cli-v2-lt-');
afterAll(tmp.cleanup);
const cli = (...args: string[]) => runOk(process.execPath, [CLI, ...args], { cwd: tmp.path });
const ltInfo = (path: string) => JSON.parse(runOk(SYSTEM_PYTHON, [LT, 'info', path]).trim()) as LtInfo;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const r = run(SYSTEM_PYTHON, ['-c', 'import libtorrent; assert libtorrent.__version__.startswith("2.")']);
  if (r.status !== 0)
    throw new Error(`python3-libtorrent 2.x is missing: run npm run test:deps\n${r.stderr}`);
  const d = join(tmp.path, 'album');
  mkdirSync(join(d, 'disc 1', 'extras'), { recursive: true });
  writeFileSync(join(d, 'cover.bin'), pseudoRandomBytes(100_000, 41));
  writeFileSync(join(d, 'empty'), '');
  writeFileSync(join(d, 'disc 1', 'note.txt'), 'a note');
  writeFileSync(join(d, 'disc 1', 'extras', 'one-piece.bin'), pseudoRandomBytes(32 * 1024, 42));
});

describe.each([
  ['--v2', 'v2'],
  ['--hybrid', 'hybrid'],
] as const)('bttkit create %s and libtorrent', (flag, kind) => {
  it('libtorrent reads bttkit’s torrent with the info-hashes bttkit printed', () => {
    const out = `bttkit-${kind}.torrent`;
    const j = JSON.parse(cli('create', 'album', flag, '-l', '32k', '-o', out, '--json'));
    expect(j.infoHashV2).toMatch(/^[0-9a-f]{64}$/);
    const lt = ltInfo(join(tmp.path, out));
    expect(lt.v2).toBe(j.infoHashV2);
    expect(lt.v1).toBe(kind === 'hybrid' ? j.infoHash : null);
    expect(lt.pieces).toBe(j.pieces);
    // info --json names each file's pieces root as libtorrent does (padding files have none).
    const info = JSON.parse(cli('info', out, '--json')) as { files: { piecesRoot?: string }[] };
    expect(info.files.map((f) => f.piecesRoot ?? null)).toEqual(lt.files.map((f) => f.root));
  });

  it('bttkit info prints the hashes of libtorrent’s torrent', () => {
    const out = join(tmp.path, `lt-${kind}.torrent`);
    runOk(SYSTEM_PYTHON, [LT, 'create', join(tmp.path, 'album'), out, String(32 * 1024), kind]);
    const lt = ltInfo(out);
    expect(lt.v2).toMatch(/^[0-9a-f]{64}$/);
    const j = JSON.parse(cli('info', out, '--json'));
    expect(j.version).toBe(kind === 'v2' ? 2 : 'hybrid');
    expect(j.infoHashV2).toBe(lt.v2);
    expect(j.infoHash).toBe(kind === 'hybrid' ? lt.v1 : lt.v2?.slice(0, 40));
    const human = cli('info', out);
    expect(human).toContain(`info-hash v2  ${lt.v2}\n`);
    if (kind === 'hybrid') expect(human).toContain(`info-hash v1  ${lt.v1}\n`);
    // libtorrent's own torrent of the same folder is bttkit's, byte for byte in the info dict.
    const ours = JSON.parse(
      cli('create', 'album', `--${kind}`, '-l', '32k', '-o', `same-${kind}.torrent`, '--json'),
    );
    expect(ours.infoHashV2).toBe(lt.v2);
  });
});
