/** Piece priority: 0 = skip (never download), 1 = lowest … 7 = highest; 4 is the default. */
export type Priority = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Named priorities. */
export const PRIORITY = { skip: 0, low: 1, normal: 4, high: 6, top: 7 } as const satisfies Record<
  string,
  Priority
>;

/** How new pieces are chosen. */
export type PickMode = 'rarest' | 'sequential';

/**
 * One block the picker chose: `length` bytes at `offset` in `piece`. (The wire's request type,
 * `BlockRequest` in `bttkit/wire`, names the piece `index`, as BEP 3 does.)
 */
export interface PickedBlock {
  piece: number;
  offset: number;
  length: number;
}

/** A request the engine should cancel (endgame: another peer delivered the block first). */
export interface PeerBlock<K> extends PickedBlock {
  peer: K;
}

/** What {@link PiecePicker.blockReceived} tells the engine. */
export interface BlockReceipt<K> {
  /** The block was already received (a duplicate: endgame or an unsolicited resend). */
  duplicate: boolean;
  /** Every block of the piece is now received: hash it, then call `pieceVerified`. */
  pieceComplete: boolean;
  /** Requests for this block still outstanding at other peers: send them `cancel`. */
  cancel: PeerBlock<K>[];
}

/** Options of {@link PiecePicker}. */
export interface PickerOptions {
  pieceCount: number;
  pieceLength: number;
  /** Length of the last piece (default: `pieceLength`). */
  lastPieceLength?: number;
  /**
   * Bytes of each piece to download, when less than the piece: BEP 47 padding at a piece's end
   * (v2 and hybrid torrents) is zeros nobody sends, so its blocks are never requested. One entry
   * per piece, each from 1 to the piece's length. Default: whole pieces.
   */
  pieceDataLengths?: ArrayLike<number>;
  /** Block size; 16 KiB, the size every client accepts. */
  blockSize?: number;
  /** `rarest` (default) or strict `sequential`. */
  mode?: PickMode;
  /** Pick new pieces at random until this many are complete (default 4), as libtorrent does. */
  randomFirstPieces?: number;
  /** Most peers a block is requested from at once in endgame (default 2). */
  endgameRequesters?: number;
  /** Random source in [0, 1) — injectable for reproducible tests and simulations. */
  random?: () => number;
}

/** Options of {@link PiecePicker.pick}. */
export interface PickOptions {
  /**
   * Whether this peer may take pieces with a deadline (default true). The session passes false
   * for its slower peers, so that the pieces a reader waits for go to the fastest ones.
   */
  critical?: boolean;
}
