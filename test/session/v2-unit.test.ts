import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTorrent,
  type Metainfo,
  merkleLayers,
  merklePadHash,
  verifyMerkleProof,
} from '../../src/metainfo/index.js';
import type { PeerConn } from '../../src/session/peer.js';
import { type V2Host, V2Torrent } from '../../src/session/v2.js';
import { ManualClock } from '../../src/util/clock.js';
import type { BttkitError } from '../../src/util/errors.js';
import { type HashesMessage, type HashRequest, hashesUncleCount } from '../../src/wire/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-v2u-');
afterAll(tmp.cleanup);

const PIECE = 16 * 1024;
let meta: Metainfo;

beforeAll(async () => {
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  mkdirSync(join(tmp.path, 'd'), { recursive: true });
  // 1,100 pieces: the piece layer (padded to 2,048) comes in three runs of 512 with proofs.
  writeFileSync(join(tmp.path, 'd', 'big.bin'), pseudoRandomBytes(1100 * PIECE - 3, 9));
  writeFileSync(join(tmp.path, 'd', 'small.bin'), pseudoRandomBytes(5000, 8));
  meta = (await createTorrent(join(tmp.path, 'd'), { version: 2, pieceLength: PIECE })).metainfo;
});

/** A peer whose wire records the hash messages sent to it. */
function fakePeer(id: string) {
  const requests: HashRequest[] = [];
  const answers: (HashesMessage | { reject: HashRequest })[] = [];
  const wire = {
    v2: true,
    closed: false,
    hashRequest: (r: HashRequest) => requests.push(r),
    hashes: (m: HashesMessage) => answers.push(m),
    hashReject: (r: HashRequest) => answers.push({ reject: r }),
  };
  return { peer: { id, wire } as unknown as PeerConn, requests, answers };
}

function world(peers: ReturnType<typeof fakePeer>[]) {
  const clock = new ManualClock();
  const warnings: BttkitError[] = [];
  const host: V2Host = {
    clock,
    info: () => meta,
    store: () => undefined,
    peers: () => peers.map((p) => p.peer),
    peer: (id) => peers.find((p) => p.peer.id === id)?.peer,
    ban: () => {},
    warn: (e) => warnings.push(e),
  };
  return { v2: new V2Torrent(host), clock, warnings };
}

/** The honest answer to `req`, from the .torrent's layer. */
function honest(req: HashRequest): HashesMessage {
  const root = Buffer.from(req.piecesRoot).toString('hex');
  const layer = meta.pieceLayers?.get(root) as Uint8Array;
  const layers = merkleLayers(layer, merklePadHash(0));
  const uncles = hashesUncleCount(req.length, req.proofLayers);
  const hashes = layers[0]?.slice(req.index * 32, (req.index + req.length) * 32) as Uint8Array;
  const out: Uint8Array[] = [];
  let i = req.index / req.length;
  for (let level = Math.log2(req.length); out.length < uncles; level++, i >>= 1) {
    const l = layers[level] as Uint8Array;
    out.push(l.slice((i ^ 1) * 32, (i ^ 1) * 32 + 32));
  }
  const u = new Uint8Array(out.length * 32);
  for (const [k, h] of out.entries()) u.set(h, k * 32);
  return { ...req, hashes, uncles: u };
}

describe('V2Torrent: piece layers from peers', () => {
  it('asks in runs of 512 with proofs to the root, drops a liar and takes the honest answer', async () => {
    const liar = fakePeer('liar');
    const good = fakePeer('good');
    const { v2, warnings } = world([liar, good]);
    const done = v2.layersFor(meta, undefined, true);
    // One request per peer at a time.
    expect(liar.requests).toHaveLength(1);
    expect(good.requests).toHaveLength(1);
    const lie = honest(liar.requests[0] as HashRequest);
    lie.hashes = lie.hashes.slice();
    lie.hashes.set([(lie.hashes[40] as number) ^ 1], 40);
    v2.onHashes(liar.peer, lie);
    expect(warnings.map((w) => w.code)).toEqual(['SESSION_BAD_HASHES']);
    const lied = (liar.requests[0] as HashRequest).index;
    // From now on both answer honestly whatever they are asked.
    for (let n = 0; n < 20; n++) {
      for (const p of [good, liar]) {
        const req = p.requests.at(-1);
        if (!req || (p === liar && p.requests.length === 1)) continue;
        expect(req.length).toBe(512);
        expect(hashesUncleCount(req.length, req.proofLayers)).toBe(2); // 2,048 = 512 · 2²
        v2.onHashes(p.peer, honest(req));
      }
      v2.pump();
    }
    const layers = await done;
    const root = [...(meta.pieceLayers?.keys() ?? [])][0] as string;
    expect(layers.get(root)).toEqual(meta.pieceLayers?.get(root));
    // The liar was never asked its run again.
    expect(liar.requests.slice(1).map((r) => r.index)).not.toContain(lied);
  });

  it('a reject or a timeout sends the run to another peer', async () => {
    const a = fakePeer('a');
    const b = fakePeer('b');
    const { v2, clock } = world([a, b]);
    const done = v2.layersFor(meta, undefined, true);
    v2.onReject(a.peer, a.requests[0] as HashRequest);
    clock.advance(10_001); // b never answers
    const all = [...a.requests, ...b.requests];
    expect(all.length).toBeGreaterThanOrEqual(3);
    // Answer whatever is outstanding until done.
    for (let n = 0; n < 20; n++) {
      for (const p of [a, b]) {
        const r = p.requests.pop();
        if (r) v2.onHashes(p.peer, honest(r));
      }
      v2.pump();
    }
    await done;
  });
});

describe('V2Torrent: serving hash requests', () => {
  it('answers piece-layer runs with a proof that verifies, and rejects hostile requests', async () => {
    const p = fakePeer('p');
    const { v2 } = world([p]);
    await v2.layersFor(meta, meta.pieceLayers, true);
    const root = meta.v2?.files.find((f) => f.pieceCount > 1)?.piecesRoot as Uint8Array;
    const good: HashRequest = { piecesRoot: root, baseLayer: 0, index: 512, length: 512, proofLayers: 10 };
    v2.onRequest(p.peer, good);
    const a = p.answers[0] as HashesMessage;
    expect('hashes' in a).toBe(true);
    // Tree: 2,048 leaves (pieces of one block), height 11; 512 hashes need 2 uncles.
    expect(a.uncles.length / 32).toBe(hashesUncleCount(512, 10));
    expect(verifyMerkleProof(root, 2048, 0, 512, { hashes: a.hashes, uncles: a.uncles })).toBe(true);
    const hostile: HashRequest[] = [
      { ...good, piecesRoot: new Uint8Array(32) }, // no such file
      { ...good, length: 384 }, // not a power of two
      { ...good, index: 2048 }, // past the layer
      { ...good, length: 1024, index: 0 }, // more than 512
      { ...good, baseLayer: 12 }, // above the root
      { ...good, proofLayers: 64 }, // more uncles than the tree has
    ];
    for (const r of hostile) v2.onRequest(p.peer, r);
    expect(p.answers.slice(1).map((x) => 'reject' in x)).toEqual(hostile.map(() => true));
  });
});
