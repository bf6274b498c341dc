import { MetainfoError } from '../util/errors.js';

/** Why a path element was refused. */
export type UnsafePathReason =
  | 'empty'
  | 'dot'
  | 'dot-dot'
  | 'separator'
  | 'nul'
  | 'absolute'
  | 'reserved-name'
  | 'too-deep';

/** Most elements in one file path. Deeper paths are refused. */
export const MAX_PATH_DEPTH = 64;

const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

/**
 * Returns why `element` cannot be used as one element of a file path, or `undefined` if it can.
 * Refused: empty, `.`, `..`, a `/` or `\` separator, NUL, a drive prefix (`C:`), and Windows
 * device names (`CON`, `nul.txt`, `COM1 `…) — so a torrent can never name a file outside its
 * download folder on any platform.
 */
export function unsafePathReason(element: string): UnsafePathReason | undefined {
  if (element.length === 0) return 'empty';
  if (element === '.') return 'dot';
  if (element === '..') return 'dot-dot';
  if (element.includes('\0')) return 'nul';
  if (element.includes('/') || element.includes('\\')) return 'separator';
  if (element.charCodeAt(1) === 0x3a && /^[a-zA-Z]/.test(element)) return 'absolute';
  const dot = element.indexOf('.');
  const stem = dot < 0 ? element : element.slice(0, dot);
  // Device names are at most 7 characters (CONOUT$), plus trailing dots or spaces.
  if (stem.length <= 7 + 8 && RESERVED.test(stem.replace(/[ .]+$/, ''))) return 'reserved-name';
  return undefined;
}

/**
 * Throws `MetainfoError` (`METAINFO_UNSAFE_PATH`) unless every element of `segments` is safe
 * (see {@link unsafePathReason}) and there is at least one.
 */
export function assertSafePath(segments: readonly string[], what: string): void {
  if (segments.length === 0) {
    throw new MetainfoError('METAINFO_UNSAFE_PATH', `${what}: empty path`, { details: { reason: 'empty' } });
  }
  if (segments.length > MAX_PATH_DEPTH) {
    throw new MetainfoError('METAINFO_UNSAFE_PATH', `${what}: path deeper than ${MAX_PATH_DEPTH}`, {
      details: { reason: 'too-deep' },
    });
  }
  for (const s of segments) {
    const reason = unsafePathReason(s);
    if (reason) {
      throw new MetainfoError(
        'METAINFO_UNSAFE_PATH',
        `${what}: unsafe path element ${JSON.stringify(s)} (${reason})`,
        {
          details: { reason },
        },
      );
    }
  }
}
