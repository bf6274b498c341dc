import type { Endpoint } from '../util/transport.js';
import { TypedEmitter } from './emitter.js';
import { WireError } from './errors.js';
import type { ExtensionContext, ExtensionFactory, WireExtension } from './extension.js';
import { ipBytes } from './ip.js';

/** BEP 55 message types. */
export const HolepunchType = {
  /** Initiator → relay: "send connect messages to me and to this endpoint". */
  rendezvous: 0,
  /** Relay → both sides: "open a uTP connection to this endpoint now". */
  connect: 1,
  /** Relay → initiator: the rendezvous cannot be done (see {@link HolepunchErrorCode}). */
  error: 2,
} as const;

/** A BEP 55 message type name. */
export type HolepunchMessageType = keyof typeof HolepunchType;

/** BEP 55 error codes of an `error` message. */
export const HolepunchErrorCode = {
  /** The target endpoint is not valid. */
  NoSuchPeer: 1,
  /** The relay is not connected to the target. */
  NotConnected: 2,
  /** The target does not support `ut_holepunch`. */
  NoSupport: 3,
  /** The target is the relay itself. */
  NoSelf: 4,
} as const;

/** One `ut_holepunch` message. `error` is the BEP 55 code (0 for `rendezvous` and `connect`). */
export interface HolepunchMessage {
  type: HolepunchMessageType;
  /** The endpoint: the target (rendezvous, error) or whom to dial (connect). An IP literal. */
  endpoint: Endpoint;
  /** The error code of an `error` message (any 32-bit value; 1–4 are defined); 0 otherwise. */
  error: number;
}

/** Largest payload: IPv6 with the error code (1 + 1 + 16 + 2 + 4). */
export const HOLEPUNCH_MAX_PAYLOAD = 24;

const TYPE_NAMES: readonly HolepunchMessageType[] = ['rendezvous', 'connect', 'error'];

function malformed(why: string): WireError {
  return new WireError('WIRE_HOLEPUNCH_MALFORMED', `ut_holepunch: ${why}`);
}

/** An IP address's bytes as text: dotted quad, or RFC 5952 IPv6 (longest zero run as `::`). */
export function formatIpBytes(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((n) => n.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/**
 * Encodes a message as BEP 55 lays it out: type, address type (0 IPv4, 1 IPv6), address, port
 * (big-endian) and the 4-byte error code (0 unless `error`).
 * @throws {WireError} `WIRE_HOLEPUNCH_MALFORMED` when the host is not an IP literal, the port is
 *   not 1–65535 or the error code not a 32-bit unsigned integer (our argument)
 */
export function encodeHolepunch(m: HolepunchMessage): Uint8Array {
  const ip = ipBytes(m.endpoint.host);
  if (!ip) throw malformed(`${m.endpoint.host} is not an IP address`);
  const { port } = m.endpoint;
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw malformed(`bad port ${port}`);
  const code = m.type === 'error' ? m.error : 0;
  if (!(Number.isInteger(code) && code >= 0 && code <= 0xffffffff)) throw malformed(`bad error code ${code}`);
  const out = new Uint8Array(2 + ip.length + 2 + 4);
  const view = new DataView(out.buffer);
  out[0] = HolepunchType[m.type];
  out[1] = ip.length === 4 ? 0 : 1;
  out.set(ip, 2);
  view.setUint16(2 + ip.length, port);
  view.setUint32(4 + ip.length, code);
  return out;
}

/**
 * Decodes a message. The error code may be left out of `rendezvous` and `connect` (libtorrent
 * sends it only in `error`); anything else of the wrong length, an unknown type or address type,
 * or port 0 is refused.
 * @throws {WireError} `WIRE_HOLEPUNCH_MALFORMED`
 */
export function decodeHolepunch(payload: Uint8Array): HolepunchMessage {
  if (payload.length < 2) throw malformed(`${payload.length}-byte message`);
  const type = TYPE_NAMES[payload[0] as number];
  if (type === undefined) throw malformed(`unknown message type ${payload[0]}`);
  const addrType = payload[1] as number;
  if (addrType !== 0 && addrType !== 1) throw malformed(`unknown address type ${addrType}`);
  const ipLen = addrType === 0 ? 4 : 16;
  const short = 2 + ipLen + 2;
  const n = payload.length;
  if (n !== short + 4 && (n !== short || type === 'error'))
    throw malformed(`${type} of ${n} bytes for ${addrType === 0 ? 'IPv4' : 'IPv6'}`);
  const view = new DataView(payload.buffer, payload.byteOffset, n);
  const port = view.getUint16(2 + ipLen);
  if (port === 0) throw malformed('port 0');
  const host = formatIpBytes(payload.subarray(2, 2 + ipLen));
  const error = n === short + 4 ? view.getUint32(short) : 0;
  return { type, endpoint: { host, port }, error: type === 'error' ? error : 0 };
}

/** Events of a {@link UtHolepunchExtension}. */
export interface UtHolepunchEvents {
  /** A valid message from the peer. */
  message: [HolepunchMessage];
}

/**
 * BEP 55 on one wire: sends and receives `ut_holepunch` messages. What to do with them (relay,
 * dial) is the session's. A message that does not decode drops the peer
 * (`WIRE_HOLEPUNCH_MALFORMED`); one above {@link HOLEPUNCH_MAX_PAYLOAD} bytes too (by the wire).
 */
export class UtHolepunchExtension extends TypedEmitter<UtHolepunchEvents> implements WireExtension {
  readonly name = 'ut_holepunch';
  readonly maxPayload = HOLEPUNCH_MAX_PAYLOAD;
  readonly #ctx: ExtensionContext;
  /** Messages received / sent. */
  received = 0;
  sent = 0;

  constructor(ctx: ExtensionContext) {
    super();
    this.#ctx = ctx;
  }

  /** True when the peer announced `ut_holepunch` in its extended handshake. */
  get active(): boolean {
    return this.#ctx.peerSupports;
  }

  /**
   * Sends one message; false (nothing sent) when the peer lacks the extension.
   * @throws {WireError} `WIRE_HOLEPUNCH_MALFORMED` for an endpoint that cannot be encoded
   */
  send(message: HolepunchMessage): boolean {
    if (!this.#ctx.peerSupports) return false;
    const bytes = encodeHolepunch(message);
    this.#ctx.send(bytes);
    this.sent++;
    return true;
  }

  onMessage(payload: Uint8Array): void {
    const m = decodeHolepunch(payload);
    this.received++;
    this.emit('message', m);
  }
}

/** The `ut_holepunch` extension factory for `PeerWire.use`. */
export function utHolepunch(): ExtensionFactory<UtHolepunchExtension> {
  return (ctx) => new UtHolepunchExtension(ctx);
}
