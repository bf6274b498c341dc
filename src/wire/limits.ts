/** The standard block size and the largest block a peer may request or send (BEP 3). */
export const BLOCK_SIZE = 16 * 1024;

/** Peer-wire message ids (BEP 3, BEP 5, BEP 6, BEP 10, BEP 52). */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  uninterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 0x0d,
  haveAll: 0x0e,
  haveNone: 0x0f,
  reject: 0x10,
  allowedFast: 0x11,
  extended: 20,
  hashRequest: 21,
  hashes: 22,
  hashReject: 23,
} as const;

/** Limits a {@link PeerWire} enforces on what a peer sends. */
export interface WireLimits {
  /** Most requests from the peer awaiting our answer; advertised as `reqq`. Default 1,024. */
  maxPeerRequests: number;
  /** Largest bitfield accepted before the torrent's size is known, in bytes. Default 50,000. */
  maxBitfieldBytes: number;
  /** Largest BEP 10 payload (after the extended id byte). Default 64 KiB. */
  maxExtendedPayload: number;
  /** Largest message of an unknown type (ignored, then dropped). Default 64 KiB. */
  maxUnknownMessage: number;
  /**
   * Largest block we request, serve or accept. Default and normal value: 16 KiB ({@link BLOCK_SIZE});
   * most clients drop a peer that asks for more. Larger blocks only between bttkit peers that all
   * agree (the swarm lab uses them to simulate big swarms cheaply).
   */
  maxBlockLength: number;
}

/** The default {@link WireLimits}. */
export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxPeerRequests: 1024,
  maxBitfieldBytes: 50_000,
  maxExtendedPayload: 64 * 1024,
  maxUnknownMessage: 64 * 1024,
  maxBlockLength: BLOCK_SIZE,
});

/** The torrent geometry a wire needs to validate indices; an `InfoDictionary` fits. */
export interface WireTorrent {
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly length: number;
}
