import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { compareBytes, utf8 } from '../util/bytes.js';
import { MetainfoError, throwIfAborted } from '../util/errors.js';
import { createSha1 } from '../util/hash.js';
import { VERSION } from '../version.js';
import { type BEncodable, encode } from './bencode.js';
import { hashV2 } from './create-v2.js';
import { assertSafePath } from './paths.js';
import { encodeTorrent, type Metainfo, type MetainfoVersion, parseTorrent } from './torrent.js';

/** Progress of {@link createTorrent}, reported after every piece. */
export interface CreateProgress {
  bytesHashed: number;
  totalBytes: number;
  piecesHashed: number;
  pieceCount: number;
}

/** Options of {@link createTorrent}. */
export interface CreateTorrentOptions {
  /** Bytes per piece, a power of two ≥ 16 KiB. Default: see {@link choosePieceLength}. */
  pieceLength?: number;
  /** Torrent name. Default: the base name of the path. */
  name?: string;
  /**
   * Trackers: a list of tiers (`[['udp://a'], ['http://b', 'http://c']]`), or a flat list where
   * each URL is its own tier (as `mktorrent -a x -a y` does).
   */
  announce?: readonly (string | readonly string[])[];
  /** BEP 19 web seeds. */
  urlList?: readonly string[];
  /** BEP 27 private flag. */
  private?: boolean;
  /** `source` in the info dictionary (changes the info-hash; used by private trackers). */
  source?: string;
  comment?: string;
  /** Default `bttkit/<version>`; pass `null` to leave it out. */
  createdBy?: string | null;
  /**
   * Seconds since the Unix epoch, or a `Date`. Left out by default, so the output depends only
   * on the inputs (deterministic).
   */
  creationDate?: number | Date;
  /**
   * `1` (default): a v1 torrent. `2`: a v2-only torrent (BEP 52: file tree, SHA-256 Merkle trees,
   * piece layers). `'hybrid'`: both at once, with BEP 47 padding files so that the v1 and v2
   * views agree. v2 and hybrid torrents keep empty files and align every file to a piece.
   */
  version?: MetainfoVersion;
  /** Called after each hashed piece. */
  onProgress?: (progress: CreateProgress) => void;
  signal?: AbortSignal;
}

/** The result of {@link createTorrent}. */
export interface CreatedTorrent {
  /** The .torrent file's bytes. */
  torrent: Uint8Array;
  /** The same, parsed. */
  metainfo: Metainfo;
}

const MIN_CREATE_PIECE = 16 * 1024;
const MAX_CREATE_PIECE = 16 * 1024 * 1024;

/**
 * The piece length mainstream tools (libtorrent, qBittorrent) pick: the smallest power of two
 * from 16 KiB to 16 MiB that keeps the piece list near 40 KB (about 2,048 pieces).
 */
export function choosePieceLength(totalBytes: number): number {
  let size = MIN_CREATE_PIECE;
  while (size < MAX_CREATE_PIECE && totalBytes / size > 2048) size *= 2;
  return size;
}

interface SourceFile {
  abs: string;
  segments: string[];
  length: number;
}

async function walk(dir: string, prefix: string[], out: SourceFile[], signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const abs = join(dir, e.name);
    const segments = [...prefix, e.name];
    if (e.isDirectory()) {
      await walk(abs, segments, out, signal);
    } else if (e.isFile() || e.isSymbolicLink()) {
      // Symbolic links are followed to files only (never to folders: no cycles).
      const st = await stat(abs).catch(() => undefined);
      if (st?.isFile()) out.push({ abs, segments, length: st.size });
    }
  }
}

function pathKey(segments: readonly string[]): Uint8Array {
  return utf8(segments.join('/'));
}

function compareSegments(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareBytes(utf8(a[i] as string), utf8(b[i] as string));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * Creates a .torrent — v1 by default, v2-only or hybrid with `version` (BEP 52) — from a file
 * (single-file torrent) or a folder (multi-file torrent, files in byte order of their paths, for
 * v2 and hybrids element by element as the file tree orders them; empty folders left out).
 * Deterministic: the same data and options give the same bytes.
 *
 * @example
 * ```ts
 * const { torrent, metainfo } = await createTorrent('./album', { announce: ['udp://tracker:6969'] });
 * await writeFile('album.torrent', torrent);
 * ```
 */
export async function createTorrent(
  path: string,
  options: CreateTorrentOptions = {},
): Promise<CreatedTorrent> {
  const root = resolve(path);
  const st = await stat(root);
  const name = options.name ?? basename(root);
  assertSafePath([name], 'name');

  let files: SourceFile[];
  let multiFile: boolean;
  if (st.isDirectory()) {
    multiFile = true;
    files = [];
    await walk(root, [], files, options.signal);
    files.sort((a, b) => compareBytes(pathKey(a.segments), pathKey(b.segments)));
    // v2 orders files as its file tree does: element by element.
    if ((options.version ?? 1) !== 1) files.sort((a, b) => compareSegments(a.segments, b.segments));
    if (files.length === 0) throw new MetainfoError('METAINFO_CREATE_NO_FILES', `no files in ${path}`);
    for (const f of files) assertSafePath(f.segments, f.segments.join('/'));
  } else if (st.isFile()) {
    multiFile = false;
    files = [{ abs: root, segments: [name], length: st.size }];
  } else {
    throw new MetainfoError('METAINFO_CREATE_NOT_A_FILE', `${path} is neither a file nor a folder`);
  }

  const totalBytes = files.reduce((n, f) => n + f.length, 0);
  if (totalBytes === 0) throw new MetainfoError('METAINFO_CREATE_EMPTY', `${path} holds no data (0 bytes)`);
  const pieceLength = options.pieceLength ?? choosePieceLength(totalBytes);
  if (
    !Number.isInteger(pieceLength) ||
    pieceLength < MIN_CREATE_PIECE ||
    (pieceLength & (pieceLength - 1)) !== 0
  ) {
    throw new MetainfoError(
      'METAINFO_CREATE_BAD_PIECE_LENGTH',
      'piece length must be a power of two of at least 16 KiB',
    );
  }
  if (pieceLength > 256 * 1024 * 1024) {
    throw new MetainfoError('METAINFO_CREATE_BAD_PIECE_LENGTH', 'piece length must be at most 256 MiB');
  }

  const version = options.version ?? 1;
  if (version !== 1 && version !== 2 && version !== 'hybrid') {
    throw new MetainfoError(
      'METAINFO_CREATE_BAD_PIECE_LENGTH',
      `unknown torrent version ${String(version)}`,
      {
        details: { reason: 'version' },
      },
    );
  }
  const info: Record<string, BEncodable | undefined> = {
    name,
    'piece length': pieceLength,
    private: options.private ? 1 : undefined,
    source: options.source,
  };
  let pieceLayers: Map<string, Uint8Array> | undefined;
  if (version === 1) {
    info.pieces = await hashPieces(files, pieceLength, totalBytes, options);
    if (multiFile) {
      info.files = files.map((f) => ({ length: f.length, path: f.segments }));
    } else {
      info.length = totalBytes;
    }
  } else {
    const parts = await hashV2(
      files,
      pieceLength,
      multiFile,
      version === 'hybrid',
      options.onProgress,
      options.signal,
    );
    for (const [k, v] of parts.info) info[k] = v;
    pieceLayers = parts.pieceLayers;
  }
  const infoBytes = encode(info);

  const announce = (options.announce ?? []).map((t) => (typeof t === 'string' ? [t] : [...t]));
  const creationDate =
    options.creationDate instanceof Date
      ? Math.floor(options.creationDate.getTime() / 1000)
      : options.creationDate;
  const createdBy = options.createdBy === undefined ? `bttkit/${VERSION}` : options.createdBy;
  const torrent = encodeTorrent(infoBytes, {
    announce,
    ...(options.urlList ? { urlList: options.urlList } : {}),
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
    ...(createdBy !== null ? { createdBy } : {}),
    ...(creationDate !== undefined ? { creationDate } : {}),
    ...(pieceLayers ? { pieceLayers } : {}),
  });
  return { torrent, metainfo: parseTorrent(torrent) };
}

async function hashPieces(
  files: readonly SourceFile[],
  pieceLength: number,
  totalBytes: number,
  options: CreateTorrentOptions,
): Promise<Uint8Array> {
  const pieceCount = Math.ceil(totalBytes / pieceLength);
  const out = new Uint8Array(pieceCount * 20);
  const readSize = Math.max(pieceLength, 1024 * 1024);
  const buf = new Uint8Array(readSize);
  let hasher = createSha1();
  let inPiece = 0;
  let piecesHashed = 0;
  let bytesHashed = 0;

  const finishPiece = () => {
    out.set(hasher.digest(), piecesHashed * 20);
    piecesHashed++;
    hasher = createSha1();
    inPiece = 0;
    options.onProgress?.({ bytesHashed, totalBytes, piecesHashed, pieceCount });
  };

  for (const f of files) {
    if (f.length === 0) continue;
    const fh = await open(f.abs, 'r');
    try {
      let left = f.length;
      while (left > 0) {
        throwIfAborted(options.signal);
        const { bytesRead } = await fh.read(buf, 0, Math.min(readSize, left), null);
        if (bytesRead === 0) {
          throw new MetainfoError(
            'METAINFO_CREATE_FILE_CHANGED',
            `${f.abs} shrank while it was being hashed`,
          );
        }
        left -= bytesRead;
        let off = 0;
        while (off < bytesRead) {
          const take = Math.min(pieceLength - inPiece, bytesRead - off);
          hasher.update(buf.subarray(off, off + take));
          off += take;
          inPiece += take;
          bytesHashed += take;
          if (inPiece === pieceLength) finishPiece();
        }
      }
    } finally {
      await fh.close();
    }
  }
  if (inPiece > 0) finishPiece();
  if (bytesHashed !== totalBytes) {
    throw new MetainfoError(
      'METAINFO_CREATE_FILE_CHANGED',
      'files changed size while they were being hashed',
    );
  }
  return out;
}
