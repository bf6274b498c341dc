import { type BDict, decodePrefix, encode } from '../metainfo/bencode.js';
import { type InfoDictionary, parseInfoDictionary } from '../metainfo/torrent.js';
import { concatBytes, equalBytes } from '../util/bytes.js';
import type { TimerHandle } from '../util/clock.js';
import { sha1, sha256 } from '../util/hash.js';
import { TypedEmitter } from './emitter.js';
import { WireError } from './errors.js';
import type { ExtensionContext, ExtensionFactory, HandshakeValue, WireExtension } from './extension.js';

/** BEP 9 metadata piece size. */
export const METADATA_PIECE_SIZE = 16 * 1024;
/** Default cap on the size of an info dictionary fetched from a peer: 16 MiB. */
export const DEFAULT_MAX_METADATA_SIZE = 16 * 1024 * 1024;

const REQUEST = 0;
const DATA = 1;
const REJECT = 2;

/** Events of a {@link UtMetadataExtension}. */
export interface UtMetadataEvents {
  /** The info dictionary was fetched and verified against the info-hash. */
  metadata: [info: InfoDictionary];
  /** The peer rejected a request: it does not have (or will not give) the metadata. */
  rejected: [piece: number];
  /** A fetch failed without the peer breaking the protocol (timeout, size above our cap). */
  failed: [error: WireError];
}

/** Options of {@link utMetadata}. */
export interface UtMetadataOptions {
  /**
   * The torrent's info-hash (20 bytes, as on the wire): fetched metadata must hash to it — its
   * SHA-1 (v1, hybrid), or the first 20 bytes of its SHA-256 (BEP 52: a v2 torrent's truncated
   * info-hash) — unless `infoHashV2` is given.
   */
  infoHash: Uint8Array;
  /**
   * The BEP 52 v2 info-hash (32 bytes, SHA-256 of the info dictionary): when given, fetched (and
   * served) metadata is checked against it alone, in full.
   */
  infoHashV2?: Uint8Array;
  /** The info dictionary (bytes, or parsed and verified by the caller), when we have it: we then serve it. */
  info?: Uint8Array | InfoDictionary;
  /** Largest info dictionary we fetch. Default 16 MiB. */
  maxSize?: number;
  /** Fetch as soon as the peer announces `metadata_size`. Default true when `info` is absent. */
  autoFetch?: boolean;
  /** Give up a fetch when a piece takes longer than this. Default 30 s. */
  pieceTimeoutMs?: number;
  /** Requests in flight. Default 4. */
  pipeline?: number;
}

/**
 * BEP 9 on one wire: fetches the info dictionary in 16 KiB pieces (bounds-checked, size-capped,
 * verified against the info-hash: SHA-1, or SHA-256 for a BEP 52 v2 info-hash) and serves it when we have it, rejecting otherwise.
 * A peer sending unsolicited, misplaced or mis-sized pieces, or metadata that does not hash to
 * the info-hash, is dropped (`WIRE_METADATA_*` codes).
 */
export class UtMetadataExtension extends TypedEmitter<UtMetadataEvents> implements WireExtension {
  readonly name = 'ut_metadata';
  readonly maxPayload = METADATA_PIECE_SIZE + 1024;
  #ctx: ExtensionContext;
  #opts: UtMetadataOptions;
  #info: Uint8Array | undefined;
  #parsed: InfoDictionary | undefined;
  #size = 0;
  #pieces: (Uint8Array | undefined)[] = [];
  #inFlight = new Set<number>();
  #next = 0;
  #fetching = false;
  #timer: TimerHandle | undefined;
  #served = 0;

  constructor(ctx: ExtensionContext, options: UtMetadataOptions) {
    super();
    if (options.infoHash.length !== 20)
      throw new WireError('WIRE_METADATA_BAD_OPTIONS', 'info-hash must be 20 bytes');
    if (options.infoHashV2 !== undefined && options.infoHashV2.length !== 32)
      throw new WireError('WIRE_METADATA_BAD_OPTIONS', 'v2 info-hash must be 32 bytes');
    this.#ctx = ctx;
    this.#opts = options;
    if (options.info) this.setMetadata(options.info);
  }

  /** The verified info dictionary, once known. */
  get metadata(): InfoDictionary | undefined {
    return this.#parsed;
  }

  /**
   * Gives the extension the info dictionary so it serves it: raw bytes (hashed against the
   * info-hash and parsed here) or an already parsed {@link InfoDictionary} (its own info-hash
   * must match; no second hash or parse — a session hands the same one to every wire).
   */
  setMetadata(info: Uint8Array | InfoDictionary): void {
    if (!(info instanceof Uint8Array)) {
      const v2 = this.#opts.infoHashV2;
      const ok = v2
        ? info.infoHashV2Bytes !== undefined && equalBytes(info.infoHashV2Bytes, v2)
        : equalBytes(info.infoHashBytes, this.#opts.infoHash);
      if (!ok)
        throw new WireError('WIRE_METADATA_HASH_MISMATCH', 'info dictionary does not match the info-hash');
      this.#parsed = info;
      this.#info = info.infoBytes;
      return;
    }
    if (!this.#hashMatches(info)) {
      throw new WireError('WIRE_METADATA_HASH_MISMATCH', 'info dictionary does not match the info-hash');
    }
    this.#parsed = parseInfoDictionary(info);
    this.#info = info;
  }

  /** SHA-256 against `infoHashV2` when given; else SHA-1, or truncated SHA-256, against `infoHash`. */
  #hashMatches(info: Uint8Array): boolean {
    const v2 = this.#opts.infoHashV2;
    if (v2) return equalBytes(sha256(info), v2);
    const ih = this.#opts.infoHash;
    return equalBytes(sha1(info), ih) || equalBytes(sha256(info).subarray(0, 20), ih);
  }

  handshakeFields(): Readonly<Record<string, HandshakeValue>> {
    return this.#info ? { metadata_size: this.#info.length } : {};
  }

  onExtendedHandshake(handshake: BDict): void {
    if (!this.#ctx.peerSupports || this.#info || this.#fetching) return;
    const size = handshake.get('metadata_size');
    if (typeof size !== 'bigint') return;
    if (size <= 0n) return;
    if (size > BigInt(this.#opts.maxSize ?? DEFAULT_MAX_METADATA_SIZE)) {
      this.emit(
        'failed',
        new WireError('WIRE_METADATA_TOO_LARGE', `peer announces ${size} bytes of metadata`),
      );
      return;
    }
    this.#size = Number(size);
    if (this.#opts.autoFetch ?? true) this.fetch();
  }

  /** Starts fetching (needs the peer's `metadata_size`). Idempotent. */
  fetch(): void {
    if (this.#info || this.#fetching || this.#size === 0) return;
    this.#fetching = true;
    this.#pieces = new Array(Math.ceil(this.#size / METADATA_PIECE_SIZE)).fill(undefined);
    this.#next = 0;
    this.#pump();
  }

  #pump(): void {
    const pipeline = this.#opts.pipeline ?? 4;
    while (this.#inFlight.size < pipeline && this.#next < this.#pieces.length) {
      const piece = this.#next++;
      this.#inFlight.add(piece);
      this.#ctx.send(encode({ msg_type: REQUEST, piece }));
    }
    this.#timer?.cancel();
    if (this.#inFlight.size > 0) {
      const ms = this.#opts.pieceTimeoutMs ?? 30_000;
      this.#timer = this.#ctx.clock.setTimeout(
        () => this.#fail(new WireError('WIRE_METADATA_TIMEOUT', 'metadata piece timed out')),
        ms,
      );
    }
  }

  #fail(error: WireError): void {
    this.#timer?.cancel();
    this.#fetching = false;
    this.#inFlight.clear();
    this.emit('failed', error);
  }

  onMessage(payload: Uint8Array): void {
    let dict: BDict;
    let end: number;
    try {
      const r = decodePrefix(payload, 0, {
        maxBytes: payload.length,
        maxDepth: 2,
        maxItems: 32,
        maxIntegerDigits: 12,
      });
      if (!(r.value instanceof Map))
        throw new WireError('WIRE_METADATA_MALFORMED', 'ut_metadata message is not a dictionary');
      dict = r.value;
      end = r.end;
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError('WIRE_METADATA_MALFORMED', 'malformed ut_metadata message', { cause: err });
    }
    const type = dict.get('msg_type');
    const pieceV = dict.get('piece');
    if (typeof type !== 'bigint' || typeof pieceV !== 'bigint' || pieceV < 0n || pieceV > 100_000n) {
      throw new WireError(
        'WIRE_METADATA_MALFORMED',
        'ut_metadata message without a valid msg_type and piece',
      );
    }
    const piece = Number(pieceV);
    if (type === BigInt(REQUEST)) {
      this.#serve(piece);
      return;
    }
    if (type === BigInt(REJECT)) {
      if (this.#inFlight.has(piece))
        this.#fail(new WireError('WIRE_METADATA_REJECTED', 'the peer rejected the request'));
      this.emit('rejected', piece);
      return;
    }
    if (type !== BigInt(DATA)) return; // unknown types are ignored (BEP 9)
    const data = payload.subarray(end);
    if (!this.#fetching || !this.#inFlight.has(piece)) {
      throw new WireError('WIRE_METADATA_UNEXPECTED', `unrequested metadata piece ${piece}`, {
        details: { piece },
      });
    }
    const total = dict.get('total_size');
    if (total !== undefined && total !== BigInt(this.#size)) {
      throw new WireError('WIRE_METADATA_BAD_PIECE', 'total_size differs from metadata_size');
    }
    const want =
      piece === this.#pieces.length - 1 ? this.#size - piece * METADATA_PIECE_SIZE : METADATA_PIECE_SIZE;
    if (data.length !== want) {
      throw new WireError(
        'WIRE_METADATA_BAD_PIECE',
        `metadata piece ${piece} of ${data.length} bytes, expected ${want}`,
        {
          details: { piece, length: data.length, want },
        },
      );
    }
    this.#inFlight.delete(piece);
    this.#pieces[piece] = data.slice();
    if (this.#pieces.every((p) => p !== undefined)) {
      this.#timer?.cancel();
      this.#fetching = false;
      const info = concatBytes(this.#pieces as Uint8Array[]);
      this.#pieces = [];
      if (!this.#hashMatches(info)) {
        throw new WireError(
          'WIRE_METADATA_HASH_MISMATCH',
          'metadata from the peer does not match the info-hash',
        );
      }
      let parsed: InfoDictionary;
      try {
        parsed = parseInfoDictionary(info);
      } catch (err) {
        // It hashes right, so the torrent itself is bad: not the peer's fault.
        this.emit(
          'failed',
          new WireError('WIRE_METADATA_INVALID', 'the info dictionary is invalid', { cause: err }),
        );
        return;
      }
      this.#info = info;
      this.#parsed = parsed;
      this.emit('metadata', parsed);
      return;
    }
    this.#pump();
  }

  #serve(piece: number): void {
    const info = this.#info;
    const count = info ? Math.ceil(info.length / METADATA_PIECE_SIZE) : 0;
    // Each piece at most a few times per connection: bounded upload to a request flood.
    if (!info || piece >= count || this.#served >= 4 * count + 8) {
      this.#ctx.send(encode({ msg_type: REJECT, piece }));
      return;
    }
    this.#served++;
    const data = info.subarray(piece * METADATA_PIECE_SIZE, (piece + 1) * METADATA_PIECE_SIZE);
    this.#ctx.send(concatBytes([encode({ msg_type: DATA, piece, total_size: info.length }), data]));
  }

  onClose(): void {
    this.#timer?.cancel();
  }
}

/** The `ut_metadata` extension factory for `PeerWire.use`. */
export function utMetadata(options: UtMetadataOptions): ExtensionFactory<UtMetadataExtension> {
  return (ctx) => new UtMetadataExtension(ctx, options);
}
