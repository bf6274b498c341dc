/**
 * BEP 52 Merkle utilities against values libtorrent 2.0.8 computed (pieces roots and piece layers
 * of three files, 32 KiB pieces; recorded once with python3-libtorrent's create_torrent), plus
 * proofs for `hashes` messages, checked for acceptance and for refusal of every kind of tamper.
 */
import { describe, expect, it } from 'vitest';
import {
  blockHashes,
  fileRoot,
  hashAt,
  merkleLayers,
  merklePadHash,
  merkleParent,
  merkleProof,
  merkleProofNode,
  pieceLayerFromLeaves,
  pieceRoot,
  rootFromPieceLayer,
  verifyMerkleProof,
  verifyPiece,
  verifyPieceLayer,
} from '../../src/metainfo/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { sha256 } from '../../src/util/hash.js';

const PIECE = 32 * 1024;

/** The bytes libtorrent hashed: ((i*7 + seed*13 + (i >> 8)) & 0xff). */
function data(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  return out;
}

const A = data(100_001, 1);
const B = data(300_000, 2);
const C = data(1000, 3);
const LT = {
  rootA: '7dce6004072750857fe21f1da24511c3ebda4d0111f2f81fe4146148d2f37476',
  rootB: '195ca5e0e0f9bbe9aa97c62a0552fb6b6f4a9ce693a60e777e3a4801b50f83c2',
  rootC: '29f4cb1a859ca179796f92010beac7add28def6056a4460d8f976a770b4f4b53',
  layerA:
    '2f246ded4866ec4b5175973fa6a001411a1a6b2ca08a7add2550505f6c696656' +
    '61dc164759694f19c279d6d616a767f2f894ae3efd9ec0df98e53669b367ed6c' +
    '2f246ded4866ec4b5175973fa6a001411a1a6b2ca08a7add2550505f6c696656' +
    'a52d9bbc7780376b8e8d8f1a2c695657baca840e320a1bbeb661d07aed19fd47',
  layerB:
    `${
      'b58f574334f6db24ae44742b900a55c5fc84f2afeac7a0c395cbd1fade1736eb' +
      'aecee5b64c5028c87a6c8d3429c879d23e7b802fc16bbd2c0cb9b3de4238b4ad'.repeat(1)
    }`.repeat(4) +
    'b58f574334f6db24ae44742b900a55c5fc84f2afeac7a0c395cbd1fade1736eb' +
    '276afeea4305a735970af4bf471f514b06e62f4e9b0fe554e304815ecd61346c',
};

describe('Merkle trees (BEP 52) against libtorrent', () => {
  it('computes the pieces roots libtorrent computed', () => {
    expect(toHex(fileRoot(A))).toBe(LT.rootA);
    expect(toHex(fileRoot(B))).toBe(LT.rootB);
    // A file smaller than a block: the root is the hash of the block itself.
    expect(toHex(fileRoot(C))).toBe(LT.rootC);
    expect(toHex(fileRoot(C))).toBe(toHex(sha256(C)));
  });

  it('computes the piece layers libtorrent computed, and their roots', () => {
    const layerA = pieceLayerFromLeaves(blockHashes(A), PIECE);
    const layerB = pieceLayerFromLeaves(blockHashes(B), PIECE);
    expect(toHex(layerA)).toBe(LT.layerA);
    expect(toHex(layerB)).toBe(LT.layerB);
    expect(toHex(rootFromPieceLayer(layerA, PIECE))).toBe(LT.rootA);
    expect(toHex(rootFromPieceLayer(layerB, PIECE))).toBe(LT.rootB);
    expect(verifyPieceLayer(fromHex(LT.rootA), layerA, A.length, PIECE)).toBe(true);
    // No layer for a file of at most one piece.
    expect(pieceLayerFromLeaves(blockHashes(C), PIECE).length).toBe(0);
    expect(pieceLayerFromLeaves(blockHashes(data(PIECE, 4)), PIECE).length).toBe(0);
  });

  it('refuses piece layers of the wrong length or with a changed hash', () => {
    const layerA = fromHex(LT.layerA);
    const root = fromHex(LT.rootA);
    expect(verifyPieceLayer(root, layerA.subarray(0, 96), A.length, PIECE)).toBe(false);
    expect(verifyPieceLayer(root, new Uint8Array([...layerA, ...new Uint8Array(32)]), A.length, PIECE)).toBe(
      false,
    );
    // The same hashes for a file one piece longer: the count no longer fits.
    expect(verifyPieceLayer(root, layerA, A.length + PIECE, PIECE)).toBe(false);
    const bad = layerA.slice();
    bad[70] = (bad[70] as number) ^ 1;
    expect(verifyPieceLayer(root, bad, A.length, PIECE)).toBe(false);
    expect(verifyPieceLayer(fromHex(LT.rootB), layerA, A.length, PIECE)).toBe(false);
  });

  it('verifies each piece against the layer, including a short last piece', () => {
    const layerA = fromHex(LT.layerA);
    for (let p = 0; p < 4; p++) {
      const piece = A.subarray(p * PIECE, (p + 1) * PIECE);
      expect(verifyPiece(layerA, p, piece, PIECE)).toBe(true);
      expect(toHex(pieceRoot(piece, PIECE))).toBe(toHex(hashAt(layerA, p)));
    }
    const last = A.subarray(3 * PIECE).slice();
    expect(last.length).toBe(100_001 - 3 * PIECE);
    last[0] = (last[0] as number) ^ 0xff;
    expect(verifyPiece(layerA, 3, last, PIECE)).toBe(false);
    // Padding the short piece with zero bytes is not the same as zero hashes.
    const padded = new Uint8Array(PIECE);
    padded.set(A.subarray(3 * PIECE));
    expect(verifyPiece(layerA, 3, padded, PIECE)).toBe(false);
    expect(verifyPiece(layerA, 4, A.subarray(0, PIECE), PIECE)).toBe(false);
    expect(verifyPiece(layerA, -1, A.subarray(0, PIECE), PIECE)).toBe(false);
    // A one-piece file is checked against its root.
    expect(verifyPiece(fromHex(LT.rootC), 0, C, PIECE)).toBe(true);
  });

  it('pads with the BEP zero hashes', () => {
    const z = new Uint8Array(32);
    expect(merklePadHash(0)).toEqual(z);
    expect(merklePadHash(1)).toEqual(merkleParent(z, z));
    expect(merklePadHash(2)).toEqual(merkleParent(merklePadHash(1), merklePadHash(1)));
  });
});

describe('proofs for hashes messages', () => {
  const leaves = blockHashes(A); // 7 blocks → 8 leaves
  const layers = merkleLayers(leaves);
  const root = fromHex(LT.rootA);

  it('builds a tree whose root is libtorrent’s, and proofs of every range that verify', () => {
    expect(layers.length).toBe(4);
    expect(toHex(layers[3] as Uint8Array)).toBe(LT.rootA);
    for (const [base, length] of [
      [0, 1],
      [0, 2],
      [0, 4],
      [0, 8],
      [1, 1],
      [1, 2],
      [1, 4],
      [2, 1],
    ] as const) {
      const width = 8 / 2 ** base;
      for (let index = 0; index < width; index += length) {
        const proof = merkleProof(layers, base, index, length);
        expect(proof.hashes.length).toBe(length * 32);
        expect(proof.uncles.length / 32).toBe(Math.log2(width / length));
        expect(verifyMerkleProof(root, 8, base, index, proof)).toBe(true);
      }
    }
    // The piece layer (base 1 with 32 KiB pieces) equals libtorrent's, whose proofs reach its root.
    expect(toHex(layers[1] as Uint8Array)).toBe(LT.layerA);
  });

  it('refuses tampered hashes, uncles, indices and proof lengths', () => {
    const proof = merkleProof(layers, 0, 2, 2);
    const flip = (b: Uint8Array, i: number) => {
      const c = b.slice();
      c[i] = (c[i] as number) ^ 1;
      return c;
    };
    expect(verifyMerkleProof(root, 8, 0, 2, { ...proof, hashes: flip(proof.hashes, 5) })).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 2, { ...proof, uncles: flip(proof.uncles, 40) })).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 0, proof)).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 1, proof)).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 8, proof)).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 2, { ...proof, uncles: proof.uncles.subarray(32) })).toBe(false);
    expect(
      verifyMerkleProof(root, 8, 0, 2, {
        ...proof,
        uncles: new Uint8Array([...proof.uncles, ...new Uint8Array(32)]),
      }),
    ).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 2, { ...proof, hashes: proof.hashes.subarray(0, 33) })).toBe(false);
    expect(verifyMerkleProof(root, 8, 0, 2, { hashes: new Uint8Array(0), uncles: proof.uncles })).toBe(false);
    expect(verifyMerkleProof(root, 6, 0, 2, proof)).toBe(false);
    expect(verifyMerkleProof(root, 8, 9, 2, proof)).toBe(false);
    // Three hashes are not a subtree.
    expect(verifyMerkleProof(root, 8, 0, 0, { hashes: new Uint8Array(96), uncles: proof.uncles })).toBe(
      false,
    );
  });

  it('orders uncles from the lowest layer up, each the sibling of the path (as libtorrent reads them)', () => {
    // Leaves a..h: the proof of e (index 4) is f, then gh, then ad.
    const l = merkleLayers(blockHashes(new Uint8Array(8 * 16384).map((_, i) => i >> 14)));
    const at = (layer: number, i: number) => toHex(hashAt(l[layer] as Uint8Array, i));
    const p = merkleProof(l, 0, 4, 1);
    expect([0, 1, 2].map((k) => toHex(hashAt(p.uncles, k)))).toEqual([at(0, 5), at(1, 3), at(2, 0)]);
    // A partial proof (proofLayers 1) leads to the interior node ef, at layer 1 index 2.
    const partial = merkleProofNode(0, 4, merkleProof(l, 0, 4, 1, 1));
    expect(partial && [toHex(partial.hash), partial.layer, partial.index]).toEqual([at(1, 2), 1, 2]);
    expect(merkleProofNode(0, 3, { hashes: new Uint8Array(64), uncles: new Uint8Array(0) })).toBeUndefined();
  });

  it('limits the uncles to proofLayers and refuses ranges outside the tree with a typed error', () => {
    expect(merkleProof(layers, 0, 0, 1, 1).uncles.length).toBe(32);
    expect(merkleProof(layers, 0, 0, 1, 0).uncles.length).toBe(0);
    for (const [base, index, length] of [
      [0, 1, 2],
      [0, 8, 1],
      [0, 0, 3],
      [5, 0, 1],
      [0, -2, 2],
    ] as const) {
      expect(() => merkleProof(layers, base, index, length)).toThrow(
        expect.objectContaining({ code: 'METAINFO_BAD_PIECE_INDEX' }),
      );
    }
  });
});
