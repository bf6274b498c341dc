/**
 * Content types by file extension, for the HTTP server ({@link createTorrentServer}): a small
 * built-in table of what players, browsers and subtitle loaders care about. Anything else is
 * `application/octet-stream`.
 */
const TYPES: Readonly<Record<string, string>> = {
  // video
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  ogv: 'video/ogg',
  mpg: 'video/mpeg',
  mpeg: 'video/mpeg',
  ts: 'video/mp2t',
  m2ts: 'video/mp2t',
  '3gp': 'video/3gpp',
  flv: 'video/x-flv',
  wmv: 'video/x-ms-wmv',
  // audio
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  m4b: 'audio/mp4',
  aac: 'audio/aac',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  flac: 'audio/flac',
  wav: 'audio/wav',
  weba: 'audio/webm',
  wma: 'audio/x-ms-wma',
  // subtitles and text
  srt: 'application/x-subrip',
  vtt: 'text/vtt; charset=utf-8',
  ass: 'text/x-ssa',
  ssa: 'text/x-ssa',
  txt: 'text/plain; charset=utf-8',
  nfo: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  m3u: 'audio/x-mpegurl',
  m3u8: 'application/vnd.apple.mpegurl',
  // images
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  svg: 'image/svg+xml',
  // documents and archives
  pdf: 'application/pdf',
  epub: 'application/epub+zip',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  '7z': 'application/x-7z-compressed',
  rar: 'application/vnd.rar',
  iso: 'application/x-iso9660-image',
  torrent: 'application/x-bittorrent',
};

/** The default: bytes of unknown kind. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * The `Content-Type` for a file name, from its extension (case-insensitive); `application/
 * octet-stream` when the extension is unknown or missing.
 *
 * @example
 * ```ts
 * contentType('Movie.MKV'); // 'video/x-matroska'
 * contentType('README');    // 'application/octet-stream'
 * ```
 */
export function contentType(name: string): string {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || dot === name.length - 1) return DEFAULT_CONTENT_TYPE;
  const ext = name.slice(dot + 1).toLowerCase();
  return Object.hasOwn(TYPES, ext) ? (TYPES[ext] as string) : DEFAULT_CONTENT_TYPE;
}

/** True for audio and video types (what `--play` looks for). */
export function isPlayable(name: string): boolean {
  const t = contentType(name);
  return t.startsWith('video/') || t.startsWith('audio/');
}
