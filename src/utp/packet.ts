/**
 * The uTP packet codec (BEP 29, header version 1): a 20-byte header, a chain of extensions
 * (selective ack, and bttkit's large-packet extension), then the payload. Decoding never throws
 * on the hot path ({@link decodeInto} returns an error code); {@link decodePacket} throws a typed
 * {@link UtpError} for callers that want one.
 */
import { UtpError, type UtpErrorCode } from './errors.js';

/** Packet types. */
export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;
/** The names of the packet types, by number. */
export const PACKET_TYPE_NAMES = ['ST_DATA', 'ST_FIN', 'ST_STATE', 'ST_RESET', 'ST_SYN'] as const;

/** Size of the fixed header. */
export const HEADER_SIZE = 20;
/** Extension type of a selective ack (BEP 29). */
export const EXT_SACK = 1;
/**
 * Extension type of bttkit's "large datagrams" offer, carried in SYN and in the STATE answering
 * a SYN that carried it: 4 bytes, `b`, `t`, then the largest datagram the sender accepts (u16).
 * Other implementations skip unknown extensions (BEP 29; libtorrent does), so peers that do not
 * know it keep MTU-sized packets. It is always chained after an {@link EXT_BITS} extension:
 * libutp (Transmission) ignores a SYN whose first extension is of a type it does not know.
 */
export const EXT_BTTKIT = 0x62;
/** Extension type of the "extension bits" (8 bytes, all zero from us), which every uTP knows. */
export const EXT_BITS = 2;
/** Bytes the large-datagram offer adds to a packet: extension bits, then the offer. */
const OFFER_BYTES = 2 + 8 + 2 + 4;
/** Most extensions a packet may chain (more is hostile). */
export const MAX_EXTENSIONS = 8;

/** A decoded packet. {@link decodeInto} fills one reused object; offsets index `data`. */
export interface UtpPacket {
  type: number;
  connectionId: number;
  /** Sender's clock, microseconds mod 2^32. */
  timestamp: number;
  /** Sender's view of the one-way delay of our packets, microseconds mod 2^32. */
  timestampDiff: number;
  /** Sender's receive window in bytes. */
  wnd: number;
  seq: number;
  ack: number;
  /** Where the selective-ack bitmask starts in `data`, and its length (0: none). */
  sackOffset: number;
  sackLength: number;
  /** The largest datagram the sender accepts (bttkit extension), or 0. */
  maxDatagram: number;
  /** Where the payload starts in `data`. */
  payloadOffset: number;
  /** The datagram (a view; valid as long as the caller's buffer). */
  data: Uint8Array;
}

/** A blank packet for {@link decodeInto}. */
export function createPacket(): UtpPacket {
  return {
    type: 0,
    connectionId: 0,
    timestamp: 0,
    timestampDiff: 0,
    wnd: 0,
    seq: 0,
    ack: 0,
    sackOffset: 0,
    sackLength: 0,
    maxDatagram: 0,
    payloadOffset: HEADER_SIZE,
    data: new Uint8Array(0),
  };
}

function u16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

function u32(b: Uint8Array, o: number): number {
  return (
    (((b[o] as number) << 24) |
      ((b[o + 1] as number) << 16) |
      ((b[o + 2] as number) << 8) |
      (b[o + 3] as number)) >>>
    0
  );
}

/**
 * Decodes `data` into `out` (reused: no allocation). Returns `undefined` on success or the code
 * of what is wrong; `out` is then partly filled and must not be used.
 */
export function decodeInto(data: Uint8Array, out: UtpPacket): UtpErrorCode | undefined {
  const n = data.length;
  if (n < HEADER_SIZE) return 'UTP_TRUNCATED';
  const b0 = data[0] as number;
  if ((b0 & 0x0f) !== 1) return 'UTP_BAD_VERSION';
  const type = b0 >> 4;
  if (type > ST_SYN) return 'UTP_BAD_TYPE';
  out.type = type;
  out.connectionId = u16(data, 2);
  out.timestamp = u32(data, 4);
  out.timestampDiff = u32(data, 8);
  out.wnd = u32(data, 12);
  out.seq = u16(data, 16);
  out.ack = u16(data, 18);
  out.sackOffset = 0;
  out.sackLength = 0;
  out.maxDatagram = 0;
  out.data = data;
  let ext = data[1] as number;
  let p = HEADER_SIZE;
  let count = 0;
  while (ext !== 0) {
    if (++count > MAX_EXTENSIONS) return 'UTP_BAD_EXTENSION';
    if (p + 2 > n) return 'UTP_TRUNCATED';
    const next = data[p] as number;
    const len = data[p + 1] as number;
    p += 2;
    if (p + len > n) return 'UTP_TRUNCATED';
    if (ext === EXT_SACK) {
      if (len === 0 || out.sackLength !== 0) return 'UTP_BAD_EXTENSION';
      out.sackOffset = p;
      out.sackLength = len;
    } else if (ext === EXT_BTTKIT && len >= 4 && data[p] === 0x62 && data[p + 1] === 0x74) {
      out.maxDatagram = u16(data, p + 2);
    }
    p += len;
    ext = next;
  }
  out.payloadOffset = p;
  return undefined;
}

/** Decodes a copy-free view of `data`, throwing {@link UtpError} when it is malformed. */
export function decodePacket(data: Uint8Array): UtpPacket {
  const out = createPacket();
  const code = decodeInto(data, out);
  if (code) throw new UtpError(code, `malformed uTP packet (${code})`, { details: { bytes: data.length } });
  return out;
}

/**
 * Writes the 20-byte header at the start of `buf`. `extension` is the type of the first
 * extension (0: none); numbers are masked to their field widths.
 */
export function writeHeader(
  buf: Uint8Array,
  type: number,
  extension: number,
  connectionId: number,
  timestamp: number,
  timestampDiff: number,
  wnd: number,
  seq: number,
  ack: number,
): void {
  buf[0] = (type << 4) | 1;
  buf[1] = extension;
  buf[2] = (connectionId >> 8) & 0xff;
  buf[3] = connectionId & 0xff;
  writeU32(buf, 4, timestamp);
  writeU32(buf, 8, timestampDiff);
  writeU32(buf, 12, wnd);
  buf[16] = (seq >> 8) & 0xff;
  buf[17] = seq & 0xff;
  buf[18] = (ack >> 8) & 0xff;
  buf[19] = ack & 0xff;
}

/** Rewrites the fields that change when a packet is resent: timestamps, window and ack. */
export function refreshHeader(
  buf: Uint8Array,
  timestamp: number,
  timestampDiff: number,
  wnd: number,
  ack: number,
): void {
  writeU32(buf, 4, timestamp);
  writeU32(buf, 8, timestampDiff);
  writeU32(buf, 12, wnd);
  buf[18] = (ack >> 8) & 0xff;
  buf[19] = ack & 0xff;
}

function writeU32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = (v >>> 24) & 0xff;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}

/** Fields of {@link encodePacket}. */
export interface PacketFields {
  type: number;
  connectionId: number;
  timestamp?: number;
  timestampDiff?: number;
  wnd?: number;
  seq: number;
  ack: number;
  /** Selective-ack bitmask (its length a multiple of 4, as BEP 29 asks). */
  sack?: Uint8Array;
  /** Offer large datagrams up to this size (bttkit extension). */
  maxDatagram?: number;
  payload?: Uint8Array;
}

/** Encodes a packet into a new buffer (tests, control packets; the data path writes in place). */
export function encodePacket(f: PacketFields): Uint8Array {
  const sack = f.sack && f.sack.length > 0 ? f.sack : undefined;
  const big = f.maxDatagram !== undefined && f.maxDatagram > 0;
  const payload = f.payload ?? new Uint8Array(0);
  const size = HEADER_SIZE + (sack ? 2 + sack.length : 0) + (big ? OFFER_BYTES : 0) + payload.length;
  const buf = new Uint8Array(size);
  writeHeader(
    buf,
    f.type,
    sack ? EXT_SACK : big ? EXT_BITS : 0,
    f.connectionId,
    f.timestamp ?? 0,
    f.timestampDiff ?? 0,
    f.wnd ?? 0,
    f.seq,
    f.ack,
  );
  const p = writeExtensions(buf, sack, big ? (f.maxDatagram as number) : 0);
  buf.set(payload, p);
  return buf;
}

/** `a - b` on 16-bit sequence numbers, as a signed distance in −32768..32767. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/**
 * A control or empty packet in a new buffer: SYN, STATE (optionally with a selective ack), FIN,
 * RESET; `large` > 0 appends bttkit's large-datagram offer.
 */
export function controlPacket(
  type: number,
  connectionId: number,
  timestamp: number,
  timestampDiff: number,
  wnd: number,
  seq: number,
  ack: number,
  sack: Uint8Array | undefined,
  large: number,
): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + (sack ? 2 + sack.length : 0) + (large > 0 ? OFFER_BYTES : 0));
  writeHeader(
    buf,
    type,
    sack ? EXT_SACK : large > 0 ? EXT_BITS : 0,
    connectionId,
    timestamp,
    timestampDiff,
    wnd,
    seq,
    ack,
  );
  writeExtensions(buf, sack, large);
  return buf;
}

/**
 * Writes the extension chain after the header (whose first-extension byte the caller set): the
 * selective ack if any, then, when `large` > 0, the extension bits and the large-datagram offer.
 * Returns the offset after the last extension.
 */
function writeExtensions(buf: Uint8Array, sack: Uint8Array | undefined, large: number): number {
  let p = HEADER_SIZE;
  if (sack) {
    buf[p] = large > 0 ? EXT_BITS : 0;
    buf[p + 1] = sack.length;
    buf.set(sack, p + 2);
    p += 2 + sack.length;
  }
  if (large > 0) {
    buf[p] = EXT_BTTKIT;
    buf[p + 1] = 8; // eight zero bytes of extension bits follow
    p += 10;
    buf.set([0, 4, 0x62, 0x74, (large >> 8) & 0xff, large & 0xff], p);
    p += 6;
  }
  return p;
}
