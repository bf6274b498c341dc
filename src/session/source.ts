import { readFileSync, statSync } from 'node:fs';
import { SessionError } from './errors.js';

/** Largest `.torrent` file `client.add(path)` reads (the same limit as `parseTorrent`). */
export const MAX_TORRENT_FILE_BYTES = 64 * 1024 * 1024;

/** True for a magnet URI (`magnet:?…`, any case). */
export function isMagnetUri(text: string): boolean {
  return /^magnet:/i.test(text);
}

/** True for a bare info-hash: 40 hex digits or 32 base32 characters. */
export function isInfoHashText(text: string): boolean {
  return /^[0-9a-fA-F]{40}$/.test(text) || /^[A-Za-z2-7]{32}$/.test(text);
}

/**
 * Reads a `.torrent` file named by a string given to `client.add()` that is neither a magnet URI
 * nor a bare info-hash. The read is synchronous (so `add()` stays synchronous) and bounded by
 * {@link MAX_TORRENT_FILE_BYTES}.
 * @throws {SessionError} `SESSION_BAD_SOURCE` when the path does not exist, is not a regular file,
 *   cannot be read or is larger than the limit.
 */
export function readTorrentPath(path: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile())
      throw new SessionError('SESSION_BAD_SOURCE', `${path} is not a file (a .torrent file was expected)`, {
        details: { path },
      });
    size = st.size;
  } catch (err) {
    if (err instanceof SessionError) throw err;
    throw new SessionError(
      'SESSION_BAD_SOURCE',
      `${shorten(path)} is neither a magnet URI, an info-hash (40 hex / 32 base32 characters) nor an existing .torrent file`,
      { cause: err, details: { path: shorten(path) } },
    );
  }
  if (size > MAX_TORRENT_FILE_BYTES)
    throw new SessionError(
      'SESSION_BAD_SOURCE',
      `${path} is larger than ${MAX_TORRENT_FILE_BYTES} bytes: not a .torrent file`,
      { details: { path, size } },
    );
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new SessionError('SESSION_BAD_SOURCE', `${path} cannot be read`, { cause: err, details: { path } });
  }
}

/** A string from outside, cut for a message. */
function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
