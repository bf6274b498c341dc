import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * Every code a {@link SessionError} carries. Most are warnings (the torrent goes on: a peer
 * dropped, a bad piece, a tracker's complaint); `SESSION_STORE_FAILED` stops the torrent;
 * `SESSION_BAD_*` and `SESSION_CLIENT_DESTROYED` are thrown to a caller.
 */
export const SESSION_ERROR_CODES = [
  /** A 20-byte peer id was expected. */
  'SESSION_BAD_PEER_ID',
  /** `Settings` that cannot work (a block size that is not a power of two in 16 KiB–4 MiB…). */
  'SESSION_BAD_SETTINGS',
  /** File priorities that do not match the torrent's files (one per file). */
  'SESSION_BAD_FILE_PRIORITIES',
  /** A rate that is not a finite number of bytes/s ≥ 0 (0 = unlimited). */
  'SESSION_BAD_RATE',
  /** A byte range outside a file, or a piece range outside the torrent. */
  'SESSION_BAD_RANGE',
  /** A priority that is not an integer 0…7. */
  'SESSION_BAD_PRIORITY',
  /** The torrent was destroyed: its streams end with this error, and later reads fail with it. */
  'SESSION_DESTROYED',
  /** `add()` on a destroyed client. */
  'SESSION_CLIENT_DESTROYED',
  /** A tracker warned or failed (the cause is a `TrackerError`). */
  'SESSION_TRACKER_WARNING',
  /** A DHT lookup or announce failed. */
  'SESSION_DHT_FAILED',
  /** A dial failed or timed out. */
  'SESSION_CONNECT_FAILED',
  /** Fetching the info dictionary from a peer failed (BEP 9). */
  'SESSION_METADATA_FAILED',
  /** Metadata whose hash is not this torrent's info-hash was ignored. */
  'SESSION_WRONG_METADATA',
  /** A connected peer dropped (the cause is its `WireError`). */
  'SESSION_PEER_DROPPED',
  /** A peer was banned for sending corrupt data. */
  'SESSION_PEER_BANNED',
  /** A piece failed its hash check. */
  'SESSION_HASH_FAILED',
  /** A request we do not serve (choked, piece missing, out of range): the peer is rejected. */
  'SESSION_CANNOT_SERVE',
  /** A request refused because the upload cap would make it wait too long. */
  'SESSION_UPLOAD_BUSY',
  /** The store failed: the torrent stops (`error` event). */
  'SESSION_STORE_FAILED',
  /** Closing the store on `destroy()` failed. */
  'SESSION_STORE_CLOSE_FAILED',
  /**
   * `add()` of a string that is neither a magnet URI, an info-hash nor a readable `.torrent` file
   * (missing, not a file, larger than 64 MiB).
   */
  'SESSION_BAD_SOURCE',
  /** `seed()` of nothing (a missing path, no files, 0 bytes), a bad piece length, duplicate names. */
  'SESSION_BAD_SEED',
  /** `seed()`: the data does not verify against the torrent just made (it changed meanwhile). */
  'SESSION_SEED_FAILED',
  /** `remove()` of a torrent that is not in the client. */
  'SESSION_UNKNOWN_TORRENT',
  /** `createServer()`: a bad host, port or timeout option. */
  'SESSION_HTTP_BAD_OPTION',
  /** The HTTP server cannot listen (`details.code`, e.g. `EADDRINUSE`), or was closed. */
  'SESSION_HTTP_LISTEN_FAILED',
  /** Both `enableTcp` and `enableUtp` are off, or the transport a setting asks for was not given. */
  'SESSION_NO_TRANSPORT',
  /** uTP could not bind the UDP port TCP listens on (in use): the client listens on TCP only. */
  'SESSION_UTP_LISTEN_FAILED',
  /** A peer's BEP 52 `hashes` did not prove against the pieces root or piece hash (a warning). */
  'SESSION_BAD_HASHES',
  /** A v2 torrent's piece layers could not be had: its .torrent lacks them, or none came (stops it). */
  'SESSION_NO_PIECE_LAYERS',
  /** A web seed URL (BEP 19) that is not an absolute http(s) URL (thrown by `addWebSeed`; a warning for a torrent's). */
  'SESSION_BAD_WEB_SEED',
  /** A web seed request failed: network error, connection closed mid-body, aborted (a warning; retried with backoff). */
  'SESSION_WEB_SEED_FAILED',
  /** A web seed answered an HTTP status other than 200/206 (`details.status`; a 503's `retryAfterMs`). */
  'SESSION_WEB_SEED_STATUS',
  /** A web seed's response was not the range asked for (Content-Range, Content-Length, coding, no range support). */
  'SESSION_WEB_SEED_BAD_RESPONSE',
  /** A web seed request redirected too often, or to something that is not http(s). */
  'SESSION_WEB_SEED_REDIRECTS',
  /** A web seed sent no headers, or too few body bytes, within `webSeedTimeoutMs`. */
  'SESSION_WEB_SEED_TIMEOUT',
  /** A web seed sent data that failed the hash check: it is dropped for the torrent's life. */
  'SESSION_WEB_SEED_DROPPED',
  /** Fast-resume data that cannot be used (corrupt, another torrent's, a newer version): a full recheck instead (a warning). */
  'SESSION_BAD_RESUME',
  /** Saving a torrent's resume data under `resumeDir` failed (a warning; the next save tries again). */
  'SESSION_RESUME_SAVE_FAILED',
] as const;

/** A code of {@link SessionError}: one of {@link SESSION_ERROR_CODES}. */
export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];

/** An error of the session: a problem the torrent survives (a `warning`), or one a caller made. */
export class SessionError extends BttkitError {
  declare readonly code: SessionErrorCode;

  constructor(code: SessionErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
