import {
  hashAt,
  MERKLE_BLOCK_SIZE,
  type MerkleProof,
  merkleLayers,
  merklePadHash,
  merkleProof,
  merkleRoot,
  nextPowerOfTwo,
} from '../metainfo/merkle.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import type { V2FileSpan } from '../metainfo/v2.js';
import { equalBytes, toHex } from '../util/bytes.js';

/** Most hashes asked for or served in one BEP 52 `hash request` (libtorrent's limit too). */
export const MAX_HASHES_PER_REQUEST = 512;

function log2(n: number): number {
  return Math.round(Math.log2(n));
}

/**
 * The Merkle tree of one file of a v2 torrent, as the wire names its parts: layer 0 is the
 * 16 KiB blocks, layer {@link pieceBase} the pieces, layer {@link height} the root.
 */
export class FileTree {
  readonly root: Uint8Array;
  readonly rootHex: string;
  /** Blocks of the file, and the power of two the tree's leaf layer is padded to. */
  readonly blocks: number;
  readonly width: number;
  readonly height: number;
  /** The layer of piece hashes (log2 of the blocks per piece). */
  readonly pieceBase: number;
  readonly perPiece: number;
  /** `piece layer` (for files longer than a piece), once known. */
  layer: Uint8Array | undefined;
  #upper: Uint8Array[] | undefined;

  constructor(
    readonly span: V2FileSpan,
    readonly length: number,
    pieceLength: number,
    root: Uint8Array,
  ) {
    this.root = root;
    this.rootHex = toHex(root);
    this.perPiece = pieceLength / MERKLE_BLOCK_SIZE;
    this.pieceBase = log2(this.perPiece);
    this.blocks = Math.ceil(length / MERKLE_BLOCK_SIZE);
    this.width = nextPowerOfTwo(this.blocks);
    this.height = log2(this.width);
  }

  /** True when the file spans more than one piece: its pieces' hashes are a layer of its own. */
  get multiPiece(): boolean {
    return this.span.pieceCount > 1;
  }

  /** Width of layer `base` (a power of two). */
  widthAt(base: number): number {
    return Math.max(1, this.width >> base);
  }

  /** The expected hash of piece `k` of the file (its layer entry, or the root for one piece). */
  pieceHash(k: number): Uint8Array | undefined {
    if (!this.multiPiece) return k === 0 ? this.root : undefined;
    return this.layer && k < this.span.pieceCount ? hashAt(this.layer, k) : undefined;
  }

  /** Leaves a piece's tree is padded to: a whole piece's, or for a one-piece file its own width. */
  pieceWidth(): number {
    return this.multiPiece ? this.perPiece : this.width;
  }

  /** Layers from the piece layer (padded to a power of two) up to the root; cached. */
  upperLayers(): Uint8Array[] | undefined {
    if (!this.multiPiece) return [this.root];
    if (!this.layer) return undefined;
    this.#upper ??= merkleLayers(this.layer, merklePadHash(this.pieceBase));
    return this.#upper;
  }

  /**
   * Answers a request for hashes at layer `base` ≥ the piece layer from the piece layer alone,
   * with `uncles` uncle hashes.
   * `undefined` when the request reaches below it or the layer is unknown.
   */
  proofFromLayer(base: number, index: number, length: number, uncles: number): MerkleProof | undefined {
    if (!this.multiPiece || base < this.pieceBase) return undefined;
    const layers = this.upperLayers();
    if (!layers) return undefined;
    return merkleProof(layers, base - this.pieceBase, index, length, uncles);
  }

  /**
   * Answers a request at a layer below the pieces, inside piece `k`, from that piece's leaf
   * hashes (`leaves`, the piece's own blocks): the subtree's proof, then the piece's uncles from
   * the piece layer, `uncles` in all (what the request's proof layers call for).
   */
  proofFromLeaves(
    k: number,
    leaves: Uint8Array,
    base: number,
    index: number,
    length: number,
    uncles: number,
  ): MerkleProof | undefined {
    const w = this.pieceWidth();
    const padded = new Uint8Array(w * 32);
    padded.set(leaves.subarray(0, Math.min(leaves.length, w * 32)));
    const sub = merkleLayers(padded);
    const want = this.pieceHash(k);
    if (!want || !equalBytes(sub[sub.length - 1] as Uint8Array, want)) return undefined;
    const first = (k * w) >> base;
    const inner = merkleProof(sub, base, index - first, length, uncles);
    const used = inner.uncles.length / 32;
    const more = uncles - used;
    if (more <= 0 || !this.multiPiece) return inner;
    const upper = this.upperLayers();
    if (!upper) return inner;
    const outer = merkleProof(upper, 0, k, 1, more);
    const all = new Uint8Array(inner.uncles.length + outer.uncles.length);
    all.set(inner.uncles);
    all.set(outer.uncles, inner.uncles.length);
    return { hashes: inner.hashes, uncles: all };
  }

  /** True when `leaves` (a piece's full padded width of hashes) hash to piece `k`'s hash. */
  leavesMatch(k: number, leaves: Uint8Array): boolean {
    const want = this.pieceHash(k);
    return want !== undefined && equalBytes(merkleRoot(leaves, undefined, this.pieceWidth()), want);
  }
}

/** The trees of every non-empty file of a v2 or hybrid torrent, by hex root and by piece. */
export class TorrentTrees {
  readonly byRoot = new Map<string, FileTree>();
  readonly #byPiece: (FileTree | undefined)[];

  constructor(readonly info: InfoDictionary) {
    this.#byPiece = new Array(info.pieceCount).fill(undefined);
    for (const span of info.v2?.files ?? []) {
      const f = info.files[span.fileIndex];
      if (!f || !span.piecesRoot || span.pieceCount === 0) continue;
      const t = new FileTree(span, f.length, info.pieceLength, span.piecesRoot);
      this.byRoot.set(t.rootHex, t);
      for (let k = 0; k < span.pieceCount; k++) this.#byPiece[span.firstPiece + k] = t;
    }
  }

  /** The file tree piece `piece` belongs to. */
  ofPiece(piece: number): FileTree | undefined {
    return this.#byPiece[piece];
  }

  /** Trees whose piece layer is still unknown. */
  missingLayers(): FileTree[] {
    return [...this.byRoot.values()].filter((t) => t.multiPiece && !t.layer);
  }

  /** Adopts known piece layers (keyed by hex root), e.g. a .torrent's. */
  adopt(layers: ReadonlyMap<string, Uint8Array> | undefined): void {
    if (!layers) return;
    for (const [hex, layer] of layers) {
      const t = this.byRoot.get(hex);
      if (t?.multiPiece && layer.length === t.span.pieceCount * 32) t.layer = layer;
    }
  }

  /** The piece layers known, keyed by hex root (what a store's verifier needs). */
  layers(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const t of this.byRoot.values()) if (t.layer) out.set(t.rootHex, t.layer);
    return out;
  }
}
