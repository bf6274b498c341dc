import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import {
  blockHashes,
  merkleLayers,
  merkleProof,
  rootFromLeaves,
  verifyMerkleProof,
} from '../../src/metainfo/merkle.js';
import { type InfoDictionary, parseInfoDictionary } from '../../src/metainfo/torrent.js';
import { sha256 } from '../../src/util/hash.js';
import {
  encodeHashes,
  encodeHashReject,
  encodeHashRequest,
  type HashesMessage,
  type HashRequest,
  hashesUncleCount,
  MAX_OUTSTANDING_HASH_REQUESTS,
  PeerWire,
  type UtMetadataExtension,
  utMetadata,
  WireError,
} from '../../src/wire/index.js';
import {
  connections,
  next,
  type PairKind,
  rawHandshake,
  reservedBits,
  rnd,
  until,
  wirePair,
} from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** 64 blocks of data: its Merkle layers (layer 6 the root); the piece layer of 256 KiB pieces is layer 4. */
const data = rnd(64 * 16384);
const layers = merkleLayers(blockHashes(data));
const root = layers[6] as Uint8Array;

/** The answer a seeder gives to `req` (the proof reaching the root). */
function answer(req: HashRequest): HashesMessage {
  const uncles = hashesUncleCount(req.length, req.proofLayers);
  const proof = merkleProof(layers, req.baseLayer, req.index, req.length, uncles);
  return { ...req, ...proof };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return (err as WireError).code;
  }
  return undefined;
}

for (const kind of ['memory', 'tcp', 'lent'] as PairKind[]) {
  describe(`BEP 52 on a PeerWire over ${kind}`, () => {
    it('sets the v2 bit only when asked, and reads the peer’s', async () => {
      const p = await wirePair(kind, { v2: true }, {});
      cleanups.push(p.done);
      expect(p.b.peerHandshake?.v2).toBe(true);
      expect(p.b.peerHandshake?.reserved[7]).toBe(0x14); // BEP 6 and BEP 52
      expect(p.a.peerHandshake?.v2).toBe(false);
      expect(p.a.peerHandshake?.reserved[7]).toBe(0x04);
      const q = await wirePair(kind, {}, { v2: true, dht: true });
      cleanups.push(q.done);
      expect(q.a.peerHandshake?.v2).toBe(true);
      expect(q.a.peerHandshake?.reserved[7]).toBe(0x15);
      expect(q.b.peerHandshake?.v2).toBe(false);
    });

    it('negotiates v2 by the bit on both sides, or by the truncated v2 info-hash without bits', async () => {
      const one = await wirePair(kind, { v2: true }, {});
      cleanups.push(one.done);
      expect([one.a.v2, one.b.v2]).toEqual([false, false]); // b does not speak v2
      const both = await wirePair(kind, { v2: true }, { v2: true });
      cleanups.push(both.done);
      expect([both.a.v2, both.b.v2]).toEqual([true, true]);
      // As libtorrent does for a v2 torrent: no bit, the handshakes name the truncated v2 hash;
      // the accepting side learns the torrent at its handshake.
      const v2 = rnd(32);
      const hashed = await wirePair(kind, { infoHash: v2.subarray(0, 20), infoHashV2: v2 }, {}, (_a, b) => {
        b.once('handshake', () => b.handshake(undefined, { infoHashV2: v2 }));
      });
      cleanups.push(hashed.done);
      expect(hashed.b.peerHandshake?.v2).toBe(false);
      expect([hashed.a.v2, hashed.b.v2]).toEqual([true, true]);
      // A hybrid named by its v1 hash, no bits: v1 only.
      const v1 = await wirePair(kind, { infoHashV2: v2 }, { infoHashV2: v2 });
      cleanups.push(v1.done);
      expect([v1.a.v2, v1.b.v2]).toEqual([false, false]);
    });

    it('upgrades a hybrid named by its v1 hash: the accepting end answers with the truncated v2 hash', async () => {
      const v2 = rnd(32);
      const p = await wirePair(kind, { v2: true, infoHashV2: v2 }, {}, (_a, b) => {
        b.once('handshake', (hs) => {
          expect(hs.v2).toBe(true);
          b.handshake(v2.subarray(0, 20), { v2: true, infoHashV2: v2 });
        });
      });
      cleanups.push(p.done);
      expect(p.a.peerHandshake?.infoHash).toEqual(v2.subarray(0, 20));
      expect(p.b.peerHandshake?.infoHash).toEqual(p.infoHash);
      expect([p.a.v2, p.b.v2]).toEqual([true, true]);
    });

    it('exchanges hash request, hashes (whose proof verifies) and hash reject', async () => {
      const { a, b, done } = await wirePair(kind, { v2: true }, { v2: true });
      cleanups.push(done);
      // b serves: the piece layer (layer 4, 4 hashes) in runs of 2 with a proof to the root.
      b.on('hash-request', (req) => {
        if (req.baseLayer === 4) b.hashes(answer(req));
        else b.hashReject(req);
      });
      const req: HashRequest = { piecesRoot: root, baseLayer: 4, index: 2, length: 2, proofLayers: 1 };
      const got = next(a, 'hashes');
      a.hashRequest(req);
      const [msg] = await got;
      expect(msg.hashes).toEqual((layers[4] as Uint8Array).subarray(64, 128));
      expect(msg.uncles.length).toBe(32);
      expect(verifyMerkleProof(root, 64, 4, 2, msg)).toBe(true);
      expect(rootFromLeaves(layers[0] as Uint8Array)).toEqual(root);

      const leafReq: HashRequest = { piecesRoot: root, baseLayer: 0, index: 16, length: 16, proofLayers: 5 };
      const rejected = next(a, 'hash-reject');
      a.hashRequest(leafReq);
      expect((await rejected)[0]).toEqual(leafReq);
      expect(a.closed || b.closed).toBe(false);
    });
  });
}

describe('BEP 52 on a PeerWire: refusals', () => {
  const req: HashRequest = { piecesRoot: root, baseLayer: 4, index: 0, length: 4, proofLayers: 1 };

  it('lets a handshake listener send a hash request at once (v2 is settled before the event)', async () => {
    const got: HashRequest[] = [];
    const p = await wirePair('memory', { v2: true }, { v2: true }, (a, b) => {
      a.once('handshake', () => a.hashRequest(req));
      b.on('hash-request', (r) => got.push(r));
    });
    cleanups.push(p.done);
    await until(() => got.length === 1, 5000, 'the request');
    expect(got[0]).toEqual(req);
  });

  it('will not send hash messages to a peer without the v2 bit', async () => {
    const { a, b, done } = await wirePair('memory', { v2: true }, {});
    cleanups.push(done);
    expect(codeOf(() => a.hashRequest(req))).toBe('WIRE_NOT_SUPPORTED');
    expect(codeOf(() => a.hashReject(req))).toBe('WIRE_NOT_SUPPORTED');
    expect(codeOf(() => a.hashes(answer(req)))).toBe('WIRE_NOT_SUPPORTED');
    expect(codeOf(() => b.hashRequest({ ...req, index: 2, length: 3 }))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(a.closed || b.closed).toBe(false);
  });

  it('refuses an upgrade the other end did not offer (no v2 bit)', async () => {
    const v2 = rnd(32);
    // The dialler did not set the bit: answering with the v2 hash is another torrent.
    const [ca, cb, close] = await connections('memory');
    cleanups.push(close);
    const a = new PeerWire(ca, { peerId: rnd(20), infoHash: rnd(20), infoHashV2: v2 });
    const b = new PeerWire(cb, { peerId: rnd(20) });
    const bClosed = next(b, 'close');
    b.once('handshake', () => b.handshake(v2.subarray(0, 20), { v2: true, infoHashV2: v2 }));
    a.handshake();
    expect((await bClosed)[0]?.code).toBe('WIRE_INFOHASH_MISMATCH');
    // The dialler set no bit either: a peer answering with the v2 hash is another torrent to it.
    const [cc, cd, close2] = await connections('memory');
    cleanups.push(close2);
    const c = new PeerWire(cc, { peerId: rnd(20), infoHash: rnd(20), infoHashV2: v2 });
    const cClosed = next(c, 'close');
    c.handshake();
    cd.write([rawHandshake(v2.subarray(0, 20), rnd(20), reservedBits(true))]);
    expect((await cClosed)[0]?.code).toBe('WIRE_INFOHASH_MISMATCH');
  });

  it('drops a peer without the v2 bit that sends one', async () => {
    const { a, b, done } = await wirePair('memory', { v2: true }, {});
    cleanups.push(done);
    const closed = next(a, 'close');
    b.connection.write([encodeHashRequest(req)]);
    expect((await closed)[0]?.code).toBe('WIRE_UNEXPECTED_MESSAGE');
  });

  const hostile: [string, (w: PeerWire) => void, string][] = [
    [
      'hashes it was not asked for',
      (w) => w.connection.write([encodeHashes(answer(req))]),
      'WIRE_UNEXPECTED_MESSAGE',
    ],
    [
      'a hash request with a misaligned index',
      (w) => {
        const m = encodeHashRequest(req);
        new DataView(m.buffer).setUint32(41, 2);
        w.connection.write([m]);
      },
      'WIRE_BAD_HASH_MESSAGE',
    ],
    [
      'hashes missing an uncle',
      (w) => {
        const m = encodeHashes(answer({ ...req, length: 2, proofLayers: 1 }));
        const cut = m.subarray(0, m.length - 32).slice();
        new DataView(cut.buffer).setUint32(0, cut.length - 4);
        w.connection.write([cut]);
      },
      'WIRE_BAD_HASH_MESSAGE',
    ],
  ];
  for (const [what, send, code] of hostile) {
    it(`drops a v2 peer that sends ${what}`, async () => {
      const { a, b, done } = await wirePair('memory', { v2: true }, { v2: true });
      cleanups.push(done);
      a.hashRequest({ ...req, proofLayers: 2 }); // outstanding: a differs from what b sends
      const closed = next(a, 'close');
      send(b);
      expect((await closed)[0]?.code).toBe(code);
    });
  }

  it('ignores a reject of nothing it asked, and bounds its own outstanding requests', async () => {
    const { a, b, done } = await wirePair('memory', { v2: true }, { v2: true });
    cleanups.push(done);
    let events = 0;
    a.on('hash-reject', () => events++);
    a.on('hashes', () => events++);
    b.connection.write([encodeHashReject(req)]);
    const seen: HashRequest[] = [];
    b.on('hash-request', (r) => seen.push(r));
    for (let i = 0; i < MAX_OUTSTANDING_HASH_REQUESTS; i++) a.hashRequest({ ...req, index: i, length: 1 });
    expect(codeOf(() => a.hashRequest(req))).toBe('WIRE_TOO_MANY_REQUESTS');
    await until(() => seen.length === MAX_OUTSTANDING_HASH_REQUESTS, 5000, 'requests');
    expect(events).toBe(0);
    expect(a.closed).toBe(false);
    // An answer frees a slot; a duplicate answer is then unrequested.
    const first = seen[0] as HashRequest;
    const got = next(a, 'hashes');
    b.hashes({ ...first, hashes: rnd(32), uncles: rnd(hashesUncleCount(1, first.proofLayers) * 32) });
    await got;
    a.hashRequest(req);
    const closed = next(a, 'close');
    b.hashes({ ...first, hashes: rnd(32), uncles: rnd(hashesUncleCount(1, first.proofLayers) * 32) });
    expect((await closed)[0]?.code).toBe('WIRE_UNEXPECTED_MESSAGE');
  });
});

/** A v2-only info dictionary of one file of `blocks` random 16 KiB blocks (one piece: no piece layers). */
function v2Info(blocks: number, name = 'x.bin'): InfoDictionary {
  const file = rnd(blocks * 16384);
  const fileRoot = rootFromLeaves(blockHashes(file));
  return parseInfoDictionary(
    encode({
      'file tree': { [name]: { '': { length: file.length, 'pieces root': fileRoot } } },
      'meta version': 2,
      name,
      'piece length': blocks * 16384,
    }),
  );
}

describe('ut_metadata for a v2 info dictionary', () => {
  it('fetches it and checks SHA-256 against the v2 info-hash (and, without one, the truncated hash)', async () => {
    const info = v2Info(4);
    expect(info.version).toBe(2);
    const v2 = info.infoHashV2Bytes as Uint8Array;
    expect(v2).toEqual(sha256(info.infoBytes));
    expect(info.infoHashBytes).toEqual(v2.subarray(0, 20));
    for (const withV2 of [true, false]) {
      let ma: UtMetadataExtension | undefined;
      const opts = { infoHash: info.infoHashBytes, ...(withV2 ? { infoHashV2: v2 } : {}) };
      const p = await wirePair('memory', { infoHash: info.infoHashBytes, v2: true }, { v2: true }, (a, b) => {
        ma = a.use(utMetadata(opts));
        b.use(utMetadata({ ...opts, info: info.infoBytes }));
      });
      cleanups.push(p.done);
      const m = ma as UtMetadataExtension;
      await until(() => m.metadata !== undefined, 5000, 'metadata');
      expect(m.metadata?.infoHashV2).toBe(info.infoHashV2);
      expect(m.metadata?.infoBytes).toEqual(info.infoBytes);
    }
  });

  it('serves a parsed v2 dictionary only when its v2 info-hash is the one given', () => {
    const info = v2Info(2);
    const other = v2Info(2);
    const ctx = { send: () => {} } as unknown as Parameters<ReturnType<typeof utMetadata>>[0];
    const v2 = info.infoHashV2Bytes as Uint8Array;
    expect(utMetadata({ infoHash: info.infoHashBytes, infoHashV2: v2, info })(ctx).metadata).toBe(info);
    expect(
      utMetadata({ infoHash: info.infoHashBytes, infoHashV2: v2, info: info.infoBytes })(ctx).metadata,
    ).toBeDefined();
    for (const given of [other, other.infoBytes]) {
      expect(
        codeOf(() => utMetadata({ infoHash: info.infoHashBytes, infoHashV2: v2, info: given })(ctx)),
      ).toBe('WIRE_METADATA_HASH_MISMATCH');
    }
    expect(codeOf(() => utMetadata({ infoHash: info.infoHashBytes, infoHashV2: rnd(20) })(ctx))).toBe(
      'WIRE_METADATA_BAD_OPTIONS',
    );
  });

  it('refuses metadata whose truncated SHA-256 matches but whose full SHA-256 is not the v2 info-hash', async () => {
    const info = v2Info(2);
    const v2 = (info.infoHashV2Bytes as Uint8Array).slice();
    v2[31] = (v2[31] as number) ^ 1; // same first 20 bytes: only the full check tells
    let ma: UtMetadataExtension | undefined;
    const p = await wirePair('memory', { infoHash: info.infoHashBytes, v2: true }, { v2: true }, (a, b) => {
      ma = a.use(utMetadata({ infoHash: info.infoHashBytes, infoHashV2: v2 }));
      // b serves the real dictionary (checked against the truncated hash alone).
      b.use(utMetadata({ infoHash: info.infoHashBytes, info: info.infoBytes }));
    });
    cleanups.push(p.done);
    const closed = next(p.a, 'close');
    const [err] = await closed;
    expect(err?.code).toBe('WIRE_METADATA_HASH_MISMATCH');
    expect(ma?.metadata).toBeUndefined();
  });
});
