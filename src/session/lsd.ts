import type { LsdInterfaces, LsdService, LsdServiceOptions } from '../net/index.js';
import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import type { TorrentCore, TorrentFeature, TorrentFeatureFactory } from './torrent-types.js';

/** A loopback listen address (127/8, ::1, ::ffff:127.x, localhost): no LAN there. */
function onLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\./.test(h);
}

/**
 * `BTTKIT_LOCAL_NETWORK=off` in the environment: no feature that talks to the LAN — the switch
 * for sandboxes and test suites that must never multicast on the host's network.
 */
function localNetworkOff(): boolean {
  return process.env.BTTKIT_LOCAL_NETWORK?.trim().toLowerCase() === 'off';
}

/** What {@link ClientLsd} needs from its client. */
export interface ClientLsdHost {
  readonly clock: Clock;
  readonly random?: () => number;
  warn(err: BttkitError): void;
}

/** Test seams of {@link ClientLsd}: the service's options, the interfaces of a listen address. */
export interface ClientLsdOptions {
  service?: Partial<Omit<LsdServiceOptions, 'port' | 'interfaces'>>;
  interfaces?: (host: string) => LsdInterfaces;
}

/**
 * Local service discovery (BEP 14) for a client's torrents: one {@link LsdService} started once
 * the client listens — never on a loopback address, where there is no LAN — and a torrent
 * feature that announces each torrent while it runs (after its data is checked, or at once for a
 * magnet, which needs peers for its metadata), never a private one (BEP 27), and hands the peers
 * heard on the LAN to the torrent.
 */
export class ClientLsd {
  readonly #host: ClientLsdHost;
  readonly #options: ClientLsdOptions;
  /** Info-hash (hex, v1 and a hybrid's truncated v2) → the torrent it names. */
  readonly #torrents = new Map<string, TorrentCore>();
  #service: LsdService | undefined;
  #closed = false;

  constructor(host: ClientLsdHost, options: ClientLsdOptions = {}) {
    this.#host = host;
    this.#options = options;
  }

  /** The running service (undefined before `start`, on loopback, or when it could not start). */
  get service(): LsdService | undefined {
    return this.#service;
  }

  /**
   * Starts once the client listens on `host:port`. Nothing on a loopback address or a host name,
   * nor with `BTTKIT_LOCAL_NETWORK=off` in the environment. Never throws: failures are warnings
   * (`NET_LSD_SOCKET`).
   */
  async start(host: string, port: number): Promise<void> {
    if (this.#service || this.#closed || onLoopback(host) || localNetworkOff()) return;
    // Loaded on demand: the net module and its sockets cost nothing when LSD never runs.
    const net = await import('../net/index.js');
    if (this.#closed || this.#service) return;
    const interfaces = (this.#options.interfaces ?? net.lsdInterfacesFor)(host);
    if (interfaces.v4.length + interfaces.v6.length === 0) return;
    const random = this.#host.random;
    const service = new net.LsdService({
      port,
      interfaces,
      clock: this.#host.clock,
      ...(random ? { random } : {}),
      ...this.#options.service,
    });
    this.#service = service;
    service.on('warning', (err) => this.#host.warn(err));
    service.on('peer', (p) => {
      const t = this.#torrents.get(p.infoHash);
      if (t && !t.idle() && !t.isPrivate()) t.addPeer({ host: p.host, port: p.port });
    });
    await service.start();
    for (const t of new Set(this.#torrents.values())) this.#sync(t);
  }

  /** The part each torrent gets (see {@link TorrentFeature}). */
  readonly feature: TorrentFeatureFactory = (core) => {
    const f: TorrentFeature = {
      ready: () => this.#sync(core),
      tick: () => this.#sync(core),
      close: () => this.#drop(core),
    };
    return f;
  };

  /** The hashes a torrent is known by on the LAN: its v1 hash, and a hybrid's truncated v2 hash. */
  #hashes(core: TorrentCore): Uint8Array[] {
    const h2 = core.infoHashV2()?.subarray(0, 20);
    return h2?.some((b, i) => b !== core.infoHash[i]) ? [core.infoHash, h2] : [core.infoHash];
  }

  /** Announced while it runs and is not private; data checked first unless it has no metadata yet. */
  #sync(core: TorrentCore): void {
    const wanted =
      !core.stopped() && !core.isPrivate() && (core.downloader() !== undefined || core.info() === undefined);
    const service = this.#service;
    for (const h of this.#hashes(core)) {
      const key = toHex(h);
      if (wanted) {
        this.#torrents.set(key, core);
        if (service && !service.has(h)) service.add(h, () => !core.idle() && !core.isPrivate());
      } else if (this.#torrents.get(key) === core) {
        this.#torrents.delete(key);
        service?.remove(h);
      }
    }
  }

  #drop(core: TorrentCore): void {
    for (const h of this.#hashes(core)) {
      const key = toHex(h);
      if (this.#torrents.get(key) !== core) continue;
      this.#torrents.delete(key);
      this.#service?.remove(h);
    }
  }

  /** Stops announcing and closes the sockets. */
  close(): void {
    this.#closed = true;
    this.#service?.close();
    this.#service = undefined;
    this.#torrents.clear();
  }
}
