import { equalBytes, toHex } from '../util/bytes.js';
import { WireError } from './errors.js';

/**
 * BEP 52 `hash request` (21), `hashes` (22) and `hash reject` (23): the codec and its bounds.
 *
 * Every integer is a big-endian u32. A `hash request` / `hash reject` payload is the file's
 * 32-byte pieces root, the base layer (0 = the 16 KiB block hashes), the index of the first
 * hash in that layer, the number of hashes (`length`) and the number of proof layers; a
 * `hashes` payload adds `length` base hashes and the uncle hashes, lowest first.
 *
 * Bounds (what a received message must meet, or the peer is dropped with
 * `WIRE_BAD_HASH_MESSAGE`; what an encoder refuses with the same code):
 * - `length` 1 .. {@link MAX_HASH_REQUEST_LENGTH} (8,192: libtorrent's limit; BEP 52 says a
 *   request SHOULD NOT exceed 512, so send at most 512). A power of two, except a run truncated
 *   by the end of its layer (BEP 52), so any length is accepted whose index is a multiple of the
 *   power of two it rounds up to (a power-of-two length: a multiple of the length).
 * - `proofLayers` 0 .. {@link MAX_PROOF_LAYERS}.
 * - `hashes` carries exactly `length` + {@link hashesUncleCount}(`length`, `proofLayers`) hashes:
 *   the proof layers the base hashes compute themselves are omitted (BEP 52; libtorrent checks
 *   the same count and drops a peer that sends another).
 * @module
 */

/** Message id of `hash request` (BEP 52). */
export const HASH_REQUEST_ID = 21;
/** Message id of `hashes` (BEP 52). */
export const HASHES_ID = 22;
/** Message id of `hash reject` (BEP 52). */
export const HASH_REJECT_ID = 23;

/** Most hashes one request may ask for (libtorrent's bound; BEP 52 advises at most 512). */
export const MAX_HASH_REQUEST_LENGTH = 8192;
/** Most proof layers one request may ask for (a 2^64-byte file has fewer layers). */
export const MAX_PROOF_LAYERS = 64;
/** Bytes of a `hash request` / `hash reject` payload (after the id byte). */
export const HASH_REQUEST_PAYLOAD = 48;
/** Largest `hashes` message (length prefix value: id, header, base hashes and uncles). */
export const MAX_HASHES_MESSAGE_LENGTH =
  1 + HASH_REQUEST_PAYLOAD + (MAX_HASH_REQUEST_LENGTH + MAX_PROOF_LAYERS + 1) * 32;

/** A BEP 52 `hash request` (also the payload of a `hash reject`). */
export interface HashRequest {
  /** The file's pieces root (32 bytes). */
  piecesRoot: Uint8Array;
  /** The layer of the requested hashes: 0 = the 16 KiB block hashes, log2(piece length / 16 KiB) = the piece layer. */
  baseLayer: number;
  /** Index of the first requested hash in the base layer (a multiple of `length`). */
  index: number;
  /** Number of base-layer hashes (1 .. {@link MAX_HASH_REQUEST_LENGTH}). */
  length: number;
  /** Ancestor layers to prove (0 .. {@link MAX_PROOF_LAYERS}); see {@link hashesUncleCount}. */
  proofLayers: number;
}

/** A BEP 52 `hashes` message: the request it answers, the base hashes and their proof. */
export interface HashesMessage extends HashRequest {
  /** `length` × 32 bytes: the base-layer hashes from `index`. */
  hashes: Uint8Array;
  /** The uncle hashes (32 bytes each), lowest layer first, as `verifyMerkleProof` takes them. */
  uncles: Uint8Array;
}

function bad(message: string, details: Record<string, number | string>): never {
  throw new WireError('WIRE_BAD_HASH_MESSAGE', message, { details });
}

function ceilLog2(n: number): number {
  let k = 0;
  while (2 ** k < n) k++;
  return k;
}

/**
 * Uncle hashes a `hashes` message carries for a request of `length` hashes and `proofLayers`
 * proof layers: the first log2(length) − 1 proof layers are omitted, as the base hashes compute
 * them (a lone hash needs its sibling at the base layer too: `proofLayers` + 1).
 */
export function hashesUncleCount(length: number, proofLayers: number): number {
  return Math.max(0, proofLayers - (ceilLog2(length) - 1));
}

/** Throws `WIRE_BAD_HASH_MESSAGE` unless `req`'s fields are within the bounds above. */
export function checkHashRequest(req: HashRequest): void {
  const { piecesRoot, baseLayer, index, length, proofLayers } = req;
  if (!(piecesRoot instanceof Uint8Array) || piecesRoot.length !== 32) {
    bad('pieces root must be 32 bytes', { field: 'piecesRoot' });
  }
  const u32 = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) bad(`${name} ${v} is not a u32`, { field: name });
  };
  u32('baseLayer', baseLayer);
  u32('index', index);
  u32('length', length);
  u32('proofLayers', proofLayers);
  if (baseLayer > MAX_PROOF_LAYERS) bad(`base layer ${baseLayer}`, { baseLayer });
  if (length < 1 || length > MAX_HASH_REQUEST_LENGTH) {
    bad(`hash request for ${length} hashes (1..${MAX_HASH_REQUEST_LENGTH})`, { length });
  }
  if (index % 2 ** ceilLog2(length) !== 0) {
    bad(`index ${index} is not aligned to a run of ${length} hashes`, { index, length });
  }
  if (proofLayers > MAX_PROOF_LAYERS) bad(`${proofLayers} proof layers`, { proofLayers });
}

function readU32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) |
      ((b[at + 1] as number) << 16) |
      ((b[at + 2] as number) << 8) |
      (b[at + 3] as number)) >>>
    0
  );
}

function writeHeader(out: Uint8Array, id: number, req: HashRequest): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(0, out.length - 4);
  out[4] = id;
  out.set(req.piecesRoot, 5);
  v.setUint32(37, req.baseLayer);
  v.setUint32(41, req.index);
  v.setUint32(45, req.length);
  v.setUint32(49, req.proofLayers);
}

function encodeRequestLike(id: number, req: HashRequest): Uint8Array {
  checkHashRequest(req);
  const out = new Uint8Array(4 + 1 + HASH_REQUEST_PAYLOAD);
  writeHeader(out, id, req);
  return out;
}

/** A whole `hash request` message (length prefix, id 21, payload), ready to write. */
export function encodeHashRequest(req: HashRequest): Uint8Array {
  return encodeRequestLike(HASH_REQUEST_ID, req);
}

/** A whole `hash reject` message (id 23) for the request `req`. */
export function encodeHashReject(req: HashRequest): Uint8Array {
  return encodeRequestLike(HASH_REJECT_ID, req);
}

/**
 * A whole `hashes` message (id 22). `hashes` must be `length` × 32 bytes and `uncles`
 * {@link hashesUncleCount} × 32 bytes.
 */
export function encodeHashes(msg: HashesMessage): Uint8Array {
  checkHashRequest(msg);
  if (msg.hashes.length !== msg.length * 32) {
    bad(`${msg.hashes.length} bytes of hashes for a length of ${msg.length}`, { length: msg.length });
  }
  const uncles = hashesUncleCount(msg.length, msg.proofLayers);
  if (msg.uncles.length !== uncles * 32) {
    bad(`${msg.uncles.length / 32} uncle hashes where ${uncles} are due`, { uncles });
  }
  const out = new Uint8Array(4 + 1 + HASH_REQUEST_PAYLOAD + msg.hashes.length + msg.uncles.length);
  writeHeader(out, HASHES_ID, msg);
  out.set(msg.hashes, 53);
  out.set(msg.uncles, 53 + msg.hashes.length);
  return out;
}

function decodeHeader(payload: Uint8Array): HashRequest {
  const req: HashRequest = {
    piecesRoot: payload.slice(0, 32),
    baseLayer: readU32(payload, 32),
    index: readU32(payload, 36),
    length: readU32(payload, 40),
    proofLayers: readU32(payload, 44),
  };
  checkHashRequest(req);
  return req;
}

/**
 * Decodes the payload (after the id byte) of a `hash request` or `hash reject`: exactly 48
 * bytes, fields within bounds, else `WIRE_BAD_HASH_MESSAGE`. The result owns its bytes.
 */
export function decodeHashRequest(payload: Uint8Array): HashRequest {
  if (payload.length !== HASH_REQUEST_PAYLOAD) {
    bad(`hash request payload of ${payload.length} bytes (want ${HASH_REQUEST_PAYLOAD})`, {
      length: payload.length,
    });
  }
  return decodeHeader(payload);
}

/**
 * Decodes the payload (after the id byte) of a `hashes` message: the header within bounds and
 * exactly `length` + {@link hashesUncleCount} hashes, else `WIRE_BAD_HASH_MESSAGE`. The result
 * owns its bytes.
 */
export function decodeHashes(payload: Uint8Array): HashesMessage {
  const n = payload.length;
  if (
    n < HASH_REQUEST_PAYLOAD ||
    n > MAX_HASHES_MESSAGE_LENGTH - 1 ||
    (n - HASH_REQUEST_PAYLOAD) % 32 !== 0
  ) {
    bad(`hashes payload of ${n} bytes`, { length: n });
  }
  const req = decodeHeader(payload);
  const uncles = hashesUncleCount(req.length, req.proofLayers);
  const count = (n - HASH_REQUEST_PAYLOAD) / 32;
  if (count !== req.length + uncles) {
    bad(`${count} hashes for ${req.length} base hashes and ${uncles} uncles`, {
      count,
      length: req.length,
      proofLayers: req.proofLayers,
    });
  }
  const base = HASH_REQUEST_PAYLOAD + req.length * 32;
  return { ...req, hashes: payload.slice(HASH_REQUEST_PAYLOAD, base), uncles: payload.slice(base) };
}

/** Decodes the payload of message `id` (21, 22 or 23): {@link decodeHashes} for 22, else {@link decodeHashRequest}. */
export function decodeHashMessage(id: number, payload: Uint8Array): HashRequest | HashesMessage {
  return id === HASHES_ID ? decodeHashes(payload) : decodeHashRequest(payload);
}

/**
 * Throws `WIRE_BAD_HASH_MESSAGE` when a frame's length (prefix value, id included) cannot be
 * message `id`'s: 49 bytes for a request or reject, 49 + a multiple of 32 up to
 * {@link MAX_HASHES_MESSAGE_LENGTH} for `hashes`. Called before the message is buffered.
 */
export function checkHashFrame(id: number, len: number): void {
  const head = 1 + HASH_REQUEST_PAYLOAD;
  const ok =
    id === HASHES_ID
      ? len >= head && len <= MAX_HASHES_MESSAGE_LENGTH && (len - head) % 32 === 0
      : len === head;
  if (!ok) bad(`message ${id} of ${len} bytes`, { id, length: len });
}

/** A request's identity, for matching a `hashes` or `hash reject` to it. */
export function hashRequestKey(req: HashRequest): string {
  return `${toHex(req.piecesRoot)}:${req.baseLayer}:${req.index}:${req.length}:${req.proofLayers}`;
}

/** What decides whether a connection speaks BEP 52 (see {@link negotiatedV2}). */
export interface V2Options {
  /** Set the v2 bit in our handshake: we serve a v2 or hybrid torrent. */
  v2?: boolean;
  /** The torrent's v2 info-hash (32 bytes). */
  infoHashV2?: Uint8Array;
}

/**
 * BEP 52: may messages 21–23 flow on a connection? Yes when a handshake names the torrent by its
 * truncated v2 info-hash (`named`: ours and the peer's; `infoHashV2` must be given), or both
 * handshakes carry the v2 bit (reserved byte 7, 0x10) — a hybrid named by its v1 hash. Both
 * ends reach the same answer, as libtorrent 2.0 does: it treats a peer as v2 on the truncated v2
 * hash or on the peer's bit, sets the bit itself on a hybrid's v1 hash only (not on a v2 hash),
 * and drops a peer that sends hash messages otherwise.
 */
export function negotiatedV2(
  ours: V2Options,
  peerBit: boolean,
  named: readonly (Uint8Array | undefined)[],
): boolean {
  const v2 = ours.infoHashV2?.subarray(0, 20);
  const byHash = v2 !== undefined && named.some((h) => h !== undefined && equalBytes(v2, h));
  return byHash || (ours.v2 === true && peerBit);
}

/** Most of our `hash request`s one wire keeps unanswered (libtorrent keeps two in flight). */
export const MAX_OUTSTANDING_HASH_REQUESTS = 64;

/**
 * Our unanswered hash requests on one wire: a `hashes` or `hash reject` must match one (BEP 52:
 * "MUST correlate"). Bounded by {@link MAX_OUTSTANDING_HASH_REQUESTS}.
 */
export class HashRequestLedger {
  readonly #open = new Map<string, number>();
  #size = 0;

  /** Unanswered requests. */
  get size(): number {
    return this.#size;
  }

  /** Records a request being sent; throws `WIRE_TOO_MANY_REQUESTS` above the bound. */
  add(req: HashRequest): void {
    if (this.#size >= MAX_OUTSTANDING_HASH_REQUESTS) {
      throw new WireError('WIRE_TOO_MANY_REQUESTS', `${this.#size} hash requests unanswered`, {
        details: { max: MAX_OUTSTANDING_HASH_REQUESTS },
      });
    }
    const key = hashRequestKey(req);
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
    this.#size++;
  }

  /** Removes the request `answer` answers; false when none is open. */
  take(answer: HashRequest): boolean {
    const key = hashRequestKey(answer);
    const n = this.#open.get(key);
    if (n === undefined) return false;
    if (n > 1) this.#open.set(key, n - 1);
    else this.#open.delete(key);
    this.#size--;
    return true;
  }

  /** Forgets every request (the wire closed). */
  clear(): void {
    this.#open.clear();
    this.#size = 0;
  }
}

/** Where a {@link HashExchange} reports what the peer sent. */
export interface HashExchangeHandlers {
  request(req: HashRequest): void;
  hashes(msg: HashesMessage): void;
  reject(req: HashRequest): void;
}

/**
 * The BEP 52 state of one connection (used by `PeerWire`): our v2 options, whether v2 was
 * negotiated, our unanswered hash requests; encodes what we send, matches what the peer answers.
 */
export class HashExchange {
  #opts: V2Options;
  #on = false;
  readonly #ledger = new HashRequestLedger();
  readonly #handlers: HashExchangeHandlers;

  constructor(opts: V2Options, handlers: HashExchangeHandlers) {
    this.#opts = HashExchange.#check(opts);
    this.#handlers = handlers;
  }

  static #check(o: V2Options): V2Options {
    if (o.infoHashV2 && o.infoHashV2.length !== 32)
      throw new WireError('WIRE_BAD_INFOHASH', 'v2 info-hash must be 32 bytes');
    return { v2: o.v2 === true, ...(o.infoHashV2 ? { infoHashV2: o.infoHashV2 } : {}) };
  }

  /** Replaces the options (accepting: the torrent is known only now). */
  configure(opts: V2Options): void {
    this.#opts = HashExchange.#check(opts);
  }

  /** Whether our handshake sets the v2 bit. */
  get bit(): boolean {
    return this.#opts.v2 === true;
  }

  /** True once v2 is negotiated. */
  get on(): boolean {
    return this.#on;
  }

  /** Both handshakes are in: decides (see {@link negotiatedV2}) and returns whether v2 is on. */
  settle(peerBit: boolean, named: readonly (Uint8Array | undefined)[]): boolean {
    this.#on = negotiatedV2(this.#opts, peerBit, named);
    return this.#on;
  }

  /**
   * BEP 52's upgrade of a hybrid: we set the v2 bit and `infoHash` (named by the other end, or by
   * us answering a peer that set the bit) is the torrent's truncated v2 info-hash — accepted in
   * place of the v1 hash the other end named.
   */
  upgrade(infoHash: Uint8Array): boolean {
    const v2 = this.#opts.infoHashV2;
    return this.#opts.v2 === true && v2 !== undefined && equalBytes(v2.subarray(0, 20), infoHash);
  }

  #need(): void {
    if (!this.#on) throw new WireError('WIRE_NOT_SUPPORTED', 'BEP 52 (v2) was not negotiated');
  }

  /** A `hash request` to send (recorded as unanswered). */
  request(req: HashRequest): Uint8Array {
    const msg = encodeHashRequest(req);
    this.#need();
    this.#ledger.add(req);
    return msg;
  }

  /** A `hashes` answer to send. */
  answer(msg: HashesMessage): Uint8Array {
    const out = encodeHashes(msg);
    this.#need();
    return out;
  }

  /** A `hash reject` to send. */
  reject(req: HashRequest): Uint8Array {
    const out = encodeHashReject(req);
    this.#need();
    return out;
  }

  /**
   * A message the guard decoded. `hashes` we did not ask for throw `WIRE_UNEXPECTED_MESSAGE`; a
   * reject of nothing we asked is ignored (as libtorrent does).
   */
  receive(id: number, m: HashRequest | HashesMessage): void {
    if (id === HASH_REQUEST_ID) this.#handlers.request(m);
    else if (!this.#ledger.take(m)) {
      if ('uncles' in m) throw new WireError('WIRE_UNEXPECTED_MESSAGE', 'hashes we did not ask for');
    } else if ('uncles' in m) this.#handlers.hashes(m);
    else this.#handlers.reject(m);
  }

  /** Forgets our requests (the wire closed). */
  close(): void {
    this.#ledger.clear();
    this.#on = false;
  }
}
