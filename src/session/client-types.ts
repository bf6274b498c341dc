import type { BttkitError } from '../util/errors.js';
import type { Torrent } from './torrent.js';

/**
 * Events of a `Client`. As in WebTorrent, `torrent` is emitted when a torrent is ready to
 * use (metadata known and the data on disk checked), not when it is added (that is `add`).
 */
export interface ClientEvents {
  /** A torrent was added (`add()` or `seed()`); its metadata may not be known yet. */
  add: [Torrent];
  /** A torrent is ready: metadata known, existing data checked (its own `ready` event). */
  torrent: [Torrent];
  /** A torrent left the client: `remove()`, `torrent.destroy()` or `client.destroy()`. */
  remove: [Torrent];
  /**
   * A torrent stopped on an error (its own `error` event). Such an error is rethrown as an
   * uncaught error only when neither the torrent nor the client listens for `error`.
   */
  error: [BttkitError, Torrent];
  /** Something went wrong that the client survives (uTP could not have the TCP port…). */
  warning: [BttkitError];
}

/** Options of `Client.remove`. */
export interface RemoveOptions {
  /**
   * Also delete the torrent's data: only the files the torrent names, in its store (never a
   * file outside the download folder, never through a symlink), then the folders left empty.
   * For a torrent seeded from a path, that deletes the original files. Default false.
   */
  deleteFiles?: boolean;
}
