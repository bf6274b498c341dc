import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BEncodable,
  encode,
  encodeTorrent,
  parseInfoDictionary,
  parseTorrent,
  pieceHash,
  pieceLengthAt,
  unsafePathReason,
} from '../../src/metainfo/index.js';
import { BttkitError, fromBinaryString, toHex } from '../../src/util/index.js';
import { pseudoRandomBytes } from '../helpers/run.js';

const PL = 16384;

function hashes(n: number): Uint8Array {
  return pseudoRandomBytes(n * 20, n + 7);
}

function torrent(
  info: Record<string, BEncodable | undefined>,
  root: Record<string, BEncodable | undefined> = {},
) {
  return encode({ announce: 'http://127.0.0.1:1/announce', ...root, info });
}

const single = (over: Record<string, BEncodable | undefined> = {}) =>
  torrent({ name: 'file.bin', 'piece length': PL, length: 3 * PL - 5, pieces: hashes(3), ...over });

const multi = (files: BEncodable, over: Record<string, BEncodable | undefined> = {}) =>
  torrent({ name: 'folder', 'piece length': PL, files, pieces: hashes(2), ...over });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BttkitError) return e.code;
    throw e;
  }
  return 'OK';
}

describe('parseTorrent', () => {
  it('parses a single-file torrent', () => {
    const data = single({ private: 1 });
    const m = parseTorrent(data);
    expect(m.name).toBe('file.bin');
    expect(m.multiFile).toBe(false);
    expect(m.length).toBe(3 * PL - 5);
    expect(m.pieceCount).toBe(3);
    expect(m.lastPieceLength).toBe(PL - 5);
    expect(pieceLengthAt(m, 0)).toBe(PL);
    expect(pieceLengthAt(m, 2)).toBe(PL - 5);
    expect(pieceHash(m, 1)).toEqual(hashes(3).subarray(20, 40));
    expect(() => pieceHash(m, 3)).toThrow(expect.objectContaining({ code: 'METAINFO_BAD_PIECE_INDEX' }));
    expect(m.private).toBe(true);
    expect(m.files).toEqual([
      { path: 'file.bin', segments: ['file.bin'], length: 3 * PL - 5, offset: 0, padding: false },
    ]);
    expect(m.announce).toEqual([['http://127.0.0.1:1/announce']]);
  });

  it('parses a multi-file torrent with offsets, announce-list tiers, url-list and text fields', () => {
    const data = multi(
      [
        { length: PL, path: ['a', 'b.txt'] },
        { length: 0, path: ['empty'] },
        { length: 10, path: ['ü', '日本.txt'] },
        { length: 5, path: ['.pad', '5'], attr: 'p' },
      ],
      {},
    );
    const withRoot = encode({
      info: (parseTorrent(data).info as unknown as BEncodable) ?? {},
      'announce-list': [['udp://a:1', 'udp://a:1', 'udp://b:2'], [], ['http://c/ann']],
      announce: 'http://ignored/',
      'url-list': 'http://seed/',
      comment: 'héllo',
      'created by': 'test',
      'creation date': 1_700_000_000,
    });
    const m = parseTorrent(withRoot);
    expect(m.files.map((f) => [f.path, f.length, f.offset, f.padding])).toEqual([
      ['a/b.txt', PL, 0, false],
      ['empty', 0, PL, false],
      ['ü/日本.txt', 10, PL, false],
      ['.pad/5', 5, PL + 10, true],
    ]);
    expect(m.length).toBe(PL + 15);
    expect(m.announce).toEqual([['udp://a:1', 'udp://b:2'], ['http://c/ann']]);
    expect(m.urlList).toEqual(['http://seed/']);
    expect(m.comment).toBe('héllo');
    expect(m.createdBy).toBe('test');
    expect(m.creationDate).toBe(1_700_000_000);
  });

  it('prefers name.utf-8 and path.utf-8', () => {
    const m = parseTorrent(
      multi([{ length: PL + 1, path: ['x'], 'path.utf-8': ['ÿ'] }], { 'name.utf-8': 'dossier' }),
    );
    expect(m.name).toBe('dossier');
    expect(m.files[0]?.path).toBe('ÿ');
  });

  it('takes the info-hash over the original bytes, even with unsorted keys', () => {
    // Keys deliberately out of order: re-encoding would change the hash; the original must not.
    const info = `d6:lengthi5e4:name1:x12:piece lengthi${PL}e6:pieces20:${'a'.repeat(20)}e`;
    const unsorted = `d4:name1:x6:lengthi5e12:piece lengthi${PL}e6:pieces20:${'a'.repeat(20)}e`;
    for (const text of [info, unsorted]) {
      const data = fromBinaryString(`d4:info${text}e`);
      const m = parseTorrent(data);
      expect(m.infoHash).toBe(createHash('sha1').update(Buffer.from(text, 'latin1')).digest('hex'));
      expect(toHex(m.infoBytes)).toBe(Buffer.from(text, 'latin1').toString('hex'));
      expect(parseInfoDictionary(m.infoBytes).infoHash).toBe(m.infoHash);
    }
  });

  it('encodeTorrent keeps the info bytes and so the info-hash', () => {
    const m = parseTorrent(single());
    const again = parseTorrent(
      encodeTorrent(m.infoBytes, {
        announce: [['udp://x:1'], ['udp://y:2', 'udp://z:3']],
        urlList: ['http://w/'],
      }),
    );
    expect(again.infoHash).toBe(m.infoHash);
    expect(again.announce).toEqual([['udp://x:1'], ['udp://y:2', 'udp://z:3']]);
    expect(again.urlList).toEqual(['http://w/']);
  });

  it('round-trips random valid torrents', () => {
    const segment = fc
      .stringMatching(/^[a-zA-Z0-9 _-]{1,12}$/)
      .filter((s) => unsafePathReason(s) === undefined);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.nat(100_000)), {
          minLength: 1,
          maxLength: 8,
          selector: ([p]) => p[0],
        }),
        fc.constantFrom(16384, 32768, 1 << 20),
        fc.boolean(),
        (files, pl, priv) => {
          const total = files.reduce((n, [, len]) => n + len, 0);
          fc.pre(total > 0);
          const count = Math.ceil(total / pl);
          const data = torrent({
            name: 'root',
            'piece length': pl,
            pieces: hashes(count),
            files: files.map(([path, length]) => ({ length, path })),
            private: priv ? 1 : undefined,
          });
          const m = parseTorrent(data);
          expect(m.pieceCount).toBe(count);
          expect(m.length).toBe(total);
          expect(m.private).toBe(priv);
          expect(m.files.map((f) => f.segments)).toEqual(files.map(([p]) => p));
          const again = parseTorrent(encodeTorrent(m.infoBytes, { announce: m.announce }));
          expect(again.infoHash).toBe(m.infoHash);
          expect(again.files).toEqual(m.files);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('hostile torrents are refused with typed errors', () => {
  const cases: [string, () => Uint8Array, string][] = [
    [
      'path traversal in path',
      () => multi([{ length: 2 * PL, path: ['..', 'etc', 'passwd'] }]),
      'METAINFO_UNSAFE_PATH',
    ],
    ['dot in path', () => multi([{ length: 2 * PL, path: ['.', 'x'] }]), 'METAINFO_UNSAFE_PATH'],
    [
      'separator in path element',
      () => multi([{ length: 2 * PL, path: ['a/../../b'] }]),
      'METAINFO_UNSAFE_PATH',
    ],
    [
      'backslash in path element',
      () => multi([{ length: 2 * PL, path: ['..\\..\\b'] }]),
      'METAINFO_UNSAFE_PATH',
    ],
    [
      'absolute path element',
      () => multi([{ length: 2 * PL, path: ['/etc/passwd'] }]),
      'METAINFO_UNSAFE_PATH',
    ],
    ['drive letter', () => multi([{ length: 2 * PL, path: ['C:', 'x'] }]), 'METAINFO_UNSAFE_PATH'],
    ['NUL in path', () => multi([{ length: 2 * PL, path: ['a\0b'] }]), 'METAINFO_UNSAFE_PATH'],
    ['reserved device name', () => multi([{ length: 2 * PL, path: ['con.txt'] }]), 'METAINFO_UNSAFE_PATH'],
    [
      'reserved device name with spaces',
      () => multi([{ length: 2 * PL, path: ['LPT1 '] }]),
      'METAINFO_UNSAFE_PATH',
    ],
    ['empty path element', () => multi([{ length: 2 * PL, path: ['a', ''] }]), 'METAINFO_UNSAFE_PATH'],
    ['empty path list', () => multi([{ length: 2 * PL, path: [] }]), 'METAINFO_UNSAFE_PATH'],
    ['path too deep', () => multi([{ length: 2 * PL, path: Array(65).fill('a') }]), 'METAINFO_UNSAFE_PATH'],
    ['traversal in name', () => single({ name: '..' }), 'METAINFO_UNSAFE_PATH'],
    ['separator in name', () => single({ name: '../../x' }), 'METAINFO_UNSAFE_PATH'],
    ['empty name', () => single({ name: '' }), 'METAINFO_UNSAFE_PATH'],
    ['no name', () => single({ name: undefined }), 'METAINFO_NO_NAME'],
    ['pieces not a multiple of 20', () => single({ pieces: hashes(3).subarray(1) }), 'METAINFO_BAD_PIECES'],
    ['too few pieces', () => single({ pieces: hashes(2) }), 'METAINFO_PIECE_COUNT_MISMATCH'],
    ['too many pieces', () => single({ pieces: hashes(4) }), 'METAINFO_PIECE_COUNT_MISMATCH'],
    ['zero piece length', () => single({ 'piece length': 0 }), 'METAINFO_BAD_PIECE_LENGTH'],
    ['negative piece length', () => single({ 'piece length': -16384 }), 'METAINFO_BAD_PIECE_LENGTH'],
    ['absurd piece length', () => single({ 'piece length': 2 ** 40 }), 'METAINFO_BAD_PIECE_LENGTH'],
    ['piece length not an integer', () => single({ 'piece length': '16384' }), 'METAINFO_BAD_PIECE_LENGTH'],
    ['negative length', () => single({ length: -1 }), 'METAINFO_BAD_LENGTH'],
    ['huge length', () => single({ length: 2n ** 60n }), 'METAINFO_BAD_LENGTH'],
    ['negative file length', () => multi([{ length: -5, path: ['a'] }]), 'METAINFO_BAD_LENGTH'],
    ['zero total length', () => single({ length: 0, pieces: new Uint8Array(0) }), 'METAINFO_EMPTY'],
    [
      'both length and files',
      () => multi([{ length: 2 * PL, path: ['a'] }], { length: 5 }),
      'METAINFO_BAD_FILES',
    ],
    ['neither length nor files', () => single({ length: undefined }), 'METAINFO_BAD_FILES'],
    ['files not a list', () => multi('nope'), 'METAINFO_BAD_FILES'],
    ['files empty', () => multi([]), 'METAINFO_BAD_FILES'],
    ['file entry not a dict', () => multi([5]), 'METAINFO_BAD_FILES'],
    [
      'duplicate paths',
      () =>
        multi([
          { length: PL, path: ['a'] },
          { length: PL, path: ['a'] },
        ]),
      'METAINFO_DUPLICATE_PATH',
    ],
    [
      'file and folder',
      () =>
        multi([
          { length: PL, path: ['a'] },
          { length: PL, path: ['a', 'b'] },
        ]),
      'METAINFO_DUPLICATE_PATH',
    ],
    ['no info', () => encode({ announce: 'x' }), 'METAINFO_NO_INFO'],
    ['info not a dict', () => encode({ info: 'x' }), 'METAINFO_NO_INFO'],
    ['root not a dict', () => encode(['info']), 'METAINFO_NOT_A_DICT'],
    [
      '200,000-deep nesting',
      () => fromBinaryString(`d4:info${'l'.repeat(200_000)}${'e'.repeat(200_000)}e`),
      'METAINFO_BAD_BENCODE',
    ],
    [
      'string length far beyond the data',
      () => fromBinaryString('d4:info99999999:abce'),
      'METAINFO_BAD_BENCODE',
    ],
    ['truncated', () => single().subarray(0, 60), 'METAINFO_BAD_BENCODE'],
    ['trailing garbage', () => Uint8Array.from([...single(), 0x78]), 'METAINFO_BAD_BENCODE'],
    ['empty file', () => new Uint8Array(0), 'METAINFO_BAD_BENCODE'],
  ];
  it.each(cases)('%s', (_name, make, code) => {
    expect(codeOf(() => parseTorrent(make()))).toBe(code);
  });

  it('refuses inputs over the size cap before decoding', () => {
    expect(codeOf(() => parseTorrent(single(), { maxBytes: 50 }))).toBe('METAINFO_BAD_BENCODE');
    expect(
      codeOf(() =>
        parseTorrent(
          multi([
            { length: PL, path: ['a'] },
            { length: PL, path: ['b'] },
          ]),
          { maxFiles: 1 },
        ),
      ),
    ).toBe('METAINFO_TOO_MANY_FILES');
  });

  it('random and mutated torrents never throw anything but typed errors', () => {
    const valid = [
      ...multi([
        { length: PL, path: ['a', 'b'] },
        { length: 7, path: ['c'] },
      ]),
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'del', 'ins')), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          const bytes = [...valid];
          for (const [pos, byte, op] of edits) {
            const i = pos % bytes.length;
            if (op === 'set') bytes[i] = byte;
            else if (op === 'del') bytes.splice(i, 1);
            else bytes.splice(i, 0, byte);
          }
          codeOf(() => parseTorrent(Uint8Array.from(bytes)));
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        codeOf(() => parseTorrent(data));
      }),
      { numRuns: 2000 },
    );
  });
});
