/**
 * Debian's transmission-daemon as a test peer: a child process on 127.0.0.1 with its own config
 * folder in a temporary directory, RPC on a free port, driven over its JSON-RPC (the
 * X-Transmission-Session-Id dance) with `fetch`. DHT, local peer discovery, PEX, port forwarding
 * and the blocklist are off; encryption, uTP and speed limits come from the options.
 *
 * Transmission 3.00's RPC has no call to connect to a given peer (it finds peers through
 * trackers, DHT, PEX and LPD only): in these tests the other side always dials Transmission's
 * `peerPort`, in either direction of the transfer. It has no setting that turns TCP off either
 * (`utp-enabled` only adds uTP): a uTP-only transfer needs the other side to refuse TCP.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, Procs, waitForPort } from './procs.js';
import { INSTALL_HINT, tempDir } from './run.js';
import { waitFor } from './wait.js';

/** Transmission's `encryption` setting: 0 tolerated (prefers plaintext), 1 preferred, 2 required. */
export type TransmissionEncryption = 'tolerated' | 'preferred' | 'required';

const ENCRYPTION_VALUE: Record<TransmissionEncryption, number> = { tolerated: 0, preferred: 1, required: 2 };

export interface TransmissionOptions {
  encryption: TransmissionEncryption;
  /** Transmission's `utp-enabled` (default true, as Transmission's own default). */
  utp?: boolean;
  /** Where added torrents' data lives (the parent folder of the torrent's name). */
  downloadDir: string;
  /** Cap each direction at this many kB/s (Transmission's unit: 1,000 bytes/s); none by default. */
  speedLimitKBps?: number;
}

/** One of Transmission's peers as `torrent-get` reports it. */
export interface TransmissionPeer {
  address: string;
  port: number;
  clientName: string;
  isEncrypted: boolean;
  isUTP: boolean;
  isIncoming: boolean;
  flagStr: string;
  rateToClient: number;
  rateToPeer: number;
}

export interface TransmissionTorrent {
  id: number;
  hashString: string;
  percentDone: number;
  leftUntilDone: number;
  status: number;
  error: number;
  errorString: string;
  downloadedEver: number;
  uploadedEver: number;
  peers: TransmissionPeer[];
}

export interface Transmission {
  /** The BitTorrent port (TCP and uTP) on 127.0.0.1. */
  readonly peerPort: number;
  readonly rpcPort: number;
  /** One JSON-RPC call; rejects when `result` is not "success". */
  rpc<T = Record<string, unknown>>(method: string, args?: Record<string, unknown>): Promise<T>;
  /** Adds a torrent (its .torrent bytes), started at once; resolves with its id. */
  add(torrent: Uint8Array): Promise<number>;
  /** The torrent's state, with its peers. */
  torrent(id: number): Promise<TransmissionTorrent>;
  /** Stops the daemon (SIGTERM, then SIGKILL) and removes its config folder. */
  stop(): Promise<void>;
}

const TORRENT_FIELDS = [
  'id',
  'hashString',
  'percentDone',
  'leftUntilDone',
  'status',
  'error',
  'errorString',
  'downloadedEver',
  'uploadedEver',
  'peers',
];

/** Starts transmission-daemon in the foreground as a child; resolves once its RPC answers. */
export async function startTransmission(options: TransmissionOptions): Promise<Transmission> {
  const tmp = tempDir('bttkit-transmission-');
  const config = join(tmp.path, 'config');
  mkdirSync(config);
  const peerPort = await freePort();
  const rpcPort = await freePort();
  const limit = options.speedLimitKBps;
  const settings = {
    'bind-address-ipv4': '127.0.0.1',
    'bind-address-ipv6': '::1',
    'blocklist-enabled': false,
    'cache-size-mb': 4,
    'dht-enabled': false,
    'download-dir': options.downloadDir,
    encryption: ENCRYPTION_VALUE[options.encryption],
    'idle-seeding-limit-enabled': false,
    'incomplete-dir-enabled': false,
    'lpd-enabled': false,
    'message-level': 2,
    'peer-limit-global': 50,
    'peer-limit-per-torrent': 50,
    'peer-port': peerPort,
    'peer-port-random-on-start': false,
    'pex-enabled': false,
    'port-forwarding-enabled': false,
    'ratio-limit-enabled': false,
    'rename-partial-files': false,
    'rpc-authentication-required': false,
    'rpc-bind-address': '127.0.0.1',
    'rpc-enabled': true,
    'rpc-host-whitelist-enabled': false,
    'rpc-port': rpcPort,
    'rpc-whitelist': '127.0.0.1',
    'rpc-whitelist-enabled': true,
    'scrape-paused-torrents-enabled': false,
    'script-torrent-done-enabled': false,
    'speed-limit-down': limit ?? 0,
    'speed-limit-down-enabled': limit !== undefined,
    'speed-limit-up': limit ?? 0,
    'speed-limit-up-enabled': limit !== undefined,
    'alt-speed-enabled': false,
    'start-added-torrents': true,
    'trash-original-torrent-files': false,
    'utp-enabled': options.utp ?? true,
    'watch-dir-enabled': false,
  };
  writeFileSync(join(config, 'settings.json'), JSON.stringify(settings, null, 2));

  const procs = new Procs();
  const child = procs.start('transmission-daemon', ['--foreground', '--config-dir', config, '--log-error']);
  const stderr = () => (child as typeof child & { stderrText?: () => string }).stderrText?.() ?? '';
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) =>
      reject(new Error(`transmission-daemon could not start (${e.message}): ${INSTALL_HINT}`)),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`transmission-daemon exited (${code ?? signal})\n${stderr()}`)),
    );
  });
  failed.catch(() => {}); // after a start, the kill in stop() is expected
  child.stdout?.resume();

  const url = `http://127.0.0.1:${rpcPort}/transmission/rpc`;
  let sessionId = '';
  async function rpc<T>(method: string, args: Record<string, unknown> = {}): Promise<T> {
    const body = JSON.stringify({ method, arguments: args });
    // The first call (and any after the daemon renews it) gets 409 with the session id to send.
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': sessionId, 'Content-Type': 'application/json' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 409) {
        sessionId = res.headers.get('X-Transmission-Session-Id') ?? '';
        await res.body?.cancel();
        continue;
      }
      if (!res.ok) throw new Error(`transmission RPC ${method}: HTTP ${res.status}`);
      const json = (await res.json()) as { result: string; arguments?: T };
      if (json.result !== 'success') throw new Error(`transmission RPC ${method}: ${json.result}`);
      return (json.arguments ?? {}) as T;
    }
    throw new Error(`transmission RPC ${method}: no session id after 3 attempts`);
  }

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await waitFor(exited, 5_000, 'transmission-daemon to exit').catch(() => procs.killAll());
    }
    tmp.cleanup();
  }

  try {
    await Promise.race([waitForPort(rpcPort, 15_000), failed]);
    const session = await Promise.race([rpc<Record<string, unknown>>('session-get'), failed]);
    // Transmission keeps what it could not apply silently: check what matters here.
    if (session.encryption !== options.encryption || session['utp-enabled'] !== settings['utp-enabled']) {
      throw new Error(
        `transmission-daemon runs with encryption=${String(session.encryption)}, utp-enabled=${String(session['utp-enabled'])}`,
      );
    }
    await Promise.race([waitForPort(peerPort, 10_000), failed]);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    peerPort,
    rpcPort,
    rpc,
    async add(torrent) {
      const r = await rpc<{ 'torrent-added'?: { id: number }; 'torrent-duplicate'?: { id: number } }>(
        'torrent-add',
        {
          metainfo: Buffer.from(torrent).toString('base64'),
          'download-dir': options.downloadDir,
          paused: false,
        },
      );
      const t = r['torrent-added'] ?? r['torrent-duplicate'];
      if (!t) throw new Error('transmission RPC torrent-add: no torrent in the answer');
      return t.id;
    },
    async torrent(id) {
      const r = await rpc<{ torrents: TransmissionTorrent[] }>('torrent-get', {
        ids: [id],
        fields: TORRENT_FIELDS,
      });
      const t = r.torrents[0];
      if (!t) throw new Error(`transmission has no torrent ${id}`);
      return t;
    },
    stop,
  };
}
