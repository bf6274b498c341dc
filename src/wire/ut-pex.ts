import { type BDict, type BEncodable, decode, encode } from '../metainfo/bencode.js';
import { formatIp, ipBytes } from '../util/ip.js';
import type { Endpoint } from '../util/transport.js';
import { TypedEmitter } from './emitter.js';
import { WireError } from './errors.js';
import type { ExtensionContext, ExtensionFactory, WireExtension } from './extension.js';

/** BEP 11 flags of an added peer. */
export const PexFlags = {
  /** Prefers encryption. */
  encryption: 0x01,
  /** Seed / upload only. */
  seed: 0x02,
  /** Supports uTP. */
  utp: 0x04,
  /** Supports the holepunch extension. */
  holepunch: 0x08,
  /** Reachable: we connected out to it. */
  reachable: 0x10,
} as const;

/** A peer in a PEX message. */
export interface PexPeer extends Endpoint {
  /** {@link PexFlags} bits (0 when not given). */
  flags: number;
}

/** The content of one PEX message. */
export interface PexMessage {
  added: PexPeer[];
  dropped: Endpoint[];
}

/** Most peers sent per list and per message (BEP 11 suggests 50). */
export const PEX_MAX_SEND = 50;
/** Most peers read per list from a received message; the rest are ignored. */
export const PEX_MAX_RECEIVE = 200;
/** Least time between two messages we send, and the pace we accept: one a minute. */
export const PEX_INTERVAL_MS = 60_000;

/** Events of a {@link UtPexExtension}. */
export interface UtPexEvents {
  peers: [message: PexMessage];
}

function compact(peers: readonly { ip: Uint8Array; port: number }[], v6: boolean): Uint8Array {
  const size = v6 ? 18 : 6;
  const out = new Uint8Array(peers.length * size);
  peers.forEach((p, i) => {
    out.set(p.ip, i * size);
    out[i * size + size - 2] = p.port >> 8;
    out[i * size + size - 1] = p.port & 0xff;
  });
  return out;
}

function parseCompact(v: unknown, size: number, flags: Uint8Array | undefined, out: PexPeer[]): void {
  if (v === undefined) return;
  if (!(v instanceof Uint8Array) || v.length % size !== 0) {
    throw new WireError('WIRE_PEX_MALFORMED', `peer list is not a multiple of ${size} bytes`);
  }
  const n = Math.min(v.length / size, PEX_MAX_RECEIVE);
  for (let i = 0; i < n; i++) {
    const at = i * size;
    const port = ((v[at + size - 2] as number) << 8) | (v[at + size - 1] as number);
    if (port === 0) continue;
    // RFC 5952 text; an IPv4-mapped entry of `added6` is the IPv4 peer.
    out.push({ host: formatIp(v, at, size === 6 ? 4 : 16), port, flags: flags?.[i] ?? 0 });
  }
}

/** Encodes a PEX message (IPv4 in `added`/`dropped`, IPv6 in `added6`/`dropped6`). */
export function encodePex(m: PexMessage): Uint8Array {
  // Each address is parsed once; invalid ones (no IP literal, bad port) are left out.
  const split = (list: readonly PexPeer[] | readonly Endpoint[]) => {
    const v4: { ip: Uint8Array; port: number; flags: number }[] = [];
    const v6: { ip: Uint8Array; port: number; flags: number }[] = [];
    for (const p of list) {
      if (!(Number.isInteger(p.port) && p.port > 0 && p.port < 65536)) continue;
      const ip = ipBytes(p.host);
      const flags = 'flags' in p && typeof p.flags === 'number' ? p.flags : 0;
      if (ip?.length === 4 && v4.length < PEX_MAX_SEND) v4.push({ ip, port: p.port, flags });
      else if (ip?.length === 16 && v6.length < PEX_MAX_SEND) v6.push({ ip, port: p.port, flags });
    }
    return [v4, v6] as const;
  };
  const [a4, a6] = split(m.added);
  const [d4, d6] = split(m.dropped);
  const dict: Record<string, BEncodable> = {
    added: compact(a4, false),
    'added.f': Uint8Array.from(a4.map((p) => p.flags & 0xff)),
    dropped: compact(d4, false),
  };
  if (a6.length > 0 || d6.length > 0) {
    dict.added6 = compact(a6, true);
    dict['added6.f'] = Uint8Array.from(a6.map((p) => p.flags & 0xff));
    dict.dropped6 = compact(d6, true);
  }
  return encode(dict);
}

/** Decodes a PEX message; at most {@link PEX_MAX_RECEIVE} peers per list. Throws `WIRE_PEX_MALFORMED`. */
export function decodePex(payload: Uint8Array): PexMessage {
  let d: BDict;
  try {
    const v = decode(payload, { maxBytes: payload.length, maxDepth: 2, maxItems: 64 });
    if (!(v instanceof Map)) throw new WireError('WIRE_PEX_MALFORMED', 'ut_pex message is not a dictionary');
    d = v;
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError('WIRE_PEX_MALFORMED', 'malformed ut_pex message', { cause: err });
  }
  const flags = (k: string) => {
    const f = d.get(k);
    return f instanceof Uint8Array ? f : undefined;
  };
  const added: PexPeer[] = [];
  const dropped: PexPeer[] = [];
  parseCompact(d.get('added'), 6, flags('added.f'), added);
  parseCompact(d.get('added6'), 18, flags('added6.f'), added);
  parseCompact(d.get('dropped'), 6, undefined, dropped);
  parseCompact(d.get('dropped6'), 18, undefined, dropped);
  return { added, dropped: dropped.map(({ host, port }) => ({ host, port })) };
}

/**
 * BEP 11 on one wire. {@link send} goes out at most once a minute (on the wire's clock) with at
 * most 50 peers per list; received messages are bounded to 200 peers per list, and messages
 * faster than the pace BEP 11 allows are ignored.
 */
export class UtPexExtension extends TypedEmitter<UtPexEvents> implements WireExtension {
  readonly name = 'ut_pex';
  readonly maxPayload = 16 * 1024;
  #ctx: ExtensionContext;
  #lastSent = Number.NEGATIVE_INFINITY;
  #lastReceived = Number.NEGATIVE_INFINITY;
  /** Messages ignored for arriving too fast. */
  ignored = 0;

  constructor(ctx: ExtensionContext) {
    super();
    this.#ctx = ctx;
  }

  /** True when the peer announced `ut_pex`. */
  get active(): boolean {
    return this.#ctx.peerSupports;
  }

  /** Milliseconds until {@link send} may send again (0: now). */
  get waitMs(): number {
    return Math.max(0, this.#lastSent + PEX_INTERVAL_MS - this.#ctx.clock.now());
  }

  /**
   * Sends one PEX message. Returns false (and sends nothing) when the last one went out less than
   * a minute ago or the peer lacks `ut_pex`. Peers beyond 50 per list, and host names, are left out.
   */
  send(message: PexMessage): boolean {
    if (!this.#ctx.peerSupports || this.waitMs > 0) return false;
    this.#lastSent = this.#ctx.clock.now();
    this.#ctx.send(encodePex(message));
    return true;
  }

  onMessage(payload: Uint8Array): void {
    const now = this.#ctx.clock.now();
    // Allow some jitter below a minute; faster than that is ignored (libtorrent disconnects).
    if (now - this.#lastReceived < PEX_INTERVAL_MS / 2) {
      this.ignored++;
      return;
    }
    this.#lastReceived = now;
    this.emit('peers', decodePex(payload));
  }
}

/** The `ut_pex` extension factory for `PeerWire.use`. */
export function utPex(): ExtensionFactory<UtPexExtension> {
  return (ctx) => new UtPexExtension(ctx);
}
