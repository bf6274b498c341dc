import type { Torrent } from '../session/torrent.js';
import { formatBytes } from './format.js';

/**
 * How progress is shown: `tty` a bar redrawn on stderr; `json` one JSON line on stdout per
 * interval (`{"event":"progress",…}`); `plain` one text line on stdout per interval (a log file,
 * a pipe, a service manager).
 */
export type ProgressMode = 'tty' | 'json' | 'plain';

/** Default interval of `json` lines and `plain` lines, ms. */
export const PROGRESS_INTERVAL_MS: Record<ProgressMode, number> = { tty: 500, json: 1000, plain: 5000 };

export interface ProgressIo {
  out: (line: string) => void;
  /** The TTY status line (`undefined` clears it). */
  status: (text: string | undefined) => void;
}

function bar(fraction: number, width = 24): string {
  const full = Math.round(fraction * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

export function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

function numbers(t: Torrent): string {
  const s = t.stats();
  return `${(s.progress * 100).toFixed(1).padStart(5)}%  ↓ ${formatBytes(s.downloadRate)}/s  ↑ ${formatBytes(s.uploadRate)}/s  ${s.peers} peers  ETA ${eta(s.eta)}`;
}

/** The TTY status line. */
export function statusLine(t: Torrent): string {
  const s = t.stats();
  if (s.state === 'metadata') return `fetching metadata… ${s.peers} peers`;
  if (s.state === 'checking') return 'checking existing data…';
  return `${bar(s.progress)} ${numbers(t)}`;
}

/** The `plain` line: no bar, no control characters. */
export function plainLine(t: Torrent): string {
  const s = t.stats();
  if (s.state === 'metadata') return `progress: fetching metadata, ${s.peers} peers`;
  if (s.state === 'checking') return 'progress: checking existing data';
  return `progress: ${s.state} ${numbers(t).replace(/\s+/g, ' ')}`;
}

/** The `json` line. */
export function progressJson(t: Torrent): string {
  const s = t.stats();
  return JSON.stringify({
    event: 'progress',
    infoHash: s.infoHash,
    state: s.state,
    progress: s.progress,
    verified: s.verified,
    downloaded: s.downloaded,
    uploaded: s.uploaded,
    downloadRate: s.downloadRate,
    uploadRate: s.uploadRate,
    peers: s.peers,
    webSeeds: t.webSeeds.filter((w) => w.state === 'active').length,
    eta: Number.isFinite(s.eta) ? s.eta : null,
  });
}

/** Shows progress until the returned function is called (which clears a TTY line). */
export function showProgress(
  t: Torrent,
  mode: ProgressMode,
  io: ProgressIo,
  intervalMs?: number,
): () => void {
  const ms = intervalMs ?? PROGRESS_INTERVAL_MS[mode];
  const timer = setInterval(() => {
    if (mode === 'tty') io.status(statusLine(t));
    else io.out(mode === 'json' ? progressJson(t) : plainLine(t));
  }, ms);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (mode === 'tty') io.status(undefined);
  };
}
