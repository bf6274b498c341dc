import { type BDict, type BValue, decode, encode } from '../metainfo/bencode.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { toHex } from '../util/bytes.js';
import { StorageError } from './errors.js';

/** The version of the resume record {@link encodeResume} writes and {@link decodeResume} reads. */
export const RESUME_VERSION = 1;
/** Largest resume record decoded, bytes (a 1 TiB torrent of 16 KiB pieces has an 8 MiB bitfield). */
export const MAX_RESUME_BYTES = 32 * 1024 * 1024;
/** Most files a resume record may list. */
const MAX_RESUME_FILES = 1_000_000;

/** Size and modification time of one file on disk when the resume record was made. */
export interface ResumeFileStat {
  /** Bytes. */
  readonly size: number;
  /** Modification time, whole milliseconds since the epoch (floored). */
  readonly mtimeMs: number;
}

/**
 * Fast-resume data of one torrent, like libtorrent's resume file: which pieces were verified,
 * and the state of the files then, so that a restart trusts them without hashing them again
 * while the files are unchanged.
 */
export interface ResumeRecord {
  /** The torrent's 20-byte info-hash (v1, or a v2-only torrent's truncated v2 hash). */
  readonly infoHash: Uint8Array;
  readonly pieceLength: number;
  readonly pieceCount: number;
  /** Verified pieces, a BEP 3 bitfield of `ceil(pieceCount / 8)` bytes (spare bits zero). */
  readonly have: Uint8Array;
  /**
   * Per file of the torrent, in order: its size and mtime when the record was made, or
   * `undefined` when it was not a file of its own on disk (missing, padding, in the part file):
   * the pieces it holds are then hashed on resume.
   */
  readonly files: readonly (ResumeFileStat | undefined)[];
  /** Payload bytes sent and received over the torrent's life (for the app's ratio). */
  readonly uploaded: number;
  readonly downloaded: number;
  /** When it was added, completed (if it did) and this record was made: ms since the epoch. */
  readonly addedAt: number;
  readonly completedAt?: number | undefined;
  readonly savedAt: number;
  /** Whether it was paused. */
  readonly paused: boolean;
  /** Per-file priorities (0 = skip), when any were set. */
  readonly filePriorities?: readonly number[] | undefined;
}

/** A resume record as bencoded bytes (a dictionary; keys in order). */
export function encodeResume(r: ResumeRecord): Uint8Array {
  return encode({
    'bttkit-resume': RESUME_VERSION,
    added: r.addedAt,
    completed: r.completedAt,
    downloaded: r.downloaded,
    files: r.files.map((f) => (f ? [f.size, f.mtimeMs] : [])),
    have: r.have,
    'info-hash': r.infoHash,
    paused: r.paused ? 1 : 0,
    'piece-length': r.pieceLength,
    pieces: r.pieceCount,
    priorities: r.filePriorities ? [...r.filePriorities] : undefined,
    saved: r.savedAt,
    uploaded: r.uploaded,
  });
}

function bad(message: string, details?: Record<string, string | number>): StorageError {
  return new StorageError('STORAGE_BAD_RESUME', `resume data: ${message}`, details ? { details } : {});
}

function int(d: BDict, key: string, min: number, optional = false): number | undefined {
  const v: BValue | undefined = d.get(key);
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'bigint' || v < BigInt(min) || v > BigInt(Number.MAX_SAFE_INTEGER))
    throw bad(`"${key}" is not an integer in range`);
  return Number(v);
}

/**
 * Reads a resume record, as hostile input: at most {@link MAX_RESUME_BYTES}, every field typed
 * and bounded, the bitfield the right length with its spare bits zero. With `info`, the record
 * must also be this torrent's (info-hash, piece length and count, number of files).
 * @throws {StorageError} `STORAGE_BAD_RESUME` (`details.version` for a version this build does
 *   not read).
 */
export function decodeResume(bytes: Uint8Array, info?: InfoDictionary): ResumeRecord {
  if (bytes.length > MAX_RESUME_BYTES) throw bad('too large', { bytes: bytes.length });
  let root: BValue;
  try {
    root = decode(bytes, { maxBytes: MAX_RESUME_BYTES, maxDepth: 4, maxItems: 3 * MAX_RESUME_FILES + 64 });
  } catch (cause) {
    throw new StorageError('STORAGE_BAD_RESUME', 'resume data: not bencode', { cause });
  }
  if (!(root instanceof Map)) throw bad('not a dictionary');
  const version = root.get('bttkit-resume');
  if (typeof version !== 'bigint') throw bad('not a bttkit resume record');
  if (version !== BigInt(RESUME_VERSION))
    throw bad(`version ${version} is not read by this build`, { version: String(version) });
  const infoHash = root.get('info-hash');
  if (!(infoHash instanceof Uint8Array) || infoHash.length !== 20) throw bad('"info-hash" is not 20 bytes');
  const pieceLength = int(root, 'piece-length', 1) as number;
  const pieceCount = int(root, 'pieces', 0) as number;
  const have = root.get('have');
  if (!(have instanceof Uint8Array) || have.length !== Math.ceil(pieceCount / 8))
    throw bad('"have" is not a bitfield of the pieces');
  if (pieceCount % 8 !== 0 && ((have[have.length - 1] as number) & (0xff >> (pieceCount % 8))) !== 0)
    throw bad('"have" has spare bits set');
  const list = root.get('files');
  if (!Array.isArray(list) || list.length > MAX_RESUME_FILES) throw bad('"files" is not a list');
  const files = list.map((f): ResumeFileStat | undefined => {
    if (!Array.isArray(f) || (f.length !== 0 && f.length !== 2))
      throw bad('a file entry is not [size, mtime]');
    if (f.length === 0) return undefined;
    const e = new Map<string, BValue>([
      ['size', f[0] as BValue],
      ['mtime', f[1] as BValue],
    ]);
    return { size: int(e, 'size', 0) as number, mtimeMs: int(e, 'mtime', 0) as number };
  });
  const prios = root.get('priorities');
  let filePriorities: number[] | undefined;
  if (prios !== undefined) {
    if (!Array.isArray(prios) || prios.length !== files.length) throw bad('"priorities" is not one per file');
    filePriorities = prios.map((p) => {
      if (typeof p !== 'bigint' || p < 0n || p > 7n) throw bad('a priority is not 0…7');
      return Number(p);
    });
  }
  const record: ResumeRecord = {
    infoHash: infoHash.slice(),
    pieceLength,
    pieceCount,
    have: have.slice(),
    files,
    uploaded: int(root, 'uploaded', 0) as number,
    downloaded: int(root, 'downloaded', 0) as number,
    addedAt: int(root, 'added', 0) as number,
    completedAt: int(root, 'completed', 0, true),
    savedAt: int(root, 'saved', 0) as number,
    paused: int(root, 'paused', 0) === 1,
    filePriorities,
  };
  if (info) checkResumeFor(record, info);
  return record;
}

/**
 * Throws unless `r` describes `info`: the same info-hash, piece length, piece count and number
 * of files.
 * @throws {StorageError} `STORAGE_BAD_RESUME`
 */
export function checkResumeFor(r: ResumeRecord, info: InfoDictionary): void {
  if (toHex(r.infoHash) !== info.infoHash)
    throw bad('another torrent’s record', { infoHash: toHex(r.infoHash) });
  if (r.pieceLength !== info.pieceLength || r.pieceCount !== info.pieceCount)
    throw bad('pieces differ from the torrent’s');
  if (r.files.length !== info.files.length) throw bad('files differ from the torrent’s');
}
