import { assertSafePath } from '../metainfo/paths.js';
import { type InfoDictionary, pieceLengthAt } from '../metainfo/torrent.js';
import { StorageError } from './errors.js';

/** One contiguous part of a block or piece that lies in one file. */
export interface Segment {
  /** Index into `meta.files`. */
  readonly file: number;
  /** Offset inside that file. */
  readonly fileOffset: number;
  /** Offset inside the block or piece. */
  readonly bufOffset: number;
  readonly length: number;
}

function bad(message: string): never {
  throw new StorageError('STORAGE_BAD_LAYOUT', message);
}

function safe(segments: readonly string[], what: string): void {
  try {
    assertSafePath(segments, what);
  } catch (e) {
    throw new StorageError('STORAGE_UNSAFE_PATH', e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/**
 * The geometry of a torrent's byte stream: pieces over files. Built from an {@link InfoDictionary}
 * that is checked again here (a hand-made one never went through the metainfo parser).
 */
export class Layout {
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly length: number;
  readonly lastPieceLength: number;
  /** End offset (exclusive) of each file in the torrent stream; non-decreasing. */
  readonly #ends: Float64Array;

  constructor(readonly meta: InfoDictionary) {
    const { pieceLength, pieceCount, length, lastPieceLength, files, pieceHashes } = meta;
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) bad(`bad piece length ${pieceLength}`);
    if (!Number.isSafeInteger(length) || length <= 0) bad(`bad total length ${length}`);
    if (pieceCount !== Math.ceil(length / pieceLength)) bad(`piece count ${pieceCount} does not fit length`);
    if (lastPieceLength !== length - (pieceCount - 1) * pieceLength) bad('bad last piece length');
    // v2-only torrents have no SHA-1 list: their pieces are checked against Merkle trees.
    if (meta.version === 2 ? pieceHashes.length !== 0 : pieceHashes.length !== pieceCount * 20)
      bad('piece hashes do not match the piece count');
    if (files.length === 0) bad('no files');
    safe([meta.name], 'name');
    this.#ends = new Float64Array(files.length);
    const seen = new Set<string>();
    const dirs = new Set<string>();
    let pos = 0;
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      if (!f) bad(`files[${i}] missing`);
      if (!Number.isSafeInteger(f.length) || f.length < 0) bad(`files[${i}] has a bad length`);
      if (f.offset !== pos) bad(`files[${i}] offset ${f.offset}, expected ${pos}`);
      safe(f.segments, `files[${i}].path`);
      if (!meta.multiFile && !f.padding && (f.segments.length !== 1 || f.segments[0] !== meta.name)) {
        throw new StorageError('STORAGE_UNSAFE_PATH', 'a single-file torrent whose file is not its name');
      }
      if (!f.padding) {
        // No file twice, and no file that is also a folder of another.
        const key = f.segments.join('/');
        if (seen.has(key) || dirs.has(key)) bad(`files[${i}]: path used twice: ${key}`);
        seen.add(key);
        let d = '';
        for (let k = 0; k < f.segments.length - 1; k++) {
          d = k === 0 ? (f.segments[0] as string) : `${d}/${f.segments[k]}`;
          if (seen.has(d)) bad(`files[${i}]: ${d} is both a file and a folder`);
          dirs.add(d);
        }
      }
      pos += f.length;
      this.#ends[i] = pos;
    }
    if (pos !== length) bad(`files add up to ${pos}, torrent length is ${length}`);
    this.pieceLength = pieceLength;
    this.pieceCount = pieceCount;
    this.length = length;
    this.lastPieceLength = lastPieceLength;
  }

  /** Length of piece `index` ({@link pieceLengthAt}). */
  pieceSize(index: number): number {
    return pieceLengthAt(this, index);
  }

  /** Throws `STORAGE_OUT_OF_RANGE` unless `piece` is a piece index. */
  checkPiece(piece: number): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) {
      throw new StorageError('STORAGE_OUT_OF_RANGE', `piece ${piece} outside the torrent`, {
        details: { piece, pieceCount: this.pieceCount },
      });
    }
  }

  /** Throws `STORAGE_OUT_OF_RANGE` unless `[offset, offset+length)` is a non-empty range of `piece`. */
  checkBlock(piece: number, offset: number, length: number): void {
    this.checkPiece(piece);
    const size = this.pieceSize(piece);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length <= 0) {
      throw new StorageError('STORAGE_OUT_OF_RANGE', `bad block ${offset}+${length} of piece ${piece}`, {
        details: { piece, offset, length },
      });
    }
    if (offset + length > size) {
      throw new StorageError('STORAGE_OUT_OF_RANGE', `block ${offset}+${length} beyond piece ${piece}`, {
        details: { piece, offset, length, pieceLength: size },
      });
    }
  }

  /** Index of the first file whose bytes include stream offset `pos` (zero-length files never do). */
  fileAt(pos: number): number {
    let lo = 0;
    let hi = this.#ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#ends[mid] as number) > pos) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The file segments of `length` bytes at stream offset `start`, in order. */
  segments(start: number, length: number): Segment[] {
    const out: Segment[] = [];
    const files = this.meta.files;
    let pos = start;
    const end = start + length;
    for (let i = this.fileAt(pos); pos < end && i < files.length; i++) {
      const f = files[i];
      if (!f || f.length === 0) continue;
      const n = Math.min(end, f.offset + f.length) - pos;
      if (n <= 0) continue;
      out.push({ file: i, fileOffset: pos - f.offset, bufOffset: pos - start, length: n });
      pos += n;
    }
    return out;
  }

  /** The segments of a block of a piece (already range-checked). */
  blockSegments(piece: number, offset: number, length: number): Segment[] {
    return this.segments(piece * this.pieceLength + offset, length);
  }

  /** Indices of the pieces that hold bytes of file `index` (none for a zero-length file). */
  piecesOfFile(index: number): { first: number; last: number } | undefined {
    const f = this.meta.files[index];
    if (!f || f.length === 0) return undefined;
    return {
      first: Math.floor(f.offset / this.pieceLength),
      last: Math.floor((f.offset + f.length - 1) / this.pieceLength),
    };
  }
}
