import { hashAt, MERKLE_BLOCK_SIZE, merkleRoot, nextPowerOfTwo, rootFromLeaves } from '../metainfo/merkle.js';
import { type InfoDictionary, pieceHash } from '../metainfo/torrent.js';
import type { V2FileSpan } from '../metainfo/v2.js';
import { equalBytes, toHex } from '../util/bytes.js';
import { StorageError } from './errors.js';

/**
 * How a piece is hashed: `sha1` over all its bytes (v1 and hybrid torrents, padding included as
 * zeros), or `leaves`: SHA-256 of each 16 KiB block of its first `length` bytes (v2: only the
 * file's own bytes count; the rest of the tree is zero hashes), concatenated — or, with `width`,
 * the Merkle root of those leaves padded with zero hashes to `width` leaves (32 bytes).
 */
export type PieceHashKind =
  | { readonly algo: 'sha1' }
  | { readonly algo: 'leaves'; readonly length: number; readonly width?: number };

const SHA1: PieceHashKind = Object.freeze({ algo: 'sha1' });

/** The piece layers a v2 torrent needs: a `Metainfo`'s `pieceLayers`, keyed by hex pieces root. */
export type PieceLayers = ReadonlyMap<string, Uint8Array>;

/**
 * Says how to hash each piece of a torrent and whether a digest is right. v1 and hybrid torrents
 * are checked with SHA-1 (a hybrid's v1 and v2 views hold the same bytes); v2-only torrents
 * against their Merkle trees: the root of the piece's block hashes (16 KiB leaves, padded with
 * zero hashes to the piece's width) must be the file's piece-layer entry, or for a file of at
 * most one piece, its `pieces root`.
 */
export interface PieceVerifier {
  /** v1 (SHA-1) or v2 (SHA-256 Merkle). */
  readonly algo: 'sha1' | 'merkle';
  /** What to hash for `piece`. */
  kind(piece: number): PieceHashKind;
  /** True when `digest` (of {@link kind}) is right for `piece`. */
  matches(piece: number, digest: Uint8Array): boolean;
}

/** v2: where `piece` lies — its file's span and the piece's index in that file. */
function spanOf(spans: readonly V2FileSpan[], piece: number): V2FileSpan | undefined {
  let lo = 0;
  let hi = spans.length - 1;
  let found: V2FileSpan | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = spans[mid] as V2FileSpan;
    if (s.firstPiece <= piece) {
      if (s.pieceCount > 0) found = s;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found && piece < found.firstPiece + found.pieceCount ? found : undefined;
}

class V1Verifier implements PieceVerifier {
  readonly algo = 'sha1';
  constructor(readonly meta: InfoDictionary) {}
  kind(): PieceHashKind {
    return SHA1;
  }
  matches(piece: number, digest: Uint8Array): boolean {
    return equalBytes(digest, pieceHash(this.meta, piece));
  }
}

/** v2: the expected hashes of one file's pieces — its piece layer, or its root for one piece. */
interface ExpectedRun {
  readonly firstPiece: number;
  readonly pieceCount: number;
  /** The piece layer (32 bytes per piece), or the pieces root of a file of one piece. */
  readonly hashes: Uint8Array;
}

class MerkleVerifier implements PieceVerifier {
  readonly algo = 'merkle';
  readonly #perPiece: number;
  readonly #lengths: Uint32Array;
  /** One run per file with pieces, in piece order: no object per piece (262,144 for 1 TiB). */
  readonly #runs: ExpectedRun[] = [];
  /** Pieces whose file is at most one piece long: their tree is as wide as the file. */
  readonly #single: Uint8Array;

  constructor(meta: InfoDictionary, spans: readonly V2FileSpan[], layers: PieceLayers | undefined) {
    const { pieceLength, pieceCount } = meta;
    this.#perPiece = pieceLength / MERKLE_BLOCK_SIZE;
    this.#lengths = new Uint32Array(pieceCount);
    this.#single = new Uint8Array(pieceCount);
    for (const s of spans) {
      const file = meta.files[s.fileIndex];
      if (!file || s.pieceCount === 0) continue;
      const root = s.piecesRoot;
      if (!root) bad(`file ${s.fileIndex} has no pieces root`);
      if (s.firstPiece + s.pieceCount > pieceCount) bad(`file ${s.fileIndex} runs past the last piece`);
      const last = this.#runs[this.#runs.length - 1];
      if (last && s.firstPiece < last.firstPiece + last.pieceCount)
        bad(`file ${s.fileIndex} overlaps another`);
      if (s.pieceCount === 1) {
        this.#runs.push({ firstPiece: s.firstPiece, pieceCount: 1, hashes: root });
        this.#single[s.firstPiece] = 1;
        this.#lengths[s.firstPiece] = file.length;
        continue;
      }
      const layer = layers?.get(toHex(root));
      if (!layer || layer.length !== s.pieceCount * 32)
        bad(`no piece layer for file ${s.fileIndex} (${file.path}): a v2 torrent needs its piece layers`);
      this.#runs.push({ firstPiece: s.firstPiece, pieceCount: s.pieceCount, hashes: layer });
      for (let k = 0; k < s.pieceCount; k++) {
        this.#lengths[s.firstPiece + k] = Math.min(pieceLength, file.length - k * pieceLength);
      }
    }
  }

  /** The expected hash of `piece` (a view), found by binary search over the runs. */
  #expected(piece: number): Uint8Array | undefined {
    const runs = this.#runs;
    let lo = 0;
    let hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = runs[mid] as ExpectedRun;
      if (piece < r.firstPiece) hi = mid - 1;
      else if (piece >= r.firstPiece + r.pieceCount) lo = mid + 1;
      else return r.pieceCount === 1 ? r.hashes : hashAt(r.hashes, piece - r.firstPiece);
    }
    return undefined;
  }

  kind(piece: number): PieceHashKind {
    const length = this.#lengths[piece] ?? 0;
    // The worker builds the root too: over a whole piece's width, or a one-piece file's own.
    const width =
      this.#single[piece] === 1 ? nextPowerOfTwo(Math.ceil(length / MERKLE_BLOCK_SIZE)) : this.#perPiece;
    return { algo: 'leaves', length, width };
  }

  matches(piece: number, digest: Uint8Array): boolean {
    const want = this.#expected(piece);
    if (!want || digest.length === 0 || digest.length % 32 !== 0) return false;
    // One hash: the root the worker built (see `kind`); more: leaves, whose root is built here.
    if (digest.length === 32) return equalBytes(digest, want);
    const got =
      this.#single[piece] === 1 ? rootFromLeaves(digest) : merkleRoot(digest, undefined, this.#perPiece);
    return equalBytes(got, want);
  }
}

function bad(message: string): never {
  throw new StorageError('STORAGE_BAD_LAYOUT', message);
}

/**
 * The verifier of a torrent. v2-only torrents need `layers` for every file longer than a piece
 * (they come with a .torrent, or from peers after a magnet).
 * @throws {StorageError} `STORAGE_BAD_LAYOUT` when a v2 torrent lacks its spans, roots or layers.
 */
export function pieceVerifier(meta: InfoDictionary, layers?: PieceLayers): PieceVerifier {
  if (meta.version !== 2) return new V1Verifier(meta);
  if (!meta.v2) bad('a v2 torrent without its file spans');
  if (meta.pieceLength % MERKLE_BLOCK_SIZE !== 0) bad('a v2 piece length must be a multiple of 16 KiB');
  return new MerkleVerifier(meta, meta.v2.files, layers ?? layersOf(meta));
}

/** The `pieceLayers` a `Metainfo` carries, if `meta` is one. */
export function layersOf(meta: InfoDictionary): PieceLayers | undefined {
  const l = (meta as { pieceLayers?: unknown }).pieceLayers;
  return l instanceof Map ? (l as PieceLayers) : undefined;
}

/** v2: the file span piece `piece` lies in (undefined for v1 or a piece of no file). */
export function v2SpanOf(meta: InfoDictionary, piece: number): V2FileSpan | undefined {
  return meta.v2 ? spanOf(meta.v2.files, piece) : undefined;
}

/**
 * Bytes of each piece that must come from peers: the piece minus the BEP 47 padding at its end
 * (v2 and hybrid torrents pad every file to a piece boundary; the padding is zeros nobody
 * sends). `undefined` when no piece ends in padding.
 */
export function pieceDataLengths(meta: InfoDictionary): Uint32Array | undefined {
  if (!meta.files.some((f) => f.padding && f.length > 0)) return undefined;
  const { pieceLength, pieceCount } = meta;
  const out = new Uint32Array(pieceCount);
  // The end of the last real byte seen in each piece (0: none yet).
  for (const f of meta.files) {
    if (f.padding || f.length === 0) continue;
    const end = f.offset + f.length;
    const first = Math.floor(f.offset / pieceLength);
    const last = Math.floor((end - 1) / pieceLength);
    for (let p = first; p <= last && p < pieceCount; p++) {
      out[p] = Math.max(out[p] as number, Math.min(end, (p + 1) * pieceLength) - p * pieceLength);
    }
  }
  // A piece of padding only (none in a well-formed torrent) is fetched whole.
  for (let p = 0; p < pieceCount; p++)
    if (out[p] === 0) out[p] = p === pieceCount - 1 ? meta.lastPieceLength : pieceLength;
  return out;
}
