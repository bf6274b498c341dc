import { Readable } from 'node:stream';
import { type InfoDictionary, pieceLengthAt, type TorrentFile } from '../metainfo/torrent.js';
import { PRIORITY, type Priority } from '../picker/picker.js';
import type { ChunkStore } from '../storage/types.js';
import { BttkitError } from '../util/errors.js';
import { SessionError } from './errors.js';
import type { PieceWants } from './wants.js';

/** A byte range inside a file: `end` is inclusive, as in `fs.createReadStream`. Default: the whole file. */
export interface FileRange {
  start?: number;
  end?: number;
}

/** Most bytes one read hands on (a piece may be larger). */
const MAX_CHUNK = 1024 * 1024;

/** What a file and its readers need of their torrent. */
export interface FileHost {
  readonly info: InfoDictionary;
  /** The store, or an error when the torrent is gone. */
  store(): ChunkStore;
  /** Whether piece `i` is verified. */
  has(i: number): boolean;
  readonly wants: PieceWants;
  /** Sets file `index`'s priority (0 = skip). */
  setFilePriority(index: number, priority: Priority): void;
  /** Priorities, pieces or deadlines changed: requests follow. */
  wantsChanged(): void;
  /** The torrent's error once destroyed or failed, else undefined. */
  gone(): Error | undefined;
}

/**
 * Reads bytes `[from, to)` of the torrent's byte stream in order, each piece as soon as it is
 * verified: while it reads, the pieces ahead of it (a read-ahead window, nearest first) carry
 * deadlines, so that the picker asks the fastest peers for them before anything else. One
 * {@link next} at a time; {@link close} releases the window (also on error and at the end).
 */
export class RangeReader {
  readonly #host: FileHost;
  #pos: number;
  readonly #to: number;
  readonly #lastPiece: number;
  #claim: number | undefined;
  #closed = false;

  constructor(host: FileHost, from: number, to: number) {
    this.#host = host;
    this.#pos = from;
    this.#to = to;
    this.#lastPiece = to > from ? Math.floor((to - 1) / host.info.pieceLength) : 0;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#to - this.#pos;
  }

  /**
   * The next chunk (at most 1 MiB, never across a piece boundary), or `null` at the end.
   * @throws {SessionError} `SESSION_DESTROYED` when the torrent goes away first (or its error).
   */
  async next(): Promise<Uint8Array | null> {
    if (this.#closed || this.#pos >= this.#to) {
      this.close();
      return null;
    }
    const host = this.#host;
    const { pieceLength } = host.info;
    const piece = Math.floor(this.#pos / pieceLength);
    try {
      if (!host.has(piece)) {
        const ahead = Math.min(this.#lastPiece, piece + host.wants.readAheadPieces() - 1);
        this.#claim ??= host.wants.claim();
        host.wants.window(this.#claim, piece, ahead);
        host.wantsChanged();
        await host.wants.wait(piece);
      } else if (this.#claim !== undefined) {
        // Keep the window moving while reading what is there (the rest of it may not be).
        const ahead = Math.min(this.#lastPiece, piece + host.wants.readAheadPieces() - 1);
        host.wants.window(this.#claim, piece, ahead);
      }
      if (this.#closed) return null;
      const start = piece * pieceLength;
      const end = Math.min(start + pieceLengthAt(host.info, piece), this.#to, this.#pos + MAX_CHUNK);
      const data = await host.store().get(piece, this.#pos - start, end - this.#pos);
      if (this.#closed) return null;
      this.#pos = end;
      if (this.#pos >= this.#to) this.close();
      return data;
    } catch (err) {
      this.close();
      throw host.gone() ?? err;
    }
  }

  /** Stops reading: the window's deadlines are released. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#claim !== undefined) {
      this.#host.wants.release(this.#claim);
      this.#claim = undefined;
      this.#host.wantsChanged();
    }
  }
}

/** A Node `Readable` over a {@link RangeReader}: reads one chunk per `_read` (backpressure). */
class RangeReadable extends Readable {
  readonly #reader: RangeReader;
  #busy = false;

  constructor(reader: RangeReader) {
    super({ highWaterMark: MAX_CHUNK });
    this.#reader = reader;
  }

  override _read(): void {
    if (this.#busy) return;
    this.#busy = true;
    this.#reader.next().then(
      (chunk) => {
        this.#busy = false;
        if (this.destroyed) return;
        this.push(chunk);
      },
      (err: unknown) => {
        this.#busy = false;
        this.destroy(err instanceof Error ? err : new SessionError('SESSION_DESTROYED', String(err)));
      },
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#reader.close();
    callback(err);
  }
}

/**
 * One file of a torrent, as apps use it (WebTorrent's `File`): its place in the torrent, its
 * progress, its selection, and streams of its bytes that work before the download completes.
 */
export class TorrentFileHandle {
  /** Position in the torrent's file list. */
  readonly index: number;
  /** The last element of the path. */
  readonly name: string;
  /** Path inside the torrent's folder, elements joined with `/`. */
  readonly path: string;
  /** Length in bytes. */
  readonly length: number;
  /** Offset of the first byte in the torrent's byte stream. */
  readonly offset: number;
  /** A BEP 47 padding file (zeros, never written; not for listing). */
  readonly padding: boolean;
  readonly #host: FileHost;

  constructor(host: FileHost, index: number, file: TorrentFile) {
    this.#host = host;
    this.index = index;
    this.path = file.path;
    this.name = file.segments[file.segments.length - 1] ?? file.path;
    this.length = file.length;
    this.offset = file.offset;
    this.padding = file.padding;
  }

  /** Bytes of this file in verified pieces. */
  get downloaded(): number {
    if (this.length === 0) return 0;
    const { pieceLength } = this.#host.info;
    const end = this.offset + this.length;
    let bytes = 0;
    for (let i = Math.floor(this.offset / pieceLength); i * pieceLength < end; i++) {
      if (!this.#host.has(i)) continue;
      bytes += Math.min(end, (i + 1) * pieceLength) - Math.max(this.offset, i * pieceLength);
    }
    return bytes;
  }

  /** Fraction verified, 0 to 1 (1 for an empty file). */
  get progress(): number {
    return this.length === 0 ? 1 : this.downloaded / this.length;
  }

  /** The file's priority (0 = skipped). */
  get priority(): Priority {
    return this.#host.wants.filePriorities[this.index] ?? PRIORITY.normal;
  }

  /** Wants the file (default priority: normal, 4). */
  select(priority: Priority = PRIORITY.normal): void {
    this.#host.setFilePriority(this.index, priority);
  }

  /** Skips the file (pieces it shares with a wanted file are still downloaded). */
  deselect(): void {
    this.#host.setFilePriority(this.index, PRIORITY.skip);
  }

  /**
   * The bytes `[start, end]` (inclusive; default the whole file) as a Node `Readable`, served as
   * their pieces are verified: the pieces ahead of the reader get deadline priority, so reading
   * in the middle of a torrent does not wait for the rest. Several streams may read at once.
   * Destroying the stream releases its read-ahead; the stream fails with `SESSION_DESTROYED`
   * if the torrent is destroyed first.
   * @throws {SessionError} `SESSION_BAD_RANGE` for a range outside the file.
   */
  createReadStream(range: FileRange = {}): Readable {
    return new RangeReadable(this.#reader(range));
  }

  /** The same as {@link createReadStream}, as a web `ReadableStream` (for `Response`, browsers' APIs). */
  stream(range: FileRange = {}): ReadableStream<Uint8Array> {
    const reader = this.#reader(range);
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const chunk = await reader.next();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
        cancel() {
          reader.close();
        },
      },
      { highWaterMark: 1 },
    );
  }

  /** The whole file in memory once its pieces are verified (for small files). */
  async arrayBuffer(): Promise<ArrayBuffer> {
    const out = new Uint8Array(this.length);
    const reader = this.#reader({});
    let at = 0;
    for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out.buffer;
  }

  #reader(range: FileRange): RangeReader {
    const start = range.start ?? 0;
    const end = range.end ?? this.length - 1;
    const ok =
      Number.isSafeInteger(start) &&
      Number.isSafeInteger(end) &&
      start >= 0 &&
      (this.length === 0 ? end === -1 && start === 0 : start <= end + 1 && end < this.length);
    if (!ok)
      throw new SessionError('SESSION_BAD_RANGE', `bad range ${start}-${end} of a ${this.length}-byte file`, {
        details: { start, end, length: this.length },
      });
    const gone = this.#host.gone();
    if (gone) throw gone instanceof BttkitError ? gone : new SessionError('SESSION_DESTROYED', gone.message);
    return new RangeReader(this.#host, this.offset + start, this.offset + end + 1);
  }
}
