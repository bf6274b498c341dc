import { pieceLengthAt } from '../metainfo/torrent.js';
import type { ChunkStore } from '../storage/types.js';
import type { Clock } from '../util/clock.js';
import type { BlockRequest, RespondFn } from '../wire/peer-wire.js';
import { SessionError } from './errors.js';
import type { PeerConn } from './peer.js';
import type { Settings } from './settings.js';
import { PacedQueue, type PaceLimiter } from './throttle.js';

/** Longest a block may wait behind the upload cap before its request is refused instead, ms. */
const MAX_UPLOAD_WAIT_MS = 2000;
/** Spare piece buffers kept for the next upload read (see {@link UploadRead}). */
const MAX_SPARE_READ_BUFFERS = 4;

/**
 * An upload rate limit: the torrent's own bucket chained with its client's (a `Throttle`), or
 * any limiter with `take` / `wouldWait`.
 */
export type UploadLimiter = PaceLimiter;

/** What the {@link Uploader} needs from its torrent. */
export interface UploadHost {
  readonly clock: Clock;
  readonly settings: Readonly<Pick<Settings, 'readCacheBytes'>>;
  readonly limiter: UploadLimiter | undefined;
  /** `bytes` of payload were handed to `peer`'s wire. */
  uploaded(peer: PeerConn, bytes: number): void;
  /** The store failed a read: the torrent stops. */
  storeFailed(err: unknown): void;
}

/**
 * A whole piece read for upload, shared by the blocks sent from it. Its buffer goes back to the
 * spares once it has left the read cache and every block sent from it is written (a fresh 1 MiB
 * buffer per piece read kept the seeder's GC busy: ~13 % of its main thread).
 */
interface UploadRead {
  readonly data: Promise<Uint8Array>;
  /** The recycled buffer the store read into, once the read succeeded into it. */
  buf: Uint8Array | undefined;
  /** Requests answered, or being answered, from it: each releases it once. */
  users: number;
  cached: boolean;
}

/**
 * Serves peers' requests: whole pieces are read once into a bounded cache of recycled buffers
 * (a peer asks for the blocks of a piece in a row, so one read serves them all), each block is
 * sent when the upload cap allows (in order, through one paced queue: a rate changed at run time
 * applies to what is still queued), and a request the cap would delay for over 2 s is refused
 * (BEP 6 reject) so the requester asks someone else.
 */
export class Uploader {
  readonly #host: UploadHost;
  /** Whole pieces read for upload, most recent last; bounded in bytes. */
  readonly #cache = new Map<number, UploadRead>();
  #cacheBytes = 0;
  /** Piece-sized buffers free for the next read. */
  #spares: Uint8Array[] = [];
  #storeIgnoresInto = false;
  #stopped = false;
  /** Blocks waiting for the upload cap (created on first use). */
  #paced: PacedQueue | undefined;

  constructor(host: UploadHost) {
    this.#host = host;
  }

  /** Answers a request: served when the piece is verified and the peer unchoked, else refused. */
  answer(peer: PeerConn, store: ChunkStore | undefined, req: BlockRequest, respond: RespondFn): void {
    if (!store?.has(req.index) || !peer.unchoked)
      respond(new SessionError('SESSION_CANNOT_SERVE', 'not available'));
    else this.serve(peer, store, req.index, req.offset, req.length, respond);
  }

  /**
   * Answers a request of `peer` through `respond`: the block, or a `SessionError` (the wire
   * turns it into a reject). The caller checked that the peer is unchoked and the piece is ours.
   */
  serve(
    peer: PeerConn,
    store: ChunkStore,
    index: number,
    offset: number,
    length: number,
    respond: RespondFn,
  ): void {
    const read = this.#read(store, index);
    // Exactly once per request, when nothing refers to the block any more (or never).
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--read.users === 0 && !read.cached) this.#recycle(read);
    };
    read.data.then(
      (data) => {
        if (peer.wire.closed) return release();
        if (offset + length > data.length) {
          release();
          respond(new SessionError('SESSION_CANNOT_SERVE', 'request outside the piece'));
          return;
        }
        const block = data.subarray(offset, offset + length);
        const send = () => {
          if (peer.wire.closed) return release();
          respond(block, release);
          this.#host.uploaded(peer, block.length);
        };
        const limiter = this.#host.limiter;
        if (!limiter || this.#stopped) return send();
        this.#paced ??= new PacedQueue(limiter, this.#host.clock, MAX_UPLOAD_WAIT_MS);
        if (!this.#paced.push(block.length, send, release)) {
          release();
          respond(new SessionError('SESSION_UPLOAD_BUSY', 'upload queue full'));
        }
      },
      (err: unknown) => {
        release();
        respond(new SessionError('SESSION_CANNOT_SERVE', 'the piece could not be read', { cause: err }));
        this.#host.storeFailed(err);
      },
    );
  }

  /** Drops the spare buffers and the blocks waiting for the cap; reads in progress finish, nothing is recycled any more. */
  stop(): void {
    this.#stopped = true;
    this.#spares = [];
    this.#paced?.stop();
  }

  /** The read of piece `index`, cached or new, with one more user: release it once. */
  #read(store: ChunkStore, index: number): UploadRead {
    const hit = this.#cache.get(index);
    if (hit) {
      this.#cache.delete(index);
      this.#cache.set(index, hit);
      hit.users++;
      return hit;
    }
    const meta = store.meta;
    const size = pieceLengthAt(meta, index);
    const full = meta.pieceLength;
    // Whole-size pieces are read into buffers of ours, recycled; the last piece is left alone.
    const into =
      size === full && !this.#storeIgnoresInto ? (this.#spares.pop() ?? new Uint8Array(full)) : undefined;
    const data = store.get(index, 0, size, into ? { into } : {});
    const read: UploadRead = { data, buf: undefined, users: 1, cached: true };
    data.then(
      (bytes) => {
        // Recycled only when the store read into our buffer. A store that ignores `into` (one
        // that hands out views of its own memory) is not offered buffers again.
        if (into && bytes.buffer === into.buffer) read.buf = into;
        else if (into) {
          this.#storeIgnoresInto = true;
          this.#spares = [];
        }
      },
      () => {
        if (this.#cache.get(index) === read) {
          this.#cache.delete(index);
          this.#cacheBytes -= size;
          read.cached = false;
        }
      },
    );
    this.#cache.set(index, read);
    this.#cacheBytes += size;
    const cap = this.#host.settings.readCacheBytes;
    for (const [k, old] of this.#cache) {
      if (this.#cacheBytes <= cap || this.#cache.size <= 1) break;
      this.#cache.delete(k);
      this.#cacheBytes -= pieceLengthAt(meta, k);
      old.cached = false;
      if (old.users === 0) this.#recycle(old);
    }
    return read;
  }

  #recycle(read: UploadRead): void {
    const buf = read.buf;
    read.buf = undefined;
    if (buf && this.#spares.length < MAX_SPARE_READ_BUFFERS && !this.#stopped) this.#spares.push(buf);
  }
}
