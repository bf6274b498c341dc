import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/util/bytes.js';
import { type Connection, createMemoryPair } from '../../src/util/transport.js';
import {
  MAX_PIECE_STATEMENTS,
  PeerWire,
  type PeerWireOptions,
  type WireTorrent,
} from '../../src/wire/index.js';
import { next, rawHandshake, rawMessage, reservedBits, rnd } from './helpers.js';

const torrent: WireTorrent = { pieceLength: 32 * 1024, pieceCount: 10, length: 9 * 32 * 1024 + 1000 };

interface Victim {
  wire: PeerWire;
  raw: Connection;
  infoHash: Uint8Array;
}

const open: PeerWire[] = [];
afterEach(() => {
  for (const w of open.splice(0)) w.close();
});

/** A PeerWire (outgoing, already handshaking) facing a raw attacker connection. */
function victim(opts: Partial<PeerWireOptions> = {}): Victim {
  const [raw, mine] = createMemoryPair();
  const infoHash = rnd(20);
  const wire = new PeerWire(mine, { peerId: rnd(20), infoHash, torrent, ...opts });
  wire.handshake();
  raw.attach({ onData: () => {}, onDrain: () => {}, onClose: () => {} });
  open.push(wire);
  return { wire, raw, infoHash };
}

async function expectDrop(v: Victim, bytes: Uint8Array[], code: string): Promise<void> {
  const closed = next(v.wire, 'close', 3000);
  v.raw.write(bytes);
  const [err] = await closed;
  expect(err?.code).toBe(code);
  expect(v.wire.closed).toBe(true);
}

const hello = (v: Victim, fast = true) => rawHandshake(v.infoHash, rnd(20), reservedBits(fast));

describe('framing guard: each violation drops the peer with a typed error', () => {
  it('a message before the handshake', async () => {
    const v = victim();
    await expectDrop(v, [rawMessage(4, [1])], 'WIRE_BAD_PROTOCOL');
  });

  it('a wrong protocol string', async () => {
    const v = victim();
    const hs = hello(v);
    hs[5] = 0x21;
    await expectDrop(v, [hs], 'WIRE_BAD_PROTOCOL');
  });

  it('another torrent', async () => {
    const v = victim();
    await expectDrop(v, [rawHandshake(rnd(20), rnd(20))], 'WIRE_INFOHASH_MISMATCH');
  });

  it('a length prefix of 2^32 - 1 and of 2^31 (no buffering, no negative lengths)', async () => {
    for (const len of [0xffffffff, 0x80000000, 70_000]) {
      const v = victim();
      const m = new Uint8Array([len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255, 7]);
      await expectDrop(v, [hello(v), m], 'WIRE_MESSAGE_TOO_LARGE');
    }
  });

  it('a block above 16 KiB', async () => {
    const v = victim();
    await expectDrop(v, [hello(v), rawMessage(7, [0, 0], new Uint8Array(16385))], 'WIRE_MESSAGE_TOO_LARGE');
  });

  it('a request above 16 KiB, and one of 0 bytes', async () => {
    const v = victim();
    await expectDrop(v, [hello(v), rawMessage(6, [0, 0, 16385])], 'WIRE_REQUEST_TOO_LARGE');
    const w = victim();
    await expectDrop(w, [hello(w), rawMessage(6, [0, 0, 0])], 'WIRE_REQUEST_TOO_LARGE');
  });

  it('a request outside the torrent (bad index, past the end of the last piece)', async () => {
    const v = victim();
    await expectDrop(v, [hello(v), rawMessage(6, [10, 0, 16384])], 'WIRE_OUT_OF_RANGE');
    const w = victim();
    await expectDrop(w, [hello(w), rawMessage(6, [9, 0, 1001])], 'WIRE_OUT_OF_RANGE');
    const x = victim();
    await expectDrop(x, [hello(x), rawMessage(4, [10])], 'WIRE_OUT_OF_RANGE');
  });

  it('a request before the torrent is known', async () => {
    const v = victim({ torrent: undefined });
    await expectDrop(v, [hello(v), rawMessage(6, [0, 0, 16384])], 'WIRE_OUT_OF_RANGE');
  });

  it('too many outstanding requests', async () => {
    const v = victim({ limits: { maxPeerRequests: 8 } });
    v.wire.unchoke();
    const reqs = Array.from({ length: 9 }, (_, i) => rawMessage(6, [0, (i % 2) * 16384, 16384]));
    let seen = 0;
    v.wire.on('request', () => seen++);
    await expectDrop(v, [hello(v), ...reqs], 'WIRE_TOO_MANY_REQUESTS');
    expect(seen).toBe(8);
  });

  it('a bitfield of the wrong size, or with spare bits set', async () => {
    const v = victim();
    await expectDrop(v, [hello(v), rawMessage(5, [], new Uint8Array(3))], 'WIRE_BAD_BITFIELD');
    const w = victim();
    await expectDrop(w, [hello(w), rawMessage(5, [], new Uint8Array([0xff, 0xff]))], 'WIRE_BAD_BITFIELD');
  });

  it('a bitfield received before the torrent was known is checked when it becomes known', async () => {
    const v = victim({ torrent: undefined });
    const bf = next(v.wire, 'bitfield');
    v.raw.write([hello(v), rawMessage(5, [], new Uint8Array(5))]);
    await bf;
    const closed = next(v.wire, 'close');
    v.wire.setTorrent(torrent);
    expect((await closed)[0]?.code).toBe('WIRE_BAD_BITFIELD');
  });

  it('a flood of bitfields (a later one replaces the first, as aria2 sends them)', async () => {
    const v = victim();
    const bf = rawMessage(5, [], new Uint8Array([0xff, 0xc0]));
    const flood = Array.from({ length: MAX_PIECE_STATEMENTS + 1 }, () => bf);
    await expectDrop(v, [hello(v), ...flood], 'WIRE_UNEXPECTED_MESSAGE');
  });

  it('accepts a second bitfield as a replacement', async () => {
    const v = victim();
    const got: number[] = [];
    v.wire.on('bitfield', (bits) => got.push(bits[0] ?? -1));
    const two = next(v.wire, 'have');
    v.raw.write([
      hello(v),
      rawMessage(5, [], new Uint8Array([0x40, 0x00])),
      rawMessage(5, [], new Uint8Array([0x80, 0x00])),
      rawMessage(4, [1]),
    ]);
    await two;
    expect(got).toEqual([0x40, 0x80]);
    expect(v.wire.peerHas(0) && v.wire.peerHas(1)).toBe(true);
    expect(v.wire.closed).toBe(false);
  });

  it('a BEP 6 message without BEP 6', async () => {
    const v = victim();
    await expectDrop(v, [hello(v, false), rawMessage(0x0e)], 'WIRE_UNEXPECTED_MESSAGE');
  });

  it('a fixed-size message of the wrong size', async () => {
    const v = victim();
    await expectDrop(v, [hello(v), rawMessage(1, [7])], 'WIRE_BAD_MESSAGE_LENGTH');
  });

  it('a malformed extended handshake', async () => {
    const v = victim();
    await expectDrop(
      v,
      [hello(v), rawMessage(20, [], new Uint8Array([0, 0x64, 0x31]))],
      'WIRE_BAD_EXTENDED_HANDSHAKE',
    );
  });

  it('an extended message above the largest legal message', async () => {
    const v = victim();
    await expectDrop(v, [hello(v), rawMessage(20, [], new Uint8Array(70_000))], 'WIRE_MESSAGE_TOO_LARGE');
    const w = victim({ limits: { maxExtendedPayload: 1000, maxUnknownMessage: 1000 } });
    await expectDrop(
      w,
      [hello(w), rawMessage(20, [], new Uint8Array(5_000))],
      'WIRE_EXTENSION_MESSAGE_TOO_LARGE',
    );
  });

  it('connecting to ourselves', async () => {
    const peerId = rnd(20);
    const v = victim({ peerId });
    await expectDrop(v, [rawHandshake(v.infoHash, peerId)], 'WIRE_SELF_CONNECTION');
  });

  it('a listener that throws drops that peer only', async () => {
    const v = victim();
    v.wire.on('have', () => {
      throw new Error('boom');
    });
    await expectDrop(v, [hello(v), rawMessage(4, [1])], 'WIRE_HANDLER_ERROR');
  });
});

describe('framing guard: legal streams in any split', () => {
  it('parses the same messages whether the stream arrives whole or one byte at a time', async () => {
    const stream = (v: Victim) =>
      concatBytes([
        hello(v),
        rawMessage(5, [], new Uint8Array([0b10000000, 0])),
        new Uint8Array(4), // keep-alive
        rawMessage(4, [3]),
        rawMessage(1),
        rawMessage(7, [2, 100], new Uint8Array(16384).fill(7)),
        new Uint8Array(4),
        rawMessage(9, [], new Uint8Array([0x1a, 0xe1])),
        rawMessage(4, [9]),
      ]);
    const runs: string[][] = [];
    for (const split of [0, 1, 3, 7, 4096]) {
      const v = victim();
      const events: string[] = [];
      v.wire.on('bitfield', (b) => events.push(`bitfield ${Array.from(b)}`));
      v.wire.on('have', (i) => events.push(`have ${i}`));
      v.wire.on('unchoke', () => events.push('unchoke'));
      v.wire.on('keep-alive', () => events.push('keep-alive'));
      v.wire.on('piece', (i, o, b) => events.push(`piece ${i} ${o} ${b.length} ${b[16383]}`));
      v.wire.on('port', (p) => events.push(`port ${p}`));
      const s = stream(v);
      if (split === 0) v.raw.write([s]);
      else for (let i = 0; i < s.length; i += split) v.raw.write([s.subarray(i, i + split)]);
      const deadline = Date.now() + 3000;
      while (events.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(v.wire.closed).toBe(false);
      runs.push(events);
    }
    expect(runs[0]).toEqual([
      'bitfield 128,0',
      'keep-alive',
      'have 3',
      'unchoke',
      'piece 2 100 16384 7',
      'keep-alive',
      'port 6881',
      'have 9',
    ]);
    for (const r of runs) expect(r).toEqual(runs[0]);
  });
});

describe('piece messages taken apart from the parser keep their place in the stream', () => {
  it('a block before a choke answers its request; one after it finds the request failed', async () => {
    for (const split of [0, 1, 5, 13, 4096, 16_000]) {
      const v = victim({ fast: false });
      const un = next(v.wire, 'unchoke');
      v.raw.write([hello(v, false), rawMessage(1)]);
      await un;
      const results: string[] = [];
      const ask = (index: number) =>
        new Promise<void>((resolve) =>
          v.wire.request(index, 0, 16384, (err, block) => {
            results.push(err ? `${index} ${err.code}` : `${index} ok ${block?.[0]}`);
            resolve();
          }),
        );
      const done = Promise.all([ask(2), ask(3), ask(4)]);
      const events: string[] = [];
      v.wire.on('piece', (i) => events.push(`piece ${i}`));
      v.wire.on('choke', () => events.push('choke'));
      v.wire.on('have', (i) => events.push(`have ${i}`));
      const s = concatBytes([
        rawMessage(7, [2, 0], new Uint8Array(16384).fill(2)),
        rawMessage(4, [5]),
        rawMessage(7, [3, 0], new Uint8Array(16384).fill(3)),
        rawMessage(0),
        rawMessage(7, [4, 0], new Uint8Array(16384).fill(4)),
        rawMessage(4, [6]),
      ]);
      if (split === 0) v.raw.write([s]);
      else for (let i = 0; i < s.length; i += split) v.raw.write([s.subarray(i, i + split)]);
      await done;
      const deadline = Date.now() + 3000;
      while (events.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(results).toEqual(['2 ok 2', '3 ok 3', '4 WIRE_REQUEST_CHOKED']);
      expect(events).toEqual(['piece 2', 'have 5', 'piece 3', 'choke', 'piece 4', 'have 6']);
      expect(v.wire.downloaded).toBe(3 * 16384);
      expect(v.wire.outstandingRequests).toBe(0);
      expect(v.wire.closed).toBe(false);
    }
  });
});
