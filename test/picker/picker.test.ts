import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Bitfield,
  filePiecePriorities,
  PICKER_ERROR_CODES,
  PickerError,
  PiecePicker,
  type Priority,
} from '../../src/picker/index.js';
import { ArgumentError, bitfieldSpareBitsClear, nextSetBit } from '../../src/util/index.js';

/** The code of the error `fn` throws, asserting it is a typed one (never a bare RangeError). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PickerError || e instanceof ArgumentError) return e.code;
    throw e;
  }
  return 'OK';
}

/** A seeded random source (mulberry32) so each picker is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bitfield bytes from a string like "1101" (libtorrent-style fixtures). */
function bits(s: string): Uint8Array {
  const b = new Bitfield(s.length);
  [...s].forEach((c, i) => {
    if (c === '1') b.set(i);
  });
  return b.bytes;
}

function picker(pieces: number, opts: Partial<ConstructorParameters<typeof PiecePicker>[0]> = {}, seed = 1) {
  return new PiecePicker<string>({
    pieceCount: pieces,
    pieceLength: 4 * 16384,
    randomFirstPieces: 0,
    random: rng(seed),
    ...opts,
  });
}

/** Downloads every block of `piece` from `peer` and verifies it. */
function complete(pk: PiecePicker<string>, peer: string, piece: number) {
  for (let off = 0; off < pk.pieceSize(piece); off += pk.blockSize) pk.blockReceived(peer, piece, off);
  pk.pieceVerified(piece, true);
}

describe('Bitfield', () => {
  it('uses BitTorrent bit order and clears spare bits', () => {
    const b = new Bitfield(10, new Uint8Array([0b1000_0001, 0xff]));
    expect([...Array(10)].map((_, i) => (b.get(i) ? 1 : 0)).join('')).toBe('1000000111');
    expect(b.bytes[1]).toBe(0b1100_0000);
    expect(b.count).toBe(4);
    expect(b.set(1)).toBe(true);
    expect(b.set(1)).toBe(false);
    b.setAll();
    expect(b.full).toBe(true);
    expect(b.bytes[1]).toBe(0b1100_0000);
    expect(codeOf(() => b.set(10))).toBe('UTIL_BITFIELD_OUT_OF_RANGE');
    expect(codeOf(() => b.set(-1))).toBe('UTIL_BITFIELD_OUT_OF_RANGE');
    expect(codeOf(() => b.set(Number.NaN))).toBe('UTIL_BITFIELD_OUT_OF_RANGE');
    expect(codeOf(() => new Bitfield(-1))).toBe('UTIL_BITFIELD_BAD_LENGTH');
    expect(codeOf(() => new Bitfield(1.5))).toBe('UTIL_BITFIELD_BAD_LENGTH');
  });

  it('nextSetBit visits exactly the set bits, in order, never past the length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(330), (bytes, n) => {
        const length = Math.min(n, bytes.length * 8);
        const b = new Bitfield(length, bytes);
        const seen: number[] = [];
        for (let i = b.nextSet(0); i >= 0; i = b.nextSet(i + 1)) seen.push(i);
        const want = [...Array(length).keys()].filter((i) => b.get(i));
        expect(seen).toEqual(want);
        expect(seen.length).toBe(b.count);
        // Unclean bytes (spare bits set): still nothing at or past `length`.
        const raw: number[] = [];
        for (let i = nextSetBit(bytes, length, 0); i >= 0; i = nextSetBit(bytes, length, i + 1)) raw.push(i);
        expect(raw).toEqual(want);
      }),
    );
  });

  it('bitfieldSpareBitsClear tells a clean bitfield from one with spare bits set', () => {
    expect(bitfieldSpareBitsClear(new Uint8Array([0xff, 0b1100_0000]), 10)).toBe(true);
    expect(bitfieldSpareBitsClear(new Uint8Array([0xff, 0b1110_0000]), 10)).toBe(false);
    expect(bitfieldSpareBitsClear(new Uint8Array([0xff, 0x01]), 10)).toBe(false);
    expect(bitfieldSpareBitsClear(new Uint8Array([0xff]), 8)).toBe(true);
    expect(bitfieldSpareBitsClear(new Uint8Array(0), 0)).toBe(true);
  });
});

describe('PiecePicker', () => {
  it('picks the rarest piece first, with availability kept current', () => {
    const pk = picker(6);
    pk.peerBitfield('a', bits('111111'));
    pk.peerBitfield('b', bits('111011'));
    pk.peerBitfield('c', bits('110001'));
    // availability: 3 3 2 1 2 3 (a is a seed: counted once, for every piece)
    expect([0, 1, 2, 3, 4, 5].map((i) => pk.availability(i))).toEqual([3, 3, 2, 1, 2, 3]);
    const first = pk.pick('a', 4);
    expect(first.map((r) => r.piece)).toEqual([3, 3, 3, 3]);
    pk.checkInvariant();
    const next = pk.pick('a', 4)[0]?.piece;
    expect([2, 4]).toContain(next);
    pk.removePeer('b');
    expect([0, 1, 2, 3, 4, 5].map((i) => pk.availability(i))).toEqual([2, 2, 1, 1, 1, 2]);
    pk.peerHave('c', 3);
    expect(pk.availability(3)).toBe(2);
    pk.checkInvariant();
  });

  it('breaks ties at random', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const pk = picker(8, {}, seed);
      pk.peerHaveAll('s');
      seen.add(pk.pick('s', 1)[0]?.piece ?? -1);
    }
    expect(seen.size).toBeGreaterThan(4);
  });

  it('picks the first pieces at random, then rarest-first', () => {
    let notRarest = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const pk = picker(50, { randomFirstPieces: 4 }, seed);
      pk.peerHaveAll('s');
      pk.peerBitfield('x', bits(`${'1'.repeat(49)}0`)); // piece 49 is the rarest
      if (pk.pick('s', 1)[0]?.piece !== 49) notRarest++;
    }
    expect(notRarest).toBeGreaterThan(20);
    const pk = picker(50, { randomFirstPieces: 2 }, 3);
    pk.peerHaveAll('s');
    pk.peerBitfield('x', bits(`${'1'.repeat(49)}0`));
    complete(pk, 's', 10);
    complete(pk, 's', 11);
    expect(pk.pick('s', 1)[0]?.piece).toBe(49);
  });

  it('finishes pieces in progress before starting new ones', () => {
    const pk = picker(10);
    pk.peerHaveAll('a');
    pk.peerHaveAll('b');
    const [r] = pk.pick('a', 1);
    const piece = r?.piece ?? -1;
    // b gets the rest of a's piece first.
    expect(pk.pick('b', 3).map((x) => x.piece)).toEqual([piece, piece, piece]);
    expect(pk.downloadingCount).toBe(1);
  });

  it('sizes the blocks of the last piece', () => {
    const pk = picker(3, { lastPieceLength: 16384 + 100, mode: 'sequential' });
    pk.peerHaveAll('s');
    const reqs = pk.pick('s', 20);
    expect(reqs.filter((r) => r.piece === 2)).toEqual([
      { piece: 2, offset: 0, length: 16384 },
      { piece: 2, offset: 16384, length: 100 },
    ]);
    expect(reqs).toHaveLength(10);
  });

  it('honours priorities, skips priority 0, and maps file priorities to pieces', () => {
    const pk = picker(6);
    pk.peerHaveAll('s');
    pk.setPriorities([4, 4, 7, 0, 1, 4]);
    const order: number[] = [];
    for (;;) {
      const r = pk.pick('s', 4);
      if (r.length === 0) break;
      const piece = r[0]?.piece ?? -1;
      order.push(piece);
      complete(pk, 's', piece);
      pk.checkInvariant();
    }
    expect(order[0]).toBe(2);
    expect(order.at(-1)).toBe(4);
    expect(order).not.toContain(3);
    expect(pk.done).toBe(true);
    expect(pk.have.get(3)).toBe(false);

    const files = [
      { offset: 0, length: 100 },
      { offset: 100, length: 0 },
      { offset: 100, length: 250 },
      { offset: 350, length: 50 },
    ];
    const prios: Priority[] = [0, 7, 1, 0];
    expect([...filePiecePriorities(files, prios, 100, 4)]).toEqual([0, 1, 1, 1]);
  });

  it('is strictly sequential in sequential mode, skipping what the peer lacks', () => {
    const pk = picker(6, { mode: 'sequential' });
    pk.peerBitfield('p', bits('101111'));
    const pieces = () => [...new Set(pk.pick('p', 4).map((r) => r.piece))];
    expect(pieces()).toEqual([0]);
    expect(pieces()).toEqual([2]);
    pk.setMode('rarest');
    pk.setMode('sequential');
    expect(pieces()).toEqual([3]);
  });

  it('picks a streaming window first, in order', () => {
    const pk = picker(20);
    pk.peerHaveAll('s');
    pk.setStreamingWindow({ start: 10, count: 3 });
    expect([...new Set(pk.pick('s', 12).map((r) => r.piece))]).toEqual([10, 11, 12]);
    pk.setStreamingWindow(undefined);
    expect(pk.pick('s', 4).every((r) => r.piece < 10 || r.piece > 12)).toBe(true);
  });

  it('frees requests on reject, choke and peer loss', () => {
    const pk = picker(4);
    pk.peerHaveAll('a');
    pk.peerHaveAll('b');
    const reqs = pk.pick('a', 8);
    expect(reqs).toHaveLength(8);
    const first = reqs[0];
    if (!first) throw new Error('no request');
    pk.requestFailed('a', first.piece, first.offset);
    expect(pk.requestsOf('a')).toHaveLength(7);
    expect(pk.pick('b', 1)).toEqual([first]);
    pk.peerChoked('a');
    expect(pk.requestsOf('a')).toHaveLength(0);
    pk.checkInvariant();
    pk.removePeer('b');
    pk.checkInvariant();
    expect(pk.pick('a', 16)).toHaveLength(16);
  });

  it('downloads a piece again when its hash check fails', () => {
    const pk = picker(2, { mode: 'sequential' });
    pk.peerHaveAll('s');
    const reqs = pk.pick('s', 4);
    let receipt: ReturnType<typeof pk.blockReceived> | undefined;
    for (const r of reqs) receipt = pk.blockReceived('s', r.piece, r.offset);
    expect(receipt?.pieceComplete).toBe(true);
    pk.pieceVerified(0, false);
    pk.checkInvariant();
    expect(pk.pick('s', 4).map((r) => r.piece)).toEqual([0, 0, 0, 0]);
  });

  it('enters endgame: duplicates requests for the last blocks and cancels them on arrival', () => {
    const pk = picker(1, { endgameRequesters: 2 });
    pk.peerHaveAll('a');
    pk.peerHaveAll('b');
    pk.peerHaveAll('c');
    expect(pk.endgame).toBe(false);
    const ra = pk.pick('a', 4);
    expect(ra).toHaveLength(4);
    expect(pk.endgame).toBe(true);
    // An idle peer gets one duplicate, the newest request (the last to arrive from a).
    const rb = pk.pick('b', 4);
    expect(rb).toEqual([ra[3]]);
    const rc = pk.pick('c', 4);
    expect(rc).toEqual([ra[2]]); // ra[3] has two requesters already: at most two per block
    pk.checkInvariant();
    const r3 = ra[3];
    if (!r3) throw new Error('no request');
    const receipt = pk.blockReceived('b', r3.piece, r3.offset);
    expect(receipt.cancel).toEqual([{ peer: 'a', ...r3 }]);
    expect(pk.blockReceived('a', r3.piece, r3.offset).duplicate).toBe(true);
    pk.checkInvariant();
    const r2 = ra[2];
    if (!r2) throw new Error('no request');
    expect(pk.blockReceived('a', r2.piece, r2.offset).cancel).toEqual([{ peer: 'c', ...r2 }]);
    for (const r of ra.slice(0, 2)) pk.blockReceived('a', r.piece, r.offset);
    pk.pieceVerified(0, true);
    expect(pk.done).toBe(true);
    expect(pk.requestsOf('b')).toEqual([]);
    expect(pk.requestsOf('c')).toEqual([]);
    pk.checkInvariant();
  });

  it('endgame: no duplicates for a peer with requests outstanding, one at a time when idle', () => {
    // Before: every pipeline was topped up with duplicates as soon as no untouched piece was
    // left; with deep pipelines most copies arrived before their cancels (20 seeders: ~1/3 of
    // the last 64 MiB twice).
    const pk = picker(2, { endgameRequesters: 2 });
    pk.peerHaveAll('a');
    pk.peerHaveAll('b');
    const ra = pk.pick('a', 4);
    const rb = pk.pick('b', 4);
    expect(ra).toHaveLength(4);
    expect(rb).toHaveLength(4);
    expect(pk.outstandingRequests).toBe(8);
    expect(pk.endgame).toBe(true);
    expect(pk.pick('a', 8)).toEqual([]);
    expect(pk.pick('b', 8)).toEqual([]);
    for (const r of rb) pk.blockReceived('b', r.piece, r.offset);
    // b is idle: one duplicate, the block a will send last.
    expect(pk.pick('b', 8)).toEqual([ra[3]]);
    expect(pk.pick('b', 8)).toEqual([]);
    pk.checkInvariant();
  });

  it('tracks interest', () => {
    const pk = picker(4);
    pk.addPeer('p');
    expect(pk.isInteresting('p')).toBe(false);
    pk.peerHave('p', 2);
    expect(pk.isInteresting('p')).toBe(true);
    pk.setPiecePriority(2, 0);
    expect(pk.isInteresting('p')).toBe(false);
    pk.setPiecePriority(2, 4);
    pk.markHave(2);
    expect(pk.isInteresting('p')).toBe(false);
    pk.peerHaveAll('s');
    expect(pk.isInteresting('s')).toBe(true);
    for (const i of [0, 1, 3]) pk.markHave(i);
    expect(pk.isInteresting('s')).toBe(false);
    pk.checkInvariant();
  });

  it('refuses out-of-range input with typed errors', () => {
    const pk = picker(10);
    expect(codeOf(() => pk.peerHave('p', 10))).toBe('PICKER_OUT_OF_RANGE');
    expect(codeOf(() => pk.peerHave('p', -1))).toBe('PICKER_OUT_OF_RANGE');
    expect(codeOf(() => pk.peerHave('p', 0.5))).toBe('PICKER_OUT_OF_RANGE');
    expect(codeOf(() => pk.peerBitfield('p', new Uint8Array(3)))).toBe('PICKER_BAD_BITFIELD');
    expect(codeOf(() => pk.setPiecePriority(0, 9 as Priority))).toBe('PICKER_BAD_PRIORITY');
    expect(codeOf(() => pk.setPiecePriority(10, 4))).toBe('PICKER_OUT_OF_RANGE');
    expect(codeOf(() => pk.setPriorities([4, 4]))).toBe('PICKER_WRONG_LENGTH');
    expect(codeOf(() => filePiecePriorities([{ offset: 0, length: 5 }], [], 4, 2))).toBe(
      'PICKER_WRONG_LENGTH',
    );
    expect(codeOf(() => picker(-1))).toBe('PICKER_BAD_OPTIONS');
    expect(codeOf(() => picker(4, { pieceLength: 0 }))).toBe('PICKER_BAD_OPTIONS');
    expect(codeOf(() => picker(4, { lastPieceLength: 5 * 16384 }))).toBe('PICKER_BAD_OPTIONS');
    expect(codeOf(() => picker(4, { lastPieceLength: 0 }))).toBe('PICKER_BAD_OPTIONS');
    for (const code of ['PICKER_OUT_OF_RANGE', 'PICKER_BAD_BITFIELD', 'PICKER_BAD_PRIORITY']) {
      expect(PICKER_ERROR_CODES).toContain(code);
    }
    expect(pk.blockReceived('p', 0, 5).duplicate).toBe(true);
    expect(pk.blockReceived('p', 99, 0).duplicate).toBe(true);
    pk.checkInvariant();
  });

  it('keeps its invariants under random operation sequences, and always finishes', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('bitfield' as const), peer: fc.nat(4), seed: fc.nat() }),
      fc.record({ t: fc.constant('have' as const), peer: fc.nat(4), piece: fc.nat(29) }),
      fc.record({ t: fc.constant('haveAll' as const), peer: fc.nat(4) }),
      fc.record({ t: fc.constant('haveNone' as const), peer: fc.nat(4) }),
      fc.record({ t: fc.constant('remove' as const), peer: fc.nat(4) }),
      fc.record({ t: fc.constant('pick' as const), peer: fc.nat(4), n: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ t: fc.constant('receive' as const), peer: fc.nat(4), k: fc.nat() }),
      fc.record({ t: fc.constant('fail' as const), peer: fc.nat(4), k: fc.nat() }),
      fc.record({ t: fc.constant('choke' as const), peer: fc.nat(4) }),
      fc.record({ t: fc.constant('prio' as const), piece: fc.nat(29), prio: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ t: fc.constant('mode' as const), seq: fc.boolean() }),
      fc.record({ t: fc.constant('window' as const), start: fc.nat(29), count: fc.nat(5) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.nat(), (ops, seed) => {
        const pk = picker(30, { lastPieceLength: 20_000, randomFirstPieces: 3 }, seed + 1);
        const r = rng(seed + 7);
        const verifyAll = (receipt: { pieceComplete: boolean }, piece: number) => {
          if (receipt.pieceComplete) pk.pieceVerified(piece, r() < 0.9);
        };
        for (const o of ops) {
          const peer = 'p' in o ? '' : `peer${'peer' in o ? o.peer : 0}`;
          switch (o.t) {
            case 'bitfield': {
              const b = new Bitfield(30);
              const rr = rng(o.seed + 1);
              for (let i = 0; i < 30; i++) if (rr() < 0.5) b.set(i);
              pk.peerBitfield(peer, b.bytes);
              break;
            }
            case 'have':
              pk.peerHave(peer, o.piece);
              break;
            case 'haveAll':
              pk.peerHaveAll(peer);
              break;
            case 'haveNone':
              pk.peerHaveNone(peer);
              break;
            case 'remove':
              pk.removePeer(peer);
              break;
            case 'pick':
              for (const q of pk.pick(peer, o.n)) expect(pk.peerHas(peer, q.piece)).toBe(true);
              break;
            case 'receive': {
              const reqs = pk.requestsOf(peer);
              const q = reqs[o.k % Math.max(1, reqs.length)];
              if (q) verifyAll(pk.blockReceived(peer, q.piece, q.offset), q.piece);
              break;
            }
            case 'fail': {
              const reqs = pk.requestsOf(peer);
              const q = reqs[o.k % Math.max(1, reqs.length)];
              if (q) pk.requestFailed(peer, q.piece, q.offset);
              break;
            }
            case 'choke':
              pk.peerChoked(peer);
              break;
            case 'prio':
              pk.setPiecePriority(o.piece, o.prio as Priority);
              break;
            case 'mode':
              pk.setMode(o.seq ? 'sequential' : 'rarest');
              break;
            case 'window':
              pk.setStreamingWindow(o.count === 0 ? undefined : { start: o.start, count: o.count });
              break;
          }
          pk.checkInvariant();
        }
        // A seed arrives: everything wanted must complete, with no request left over.
        pk.peerHaveAll('seed');
        for (let round = 0; round < 2000 && !pk.done; round++) {
          const reqs = pk.pick('seed', 8);
          for (const q of reqs) verifyAll(pk.blockReceived('seed', q.piece, q.offset), q.piece);
          if (reqs.length === 0) {
            // Blocks stuck at other peers: they leave, as a real session would time them out.
            for (let k = 0; k <= 4; k++) pk.peerChoked(`peer${k}`);
          }
        }
        expect(pk.done).toBe(true);
        pk.checkInvariant();
      }),
      { numRuns: 300 },
    );
  });
});

describe('PiecePicker: padding at the end of pieces (pieceDataLengths)', () => {
  it('never requests the blocks of the padding, and a piece is complete without them', () => {
    const p = new PiecePicker({ pieceCount: 3, pieceLength: 65536, pieceDataLengths: [65536, 20000, 300] });
    p.addPeer('a');
    p.peerHaveAll('a');
    const picked = p.pick('a', 100);
    const byPiece = new Map<number, { offset: number; length: number }[]>();
    for (const b of picked) byPiece.set(b.piece, [...(byPiece.get(b.piece) ?? []), b]);
    expect(byPiece.get(0)?.length).toBe(4);
    expect(byPiece.get(1)).toEqual([
      { piece: 1, offset: 0, length: 16384 },
      { piece: 1, offset: 16384, length: 20000 - 16384 },
    ]);
    expect(byPiece.get(2)).toEqual([{ piece: 2, offset: 0, length: 300 }]);
    expect(p.blockReceived('a', 2, 0).pieceComplete).toBe(true);
    expect(p.pieceDataLength(1)).toBe(20000);
    expect(p.pieceSize(1)).toBe(65536);
  });

  it('refuses data lengths that do not fit their pieces', () => {
    const make = (dl: number[]) => () =>
      new PiecePicker({ pieceCount: 2, pieceLength: 1024, pieceDataLengths: dl });
    expect(make([1024])).toThrow(PickerError);
    expect(make([0, 10])).toThrow(PickerError);
    expect(make([1025, 10])).toThrow(PickerError);
    expect(make([1.5, 10])).toThrow(PickerError);
  });
});
