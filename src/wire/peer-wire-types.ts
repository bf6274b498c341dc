import type { Clock } from '../util/clock.js';
import type { WireError } from './errors.js';
import type { ExtendedHandshakeInfo } from './extension-registry.js';
import type { HashesMessage, HashRequest } from './hash-messages.js';
import type { WireLimits, WireTorrent } from './limits.js';

/* The public types of a PeerWire (peer-wire.ts re-exports them). */

/** One block: a piece index, a byte offset inside the piece and a length. */
export interface BlockRequest {
  index: number;
  offset: number;
  length: number;
}

/** The handshake reserved bits bttkit reads. */
export interface PeerCapabilities {
  /** BEP 10 extension protocol (reserved byte 5, bit 0x10). */
  extended: boolean;
  /** BEP 5 DHT, i.e. the `port` message (reserved byte 7, bit 0x01). */
  dht: boolean;
  /** BEP 6 fast extension (reserved byte 7, bit 0x04). */
  fast: boolean;
  /** BEP 52 BitTorrent v2 (reserved byte 7, bit 0x10): may exchange messages 21–23. */
  v2: boolean;
}

/** The peer's handshake. */
export interface PeerHandshake extends PeerCapabilities {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The 8 reserved bytes as sent. */
  reserved: Uint8Array;
}

/**
 * Answers a peer's request: the block, or an error (sends a BEP 6 reject when possible).
 * `onSent`, given with a block, is called once the wire and its connection hold no reference to
 * the block any more (written, or not sent at all), so its buffer may be reused; it may never be
 * called (the wire closed, or the connection cannot tell) — a buffer is then left to the GC.
 */
export type RespondFn = (result: Uint8Array | Error, onSent?: () => void) => void;

/** Called once with the block, or a {@link WireError}. */
export type RequestCallback = (error: WireError | null, block?: Uint8Array) => void;

/**
 * Events of a {@link PeerWire}. Byte arrays are views into received data: copy to keep them
 * apart. With {@link PeerWireOptions.lendBlocks} the block of `piece` (and of a request's
 * callback) is valid only during the call.
 */
export interface PeerWireEvents {
  handshake: [PeerHandshake];
  'extended-handshake': [ExtendedHandshakeInfo];
  'keep-alive': [];
  choke: [];
  unchoke: [];
  interested: [];
  uninterested: [];
  have: [index: number];
  bitfield: [bits: Uint8Array];
  'have-all': [];
  'have-none': [];
  request: [request: BlockRequest, respond: RespondFn];
  piece: [index: number, offset: number, block: Uint8Array];
  cancel: [request: BlockRequest];
  port: [port: number];
  suggest: [index: number];
  reject: [request: BlockRequest];
  'allowed-fast': [index: number];
  /** BEP 52: the peer asks for hashes; answer with `hashes` or `hashReject` (BEP 52: MUST answer). */
  'hash-request': [request: HashRequest];
  /** BEP 52: the answer to one of our hash requests (verify it: see `verifyMerkleProof`). */
  hashes: [message: HashesMessage];
  /** BEP 52: the peer will not answer one of our hash requests. */
  'hash-reject': [request: HashRequest];
  /** A message of a type we do not know (ignored by the protocol). */
  unknown: [id: number, payload: Uint8Array];
  /** The write buffer drained after going above its high-water mark. */
  drain: [];
  /** The wire is closed: `undefined` when we closed it without a reason. Emitted once. */
  close: [error: WireError | undefined];
}

/** Options of a {@link PeerWire}. */
export interface PeerWireOptions {
  /** Our 20-byte peer id. */
  peerId: Uint8Array;
  /** The torrent, when known (outgoing connections). A peer naming another is dropped. */
  infoHash?: Uint8Array;
  /** The torrent's geometry, when known; enables index checks. See {@link PeerWire.setTorrent}. */
  torrent?: WireTorrent;
  /** Timer source. Default: the real clock. */
  clock?: Clock;
  /** Offer BEP 6. Default true. */
  fast?: boolean;
  /** Set the BEP 5 DHT bit (we can answer a `port` message). Default false. */
  dht?: boolean;
  /**
   * Set the BEP 52 bit (reserved byte 7, 0x10): we speak BitTorrent v2 (a v2 or hybrid torrent;
   * never a v1-only one: libtorrent drops such a peer). Default false. Hash messages then flow if
   * the peer set the bit too, or the handshakes name the torrent by its truncated v2 info-hash
   * (see `negotiatedV2`). Accepting a connection, give it to {@link PeerWire.handshake} instead.
   */
  v2?: boolean;
  /**
   * The torrent's v2 info-hash (32 bytes; v2 or hybrid): a handshake naming its first 20 bytes
   * speaks BEP 52, bit or not (libtorrent does not set the bit then).
   */
  infoHashV2?: Uint8Array;
  /** `v` in our extended handshake. Default `bttkit`. */
  client?: string;
  /** `p` in our extended handshake: our listen port. */
  listenPort?: number;
  /** Limits on what the peer may send. */
  limits?: Partial<WireLimits>;
  /** Send a keep-alive when nothing was sent for this long. Default 60 s. */
  keepAliveMs?: number;
  /** Drop the peer when nothing arrived for this long. Default 150 s (BEP 3 says two minutes). */
  timeoutMs?: number;
  /** Drop the peer when both handshakes are not done in this time. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Batch outgoing messages into one write per event-loop turn. Default true. */
  batchWrites?: boolean;
  /**
   * Hand received blocks (the `piece` event, request callbacks) on as views into the
   * connection's read buffer, valid only during the call, when the connection lends it
   * ({@link Connection.lendsReadBuffer}): no copy per block for a consumer that copies anyway,
   * like the session, which puts blocks into its store. Default false: such a block is copied
   * first, so it may be kept.
   */
  lendBlocks?: boolean;
}
