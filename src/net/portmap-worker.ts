import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AbortError } from '../util/errors.js';
import { NetError } from './errors.js';

/** How a mapping was made: NAT-PMP (RFC 6886, as miniupnpd speaks it) or UPnP IGD:2. */
export type PortMapMethod = 'natpmp' | 'upnp';
/** The transport protocol of one mapping. */
export type PortMapProtocol = 'TCP' | 'UDP';

/** @internal One piece of work for the port-mapping worker: map (or remove) some ports. */
export interface PortMapJob {
  /** `map` creates or renews; `remove` deletes what `mappings` lists. */
  op: 'map' | 'remove';
  /** NAT-PMP's gateway (the default route's next hop), or undefined to skip NAT-PMP. */
  natpmpGateway: string | undefined;
  /** Look for a UPnP IGD with SSDP. */
  upnp: boolean;
  /** Try this method first (the one that worked last time). */
  prefer: PortMapMethod | undefined;
  /** Our LAN address to map to; undefined: the local address on the gateway's subnet. */
  internalHost: string | undefined;
  /** The local IPv4 interfaces (address, CIDR), to find the one on a gateway's subnet. */
  interfaces: Array<{ address: string; cidr: string }>;
  internalPort: number;
  /** The external port asked for (the internal one, where the router allows). */
  externalPort: number;
  protocols: PortMapProtocol[];
  /** Lease asked for, seconds. */
  lifetime: number;
  description: string;
  /** Bound on each request, ms. */
  requestTimeoutMs: number;
  /** How long SSDP waits for an IGD, ms. */
  discoveryTimeoutMs: number;
  /** Cap on any HTTP body from the gateway, bytes. */
  maxBodyBytes: number;
  /** For `remove`: what to delete. */
  mappings: Array<{ method: PortMapMethod; protocol: PortMapProtocol; externalPort: number }>;
}

/** @internal Why one request failed, as the worker classified it. */
export type PortMapFailureKind = 'refused' | 'unavailable' | 'bad-reply';

/** @internal What the worker says; every field unchecked (the main thread validates). */
export interface PortMapJobResult {
  mapped: Array<{
    method: unknown;
    protocol: unknown;
    externalHost: unknown;
    externalPort: unknown;
    internalHost: unknown;
    internalPort: unknown;
    lifetime: unknown;
  }>;
  failures: Array<{ method: unknown; protocol: unknown; kind: unknown; message: unknown }>;
}

/** Runs a job; resolves its raw result. Injected in tests (a fake gateway in a function). */
/** Runs one job; an abort of `signal` ends it at once (the worker is terminated) with an `AbortError`. */
export type PortMapEngine = (job: PortMapJob, signal?: AbortSignal) => Promise<PortMapJobResult>;

const LIBRARY = '@achingbrain/nat-port-mapper';

let libraryUrl: string | undefined;

/**
 * The file URL of the library's ESM entry. The package declares `exports: { import }` only, so
 * `require.resolve` cannot find it: the node_modules folders Node would search are walked here.
 */
function resolveLibrary(): string {
  if (libraryUrl !== undefined) return libraryUrl;
  const req = createRequire(import.meta.url);
  for (const dir of req.resolve.paths(LIBRARY) ?? []) {
    const pkgDir = join(dir, LIBRARY);
    let pkg: unknown;
    try {
      pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    const exp = (pkg as { exports?: { '.'?: { import?: unknown } } }).exports?.['.']?.import;
    if (typeof exp === 'string') {
      libraryUrl = pathToFileURL(join(pkgDir, exp)).href;
      return libraryUrl;
    }
  }
  throw new NetError('NET_PORTMAP_UNAVAILABLE', `${LIBRARY} is not installed`);
}

/** Heap cap of the worker: a gateway that sends endless XML fills this, not our heap. */
const WORKER_HEAP_MB = 64;

/**
 * The default engine: runs the job in a worker thread that loads `@achingbrain/nat-port-mapper`
 * (ESM-only; the worker imports it whichever build of bttkit runs). The worker isolates the
 * library from hostile gateways: its NAT-PMP and SSDP socket handlers throw on a truncated or
 * unknown datagram (an uncaught exception), its HTTP reads have no size cap and its NAT-PMP
 * queue waits forever for a lost reply. In the worker, such a throw ends the worker only
 * (`NET_PORTMAP_BAD_REPLY`), the heap is capped, HTTP bodies are capped by a `fetch` wrapper,
 * and the whole job is bounded by `deadlineMs` (then the worker is terminated).
 */
export function workerEngine(deadlineMs: number): PortMapEngine {
  return (job, signal) =>
    new Promise<PortMapJobResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortError('the port-mapping job was aborted'));
        return;
      }
      let url: string;
      try {
        url = resolveLibrary();
      } catch (err) {
        reject(err);
        return;
      }
      // `__name`: the helper esbuild (tsx, vitest) inserts when it keeps function names.
      const code = `var __name = (f) => f; (${portMapWorkerMain.toString()})(require('node:worker_threads'), ${JSON.stringify(url)});`;
      const worker = new Worker(code, {
        eval: true,
        workerData: job,
        // The code is CommonJS text: an app started with --input-type=module must not make it ESM.
        execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
        resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 16 },
      });
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
        void worker.terminate();
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new NetError('NET_PORTMAP_UNAVAILABLE', `no answer from the gateway in ${deadlineMs} ms`, {
                details: { deadlineMs },
              }),
            ),
          ),
        deadlineMs,
      );
      worker.on('message', (m: PortMapJobResult) => finish(() => resolve(m)));
      worker.on('error', (err) =>
        finish(() =>
          reject(
            new NetError('NET_PORTMAP_BAD_REPLY', `a gateway reply broke the port mapper: ${err.message}`, {
              cause: err,
            }),
          ),
        ),
      );
      worker.on('exit', (exitCode) =>
        finish(() =>
          reject(
            new NetError('NET_PORTMAP_UNAVAILABLE', `the port-mapping worker exited (${exitCode})`, {
              details: { exitCode },
            }),
          ),
        ),
      );
      // Stopped by its mapper (the app quits): ended now, not when the gateway gives up.
      signal?.addEventListener(
        'abort',
        () => finish(() => reject(new AbortError('the port-mapping job was aborted'))),
        { once: true },
      );
    });
}

/** The library's surface this worker uses (typed here: its own types are ESM-only). */
interface LibGateway {
  host: string;
  family: string;
  map(
    port: number,
    host: string,
    o: {
      protocol: PortMapProtocol;
      ttl: number;
      externalPort: number;
      autoRefresh: false;
      description: string;
      signal: AbortSignal;
    },
  ): Promise<{ externalHost: unknown; externalPort: unknown; internalHost: unknown; internalPort: unknown }>;
  unmap(port: number, o: { signal: AbortSignal }): Promise<void>;
  stop(o?: { signal: AbortSignal }): Promise<void>;
  on?: (event: 'error', fn: (e: unknown) => void) => void;
  /** Protected in the library; used to send DeletePortMapping per protocol (see below). */
  getGateway?: (o: { signal: AbortSignal }) => Promise<{
    run(
      service: string,
      action: string,
      args: Array<[string, string | number]>,
      o: { signal: AbortSignal },
    ): Promise<unknown>;
  }>;
}
interface Lib {
  pmpNat(gateway: string, o: { autoRefresh: false }): LibGateway;
  upnpNat(o: { autoRefresh: false }): {
    findGateways(o: { signal: AbortSignal }): AsyncGenerator<LibGateway, void, unknown>;
  };
}

/**
 * The worker's body. Serialized with `toString()` into the worker, so it must be self-contained:
 * no imports, no outer variables — only its arguments and globals.
 */
async function portMapWorkerMain(
  threads: { workerData: PortMapJob; parentPort: { postMessage(m: PortMapJobResult): void } | null },
  libUrl: string,
): Promise<void> {
  const job = threads.workerData;
  const result: PortMapJobResult = { mapped: [], failures: [] };
  // Every HTTP body from the gateway is capped (the library reads whole bodies with fetch).
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await realFetch(input, init);
    const reader = res.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      if (!reader) break;
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > job.maxBodyBytes) {
        await reader.cancel();
        // internal: in the worker only; becomes a classified failure, never reaches a caller
        const e = new Error(`the gateway sent more than ${job.maxBodyBytes} bytes`);
        e.name = 'BodyTooLarge';
        throw e;
      }
      chunks.push(value);
    }
    return new Response(chunks.length > 0 ? Buffer.concat(chunks) : null, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
  const classify = (err: unknown): string => {
    const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown } };
    if (typeof e?.code === 'number') return 'refused'; // a NAT-PMP result code
    if (e?.name === 'UPnPError') return 'refused'; // a SOAP fault
    if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.name === 'NoRoute') return 'unavailable';
    const sys = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : '';
    if (/^E[A-Z]+/.test(sys) && sys !== 'ERR_OUT_OF_RANGE') return 'unavailable';
    return 'bad-reply';
  };
  const fail = (method: string, protocol: string, err: unknown) => {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    result.failures.push({ method, protocol, kind: classify(err), message: message.slice(0, 300) });
  };
  const inSubnet = (addr: string, cidr: string): boolean => {
    const toInt = (a: string) => a.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
    const [net = '', bitsText = '32'] = cidr.split('/');
    const bits = Number(bitsText);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (toInt(addr) & mask) >>> 0 === (toInt(net) & mask) >>> 0;
  };
  const noRoute = (host: string) =>
    // internal: in the worker only; becomes a classified failure, never reaches a caller
    Object.assign(new Error(`no local address on ${host}'s subnet`), { name: 'NoRoute' });
  const localFor = (gatewayHost: string): string | undefined =>
    job.internalHost ?? job.interfaces.find((i) => inSubnet(gatewayHost, i.cidr))?.address;
  const timeout = () => AbortSignal.timeout(job.requestTimeoutMs);
  const lib = (await import(libUrl)) as Lib;

  const viaNatpmp = async (protocols: PortMapProtocol[]): Promise<void> => {
    const gwHost = job.natpmpGateway;
    if (gwHost === undefined || protocols.length === 0) return;
    const local = localFor(gwHost);
    if (local === undefined) return fail('natpmp', '', noRoute(gwHost));
    const gw = lib.pmpNat(gwHost, { autoRefresh: false });
    gw.on?.('error', (e) => fail('natpmp', '', e));
    try {
      for (const protocol of protocols) {
        try {
          if (job.op === 'remove') {
            // RFC 6886 §3.4: lifetime 0 and external port 0 delete the mapping.
            await gw.map(job.internalPort, local, {
              protocol,
              ttl: 0,
              externalPort: 0,
              autoRefresh: false,
              description: '',
              signal: timeout(),
            });
            continue;
          }
          const m = await gw.map(job.internalPort, local, {
            protocol,
            ttl: job.lifetime,
            externalPort: job.externalPort,
            autoRefresh: false,
            description: job.description,
            signal: timeout(),
          });
          result.mapped.push({ method: 'natpmp', protocol, ...m, lifetime: job.lifetime });
        } catch (err) {
          fail('natpmp', protocol, err);
          // A lost reply leaves the library's request queue stuck: nothing more through it.
          if (classify(err) === 'unavailable') break;
        }
      }
    } finally {
      await gw.stop().catch(() => {});
    }
  };

  const viaUpnp = async (protocols: PortMapProtocol[]): Promise<void> => {
    if (!job.upnp || protocols.length === 0) return;
    let gw: LibGateway | undefined;
    try {
      for await (const g of lib.upnpNat({ autoRefresh: false }).findGateways({
        signal: AbortSignal.timeout(job.discoveryTimeoutMs),
      })) {
        if (g.family === 'IPv4') {
          gw = g;
          break;
        }
      }
    } catch (err) {
      return fail('upnp', '', err);
    }
    if (!gw)
      // internal: in the worker only; becomes a classified failure, never reaches a caller
      return fail('upnp', '', Object.assign(new Error('no UPnP gateway answered'), { name: 'AbortError' }));
    const local = localFor(gw.host);
    if (local === undefined) return fail('upnp', '', noRoute(gw.host));
    for (const protocol of protocols) {
      try {
        if (job.op === 'remove') {
          const port = job.mappings.find((m) => m.method === 'upnp' && m.protocol === protocol)?.externalPort;
          if (port === undefined) continue;
          // The library's unmap() sends an empty protocol, which miniupnpd applies to TCP only:
          // DeletePortMapping is sent per protocol through its device instead.
          if (typeof gw.getGateway === 'function') {
            const device = await gw.getGateway({ signal: timeout() });
            await device.run(
              'urn:schemas-upnp-org:service:WANIPConnection:2',
              'DeletePortMapping',
              [
                ['NewRemoteHost', ''],
                ['NewExternalPort', port],
                ['NewProtocol', protocol],
              ],
              { signal: timeout() },
            );
          } else await gw.unmap(job.internalPort, { signal: timeout() });
          continue;
        }
        const m = await gw.map(job.internalPort, local, {
          protocol,
          // The library takes ms here and asks for at least an hour.
          ttl: job.lifetime * 1000,
          externalPort: job.externalPort,
          autoRefresh: false,
          description: job.description,
          signal: timeout(),
        });
        result.mapped.push({ method: 'upnp', protocol, ...m, lifetime: Math.max(job.lifetime, 3600) });
      } catch (err) {
        fail('upnp', protocol, err);
      }
    }
  };

  const order: Array<'natpmp' | 'upnp'> = job.prefer === 'upnp' ? ['upnp', 'natpmp'] : ['natpmp', 'upnp'];
  for (const method of order) {
    const wanted =
      job.op === 'remove'
        ? [...new Set(job.mappings.filter((m) => m.method === method).map((m) => m.protocol))]
        : job.protocols.filter((p) => !result.mapped.some((m) => m.protocol === p));
    if (method === 'natpmp') await viaNatpmp(wanted);
    else await viaUpnp(wanted);
  }
  threads.parentPort?.postMessage(result);
}
