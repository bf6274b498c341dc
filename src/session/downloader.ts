import { type InfoDictionary, pieceLengthAt } from '../metainfo/torrent.js';
import type { PickedBlock, PiecePicker } from '../picker/picker.js';
import type { ChunkStore } from '../storage/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import { SessionError } from './errors.js';
import type { PeerConn } from './peer.js';
import { RateMeter } from './rate.js';
import type { Settings } from './settings.js';
import { SmartBan } from './smart-ban.js';
import type { DownloadGate } from './throttle.js';

export { applyFilePriorities, checkFilePriorities, openPicker } from './open-picker.js';

/**
 * While peers are not read because the store is full: reading resumes anyway when nothing left
 * the store for this long and no put waits — what it holds may be pieces that wait for their
 * other blocks, which only reading brings.
 */
const READS_STUCK_MS = 20;
/** Most puts unresolved before reading pauses (at most a quarter of the store's cap). */
const MAX_UNRESOLVED_PUTS = 4 * 1024 * 1024;
/**
 * While readers wait (pieces have deadlines): a peer's pipeline holds at most this many seconds
 * of its rate (and at least {@link STREAMING_MIN_QUEUE} blocks), so that a newly wanted piece is
 * not queued behind seconds of other requests.
 */
const STREAMING_QUEUE_SECONDS = 0.5;
const STREAMING_MIN_QUEUE = 16;
/** How often late pieces are looked for while readers wait, ms. */
const LATE_CHECK_MS = 250;
/** A peer is fast enough for pieces with a deadline at this share of the fastest peer's rate. */
const FAST_SHARE = 0.5;
/** Late pieces are asked of this many of the fastest peers. */
const LATE_PEERS = 2;
/** Requests a peer with nothing outstanding always gets, whatever the in-flight budget says. */
const IDLE_FLOOR = 4;

/** What the {@link Downloader} needs from its torrent. */
export interface DownloadHost {
  readonly clock: Clock;
  readonly settings: Readonly<Settings>;
  /** The connected peers. */
  peers(): Iterable<PeerConn>;
  peer(id: string): PeerConn | undefined;
  /** No requests while paused. */
  paused(): boolean;
  /** The torrent is destroyed. */
  stopped(): boolean;
  /** A block arrived (payload bytes, duplicates included); `peer` undefined for a web seed's. */
  received(peer: PeerConn | undefined, bytes: number): void;
  /** Whether {@link pieceVerified} wants the sources (someone listens). */
  wantsSources(): boolean;
  /** A piece passed its hash check; `sources`: peer id → bytes of it (empty unless wanted). */
  pieceVerified(piece: number, sources: ReadonlyMap<string, number>): void;
  /** Bans the host of peer `id`. */
  ban(id: string, why: string): void;
  /**
   * A piece failed its check: what arrived (`data`) and who sent each block (offset → peer id),
   * for a v2 torrent's Merkle smart-ban.
   */
  pieceFailed?(piece: number, data: Uint8Array, senders: ReadonlyMap<number, string>): void;
  /** The store failed: the torrent stops. */
  storeFailed(err: unknown): void;
  /** Whether pieces have deadlines (streaming readers, `critical` ranges). */
  critical(): boolean;
  warn(err: BttkitError): void;
  /** The download rate limit (throttle.ts), if any: requests go out as fast as it allows. */
  readonly downloadGate?: DownloadGate | undefined;
}

/**
 * Gets the torrent's missing pieces from its peers, from the moment its metadata and store
 * exist: asks the picker what to request of whom, keeps each peer's pipeline at `requestQueueSeconds`
 * of its rate, hands arriving blocks to the store, has complete pieces verified, tells peers
 * what we have, and blames and bans senders of bad data (smart-ban).
 *
 * Outstanding requests have one owner: the picker knows which blocks are asked of whom; the
 * wire's queue holds their callbacks and gives the pipeline depth (`outstandingRequests`).
 *
 * Disk backpressure: when the store holds over ¾ of its cap (`maxPendingBytes`, else
 * `maxPendingWriteBytes`) or over 4 MiB of puts are unresolved, peers are no longer read (the
 * data waits in the network buffers and TCP slows the senders, as in libtorrent); reading
 * resumes on the store's drain signal once both are under half.
 */
export class Downloader {
  readonly picker: PiecePicker<string>;
  readonly store: ChunkStore;
  readonly info: InfoDictionary;
  readonly #host: DownloadHost;
  /** Block offset → peer id that sent it, per piece being received (for blame). */
  readonly #senders = new Map<number, Map<number, string>>();
  readonly #smartBan = new SmartBan();
  #hashFailures = 0;
  /** Bytes of blocks that arrived matched to a request but were not needed (already here). */
  #duplicateBytes = 0;
  /** Unrequested bytes (see {@link wastedBytes}) of the peers that left. */
  #goneUnmatchedBytes = 0;
  /**
   * Sources that are not peer connections (web seeds), by picker key: told of each failed piece
   * they sent part of (`sole`: they sent all of it, or smart-ban found their block bad) instead
   * of being banned as peers are.
   */
  readonly external = new Map<string, (piece: number, sole: boolean) => void>();
  /** Bytes/s from {@link deliver} (web seeds), for the torrent's download rate. */
  readonly externalDown: RateMeter;
  /** Requests sent to peers and not yet answered, failed or cancelled (web seeds' not counted). */
  #inFlight = 0;
  /** Bytes put and not yet accepted by the store. */
  #unresolvedPuts = 0;
  /**
   * In-flight budget (blocks) the most modest peer refused for want of it waits for; 0: offer
   * requests to every peer when the next put resolves (a request failed, the picker ran short,
   * puts held requests back); Infinity: no peer waits. Saves a pass over every peer per block.
   */
  #budgetNeed = 0;
  #readsPaused = false;
  #drainOff: (() => void) | undefined;
  #stuck: TimerHandle | undefined;
  #late: TimerHandle | undefined;
  /** Rate a peer needs to take pieces with deadlines, and when it was computed. */
  #fastRate = 0;
  #fastAt = Number.NEGATIVE_INFINITY;

  constructor(host: DownloadHost, info: InfoDictionary, picker: PiecePicker<string>, store: ChunkStore) {
    this.#host = host;
    this.info = info;
    this.picker = picker;
    this.store = store;
    this.externalDown = new RateMeter(host.clock, 5_000, 250);
  }

  get hashFailures(): number {
    return this.#hashFailures;
  }

  /**
   * Payload bytes received that were not needed (libtorrent's `total_redundant_bytes`): blocks
   * already had or received (endgame duplicates), and late answers to cancelled requests — the
   * wire's payload bytes (`PeerWire.downloaded`) less those taken ({@link PeerConn.down}). Not
   * included: pieces that failed their hash check ({@link hashFailures}).
   */
  get wastedBytes(): number {
    let bytes = this.#duplicateBytes + this.#goneUnmatchedBytes;
    for (const p of this.#host.peers()) bytes += unmatchedBytes(p);
    return bytes;
  }

  /** Peers are not read while the store catches up. */
  get readsPaused(): boolean {
    return this.#readsPaused;
  }

  /** Bytes of verified pieces. */
  get verifiedBytes(): number {
    const { info, picker } = this;
    let bytes = picker.have.count * info.pieceLength;
    if (picker.have.get(info.pieceCount - 1)) bytes -= info.pieceLength - info.lastPieceLength;
    return bytes;
  }

  /**
   * A peer joins: we tell it what we have. `replay`: it connected before the metadata came —
   * the pieces it told its wire go to the picker, and interest follows.
   */
  addPeer(peer: PeerConn, replay = false): void {
    this.picker.addPeer(peer.id);
    if (this.#readsPaused) peer.wire.pauseReading();
    if (replay)
      for (let i = 0; i < this.info.pieceCount; i++)
        if (peer.wire.peerHas(i)) this.picker.peerHave(peer.id, i);
    this.statePieces(peer);
    if (replay) this.updateInterest(peer);
  }

  /** A peer left: its pieces and requests leave the picker. */
  removePeer(peer: PeerConn): void {
    this.#goneUnmatchedBytes += unmatchedBytes(peer);
    this.picker.removePeer(peer.id);
  }

  /** The peer told us about its pieces (`update` tells the picker), then interest and requests. */
  peerPieces(peer: PeerConn, update: (picker: PiecePicker<string>) => void): void {
    update(this.picker);
    this.updateInterest(peer);
    this.fill(peer);
  }

  /** Tells a peer what we have: once a bitfield / have-all / have-none, later `have`s. */
  statePieces(peer: PeerConn): void {
    const w = peer.wire;
    const have = this.picker.have;
    if (peer.stated) {
      for (let i = 0; i < this.picker.pieceCount; i++) if (have.get(i)) w.have(i);
      return;
    }
    if (w.fast && have.full) w.haveAll();
    else if (w.fast && have.count === 0) w.haveNone();
    else if (have.count > 0) w.bitfield(have.bytes);
    else return;
    peer.stated = true;
  }

  /** Sends interested / not interested when the picker's view of the peer changed. */
  updateInterest(peer: PeerConn): void {
    const want = this.picker.isInteresting(peer.id);
    if (want && !peer.interestedSent) {
      peer.interestedSent = true;
      peer.wire.interested();
    } else if (!want && peer.interestedSent) {
      peer.interestedSent = false;
      peer.wire.uninterested();
    }
  }

  /** True when the peer has every piece. */
  isSeed(peer: PeerConn): boolean {
    if (this.picker.hasPeer(peer.id)) return this.picker.peerIsSeed(peer.id);
    for (let i = 0; i < this.info.pieceCount; i++) if (!peer.wire.peerHas(i)) return false;
    return true;
  }

  /**
   * Tops up the peer's request pipeline. While readers wait for pieces (deadlines), only the
   * faster peers take those pieces, and pipelines are kept short so that new ones go out soon.
   */
  fill(peer: PeerConn): void {
    const host = this.#host;
    if (host.paused() || peer.wire.closed || peer.wire.peerChoking || !peer.interestedSent) return;
    if (this.#unresolvedPuts > host.settings.maxPendingWriteBytes) {
      this.#budgetNeed = 0;
      return;
    }
    const streaming = host.critical();
    // Rate limit (throttle.ts): under a limit the pipeline is capped (half a second of it per
    // peer) and requests go out only as the buckets allow; refused, the gate wakes us later.
    const gate = host.downloadGate?.limited ? host.downloadGate : undefined;
    const bs = host.settings.blockSize;
    let target = gate ? Math.min(peer.queueTarget, gate.queueCap(bs)) : peer.queueTarget;
    if (streaming) {
      this.#armLate();
      const byRate = Math.ceil((peer.down.rate() * STREAMING_QUEUE_SECONDS) / bs);
      target = Math.min(target, Math.max(STREAMING_MIN_QUEUE, byRate));
    }
    // Refill in batches (once an eighth of the queue has drained): fewer, larger writes of
    // request messages than one write per arriving block. Not while readers wait.
    const outstanding = peer.wire.outstandingRequests;
    const budget = this.#budget();
    const room = target - outstanding;
    let want = Math.min(room, outstanding === 0 ? Math.max(budget, IDLE_FLOOR) : budget);
    const batch = streaming ? 1 : Math.max(1, Math.min(Math.max(4, target >> 3), target >> 1));
    if (want <= 0 || (outstanding > 0 && want < batch)) {
      // Room of its own but not in the budget: worth a pass once the budget holds a batch.
      if (room >= batch) this.#budgetNeed = Math.min(this.#budgetNeed, batch);
      return;
    }
    if (gate) want = gate.grant(want, bs);
    const reqs =
      want > 0 ? this.picker.pick(peer.id, want, { critical: !streaming || this.#fast(peer) }) : [];
    if (reqs.length < want) this.#budgetNeed = 0;
    if (gate && want > 0) gate.refund(want * bs - reqs.reduce((sum, r) => sum + r.length, 0));
    this.#send(peer, reqs, gate);
  }

  /**
   * The peer choked us: its requests go back to the picker and are cancelled on the wire (with
   * BEP 6 they would wait there for rejects a peer may never send, holding in-flight budget).
   */
  peerChoked(peer: PeerConn): void {
    const held = this.picker.requestsOf(peer.id);
    this.picker.peerChoked(peer.id);
    if (peer.wire.outstandingRequests === 0) return;
    for (const r of held) peer.wire.cancel(r.piece, r.offset, r.length);
  }

  /**
   * Sends requests picked for `peer`; arriving blocks go to {@link #onBlock}. `gate`: the rate
   * limit they were granted by (a failed request gives its bytes back).
   */
  #send(peer: PeerConn, reqs: readonly PickedBlock[], gate?: DownloadGate): void {
    if (reqs.length === 0) return;
    const { picker, store } = this;
    if (peer.wire.outstandingRequests === 0) peer.waitingSince = this.#host.clock.now();
    for (const r of reqs) {
      this.#inFlight++;
      peer.wire.request(r.piece, r.offset, r.length, (err, block) => {
        this.#inFlight--;
        if (err || !block) {
          this.#budgetNeed = 0;
          picker.requestFailed(peer.id, r.piece, r.offset);
          gate?.refund(r.length);
        } else if (!store.closed) this.#onBlock(peer, r.piece, r.offset, block);
      });
    }
  }

  /** Whether `peer` is among the fast ones (at least half the fastest rate; recomputed twice a second). */
  #fast(peer: PeerConn): boolean {
    const now = this.#host.clock.now();
    if (now - this.#fastAt >= LATE_CHECK_MS * 2) {
      let best = 0;
      for (const p of this.#host.peers()) if (!p.wire.peerChoking) best = Math.max(best, p.down.rate());
      this.#fastRate = best * FAST_SHARE;
      this.#fastAt = now;
    }
    return peer.down.rate() >= this.#fastRate;
  }

  #armLate(): void {
    if (this.#late) return;
    this.#late = this.#host.clock.setTimeout(() => {
      this.#late = undefined;
      if (this.#host.stopped() || !this.#host.critical()) return;
      this.#lateCheck();
      this.#armLate();
    }, LATE_CHECK_MS);
  }

  /**
   * Pieces past their deadline and not yet here: their missing blocks are asked of the fastest
   * peers that have them too (duplicates are cancelled when the first copy arrives).
   */
  #lateCheck(): void {
    const host = this.#host;
    const { picker } = this;
    const now = host.clock.now();
    const pieces = picker.deadlinePieces();
    if (pieces.length === 0 || (picker.deadline(pieces[0] as number) ?? now) > now) return;
    const fastest = [...host.peers()]
      .filter((p) => !p.wire.closed && !p.wire.peerChoking && p.interestedSent)
      .sort((a, b) => b.down.rate() - a.down.rate())
      .slice(0, LATE_PEERS);
    for (const piece of pieces) {
      if ((picker.deadline(piece) ?? now) > now) break;
      if (picker.have.get(piece)) continue;
      for (const p of fastest) this.#send(p, picker.pickLate(p.id, piece, picker.blocksPerPiece));
    }
  }

  fillAll(): void {
    this.#budgetNeed = Number.POSITIVE_INFINITY;
    for (const p of this.#host.peers()) this.fill(p);
  }

  /**
   * Requests that may still go out (blocks): across the torrent's peers, at most half the
   * store's cap in flight (20 peers at their own rate had ~290 MB in flight: the store kept
   * pausing reads, the endgame waited on deep queues; docs/session.md); a peer with nothing
   * outstanding still gets IDLE_FLOOR.
   */
  #budget(): number {
    const cap = this.store.maxPendingBytes ?? this.#host.settings.maxPendingWriteBytes;
    return Math.max(0, Math.floor(cap / 2 / this.#host.settings.blockSize) - this.#inFlight);
  }

  /**
   * Once a second: a peer that owes blocks and sent none for `requestTimeoutMs` has its requests
   * given back to the picker (for other peers) and cancelled on the wire (libtorrent's request
   * timeout works so too: a slow peer still delivering keeps its queue).
   */
  tick(): void {
    const host = this.#host;
    const now = host.clock.now();
    const limit = host.settings.requestTimeoutMs;
    for (const p of host.peers()) {
      if (p.wire.outstandingRequests === 0 || now - p.waitingSince < limit) continue;
      p.waitingSince = now;
      for (const r of this.picker.requestsOf(p.id)) {
        this.picker.requestFailed(p.id, r.piece, r.offset);
        p.wire.cancel(r.piece, r.offset, r.length);
      }
    }
    this.fillAll();
  }

  /** Stops the timers and the drain listener (when the torrent goes away). */
  stop(): void {
    this.#late?.cancel();
    this.#late = undefined;
    this.#stopBackpressure();
  }

  /** Stops the backpressure timer and drain listener (on resume, and in {@link stop}). */
  #stopBackpressure(): void {
    this.#stuck?.cancel();
    this.#stuck = undefined;
    this.#drainOff?.();
    this.#drainOff = undefined;
  }

  /**
   * A block from a source that is not a peer connection (a web seed, web-seed.ts), on the path of
   * peer blocks: picker, store, hash check, `verified` naming `source` (its picker key). A piece
   * that fails is reported to the source's entry in {@link external}.
   */
  deliver(source: string, piece: number, offset: number, block: Uint8Array): void {
    if (this.store.closed) return;
    this.externalDown.add(block.length);
    this.#host.received(undefined, block.length);
    this.#accept(source, piece, offset, block);
  }

  #onBlock(peer: PeerConn, piece: number, offset: number, block: Uint8Array): void {
    const host = this.#host;
    peer.down.add(block.length);
    peer.waitingSince = host.clock.now();
    host.received(peer, block.length);
    this.#accept(peer.id, piece, offset, block);
    // Pipelining sized to the rate: keep `requestQueueSeconds` of this peer's rate in flight.
    const s = host.settings;
    const byRate = Math.ceil((peer.down.rate() * s.requestQueueSeconds) / s.blockSize);
    const reqq = peer.wire.peerExtendedHandshake?.reqq ?? 250;
    peer.queueTarget = Math.max(s.minRequestQueue, Math.min(s.maxRequestQueue, reqq, byRate));
    this.fill(peer);
  }

  /** A block from `from` (a peer or an external source): picker, senders, store, verification. */
  #accept(from: string, piece: number, offset: number, block: Uint8Array): void {
    const { picker, store } = this;
    const host = this.#host;
    const receipt = picker.blockReceived(from, piece, offset);
    for (const c of receipt.cancel) host.peer(c.peer)?.wire.cancel(c.piece, c.offset, c.length);
    if (receipt.duplicate) this.#duplicateBytes += block.length;
    else {
      let senders = this.#senders.get(piece);
      if (!senders) {
        senders = new Map();
        this.#senders.set(piece, senders);
      }
      senders.set(offset, from);
      // The block may be a view into the connection's reused read buffer (the wire lends it):
      // a store that does not copy on put gets a copy it can keep.
      const size = block.length;
      this.#unresolvedPuts += size;
      store.put(piece, offset, store.copiesOnPut === true ? block : block.slice()).then(
        () => {
          this.#unresolvedPuts -= size;
          if (receipt.pieceComplete) void this.#verify(piece);
          this.#maybeResume();
          if (this.#budget() >= this.#budgetNeed) this.fillAll();
        },
        (err: unknown) => {
          this.#unresolvedPuts -= size;
          host.storeFailed(err);
        },
      );
      if (!this.#readsPaused && this.#storeFull(false)) this.#pauseReads();
    }
  }

  /** The store is too full to read from peers (`resume`: the lower threshold, to resume). */
  #storeFull(resume: boolean): boolean {
    const cap = this.store.maxPendingBytes ?? this.#host.settings.maxPendingWriteBytes;
    const puts = Math.min(MAX_UNRESOLVED_PUTS, cap / 4);
    const pending = this.store.pendingBytes;
    return resume
      ? pending > cap / 2 || this.#unresolvedPuts > puts / 2
      : pending > cap * 0.75 || this.#unresolvedPuts > puts;
  }

  #pauseReads(): void {
    this.#readsPaused = true;
    for (const p of this.#host.peers()) p.wire.pauseReading();
    this.#drainOff = this.store.onDrain?.(() => this.#maybeResume());
    this.#armStuck();
  }

  /** The store drained or a put resolved: resume under the low thresholds. */
  #maybeResume(): void {
    if (!this.#readsPaused) return;
    if (this.#host.stopped() || this.store.closed || !this.#storeFull(true)) this.#resumeReads();
    else this.#armStuck();
  }

  #armStuck(): void {
    this.#stuck?.cancel();
    this.#stuck = this.#host.clock.setTimeout(() => {
      this.#stuck = undefined;
      // Nothing left the store for a while; with no put waiting either, only reading can help.
      // (With a put waiting, its resolution looks again.)
      if (this.#unresolvedPuts === 0) this.#resumeReads();
    }, READS_STUCK_MS);
  }

  #resumeReads(): void {
    this.#readsPaused = false;
    this.#stopBackpressure();
    for (const p of this.#host.peers()) p.wire.resumeReading();
  }

  async #verify(piece: number): Promise<void> {
    const { picker, store } = this;
    const host = this.#host;
    let ok: boolean;
    try {
      ok = await store.verify(piece);
    } catch (err) {
      host.storeFailed(err);
      return;
    }
    if (host.stopped()) return;
    const senders = this.#senders.get(piece);
    this.#senders.delete(piece);
    picker.pieceVerified(piece, ok);
    if (!ok) return this.#failed(piece, senders);
    if (this.#smartBan.pending(piece)) void this.#resolveSmartBan(piece);
    for (const p of host.peers()) {
      // No `have` to a peer that has the piece (libtorrent's `send_redundant_have` off): it
      // learns nothing from it, and in a large swarm most haves would be such.
      if (!picker.peerHas(p.id, piece)) p.wire.have(piece);
      this.updateInterest(p);
    }
    const sources = new Map<string, number>();
    if (host.wantsSources()) {
      const size = pieceLengthAt(this.info, piece);
      const bs = host.settings.blockSize;
      for (const [offset, id] of senders ?? [])
        sources.set(id, (sources.get(id) ?? 0) + Math.min(bs, size - offset));
    }
    host.pieceVerified(piece, sources);
  }

  /** A piece failed its hash check: blame its senders, remember its blocks for smart-ban. */
  #failed(piece: number, senders: Map<number, string> | undefined): void {
    const host = this.#host;
    this.#hashFailures++;
    const who = new Set(senders?.values() ?? []);
    host.warn(
      new SessionError('SESSION_HASH_FAILED', `piece ${piece} failed its hash check`, {
        details: { piece, senders: [...who].join(',') },
      }),
    );
    if (who.size === 1) {
      const [only] = who;
      const p = only === undefined ? undefined : host.peer(only);
      if (p && ++p.soleFailures >= host.settings.banAfterHashFailures) host.ban(p.id, 'sent corrupt pieces');
    }
    for (const id of who) this.external.get(id)?.(piece, who.size === 1);
    if (senders) void this.#recordSmartBan(piece, senders);
    this.fillAll();
  }

  async #recordSmartBan(piece: number, senders: Map<number, string>): Promise<void> {
    const bs = this.#host.settings.blockSize;
    try {
      const data = await this.store.get(piece, 0, pieceLengthAt(this.info, piece));
      const blocks = new Map<number, { peer: string; data: Uint8Array }>();
      for (const [offset, peer] of senders)
        blocks.set(offset, { peer, data: data.subarray(offset, offset + bs) });
      this.#smartBan.recordFailure(piece, blocks);
      this.#host.pieceFailed?.(piece, data, senders);
    } catch {
      // The data is gone (store closed): nothing to compare later.
    }
  }

  async #resolveSmartBan(piece: number): Promise<void> {
    try {
      const good = await this.store.get(piece, 0, pieceLengthAt(this.info, piece));
      for (const culprit of this.#smartBan.resolve(piece, good, this.#host.settings.blockSize))
        if (this.external.has(culprit)) this.external.get(culprit)?.(piece, true);
        else this.#host.ban(culprit, 'sent corrupt blocks');
    } catch {
      this.#smartBan.forget(piece);
    }
  }
}

/** Block bytes a peer's wire received that answered none of our requests (never below 0). */
function unmatchedBytes(peer: PeerConn): number {
  return Math.max(0, peer.wire.downloaded - peer.down.total);
}
