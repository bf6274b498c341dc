import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { InfoDictionary } from '../../src/metainfo/index.js';
import { pieceVerifier } from '../../src/storage/index.js';

const PIECES = 262_144;
const PIECE = 16 * 1024;

/** A hand-made v2 info of one file of 262,144 pieces; its layer: piece k's hash is k in bytes 0–3. */
function v2Meta(): { meta: InfoDictionary; layer: Uint8Array } {
  const layer = new Uint8Array(PIECES * 32);
  const view = new DataView(layer.buffer);
  for (let k = 0; k < PIECES; k++) view.setUint32(k * 32, k);
  const root = new Uint8Array(32).fill(7);
  const length = PIECES * PIECE;
  const meta = {
    version: 2,
    infoHash: 'ef'.repeat(20),
    infoHashBytes: new Uint8Array(20).fill(0xef),
    infoBytes: new Uint8Array(0),
    info: new Map(),
    name: 'big.bin',
    pieceLength: PIECE,
    pieceCount: PIECES,
    lastPieceLength: PIECE,
    length,
    pieceHashes: new Uint8Array(0),
    files: [{ path: 'big.bin', segments: ['big.bin'], length, offset: 0, padding: false, piecesRoot: root }],
    multiFile: false,
    private: false,
    v2: {
      infoHash: 'ef'.repeat(32),
      infoHashBytes: new Uint8Array(32),
      truncatedInfoHash: new Uint8Array(20),
      files: [{ fileIndex: 0, firstPiece: 0, pieceCount: PIECES, piecesRoot: root }],
    },
    pieceLayers: new Map([['07'.repeat(32), layer]]),
  } satisfies InfoDictionary & { pieceLayers: ReadonlyMap<string, Uint8Array> };
  return { meta, layer };
}

const live = (ctor: unknown): number =>
  (v8 as unknown as { queryObjects: (c: unknown, o: { format: 'count' }) => number }).queryObjects(ctor, {
    format: 'count',
  });
const canCount = typeof (v8 as { queryObjects?: unknown }).queryObjects === 'function';

describe('the v2 verifier of a 262,144-piece torrent', () => {
  it('finds each piece its own layer entry', () => {
    const { meta, layer } = v2Meta();
    const v = pieceVerifier(meta);
    for (const k of [0, 1, 4095, 131_072, PIECES - 1]) {
      expect(v.matches(k, layer.slice(k * 32, k * 32 + 32))).toBe(true);
      expect(v.matches(k, layer.slice(((k + 1) % PIECES) * 32, ((k + 1) % PIECES) * 32 + 32))).toBe(false);
    }
    expect(v.kind(5)).toEqual({ algo: 'leaves', length: PIECE, width: 1 });
  });

  it.skipIf(!canCount)('holds no view per piece', () => {
    const { meta } = v2Meta();
    const before = live(Uint8Array);
    const v = pieceVerifier(meta);
    expect(live(Uint8Array) - before).toBeLessThan(100);
    expect(v.algo).toBe('merkle');
  });
});
