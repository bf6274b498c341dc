import { hashAt, MERKLE_BLOCK_SIZE, type MerkleProof, verifyMerkleProof } from '../metainfo/merkle.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import type { ChunkStore } from '../storage/types.js';
import { layersOf } from '../storage/verifier.js';
import { equalBytes, toHex } from '../util/bytes.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import { sha256 } from '../util/hash.js';
import { type HashesMessage, type HashRequest, hashesUncleCount } from '../wire/hash-messages.js';
import { SessionError } from './errors.js';
import type { PeerConn } from './peer.js';
import { type FileTree, MAX_HASHES_PER_REQUEST, TorrentTrees } from './v2-tree.js';

/** How long a peer has to answer a hash request before another is asked, ms. */
export const HASH_REQUEST_TIMEOUT_MS = 10_000;
/** Leaf-hash requests served at once per peer (each reads a piece). */
const MAX_LEAF_SERVES_PER_PEER = 4;

/** What the v2 part of a torrent needs from it. */
export interface V2Host {
  readonly clock: Clock;
  info(): InfoDictionary | undefined;
  store(): ChunkStore | undefined;
  peers(): Iterable<PeerConn>;
  peer(id: string): PeerConn | undefined;
  ban(id: string, why: string): void;
  warn(err: BttkitError): void;
}

/** True when BEP 52 hash messages may flow with the peer (`wire.v2`: negotiated as libtorrent does). */
export function peerSpeaksV2(p: PeerConn): boolean {
  return p.wire.v2 && !p.wire.closed;
}

function sameRequest(a: HashRequest, b: HashRequest): boolean {
  return (
    a.baseLayer === b.baseLayer &&
    a.index === b.index &&
    a.length === b.length &&
    a.proofLayers === b.proofLayers &&
    equalBytes(a.piecesRoot, b.piecesRoot)
  );
}

interface Job {
  readonly tree: FileTree;
  /** The tree's piece layer being filled (shared by its jobs; the tree gets it when complete). */
  readonly buf: Uint8Array;
  readonly req: HashRequest;
  /** The peer asked, and when it times out. */
  asked?: { peer: string; timer: TimerHandle };
  /** Peers that rejected it or failed it. */
  readonly refused: Set<string>;
  /** The received hashes (for piece layers) once verified. */
  done: boolean;
}

interface LeafCheck {
  readonly piece: number;
  readonly tree: FileTree;
  /** Offset in the piece → sender and the SHA-256 of the block received. */
  readonly blocks: Map<number, { peer: string; hash: Uint8Array }>;
  readonly req: HashRequest;
  readonly tried: Set<string>;
  asked?: { peer: string; timer: TimerHandle };
}

/**
 * The BitTorrent v2 side of a torrent (BEP 52), used when its info dictionary has a `file tree`:
 * - fetches the piece layers from peers (`hash request` → `hashes`, each run proven against the
 *   file's `pieces root`) when the torrent came from a magnet, before the store is made;
 * - answers peers' hash requests: piece-layer runs and above from the layers, block-level runs
 *   inside a piece we have from its data; `hash reject` otherwise;
 * - smart-ban with Merkle proofs: when a piece fails, the leaf hashes of that piece are asked of
 *   a peer, proven against the piece hash, and compared block by block with what was received —
 *   the sender of each bad block is named at once, without waiting for a good copy.
 */
export class V2Torrent {
  readonly #host: V2Host;
  #trees: TorrentTrees | undefined;
  readonly #jobs: Job[] = [];
  #layersDone: ((layers: Map<string, Uint8Array>) => void) | undefined;
  readonly #checks = new Map<number, LeafCheck>();
  readonly #serving = new Map<string, number>();
  #closed = false;

  constructor(host: V2Host) {
    this.#host = host;
  }

  /** The trees, once the info dictionary is known. */
  get trees(): TorrentTrees | undefined {
    return this.#trees;
  }

  /**
   * Takes the info dictionary: its layers (`layers`, from a .torrent) are adopted; resolves with
   * the piece layers — with `fetch` (a v2-only torrent, verified against them), every one,
   * fetching the missing ones from peers first (magnet case).
   */
  layersFor(
    info: InfoDictionary,
    layers: ReadonlyMap<string, Uint8Array> | undefined,
    fetch: boolean,
  ): Promise<Map<string, Uint8Array>> {
    const trees = new TorrentTrees(info);
    trees.adopt(layers);
    this.#trees = trees;
    const missing = trees.missingLayers();
    if (missing.length === 0 || !fetch) return Promise.resolve(trees.layers());
    for (const tree of missing) {
      const count = tree.span.pieceCount;
      const padded = tree.widthAt(tree.pieceBase);
      const length = Math.min(MAX_HASHES_PER_REQUEST, padded);
      const buf = new Uint8Array(count * 32);
      for (let index = 0; index < count; index += length) {
        this.#jobs.push({
          tree,
          buf,
          req: {
            piecesRoot: tree.root,
            baseLayer: tree.pieceBase,
            index,
            length,
            // hashesUncleCount: uncles = proofLayers − (log2(length) − 1), up to the root.
            proofLayers: length === padded ? 0 : tree.height - tree.pieceBase - 1,
          },
          refused: new Set(),
          done: false,
        });
      }
    }
    return new Promise((resolve) => {
      this.#layersDone = resolve;
      this.pump();
    });
  }

  /**
   * The info dictionary with its piece layers. A v2-only torrent is verified against them: they
   * are fetched first (after a magnet). A hybrid is verified with SHA-1 and goes on at once; its
   * layers (for its .torrent and peers' hash requests) come from v2 peers when they can, and
   * `later` gets the info dictionary with them.
   */
  async prepare(info: InfoDictionary, later: (info: InfoDictionary) => void): Promise<InfoDictionary> {
    const given = layersOf(info);
    const withLayers = (layers: Map<string, Uint8Array>): InfoDictionary =>
      given ? info : ({ ...info, pieceLayers: layers } as InfoDictionary);
    if (info.version === 2) return withLayers(await this.layersFor(info, given, true));
    void this.layersFor(info, given, true).then((layers) => {
      if (!this.#closed && !given) later(withLayers(layers));
    });
    return info;
  }

  /** Asks idle v2 peers for the piece-layer runs still missing (called on new peers and ticks). */
  pump(): void {
    if (this.#closed || !this.#layersDone) return;
    const busy = new Set<string>();
    for (const j of this.#jobs) if (j.asked) busy.add(j.asked.peer);
    for (const p of this.#host.peers()) {
      if (busy.has(p.id) || !peerSpeaksV2(p)) continue;
      const job = this.#jobs.find((j) => !j.done && !j.asked && !j.refused.has(p.id));
      if (!job) continue; // (this peer refused what is left; another may not have)
      this.#ask(job, p);
      busy.add(p.id);
    }
    // Every peer refused a run: try them all again (they may have learnt it since).
    if (busy.size === 0) for (const j of this.#jobs) if (!j.done) j.refused.clear();
  }

  #ask(job: Job, p: PeerConn): void {
    const timer = this.#host.clock.setTimeout(() => {
      if (job.asked?.peer !== p.id) return;
      job.asked = undefined;
      job.refused.add(p.id);
      this.pump();
    }, HASH_REQUEST_TIMEOUT_MS);
    job.asked = { peer: p.id, timer };
    p.wire.hashRequest(job.req);
  }

  /** A peer answered with hashes: a piece-layer run, or the leaves of a failed piece. */
  onHashes(p: PeerConn, msg: HashesMessage): void {
    const job = this.#jobs.find((j) => !j.done && j.asked?.peer === p.id && sameRequest(j.req, msg));
    if (job) {
      this.#layerRun(job, p, msg);
      return;
    }
    const check = [...this.#checks.values()].find((c) => c.asked?.peer === p.id && sameRequest(c.req, msg));
    // Unasked hashes are ignored (an answer that came after its timeout).
    if (check) this.#leaves(check, p, msg);
  }

  /** A peer rejected a request of ours. */
  onReject(p: PeerConn, req: HashRequest): void {
    const job = this.#jobs.find((j) => !j.done && j.asked?.peer === p.id && sameRequest(j.req, req));
    if (job) {
      job.asked?.timer.cancel();
      job.asked = undefined;
      job.refused.add(p.id);
      this.pump();
      return;
    }
    for (const c of this.#checks.values()) {
      if (c.asked?.peer === p.id && sameRequest(c.req, req)) {
        c.asked.timer.cancel();
        c.asked = undefined;
        this.#askLeaves(c);
      }
    }
  }

  #layerRun(job: Job, p: PeerConn, msg: HashesMessage): void {
    job.asked?.timer.cancel();
    job.asked = undefined;
    const { tree, req } = job;
    const ok = verifyMerkleProof(tree.root, tree.width, req.baseLayer, req.index, {
      hashes: msg.hashes,
      uncles: msg.uncles,
    });
    if (!ok) {
      job.refused.add(p.id);
      this.#bad(p, `piece-layer hashes from ${p.id} do not prove against the pieces root`);
      this.pump();
      return;
    }
    const take = Math.min(req.length, tree.span.pieceCount - req.index);
    job.buf.set(msg.hashes.subarray(0, take * 32), req.index * 32);
    job.done = true;
    if (this.#jobs.every((j) => j.done || j.tree !== tree)) tree.layer = job.buf;
    if (this.#jobs.every((j) => j.done)) {
      const resolve = this.#layersDone;
      this.#layersDone = undefined;
      this.#jobs.length = 0;
      resolve?.(this.#trees?.layers() ?? new Map());
      return;
    }
    this.pump();
  }

  #bad(p: PeerConn, message: string): void {
    this.#host.warn(new SessionError('SESSION_BAD_HASHES', message, { details: { peer: p.id } }));
  }

  // ---- serving -------------------------------------------------------------------------------

  /** Answers a peer's hash request, or rejects it. */
  onRequest(p: PeerConn, req: HashRequest): void {
    const tree = this.#trees?.byRoot.get(toHex(req.piecesRoot));
    const { baseLayer: base, index, length } = req;
    // The uncles a `hashes` answer carries (libtorrent checks the exact count): all must exist.
    const proofLayers = hashesUncleCount(length, req.proofLayers);
    const valid =
      tree !== undefined &&
      !this.#closed &&
      base <= tree.height &&
      (length & (length - 1)) === 0 &&
      length <= MAX_HASHES_PER_REQUEST &&
      index + length <= tree.widthAt(base) &&
      proofLayers <= tree.height - base - Math.log2(length);
    if (!valid) {
      answer(p, req, undefined);
      return;
    }
    if (tree.multiPiece && base >= tree.pieceBase) {
      answer(p, req, () => tree.proofFromLayer(base, index, length, proofLayers));
      return;
    }
    // Below the piece layer: one piece's blocks, from its data.
    const w = tree.pieceWidth();
    const k = Math.floor((index * 2 ** base) / w);
    const piece = tree.span.firstPiece + k;
    const inside = (index + length) * 2 ** base <= (k + 1) * w;
    const store = this.#host.store();
    const serving = this.#serving.get(p.id) ?? 0;
    if (!inside || !store?.has(piece) || serving >= MAX_LEAF_SERVES_PER_PEER) {
      answer(p, req, undefined);
      return;
    }
    this.#serving.set(p.id, serving + 1);
    const bytes = Math.min(tree.length - k * tree.perPiece * MERKLE_BLOCK_SIZE, w * MERKLE_BLOCK_SIZE);
    void store
      .get(piece, 0, bytes)
      .then(
        (data) =>
          answer(p, req, () => tree.proofFromLeaves(k, leafHashes(data), base, index, length, proofLayers)),
        () => answer(p, req, undefined),
      )
      .finally(() => {
        const n = (this.#serving.get(p.id) ?? 1) - 1;
        if (n > 0) this.#serving.set(p.id, n);
        else this.#serving.delete(p.id);
      });
  }

  // ---- smart-ban with proofs ------------------------------------------------------------------

  /**
   * A piece failed its check: `data` is what was received (the piece's bytes), `senders` who
   * sent each block. Asks a v2 peer for the piece's leaf hashes to name the bad blocks' senders.
   * False when the torrent is not v2 or no tree holds the piece.
   */
  pieceFailed(
    piece: number,
    data: Uint8Array,
    senders: ReadonlyMap<number, string>,
    blockSize: number,
  ): boolean {
    const tree = this.#trees?.ofPiece(piece);
    if (!tree || this.#closed || blockSize !== MERKLE_BLOCK_SIZE) return false;
    const k = piece - tree.span.firstPiece;
    if (!tree.pieceHash(k)) return false;
    const w = tree.pieceWidth();
    const blocks = new Map<number, { peer: string; hash: Uint8Array }>();
    const fileBytes = Math.min(data.length, tree.length - k * tree.perPiece * MERKLE_BLOCK_SIZE);
    for (const [offset, peer] of senders) {
      if (offset >= fileBytes) continue;
      blocks.set(offset, {
        peer,
        hash: sha256(data.subarray(offset, Math.min(fileBytes, offset + blockSize))),
      });
    }
    if (blocks.size === 0) return false;
    this.#checks.get(piece)?.asked?.timer.cancel();
    const check: LeafCheck = {
      piece,
      tree,
      blocks,
      req: { piecesRoot: tree.root, baseLayer: 0, index: k * w, length: w, proofLayers: 0 },
      tried: new Set(),
    };
    if (w > MAX_HASHES_PER_REQUEST) return false;
    this.#checks.set(piece, check);
    this.#askLeaves(check);
    return true;
  }

  #askLeaves(c: LeafCheck): void {
    if (this.#closed) return;
    // Prefer a peer that sent none of the piece; any v2 peer's answer is proven anyway.
    const senders = new Set([...c.blocks.values()].map((b) => b.peer));
    let pick: PeerConn | undefined;
    for (const p of this.#host.peers()) {
      if (!peerSpeaksV2(p) || c.tried.has(p.id)) continue;
      if (!pick || (senders.has(pick.id) && !senders.has(p.id))) pick = p;
    }
    if (!pick) {
      this.#checks.delete(c.piece);
      return;
    }
    const peer = pick;
    c.tried.add(peer.id);
    const timer = this.#host.clock.setTimeout(() => {
      if (c.asked?.peer !== peer.id) return;
      c.asked = undefined;
      this.#askLeaves(c);
    }, HASH_REQUEST_TIMEOUT_MS);
    c.asked = { peer: peer.id, timer };
    peer.wire.hashRequest(c.req);
  }

  #leaves(c: LeafCheck, p: PeerConn, msg: HashesMessage): void {
    c.asked?.timer.cancel();
    c.asked = undefined;
    const k = c.piece - c.tree.span.firstPiece;
    if (msg.hashes.length !== c.tree.pieceWidth() * 32 || !c.tree.leavesMatch(k, msg.hashes)) {
      this.#bad(p, `block hashes from ${p.id} do not prove against piece ${c.piece}`);
      this.#askLeaves(c);
      return;
    }
    this.#checks.delete(c.piece);
    const culprits = new Set<string>();
    for (const [offset, b] of c.blocks) {
      if (!equalBytes(hashAt(msg.hashes, offset / MERKLE_BLOCK_SIZE), b.hash)) culprits.add(b.peer);
    }
    for (const id of culprits) this.#host.ban(id, `sent a corrupt block of piece ${c.piece} (Merkle proof)`);
  }

  /** Forgets a peer's pending work (it closed): its requests go to others. */
  peerClosed(p: PeerConn): void {
    this.#serving.delete(p.id);
    for (const j of this.#jobs) {
      if (j.asked?.peer === p.id) {
        j.asked.timer.cancel();
        j.asked = undefined;
      }
    }
    for (const c of this.#checks.values()) {
      if (c.asked?.peer === p.id) {
        c.asked.timer.cancel();
        c.asked = undefined;
        this.#askLeaves(c);
      }
    }
    this.pump();
  }

  /** Stops: pending requests are forgotten and a layer fetch resolves (with what it has). */
  close(): void {
    this.#closed = true;
    const resolve = this.#layersDone;
    this.#layersDone = undefined;
    resolve?.(new Map());
    for (const j of this.#jobs) j.asked?.timer.cancel();
    for (const c of this.#checks.values()) c.asked?.timer.cancel();
    this.#checks.clear();
  }
}

/** Sends the proof `make` builds, or a `hash reject` when there is none (or it throws). */
function answer(p: PeerConn, req: HashRequest, make: (() => MerkleProof | undefined) | undefined): void {
  if (p.wire.closed) return;
  let proof: MerkleProof | undefined;
  try {
    proof = make?.();
  } catch {
    proof = undefined;
  }
  try {
    if (proof) p.wire.hashes({ ...req, ...proof });
    else p.wire.hashReject(req);
  } catch (err) {
    // (A peer without the v2 bit, or a proof too long for a message: it gets nothing.)
    void err;
  }
}

/** SHA-256 of each 16 KiB block of `data`, concatenated. */
function leafHashes(data: Uint8Array): Uint8Array {
  const n = Math.ceil(data.length / MERKLE_BLOCK_SIZE);
  const out = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++)
    out.set(sha256(data.subarray(i * MERKLE_BLOCK_SIZE, (i + 1) * MERKLE_BLOCK_SIZE)), i * 32);
  return out;
}
