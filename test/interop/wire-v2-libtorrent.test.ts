/**
 * BEP 52 on the wire against the real libtorrent 2.0 (Debian's python3-libtorrent), over TCP on
 * 127.0.0.1: libtorrent creates and seeds a v2-only torrent of one multi-piece file
 * (test/fixtures/lt_seed_v2.py); our PeerWire dials it with the v2 bit and the truncated v2
 * info-hash (libtorrent answers on that hash without setting the bit: the hash alone makes the
 * connection v2), and asks for hashes — the piece layer in two runs and the
 * block hashes of one piece — each answer's proof verifying with `verifyMerkleProof` against the
 * file's pieces root, the hashes equal to the torrent's piece layer and to the data's block
 * hashes. A request for a root not in the torrent is answered with a hash reject. libtorrent
 * answers without us being interested or unchoked, before any bitfield from us.
 * A hybrid dialled by its v1 hash with our v2 bit is upgraded (BEP 52): libtorrent answers with
 * the truncated v2 hash, and serves hashes; without our bit it sets its own and stays v1.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Metainfo, parseTorrent } from '../../src/metainfo/index.js';
import { blockHashes, merklePadHash, verifyMerkleProof } from '../../src/metainfo/merkle.js';
import type { InfoDictionary } from '../../src/metainfo/torrent.js';
import { toHex } from '../../src/util/bytes.js';
import { TcpTransport } from '../../src/util/transport.js';
import {
  type HashesMessage,
  type HashRequest,
  hashesUncleCount,
  PeerWire,
  type PeerWireEvents,
  type UtMetadataExtension,
  utMetadata,
} from '../../src/wire/index.js';
import { Procs, waitForLine } from '../helpers/procs.js';
import { pseudoRandomBytes, ROOT, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const LT_SEED = join(ROOT, 'test/fixtures/lt_seed_v2.py');
const PIECE = 64 * 1024; // 4 blocks: the piece layer is layer 2
const LENGTH = 10 * PIECE + 100; // 11 pieces, 41 blocks: a tree 64 leaves wide, 6 layers high
const WIDTH = 64;

const tmp = tempDir('bttkit-wire-v2-lt-');
const procs = new Procs();
let data: Uint8Array;
let meta: Metainfo;
let root: Uint8Array;
let port = 0;
const alerts: string[] = [];

beforeAll(async () => {
  data = pseudoRandomBytes(LENGTH, 52);
  const file = join(tmp.path, 'v2.bin');
  writeFileSync(file, data);
  const torrent = join(tmp.path, 'v2.torrent');
  const lt = procs.start(SYSTEM_PYTHON, [LT_SEED, file, torrent, String(PIECE), 'v2']);
  lt.stdout?.setEncoding('utf8');
  lt.stdout?.on('data', (d: string) => {
    for (const line of d.split('\n')) if (line.includes('"alert"') && alerts.length < 200) alerts.push(line);
  });
  const line = await waitForLine(lt, (l) => l.includes('"seeding"'), 60_000, 'libtorrent seeder');
  const seeding = JSON.parse(line) as { port: number; v2: string };
  port = seeding.port;
  meta = parseTorrent(readFileSync(torrent));
  expect(meta.version).toBe(2);
  expect(meta.infoHashV2).toBe(seeding.v2);
  root = meta.files[0]?.piecesRoot as Uint8Array;
  expect(root.length).toBe(32);
}, 90_000);

afterAll(() => {
  procs.killAll();
  tmp.cleanup();
});

function once<K extends keyof PeerWireEvents & string>(
  wire: PeerWire,
  event: K,
  ms = 15_000,
): Promise<PeerWireEvents[K]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`no ${event} from libtorrent in ${ms} ms\n${alerts.join('\n')}`)),
      ms,
    );
    wire.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

async function dial(setup?: (wire: PeerWire) => void): Promise<PeerWire> {
  const conn = await new TcpTransport({ lendReadBuffer: true }).connect({ host: '127.0.0.1', port });
  const wire = new PeerWire(conn, {
    peerId: new Uint8Array(randomBytes(20)),
    infoHash: meta.infoHashBytes,
    infoHashV2: meta.infoHashV2Bytes as Uint8Array,
    v2: true,
  });
  setup?.(wire);
  const hs = once(wire, 'handshake');
  wire.handshake();
  await hs;
  return wire;
}

/** Asks for `req`; resolves with libtorrent's answer (hashes, or the reject). */
async function ask(wire: PeerWire, req: HashRequest): Promise<HashesMessage | 'rejected'> {
  const answer = new Promise<HashesMessage | 'rejected'>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`no answer to a hash request\n${alerts.join('\n')}`)),
      15_000,
    );
    const done = (v: HashesMessage | 'rejected') => {
      clearTimeout(t);
      resolve(v);
    };
    wire.once('hashes', (m) => done(m));
    wire.once('hash-reject', () => done('rejected'));
    wire.once('close', (err) => reject(err ?? new Error('closed')));
  });
  wire.hashRequest(req);
  return answer;
}

describe('BEP 52 wire: libtorrent 2.0 answers our hash requests', () => {
  it('speaks v2 on the truncated v2 info-hash: libtorrent does not set the bit for a v2 torrent', async () => {
    const wire = await dial();
    expect(wire.peerHandshake?.infoHash).toEqual(meta.infoHashBytes);
    expect(wire.peerHandshake?.v2).toBe(false);
    expect(wire.v2).toBe(true);
    wire.close();
  });

  it('sends the piece layer in two runs of 8 with one uncle each; the proofs verify', async () => {
    const wire = await dial();
    const layer = meta.pieceLayers?.get(toHex(root)) as Uint8Array;
    expect(layer.length).toBe(11 * 32);
    const got: Uint8Array[] = [];
    for (const index of [0, 8]) {
      // log2(8) − 1 = 2 proof layers omitted, the third brings the uncle at layer 5.
      const req: HashRequest = { piecesRoot: root, baseLayer: 2, index, length: 8, proofLayers: 3 };
      const m = await ask(wire, req);
      if (m === 'rejected') throw new Error('libtorrent rejected the piece-layer request');
      expect(m.uncles.length).toBe(32 * hashesUncleCount(8, 3));
      expect(verifyMerkleProof(root, WIDTH, 2, index, m)).toBe(true);
      const bad = { hashes: m.hashes.slice(), uncles: m.uncles };
      bad.hashes[0] = (bad.hashes[0] as number) ^ 1;
      expect(verifyMerkleProof(root, WIDTH, 2, index, bad)).toBe(false);
      got.push(m.hashes);
    }
    // The 11 real piece hashes, then padding: roots of all-zero 4-leaf subtrees.
    const all = new Uint8Array([...(got[0] as Uint8Array), ...(got[1] as Uint8Array)]);
    expect(all.subarray(0, 11 * 32)).toEqual(new Uint8Array(layer));
    for (let i = 11; i < 16; i++) expect(all.subarray(i * 32, i * 32 + 32)).toEqual(merklePadHash(2));
    // The whole layer in one run proves itself: no proof layers, no uncles.
    const whole = await ask(wire, { piecesRoot: root, baseLayer: 2, index: 0, length: 16, proofLayers: 0 });
    if (whole === 'rejected') throw new Error('libtorrent rejected the whole-layer request');
    expect(whole.uncles.length).toBe(0);
    expect(whole.hashes).toEqual(all);
    expect(verifyMerkleProof(root, WIDTH, 2, 0, whole)).toBe(true);
    expect(wire.closed).toBe(false);
    wire.close();
  });

  it('sends the block hashes of one piece with the proof up to the root', async () => {
    const wire = await dial();
    // Piece 3: blocks 12..15; 4 uncles (layers 2, 3, 4, 5), so 4 + log2(4) − 1 = 5 proof layers.
    const req: HashRequest = { piecesRoot: root, baseLayer: 0, index: 12, length: 4, proofLayers: 5 };
    const m = await ask(wire, req);
    if (m === 'rejected') throw new Error('libtorrent rejected the block-hash request');
    expect(m.uncles.length).toBe(4 * 32);
    expect(m.hashes).toEqual(blockHashes(data.subarray(3 * PIECE, 4 * PIECE)));
    expect(verifyMerkleProof(root, WIDTH, 0, 12, m)).toBe(true);
    wire.close();
  });

  it('serves the v2 info dictionary over ut_metadata, checked by SHA-256 against the v2 info-hash', async () => {
    let ext: UtMetadataExtension | undefined;
    const wire = await dial((w) => {
      ext = w.use(
        utMetadata({ infoHash: meta.infoHashBytes, infoHashV2: meta.infoHashV2Bytes as Uint8Array }),
      );
    });
    const m = ext as UtMetadataExtension;
    const info = await new Promise<InfoDictionary>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no metadata\n${alerts.join('\n')}`)), 15_000);
      m.once('metadata', (i) => {
        clearTimeout(t);
        resolve(i);
      });
      m.once('failed', (e) => reject(e));
      wire.once('close', (e) => reject(e ?? new Error('closed')));
    });
    expect(info.version).toBe(2);
    expect(info.infoHashV2).toBe(meta.infoHashV2);
    expect(new Uint8Array(info.infoBytes)).toEqual(new Uint8Array(meta.infoBytes));
    wire.close();
  });

  it('rejects a request for a file it does not have, and keeps the connection', async () => {
    const wire = await dial();
    const other = new Uint8Array(32).fill(7);
    const m = await ask(wire, { piecesRoot: other, baseLayer: 2, index: 0, length: 8, proofLayers: 0 });
    expect(m).toBe('rejected');
    expect(wire.closed).toBe(false);
    wire.close();
  });
});

describe('BEP 52 wire: libtorrent 2.0 seeding a hybrid torrent, named by its v1 info-hash', () => {
  const hybrid = { port: 0, meta: undefined as Metainfo | undefined };

  beforeAll(async () => {
    const file = join(tmp.path, 'hybrid.bin');
    writeFileSync(file, data);
    const torrent = join(tmp.path, 'hybrid.torrent');
    const lt = procs.start(SYSTEM_PYTHON, [LT_SEED, file, torrent, String(PIECE), 'hybrid']);
    const line = await waitForLine(lt, (l) => l.includes('"seeding"'), 60_000, 'libtorrent hybrid seeder');
    hybrid.port = (JSON.parse(line) as { port: number }).port;
    hybrid.meta = parseTorrent(readFileSync(torrent));
    expect(hybrid.meta.version).toBe('hybrid');
  }, 90_000);

  async function dialHybrid(v2: boolean): Promise<PeerWire> {
    const m = hybrid.meta as Metainfo;
    const conn = await new TcpTransport().connect({ host: '127.0.0.1', port: hybrid.port });
    const wire = new PeerWire(conn, {
      peerId: new Uint8Array(randomBytes(20)),
      infoHash: m.infoHashBytes,
      infoHashV2: m.infoHashV2Bytes as Uint8Array,
      v2,
    });
    const hs = once(wire, 'handshake');
    wire.handshake();
    await hs;
    return wire;
  }

  it('with our v2 bit, libtorrent upgrades: it answers on the truncated v2 hash, and serves hashes', async () => {
    const m = hybrid.meta as Metainfo;
    const wire = await dialHybrid(true);
    // BEP 52's upgrade: the v1 hash and the bit from us, the truncated v2 hash (no bit) back.
    expect(wire.peerHandshake?.infoHash).toEqual((m.infoHashV2Bytes as Uint8Array).subarray(0, 20));
    expect(wire.peerHandshake?.v2).toBe(false);
    expect(wire.v2).toBe(true);
    const r = m.files.find((f) => f.piecesRoot)?.piecesRoot as Uint8Array;
    const msg = await ask(wire, { piecesRoot: r, baseLayer: 2, index: 0, length: 16, proofLayers: 0 });
    if (msg === 'rejected') throw new Error('libtorrent rejected the request');
    expect(verifyMerkleProof(r, WIDTH, 2, 0, msg)).toBe(true);
    wire.close();
  });

  it('without it, the connection is v1 only', async () => {
    const wire = await dialHybrid(false);
    // libtorrent offers v2 (its bit, on the v1 hash); without ours it holds us for v1-only.
    expect(wire.peerHandshake?.infoHash).toEqual((hybrid.meta as Metainfo).infoHashBytes);
    expect(wire.peerHandshake?.v2).toBe(true);
    expect(wire.v2).toBe(false);
    wire.close();
  });
});
