import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { MAINLINE_ROUTERS } from '../dht/routers.js';
import { parseMagnet, parsePeerAddress } from '../metainfo/magnet.js';
import { Client } from '../session/client.js';
import type { TorrentServer } from '../session/http-server.js';
import { isPlayable } from '../session/mime.js';
import type { Torrent } from '../session/torrent.js';
import { formatBytes } from './format.js';
import { readTorrentFile } from './info.js';
import { reportPortMapping } from './portmap.js';
import type { LinkOptions } from './transfer.js';
import { statusLine, type TransferIo } from './transfer.js';

/** The players `--play` knows, by the name given on the command line. */
export const PLAYERS = ['mpv', 'vlc'] as const;
/** One of {@link PLAYERS}. */
export type Player = (typeof PLAYERS)[number];

/** Options of `bttkit serve`. */
export interface ServeOptions {
  output: string;
  peers: string[];
  /** `--port`: the BitTorrent port (default any). */
  port?: number;
  /** `--http-port`: the HTTP port (default any). */
  httpPort?: number;
  /** `--http-host`: the HTTP address (default 127.0.0.1). */
  httpHost?: string;
  trackers: string[];
  dht: boolean;
  dhtBootstrap: string[];
  /** `--encryption`, `--no-utp`, `--no-tcp`. */
  links?: LinkOptions;
}

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Starts `player` (mpv or vlc) on `url`, when its program is on PATH. Resolves `undefined`
 * (nothing started) otherwise, after `say` printed what to do instead.
 */
export function playWith(player: Player, url: string, say: (line: string) => void): ChildProcess | undefined {
  const bin = onPath(player);
  if (bin === undefined) {
    say(`${player} is not installed (not on PATH): open ${url} in a player or a browser`);
    return undefined;
  }
  const args = player === 'mpv' ? ['--force-window=immediate', url] : [url];
  const child = spawn(bin, args, { stdio: 'ignore' });
  child.on('error', (err) => say(`${player} could not start: ${err.message}; open ${url} yourself`));
  say(`playing ${url} in ${player}`);
  return child;
}

/** The file `--play` opens: the largest audio or video file. */
export function playableFile(torrent: Torrent): Torrent['files'][number] | undefined {
  let best: Torrent['files'][number] | undefined;
  for (const f of torrent.files)
    if (!f.padding && isPlayable(f.name) && (best === undefined || f.length > best.length)) best = f;
  return best;
}

/** A running `--play`: the HTTP server and, once started, the player. */
export interface Playback {
  /** Resolves when the player exits (never, if it did not start). */
  readonly exited: Promise<void>;
  /** Closes the server (and leaves the player alone). */
  close(): Promise<void>;
}

/**
 * `--play`: serves the torrent on 127.0.0.1 (any port) and, once its files are known, hands the
 * URL of the largest audio or video file to `player`. Messages go to `say`.
 */
export function startPlayback(torrent: Torrent, player: Player, say: (line: string) => void): Playback {
  const server = torrent.createServer();
  let exitedResolve: () => void = () => {};
  const exited = new Promise<void>((r) => {
    exitedResolve = r;
  });
  let closed = false;
  const begin = async () => {
    const { url } = await server.listen();
    if (torrent.files.length === 0) await new Promise<void>((r) => torrent.once('ready', r));
    if (closed) return;
    const f = playableFile(torrent);
    if (!f) {
      say(`no audio or video file in the torrent; its files are listed at ${url}`);
      return;
    }
    const child = playWith(player, `${url}${f.index}`, say);
    child?.once('exit', () => exitedResolve());
    child?.once('error', () => exitedResolve());
  };
  begin().catch((err: unknown) => say(`--play: ${err instanceof Error ? err.message : String(err)}`));
  return {
    exited,
    close: () => {
      closed = true;
      return server.close();
    },
  };
}

function clientFor(o: ServeOptions): Client {
  const settings = { ...o.links };
  if (!o.dht) return new Client({ settings });
  return new Client({
    settings,
    dht: { bootstrap: o.dhtBootstrap.length > 0 ? o.dhtBootstrap : MAINLINE_ROUTERS },
  });
}

/**
 * `bttkit serve`: downloads into `-o` and serves the torrent's files over HTTP meanwhile. Prints
 * the server's URL first (one line), then one line per file once known; runs until SIGINT or
 * SIGTERM (or a fatal error of the torrent). Resolves with the exit code.
 */
export async function serveCommand(input: string, o: ServeOptions, io: TransferIo): Promise<number> {
  let source: string | Uint8Array;
  if (/^magnet:/i.test(input)) {
    parseMagnet(input);
    source = input;
  } else {
    source = await readTorrentFile(input);
  }
  const peers = o.peers.map(parsePeerAddress);
  const client = clientFor(o);
  let server: TorrentServer | undefined;
  try {
    await client.listen(o.port ?? 0);
    reportPortMapping(client, false, io);
    const torrent = client.add(source, { path: resolve(o.output), peers, trackers: o.trackers });
    server = torrent.createServer({
      ...(o.httpPort !== undefined ? { port: o.httpPort } : {}),
      ...(o.httpHost !== undefined ? { host: o.httpHost } : {}),
    });
    const { url } = await server.listen();
    io.out(url);
    const listFiles = () => {
      for (const f of torrent.files)
        if (!f.padding) io.out(`  ${url}${f.index}  ${f.path} (${formatBytes(f.length)})`);
    };
    if (torrent.files.length > 0) listFiles();
    else torrent.once('ready', listFiles);
    torrent.once('done', () => {
      io.status(undefined);
      io.out(`download complete: ${torrent.name ?? torrent.infoHashHex}; still serving`);
    });
    const timer = setInterval(() => io.status(statusLine(torrent)), 1000);
    timer.unref();
    const failed = new Promise<Error>((r) => torrent.once('error', r));
    const outcome = await Promise.race([io.stopSignal, failed]).finally(() => clearInterval(timer));
    io.status(undefined);
    if (outcome instanceof Error) throw outcome;
    io.out(`stopped (${outcome})`);
    return 0;
  } finally {
    await server?.close();
    await client.destroy();
  }
}
