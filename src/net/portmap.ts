import { isIPv4 } from 'node:net';
import { TypedEmitter } from '../util/emitter.js';
import { ArgumentError } from '../util/errors.js';
import { NetError, type NetErrorCode } from './errors.js';
import {
  type PortMapEngine,
  type PortMapJob,
  type PortMapJobResult,
  type PortMapMethod,
  type PortMapProtocol,
  workerEngine,
} from './portmap-worker.js';
import { defaultRoute, lanInterfaces } from './route.js';

export type { PortMapEngine, PortMapJob, PortMapJobResult, PortMapMethod, PortMapProtocol };

/** One port forwarded by the router, as validated from its reply. */
export interface PortMapping {
  /** How it was made. */
  readonly method: PortMapMethod;
  readonly protocol: PortMapProtocol;
  /** The router's external IPv4 address as it reports it (private under a second NAT). */
  readonly externalAddress: string;
  /** The port the internet reaches us on. */
  readonly externalPort: number;
  /** Our LAN address the router forwards to. */
  readonly internalAddress: string;
  readonly internalPort: number;
  /** The lease, seconds. */
  readonly lifetime: number;
  /** When the lease ends (ms since the epoch); renewed at half-life. */
  readonly expiresAt: number;
}

/** Events of a {@link PortMapper}. */
export interface PortMapperEvents {
  /** Mappings were made or renewed: every current mapping (TCP first). */
  mapped: [mappings: readonly PortMapping[]];
  /** The router no longer forwards anything to us (a renewal failed and the lease ran out). */
  unmapped: [];
  /**
   * A router refused (`NET_PORTMAP_REFUSED`), none answered (`NET_PORTMAP_UNAVAILABLE`) or one
   * answered nonsense (`NET_PORTMAP_BAD_REPLY`). The mapper keeps going: it retries later.
   */
  warning: [NetError];
}

/** Options of a {@link PortMapper}. */
export interface PortMapperOptions {
  /** The local port to forward, for every protocol of `protocols`. */
  port: number;
  /** Default `['TCP', 'UDP']` (BitTorrent over TCP, uTP over UDP, one port number). */
  protocols?: readonly PortMapProtocol[];
  /**
   * Our LAN address the router should forward to. Default: the local address on the gateway's
   * subnet (pass the client's bound address when it is not the wildcard).
   */
  internalAddress?: string;
  /** The lease to ask for, seconds (10–604800). Default 3600; UPnP leases are at least an hour. */
  lifetime?: number;
  /** Use NAT-PMP (RFC 6886; PCP routers answer it too). Default true. */
  natpmp?: boolean;
  /** Use UPnP IGD (SSDP discovery on the LAN). Default true. */
  upnp?: boolean;
  /** NAT-PMP's gateway. Default: the next hop of the IPv4 default route (`/proc/net/route`). */
  gateway?: string;
  /** Bound on each request to the router, ms. Default 3000. */
  requestTimeoutMs?: number;
  /** How long SSDP waits for an IGD, ms. Default 3000. */
  discoveryTimeoutMs?: number;
  /** Wait before trying again after every method failed, ms (doubles up to 30 min). Default 60 000. */
  retryMs?: number;
  /** The mapping's description on the router. Default `bttkit`. */
  description?: string;
  /** @internal Runs the requests; default a worker thread over `@achingbrain/nat-port-mapper`. */
  engine?: PortMapEngine;
  /** @internal The time, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

const MAX_BODY_BYTES = 256 * 1024;
const MAX_RETRY_MS = 30 * 60_000;

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new ArgumentError('UTIL_OUT_OF_RANGE', `${name} must be an integer in ${min}–${max}`, {
      details: { [name]: String(v) },
    });
  return v;
}

/** A unicast IPv4 address a router may report as its own. */
function plausibleIPv4(v: unknown): v is string {
  if (typeof v !== 'string' || !isIPv4(v)) return false;
  const first = Number(v.split('.')[0]);
  return v !== '0.0.0.0' && first !== 127 && first < 224 && first !== 0;
}

/** Printable text of an untrusted string, bounded. */
function clean(v: unknown): string {
  return typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : 'no message';
}

/**
 * Forwards a local port on the home router, by NAT-PMP (to the default gateway) or UPnP IGD
 * (found with SSDP), for TCP and UDP: asks for the same external port as the local one, renews
 * at half the lease, and removes the mappings on {@link stop}. Everything the router returns is
 * validated (address syntax, port range, lifetime); refusals, silence and nonsense are
 * `warning` events with a {@link NetError} code, never exceptions, and every wait is bounded.
 *
 * The requests run in a worker thread over `@achingbrain/nat-port-mapper` (js-libp2p's), which
 * keeps a hostile gateway's effects on that library out of the caller's process.
 *
 * @example
 * ```ts
 * const pm = new PortMapper({ port: 6881 });
 * pm.on('mapped', (m) => console.log(`reachable at ${m[0]?.externalAddress}:${m[0]?.externalPort}`));
 * pm.on('warning', (e) => console.warn(e.code, e.message));
 * await pm.start();
 * // …
 * await pm.stop(); // removes the mappings
 * ```
 */
export class PortMapper extends TypedEmitter<PortMapperEvents> {
  readonly #o: Required<Omit<PortMapperOptions, 'internalAddress' | 'gateway' | 'engine' | 'now'>> & {
    internalAddress: string | undefined;
    gateway: string | undefined;
  };
  readonly #engine: PortMapEngine;
  readonly #now: () => number;
  #mappings: PortMapping[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #retryMs: number;
  #state: 'new' | 'started' | 'stopped' = 'new';
  /** Aborts a mapping job in flight when the mapper stops. */
  readonly #abort = new AbortController();

  /** @throws {ArgumentError} `UTIL_OUT_OF_RANGE` for options out of range. */
  constructor(options: PortMapperOptions) {
    super();
    const o = options;
    const protocols = [...new Set(o.protocols ?? (['TCP', 'UDP'] as const))];
    if (protocols.length === 0 || protocols.some((p) => p !== 'TCP' && p !== 'UDP'))
      throw new ArgumentError('UTIL_OUT_OF_RANGE', 'protocols must be TCP and/or UDP');
    if (o.internalAddress !== undefined && !isIPv4(o.internalAddress))
      throw new ArgumentError('UTIL_OUT_OF_RANGE', 'internalAddress must be an IPv4 address');
    if (o.gateway !== undefined && !isIPv4(o.gateway))
      throw new ArgumentError('UTIL_OUT_OF_RANGE', 'gateway must be an IPv4 address');
    this.#o = {
      port: checkInt('port', o.port, 1, 65535),
      protocols,
      internalAddress: o.internalAddress,
      lifetime: checkInt('lifetime', o.lifetime ?? 3600, 10, 604800),
      natpmp: o.natpmp ?? true,
      upnp: o.upnp ?? true,
      gateway: o.gateway,
      requestTimeoutMs: checkInt('requestTimeoutMs', o.requestTimeoutMs ?? 3000, 100, 60_000),
      discoveryTimeoutMs: checkInt('discoveryTimeoutMs', o.discoveryTimeoutMs ?? 3000, 100, 60_000),
      retryMs: checkInt('retryMs', o.retryMs ?? 60_000, 100, MAX_RETRY_MS),
      description: (o.description ?? 'bttkit').replace(/[^\x20-\x7e]|[<>&]/g, '').slice(0, 64),
    };
    this.#retryMs = this.#o.retryMs;
    // The whole job: discovery, then two protocols × (map + external address) × two methods.
    const deadline = this.#o.discoveryTimeoutMs + 8 * this.#o.requestTimeoutMs + 2000;
    this.#engine = o.engine ?? workerEngine(deadline);
    this.#now = o.now ?? Date.now;
  }

  /** The current mappings (empty until the first succeeds). */
  get mappings(): readonly PortMapping[] {
    return this.#mappings;
  }

  /** Where the internet reaches us: the TCP mapping's external address and port, if any. */
  get external(): { address: string; port: number } | undefined {
    const m = this.#mappings.find((x) => x.protocol === 'TCP') ?? this.#mappings[0];
    return m ? { address: m.externalAddress, port: m.externalPort } : undefined;
  }

  /** Maps the port; resolves after the first attempt (mapped or not — see the events). Never rejects. */
  async start(): Promise<void> {
    if (this.#state !== 'new') return this.#running;
    this.#state = 'started';
    this.#running = this.#cycle();
    return this.#running;
  }

  /**
   * Stops renewing and removes the mappings from the router. Bounded (an attempt in flight is
   * waited for `requestTimeoutMs`, the removal by the job's deadline); failures are warnings.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasStarted = this.#state === 'started';
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    if (!wasStarted) return;
    // An attempt in flight (a renewal) is waited for briefly, so that what it renews is removed;
    // the first attempt, with nothing mapped yet, is ended at once — an app that quits must not
    // wait for a gateway that does not answer. What such an attempt mapped lapses with its lease.
    if (this.#mappings.length === 0) this.#abort.abort();
    else {
      let wait: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#running,
        new Promise<void>((r) => {
          wait = setTimeout(r, this.#o.requestTimeoutMs);
        }),
      ]);
      clearTimeout(wait);
    }
    const current = this.#mappings;
    this.#mappings = [];
    if (current.length === 0) return;
    try {
      const r = await this.#engine(
        this.#job(
          'remove',
          undefined,
          current.map((m) => ({ ...m })),
        ),
      );
      this.#failures(r);
    } catch (err) {
      this.#warn(err);
    }
  }

  #job(
    op: 'map' | 'remove',
    prefer: PortMapMethod | undefined,
    mappings: PortMapJob['mappings'] = [],
  ): PortMapJob {
    const o = this.#o;
    const gateway = o.natpmp ? (o.gateway ?? defaultRoute()?.gateway) : undefined;
    return {
      op,
      natpmpGateway: gateway,
      upnp: o.upnp,
      prefer,
      internalHost: o.internalAddress,
      interfaces: lanInterfaces().map(({ address, cidr }) => ({ address, cidr })),
      internalPort: o.port,
      externalPort: o.port,
      protocols: [...o.protocols],
      lifetime: o.lifetime,
      description: o.description,
      requestTimeoutMs: o.requestTimeoutMs,
      discoveryTimeoutMs: o.discoveryTimeoutMs,
      maxBodyBytes: MAX_BODY_BYTES,
      mappings: mappings.map((m) => ({
        method: m.method,
        protocol: m.protocol,
        externalPort: m.externalPort,
      })),
    };
  }

  /** One attempt to map (or renew); schedules the next. */
  async #cycle(): Promise<void> {
    if (this.#state !== 'started') return;
    if (!this.#o.natpmp && !this.#o.upnp) return;
    const prefer = this.#mappings.find((m) => m.protocol === 'TCP')?.method;
    let fresh: PortMapping[] = [];
    try {
      const result = await this.#engine(this.#job('map', prefer), this.#abort.signal);
      fresh = this.#validate(result);
      this.#failures(result, fresh);
    } catch (err) {
      // Aborted by stop(): not a gateway's fault.
      if (!this.#abort.signal.aborted) this.#warn(err);
    }
    if (this.#state !== 'started') {
      // Stopped meanwhile: stop() removes what this attempt made.
      this.#mappings = fresh.length > 0 ? fresh : this.#mappings;
      return;
    }
    const now = this.#now();
    if (fresh.length > 0) {
      // Keep a mapping of the other protocol that this attempt did not renew but is still leased.
      const kept = this.#mappings.filter(
        (m) => m.expiresAt > now && !fresh.some((f) => f.protocol === m.protocol),
      );
      this.#mappings = [...fresh, ...kept].sort((a, b) => a.protocol.localeCompare(b.protocol));
      this.#retryMs = this.#o.retryMs;
      this.emit('mapped', this.#mappings);
      const next = Math.min(...this.#mappings.map((m) => m.expiresAt)) - now;
      this.#schedule(Math.max(1000, next / 2));
      return;
    }
    const live = this.#mappings.filter((m) => m.expiresAt > now);
    if (this.#mappings.length > 0 && live.length === 0) {
      this.#mappings = [];
      this.emit('unmapped');
    } else this.#mappings = live;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    const leaseLeft =
      live.length > 0 ? Math.min(...live.map((m) => m.expiresAt)) - now : Number.POSITIVE_INFINITY;
    this.#schedule(Math.max(1000, Math.min(wait, leaseLeft / 2)));
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#cycle();
    }, ms);
    this.#timer.unref?.();
  }

  /** The worker's mappings, each checked; a bad one is a `NET_PORTMAP_BAD_REPLY` warning. */
  #validate(r: PortMapJobResult): PortMapping[] {
    const out: PortMapping[] = [];
    const mapped = Array.isArray(r?.mapped) ? r.mapped.slice(0, 8) : [];
    for (const m of mapped) {
      const problem =
        m.method !== 'natpmp' && m.method !== 'upnp'
          ? 'unknown method'
          : m.protocol !== 'TCP' && m.protocol !== 'UDP'
            ? 'unknown protocol'
            : !this.#o.protocols.includes(m.protocol)
              ? 'a protocol not asked for'
              : !(
                    Number.isInteger(m.externalPort) &&
                    (m.externalPort as number) >= 1 &&
                    (m.externalPort as number) <= 65535
                  )
                ? `external port out of range: ${clean(String(m.externalPort))}`
                : m.internalPort !== this.#o.port
                  ? `internal port ${clean(String(m.internalPort))} is not ours (${this.#o.port})`
                  : !plausibleIPv4(m.externalHost)
                    ? `external address is not a unicast IPv4 address: ${clean(String(m.externalHost))}`
                    : !(typeof m.internalHost === 'string' && isIPv4(m.internalHost))
                      ? 'internal address is not IPv4'
                      : !(
                            Number.isInteger(m.lifetime) &&
                            (m.lifetime as number) > 0 &&
                            (m.lifetime as number) <= 2 ** 32 - 1
                          )
                        ? `lifetime out of range: ${clean(String(m.lifetime))}`
                        : undefined;
      if (problem !== undefined) {
        this.emit(
          'warning',
          new NetError('NET_PORTMAP_BAD_REPLY', `the gateway's mapping makes no sense: ${problem}`, {
            details: { method: clean(m.method), protocol: clean(m.protocol) },
          }),
        );
        continue;
      }
      const lifetime = m.lifetime as number;
      out.push({
        method: m.method as PortMapMethod,
        protocol: m.protocol as PortMapProtocol,
        externalAddress: m.externalHost as string,
        externalPort: m.externalPort as number,
        internalAddress: m.internalHost as string,
        internalPort: this.#o.port,
        lifetime,
        expiresAt: this.#now() + lifetime * 1000,
      });
    }
    return out.filter((m, i) => out.findIndex((x) => x.protocol === m.protocol) === i);
  }

  /** The worker's failures as warnings; none when every protocol was mapped anyway. */
  #failures(r: PortMapJobResult, mapped: readonly PortMapping[] = []): void {
    if (this.#o.protocols.every((p) => mapped.some((m) => m.protocol === p))) return;
    const failures = Array.isArray(r?.failures) ? r.failures.slice(0, 8) : [];
    for (const f of failures) {
      const code: NetErrorCode =
        f.kind === 'refused'
          ? 'NET_PORTMAP_REFUSED'
          : f.kind === 'unavailable'
            ? 'NET_PORTMAP_UNAVAILABLE'
            : 'NET_PORTMAP_BAD_REPLY';
      const what = f.method === 'natpmp' ? 'NAT-PMP' : f.method === 'upnp' ? 'UPnP' : 'gateway';
      const proto = f.protocol === 'TCP' || f.protocol === 'UDP' ? ` ${f.protocol}` : '';
      this.emit(
        'warning',
        new NetError(code, `${what}${proto}: ${clean(f.message)}`, {
          details: { method: clean(f.method), protocol: clean(f.protocol) },
        }),
      );
    }
  }

  #warn(err: unknown): void {
    this.emit(
      'warning',
      err instanceof NetError
        ? err
        : new NetError('NET_PORTMAP_UNAVAILABLE', `port mapping failed: ${clean(String(err))}`, {
            cause: err,
          }),
    );
  }
}
