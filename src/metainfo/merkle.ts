import { MetainfoError } from '../util/errors.js';
import { createSha256, sha256 } from '../util/hash.js';

/**
 * BEP 52 Merkle trees: SHA-256 over 16 KiB blocks, each file its own tree, leaves padded to a
 * power of two with zero hashes. Layers are plain byte arrays of concatenated 32-byte hashes.
 */

/** Bytes per leaf block. */
export const MERKLE_BLOCK_SIZE = 16 * 1024;
/** Bytes per hash. */
export const MERKLE_HASH_SIZE = 32;

const ZERO = new Uint8Array(32);
const padCache: Uint8Array[] = [ZERO];

function badArg(message: string, details: Record<string, number | string> = {}): never {
  throw new MetainfoError('METAINFO_BAD_PIECE_INDEX', message, {
    details: { reason: 'merkle-argument', ...details },
  });
}

/** SHA-256 of two hashes side by side: one interior node. */
export function merkleParent(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createSha256().update(left).update(right).digest();
}

/**
 * Root of a subtree whose `2^depth` leaves are all zero hashes (the BEP's padding). Depth 0 is
 * the zero hash itself.
 */
export function merklePadHash(depth: number): Uint8Array {
  if (!Number.isInteger(depth) || depth < 0 || depth > 64) badArg(`bad pad depth ${depth}`);
  while (padCache.length <= depth) {
    const last = padCache[padCache.length - 1] as Uint8Array;
    padCache.push(merkleParent(last, last));
  }
  return padCache[depth] as Uint8Array;
}

/** The smallest power of two ≥ `n` (1 for n ≤ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function log2(n: number): number {
  return Math.round(Math.log2(n));
}

function checkPieceLength(pieceLength: number): void {
  if (
    !Number.isInteger(pieceLength) ||
    pieceLength < MERKLE_BLOCK_SIZE ||
    pieceLength > 2 ** 30 ||
    (pieceLength & (pieceLength - 1)) !== 0
  ) {
    badArg(`piece length ${pieceLength} is not a power of two ≥ 16 KiB`, { pieceLength });
  }
}

/** The `i`-th 32-byte hash of a layer. */
export function hashAt(layer: Uint8Array, i: number): Uint8Array {
  return layer.subarray(i * 32, i * 32 + 32);
}

/** Leaf hashes of `data` (one file's bytes, or a piece of it): SHA-256 of each 16 KiB block. */
export function blockHashes(data: Uint8Array): Uint8Array {
  const n = Math.ceil(data.length / MERKLE_BLOCK_SIZE);
  const out = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) {
    out.set(sha256(data.subarray(i * MERKLE_BLOCK_SIZE, (i + 1) * MERKLE_BLOCK_SIZE)), i * 32);
  }
  return out;
}

/**
 * Root of the tree over `layer` (concatenated hashes), padded to `width` nodes (a power of two,
 * default the next one) with `padHash`.
 */
export function merkleRoot(layer: Uint8Array, padHash: Uint8Array = ZERO, width?: number): Uint8Array {
  if (layer.length % 32 !== 0) badArg('layer is not a multiple of 32 bytes');
  const count = layer.length / 32;
  const w = width ?? nextPowerOfTwo(count);
  if (w < count || (w & (w - 1)) !== 0) badArg(`width ${w} does not hold ${count} hashes`);
  let level: Uint8Array[] = [];
  for (let i = 0; i < count; i++) level.push(hashAt(layer, i));
  let pad = padHash;
  let size = w;
  while (size > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(merkleParent(level[i] as Uint8Array, level[i + 1] ?? pad));
    }
    pad = merkleParent(pad, pad);
    level = next;
    size /= 2;
  }
  return level[0] ?? pad;
}

/**
 * All layers of a tree, leaves first, root last (each padded to a power of two), from its
 * bottom layer and the hash of one padding node of that layer. Memory is twice the bottom layer.
 */
export function merkleLayers(bottom: Uint8Array, padHash: Uint8Array = ZERO): Uint8Array[] {
  if (bottom.length % 32 !== 0) badArg('layer is not a multiple of 32 bytes');
  const width = nextPowerOfTwo(bottom.length / 32);
  const first = new Uint8Array(width * 32);
  first.set(bottom);
  for (let i = bottom.length / 32; i < width; i++) first.set(padHash, i * 32);
  const layers = [first];
  let cur = first;
  while (cur.length > 32) {
    const n = cur.length / 64;
    const next = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) next.set(merkleParent(hashAt(cur, 2 * i), hashAt(cur, 2 * i + 1)), i * 32);
    layers.push(next);
    cur = next;
  }
  return layers;
}

/**
 * Hash of one piece of a file from its bytes: the root of the subtree of `pieceLength / 16 KiB`
 * leaves, padded with zero hashes (a file's last piece may be short). For a file of at most one
 * piece, use {@link fileRoot} instead: its tree is only as wide as the file.
 */
export function pieceRoot(piece: Uint8Array, pieceLength: number): Uint8Array {
  checkPieceLength(pieceLength);
  if (piece.length === 0 || piece.length > pieceLength) badArg('piece data is empty or longer than a piece');
  return merkleRoot(blockHashes(piece), ZERO, pieceLength / MERKLE_BLOCK_SIZE);
}

/** `pieces root` of a file from its leaf hashes (see {@link blockHashes}). */
export function rootFromLeaves(leaves: Uint8Array): Uint8Array {
  if (leaves.length === 0) badArg('an empty file has no root');
  return merkleRoot(leaves);
}

/** `pieces root` of a whole file held in memory. Empty files have none (throws). */
export function fileRoot(data: Uint8Array): Uint8Array {
  return rootFromLeaves(blockHashes(data));
}

/**
 * The piece layer of a file from its leaf hashes: one hash per piece, as in `piece layers`.
 * Files of at most one piece have no piece layer (returns an empty array).
 */
export function pieceLayerFromLeaves(leaves: Uint8Array, pieceLength: number): Uint8Array {
  checkPieceLength(pieceLength);
  const perPiece = pieceLength / MERKLE_BLOCK_SIZE;
  const n = leaves.length / 32;
  if (n <= perPiece) return new Uint8Array(0);
  const pieces = Math.ceil(n / perPiece);
  const out = new Uint8Array(pieces * 32);
  for (let p = 0; p < pieces; p++) {
    out.set(merkleRoot(leaves.subarray(p * perPiece * 32, (p + 1) * perPiece * 32), ZERO, perPiece), p * 32);
  }
  return out;
}

/** Root of a file from its piece layer (padded with the hash of an all-padding piece). */
export function rootFromPieceLayer(layer: Uint8Array, pieceLength: number): Uint8Array {
  checkPieceLength(pieceLength);
  return merkleRoot(layer, merklePadHash(log2(pieceLength / MERKLE_BLOCK_SIZE)));
}

/** Number of 32-byte hashes the piece layer of a file of `fileLength` bytes holds (0 if none). */
export function pieceLayerCount(fileLength: number, pieceLength: number): number {
  return fileLength > pieceLength ? Math.ceil(fileLength / pieceLength) : 0;
}

/**
 * True when `layer` is the piece layer of a file of `fileLength` bytes with `pieces root`
 * `root`: right length, and its Merkle root equals the root.
 */
export function verifyPieceLayer(
  root: Uint8Array,
  layer: Uint8Array,
  fileLength: number,
  pieceLength: number,
): boolean {
  checkPieceLength(pieceLength);
  const count = pieceLayerCount(fileLength, pieceLength);
  if (count === 0 || layer.length !== count * 32 || root.length !== 32) return false;
  return equal(rootFromPieceLayer(layer, pieceLength), root);
}

/**
 * True when `piece` (the bytes of piece `index` of a file) hashes to entry `index` of the file's
 * piece layer. For a file of one piece, pass its `pieces root` as the layer and the file's
 * bytes as the piece (the tree is then only as wide as the file).
 */
export function verifyPiece(
  layer: Uint8Array,
  index: number,
  piece: Uint8Array,
  pieceLength: number,
): boolean {
  if (!Number.isInteger(index) || index < 0 || (index + 1) * 32 > layer.length) return false;
  if (piece.length === 0 || piece.length > pieceLength) return false;
  const want = hashAt(layer, index);
  const got = layer.length === 32 && index === 0 ? fileRoot(piece) : pieceRoot(piece, pieceLength);
  return equal(want, got);
}

/** A run of hashes of one layer with the uncle hashes proving them (a BEP 52 `hashes` reply). */
export interface MerkleProof {
  /** `length` hashes of the base layer, from `index`. */
  hashes: Uint8Array;
  /** Uncle hashes, lowest layer first, up to the root (or `proofLayers` of them). */
  uncles: Uint8Array;
}

function checkRange(width: number, index: number, length: number): void {
  if (!Number.isInteger(length) || length < 1 || (length & (length - 1)) !== 0) {
    badArg(`length ${length} is not a power of two`, { length });
  }
  if (!Number.isInteger(index) || index < 0 || index % length !== 0 || index + length > width) {
    badArg(`index ${index} is not a multiple of ${length} inside a layer of ${width}`, { index, length });
  }
}

/**
 * Builds the answer to a `hash request`: `length` hashes of layer `base` (0 = leaves) of
 * `layers` (from {@link merkleLayers}) from `index`, and the uncle hashes from the subtree they
 * span up to the root, at most `proofLayers` of them.
 */
export function merkleProof(
  layers: readonly Uint8Array[],
  base: number,
  index: number,
  length: number,
  proofLayers = Number.POSITIVE_INFINITY,
): MerkleProof {
  const layer = layers[base];
  if (layer === undefined) badArg(`no layer ${base}`, { base });
  checkRange(layer.length / 32, index, length);
  const hashes = layer.slice(index * 32, (index + length) * 32);
  const uncles: Uint8Array[] = [];
  let level = base + log2(length);
  let i = index / length;
  while (level < layers.length - 1 && uncles.length < proofLayers) {
    uncles.push(hashAt(layers[level] as Uint8Array, i ^ 1));
    i >>= 1;
    level++;
  }
  const out = new Uint8Array(uncles.length * 32);
  for (let k = 0; k < uncles.length; k++) out.set(uncles[k] as Uint8Array, k * 32);
  return { hashes, uncles: out };
}

/** Where a proof leads: the node its hashes and uncles compute, and its place in the tree. */
export interface MerkleProofNode {
  /** The computed hash. */
  hash: Uint8Array;
  /** Its layer (0 = the tree's bottom layer). */
  layer: number;
  /** Its index in that layer. */
  index: number;
}

/**
 * Climbs a {@link MerkleProof} of hashes at layer `base` from `index` as far as its uncles go
 * (lowest first; each the sibling of the node so far), for comparison with a node already
 * known — the root, or an interior node when the request asked for fewer proof layers. Returns
 * `undefined` when the hashes are not a power-of-two run aligned to its length, or an uncle is
 * not 32 bytes.
 */
export function merkleProofNode(
  base: number,
  index: number,
  proof: MerkleProof,
): MerkleProofNode | undefined {
  if (proof.hashes.length === 0 || proof.hashes.length % 32 !== 0 || proof.uncles.length % 32 !== 0)
    return undefined;
  const length = proof.hashes.length / 32;
  if ((length & (length - 1)) !== 0 || !Number.isInteger(base) || base < 0) return undefined;
  if (!Number.isInteger(index) || index < 0 || index % length !== 0) return undefined;
  let hash = merkleRoot(proof.hashes);
  let i = index / length;
  const uncles = proof.uncles.length / 32;
  for (let k = 0; k < uncles; k++) {
    const u = hashAt(proof.uncles, k);
    hash = i & 1 ? merkleParent(u, hash) : merkleParent(hash, u);
    i = Math.floor(i / 2);
  }
  return { hash, layer: base + log2(length) + uncles, index: i };
}

/**
 * Verifies a {@link MerkleProof} of hashes at layer `base` of a tree whose bottom layer is
 * `width` nodes wide (a power of two), against `root`. The uncles must reach exactly the root.
 */
export function verifyMerkleProof(
  root: Uint8Array,
  width: number,
  base: number,
  index: number,
  proof: MerkleProof,
): boolean {
  if (!Number.isInteger(width) || width < 1 || width > 2 ** 40 || (width & (width - 1)) !== 0) return false;
  const node = merkleProofNode(base, index, proof);
  if (!node || 2 ** base > width) return false;
  const length = proof.hashes.length / 32;
  if (index + length > width / 2 ** base) return false;
  return node.layer === log2(width) && node.index === 0 && equal(node.hash, root);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
