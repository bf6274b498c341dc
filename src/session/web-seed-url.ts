import type { InfoDictionary, TorrentFile } from '../metainfo/torrent.js';
import { SessionError } from './errors.js';

/** Longest web seed URL accepted (as the metainfo parser's bound on `url-list` entries). */
const MAX_URL_LENGTH = 4096;

/**
 * Checks a web seed URL (BEP 19): absolute `http:` or `https:`, at most 4,096 characters, no
 * fragment. Returns it normalised (`new URL(url).href`).
 * @throws {SessionError} `SESSION_BAD_WEB_SEED`
 */
export function checkWebSeedUrl(url: string): string {
  let u: URL | undefined;
  if (typeof url === 'string' && url.length <= MAX_URL_LENGTH) {
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '')
    throw new SessionError('SESSION_BAD_WEB_SEED', 'a web seed is an absolute http(s) URL', {
      details: { url: String(url).slice(0, 200) },
    });
  u.hash = '';
  return u.href;
}

/** Whether {@link checkWebSeedUrl} accepts `url` (a torrent's bad `url-list` entries are skipped). */
export function isWebSeedUrl(url: string): boolean {
  try {
    checkWebSeedUrl(url);
    return true;
  } catch {
    return false;
  }
}

/**
 * The URL of one file of a torrent on a web seed, as BEP 19 lays it out: for a multi-file
 * torrent the seed URL names the folder holding the torrent's folder (`<url>/<name>/<path…>`);
 * for a single-file torrent a URL ending in `/` names the folder holding the file
 * (`<url><name>`), any other URL the file itself. Every path element is percent-encoded; a
 * query string stays at the end.
 */
export function webSeedFileUrl(seed: string, info: InfoDictionary, file: TorrentFile): string {
  const u = new URL(seed);
  const dir = u.pathname.endsWith('/');
  if (info.multiFile) {
    const parts = [info.name, ...file.segments].map(encodeURIComponent);
    u.pathname = `${u.pathname}${dir ? '' : '/'}${parts.join('/')}`;
  } else if (dir) {
    u.pathname = `${u.pathname}${encodeURIComponent(info.name)}`;
  }
  return u.href;
}

/** A stretch of the torrent's byte stream inside one file. */
export interface FileSpan {
  /** Index in `info.files`. */
  readonly file: number;
  /** Offset in the file. */
  readonly offset: number;
  readonly length: number;
  /** A BEP 47 padding file: zeros, never requested. */
  readonly padding: boolean;
}

/** The first file (index) whose bytes end after `pos` (files sorted by offset). */
function fileAt(files: readonly TorrentFile[], pos: number): number {
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const f = files[mid] as TorrentFile;
    if (f.offset + f.length <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The files that hold `length` bytes of the torrent's byte stream from `start`, in order (empty
 * files skipped): one range request per span that is not padding.
 */
export function fileSpans(files: readonly TorrentFile[], start: number, length: number): FileSpan[] {
  const out: FileSpan[] = [];
  const end = start + length;
  let pos = start;
  for (let i = fileAt(files, start); i < files.length && pos < end; i++) {
    const f = files[i] as TorrentFile;
    if (f.length === 0 || f.offset + f.length <= pos) continue;
    const take = Math.min(end, f.offset + f.length) - pos;
    out.push({ file: i, offset: pos - f.offset, length: take, padding: f.padding });
    pos += take;
  }
  return out;
}
