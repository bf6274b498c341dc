import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { choosePieceLength, createTorrent, parseTorrent, pieceHash } from '../../src/metainfo/index.js';
import { BttkitError, toHex } from '../../src/util/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir();
afterAll(tmp.cleanup);

function makeTree(root: string): void {
  mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'empty-folder'), { recursive: true });
  writeFileSync(join(root, 'b.bin'), pseudoRandomBytes(50_000, 2));
  writeFileSync(join(root, 'a.txt'), 'hello\n');
  writeFileSync(join(root, 'sub', 'deeper', 'ü.dat'), pseudoRandomBytes(40_000, 3));
  writeFileSync(join(root, 'zero'), '');
}

describe('createTorrent', () => {
  it('creates a multi-file torrent whose piece hashes match the data', async () => {
    const root = join(tmp.path, 'tree');
    makeTree(root);
    const progress: number[] = [];
    const { torrent, metainfo } = await createTorrent(root, {
      pieceLength: 16384,
      announce: ['udp://127.0.0.1:1', ['http://127.0.0.1:2/a', 'http://127.0.0.1:3/a']],
      comment: 'test',
      onProgress: (p) => progress.push(p.piecesHashed),
    });
    expect(metainfo.name).toBe('tree');
    expect(metainfo.files.map((f) => f.path)).toEqual(['a.txt', 'b.bin', 'sub/deeper/ü.dat', 'zero']);
    expect(metainfo.announce).toEqual([
      ['udp://127.0.0.1:1'],
      ['http://127.0.0.1:2/a', 'http://127.0.0.1:3/a'],
    ]);
    expect(metainfo.createdBy).toMatch(/^bttkit\//);
    expect(metainfo.creationDate).toBeUndefined();
    expect(progress).toEqual(Array.from({ length: metainfo.pieceCount }, (_, i) => i + 1));

    const stream = Buffer.concat(metainfo.files.map((f) => readFileSync(join(root, ...f.segments))));
    expect(stream.length).toBe(metainfo.length);
    for (let i = 0; i < metainfo.pieceCount; i++) {
      const piece = stream.subarray(i * 16384, (i + 1) * 16384);
      expect(toHex(pieceHash(metainfo, i))).toBe(createHash('sha1').update(piece).digest('hex'));
    }
    expect(parseTorrent(torrent).infoHash).toBe(metainfo.infoHash);
  });

  it('is deterministic, and a creation date or private flag is honoured', async () => {
    const root = join(tmp.path, 'tree');
    const a = await createTorrent(root);
    const b = await createTorrent(root);
    expect(Buffer.from(a.torrent).equals(Buffer.from(b.torrent))).toBe(true);
    const dated = await createTorrent(root, { creationDate: new Date(1_700_000_000_000), private: true });
    expect(dated.metainfo.creationDate).toBe(1_700_000_000);
    expect(dated.metainfo.private).toBe(true);
    expect(dated.metainfo.infoHash).not.toBe(a.metainfo.infoHash);
  });

  it('creates a single-file torrent', async () => {
    const file = join(tmp.path, 'one.bin');
    writeFileSync(file, pseudoRandomBytes(100_000, 9));
    const { metainfo } = await createTorrent(file, { pieceLength: 32768, createdBy: null });
    expect(metainfo.multiFile).toBe(false);
    expect(metainfo.name).toBe('one.bin');
    expect(metainfo.pieceCount).toBe(4);
    expect(metainfo.createdBy).toBeUndefined();
  });

  it('chooses piece lengths like mainstream tools', () => {
    expect(choosePieceLength(1)).toBe(16384);
    expect(choosePieceLength(32 * 1024 * 1024)).toBe(16384);
    expect(choosePieceLength(700 * 1024 * 1024)).toBe(512 * 1024);
    expect(choosePieceLength(4 * 1024 ** 3)).toBe(2 * 1024 * 1024);
    expect(choosePieceLength(1024 ** 5)).toBe(16 * 1024 * 1024);
  });

  it('refuses bad input with typed errors and honours abort', async () => {
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'OK',
        (e: unknown) => (e instanceof BttkitError ? e.code : `untyped: ${String(e)}`),
      );
    const empty = join(tmp.path, 'empty-dir');
    mkdirSync(empty);
    expect(await code(createTorrent(empty))).toBe('METAINFO_CREATE_NO_FILES');
    const zero = join(tmp.path, 'zero.bin');
    writeFileSync(zero, '');
    expect(await code(createTorrent(zero))).toBe('METAINFO_CREATE_EMPTY');
    expect(await code(createTorrent(join(tmp.path, 'tree'), { pieceLength: 1000 }))).toBe(
      'METAINFO_CREATE_BAD_PIECE_LENGTH',
    );
    expect(await code(createTorrent(join(tmp.path, 'tree'), { name: '..' }))).toBe('METAINFO_UNSAFE_PATH');
    const ac = new AbortController();
    ac.abort();
    expect(await code(createTorrent(join(tmp.path, 'tree'), { signal: ac.signal }))).toBe('ABORTED');
  });
});
