import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/util/bytes.js';
import { ManualClock } from '../../src/util/clock.js';
import { createMemoryPair } from '../../src/util/transport.js';
import { PeerWire, type WireError, type WireTorrent } from '../../src/wire/index.js';
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

const torrent: WireTorrent = { pieceLength: 32 * 1024, pieceCount: 10, length: 9 * 32 * 1024 + 1000 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

for (const kind of ['memory', 'tcp', 'lent'] as PairKind[]) {
  describe(`PeerWire over ${kind}`, () => {
    it('negotiates the reserved bits and the extended handshake', async () => {
      const p = await wirePair(kind, { torrent, dht: true, client: 'A/1' }, { torrent, listenPort: 6881 });
      cleanups.push(p.done);
      const hsA = p.a.peerHandshake;
      const hsB = p.b.peerHandshake;
      expect(hsB?.infoHash).toEqual(p.infoHash);
      expect(hsB?.extended && hsB.fast && hsB.dht).toBe(true);
      expect(hsA?.extended && hsA.fast).toBe(true);
      expect(hsA?.dht).toBe(false);
      expect(hsA?.reserved[5]).toBe(0x10);
      expect(hsB?.reserved[7]).toBe(0x05);
      expect(p.a.fast && p.b.fast).toBe(true);
      expect(p.b.peerExtendedHandshake?.client).toBe('A/1');
      expect(p.a.peerExtendedHandshake?.port).toBe(6881);
      expect(p.a.peerExtendedHandshake?.reqq).toBe(1024);
    });

    it('exchanges every core and BEP 6 message', async () => {
      const { a, b, done } = await wirePair(kind, { torrent, dht: true }, { torrent, dht: true });
      cleanups.push(done);

      const got: string[] = [];
      const record = (name: string) => () => got.push(name);
      for (const e of ['choke', 'unchoke', 'interested', 'uninterested', 'have-all', 'have-none'] as const) {
        b.on(e, record(e));
      }
      b.on('keep-alive', record('keep-alive'));
      const bits = new Uint8Array([0b10100000, 0b01000000]);
      const bf = next(b, 'bitfield');
      a.bitfield(bits);
      expect((await bf)[0]).toEqual(bits);
      expect(b.peerHas(0) && b.peerHas(2) && b.peerHas(9)).toBe(true);
      expect(b.peerHas(1)).toBe(false);

      const have = next(b, 'have');
      a.have(5);
      expect((await have)[0]).toBe(5);
      expect(b.peerHas(5)).toBe(true);

      a.keepAlive();
      a.interested();
      a.unchoke();
      a.choke();
      a.uninterested();
      await until(() => got.length >= 5, 5000, 'simple messages');
      expect(got).toEqual(['keep-alive', 'interested', 'unchoke', 'choke', 'uninterested']);
      expect(b.peerInterested).toBe(false);
      expect(b.peerChoking).toBe(true);

      const port = next(b, 'port');
      a.port(51413);
      expect((await port)[0]).toBe(51413);

      const suggest = next(b, 'suggest');
      a.suggest(3);
      expect((await suggest)[0]).toBe(3);

      const af = next(b, 'allowed-fast');
      a.allowedFast(4);
      expect((await af)[0]).toBe(4);
      expect(b.peerAllowedFast).toContain(4);

      // Request/piece while unchoked.
      b.on('request', (req, respond) => respond(new Uint8Array(req.length).fill(req.index)));
      const unchoked = next(a, 'unchoke');
      b.unchoke();
      await unchoked;
      const block = await new Promise<Uint8Array>((resolve, reject) =>
        a.request(9, 0, 1000, (err, blk) => (err ? reject(err) : resolve(blk ?? new Uint8Array()))),
      );
      expect(block.length).toBe(1000);
      expect(block.every((x) => x === 9)).toBe(true);
      expect(a.downloaded).toBe(1000);
      expect(b.uploaded).toBe(1000);

      // Reject: the responder refuses.
      const b2 = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(b2.done);
      b2.b.on('request', (_req, respond) => respond(new Error('no')));
      const rej = next(b2.a, 'reject');
      const un = next(b2.a, 'unchoke');
      b2.b.unchoke();
      await un;
      const err = await new Promise<WireError | null>((resolve) =>
        b2.a.request(1, 0, 16384, (e) => resolve(e)),
      );
      expect(err?.code).toBe('WIRE_REQUEST_REJECTED');
      expect((await rej)[0]).toEqual({ index: 1, offset: 0, length: 16384 });

      // Cancel: the requester gives up before an answer.
      const pending: ((b: Uint8Array | Error) => void)[] = [];
      const c = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(c.done);
      c.b.on('request', (_r, respond) => pending.push(respond));
      const cu = next(c.a, 'unchoke');
      c.b.unchoke();
      await cu;
      const cancelled = new Promise<WireError | null>((resolve) =>
        c.a.request(2, 16384, 16384, (e) => resolve(e)),
      );
      await until(() => pending.length === 1, 5000, 'request at b');
      const cancelEvt = next(c.b, 'cancel');
      c.a.cancel(2, 16384, 16384);
      expect((await cancelled)?.code).toBe('WIRE_REQUEST_CANCELLED');
      expect((await cancelEvt)[0]).toEqual({ index: 2, offset: 16384, length: 16384 });
      expect(c.b.peerRequests).toBe(0);

      // have-all / have-none on fresh wires (they must be the first piece statement).
      const d = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(d.done);
      const ha = next(d.b, 'have-all');
      d.a.haveAll();
      await ha;
      expect(d.b.peerHas(7)).toBe(true);
      const hn = next(d.a, 'have-none');
      d.b.haveNone();
      await hn;
      expect(d.a.peerHas(7)).toBe(false);
    });

    it('tells a responder when a block it sent may be reused', async () => {
      const { a, b, done } = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(done);
      const block = new Uint8Array(16384).fill(7);
      const sent: number[] = [];
      b.on('request', (req, respond) => respond(block.subarray(0, req.length), () => sent.push(req.offset)));
      const un = next(a, 'unchoke');
      b.unchoke();
      await un;
      const got = await Promise.all(
        [0, 16384].map(
          (offset) =>
            new Promise<Uint8Array>((resolve, reject) =>
              a.request(1, offset, 16384, (err, blk) =>
                err ? reject(err) : resolve(blk ?? new Uint8Array()),
              ),
            ),
        ),
      );
      expect(got.every((g) => g.length === 16384 && g.every((x) => x === 7))).toBe(true);
      await until(() => sent.length === 2, 5000, 'onSent');
      expect(sent.sort((x, y) => x - y)).toEqual([0, 16384]);
    });

    it('blocks may be kept (copies where the connection lends its read buffer), or lent with lendBlocks', async () => {
      for (const lendBlocks of [false, true]) {
        const { a, b, done } = await wirePair(kind, { torrent, lendBlocks }, { torrent });
        cleanups.push(done);
        const data = rnd(9 * 32 * 1024 + 1000);
        b.on('request', (req, respond) => {
          const at = req.index * 32 * 1024 + req.offset;
          respond(data.slice(at, at + req.length));
        });
        const un = next(a, 'unchoke');
        b.unchoke();
        await un;
        const kept: Uint8Array[] = [];
        const copied: Uint8Array[] = [];
        const events: Uint8Array[] = [];
        a.on('piece', (_i, _o, block) => events.push(block));
        await Promise.all(
          Array.from(
            { length: 18 },
            (_, k) =>
              new Promise<void>((resolve, reject) =>
                a.request(k >> 1, (k & 1) * 16384, 16384, (err, blk) => {
                  if (err || !blk) return reject(err);
                  kept[k] = blk;
                  copied[k] = blk.slice();
                  resolve();
                }),
              ),
          ),
        );
        // Every block was right during the call; kept ones stay right unless they were lent.
        expect(Buffer.from(concatBytes(copied)).equals(data.subarray(0, 18 * 16384))).toBe(true);
        const lentView = lendBlocks && a.connection.lendsReadBuffer === true;
        if (!lentView) {
          expect(Buffer.from(concatBytes(kept)).equals(data.subarray(0, 18 * 16384))).toBe(true);
          expect(Buffer.from(concatBytes(events)).equals(data.subarray(0, 18 * 16384))).toBe(true);
        }
        await done();
      }
    });

    it('pauseReading holds what the peer sends until resumeReading', async () => {
      const { a, b, done } = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(done);
      const haves: number[] = [];
      a.on('have', (i) => haves.push(i));
      a.pauseReading();
      expect(a.readingPaused).toBe(true);
      for (let i = 0; i < 5; i++) b.have(i);
      await new Promise((r) => setTimeout(r, 100));
      expect(haves).toEqual([]);
      a.resumeReading();
      await until(() => haves.length === 5, 5000, 'haves after resume');
      expect(haves).toEqual([0, 1, 2, 3, 4]);
      expect(a.closed || b.closed).toBe(false);
    });

    it('reports an unknown message type without dropping the peer', async () => {
      const { a, b, done } = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(done);
      const unknown = next(b, 'unknown');
      a.connection.write([new Uint8Array([0, 0, 0, 3, 0x42, 1, 2])]);
      const [id, payload] = await unknown;
      expect(id).toBe(0x42);
      expect(payload).toEqual(new Uint8Array([1, 2]));
      expect(b.closed).toBe(false);
    });

    it('closes both ends: a local close is reported without an error, the remote one with a code', async () => {
      const { a, b, done } = await wirePair(kind, { torrent }, { torrent });
      cleanups.push(done);
      const ca = next(a, 'close');
      const cb = next(b, 'close');
      a.close();
      expect((await ca)[0]).toBeUndefined();
      expect((await cb)[0]?.code).toBe('WIRE_CONNECTION_CLOSED');
    });
  });
}

describe('PeerWire timers on a ManualClock', () => {
  it('sends keep-alives when idle and drops a silent peer', async () => {
    const clock = new ManualClock();
    const [ca, cb] = createMemoryPair();
    const a = new PeerWire(ca, {
      peerId: rnd(20),
      infoHash: rnd(20),
      clock,
      keepAliveMs: 60_000,
      timeoutMs: 150_000,
    });
    const b = new PeerWire(cb, { peerId: rnd(20), clock, keepAliveMs: 1e9, timeoutMs: 1e9 });
    b.on('handshake', () => b.handshake());
    const extended = next(a, 'extended-handshake');
    a.handshake();
    await next(a, 'handshake');
    // b's extended handshake leaves after its handshake, in a later write (still at t=0).
    await extended;
    const keepAlives: number[] = [];
    b.on('keep-alive', () => keepAlives.push(clock.now()));
    clock.advance(61_000);
    await until(() => keepAlives.length === 1, 2000, 'keep-alive');
    // b sent nothing since t=0 (its keep-alive is 1e9 ms): a drops it at t=150 s exactly.
    const closed = next(a, 'close');
    clock.advance(88_999);
    expect(a.closed).toBe(false);
    clock.advance(1);
    expect((await closed)[0]?.code).toBe('WIRE_TIMEOUT');
    b.close();
  });

  it('drops a peer that never completes the handshake', async () => {
    const clock = new ManualClock();
    const [ca, cb] = createMemoryPair();
    const a = new PeerWire(ca, { peerId: rnd(20), infoHash: rnd(20), clock, handshakeTimeoutMs: 10_000 });
    a.handshake();
    const closed = next(a, 'close');
    clock.advance(9_999);
    expect(a.closed).toBe(false);
    clock.advance(1);
    expect((await closed)[0]?.code).toBe('WIRE_HANDSHAKE_TIMEOUT');
    cb.destroy();
  });
});

describe('Connection.write onWritten', () => {
  for (const kind of ['memory', 'tcp'] as PairKind[]) {
    it(`${kind}: called once after the chunks were handed on, never after a close`, async () => {
      const [a, b, close] = await connections(kind);
      cleanups.push(async () => {
        a.destroy();
        b.destroy();
        await close();
      });
      let received = 0;
      b.attach({ onData: (c) => (received += c.length), onDrain: () => {}, onClose: () => {} });
      a.attach({ onData: () => {}, onDrain: () => {}, onClose: () => {} });
      let calls = 0;
      a.write([rnd(10), rnd(100_000), rnd(5)], () => calls++);
      a.write([], () => calls++);
      await until(() => calls === 2 && received === 100_015, 5000, 'onWritten');
      a.destroy();
      let late = 0;
      expect(a.write([rnd(10)], () => late++)).toBe(false);
      await new Promise((r) => setTimeout(r, 20));
      expect(late).toBe(0);
      expect(calls).toBe(2);
    });
  }
});

/**
 * A wire on one end of a memory pair whose writes are recorded (bytes per `write` call), and the
 * raw bytes the other end `b` receives.
 */
function recordedWire(infoHash?: Uint8Array) {
  const [a, b] = createMemoryPair();
  const writes: number[] = [];
  const write = a.write.bind(a);
  a.write = (chunks, onWritten) => {
    writes.push(chunks.reduce((n, c) => n + c.length, 0));
    return write(chunks, onWritten);
  };
  const received: Uint8Array[] = [];
  b.attach({ onData: (c) => received.push(c.slice()), onDrain: () => {}, onClose: () => {} });
  const wire = new PeerWire(a, { peerId: rnd(20), torrent, ...(infoHash ? { infoHash } : {}) });
  cleanups.push(async () => {
    wire.close();
    b.destroy();
  });
  const receivedBytes = () => received.reduce((n, c) => n + c.length, 0);
  return { wire, b, writes, received, receivedBytes };
}

describe('PeerWire: our handshake leaves in a write of its own', () => {
  it('dialling, with the peer handshake arriving in the same turn (an MSE responder)', async () => {
    const infoHash = rnd(20);
    const { wire, b, writes, received, receivedBytes } = recordedWire(infoHash);
    // The peer's handshake is on its way when ours is written (an MSE responder sends it with
    // crypto_select): it is read before the next turn.
    b.write([rawHandshake(infoHash, rnd(20), reservedBits(true))]);
    wire.handshake();
    await next(wire, 'handshake');
    await until(() => receivedBytes() > 68);
    // Our handshake, alone; the extended handshake after it, in another write.
    expect(writes[0]).toBe(68);
    expect(writes.length).toBeGreaterThan(1);
    expect(concatBytes(received)[68 + 4]).toBe(20); // BEP 10 message id
    expect(wire.fast).toBe(true);
  });

  it('accepting, with the peer handshake read first', async () => {
    const { wire, b, writes, received, receivedBytes } = recordedWire();
    wire.once('handshake', (hs) => wire.handshake(hs.infoHash));
    b.write([rawHandshake(rnd(20), rnd(20), reservedBits(true))]);
    await until(() => receivedBytes() > 68);
    expect(writes[0]).toBe(68);
    expect(writes.length).toBeGreaterThan(1);
    expect(concatBytes(received)[68 + 4]).toBe(20);
  });
});
