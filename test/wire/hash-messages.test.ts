import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockHashes, merkleLayers, merkleProof, verifyMerkleProof } from '../../src/metainfo/merkle.js';
import { FrameGuard, type GuardSink } from '../../src/wire/guard.js';
import {
  DEFAULT_WIRE_LIMITS,
  decodeHashes,
  decodeHashRequest,
  encodeHashes,
  encodeHashReject,
  encodeHashRequest,
  HASH_REJECT_ID,
  HASH_REQUEST_ID,
  HASHES_ID,
  type HashesMessage,
  type HashRequest,
  hashesUncleCount,
  MAX_HASH_REQUEST_LENGTH,
  MAX_HASHES_MESSAGE_LENGTH,
  MAX_PROOF_LAYERS,
  WireError,
} from '../../src/wire/index.js';
import { rnd } from './helpers.js';

const req = (over: Partial<HashRequest> = {}): HashRequest => ({
  piecesRoot: rnd(32),
  baseLayer: 2,
  index: 8,
  length: 4,
  proofLayers: 3,
  ...over,
});

/** A message's payload (after length prefix and id). */
const payloadOf = (msg: Uint8Array) => msg.subarray(5);

/** Builds a raw hash-request-shaped payload from fields, bypassing the encoder's checks. */
function rawPayload(r: HashRequest, extra = 0): Uint8Array {
  const out = new Uint8Array(48 + extra);
  const v = new DataView(out.buffer);
  out.set(r.piecesRoot.subarray(0, 32));
  v.setUint32(32, r.baseLayer);
  v.setUint32(36, r.index);
  v.setUint32(40, r.length);
  v.setUint32(44, r.proofLayers);
  return out;
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

describe('BEP 52 hash messages: the codec', () => {
  it('encodes a hash request as 4 + 49 bytes: length, id 21, root, four big-endian u32', () => {
    const r = req();
    const m = encodeHashRequest(r);
    expect(m.length).toBe(53);
    const v = new DataView(m.buffer);
    expect(v.getUint32(0)).toBe(49);
    expect(m[4]).toBe(HASH_REQUEST_ID);
    expect(m.subarray(5, 37)).toEqual(r.piecesRoot);
    expect([v.getUint32(37), v.getUint32(41), v.getUint32(45), v.getUint32(49)]).toEqual([2, 8, 4, 3]);
    expect(decodeHashRequest(payloadOf(m))).toEqual(r);
    const rej = encodeHashReject(r);
    expect(rej[4]).toBe(HASH_REJECT_ID);
    expect(decodeHashRequest(payloadOf(rej))).toEqual(r);
  });

  it('round-trips hashes with their uncles, and the decoded copy owns its bytes', () => {
    const r = req({ length: 4, proofLayers: 3 }); // log2(4) − 1 = 1 layer omitted: 2 uncles
    expect(hashesUncleCount(4, 3)).toBe(2);
    const msg: HashesMessage = { ...r, hashes: rnd(4 * 32), uncles: rnd(2 * 32) };
    const m = encodeHashes(msg);
    expect(m[4]).toBe(HASHES_ID);
    expect(m.length).toBe(4 + 49 + 6 * 32);
    const payload = payloadOf(m);
    const d = decodeHashes(payload);
    expect(d).toEqual(msg);
    payload.fill(0);
    expect(d.hashes).toEqual(msg.hashes);
    expect(d.piecesRoot).toEqual(msg.piecesRoot);
  });

  it('counts uncles as BEP 52 and libtorrent do: the first log2(length) − 1 proof layers are omitted', () => {
    expect(hashesUncleCount(2, 0)).toBe(0);
    expect(hashesUncleCount(2, 5)).toBe(5);
    expect(hashesUncleCount(512, 8)).toBe(0);
    expect(hashesUncleCount(512, 10)).toBe(2);
    expect(hashesUncleCount(1, 0)).toBe(1); // a lone hash needs its sibling
    expect(hashesUncleCount(3, 2)).toBe(1); // truncated run: rounds up to 4
  });

  it('carries a proof merkle.ts builds, and the proof verifies against the root', () => {
    // 64 leaves; the piece layer of 256 KiB pieces is layer 4 (4 hashes); ask for 2 of them.
    const data = rnd(64 * 16384);
    const layers = merkleLayers(blockHashes(data));
    const root = layers[layers.length - 1] as Uint8Array;
    // From layer 4, two hashes (subtree to layer 5), one uncle to reach the root at layer 6.
    const proof = merkleProof(layers, 4, 2, 2);
    expect(proof.uncles.length).toBe(32);
    const proofLayers = 1; // log2(2) − 1 = 0 omitted: one proof layer, one uncle
    const msg: HashesMessage = { piecesRoot: root, baseLayer: 4, index: 2, length: 2, proofLayers, ...proof };
    const d = decodeHashes(payloadOf(encodeHashes(msg)));
    expect(verifyMerkleProof(d.piecesRoot, 64, d.baseLayer, d.index, d)).toBe(true);
    d.uncles[0] = (d.uncles[0] as number) ^ 1;
    expect(verifyMerkleProof(d.piecesRoot, 64, d.baseLayer, d.index, d)).toBe(false);
  });

  it('accepts the bounds themselves', () => {
    const big = req({ index: 0, length: MAX_HASH_REQUEST_LENGTH, proofLayers: MAX_PROOF_LAYERS });
    expect(decodeHashRequest(rawPayload(big))).toEqual(big);
    const uncles = hashesUncleCount(MAX_HASH_REQUEST_LENGTH, MAX_PROOF_LAYERS);
    const m = encodeHashes({ ...big, hashes: rnd(MAX_HASH_REQUEST_LENGTH * 32), uncles: rnd(uncles * 32) });
    expect(m.length - 4).toBeLessThanOrEqual(MAX_HASHES_MESSAGE_LENGTH);
    expect(decodeHashes(payloadOf(m)).length).toBe(MAX_HASH_REQUEST_LENGTH);
    // A run truncated by the end of its layer: 3 hashes from 4 (aligned to 4).
    expect(decodeHashRequest(rawPayload(req({ index: 4, length: 3 }))).length).toBe(3);
    expect(decodeHashRequest(rawPayload(req({ index: 0, length: 1, proofLayers: 0 }))).length).toBe(1);
  });

  const hostileRequests: [string, Uint8Array][] = [
    ['an empty payload', new Uint8Array(0)],
    ['47 bytes', rawPayload(req()).subarray(0, 47)],
    ['49 bytes', rawPayload(req(), 1)],
    ['length 0', rawPayload(req({ length: 0, index: 0 }))],
    ['length above 8192', rawPayload(req({ length: 16384, index: 0 }))],
    ['length 2^32 − 1', rawPayload(req({ length: 0xffffffff, index: 0 }))],
    ['an index not a multiple of the length', rawPayload(req({ index: 2, length: 4 }))],
    ['an index not aligned to a truncated run', rawPayload(req({ index: 6, length: 3 }))],
    ['65 proof layers', rawPayload(req({ proofLayers: 65 }))],
    ['2^32 − 1 proof layers', rawPayload(req({ proofLayers: 0xffffffff }))],
    ['a base layer of 2^32 − 1', rawPayload(req({ baseLayer: 0xffffffff }))],
  ];
  for (const [what, payload] of hostileRequests) {
    it(`refuses a hash request with ${what}`, () => {
      expect(codeOf(() => decodeHashRequest(payload))).toBe('WIRE_BAD_HASH_MESSAGE');
    });
  }

  const good = () => {
    const r = req({ length: 4, proofLayers: 3 });
    return { r, payload: payloadOf(encodeHashes({ ...r, hashes: rnd(128), uncles: rnd(64) })) };
  };
  const hostileHashes: [string, () => Uint8Array][] = [
    ['no header', () => new Uint8Array(20)],
    ['a ragged tail (not whole hashes)', () => good().payload.subarray(0, good().payload.length - 1)],
    ['a hash missing (truncated uncles)', () => good().payload.subarray(0, 48 + 5 * 32)],
    ['an extra hash', () => new Uint8Array([...good().payload, ...rnd(32)])],
    ['no hashes at all', () => rawPayload(req({ length: 4, proofLayers: 3 }))],
    [
      'a payload above the largest legal',
      () => rawPayload(req({ index: 0, length: 8192, proofLayers: 64 }), (8192 + 66) * 32),
    ],
    ['length 0 with hashes', () => rawPayload(req({ length: 0, index: 0, proofLayers: 0 }), 32)],
    ['a misaligned index', () => rawPayload(req({ index: 1, length: 2, proofLayers: 0 }), 64)],
  ];
  for (const [what, payload] of hostileHashes) {
    it(`refuses hashes with ${what}`, () => {
      expect(codeOf(() => decodeHashes(payload()))).toBe('WIRE_BAD_HASH_MESSAGE');
    });
  }

  it('refuses to encode what it would refuse to decode', () => {
    expect(codeOf(() => encodeHashRequest(req({ piecesRoot: rnd(20) })))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(() => encodeHashRequest(req({ length: 8193, index: 0 })))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(() => encodeHashRequest(req({ index: -4 })))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(codeOf(() => encodeHashRequest(req({ proofLayers: 1.5 })))).toBe('WIRE_BAD_HASH_MESSAGE');
    const r = req({ length: 4, proofLayers: 3 });
    expect(codeOf(() => encodeHashes({ ...r, hashes: rnd(96), uncles: rnd(64) }))).toBe(
      'WIRE_BAD_HASH_MESSAGE',
    );
    expect(codeOf(() => encodeHashes({ ...r, hashes: rnd(128), uncles: rnd(32) }))).toBe(
      'WIRE_BAD_HASH_MESSAGE',
    );
  });
});

/** A guard past a handshake, v2 negotiated or not, recording what it delivers. */
function guard(v2: boolean) {
  const got: { id: number; m: unknown }[] = [];
  const unknown: number[] = [];
  const sink: GuardSink = {
    stopped: false,
    handshake: () => true,
    keepAlive: () => {},
    message: () => {},
    bitfield: () => {},
    piece: () => {},
    extended: () => {},
    unknown: (id) => unknown.push(id),
    hash: (id, m) => got.push({ id, m }),
  };
  const g = new FrameGuard(sink, { ...DEFAULT_WIRE_LIMITS });
  const hs = new Uint8Array(68);
  hs[0] = 19;
  hs.set(new TextEncoder().encode('BitTorrent protocol'), 1);
  g.push(hs);
  g.setV2(v2);
  return { g, got, unknown };
}

/** A frame: length prefix, id, payload. */
function frame(id: number, payload: Uint8Array, len = payload.length + 1): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(0, len);
  out[4] = id;
  out.set(payload, 5);
  return out;
}

describe('BEP 52 hash messages: the framing guard', () => {
  it('delivers 21, 22 and 23 decoded from a v2 peer, whole or split byte by byte', () => {
    const r = req({ length: 2, proofLayers: 1 });
    const bytes = new Uint8Array([
      ...encodeHashRequest(r),
      ...encodeHashes({ ...r, hashes: rnd(64), uncles: rnd(32) }),
      ...encodeHashReject(r),
    ]);
    const whole = guard(true);
    whole.g.push(bytes);
    expect(whole.got.map((x) => x.id)).toEqual([21, 22, 23]);
    expect(whole.got[0]?.m).toEqual(r);
    const split = guard(true);
    for (let i = 0; i < bytes.length; i++) split.g.push(bytes.subarray(i, i + 1));
    expect(split.got).toEqual(whole.got);
  });

  it('refuses them unless v2 was negotiated, before buffering', () => {
    for (const id of [21, 22, 23]) {
      const { g, got } = guard(false);
      expect(codeOf(() => g.push(frame(id, new Uint8Array(0), 49)))).toBe('WIRE_UNEXPECTED_MESSAGE');
      expect(got).toEqual([]);
    }
  });

  it('refuses a wrong size from the length prefix alone', () => {
    const cases: [number, number, string][] = [
      [21, 48, 'WIRE_BAD_HASH_MESSAGE'],
      [21, 50, 'WIRE_BAD_HASH_MESSAGE'],
      [23, 81, 'WIRE_BAD_HASH_MESSAGE'],
      [22, 48, 'WIRE_BAD_HASH_MESSAGE'],
      [22, 49 + 33, 'WIRE_BAD_HASH_MESSAGE'],
      [22, MAX_HASHES_MESSAGE_LENGTH + 32, 'WIRE_MESSAGE_TOO_LARGE'],
      [22, 0x7fffffff, 'WIRE_MESSAGE_TOO_LARGE'],
    ];
    for (const [id, len, code] of cases) {
      const { g } = guard(true);
      expect(
        codeOf(() => g.push(frame(id, new Uint8Array(0), len))),
        `${id}/${len}`,
      ).toBe(code);
    }
    // The largest legal hashes message passes the header check (the guard waits for its body).
    const { g } = guard(true);
    expect(codeOf(() => g.push(frame(22, new Uint8Array(0), MAX_HASHES_MESSAGE_LENGTH)))).toBeUndefined();
  });

  it('refuses a well-sized message with bad fields', () => {
    const { g, got } = guard(true);
    expect(codeOf(() => g.push(frame(21, rawPayload(req({ index: 3, length: 2 })))))).toBe(
      'WIRE_BAD_HASH_MESSAGE',
    );
    const uncounted = rawPayload(req({ length: 2, proofLayers: 1 }), 2 * 32); // one uncle short
    expect(codeOf(() => guard(true).g.push(frame(22, uncounted)))).toBe('WIRE_BAD_HASH_MESSAGE');
    expect(got).toEqual([]);
  });

  it('keeps the 64 KiB message bound unless v2 was negotiated', () => {
    expect(guard(false).g.maxMessageLength()).toBeLessThan(MAX_HASHES_MESSAGE_LENGTH);
    expect(guard(true).g.maxMessageLength()).toBe(MAX_HASHES_MESSAGE_LENGTH);
  });
});

describe('BEP 52 hash messages: fuzzed', () => {
  const arbReq = fc.record({
    piecesRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    baseLayer: fc.integer({ min: 0, max: 20 }),
    k: fc.integer({ min: 0, max: 1000 }),
    logLength: fc.integer({ min: 0, max: 9 }),
    proofLayers: fc.integer({ min: 0, max: 30 }),
  });

  it('round-trips every request and answer within the bounds', () => {
    fc.assert(
      fc.property(arbReq, ({ piecesRoot, baseLayer, k, logLength, proofLayers }) => {
        const length = 2 ** logLength;
        const r: HashRequest = { piecesRoot, baseLayer, index: k * length, length, proofLayers };
        expect(decodeHashRequest(payloadOf(encodeHashRequest(r)))).toEqual(r);
        const uncles = hashesUncleCount(length, proofLayers);
        const m: HashesMessage = { ...r, hashes: rnd(length * 32), uncles: rnd(uncles * 32) };
        expect(decodeHashes(payloadOf(encodeHashes(m)))).toEqual(m);
      }),
      { numRuns: 100 },
    );
  });

  it('decodes mutated bytes to a message within the bounds, or refuses them with a code', () => {
    const seed = req({ length: 4, proofLayers: 5 });
    const valid = payloadOf(encodeHashes({ ...seed, hashes: rnd(128), uncles: rnd(4 * 32) }));
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
        fc.integer({ min: -40, max: 200 }),
        (edits, cut) => {
          const bytes = new Uint8Array(Math.max(0, valid.length + cut));
          bytes.set(valid.subarray(0, Math.min(valid.length, bytes.length)));
          for (const { at, byte } of edits) if (bytes.length > 0) bytes[at % bytes.length] = byte;
          for (const decode of [decodeHashes, decodeHashRequest]) {
            let m: HashRequest | undefined;
            try {
              m = decode(bytes);
            } catch (err) {
              expect(err).toBeInstanceOf(WireError);
              expect((err as WireError).code).toBe('WIRE_BAD_HASH_MESSAGE');
              continue;
            }
            expect(m.length).toBeGreaterThanOrEqual(1);
            expect(m.length).toBeLessThanOrEqual(MAX_HASH_REQUEST_LENGTH);
            expect(m.proofLayers).toBeLessThanOrEqual(MAX_PROOF_LAYERS);
            expect(m.piecesRoot.length).toBe(32);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
