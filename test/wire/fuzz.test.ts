import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import { concatBytes } from '../../src/util/bytes.js';
import { BttkitError } from '../../src/util/errors.js';
import { createMemoryPair } from '../../src/util/transport.js';
import {
  bttSpeed,
  DEFAULT_WIRE_LIMITS,
  FrameGuard,
  type GuardSink,
  MAX_PIECE_STATEMENTS,
  PeerWire,
  utMetadata,
  utPex,
  type WireTorrent,
} from '../../src/wire/index.js';
import { rawHandshake, rawMessage, reservedBits, rnd, wirePair } from './helpers.js';

const torrent: WireTorrent = { pieceLength: 32 * 1024, pieceCount: 10, length: 9 * 32 * 1024 + 1000 };
const CODE = /^WIRE_[A-Z_]+$/;
const ticks = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** A victim PeerWire (with every extension) and a raw attacker end. */
function victim() {
  const [raw, mine] = createMemoryPair();
  const infoHash = rnd(20);
  const wire = new PeerWire(mine, { peerId: rnd(20), infoHash, torrent });
  wire.use(utMetadata({ infoHash }));
  wire.use(utPex());
  wire.use(
    bttSpeed({
      handshake: { v: 1, addr: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4', ledger: 'l', token: 'BTT', reserve: 1n },
    }),
  );
  wire.on('request', (req, respond) => respond(new Uint8Array(req.length)));
  wire.handshake();
  wire.unchoke();
  raw.attach({ onData: () => {}, onDrain: () => {}, onClose: () => {} });
  return { wire, raw, infoHash };
}

function checkOutcome(wire: PeerWire): void {
  if (wire.closed) {
    const err = wire.closeError;
    expect(err).toBeInstanceOf(BttkitError);
    expect(err?.code).toMatch(CODE);
  }
}

/** A legal stream after the handshake: messages a well-behaved peer may send. */
const arbLegalMessage = fc.oneof(
  fc.constantFrom(rawMessage(0), rawMessage(1), rawMessage(2), rawMessage(3), new Uint8Array(4)),
  fc.integer({ min: 0, max: 9 }).map((i) => rawMessage(4, [i])),
  fc
    .record({
      i: fc.integer({ min: 0, max: 8 }),
      o: fc.integer({ min: 0, max: 16384 }),
      l: fc.integer({ min: 1, max: 16384 }),
    })
    .map(({ i, o, l }) => rawMessage(6, [i, o, l])),
  fc.integer({ min: 1, max: 16384 }).map((l) => rawMessage(7, [0, 0], new Uint8Array(l))),
  fc.integer({ min: 1, max: 65535 }).map((p) => rawMessage(9, [], new Uint8Array([p >> 8, p & 255]))),
  fc.uint8Array({ maxLength: 40 }).map((b) => rawMessage(0x42, [], b)),
);

describe('fuzzing the peer wire', () => {
  it('random bytes instead of a handshake: dropped with a typed error, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const v = victim();
        v.raw.write([bytes]);
        await ticks();
        checkOutcome(v.wire);
        if (bytes[0] !== 19) expect(v.wire.closeError?.code).toBe('WIRE_BAD_PROTOCOL');
        v.wire.close();
      }),
      { numRuns: 150 },
    );
  });

  it('random bytes after a valid handshake, in random chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        async (bytes, cuts) => {
          const v = victim();
          v.raw.write([rawHandshake(v.infoHash, rnd(20), reservedBits(true))]);
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length] ?? 1;
            v.raw.write([bytes.subarray(at, at + n)]);
            at += n;
          }
          await ticks(4);
          checkOutcome(v.wire);
          v.wire.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('mutated legal streams: typed drop or normal operation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbLegalMessage, { minLength: 1, maxLength: 20 }),
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        async (msgs, mutations) => {
          const v = victim();
          const stream = concatBytes([rawHandshake(v.infoHash, rnd(20), reservedBits(true)), ...msgs]);
          for (const m of mutations) stream[68 + (m.at % Math.max(1, stream.length - 68))] = m.byte;
          v.raw.write([stream]);
          await ticks(4);
          checkOutcome(v.wire);
          if (mutations.length === 0) expect(v.wire.closed).toBe(false);
          v.wire.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('random bencoded dictionaries into each extension: ignored, rejected or a typed drop', async () => {
    const key = fc.constantFrom(
      'msg_type',
      'piece',
      'total_size',
      'added',
      'added.f',
      'added6',
      'dropped',
      't',
      'seq',
      'price',
      'ch',
      'amt',
      'sig',
      'credit',
      'code',
      'reason',
      'x',
    );
    const value = fc.oneof(
      fc.bigInt({ min: -5n, max: 20n }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
      fc.uint8Array({ maxLength: 70 }),
      fc.constantFrom('bid', 'grant', 'pay', 'ack', 'reject', '0', '007', '123'),
      fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
    );
    const dict = fc.dictionary(key, value, { maxKeys: 6 });
    const names = ['ut_metadata', 'ut_pex', 'btt_speed'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...names),
        dict,
        fc.uint8Array({ maxLength: 40 }),
        async (name, d, tail) => {
          const p = await wirePair('memory', {}, {}, (a, b) => {
            for (const w of [a, b]) {
              w.use(utMetadata({ infoHash: a === w ? rnd(20) : rnd(20) }));
              w.use(utPex());
              w.use(
                bttSpeed({
                  handshake: {
                    v: 1,
                    addr: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4',
                    ledger: 'l',
                    token: 'BTT',
                    reserve: 1n,
                  },
                }),
              );
            }
          });
          const id = p.a.peerExtendedHandshake?.extensions.get(name);
          expect(id).toBeDefined();
          const payload = concatBytes([encode(d as never), name === 'ut_metadata' ? tail : new Uint8Array()]);
          const frame = new Uint8Array(6 + payload.length);
          new DataView(frame.buffer).setUint32(0, 2 + payload.length);
          frame[4] = 20;
          frame[5] = id ?? 0;
          frame.set(payload, 6);
          p.a.connection.write([frame]);
          await ticks(4);
          checkOutcome(p.b);
          await p.done();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('other peers are unaffected while hostile ones are dropped', async () => {
    const healthy = await wirePair('memory', { torrent }, { torrent });
    const victims = Array.from({ length: 20 }, () => victim());
    for (const v of victims) v.raw.write([rnd(500)]);
    const haves: number[] = [];
    healthy.b.on('have', (i) => haves.push(i));
    for (let i = 0; i < 10; i++) healthy.a.have(i);
    await ticks(6);
    for (const v of victims) {
      expect(v.wire.closed).toBe(true);
      checkOutcome(v.wire);
    }
    expect(haves).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(healthy.a.closed || healthy.b.closed).toBe(false);
    await healthy.done();
  });
});

/** Re-encodes a decoded fixed-size message as the guard hands it on. */
function encodeMessage(id: number, a: number, b: number, c: number): Uint8Array {
  if (id === 9) return rawMessage(9, [], Uint8Array.of(a >> 8, a & 255));
  if (id === 4 || id === 0x0d || id === 0x11) return rawMessage(id, [a]);
  if (id === 6 || id === 8 || id === 0x10) return rawMessage(id, [a, b, c]);
  return rawMessage(id);
}

/**
 * Feeds a handshake and `msgs` to a FrameGuard in pieces of the sizes in `cuts` (cycled) and
 * returns what comes out, re-encoded. With `lent`, each piece of the stream is pushed in one
 * reused buffer, scribbled over once `push` returns (as a lending connection does): the sink
 * keeps bitfields, extended and unknown payloads as handed on (they must be the guard's copies)
 * and copies blocks during the call, as allowed.
 */
function reframe(msgs: readonly Uint8Array[], cuts: readonly number[], lent = false) {
  const stream = concatBytes([rawHandshake(rnd(20), rnd(20)), ...msgs]);
  const out: (Uint8Array | (() => Uint8Array))[] = [];
  const sink: GuardSink = {
    stopped: false,
    handshake: () => true,
    keepAlive: () => out.push(new Uint8Array(4)),
    message: (id, a, b, c) => out.push(encodeMessage(id, a, b, c)),
    bitfield: (bits) => out.push(() => rawMessage(5, [], bits)),
    piece: (index, offset, block) => out.push(rawMessage(7, [index, offset], block.slice())),
    extended: (id, payload) => out.push(() => rawMessage(20, [], concatBytes([Uint8Array.of(id), payload]))),
    unknown: (id, payload) => out.push(() => rawMessage(id, [], payload)),
  };
  const guard = new FrameGuard(sink, DEFAULT_WIRE_LIMITS, torrent, { lentChunks: lent });
  guard.setFast(true);
  const scratch = new Uint8Array(stream.length);
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const n = Math.min(cuts[i % cuts.length] ?? 1, stream.length - at);
    if (lent) {
      const view = scratch.subarray(0, n);
      view.set(stream.subarray(at, at + n));
      guard.push(view);
      view.fill(0xee);
    } else guard.push(stream.subarray(at, at + n));
    at += n;
  }
  return { out: concatBytes(out.map((o) => (typeof o === 'function' ? o() : o))), want: stream.subarray(68) };
}

/** A piece message of random content (index 0–8, offset 0). */
const arbPiece = fc
  .record({ i: fc.integer({ min: 0, max: 8 }), block: fc.uint8Array({ minLength: 1, maxLength: 16384 }) })
  .map(({ i, block }) => rawMessage(7, [i, 0], block));
/** Cancel and the BEP 6 messages (the guard is told both sides set the bit). */
const arbOtherMessage = fc.oneof(
  fc.constantFrom(rawMessage(0x0e), rawMessage(0x0f)),
  fc
    .record({ id: fc.constantFrom(0x0d, 0x11), i: fc.integer({ min: 0, max: 9 }) })
    .map(({ id, i }) => rawMessage(id, [i])),
  fc
    .record({
      id: fc.constantFrom(8, 0x10),
      i: fc.integer({ min: 0, max: 9 }),
      o: fc.nat(),
      l: fc.integer({ min: 0, max: 16384 }),
    })
    .map(({ id, i, o, l }) => rawMessage(id, [i, o, l])),
);
/** A bitfield of the torrent's size (10 pieces: 2 bytes, the 6 spare bits clear). */
const arbBitfield = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 }))
  .map(([a, b]) => rawMessage(5, [], Uint8Array.of(a, b << 6)));
/** A BEP 10 message with a random id and payload. */
const arbExtended = fc
  .record({ id: fc.integer({ min: 1, max: 9 }), payload: fc.uint8Array({ maxLength: 300 }) })
  .map(({ id, payload }) => rawMessage(20, [], concatBytes([Uint8Array.of(id), payload])));

/** Property: `msgs` cut anywhere (cuts up to `maxCut`) come out of the guard as they went in. */
function assertReframes(msgs: fc.Arbitrary<Uint8Array>, maxCut: number, lent: boolean): void {
  fc.assert(
    fc.property(
      fc.array(msgs, { minLength: 1, maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: maxCut }), { minLength: 1, maxLength: 10 }),
      (m, cuts) => {
        // More piece statements than allowed is a flood, refused: not a legal stream.
        fc.pre(m.filter((x) => x[4] === 5 || x[4] === 0x0e || x[4] === 0x0f).length <= MAX_PIECE_STATEMENTS);
        const { out, want } = reframe(m, cuts, lent);
        expect(Buffer.from(out).equals(want)).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
}

describe('FrameGuard framing is independent of how the stream is cut', () => {
  it('any split of a legal stream yields the same messages', () => {
    assertReframes(fc.oneof(arbLegalMessage, arbOtherMessage, arbBitfield), 3000, false);
  });

  it('piece messages carry the same blocks, whole, in stream order, however cut', () => {
    // A split block is gathered from views of the reads (copied once only if it spans several):
    // the bytes and the order must not change.
    assertReframes(fc.oneof(arbLegalMessage, arbPiece, arbPiece), 20000, false);
  });

  it('with lent chunks (reused and overwritten after each push) bitfields, extended and unknown payloads and blocks still come out intact, however cut', () => {
    // The guard must copy what it hands on for keeping, and a block that spans chunks: a view
    // kept into a lent chunk reads the scribble.
    assertReframes(
      fc.oneof(arbLegalMessage, arbOtherMessage, arbPiece, arbExtended, arbBitfield),
      20000,
      true,
    );
  });

  it('a split piece message whose header names a block outside the torrent is refused as soon as the header is in', () => {
    for (const cut of [1, 5, 9, 12, 13, 14]) {
      const sink: GuardSink = {
        stopped: false,
        handshake: () => true,
        keepAlive: () => {},
        message: () => {},
        bitfield: () => {},
        piece: () => {},
        extended: () => {},
        unknown: () => {},
      };
      const guard = new FrameGuard(sink, DEFAULT_WIRE_LIMITS, torrent);
      guard.push(rawHandshake(rnd(20), rnd(20)));
      const m = rawMessage(7, [99, 0], new Uint8Array(100));
      let err: unknown;
      try {
        for (let at = 0; at < 14; at += cut) guard.push(m.subarray(at, Math.min(at + cut, 14)));
      } catch (e) {
        err = e;
      }
      expect((err as BttkitError | undefined)?.code).toBe('WIRE_OUT_OF_RANGE');
    }
  });
});
