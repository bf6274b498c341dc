import { stat, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { MAINLINE_ROUTERS } from '../dht/routers.js';
import { type PeerAddress, parseMagnet, parsePeerAddress } from '../metainfo/magnet.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { parseTorrent } from '../metainfo/torrent.js';
import type { Priority } from '../picker/picker.js';
import { Client } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import type { Endpoint } from '../util/transport.js';
import type { EncryptionPolicy } from '../wire/mse/index.js';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';
import { readTorrentFile } from './info.js';
import { reportPortMapping } from './portmap.js';
import { type ProgressMode, showProgress } from './progress.js';
import { selectedBytes, selectPriorities } from './select.js';
import type { Playback, Player } from './serve.js';

export { statusLine } from './progress.js';

export interface TransferIo {
  out: (line: string) => void;
  /** Progress line for a TTY (`undefined` clears it); a no-op elsewhere. */
  status: (text: string | undefined) => void;
  /** A warning line (stderr). */
  warn: (line: string) => void;
  /** Resolves when the process is asked to stop (SIGINT / SIGTERM). */
  stopSignal: Promise<string>;
  /** How progress is shown (see {@link ProgressMode}). */
  progress: ProgressMode;
  /** Interval of the progress lines, ms (default per mode). */
  progressIntervalMs?: number;
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
  /** `--download-limit`: bytes/s of payload (0 or absent: none). */
  downloadLimit?: number;
  /** `--upload-limit`: bytes/s of payload (0 or absent: none). */
  uploadLimit?: number;
  /** `--encryption`, `--no-utp`, `--no-tcp`, `--no-lsd`: the client's transport, encryption and LAN settings. */
  links?: LinkOptions;
  /** `--resume-dir DIR`: the client's `resumeDir` (fast resume). */
  resumeDir?: string;
}

/** The transport and encryption flags (`--encryption forced|enabled|disabled`, `--no-utp`, `--no-tcp`). */
export interface LinkOptions {
  encryption?: EncryptionPolicy;
  enableUtp?: boolean;
  enableTcp?: boolean;
  /** `--no-port-mapping` (false); `--port-mapping-lease S`. */
  portMapping?: boolean;
  portMappingLease?: number;
  /** `--no-lsd`: no local service discovery (BEP 14). */
  lsd?: boolean;
  /** `--no-holepunch`: `holepunch: false`. */
  holepunch?: boolean;
}

export interface DownloadOptions extends DiscoveryOptions {
  output: string;
  peers: string[];
  port?: number;
  json: boolean;
  /** `--select`: file indexes / globs (see `selectPriorities`). */
  select?: string[];
  /** `--keep-seeding`: seed after the download until interrupted. */
  keepSeeding?: boolean;
  /** `--timeout`: give up after this many seconds without a payload byte (ms). */
  timeoutMs?: number;
  /** Warn after this long without any connected peer (ms). Default 15 s (or half the timeout). */
  warnAfterMs?: number;
  /** `--web-seed URL`: more BEP 19 web seeds, after the torrent's `url-list` (or the magnet's `ws=`). */
  webSeeds?: string[];
  /** `--play mpv|vlc`: serve the torrent over HTTP and hand the largest playable file to the player. */
  play?: Player;
}

function clientFor(o: DiscoveryOptions): Client {
  const settings = {
    downloadRateLimit: o.downloadLimit ?? 0,
    uploadRateLimit: o.uploadLimit ?? 0,
    ...o.links,
  };
  const resume = o.resumeDir !== undefined ? { resumeDir: o.resumeDir } : {};
  if (!o.dht) return new Client({ settings, ...resume });
  return new Client({
    settings,
    ...resume,
    dht: { bootstrap: o.dhtBootstrap.length > 0 ? o.dhtBootstrap : MAINLINE_ROUTERS },
  });
}

/** `client.listen`, with a port taken by another program said plainly. */
async function listen(client: Client, port: number | undefined): Promise<Endpoint> {
  try {
    return await client.listen(port ?? 0);
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (cause?.code === 'EADDRINUSE')
      throw new CliError(
        'CLI_PORT_IN_USE',
        `port ${port} is already in use by another program: choose another with --port (0: any free port)`,
        { cause: err, details: { port: port ?? 0 } },
      );
    throw err;
  }
}

/** Waits for the download to end; watches peers (warning) and the payload (timeout). */
function watch(torrent: Torrent, o: DownloadOptions, io: TransferIo): Promise<'done' | string | Error> {
  const timeoutMs = o.timeoutMs;
  const warnAfter = o.warnAfterMs ?? Math.min(15_000, timeoutMs !== undefined ? timeoutMs / 2 : 15_000);
  let lastBytes = 0;
  let lastByteAt = performance.now();
  let peerSeenAt = performance.now();
  let warned = false;
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<Error>((r) => {
    timer = setInterval(() => {
      const now = performance.now();
      const s = torrent.stats();
      if (s.peers > 0 || torrent.webSeeds.some((w) => w.state === 'active')) peerSeenAt = now;
      if (s.downloaded !== lastBytes || s.state === 'checking') {
        lastBytes = s.downloaded;
        lastByteAt = now;
      }
      if (!warned && now - peerSeenAt >= warnAfter) {
        warned = true;
        io.warn(
          `bttkit: warning: no peer has answered for ${Math.round((now - peerSeenAt) / 1000)} s (${s.peersSeen} seen so far); add one with --peer host:port, a --tracker, or check the DHT`,
        );
      }
      if (timeoutMs !== undefined && now - lastByteAt >= timeoutMs)
        r(
          new CliError(
            'CLI_TIMEOUT',
            `no data for ${Math.round(timeoutMs / 1000)} s (--timeout): ${(s.progress * 100).toFixed(1)}% done, ${s.peers} peers connected, ${s.peersSeen} seen`,
          ),
        );
    }, 250);
    timer.unref();
  });
  return Promise.race([
    new Promise<'done'>((r) => {
      if (torrent.done) r('done');
      torrent.once('done', () => r('done'));
    }),
    new Promise<Error>((r) => torrent.once('error', r)),
    stalled,
    io.stopSignal,
  ]).finally(() => clearInterval(timer));
}

/** `bttkit download`: resolves with the exit code. */
export async function downloadCommand(input: string, o: DownloadOptions, io: TransferIo): Promise<number> {
  let source: string | Uint8Array;
  let info: InfoDictionary | undefined;
  if (/^magnet:/i.test(input)) {
    parseMagnet(input); // a malformed magnet fails here, with its own error code
    source = input;
  } else {
    source = await readTorrentFile(input);
    info = parseTorrent(source);
  }
  const select = o.select ?? [];
  let priorities: Priority[] | undefined =
    info && select.length > 0 ? selectPriorities(info, select) : undefined;
  const client = clientFor(o);
  const started = performance.now();
  let playback: Playback | undefined;
  try {
    await listen(client, o.port);
    reportPortMapping(client, o.json, io);
    const torrent = client.add(source, {
      path: resolve(o.output),
      peers: peers(o.peers),
      trackers: o.trackers,
      ...(priorities ? { filePriorities: priorities } : {}),
      ...(o.webSeeds?.length ? { webSeeds: o.webSeeds } : {}),
    });
    torrent.on('warning', (w) => {
      if (w.code === 'SESSION_WEB_SEED_DROPPED') io.warn(`bttkit: warning: ${w.message}`);
    });
    playback = o.play ? (await import('./serve.js')).startPlayback(torrent, o.play, io.out) : undefined;
    let badSelect: ((e: Error) => void) | undefined;
    const selectFailed = new Promise<Error>((r) => {
      badSelect = r;
    });
    if (!priorities && select.length > 0)
      torrent.once('metadata', (meta) => {
        try {
          priorities = selectPriorities(meta, select);
          void torrent.setFilePriorities(priorities);
        } catch (err) {
          badSelect?.(err as Error);
        }
      });
    const stop = showProgress(torrent, io.progress, io, io.progressIntervalMs);
    const outcome = await Promise.race([watch(torrent, o, io), selectFailed]).finally(stop);
    if (outcome instanceof Error) throw outcome;
    const s = torrent.stats();
    const seconds = (performance.now() - started) / 1000;
    // Payload received in this run: a resumed download fetches only what was missing.
    const fetched = s.downloaded;
    if (outcome !== 'done') {
      if (!o.json) io.out(`stopped (${outcome}) at ${(s.progress * 100).toFixed(1)}%`);
      else
        io.out(
          JSON.stringify({
            infoHash: s.infoHash,
            complete: false,
            bytes: s.verified,
            downloaded: fetched,
            wasted: s.wasted,
            seconds,
            peers: s.peersSeen,
          }),
        );
      return 130;
    }
    await torrent.store?.flush();
    const meta = torrent.info;
    const bytes = meta && priorities ? selectedBytes(meta, priorities) : (s.length ?? s.verified);
    const speed = fetched / seconds;
    if (o.json) {
      io.out(
        JSON.stringify({
          infoHash: s.infoHash,
          name: s.name ?? null,
          complete: true,
          bytes,
          downloaded: fetched,
          wasted: s.wasted,
          seconds,
          speed,
          peers: s.peersSeen,
        }),
      );
    } else {
      const resumed =
        fetched < bytes ? `, ${formatBytes(bytes - Math.min(bytes, fetched))} already there` : '';
      io.out(
        `done: ${s.name} — ${formatBytes(bytes)} (${formatBytes(fetched)} fetched in ${seconds.toFixed(1)} s, ${formatBytes(speed)}/s${resumed})`,
      );
    }
    // With a player: serve until it exits (or Ctrl-C), then stop.
    if (playback) await Promise.race([playback.exited, io.stopSignal]);
    if (o.keepSeeding) return await keepSeeding(torrent, o, io);
    return 0;
  } finally {
    await playback?.close();
    await client.destroy();
  }
}

/** `--keep-seeding`: seeds what was downloaded until SIGINT / SIGTERM. */
async function keepSeeding(torrent: Torrent, o: { json: boolean }, io: TransferIo): Promise<number> {
  const failed = new Promise<Error>((r) => torrent.once('error', r));
  if (o.json) io.out(JSON.stringify({ infoHash: torrent.infoHashHex, seeding: true }));
  else io.out(`seeding ${torrent.name} until interrupted (Ctrl-C)`);
  const stop = showProgress(torrent, io.progress, io, io.progressIntervalMs);
  const why = await Promise.race([io.stopSignal, failed]).finally(stop);
  if (why instanceof Error) throw why;
  const s = torrent.stats();
  if (o.json) io.out(JSON.stringify({ infoHash: s.infoHash, stopped: why, uploaded: s.uploaded }));
  else io.out(`stopped (${why}); uploaded ${formatBytes(s.uploaded)}`);
  return 0;
}

export interface SeedOptions extends DiscoveryOptions {
  peers: string[];
  port?: number;
  json: boolean;
  /** `seed <path>` only: where to write the .torrent made (`-o`). */
  output?: string;
  /** `seed <path>` only: `--piece-length`, `--private`, `--comment`. */
  pieceLength?: number;
  private?: boolean;
  comment?: string;
  /** `seed <path>` only: `--v2` (2) or `--hybrid` (BEP 52). */
  version?: 2 | 'hybrid';
}

/**
 * `bttkit seed`: seeds until interrupted; resolves with the exit code. With a .torrent, `dataPath`
 * holds its content; without (`torrentPath` undefined), a torrent is made from `dataPath` (the
 * `--tracker`s written into it), its magnet printed and, with `-o`, the .torrent written.
 */
export async function seedCommand(
  torrentPath: string | undefined,
  dataPath: string,
  o: SeedOptions,
  io: TransferIo,
): Promise<number> {
  const client = clientFor(o);
  try {
    const addr = await listen(client, o.port);
    reportPortMapping(client, o.json, io);
    let torrent: Torrent;
    if (torrentPath === undefined) {
      torrent = await client.seed(dataPath, {
        announce: o.trackers,
        peers: peers(o.peers),
        ...(o.pieceLength !== undefined ? { pieceLength: o.pieceLength } : {}),
        ...(o.private ? { private: true } : {}),
        ...(o.comment !== undefined ? { comment: o.comment } : {}),
        ...(o.version !== undefined ? { version: o.version } : {}),
      });
      if (o.output !== undefined) await writeFile(resolve(o.output), torrent.torrentFile ?? new Uint8Array());
    } else {
      torrent = await seedExisting(client, torrentPath, dataPath, o);
    }
    const ih = torrent.infoHashHex;
    const magnet = torrent.magnetURI;
    if (o.json)
      io.out(
        JSON.stringify({
          infoHash: ih,
          seeding: true,
          port: addr.port,
          magnet,
          ...(o.output !== undefined && torrentPath === undefined ? { torrent: resolve(o.output) } : {}),
        }),
      );
    else {
      io.out(`seeding ${torrent.name} (${ih}) on port ${addr.port}`);
      io.out(magnet);
    }
    const failed = new Promise<Error>((r) => torrent.once('error', r));
    const stop = showProgress(torrent, io.progress, io, io.progressIntervalMs);
    const why = await Promise.race([io.stopSignal, failed]).finally(stop);
    if (why instanceof Error) throw why;
    const s = torrent.stats();
    if (o.json) io.out(JSON.stringify({ infoHash: ih, stopped: why, uploaded: s.uploaded }));
    else io.out(`stopped (${why}); uploaded ${formatBytes(s.uploaded)}`);
    return 0;
  } finally {
    await client.destroy();
  }
}

async function seedExisting(
  client: Client,
  torrentPath: string,
  dataPath: string,
  o: SeedOptions,
): Promise<Torrent> {
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
  return torrent;
}
