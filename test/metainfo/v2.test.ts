/**
 * v2-only and hybrid torrents (BEP 52): parse, create, round trips, and hostile inputs refused
 * with typed errors (deep and huge file trees, bad layer lengths, root mismatches, bad meta
 * version, hybrids whose v1 and v2 views disagree).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BEncodable,
  blockHashes,
  createTorrent,
  decode,
  encode,
  fileRoot,
  formatMagnet,
  type Metainfo,
  parseInfoDictionary,
  parseMagnet,
  parseTorrent,
  pieceHash,
  pieceLayerFromLeaves,
  verifyPieceLayer,
} from '../../src/metainfo/index.js';
import { fromHex, toBinaryString, toHex, utf8 } from '../../src/util/bytes.js';
import { BttkitError } from '../../src/util/errors.js';
import { sha1, sha256 } from '../../src/util/hash.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const PIECE = 32 * 1024;
const k = (s: string) => toBinaryString(utf8(s));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BttkitError) return `${e.code}${e.details.reason ? `:${String(e.details.reason)}` : ''}`;
    throw e;
  }
  return 'OK';
}

interface HandFile {
  path: string[];
  data: Uint8Array;
}

/** A v2-only torrent built by hand (valid unless mutated), as a mutable Map tree. */
function handMade(files: HandFile[], pieceLength = PIECE) {
  const tree = new Map<string, BEncodable>();
  const layers = new Map<string, BEncodable>();
  for (const f of files) {
    let node = tree;
    for (const seg of f.path) {
      let c = node.get(k(seg)) as Map<string, BEncodable> | undefined;
      if (!c) {
        c = new Map();
        node.set(k(seg), c);
      }
      node = c;
    }
    const leaf = new Map<string, BEncodable>([['length', f.data.length]]);
    if (f.data.length > 0) {
      const root = fileRoot(f.data);
      leaf.set('pieces root', root);
      const layer = pieceLayerFromLeaves(blockHashes(f.data), pieceLength);
      if (layer.length > 0) layers.set(toBinaryString(root), layer);
    }
    node.set('', leaf);
  }
  const info = new Map<string, BEncodable>([
    ['file tree', tree],
    ['meta version', 2],
    ['name', 'hand'],
    ['piece length', pieceLength],
  ]);
  const root = new Map<string, BEncodable>([
    ['info', info],
    ['piece layers', layers],
  ]);
  return { root, info, tree, layers, bytes: () => encode(root) };
}

const FILES: HandFile[] = [
  { path: ['a.bin'], data: pseudoRandomBytes(100_001, 1) },
  { path: ['d', 'empty'], data: new Uint8Array(0) },
  { path: ['d', 'e', 'one-piece'], data: pseudoRandomBytes(PIECE, 2) },
  { path: ['d', 'small'], data: pseudoRandomBytes(1000, 3) },
];

describe('parsing v2-only torrents', () => {
  it('reads the file tree, pads files to pieces and verifies the piece layers', () => {
    const t = handMade(FILES);
    const bytes = t.bytes();
    const m = parseTorrent(bytes);
    expect(m.version).toBe(2);
    const info = encode(t.info);
    expect(m.infoHashV2).toBe(toHex(sha256(info)));
    expect(m.infoHash).toBe(toHex(sha256(info).subarray(0, 20)));
    expect(m.infoHashBytes).toEqual(m.v2?.truncatedInfoHash);
    expect(m.pieceHashes.length).toBe(0);
    expect(m.files.map((f) => [f.path, f.length, f.offset, f.padding])).toEqual([
      ['a.bin', 100_001, 0, false],
      ['.pad/31071', 31_071, 100_001, true],
      ['d/e/one-piece', PIECE, 4 * PIECE, false],
      ['d/empty', 0, 5 * PIECE, false],
      ['d/small', 1000, 5 * PIECE, false],
      ['.pad/31768', 31_768, 5 * PIECE + 1000, true],
    ]);
    expect(m.pieceCount).toBe(6);
    expect(m.length).toBe(6 * PIECE);
    expect(m.pieceLayers?.size).toBe(1);
    const a = m.files[0];
    expect(
      a?.piecesRoot &&
        verifyPieceLayer(
          a.piecesRoot,
          m.pieceLayers?.get(toHex(a.piecesRoot)) ?? new Uint8Array(0),
          a.length,
          PIECE,
        ),
    ).toBe(true);
    expect(m.files[3]?.piecesRoot).toBeUndefined();
    expect(m.v2?.files.map((f) => [f.fileIndex, f.firstPiece, f.pieceCount])).toEqual([
      [0, 0, 4],
      [2, 4, 1],
      [3, 5, 0],
      [4, 5, 1],
    ]);
    // v2-only torrents have no SHA-1 piece hashes.
    expect(codeOf(() => pieceHash(m, 0))).toBe('METAINFO_BAD_PIECE_INDEX');
    // The info dictionary alone (as BEP 9 delivers it) parses to the same hashes, without layers.
    const alone = parseInfoDictionary(info);
    expect(alone.infoHashV2).toBe(m.infoHashV2);
    expect((alone as Partial<Metainfo>).pieceLayers).toBeUndefined();
  });

  it('reads a single-file v2 torrent', () => {
    const m = parseTorrent(handMade([{ path: ['only.bin'], data: pseudoRandomBytes(70_000, 5) }]).bytes());
    expect(m.multiFile).toBe(false);
    // Padded to a whole piece, as libtorrent lists it (its total_size() is 3 pieces).
    expect(m.files.map((f) => [f.path, f.length, f.padding])).toEqual([
      ['only.bin', 70_000, false],
      ['.pad/28304', 28_304, true],
    ]);
    expect(m.length).toBe(3 * PIECE);
    expect(m.lastPieceLength).toBe(PIECE);
    expect(m.v2?.files).toEqual([
      { fileIndex: 0, firstPiece: 0, pieceCount: 3, piecesRoot: m.files[0]?.piecesRoot },
    ]);
  });

  it('keeps v1 torrents v1, even with a stray file tree', () => {
    const v1 = encode({
      info: { name: 'x', 'piece length': PIECE, length: 5, pieces: new Uint8Array(20), 'file tree': 1 },
    });
    const m = parseTorrent(v1);
    expect(m.version).toBe(1);
    expect(m.infoHashV2).toBeUndefined();
  });
});

describe('hostile v2 torrents are refused with typed errors', () => {
  const cases: [string, (t: ReturnType<typeof handMade>) => void, string][] = [
    ['meta version 1', (t) => t.info.set('meta version', 1), 'METAINFO_BAD_FILES:meta-version'],
    ['meta version 3', (t) => t.info.set('meta version', 3), 'METAINFO_BAD_FILES:meta-version'],
    ['meta version as a string', (t) => t.info.set('meta version', '2'), 'METAINFO_BAD_FILES:meta-version'],
    ['no file tree', (t) => t.info.delete('file tree'), 'METAINFO_BAD_FILES:file-tree'],
    ['an empty file tree', (t) => t.info.set('file tree', new Map()), 'METAINFO_BAD_FILES:file-tree'],
    ['a file tree that is a list', (t) => t.info.set('file tree', []), 'METAINFO_BAD_FILES:file-tree'],
    [
      'a piece length not a power of two',
      (t) => t.info.set('piece length', 3 * 16384),
      'METAINFO_BAD_PIECE_LENGTH',
    ],
    ['a piece length under 16 KiB', (t) => t.info.set('piece length', 8192), 'METAINFO_BAD_PIECE_LENGTH'],
    [
      'a ".." path element',
      (t) => t.tree.set('..', t.tree.get(k('a.bin')) as BEncodable),
      'METAINFO_UNSAFE_PATH:dot-dot',
    ],
    ['an empty folder', (t) => t.tree.set('z', new Map()), 'METAINFO_BAD_FILES:file-tree'],
    [
      'a node that is a file and a folder',
      (t) => (t.tree.get('d') as Map<string, BEncodable>).set('', new Map([['length', 1]])),
      'METAINFO_BAD_FILES:file-tree',
    ],
    [
      'a negative length',
      (t) =>
        ((t.tree.get(k('a.bin')) as Map<string, BEncodable>).get('') as Map<string, BEncodable>).set(
          'length',
          -1,
        ),
      'METAINFO_BAD_LENGTH:file-tree',
    ],
    [
      'a pieces root of 31 bytes',
      (t) =>
        ((t.tree.get(k('a.bin')) as Map<string, BEncodable>).get('') as Map<string, BEncodable>).set(
          'pieces root',
          new Uint8Array(31),
        ),
      'METAINFO_BAD_FILES:pieces-root',
    ],
    [
      'a non-empty file without pieces root',
      (t) =>
        ((t.tree.get(k('a.bin')) as Map<string, BEncodable>).get('') as Map<string, BEncodable>).delete(
          'pieces root',
        ),
      'METAINFO_BAD_FILES:pieces-root',
    ],
    ['no piece layers', (t) => t.root.delete('piece layers'), 'METAINFO_BAD_PIECES:missing-layer'],
    ['piece layers as a list', (t) => t.root.set('piece layers', []), 'METAINFO_BAD_PIECES:piece-layers'],
    [
      'a layer one hash short',
      (t) => {
        for (const [key, v] of t.layers) t.layers.set(key, (v as Uint8Array).subarray(32));
      },
      'METAINFO_BAD_PIECES:layer-length',
    ],
    [
      'a layer one hash long',
      (t) => {
        for (const [key, v] of t.layers)
          t.layers.set(key, new Uint8Array([...(v as Uint8Array), ...new Uint8Array(32)]));
      },
      'METAINFO_BAD_PIECES:layer-length',
    ],
    [
      'a layer that does not hash to its root',
      (t) => {
        for (const [key, v] of t.layers) {
          const c = (v as Uint8Array).slice();
          c[0] = (c[0] as number) ^ 1;
          t.layers.set(key, c);
        }
      },
      'METAINFO_BAD_PIECES:root-mismatch',
    ],
    [
      'a file longer than its layer says',
      (t) =>
        ((t.tree.get(k('a.bin')) as Map<string, BEncodable>).get('') as Map<string, BEncodable>).set(
          'length',
          200_000,
        ),
      'METAINFO_BAD_PIECES:layer-length',
    ],
    [
      'a layer for a root made up for a small file',
      (t) =>
        ((t.tree.get('d') as Map<string, BEncodable>).get('small') as Map<string, BEncodable>).set(
          '',
          new Map<string, BEncodable>([
            ['length', 40_000],
            ['pieces root', new Uint8Array(32)],
          ]),
        ),
      'METAINFO_BAD_PIECES:missing-layer',
    ],
  ];
  it.each(cases)('%s', (_name, mutate, code) => {
    const t = handMade(FILES);
    mutate(t);
    expect(codeOf(() => parseTorrent(t.bytes()))).toBe(code);
  });

  it('refuses deep trees without recursing without bound', () => {
    let node = new Map<string, BEncodable>([['', new Map<string, BEncodable>([['length', 0]])]]);
    for (let i = 0; i < 70; i++) node = new Map<string, BEncodable>([[`d${i}`, node]]);
    const t = handMade(FILES);
    t.tree.set('deep', node);
    // Deeper than the bencode nesting limit: refused while decoding.
    expect(codeOf(() => parseTorrent(t.bytes()))).toBe('METAINFO_BAD_BENCODE');
    expect(codeOf(() => parseTorrent(t.bytes(), {}))).toMatch(/^METAINFO_/);
    // Within the bencode limit but deeper than the path limit of the tree: refused as a path.
    let shallow = new Map<string, BEncodable>([['', new Map<string, BEncodable>([['length', 0]])]]);
    for (let i = 0; i < 50; i++) shallow = new Map<string, BEncodable>([[`d${i}`, shallow]]);
    const t2 = handMade(FILES);
    t2.tree.set('deep', shallow);
    expect(codeOf(() => parseTorrent(t2.bytes()))).toBe('OK');
  });

  it('refuses more files than maxFiles before building them', () => {
    const t = handMade(FILES);
    const many = new Map<string, BEncodable>();
    for (let i = 0; i < 5000; i++)
      many.set(`f${i}`, new Map([['', new Map<string, BEncodable>([['length', 0]])]]));
    t.tree.set('many', many);
    expect(codeOf(() => parseTorrent(t.bytes(), { maxFiles: 1000 }))).toBe(
      'METAINFO_TOO_MANY_FILES:file-tree',
    );
    expect(codeOf(() => parseTorrent(t.bytes()))).toBe('OK');
  });

  it('refuses two keys that decode to one path (invalid UTF-8)', () => {
    const t = handMade(FILES);
    const leaf = t.tree.get(k('a.bin')) as BEncodable;
    t.tree.set('\xff', leaf);
    t.tree.set('\xfe', leaf);
    expect(codeOf(() => parseTorrent(t.bytes()))).toBe('METAINFO_DUPLICATE_PATH:file-tree');
  });

  it('bounds the piece count of a v2 info dictionary that claims huge files', () => {
    const t = handMade([{ path: ['tiny'], data: pseudoRandomBytes(10, 9) }]);
    const leaf = (t.tree.get('tiny') as Map<string, BEncodable>).get('') as Map<string, BEncodable>;
    // Without piece layers (as BEP 9 delivers it), only the limit stands between a claim and a
    // bitfield of 2^37 bits.
    leaf.set('length', 2 ** 52);
    expect(codeOf(() => parseInfoDictionary(encode(t.info)))).toBe('METAINFO_BAD_LENGTH:too-many-pieces');
    leaf.set('length', 100 * PIECE);
    expect(codeOf(() => parseInfoDictionary(encode(t.info), { maxPieces: 99 }))).toBe(
      'METAINFO_BAD_LENGTH:too-many-pieces',
    );
    expect(parseInfoDictionary(encode(t.info), { maxPieces: 100 }).pieceCount).toBe(100);
  });

  it('never throws anything but a typed error on random corruption', () => {
    const valid = handMade(FILES).bytes();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (edits) => {
          const b = valid.slice();
          for (const [i, v] of edits) b[i] = v;
          const c = codeOf(() => parseTorrent(b));
          expect(c === 'OK' || /^(METAINFO|BENCODE)_/.test(c)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a torrent whose files are all empty', () => {
    expect(codeOf(() => parseTorrent(handMade([{ path: ['e'], data: new Uint8Array(0) }]).bytes()))).toBe(
      'METAINFO_EMPTY',
    );
  });
});

describe('creating v2 and hybrid torrents', () => {
  const tmp = tempDir('bttkit-v2-');
  let dir: string;
  beforeAll(() => {
    dir = join(tmp.path, 'tree');
    mkdirSync(join(dir, 'd', 'e'), { recursive: true });
    mkdirSync(join(dir, 'd-x'), { recursive: true });
    for (const f of FILES) writeFileSync(join(dir, ...f.path), f.data);
    writeFileSync(join(dir, 'd-x', 'z'), 'z');
  });
  afterAll(tmp.cleanup);

  it('creates a v2-only torrent equal to the hand-made one, with layers', async () => {
    const { torrent, metainfo: m } = await createTorrent(dir, {
      version: 2,
      pieceLength: PIECE,
      createdBy: null,
      name: 'hand',
    });
    expect(m.version).toBe(2);
    // Tree order is element by element: d/… before d-x/… (byte order of joined paths would differ).
    expect(m.files.filter((f) => !f.padding).map((f) => f.path)).toEqual([
      'a.bin',
      'd/e/one-piece',
      'd/empty',
      'd/small',
      'd-x/z',
    ]);
    const hand = handMade([...FILES, { path: ['d-x', 'z'], data: utf8('z') }]);
    expect(toHex(torrent)).toBe(toHex(hand.bytes()));
  });

  it('creates a hybrid whose v1 and v2 views agree, and v1 is still the default', async () => {
    const { metainfo: h } = await createTorrent(dir, { version: 'hybrid', pieceLength: PIECE });
    expect(h.version).toBe('hybrid');
    expect(h.infoHash).toBe(toHex(sha1(h.infoBytes)));
    expect(h.infoHashV2).toBe(toHex(sha256(h.infoBytes)));
    expect(h.pieceHashes.length).toBe(h.pieceCount * 20);
    const info = decode(h.infoBytes) as Map<string, unknown>;
    expect(info.has('file tree') && info.has('files') && info.has('pieces')).toBe(true);
    for (const f of h.files) if (!f.padding && f.length > 0) expect(f.offset % PIECE).toBe(0);
    const { metainfo: v1 } = await createTorrent(dir, { pieceLength: PIECE });
    expect(v1.version).toBe(1);
    expect(v1.infoHashV2).toBeUndefined();
    expect((decode(v1.infoBytes) as Map<string, unknown>).has('meta version')).toBe(false);
  });

  it('reports progress per piece and stops when aborted', async () => {
    for (const version of [2, 'hybrid'] as const) {
      const seen: number[] = [];
      const { metainfo } = await createTorrent(dir, {
        version,
        pieceLength: PIECE,
        onProgress: (p) => seen.push(p.piecesHashed),
      });
      const real = metainfo.v2?.files.reduce((n, f) => n + f.pieceCount, 0);
      expect(seen).toEqual(Array.from({ length: real ?? -1 }, (_, i) => i + 1));
      expect(real).toBe(metainfo.pieceCount);
      const ac = new AbortController();
      ac.abort();
      await expect(createTorrent(dir, { version, signal: ac.signal })).rejects.toMatchObject({
        code: 'ABORTED',
      });
    }
  });

  it('creates single-file v2 and hybrid torrents', async () => {
    const file = join(dir, 'a.bin');
    const { metainfo: v2 } = await createTorrent(file, { version: 2, pieceLength: PIECE });
    expect([v2.version, v2.multiFile, v2.files.length, v2.length]).toEqual([2, false, 2, 4 * PIECE]);
    const { metainfo: h } = await createTorrent(file, { version: 'hybrid', pieceLength: PIECE });
    expect([h.version, h.multiFile, h.files.length, h.length]).toEqual(['hybrid', false, 1, 100_001]);
    expect(h.files[0]?.piecesRoot).toEqual(v2.files[0]?.piecesRoot);
    expect((decode(h.infoBytes) as Map<string, BEncodable>).get('length')).toBe(100_001n);
  });

  it('refuses hybrids whose v1 files disagree with the tree', async () => {
    const { torrent, metainfo: h } = await createTorrent(dir, { version: 'hybrid', pieceLength: PIECE });
    const layers = (decode(torrent) as Map<string, BEncodable>).get('piece layers') as BEncodable;
    const info = decode(h.infoBytes) as Map<string, BEncodable>;
    const files = info.get('files') as Map<string, BEncodable>[];
    const variants: [string, (fs: Map<string, BEncodable>[]) => Map<string, BEncodable>[]][] = [
      ['a file missing', (fs) => fs.filter((_, i) => i !== fs.length - 2)],
      [
        'an extra file',
        (fs) => [
          ...fs,
          new Map<string, BEncodable>([
            ['length', 1],
            ['path', ['extra']],
          ]),
        ],
      ],
      ['a renamed file', (fs) => fs.map((f, i) => (i === 0 ? new Map([...f, ['path', ['b.bin']]]) : f))],
      ['two files swapped', (fs) => [fs[2], fs[1], fs[0], ...fs.slice(3)] as Map<string, BEncodable>[]],
      ['no padding', (fs) => fs.filter((f) => !f.has('attr'))],
      [
        'a whole extra piece of padding in two pads',
        (fs) =>
          [
            fs[0],
            fs[1],
            new Map<string, BEncodable>([
              ['attr', 'p'],
              ['length', PIECE - 1],
              ['path', ['.pad', 'x']],
            ]),
            new Map<string, BEncodable>([
              ['attr', 'p'],
              ['length', 1],
              ['path', ['.pad', 'y']],
            ]),
            ...fs.slice(2),
          ] as Map<string, BEncodable>[],
      ],
      ['a changed length', (fs) => fs.map((f, i) => (i === 0 ? new Map([...f, ['length', 100_000]]) : f))],
    ];
    for (const [name, change] of variants) {
      const bad = new Map(info);
      bad.set('files', change(files));
      const code = codeOf(() => parseTorrent(encode({ info: bad, 'piece layers': layers })));
      expect([name, code]).toEqual([
        name,
        expect.stringMatching(/^METAINFO_(BAD_FILES:hybrid|PIECE_COUNT_MISMATCH)$/),
      ]);
    }
  });
});

describe('btmh magnets', () => {
  const V2 = 'a'.repeat(32) + 'b'.repeat(32);
  const V1 = 'c'.repeat(40);
  it('parses btmh alone (infoHash is the truncated v2 hash) and with btih', () => {
    const m = parseMagnet(`magnet:?xt=urn:btmh:1220${V2}&dn=x`);
    expect(m.infoHashV2).toBe(V2);
    expect(m.infoHashV2Bytes).toEqual(fromHex(V2));
    expect(m.infoHash).toBe(V2.slice(0, 40));
    const h = parseMagnet(`magnet:?xt=urn:btih:${V1}&xt=urn:btmh:1220${V2.toUpperCase()}`);
    expect([h.infoHash, h.infoHashV2]).toEqual([V1, V2]);
  });
  it('formats both and round-trips', () => {
    expect(formatMagnet({ infoHashV2: V2 })).toBe(`magnet:?xt=urn:btmh:1220${V2}`);
    const s = formatMagnet({ infoHash: V1, infoHashV2: fromHex(V2), name: 'n' });
    expect(s).toBe(`magnet:?xt=urn:btih:${V1}&xt=urn:btmh:1220${V2}&dn=n`);
    expect(parseMagnet(s).infoHashV2).toBe(V2);
  });
  it('refuses malformed and conflicting btmh', () => {
    expect(codeOf(() => parseMagnet('magnet:?xt=urn:btmh:1220abcd'))).toBe('MAGNET_BAD_INFOHASH');
    expect(
      codeOf(() => parseMagnet(`magnet:?xt=urn:btmh:1220${V2}&xt=urn:btmh:1220${V1}${'0'.repeat(24)}`)),
    ).toBe('MAGNET_CONFLICTING_INFOHASH');
    expect(codeOf(() => parseMagnet(`magnet:?xt=urn:btmh:1114${V1}`))).toBe('MAGNET_NO_INFOHASH');
    expect(codeOf(() => formatMagnet({}))).toBe('MAGNET_NO_INFOHASH');
    expect(codeOf(() => formatMagnet({ infoHashV2: new Uint8Array(20) }))).toBe('MAGNET_BAD_INFOHASH');
  });
});
