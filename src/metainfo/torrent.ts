import { fromHex, fromUtf8, toBinaryString, toHex } from '../util/bytes.js';
import { BencodeError, MetainfoError, type MetainfoErrorCode } from '../util/errors.js';
import { sha1, sha256 } from '../util/hash.js';
import {
  type BDict,
  type BEncodable,
  type BValue,
  decode,
  decodePrefix,
  encode,
  RawBencode,
} from './bencode.js';
import { assertSafePath } from './paths.js';
import {
  badV2,
  fileSpans,
  type LaidOutFile,
  layoutV2,
  matchHybrid,
  parseFileTree,
  parsePieceLayers,
  type V2Info,
  type V2TreeFile,
} from './v2.js';

/** One file of a torrent, in torrent order. */
export interface TorrentFile {
  /** Path inside the torrent's folder, elements joined with `/` (for single-file: the name). */
  readonly path: string;
  /** The path's elements, each checked safe. */
  readonly segments: readonly string[];
  /** Length in bytes. */
  readonly length: number;
  /** Offset of the file's first byte in the torrent's byte stream. */
  readonly offset: number;
  /** A BEP 47 padding file (`attr` contains `p`): its bytes are zeros, never written. */
  readonly padding: boolean;
  /** v2 and hybrid torrents: the file's 32-byte Merkle root (`pieces root`); absent for empty and padding files. */
  readonly piecesRoot?: Uint8Array;
}

/** Which BitTorrent versions an info dictionary serves (BEP 52). */
export type MetainfoVersion = 1 | 2 | 'hybrid';

/** The parsed content of an info dictionary (what BEP 9 transfers). */
export interface InfoDictionary {
  /**
   * `1` (v1 only), `2` (v2 only, `meta version` 2 without `pieces`) or `'hybrid'` (both). Always
   * set by the parsers; optional so hand-built v1 objects stay valid (absent means `1`).
   */
  readonly version?: MetainfoVersion;
  /**
   * The 20-byte swarm identity, lower-case hex: the SHA-1 of the exact original bytes of the
   * info dictionary for v1 and hybrid torrents; for v2-only torrents the first 20 bytes of the
   * SHA-256 (what v2 uses in the handshake, with trackers and in the DHT).
   */
  readonly infoHash: string;
  /** The same, 20 bytes. */
  readonly infoHashBytes: Uint8Array;
  /** v2 and hybrid: SHA-256 of the exact info bytes, lower-case hex (64 digits). */
  readonly infoHashV2?: string;
  /** v2 and hybrid: the same, 32 bytes. */
  readonly infoHashV2Bytes?: Uint8Array;
  /** v2 and hybrid: per-file roots and piece spans (see {@link V2Info}). */
  readonly v2?: V2Info;
  /** The exact original bytes of the info dictionary. */
  readonly infoBytes: Uint8Array;
  /** The decoded info dictionary, for extension fields. */
  readonly info: BDict;
  /** Torrent name: the file name (single-file) or folder name (multi-file). */
  readonly name: string;
  /** Bytes per piece (the last piece may be shorter). */
  readonly pieceLength: number;
  /** Number of pieces. */
  readonly pieceCount: number;
  /** Length of the last piece. */
  readonly lastPieceLength: number;
  /** Total bytes over all files. */
  readonly length: number;
  /**
   * The concatenated 20-byte SHA-1 piece hashes. Use {@link pieceHash} for one. Empty for v2-only
   * torrents (their pieces are verified against the Merkle trees instead).
   */
  readonly pieceHashes: Uint8Array;
  /**
   * Files in torrent order. v2-only torrents list padding files too (`.pad/<n>`, as libtorrent
   * does), so that every file starts on a piece boundary exactly as in a hybrid's v1 view.
   */
  readonly files: readonly TorrentFile[];
  /** True when the info dictionary has a `files` list (even of one file). */
  readonly multiFile: boolean;
  /** BEP 27 private flag. */
  readonly private: boolean;
  /** `source` field (private trackers), if any. */
  readonly source?: string;
}

/** A parsed .torrent file (BitTorrent v1). */
export interface Metainfo extends InfoDictionary {
  /** Tracker tiers (BEP 12); from `announce-list` when present, else `[[announce]]`. */
  readonly announce: readonly (readonly string[])[];
  /** BEP 19 web seeds. */
  readonly urlList: readonly string[];
  readonly comment?: string;
  readonly createdBy?: string;
  /** Seconds since the Unix epoch. */
  readonly creationDate?: number;
  /**
   * v2 and hybrid: the verified `piece layers`, keyed by the lower-case hex pieces root (files
   * of at most one piece have none).
   */
  readonly pieceLayers?: ReadonlyMap<string, Uint8Array>;
}

/** Limits for parsing metainfo from outside. */
export interface ParseTorrentOptions {
  /** Largest .torrent accepted. Default 64 MiB. */
  maxBytes?: number;
  /** Most files. Default 1,000,000. */
  maxFiles?: number;
  /** Most tracker URLs over all tiers. Default 1,000. */
  maxTrackers?: number;
  /**
   * v2-only torrents: most pieces (their count comes from the file lengths alone, with no piece
   * list to bound it). Default 4,194,304 (2²²; v1's 64 MiB piece list holds ~3.4 M).
   */
  maxPieces?: number;
}

/** Smallest and largest piece length accepted when parsing. */
export const MIN_PIECE_LENGTH = 1024;
export const MAX_PIECE_LENGTH = 512 * 1024 * 1024;

function bad(code: MetainfoErrorCode, message: string, cause?: unknown): never {
  throw new MetainfoError(code, message, cause === undefined ? {} : { cause });
}

function bytesField(d: BDict, key: string): Uint8Array | undefined {
  const v = d.get(key);
  return v instanceof Uint8Array ? v : undefined;
}

function textField(d: BDict, key: string): string | undefined {
  const utf = bytesField(d, `${key}.utf-8`);
  const raw = utf ?? bytesField(d, key);
  return raw === undefined ? undefined : fromUtf8(raw);
}

function intField(d: BDict, key: string, what: string, code: MetainfoErrorCode): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'bigint') bad(code, `${what} is not an integer`);
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) bad(code, `${what} out of range: ${v}`);
  return Number(v);
}

/** The 20-byte SHA-1 of piece `index`. Throws `METAINFO_BAD_PIECE_INDEX` outside the torrent. */
export function pieceHash(meta: InfoDictionary, index: number): Uint8Array {
  if (
    !Number.isInteger(index) ||
    index < 0 ||
    index >= meta.pieceCount ||
    meta.pieceHashes.length < index * 20 + 20
  ) {
    throw new MetainfoError('METAINFO_BAD_PIECE_INDEX', `piece index ${index} out of range`, {
      details: { index, pieceCount: meta.pieceCount },
    });
  }
  return meta.pieceHashes.subarray(index * 20, index * 20 + 20);
}

/**
 * Length of piece `index`: `pieceLength`, except the last piece, which may be shorter. The one
 * place bttkit computes it. Takes anything with the three geometry fields (an
 * {@link InfoDictionary}, the storage layout, the picker). `index` is not range-checked.
 */
export function pieceLengthAt(
  meta: Pick<InfoDictionary, 'pieceCount' | 'pieceLength' | 'lastPieceLength'>,
  index: number,
): number {
  return index === meta.pieceCount - 1 ? meta.lastPieceLength : meta.pieceLength;
}

/**
 * Parses and validates an info dictionary from its exact bytes (as received through BEP 9).
 * @throws {MetainfoError} or {@link BencodeError} with a code.
 */
export function parseInfoDictionary(
  infoBytes: Uint8Array,
  options: ParseTorrentOptions = {},
): InfoDictionary {
  const info = decode(infoBytes, { maxBytes: options.maxBytes ?? 64 * 1024 * 1024 });
  if (!(info instanceof Map)) bad('METAINFO_NO_INFO', 'info is not a dictionary');
  return buildInfo(info, infoBytes, options);
}

function parseV1Files(
  info: BDict,
  name: string,
  maxFiles: number,
): { files: TorrentFile[]; total: number; multiFile: boolean } {
  const files: TorrentFile[] = [];
  let total = 0;
  const rawFiles = info.get('files');
  const rawLength = info.get('length');
  if (rawFiles !== undefined && rawLength !== undefined)
    bad('METAINFO_BAD_FILES', 'info has both length and files');
  if (rawFiles === undefined) {
    const length = intField(info, 'length', 'length', 'METAINFO_BAD_LENGTH');
    if (length === undefined) bad('METAINFO_BAD_FILES', 'info has neither length nor files');
    files.push({ path: name, segments: [name], length, offset: 0, padding: false });
    return { files, total: length, multiFile: false };
  }
  if (!Array.isArray(rawFiles)) bad('METAINFO_BAD_FILES', 'files is not a list');
  if (rawFiles.length === 0) bad('METAINFO_BAD_FILES', 'files is empty');
  if (rawFiles.length > maxFiles) bad('METAINFO_TOO_MANY_FILES', `more than ${maxFiles} files`);
  const seen = new Set<string>();
  const folders = new Set<string>();
  for (let i = 0; i < rawFiles.length; i++) {
    const f = rawFiles[i] as BValue;
    if (!(f instanceof Map)) bad('METAINFO_BAD_FILES', `files[${i}] is not a dictionary`);
    const length = intField(f, 'length', `files[${i}].length`, 'METAINFO_BAD_LENGTH');
    if (length === undefined) bad('METAINFO_BAD_LENGTH', `files[${i}] has no length`);
    const rawPath = f.get('path.utf-8') ?? f.get('path');
    if (!Array.isArray(rawPath)) bad('METAINFO_BAD_FILES', `files[${i}].path is not a list`);
    const segments: string[] = [];
    for (const el of rawPath) {
      if (!(el instanceof Uint8Array))
        bad('METAINFO_BAD_FILES', `files[${i}].path[${segments.length}] is not a string`);
      segments.push(fromUtf8(el));
    }
    assertSafePath(segments, `files[${i}].path`);
    const attr = bytesField(f, 'attr');
    const padding = attr?.includes(0x70) ?? false;
    const path = segments.join('/');
    // No two files with one path, and no file that is also a folder of another. Padding files
    // are never written, so they may share paths (libtorrent names them `.pad/<length>`).
    if (!padding) {
      let prefix = '';
      for (let k = 0; k < segments.length - 1; k++) {
        prefix = k === 0 ? (segments[0] as string) : `${prefix}/${segments[k]}`;
        if (seen.has(prefix))
          bad('METAINFO_DUPLICATE_PATH', `${JSON.stringify(prefix)} is both a file and a folder`);
        folders.add(prefix);
      }
      if (seen.has(path)) bad('METAINFO_DUPLICATE_PATH', `two files with the path ${JSON.stringify(path)}`);
      if (folders.has(path))
        bad('METAINFO_DUPLICATE_PATH', `${JSON.stringify(path)} is both a file and a folder`);
      seen.add(path);
    }
    files.push({ path, segments, length, offset: total, padding });
    total += length;
    if (total > Number.MAX_SAFE_INTEGER) bad('METAINFO_BAD_LENGTH', 'total length too large');
  }
  return { files, total, multiFile: true };
}

function toTorrentFiles(laid: readonly LaidOutFile[], multiFile: boolean): TorrentFile[] {
  return laid.map((f) => ({
    path: multiFile || f.padding ? f.segments.join('/') : (f.segments[0] as string),
    segments: f.segments,
    length: f.length,
    offset: f.offset,
    padding: f.padding,
    ...(f.piecesRoot ? { piecesRoot: f.piecesRoot } : {}),
  }));
}

function buildInfo(info: BDict, infoBytes: Uint8Array, options: ParseTorrentOptions): InfoDictionary {
  const maxFiles = options.maxFiles ?? 1_000_000;

  const name = textField(info, 'name');
  if (name === undefined) bad('METAINFO_NO_NAME', 'info has no name');
  assertSafePath([name], 'name');

  const pl = info.get('piece length');
  if (typeof pl !== 'bigint') bad('METAINFO_BAD_PIECE_LENGTH', 'piece length missing or not an integer');
  if (pl < BigInt(MIN_PIECE_LENGTH) || pl > BigInt(MAX_PIECE_LENGTH)) {
    bad('METAINFO_BAD_PIECE_LENGTH', `piece length ${pl} outside [${MIN_PIECE_LENGTH}, ${MAX_PIECE_LENGTH}]`);
  }
  const pieceLength = Number(pl);

  // BEP 52: `meta version` 2 makes this a v2 torrent; with v1 `pieces` too, a hybrid.
  const metaVersion = info.get('meta version');
  let tree: V2TreeFile[] | undefined;
  if (metaVersion !== undefined) {
    if (metaVersion !== 2n) badV2('METAINFO_BAD_FILES', 'meta-version', 'meta version is not 2');
    if (pieceLength < 16 * 1024 || (pieceLength & (pieceLength - 1)) !== 0)
      bad('METAINFO_BAD_PIECE_LENGTH', 'a v2 piece length must be a power of two of at least 16 KiB');
    tree = parseFileTree(info.get('file tree'), maxFiles);
  }
  const version: MetainfoVersion = tree === undefined ? 1 : info.has('pieces') ? 'hybrid' : 2;

  let files: TorrentFile[];
  let total: number;
  let multiFile: boolean;
  let pieces: Uint8Array;
  if (version === 2 && tree !== undefined) {
    multiFile = !(tree.length === 1 && tree[0]?.segments.length === 1);
    files = toTorrentFiles(layoutV2(tree, pieceLength), multiFile);
    const last = files[files.length - 1];
    total = last ? last.offset + last.length : 0;
    if (total > Number.MAX_SAFE_INTEGER) bad('METAINFO_BAD_LENGTH', 'total length too large');
    pieces = new Uint8Array(0);
  } else {
    const p = bytesField(info, 'pieces');
    if (!p) bad('METAINFO_BAD_PIECES', 'pieces missing or not a byte string');
    if (p.length % 20 !== 0) bad('METAINFO_BAD_PIECES', 'pieces is not a multiple of 20 bytes');
    pieces = p;
    ({ files, total, multiFile } = parseV1Files(info, name, maxFiles));
    if (tree !== undefined) {
      const roots = matchHybrid(files, tree, pieceLength);
      files = files.map((f, i) => {
        const root = roots[i];
        return root ? { ...f, piecesRoot: root } : f;
      });
    }
  }
  if (total === 0) bad('METAINFO_EMPTY', 'torrent has no data (total length 0)');

  const pieceCount = Math.ceil(total / pieceLength);
  const maxPieces = options.maxPieces ?? 4 * 1024 * 1024;
  if (version === 2 && pieceCount > maxPieces) {
    badV2('METAINFO_BAD_LENGTH', 'too-many-pieces', `${pieceCount} pieces, more than ${maxPieces}`);
  }
  if (version !== 2 && pieces.length / 20 !== pieceCount) {
    bad('METAINFO_PIECE_COUNT_MISMATCH', `${pieces.length / 20} piece hashes for ${pieceCount} pieces`);
  }
  const lastPieceLength = total - (pieceCount - 1) * pieceLength;

  let v2: V2Info | undefined;
  if (version !== 1) {
    const bytes = sha256(infoBytes);
    v2 = {
      infoHash: toHex(bytes),
      infoHashBytes: bytes,
      truncatedInfoHash: bytes.slice(0, 20),
      files: fileSpans(files, pieceLength),
    };
  }
  const priv = info.get('private');
  const source = textField(info, 'source');
  const infoHashBytes = version === 2 && v2 ? v2.truncatedInfoHash : sha1(infoBytes);
  return {
    version,
    infoHash: toHex(infoHashBytes),
    infoHashBytes,
    ...(v2 ? { infoHashV2: v2.infoHash, infoHashV2Bytes: v2.infoHashBytes, v2 } : {}),
    infoBytes,
    info,
    name,
    pieceLength,
    pieceCount,
    lastPieceLength,
    length: total,
    pieceHashes: pieces,
    files,
    multiFile,
    private: priv === 1n,
    ...(source === undefined ? {} : { source }),
  };
}

function parseTrackers(root: BDict, maxTrackers: number): string[][] {
  let count = 0;
  const url = (v: BValue | undefined): string | undefined => {
    if (!(v instanceof Uint8Array) || v.length === 0 || v.length > 4096) return undefined;
    const s = fromUtf8(v).trim();
    return s.length > 0 ? s : undefined;
  };
  const tiers: string[][] = [];
  const list = root.get('announce-list');
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls: string[] = [];
      for (const u of tier) {
        const s = url(u);
        if (s !== undefined && !urls.includes(s)) {
          if (++count > maxTrackers) bad('METAINFO_TOO_MANY_TRACKERS', `more than ${maxTrackers} trackers`);
          urls.push(s);
        }
      }
      if (urls.length > 0) tiers.push(urls);
    }
  }
  if (tiers.length === 0) {
    const a = url(root.get('announce'));
    if (a !== undefined) tiers.push([a]);
  }
  return tiers;
}

function parseUrlList(root: BDict): string[] {
  const v = root.get('url-list');
  const items = Array.isArray(v) ? v : v === undefined ? [] : [v];
  const out: string[] = [];
  for (const item of items) {
    if (item instanceof Uint8Array && item.length > 0 && item.length <= 4096) {
      const s = fromUtf8(item);
      if (!out.includes(s)) out.push(s);
    }
  }
  return out;
}

/**
 * Parses a .torrent file (BitTorrent v1) and validates it: bounded sizes, safe paths, piece
 * hashes consistent with the length. The info-hash is the SHA-1 of the exact original `info`
 * bytes, so torrents with out-of-order keys keep their real info-hash.
 *
 * @throws {MetainfoError} (`METAINFO_*`) or {@link BencodeError} (`BENCODE_*`).
 *
 * @example
 * ```ts
 * const meta = parseTorrent(await readFile('ubuntu.torrent'));
 * console.log(meta.infoHash, meta.name, meta.files.length);
 * ```
 */
export function parseTorrent(data: Uint8Array, options: ParseTorrentOptions = {}): Metainfo {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  let root: BValue;
  let span: { start: number; end: number } | undefined;
  try {
    if (data.length > maxBytes) {
      throw new BencodeError('BENCODE_TOO_LARGE', `torrent larger than ${maxBytes} bytes`);
    }
    const r = decodePrefix(data, 0, { maxBytes });
    if (r.end !== data.length) {
      throw new BencodeError('BENCODE_TRAILING_DATA', `data after the torrent at offset ${r.end}`);
    }
    root = r.value;
    span = r.rootSpans.get('info');
  } catch (e) {
    if (e instanceof BencodeError) bad('METAINFO_BAD_BENCODE', `not a valid torrent: ${e.message}`, e);
    throw e;
  }
  if (!(root instanceof Map)) bad('METAINFO_NOT_A_DICT', 'a torrent must be a bencoded dictionary');
  const info = root.get('info');
  if (!(info instanceof Map) || span === undefined) bad('METAINFO_NO_INFO', 'torrent has no info dictionary');
  const infoPart = buildInfo(info, data.subarray(span.start, span.end), options);

  const comment = textField(root, 'comment');
  const createdBy = textField(root, 'created by');
  const cd = root.get('creation date');
  const creationDate =
    typeof cd === 'bigint' && cd >= 0n && cd <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(cd) : undefined;
  const pieceLayers =
    infoPart.version === 1
      ? undefined
      : parsePieceLayers(root.get('piece layers'), infoPart.files, infoPart.pieceLength);
  return {
    ...infoPart,
    ...(pieceLayers ? { pieceLayers } : {}),
    announce: parseTrackers(root, options.maxTrackers ?? 1000),
    urlList: parseUrlList(root),
    ...(comment === undefined ? {} : { comment }),
    ...(createdBy === undefined ? {} : { createdBy }),
    ...(creationDate === undefined ? {} : { creationDate }),
  };
}

/** What a .torrent file holds besides its info dictionary. */
export interface TorrentFields {
  announce?: readonly (readonly string[])[];
  urlList?: readonly string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the Unix epoch. */
  creationDate?: number;
  /** v2 and hybrid: `piece layers`, keyed by lower-case hex pieces root. */
  pieceLayers?: ReadonlyMap<string, Uint8Array>;
}

/**
 * Writes a .torrent around existing info-dictionary bytes, which are copied verbatim (so the
 * info-hash never changes). Output is canonical and deterministic for the same inputs.
 */
export function encodeTorrent(infoBytes: Uint8Array, fields: TorrentFields = {}): Uint8Array {
  const root = new Map<string, BEncodable>();
  const tiers = (fields.announce ?? []).filter((t) => t.length > 0);
  const first = tiers[0]?.[0];
  if (first !== undefined) root.set('announce', first);
  if (tiers.length > 1 || (tiers[0]?.length ?? 0) > 1) root.set('announce-list', tiers);
  if (fields.comment !== undefined) root.set('comment', fields.comment);
  if (fields.createdBy !== undefined) root.set('created by', fields.createdBy);
  if (fields.creationDate !== undefined) root.set('creation date', Math.floor(fields.creationDate));
  root.set('info', new RawBencode(infoBytes));
  if (fields.pieceLayers && fields.pieceLayers.size > 0) {
    const layers = new Map<string, BEncodable>();
    for (const [hex, layer] of fields.pieceLayers) layers.set(toBinaryString(fromHex(hex)), layer);
    root.set('piece layers', layers);
  }
  const urls = fields.urlList ?? [];
  if (urls.length === 1) root.set('url-list', urls[0] as string);
  else if (urls.length > 1) root.set('url-list', urls);
  return encode(root);
}
