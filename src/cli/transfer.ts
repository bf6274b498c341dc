import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { MAINLINE_ROUTERS } from '../dht/routers.js';
import { type PeerAddress, parseMagnet, parsePeerAddress } from '../metainfo/magnet.js';
import { parseTorrent } from '../metainfo/torrent.js';
import { Client } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';
import { readTorrentFile } from './info.js';

export interface TransferIo {
  out: (line: string) => void;
  /** Progress line for a TTY (`undefined` clears it); a no-op elsewhere. */
  status: (text: string | undefined) => void;
  /** Resolves when the process is asked to stop (SIGINT / SIGTERM). */
  stopSignal: Promise<string>;
}

function bar(fraction: number, width = 24): string {
  const full = Math.round(fraction * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

export function statusLine(t: Torrent): string {
  const s = t.stats();
  if (s.state === 'metadata') return `fetching metadata… ${s.peers} peers`;
  if (s.state === 'checking') return 'checking existing data…';
  return `${bar(s.progress)} ${(s.progress * 100).toFixed(1).padStart(5)}%  ↓ ${formatBytes(s.downloadRate)}/s  ↑ ${formatBytes(s.uploadRate)}/s  ${s.peers} peers  ETA ${eta(s.eta)}`;
}

function peers(list: readonly string[]): PeerAddress[] {
  return list.map(parsePeerAddress);
}

/** Discovery flags shared by download and seed. */
export interface DiscoveryOptions {
  /** Use the mainline DHT (`--dht`, default) or not (`--no-dht`). */
  dht: boolean;
  /** `--dht-bootstrap host:port`: replaces the public routers. */
  dhtBootstrap: string[];
  /** `--tracker URL`: more trackers (each its own tier) after the torrent's own. */
  trackers: string[];
}

export interface DownloadOptions extends DiscoveryOptions {
  output: string;
  peers: string[];
  port?: number;
  json: boolean;
}

function clientFor(o: DiscoveryOptions): Client {
  if (!o.dht) return new Client();
  return new Client({ dht: { bootstrap: o.dhtBootstrap.length > 0 ? o.dhtBootstrap : MAINLINE_ROUTERS } });
}

/** `bttkit download`: resolves with the exit code. */
export async function downloadCommand(input: string, o: DownloadOptions, io: TransferIo): Promise<number> {
  let source: string | Uint8Array;
  if (/^magnet:/i.test(input)) {
    parseMagnet(input); // a malformed magnet fails here, with its own error code
    source = input;
  } else {
    source = await readTorrentFile(input);
  }
  const client = clientFor(o);
  const started = performance.now();
  try {
    await client.listen(o.port ?? 0);
    const torrent = client.add(source, {
      path: resolve(o.output),
      peers: peers(o.peers),
      trackers: o.trackers,
    });
    const timer = setInterval(() => io.status(statusLine(torrent)), 500);
    timer.unref();
    const outcome = await Promise.race([
      new Promise<'done'>((r) => {
        if (torrent.done) r('done');
        torrent.once('done', () => r('done'));
      }),
      new Promise<Error>((r) => torrent.once('error', r)),
      io.stopSignal,
    ]);
    clearInterval(timer);
    io.status(undefined);
    if (outcome instanceof Error) throw outcome;
    const s = torrent.stats();
    const seconds = (performance.now() - started) / 1000;
    if (outcome !== 'done') {
      if (!o.json) io.out(`stopped (${outcome}) at ${(s.progress * 100).toFixed(1)}%`);
      else
        io.out(
          JSON.stringify({
            infoHash: s.infoHash,
            complete: false,
            bytes: s.verified,
            seconds,
            peers: s.peersSeen,
          }),
        );
      return 130;
    }
    await torrent.store?.flush();
    const peersSeen = s.peersSeen;
    if (o.json) {
      io.out(
        JSON.stringify({
          infoHash: s.infoHash,
          name: s.name ?? null,
          complete: true,
          bytes: s.length ?? s.verified,
          seconds,
          peers: peersSeen,
        }),
      );
    } else {
      io.out(
        `done: ${s.name} — ${formatBytes(s.length ?? 0)} in ${seconds.toFixed(1)} s (${formatBytes((s.length ?? 0) / seconds)}/s)`,
      );
    }
    return 0;
  } finally {
    await client.destroy();
  }
}

export interface SeedOptions extends DiscoveryOptions {
  peers: string[];
  port?: number;
  json: boolean;
}

/** `bttkit seed`: seeds until interrupted; resolves with the exit code. */
export async function seedCommand(
  torrentPath: string,
  dataPath: string,
  o: SeedOptions,
  io: TransferIo,
): Promise<number> {
  const meta = parseTorrent(await readTorrentFile(torrentPath));
  // `dataPath` is either the content itself (named like the torrent) or the folder holding it.
  const abs = resolve(dataPath);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new CliError('CLI_NO_DATA', `${dataPath} does not exist`);
  const named = basename(abs) === meta.name && (meta.multiFile ? st.isDirectory() : st.isFile());
  if (!named && !st.isDirectory()) {
    throw new CliError(
      'CLI_NO_DATA',
      `${dataPath} is a file, but the torrent's content is named ${meta.name}`,
    );
  }
  const folder = named ? dirname(abs) : abs;
  const client = clientFor(o);
  try {
    const addr = await client.listen(o.port ?? 0);
    const torrent = client.add(meta, { path: folder, peers: peers(o.peers), trackers: o.trackers });
    // A fatal error of the torrent (its store failed) ends the command, before or after `ready`.
    const failed = new Promise<never>((_, rej) => torrent.once('error', rej));
    failed.catch(() => {}); // observed below; never an unhandled rejection
    await Promise.race([new Promise<void>((res) => torrent.once('ready', res)), failed]);
    if (!torrent.done) {
      const s = torrent.stats();
      throw new CliError(
        'CLI_INCOMPLETE_DATA',
        `the data in ${folder} does not match the torrent (${(s.progress * 100).toFixed(1)}% verified)`,
      );
    }
    if (o.json) io.out(JSON.stringify({ infoHash: meta.infoHash, seeding: true, port: addr.port }));
    else io.out(`seeding ${meta.name} (${meta.infoHash}) on port ${addr.port}`);
    const timer = setInterval(() => io.status(statusLine(torrent)), 1000);
    timer.unref();
    const why = await Promise.race([io.stopSignal, failed]).finally(() => clearInterval(timer));
    io.status(undefined);
    const s = torrent.stats();
    if (o.json) io.out(JSON.stringify({ infoHash: meta.infoHash, stopped: why, uploaded: s.uploaded }));
    else io.out(`stopped (${why}); uploaded ${formatBytes(s.uploaded)}`);
    return 0;
  } finally {
    await client.destroy();
  }
}
