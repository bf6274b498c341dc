import { type InfoDictionary, pieceLengthAt } from '../metainfo/torrent.js';
import { concatBytes } from '../util/bytes.js';
import { WireError, type WireErrorCode } from './errors.js';
import * as bep52 from './hash-messages.js';
import { MessageId, type WireLimits, type WireTorrent } from './limits.js';

const PROTOCOL = 'BitTorrent protocol';
/** Bytes of a bitfield of `pieces` bits. */
const bitfieldBytes = (pieces: number): number => Math.ceil(pieces / 8);

/** Length of the BitTorrent handshake. */
export const HANDSHAKE_LENGTH = 68;
/** Length prefix, id, index and offset of a piece message. */
const PIECE_HEADER = 13;

/** The fields of a peer's handshake: views of the guard's own buffer (not lent). */
export interface Handshake {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  reserved: Uint8Array;
}

/**
 * Where {@link FrameGuard} sends each message it has framed, validated and decoded — the only
 * parse of the stream. Calls are synchronous and in stream order; the guard stops as soon as
 * `stopped` is true. Byte arrays the sink may keep are its own (copied from lent chunks, see
 * {@link FrameGuardOptions}), except a `piece` block.
 */
export interface GuardSink {
  /** True once the sink has closed the peer: the guard stops. */
  readonly stopped: boolean;
  /** The peer's handshake. Return `false` to hold further parsing until `resume()`. */
  handshake(handshake: Handshake): boolean;
  keepAlive(): void;
  /**
   * A fixed-size core message with its fields decoded (unused ones 0): choke, unchoke,
   * interested, uninterested, have-all, have-none (`id` alone); have, suggest, allowed-fast
   * (`a` = index); request, cancel, reject (`a` = index, `b` = offset, `c` = length); port
   * (`a` = port).
   */
  message(id: number, a: number, b: number, c: number): void;
  /** A bitfield (checked against the torrent when known, else when it becomes known). */
  bitfield(bits: Uint8Array): void;
  /** A block: a view into received data — with lent chunks valid only during the call. */
  piece(index: number, offset: number, block: Uint8Array): void;
  /** One BEP 10 message (id 20): extended id and payload. */
  extended(id: number, payload: Uint8Array): void;
  /** A message of a type the protocol does not define (at most `maxUnknownMessage` bytes). */
  unknown(id: number, payload: Uint8Array): void;
  /** A BEP 52 message 21–23 (once v2 is negotiated), decoded and bounded; without this, dropped. */
  hash?(id: number, message: bep52.HashRequest | bep52.HashesMessage): void;
}

function u32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) |
      ((b[at + 1] as number) << 16) |
      ((b[at + 2] as number) << 8) |
      (b[at + 3] as number)) >>>
    0
  );
}

function fail(code: WireErrorCode, message: string, details?: Record<string, number | string>): never {
  throw new WireError(code, message, details ? { details } : undefined);
}

/** Options of a {@link FrameGuard}. */
export interface FrameGuardOptions {
  /**
   * The chunks given to `push` are lent: overwritten once `push` returns (`Connection.lendsReadBuffer`).
   * The guard then copies what it hands on for keeping (bitfields, extended and unknown payloads);
   * blocks, whole or gathered, are views valid during the call. Default false: all views.
   */
  lentChunks?: boolean;
}

/** Most bitfield / have-all / have-none messages one peer may send (each replaces the last). */
export const MAX_PIECE_STATEMENTS = 16;

/**
 * The framing guard: the one parser of a peer's byte stream. It frames the stream itself,
 * refuses a message the moment its length prefix or type makes it illegal (before buffering it),
 * validates indices, sizes and ordering, decodes each message and hands it to its
 * {@link GuardSink}. A message whole in one chunk is handled in place (a block is handed on as a
 * view); only a message split across chunks is gathered, once.
 *
 * Throws {@link WireError} from `push` on the first violation; the caller drops the peer.
 */
export class FrameGuard {
  #limits: WireLimits;
  #torrent: WireTorrent | undefined;
  /** The torrent's piece geometry as `pieceLengthAt` reads it (cast where used). */
  #geometry: Pick<InfoDictionary, 'pieceCount' | 'pieceLength' | 'lastPieceLength'> | undefined;
  #fast = false;
  #v2 = false; // BEP 52 negotiated: messages 21–23 are legal
  #handshakeDone = false;
  #held: Uint8Array | undefined;
  /** Partial message: header bytes so far, or the assembly buffer of a split message. */
  #part: Uint8Array | undefined;
  #partFill = 0;
  #pieceInfoCount = 0;
  #pendingBitfield: Uint8Array | undefined;
  /**
   * A piece message split across reads: `#part` holds its 13-byte header, these the block's
   * bytes as views of the reads (no assembly buffer: a block that arrives whole after its
   * header is handed on without a copy).
   */
  #blockViews: Uint8Array[] | undefined;
  #blockFill = 0;
  #blockLength = 0;
  /** Reused by every split piece message: its header; with lent chunks, its block's assembly. */
  #splitHead: Uint8Array | undefined;
  #splitBlock: Uint8Array | undefined;
  readonly #sink: GuardSink;
  readonly #lent: boolean;

  constructor(sink: GuardSink, limits: WireLimits, torrent?: WireTorrent, options: FrameGuardOptions = {}) {
    this.#sink = sink;
    this.#limits = limits;
    if (torrent) this.#setGeometry(torrent);
    this.#lent = options.lentChunks === true;
  }

  /** True while parsing is held after the peer's handshake. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Enables the BEP 6 messages (both sides set the bit). */
  setFast(enabled: boolean): void {
    this.#fast = enabled;
  }

  /** Enables the BEP 52 messages 21–23 (v2 negotiated: see `negotiatedV2`). */
  setV2(enabled: boolean): void {
    this.#v2 = enabled;
  }

  /** Sets the torrent geometry; a bitfield received before is checked now (throws if wrong). */
  setTorrent(torrent: WireTorrent): void {
    this.#setGeometry(torrent);
    const bf = this.#pendingBitfield;
    this.#pendingBitfield = undefined;
    if (bf) this.#checkBitfield(bf, torrent);
  }

  #setGeometry(t: WireTorrent): void {
    this.#torrent = t;
    const { pieceCount, pieceLength } = t;
    this.#geometry = { pieceCount, pieceLength, lastPieceLength: t.length - (pieceCount - 1) * pieceLength };
  }

  /** The largest message (length prefix value) legal now. */
  maxMessageLength(): number {
    const l = this.#limits;
    const bitfield = this.#torrent ? bitfieldBytes(this.#torrent.pieceCount) : l.maxBitfieldBytes;
    const other = Math.max(l.maxUnknownMessage, this.#v2 ? bep52.MAX_HASHES_MESSAGE_LENGTH : 0);
    return Math.max(1 + bitfield, 9 + l.maxBlockLength, 2 + l.maxExtendedPayload, other);
  }

  /** Feeds bytes from the peer. */
  push(chunk: Uint8Array): void {
    if (this.#held) {
      const held = new Uint8Array(this.#held.length + chunk.length);
      held.set(this.#held);
      held.set(chunk, this.#held.length);
      this.#held = held;
      return;
    }
    this.#process(chunk);
  }

  /** Resumes parsing held after the handshake. */
  resume(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    if (held.length > 0) this.#process(held);
  }

  #process(chunk: Uint8Array): void {
    const sink = this.#sink;
    let pos = 0;
    if (!this.#handshakeDone) {
      pos = this.#handshake(chunk);
      if (pos < 0 || sink.stopped) return;
      if (this.#held) {
        this.#held = chunk.slice(pos);
        return;
      }
    }
    const n = chunk.length;
    // Finish a message split across chunks.
    if (this.#part) {
      pos = this.#continuePart(chunk, pos);
      if (pos < 0 || sink.stopped) return;
    }
    const lent = this.#lent;
    while (pos < n) {
      if (n - pos < 5) {
        if (n - pos >= 4 && u32(chunk, pos) === 0) {
          pos += 4;
          sink.keepAlive();
          if (sink.stopped) return;
          continue;
        }
        this.#startPart(chunk.subarray(pos));
        return;
      }
      const len = u32(chunk, pos);
      if (len === 0) {
        pos += 4;
        sink.keepAlive();
        if (sink.stopped) return;
        continue;
      }
      const id = chunk[pos + 4] as number;
      this.#checkHeader(len, id);
      const end = pos + 4 + len;
      if (end > n) {
        this.#startPart(chunk.subarray(pos));
        return;
      }
      this.#deliver(id, chunk.subarray(pos + 4, end), lent);
      if (sink.stopped) return;
      pos = end;
    }
  }

  #startPart(rest: Uint8Array): void {
    if (rest.length < 5) {
      const p = new Uint8Array(5);
      p.set(rest);
      this.#part = p;
      this.#partFill = rest.length;
      return;
    }
    const len = u32(rest, 0);
    if (rest[4] === MessageId.piece) {
      const head = Math.min(PIECE_HEADER, rest.length);
      this.#startBlock(len, rest.subarray(0, head));
      if (rest.length > head) this.#gather(rest, head);
      return;
    }
    const p = new Uint8Array(4 + len);
    p.set(rest);
    this.#part = p;
    this.#partFill = rest.length;
  }

  /** Enters the split-piece state with the first bytes (5 to 13) of its header. */
  #startBlock(len: number, head: Uint8Array): void {
    this.#splitHead ??= new Uint8Array(PIECE_HEADER); // read here, never handed on
    const p = this.#splitHead;
    p.set(head);
    this.#part = p;
    this.#partFill = head.length;
    this.#blockViews = [];
    this.#blockFill = 0;
    this.#blockLength = len - 9;
    if (head.length === PIECE_HEADER) this.#checkPieceHeader(p);
  }

  #checkPieceHeader(p: Uint8Array): void {
    this.#checkBlock(u32(p, 5), u32(p, 9), this.#blockLength);
  }

  /**
   * Takes block bytes from `chunk` at `pos`; returns the position after them. With lent chunks
   * a block that is not whole in this chunk is copied as it arrives into the guard's assembly
   * buffer (the chunk is overwritten once `push` returns; the block, like any block from lent
   * chunks, is valid only during the sink's call); a whole one stays a view.
   */
  #gather(chunk: Uint8Array, pos: number): number {
    const take = Math.min(this.#blockLength - this.#blockFill, chunk.length - pos);
    if (take > 0) {
      const views = this.#blockViews as Uint8Array[];
      if (!this.#lent || (this.#blockFill === 0 && take === this.#blockLength)) {
        views.push(chunk.subarray(pos, pos + take));
      } else {
        if (views.length === 0) {
          const n = this.#blockLength; // ≤ the block limit
          if ((this.#splitBlock?.length ?? 0) < n) this.#splitBlock = new Uint8Array(n);
          views.push((this.#splitBlock as Uint8Array).subarray(0, n));
        }
        (views[0] as Uint8Array).set(chunk.subarray(pos, pos + take), this.#blockFill);
      }
      this.#blockFill += take;
    }
    return pos + take;
  }

  /** Continues a split piece message; returns the position after it, or -1 when the chunk was used up. */
  #continueBlock(chunk: Uint8Array, pos: number): number {
    const head = this.#part as Uint8Array;
    if (this.#partFill < PIECE_HEADER) {
      const take = Math.min(PIECE_HEADER - this.#partFill, chunk.length - pos);
      head.set(chunk.subarray(pos, pos + take), this.#partFill);
      this.#partFill += take;
      pos += take;
      if (this.#partFill < PIECE_HEADER) return -1;
      this.#checkPieceHeader(head);
    }
    pos = this.#gather(chunk, pos);
    if (this.#blockFill < this.#blockLength) return -1;
    const views = this.#blockViews as Uint8Array[];
    this.#part = undefined;
    this.#partFill = 0;
    this.#blockViews = undefined;
    const block = views.length === 1 ? (views[0] as Uint8Array) : concatBytes(views);
    this.#sink.piece(u32(head, 5), u32(head, 9), block);
    return pos;
  }

  /** Returns the position after the completed message, or -1 when the chunk was used up. */
  #continuePart(chunk: Uint8Array, pos: number): number {
    if (this.#blockViews) return this.#continueBlock(chunk, pos);
    let part = this.#part as Uint8Array;
    if (part.length === 5 && this.#partFill < 5) {
      // Only a header so far.
      const take = Math.min(5 - this.#partFill, chunk.length - pos);
      part.set(chunk.subarray(pos, pos + take), this.#partFill);
      this.#partFill += take;
      pos += take;
      if (this.#partFill >= 4 && u32(part, 0) === 0) {
        // A keep-alive split across chunks; a 5th byte read belongs to the next message.
        const extra = this.#partFill - 4;
        this.#part = undefined;
        this.#partFill = 0;
        this.#sink.keepAlive();
        return pos - extra;
      }
      if (this.#partFill < 5) return -1;
      const len = u32(part, 0);
      this.#checkHeader(len, part[4] as number);
      if (part[4] === MessageId.piece) {
        this.#startBlock(len, part);
        return this.#continueBlock(chunk, pos);
      }
      const full = new Uint8Array(4 + len);
      full.set(part.subarray(0, 5));
      part = full;
      this.#part = full;
    }
    const take = Math.min(part.length - this.#partFill, chunk.length - pos);
    part.set(chunk.subarray(pos, pos + take), this.#partFill);
    this.#partFill += take;
    pos += take;
    if (this.#partFill < part.length) return -1;
    this.#part = undefined;
    this.#partFill = 0;
    // (A piece message never gets here: see #startBlock.) The assembly buffer is ours to give.
    this.#deliver(part[4] as number, part.subarray(4), false);
    return pos;
  }

  #handshake(chunk: Uint8Array): number {
    // Accumulate up to 68 bytes, checking the protocol string as it arrives.
    let part = this.#part;
    if (!part) {
      part = new Uint8Array(HANDSHAKE_LENGTH);
      this.#part = part;
      this.#partFill = 0;
    }
    const take = Math.min(HANDSHAKE_LENGTH - this.#partFill, chunk.length);
    part.set(chunk.subarray(0, take), this.#partFill);
    const before = this.#partFill;
    this.#partFill += take;
    for (let i = before; i < Math.min(this.#partFill, 20); i++) {
      const want = i === 0 ? 19 : PROTOCOL.charCodeAt(i - 1);
      if (part[i] !== want) {
        fail('WIRE_BAD_PROTOCOL', 'the peer did not start with the BitTorrent handshake', { offset: i });
      }
    }
    if (this.#partFill < HANDSHAKE_LENGTH) return -1;
    this.#part = undefined;
    this.#partFill = 0;
    this.#handshakeDone = true;
    const hs: Handshake = {
      reserved: part.subarray(20, 28),
      infoHash: part.subarray(28, 48),
      peerId: part.subarray(48, 68),
    };
    const go = this.#sink.handshake(hs);
    if (!go) this.#held = new Uint8Array(0);
    return take;
  }

  #checkHeader(len: number, id: number): void {
    const max = this.maxMessageLength();
    if (len > max) {
      fail('WIRE_MESSAGE_TOO_LARGE', `message of ${len} bytes (largest legal: ${max})`, { length: len, max });
    }
    const exact = (want: number) => {
      if (len !== want) {
        fail('WIRE_BAD_MESSAGE_LENGTH', `message ${id} must be ${want} bytes, not ${len}`, {
          id,
          length: len,
        });
      }
    };
    const needFast = () => {
      if (!this.#fast)
        fail('WIRE_UNEXPECTED_MESSAGE', `BEP 6 message ${id} without the fast extension`, { id });
    };
    switch (id) {
      case MessageId.choke:
      case MessageId.unchoke:
      case MessageId.interested:
      case MessageId.uninterested:
        exact(1);
        return;
      case MessageId.have:
        exact(5);
        return;
      case MessageId.bitfield: {
        const want = this.#torrent ? 1 + bitfieldBytes(this.#torrent.pieceCount) : undefined;
        if (want !== undefined && len !== want) {
          fail('WIRE_BAD_BITFIELD', `bitfield of ${len - 1} bytes, expected ${want - 1}`, { length: len });
        } else if (len > 1 + this.#limits.maxBitfieldBytes) {
          fail('WIRE_BAD_BITFIELD', `bitfield of ${len - 1} bytes`, { length: len });
        }
        return;
      }
      case MessageId.request:
      case MessageId.cancel:
        exact(13);
        return;
      case MessageId.piece:
        if (len < 10) fail('WIRE_BAD_MESSAGE_LENGTH', `piece message of ${len} bytes`, { id, length: len });
        if (len > 9 + this.#limits.maxBlockLength) {
          fail('WIRE_MESSAGE_TOO_LARGE', `block of ${len - 9} bytes (limit ${this.#limits.maxBlockLength})`, {
            length: len,
          });
        }
        return;
      case MessageId.port:
        exact(3);
        return;
      case MessageId.suggest:
      case MessageId.allowedFast:
        needFast();
        exact(5);
        return;
      case MessageId.haveAll:
      case MessageId.haveNone:
        needFast();
        exact(1);
        return;
      case MessageId.reject:
        needFast();
        exact(13);
        return;
      case MessageId.extended:
        if (len < 2) fail('WIRE_BAD_MESSAGE_LENGTH', 'extended message without an id', { length: len });
        if (len - 2 > this.#limits.maxExtendedPayload) {
          fail('WIRE_EXTENSION_MESSAGE_TOO_LARGE', `extended payload of ${len - 2} bytes`, { length: len });
        }
        return;
      case MessageId.hashRequest:
      case MessageId.hashes:
      case MessageId.hashReject:
        if (!this.#v2) fail('WIRE_UNEXPECTED_MESSAGE', `BEP 52 message ${id} without v2`, { id });
        bep52.checkHashFrame(id, len);
        return;
      default:
        if (len > this.#limits.maxUnknownMessage) {
          fail('WIRE_MESSAGE_TOO_LARGE', `unknown message ${id} of ${len} bytes`, { id, length: len });
        }
    }
  }

  #checkIndex(index: number): void {
    const t = this.#torrent;
    const max = t ? t.pieceCount : this.#limits.maxBitfieldBytes * 8;
    if (index >= max) fail('WIRE_OUT_OF_RANGE', `piece index ${index} outside the torrent`, { index });
  }

  #checkBlock(index: number, offset: number, length: number): void {
    const t = this.#torrent;
    if (!t) fail('WIRE_OUT_OF_RANGE', 'block message before the torrent is known', { index });
    this.#checkIndex(index);
    const pieceLen = pieceLengthAt(this.#geometry as InfoDictionary, index);
    if (offset + length > pieceLen) {
      fail('WIRE_OUT_OF_RANGE', `block ${offset}+${length} outside piece ${index}`, {
        index,
        offset,
        length,
      });
    }
  }

  /**
   * A bitfield, have-all or have-none. BEP 3 / BEP 6 want one, first; real clients are looser
   * (aria2 1.36 sends have-none, then a bitfield once it has pieces), so a later one is accepted
   * as a replacement of what the peer has — up to a bound, past which it is a flood.
   */
  #pieceInfo(id: number): void {
    if (++this.#pieceInfoCount > MAX_PIECE_STATEMENTS) {
      fail('WIRE_UNEXPECTED_MESSAGE', `message ${id}: more than ${MAX_PIECE_STATEMENTS} piece statements`, {
        id,
      });
    }
  }

  #checkBitfield(bf: Uint8Array, t: WireTorrent): void {
    const want = bitfieldBytes(t.pieceCount);
    if (bf.length !== want) {
      fail('WIRE_BAD_BITFIELD', `bitfield of ${bf.length} bytes for ${t.pieceCount} pieces`, {
        length: bf.length,
        want,
      });
    }
    const spare = want * 8 - t.pieceCount;
    if (spare > 0 && ((bf[want - 1] as number) & ((1 << spare) - 1)) !== 0) {
      fail('WIRE_BAD_BITFIELD', 'bitfield has spare bits set');
    }
  }

  /** Validates, decodes and hands on a whole message (`body`: id, payload; `copy`: it is lent). */
  #deliver(id: number, body: Uint8Array, copy: boolean): void {
    const sink = this.#sink;
    switch (id) {
      case MessageId.choke:
      case MessageId.unchoke:
      case MessageId.interested:
      case MessageId.uninterested:
        sink.message(id, 0, 0, 0);
        return;
      case MessageId.have:
      case MessageId.suggest:
      case MessageId.allowedFast: {
        const index = u32(body, 1);
        this.#checkIndex(index);
        sink.message(id, index, 0, 0);
        return;
      }
      case MessageId.bitfield: {
        this.#pieceInfo(id);
        const bf = body.subarray(1);
        if (this.#torrent) this.#checkBitfield(bf, this.#torrent);
        else this.#pendingBitfield = bf.slice();
        sink.bitfield(copy ? bf.slice() : bf);
        return;
      }
      case MessageId.haveAll:
      case MessageId.haveNone:
        this.#pieceInfo(id);
        sink.message(id, 0, 0, 0);
        return;
      case MessageId.request: {
        const index = u32(body, 1);
        const offset = u32(body, 5);
        const length = u32(body, 9);
        if (length === 0 || length > this.#limits.maxBlockLength) {
          fail(
            'WIRE_REQUEST_TOO_LARGE',
            `request for ${length} bytes (limit ${this.#limits.maxBlockLength})`,
            {
              length,
            },
          );
        }
        this.#checkBlock(index, offset, length);
        sink.message(id, index, offset, length);
        return;
      }
      case MessageId.piece: {
        const index = u32(body, 1);
        const offset = u32(body, 5);
        this.#checkBlock(index, offset, body.length - 9);
        sink.piece(index, offset, body.subarray(9));
        return;
      }
      case MessageId.cancel:
      case MessageId.reject: {
        const length = u32(body, 9);
        if (length > this.#limits.maxBlockLength)
          fail('WIRE_REQUEST_TOO_LARGE', `${id} for ${length} bytes`, { length });
        sink.message(id, u32(body, 1), u32(body, 5), length);
        return;
      }
      case MessageId.port:
        sink.message(id, ((body[1] as number) << 8) | (body[2] as number), 0, 0);
        return;
      case MessageId.extended:
        sink.extended(body[1] as number, copy ? body.slice(2) : body.subarray(2));
        return;
      case MessageId.hashRequest:
      case MessageId.hashes:
      case MessageId.hashReject: // decoded into copies: nothing refers to `body` afterwards
        sink.hash?.(id, bep52.decodeHashMessage(id, body.subarray(1)));
        return;
      default:
        sink.unknown(id, copy ? body.slice(1) : body.subarray(1));
    }
  }
}
