import { fromBinaryString, fromUtf8, toBinaryString, toHex } from '../util/bytes.js';
import { MetainfoError, type MetainfoErrorCode } from '../util/errors.js';
import type { BDict, BValue } from './bencode.js';
import { pieceLayerCount, verifyPieceLayer } from './merkle.js';
import { assertSafePath, MAX_PATH_DEPTH } from './paths.js';

/** One file of a v2 `file tree`, in tree order (keys in byte order). */
export interface V2TreeFile {
  readonly segments: readonly string[];
  readonly length: number;
  /** 32-byte `pieces root`; absent for empty files. */
  readonly piecesRoot?: Uint8Array;
}

/** A file's place in the piece space of a v2 or hybrid torrent (each file starts on a piece). */
export interface V2FileSpan {
  /** Index in `files` (which also lists padding files). */
  readonly fileIndex: number;
  /** First piece of the file (for an empty file: where it would start). */
  readonly firstPiece: number;
  /** Pieces the file spans (0 for an empty file). */
  readonly pieceCount: number;
  /** 32-byte `pieces root`; absent for empty files. */
  readonly piecesRoot?: Uint8Array;
}

/** The v2 facts of a v2-only or hybrid info dictionary. */
export interface V2Info {
  /** SHA-256 of the exact info bytes, lower-case hex (64 digits). */
  readonly infoHash: string;
  /** The same, 32 bytes. */
  readonly infoHashBytes: Uint8Array;
  /** Its first 20 bytes: what the handshake, trackers and the DHT use for v2. */
  readonly truncatedInfoHash: Uint8Array;
  /** The real (non-padding) files in tree order, with their pieces. */
  readonly files: readonly V2FileSpan[];
}

export function badV2(code: MetainfoErrorCode, reason: string, message: string): never {
  throw new MetainfoError(code, message, { details: { reason } });
}

function keyText(key: string): string {
  return fromUtf8(fromBinaryString(key));
}

/**
 * Reads a `file tree`: bounded depth (MAX_PATH_DEPTH), file count (`maxFiles`), safe path
 * elements, one `pieces root` of 32 bytes per non-empty file.
 */
export function parseFileTree(tree: BValue | undefined, maxFiles: number): V2TreeFile[] {
  if (!(tree instanceof Map))
    badV2('METAINFO_BAD_FILES', 'file-tree', 'file tree missing or not a dictionary');
  if (tree.size === 0) badV2('METAINFO_BAD_FILES', 'file-tree', 'file tree is empty');
  const out: V2TreeFile[] = [];
  const walk = (node: BDict, prefix: string[]): void => {
    const keys = [...node.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
      const child = node.get(key);
      const segments = [...prefix, keyText(key)];
      if (segments.length > MAX_PATH_DEPTH) {
        throw new MetainfoError('METAINFO_UNSAFE_PATH', `file tree deeper than ${MAX_PATH_DEPTH}`, {
          details: { reason: 'too-deep' },
        });
      }
      assertSafePath(segments, `file tree ${segments.join('/')}`);
      if (!(child instanceof Map) || child.size === 0)
        badV2(
          'METAINFO_BAD_FILES',
          'file-tree',
          `file tree entry ${JSON.stringify(segments.join('/'))} is not a non-empty dictionary`,
        );
      const leaf = child.get('');
      if (leaf === undefined) {
        walk(child, segments);
        continue;
      }
      if (child.size !== 1 || !(leaf instanceof Map))
        badV2(
          'METAINFO_BAD_FILES',
          'file-tree',
          `${JSON.stringify(segments.join('/'))} is both a file and a folder`,
        );
      if (out.length >= maxFiles) {
        throw new MetainfoError('METAINFO_TOO_MANY_FILES', `more than ${maxFiles} files`, {
          details: { reason: 'file-tree' },
        });
      }
      const len = leaf.get('length');
      if (typeof len !== 'bigint' || len < 0n || len > BigInt(Number.MAX_SAFE_INTEGER))
        badV2('METAINFO_BAD_LENGTH', 'file-tree', `${JSON.stringify(segments.join('/'))}: bad length`);
      const length = Number(len);
      const root = leaf.get('pieces root');
      if (length === 0) {
        out.push({ segments, length });
        continue;
      }
      if (!(root instanceof Uint8Array) || root.length !== 32)
        badV2(
          'METAINFO_BAD_FILES',
          'pieces-root',
          `${JSON.stringify(segments.join('/'))}: pieces root is not 32 bytes`,
        );
      out.push({ segments, length, piecesRoot: root });
    }
  };
  walk(tree, []);
  // Keys are distinct bytes, but invalid UTF-8 decodes with U+FFFD: two keys can give one path.
  const seen = new Set<string>();
  const folders = new Set<string>();
  for (const f of out) {
    for (let i = 1; i < f.segments.length; i++) folders.add(f.segments.slice(0, i).join('/'));
  }
  for (const f of out) {
    const path = f.segments.join('/');
    if (seen.has(path) || folders.has(path)) {
      throw new MetainfoError(
        'METAINFO_DUPLICATE_PATH',
        `two files or a file and a folder at ${JSON.stringify(path)}`,
        {
          details: { reason: 'file-tree' },
        },
      );
    }
    seen.add(path);
  }
  return out;
}

/** A file of the piece space, as `TorrentFile` without the joined path. */
export interface LaidOutFile {
  readonly segments: readonly string[];
  readonly length: number;
  readonly offset: number;
  readonly padding: boolean;
  readonly piecesRoot?: Uint8Array;
}

/**
 * The piece space of a v2-only torrent: the tree's files in order, each non-empty file starting
 * on a piece boundary, with padding files (`.pad/<n>`, as libtorrent lists them) after every file
 * that does not end on one, the last one included (so every piece is whole, as in libtorrent).
 */
export function layoutV2(files: readonly V2TreeFile[], pieceLength: number): LaidOutFile[] {
  const out: LaidOutFile[] = [];
  let offset = 0;
  for (const f of files) {
    out.push({
      segments: f.segments,
      length: f.length,
      offset,
      padding: false,
      ...(f.piecesRoot ? { piecesRoot: f.piecesRoot } : {}),
    });
    offset += f.length;
    const rest = offset % pieceLength;
    if (rest !== 0) {
      const pad = pieceLength - rest;
      out.push({ segments: ['.pad', String(pad)], length: pad, offset, padding: true });
      offset += pad;
    }
  }
  return out;
}

/**
 * Checks that the v1 view of a hybrid (files with BEP 47 padding) is the v2 tree: the same files
 * in the same order with the same lengths, every non-empty file at the offset the v2 layout
 * gives it (on a piece boundary, no whole pieces of padding), padding shorter than a piece. Returns the pieces roots in v1 file order.
 */
export function matchHybrid(
  v1: readonly { segments: readonly string[]; length: number; offset: number; padding: boolean }[],
  tree: readonly V2TreeFile[],
  pieceLength: number,
): (Uint8Array | undefined)[] {
  const roots: (Uint8Array | undefined)[] = [];
  // Where each tree file lies in the v2 piece space: a hybrid's v1 view must put it there.
  const expected: number[] = [];
  for (const f of layoutV2(tree, pieceLength)) if (!f.padding) expected.push(f.offset);
  let t = 0;
  for (let i = 0; i < v1.length; i++) {
    const f = v1[i] as (typeof v1)[number];
    if (f.padding) {
      if (f.length >= pieceLength || f.length === 0)
        badV2('METAINFO_BAD_FILES', 'hybrid', `padding file ${i} is not shorter than a piece`);
      roots.push(undefined);
      continue;
    }
    const v2 = tree[t++];
    if (!v2 || v2.length !== f.length || v2.segments.join('/') !== f.segments.join('/')) {
      badV2(
        'METAINFO_BAD_FILES',
        'hybrid',
        `v1 file ${i} (${f.segments.join('/')}) does not match the v2 file tree`,
      );
    }
    if (f.length > 0 && f.offset !== expected[t - 1]) {
      badV2('METAINFO_BAD_FILES', 'hybrid', `v1 file ${i} does not start on the piece v2 puts it on`);
    }
    roots.push(v2.piecesRoot);
  }
  if (t !== tree.length)
    badV2('METAINFO_BAD_FILES', 'hybrid', 'the v2 file tree has files the v1 list lacks');
  return roots;
}

/** Where each real file lies in pieces. */
export function fileSpans(
  files: readonly { length: number; offset: number; padding: boolean; piecesRoot?: Uint8Array }[],
  pieceLength: number,
): V2FileSpan[] {
  const out: V2FileSpan[] = [];
  files.forEach((f, fileIndex) => {
    if (f.padding) return;
    out.push({
      fileIndex,
      firstPiece: Math.floor(f.offset / pieceLength),
      pieceCount: Math.ceil(f.length / pieceLength),
      ...(f.piecesRoot ? { piecesRoot: f.piecesRoot } : {}),
    });
  });
  return out;
}

/**
 * Reads and verifies `piece layers`: every file longer than a piece has its layer, of exactly
 * `ceil(length / pieceLength)` hashes, whose Merkle root is the file's `pieces root`. Entries for
 * no file are ignored. Keyed by the lower-case hex of the pieces root.
 */
export function parsePieceLayers(
  raw: BValue | undefined,
  files: readonly { length: number; piecesRoot?: Uint8Array }[],
  pieceLength: number,
): Map<string, Uint8Array> {
  if (raw !== undefined && !(raw instanceof Map))
    badV2('METAINFO_BAD_PIECES', 'piece-layers', 'piece layers is not a dictionary');
  const layers = new Map<string, Uint8Array>();
  for (const f of files) {
    if (!f.piecesRoot || f.length <= pieceLength) continue;
    const hex = toHex(f.piecesRoot);
    if (layers.has(hex)) continue;
    const layer = raw?.get(toBinaryString(f.piecesRoot));
    if (!(layer instanceof Uint8Array))
      badV2('METAINFO_BAD_PIECES', 'missing-layer', `no piece layer for root ${hex}`);
    if (layer.length !== pieceLayerCount(f.length, pieceLength) * 32)
      badV2(
        'METAINFO_BAD_PIECES',
        'layer-length',
        `piece layer of ${hex} has ${layer.length} bytes for ${f.length} bytes of file`,
      );
    if (!verifyPieceLayer(f.piecesRoot, layer, f.length, pieceLength))
      badV2('METAINFO_BAD_PIECES', 'root-mismatch', `piece layer of ${hex} does not hash to its pieces root`);
    layers.set(hex, layer);
  }
  return layers;
}
