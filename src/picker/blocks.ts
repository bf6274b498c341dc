import { pieceLengthAt } from '../metainfo/torrent.js';
import type { Bitfield } from '../util/bitfield.js';
import { PickerError } from './errors.js';
import type { BlockReceipt, PeerBlock, PickedBlock } from './types.js';

const FREE = 0;
const REQUESTED = 1;
const RECEIVED = 2;

/** A piece being downloaded: the state of each block and who it is requested from. */
export interface Progress<K> {
  readonly piece: number;
  /** Per block: FREE / REQUESTED / RECEIVED. */
  readonly state: Uint8Array;
  readonly requesters: (K[] | undefined)[];
  free: number;
  received: number;
}

/** What the picker knows of one peer. */
export interface PeerState {
  bits: Bitfield;
  /** Have-all: counted in `seeds`, not per piece. */
  seed: boolean;
  /** Pieces this (non-seed) peer has that we still want. */
  wanted: number;
  /** Outstanding requests: piece * blocksPerPiece + block. */
  readonly requests: Set<number>;
}

/** The torrent's geometry as the block tracker needs it. */
export interface BlockGeometry {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly lastPieceLength: number;
  readonly blockSize: number;
  readonly blocksPerPiece: number;
  /** Bytes of piece `i` to download (its length minus padding at its end). */
  pieceDataLength(i: number): number;
}

/**
 * The picker's block level: the pieces being downloaded, which block is requested from which
 * peers (the one record of outstanding requests), and endgame — blocks already requested
 * elsewhere requested again, at most `endgameMax` peers per block, the duplicates cancelled when
 * the first copy arrives. A request is keyed `piece * blocksPerPiece + block`.
 */
export class BlockTracker<K> {
  /** Pieces partly downloaded. */
  readonly downloading = new Map<number, Progress<K>>();
  readonly #geo: BlockGeometry;
  readonly #peers: ReadonlyMap<K, PeerState>;
  readonly #endgameMax: number;
  /** (block, requester) pairs outstanding: when a peer holds all of them, endgame has nothing to add. */
  #pairs = 0;

  constructor(geometry: BlockGeometry, peers: ReadonlyMap<K, PeerState>, endgameMax: number) {
    this.#geo = geometry;
    this.#peers = peers;
    this.#endgameMax = endgameMax;
  }

  /** (block, requester) pairs outstanding. */
  get requestPairs(): number {
    return this.#pairs;
  }

  /** Starts tracking piece `i` (every block free). */
  start(i: number): Progress<K> {
    const blocks = Math.ceil(this.#geo.pieceDataLength(i) / this.#geo.blockSize);
    const prog: Progress<K> = {
      piece: i,
      state: new Uint8Array(blocks),
      requesters: new Array(blocks).fill(undefined),
      free: blocks,
      received: 0,
    };
    this.downloading.set(i, prog);
    return prog;
  }

  /** Marks up to `max - out.length` free blocks of `prog` requested from `peer`, into `out`. */
  take(peer: K, p: PeerState, prog: Progress<K>, max: number, out: PickedBlock[]): void {
    const bpp = this.#geo.blocksPerPiece;
    for (let b = 0; b < prog.state.length && out.length < max && prog.free > 0; b++) {
      if (prog.state[b] !== FREE) continue;
      prog.state[b] = REQUESTED;
      prog.requesters[b] = [peer];
      prog.free--;
      const key = prog.piece * bpp + b;
      this.#addReq(p, key);
      out.push(this.blockOf(key));
    }
  }

  /**
   * Endgame: blocks requested elsewhere that `peer` has, requested from it too — newest first
   * (the pieces started last, their last blocks): those sit deepest in other peers' pipelines,
   * while the oldest requests are the ones about to arrive. The picker asks this only for a peer
   * with nothing outstanding, one block at a time (libtorrent's rule): duplicates added to busy
   * pipelines mostly arrive anyway, before their cancels — with deep pipelines and many peers,
   * tens of MB (counted as wasted bytes by the session).
   */
  endgame(peer: K, p: PeerState, max: number, out: PickedBlock[]): void {
    const bpp = this.#geo.blocksPerPiece;
    const progs = [...this.downloading.values()];
    for (let k = progs.length - 1; k >= 0; k--) {
      const prog = progs[k] as Progress<K>;
      if (out.length >= max) return;
      if (!(p.seed || p.bits.get(prog.piece))) continue;
      for (let b = prog.state.length - 1; b >= 0 && out.length < max; b--) {
        if (prog.state[b] !== REQUESTED) continue;
        const r = prog.requesters[b] as K[];
        if (r.length >= this.#endgameMax || r.includes(peer)) continue;
        r.push(peer);
        const key = prog.piece * bpp + b;
        this.#addReq(p, key);
        out.push(this.blockOf(key));
      }
    }
  }

  /**
   * A late piece: up to `max - out.length` of its missing blocks requested from `peer` too —
   * free ones, and ones outstanding elsewhere (fewer than `endgameMax + 1` requesters, not
   * `peer` already).
   */
  hurry(peer: K, p: PeerState, prog: Progress<K>, max: number, out: PickedBlock[]): void {
    const bpp = this.#geo.blocksPerPiece;
    for (let b = 0; b < prog.state.length && out.length < max; b++) {
      const st = prog.state[b];
      if (st === RECEIVED) continue;
      const key = prog.piece * bpp + b;
      if (st === FREE) {
        prog.state[b] = REQUESTED;
        prog.requesters[b] = [peer];
        prog.free--;
      } else {
        const r = prog.requesters[b] as K[];
        if (r.length > this.#endgameMax || r.includes(peer)) continue;
        r.push(peer);
      }
      this.#addReq(p, key);
      out.push(this.blockOf(key));
    }
  }

  /**
   * Records block `block` of `prog` received from `peer` (state `p`, if known). A complete
   * piece leaves `downloading`. Other requesters of the block are returned to cancel.
   */
  receive(peer: K, p: PeerState | undefined, prog: Progress<K>, block: number): BlockReceipt<K> {
    const key = prog.piece * this.#geo.blocksPerPiece + block;
    const st = prog.state[block];
    if (st === RECEIVED) {
      this.forget(p, key);
      return { duplicate: true, pieceComplete: false, cancel: [] };
    }
    const cancel: PeerBlock<K>[] = [];
    const requesters = prog.requesters[block] ?? [];
    for (const other of requesters) {
      this.forget(this.#peers.get(other), key);
      if (other !== peer) cancel.push({ peer: other, ...this.blockOf(key) });
    }
    this.forget(p, key);
    prog.requesters[block] = undefined;
    if (st === FREE) prog.free--;
    prog.state[block] = RECEIVED;
    prog.received++;
    const complete = prog.received === prog.state.length;
    if (complete) this.downloading.delete(prog.piece);
    return { duplicate: false, pieceComplete: complete, cancel };
  }

  /** Drops request `key` from the peer's list; true if it was there. */
  forget(p: PeerState | undefined, key: number): boolean {
    if (!p?.requests.delete(key)) return false;
    this.#pairs--;
    return true;
  }

  /** A request of `peer` failed (rejected, timed out, choked): the block is free again. */
  failed(peer: K, p: PeerState, piece: number, block: number): void {
    if (!this.forget(p, piece * this.#geo.blocksPerPiece + block)) return;
    this.#unrequest(peer, piece, block);
  }

  /** Frees every request outstanding at `peer`. */
  dropRequests(peer: K, p: PeerState): void {
    const bpp = this.#geo.blocksPerPiece;
    for (const key of p.requests) this.#unrequest(peer, Math.floor(key / bpp), key % bpp);
    this.#pairs -= p.requests.size;
    p.requests.clear();
  }

  /** Forgets a piece being downloaded and its requests; false if it was not being downloaded. */
  abandon(piece: number): boolean {
    const prog = this.downloading.get(piece);
    if (!prog) return false;
    const bpp = this.#geo.blocksPerPiece;
    prog.requesters.forEach((r, b) => {
      for (const peer of r ?? []) this.forget(this.#peers.get(peer), piece * bpp + b);
    });
    this.downloading.delete(piece);
    return true;
  }

  /** Block index of `offset` in `piece`, or −1 when it is not the start of a block of it. */
  blockIndex(piece: number, offset: number): number {
    const g = this.#geo;
    if (!Number.isInteger(piece) || piece < 0 || piece >= g.pieceCount) return -1;
    if (!Number.isInteger(offset) || offset < 0 || offset % g.blockSize !== 0) return -1;
    if (offset >= g.pieceDataLength(piece)) return -1;
    return offset / g.blockSize;
  }

  /** The block of request key `key`. */
  blockOf(key: number): PickedBlock {
    const g = this.#geo;
    const piece = Math.floor(key / g.blocksPerPiece);
    const offset = (key % g.blocksPerPiece) * g.blockSize;
    return { piece, offset, length: Math.min(g.blockSize, g.pieceDataLength(piece) - offset) };
  }

  /** Checks the block level against the peers' request lists; calls `fail` on the first break. */
  checkInvariant(fail: (message: string) => never): void {
    let pairs = 0;
    for (const p of this.#peers.values()) pairs += p.requests.size;
    if (pairs !== this.#pairs) fail(`request pairs ${this.#pairs} != ${pairs}`);
    const bpp = this.#geo.blocksPerPiece;
    for (const [peer, p] of this.#peers) {
      for (const key of p.requests) {
        const prog = this.downloading.get(Math.floor(key / bpp));
        const block = key % bpp;
        if (!prog || prog.state[block] !== REQUESTED || !prog.requesters[block]?.includes(peer)) {
          fail(`request ${key} of a peer not recorded on its block`);
        }
      }
    }
    for (const prog of this.downloading.values()) {
      let free = 0;
      let received = 0;
      prog.state.forEach((s, b) => {
        if (s === FREE) free++;
        if (s === RECEIVED) received++;
        const r = prog.requesters[b];
        if (s === REQUESTED && (!r || r.length === 0)) fail('requested block without requester');
        if (s !== REQUESTED && r && r.length > 0) fail('requester on a block not requested');
      });
      if (free !== prog.free || received !== prog.received) fail(`block counts of piece ${prog.piece}`);
    }
  }

  #addReq(p: PeerState, key: number): void {
    if (!p.requests.has(key)) {
      p.requests.add(key);
      this.#pairs++;
    }
  }

  #unrequest(peer: K, piece: number, block: number): void {
    const prog = this.downloading.get(piece);
    if (!prog || prog.state[block] !== REQUESTED) return;
    const r = (prog.requesters[block] ?? []).filter((x) => x !== peer);
    if (r.length > 0) {
      prog.requesters[block] = r;
      return;
    }
    prog.requesters[block] = undefined;
    prog.state[block] = FREE;
    prog.free++;
  }
}

/** The `pieceDataLengths` option, checked: one per piece, each from 1 to the piece's length. */
export function checkDataLengths(
  dl: ArrayLike<number> | undefined,
  geo: { pieceCount: number; pieceLength: number; lastPieceLength: number },
): Uint32Array | undefined {
  if (dl === undefined) return undefined;
  if (dl.length !== geo.pieceCount) throw new PickerError('PICKER_BAD_OPTIONS', 'one data length per piece');
  for (let i = 0; i < geo.pieceCount; i++) {
    const n = dl[i] as number;
    if (!Number.isInteger(n) || n < 1 || n > pieceLengthAt(geo, i))
      throw new PickerError('PICKER_BAD_OPTIONS', `bad data length ${n} of piece ${i}`);
  }
  return Uint32Array.from(dl);
}
