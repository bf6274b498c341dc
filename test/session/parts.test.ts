/**
 * The session's parts, each alone on a ManualClock with fakes (no Client, no sockets, no real
 * timers): the peer book, the choke scheduler, the downloader's pipeline, timeouts and disk
 * backpressure, and the uploader's read cache.
 */
import { describe, expect, it, vi } from 'vitest';
import { PiecePicker } from '../../src/picker/picker.js';
import { ChokeScheduler } from '../../src/session/choke-scheduler.js';
import type { Choker } from '../../src/session/choker.js';
import { Downloader, type DownloadHost } from '../../src/session/downloader.js';
import type { PeerConn } from '../../src/session/peer.js';
import { PeerBook } from '../../src/session/peer-book.js';
import { Uploader } from '../../src/session/uploader.js';
import { ManualClock } from '../../src/util/index.js';
import { fakePeer, GatedStore, smallInfo, testSettings } from './fakes.js';

const ID_LOW = new Uint8Array(20).fill(1);
const ID_HIGH = new Uint8Array(20).fill(2);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('PeerBook', () => {
  it('backs off exponentially after failures and forgets an address after 8', () => {
    const clock = new ManualClock();
    const book = new PeerBook(clock, testSettings({ reconnectBackoffMs: 1000 }), ID_LOW);
    const id = book.add({ host: '10.0.0.1', port: 6881 }) ?? '';
    expect(book.add({ host: '10.0.0.1', port: 6881 })).toBeUndefined();
    expect(book.dialTarget(id)).toBeDefined();
    book.failed(id);
    expect(book.dialTarget(id)).toBeUndefined();
    clock.advance(999);
    expect(book.dialable(false)).toEqual([]);
    clock.advance(1);
    expect(book.dialable(false)).toEqual([id]);
    book.failed(id); // second failure: 2 s
    clock.advance(1999);
    expect(book.dialTarget(id)).toBeUndefined();
    clock.advance(1);
    expect(book.dialTarget(id)).toBeDefined();
    for (let i = 0; i < 7; i++) book.failed(id);
    expect(book.known(id)).toBeUndefined();
  });

  it('skips its walk until the earliest retry time, and wakes for a new address', () => {
    const clock = new ManualClock();
    const book = new PeerBook(clock, testSettings({ reconnectBackoffMs: 1000 }), ID_LOW);
    const a = book.add({ host: '10.0.0.1', port: 1 }) ?? '';
    book.failed(a);
    expect(book.dialable(false)).toEqual([]);
    const b = book.add({ host: '10.0.0.2', port: 1 }) ?? '';
    expect(book.dialable(false)).toEqual([b]);
  });

  it('keeps one connection per address', () => {
    const clock = new ManualClock();
    const book = new PeerBook(clock, testSettings(), ID_LOW);
    const first = fakePeer(clock, '10.0.0.1:1');
    const second = fakePeer(clock, '10.0.0.1:1');
    expect(book.admit(first, undefined)).toBe(true);
    expect(book.admit(second, undefined)).toBe(false);
    expect(second.fake.closeError?.code).toBe('WIRE_DUPLICATE_CONNECTION');
    expect(first.fake.closed).toBe(false);
  });

  it('when two peers dial each other, both keep the connection dialled by the lower id', () => {
    const clock = new ManualClock();
    // Book of the peer with the low id: its outgoing connection to "high" survives.
    const low = new PeerBook(clock, testSettings(), ID_LOW);
    const lowOut = fakePeer(clock, '10.0.0.2:2');
    const lowIn = fakePeer(clock, '10.0.0.2:5555', { incoming: true });
    expect(low.admit(lowOut, hex(ID_HIGH))).toBe(true);
    expect(low.admit(lowIn, hex(ID_HIGH))).toBe(false);
    expect(lowIn.fake.closed).toBe(true);
    expect(lowOut.fake.closed).toBe(false);
    // Book of the peer with the high id, seeing the same two connections the other way round.
    const high = new PeerBook(clock, testSettings(), ID_HIGH);
    const highOut = fakePeer(clock, '10.0.0.1:1');
    const highIn = fakePeer(clock, '10.0.0.1:4444', { incoming: true });
    expect(high.admit(highOut, hex(ID_LOW))).toBe(true);
    expect(high.admit(highIn, hex(ID_LOW))).toBe(true);
    expect(highOut.fake.closed).toBe(true);
    expect(highIn.fake.closed).toBe(false);
    // The address the kept incoming connection stands for counts as connected.
    expect(high.isConnected('10.0.0.1:1')).toBe(true);
  });

  it('a ban closes the host’s connections and forgets its addresses for good', () => {
    const clock = new ManualClock();
    const book = new PeerBook(clock, testSettings(), ID_LOW);
    const p = fakePeer(clock, '10.0.0.9:1');
    book.add({ host: '10.0.0.9', port: 2 });
    book.admit(p, undefined);
    expect(book.ban('10.0.0.9', 'test')).toBe(true);
    expect(book.ban('10.0.0.9', 'test')).toBe(false);
    expect(p.fake.closeError?.code).toBe('WIRE_BANNED');
    expect(book.add({ host: '10.0.0.9', port: 2 })).toBeUndefined();
    expect(book.known('10.0.0.9:2')).toBeUndefined();
  });
});

describe('ChokeScheduler', () => {
  function scheduler(slots: number, peers: PeerConn[], clock: ManualClock) {
    let rounds = 0;
    const choker: Choker = {
      rechoke(ps) {
        rounds++;
        return new Set(
          ps
            .filter((p) => p.interested)
            .slice(0, slots)
            .map((p) => p.id),
        );
      },
    };
    const s = new ChokeScheduler({
      clock,
      settings: testSettings({ uploadSlots: slots, rechokeIntervalMs: 10_000 }),
      peers: () => peers,
      choker: () => choker,
      done: () => true,
      isSeed: () => false,
      paused: () => false,
    });
    return { s, rounds: () => rounds };
  }

  it('runs a round every interval and applies it to the wires', () => {
    const clock = new ManualClock();
    const a = fakePeer(clock, 'a:1');
    a.fake.peerInterested = true;
    const { s, rounds } = scheduler(1, [a], clock);
    clock.advance(10_000);
    expect(rounds()).toBe(1);
    expect(a.unchoked).toBe(true);
    expect(a.fake.sent).toEqual(['unchoke']);
    s.stop();
    clock.advance(60_000);
    expect(rounds()).toBe(1);
  });

  it('coalesces event-triggered rounds to one a second', () => {
    const clock = new ManualClock();
    const { s, rounds } = scheduler(2, [], clock);
    s.rechoke();
    for (let i = 0; i < 10; i++) s.soon();
    clock.advance(999);
    expect(rounds()).toBe(1);
    clock.advance(1);
    expect(rounds()).toBe(2);
    s.stop();
  });

  it('a newly interested peer gets an idle slot at once, even right after a round', () => {
    const clock = new ManualClock();
    const a = fakePeer(clock, 'a:1');
    const { s, rounds } = scheduler(2, [a], clock);
    s.rechoke(); // nobody interested: slots idle
    a.fake.peerInterested = true;
    s.peerInterested();
    clock.advance(0);
    expect(rounds()).toBe(2);
    expect(a.unchoked).toBe(true);
    s.stop();
  });
});

describe('Downloader', () => {
  function setup(settings = testSettings({ minRequestQueue: 4, maxRequestQueue: 4 }), pieces = 8) {
    const clock = new ManualClock();
    const info = smallInfo(pieces);
    const store = new GatedStore(info);
    const picker = new PiecePicker<string>({
      pieceCount: info.pieceCount,
      pieceLength: info.pieceLength,
      lastPieceLength: info.lastPieceLength,
      blockSize: settings.blockSize,
      random: () => 0,
    });
    const peers = new Map<string, PeerConn>();
    const verified: number[] = [];
    const host: DownloadHost = {
      clock,
      settings,
      peers: () => peers.values(),
      peer: (id) => peers.get(id),
      paused: () => false,
      stopped: () => false,
      received: () => {},
      wantsSources: () => false,
      pieceVerified: (piece) => verified.push(piece),
      ban: () => {},
      storeFailed: (err) => {
        throw err;
      },
      critical: () => false,
      warn: () => {},
    };
    const d = new Downloader(host, info, picker, store.asStore());
    const add = (id: string) => {
      const p = fakePeer(clock, id, { queue: 4 });
      p.fake.givePieces(...Array.from({ length: info.pieceCount }, (_, i) => i));
      peers.set(id, p);
      d.addPeer(p, true);
      return p;
    };
    return { clock, store, picker, d, add, verified, peers };
  }

  it('keeps the pipeline full, stores blocks and has complete pieces verified', async () => {
    const { store, d, add, verified } = setup();
    const p = add('a:1');
    expect(p.fake.sent).toContain('interested');
    d.fill(p);
    expect(p.fake.requests).toHaveLength(4);
    p.fake.answer(0, new Uint8Array(16384));
    expect(store.puts).toHaveLength(1);
    store.resolvePuts();
    await new Promise((r) => setImmediate(r));
    expect(verified).toHaveLength(1);
    expect(p.fake.requests.length).toBeGreaterThanOrEqual(3);
  });

  it('gives back the requests of a peer silent for requestTimeoutMs, not of one still delivering', () => {
    const { clock, picker, d, add } = setup(
      testSettings({ minRequestQueue: 4, maxRequestQueue: 4, requestTimeoutMs: 30_000 }),
      64,
    );
    const silent = add('s:1');
    const busy = add('b:1');
    d.fill(silent);
    d.fill(busy);
    for (let t = 0; t < 29; t++) {
      clock.advance(1000);
      busy.fake.answer(0, new Uint8Array(16384));
      d.tick();
    }
    expect(silent.fake.cancels).toHaveLength(0);
    clock.advance(1000);
    d.tick();
    expect(silent.fake.cancels).toHaveLength(4);
    expect(busy.fake.cancels).toHaveLength(0);
    // Given back to the picker and cancelled on the wire: the picker's and the wire's view agree.
    expect(picker.requestsOf('s:1')).toHaveLength(silent.fake.requests.length);
  });

  it('keeps at most half the store cap in flight across all peers; an idle peer still gets a few', async () => {
    const { store, d, add } = setup(testSettings({ minRequestQueue: 8, maxRequestQueue: 8 }), 64);
    store.maxPendingBytes = 8 * 16384; // half of it: 4 blocks in flight in all
    const a = add('a:1');
    const b = add('b:1');
    a.queueTarget = 8;
    b.queueTarget = 8;
    d.fill(a);
    expect(a.fake.requests).toHaveLength(4); // the budget, not its queue of 8
    d.fill(b);
    // Nothing outstanding at b: the idle floor (4), whatever the budget says.
    expect(b.fake.requests).toHaveLength(4);
    a.fake.answer(0, new Uint8Array(16384));
    store.resolvePuts();
    await new Promise((r) => setImmediate(r));
    // Over the budget (7 in flight): neither peer with something outstanding gets more.
    expect(a.fake.requests.length + b.fake.requests.length).toBe(7);
    // Cancelled (or failed) requests give their share back.
    for (const r of [...a.fake.requests]) a.fake.cancel(r.piece, r.offset, r.length);
    for (const r of [...b.fake.requests]) b.fake.cancel(r.piece, r.offset, r.length);
    d.fill(b);
    expect(b.fake.requests).toHaveLength(4);
  });

  it('20 peers sharing the budget: a resolved put offers requests to every peer only once the budget holds a batch', async () => {
    const { store, d, add } = setup(testSettings({ minRequestQueue: 64, maxRequestQueue: 64 }), 4096);
    store.maxPendingBytes = 512 * 16384; // 256 blocks in flight in all; a batch is 8 (64 / 8)
    const all = Array.from({ length: 20 }, (_, i) => add(`p:${i}`));
    for (const p of all) {
      p.queueTarget = 64;
      d.fill(p);
    }
    const outstanding = () => all.reduce((n, p) => n + p.fake.requests.length, 0);
    expect(outstanding()).toBe(4 * 64 + 16 * 4); // the budget, then the idle floor
    const block = new Uint8Array(16384);
    const fills = vi.spyOn(d, 'fill');
    let answered = 0;
    for (let round = 0; round < 100; round++) {
      for (const p of all)
        if (p.fake.requests.length > 0) {
          p.fake.answer(0, block);
          answered++;
        }
      store.resolvePuts();
      await new Promise((r) => setImmediate(r));
      // What the answers gave back went out again: the budget stays in use ...
      expect(outstanding()).toBeGreaterThanOrEqual(256 - 8);
      // ... and never beyond it, but for the idle floor of 4.
      expect(outstanding()).toBeLessThanOrEqual(256 + 20 * 4);
    }
    expect(answered).toBeGreaterThan(1900);
    // Every peer was served along (the idle floor, then batches as the budget frees).
    for (const p of all) expect(p.fake.downloaded).toBeGreaterThanOrEqual(64 * 16384);
    // The answering peer's own refill, plus a pass over the 20 per freed batch (of 8): about
    // 3.5 per block; a pass per resolved put would be 21.
    expect(fills.mock.calls.length).toBeLessThan(answered * 5);
  });

  it('a choke takes the requests off the wire: a BEP 6 peer that never rejects holds no budget', () => {
    const { store, d, add } = setup(testSettings({ minRequestQueue: 8, maxRequestQueue: 8 }), 64);
    store.maxPendingBytes = 16 * 16384; // 8 blocks in flight in all
    const a = add('a:1');
    const b = add('b:1');
    a.queueTarget = 8;
    b.queueTarget = 8;
    d.fill(a);
    d.fill(b);
    expect(a.fake.requests).toHaveLength(8);
    expect(b.fake.requests).toHaveLength(4); // the idle floor
    // a chokes us; with the fast extension its requests stay on the wire until it rejects them,
    // and this peer never does.
    a.fake.peerChoking = true;
    d.peerChoked(a);
    expect(a.fake.cancels).toHaveLength(8);
    expect(a.fake.requests).toHaveLength(0);
    // Their share is back: b, answering, is refilled to its queue of 8.
    b.fake.answer(0, new Uint8Array(16384));
    expect(b.fake.requests).toHaveLength(8);
  });

  it('counts wasted bytes: endgame duplicates and late answers to cancelled requests', () => {
    // 4 blocks (pieces of one block), two peers: in the endgame both are asked for the same ones.
    const { d, add, peers } = setup(testSettings({ minRequestQueue: 4, maxRequestQueue: 4 }), 4);
    const a = add('a:1');
    const b = add('b:1');
    d.fill(a);
    d.fill(b);
    expect(a.fake.requests).toHaveLength(4);
    expect(b.fake.requests.length).toBeGreaterThan(0);
    const bsRequests = [...b.fake.requests];
    const block = new Uint8Array(16384);
    expect(d.wastedBytes).toBe(0);
    // a's copy of a block b was also asked for arrives first: b's request is cancelled, and b's
    // copy, already on its way, arrives anyway, answering nothing.
    const dup = a.fake.requests.findIndex((r) => bsRequests.some((q) => q.piece === r.piece));
    const dupPiece = a.fake.requests[dup]?.piece;
    expect(dupPiece).toBeDefined();
    a.fake.answer(dup, block);
    expect(b.fake.cancels).toHaveLength(1);
    b.fake.stray(16384);
    expect(d.wastedBytes).toBe(16384);
    // The rest from a: every piece complete, being verified. A block that still comes through a
    // request's callback (here: b's, played late) is a duplicate.
    while (a.fake.requests.length > 0) a.fake.answer(0, block);
    const late = bsRequests[0];
    if (!late) throw new Error('no request of b');
    b.fake.downloaded += 16384;
    late.cb(null, block);
    expect(d.wastedBytes).toBe(2 * 16384);
    // A peer that leaves keeps its share in the total; useful bytes never count.
    d.removePeer(b);
    peers.delete(b.id);
    expect(d.wastedBytes).toBe(2 * 16384);
  });

  it('stops reading peers when the store is nearly full and resumes on its drain signal', () => {
    const { clock, store, d, add } = setup();
    const p = add('a:1');
    d.fill(p);
    store.pendingBytes = store.maxPendingBytes; // the disk is behind
    p.fake.answer(0, new Uint8Array(16384));
    expect(p.fake.readingPaused).toBe(true);
    expect(d.readsPaused).toBe(true);
    expect(store.drainListeners).toBe(1);
    store.resolvePuts();
    store.drainTo(store.maxPendingBytes * 0.6); // above half: still paused
    expect(p.fake.readingPaused).toBe(true);
    store.drainTo(store.maxPendingBytes * 0.4);
    expect(p.fake.readingPaused).toBe(false);
    expect(store.drainListeners).toBe(0);
    expect(clock.pending).toBe(0); // no timer left behind: nothing polls the store
  });

  it('resumes reading when nothing leaves the store and no put waits (it needs more blocks to drain)', async () => {
    const { clock, store, d, add } = setup();
    const p = add('a:1');
    d.fill(p);
    store.pendingBytes = store.maxPendingBytes;
    p.fake.answer(0, new Uint8Array(16384));
    store.resolvePuts();
    await Promise.resolve();
    expect(p.fake.readingPaused).toBe(true);
    clock.advance(19);
    expect(p.fake.readingPaused).toBe(true);
    clock.advance(1);
    expect(p.fake.readingPaused).toBe(false);
  });

  it('while a put waits, a quiet store does not resume reading', () => {
    const { clock, store, d, add } = setup();
    const p = add('a:1');
    d.fill(p);
    store.pendingBytes = store.maxPendingBytes;
    p.fake.answer(0, new Uint8Array(16384));
    clock.advance(1000);
    expect(p.fake.readingPaused).toBe(true);
    expect(clock.pending).toBe(0);
  });
});

describe('Uploader', () => {
  it('reads a piece once for all of its blocks and refuses what the upload cap would delay > 2 s', async () => {
    const clock = new ManualClock();
    const info = smallInfo(4);
    let reads = 0;
    const store = new GatedStore(info);
    const get = store.get.bind(store);
    store.get = (piece: number, offset: number, length: number) => {
      reads++;
      return get(piece, offset, length);
    };
    let wait = 0;
    const uploaded: number[] = [];
    const up = new Uploader({
      clock,
      settings: testSettings(),
      limiter: { take: () => wait, wouldWait: () => wait },
      uploaded: (_p, n) => uploaded.push(n),
      storeFailed: (err) => {
        throw err;
      },
    });
    const peer = fakePeer(clock, 'a:1');
    const answers: (Uint8Array | Error)[] = [];
    const respond = (r: Uint8Array | Error) => answers.push(r);
    up.serve(peer, store.asStore(), 1, 0, 8192, respond);
    up.serve(peer, store.asStore(), 1, 8192, 8192, respond);
    await new Promise((r) => setImmediate(r));
    expect(reads).toBe(1);
    expect(answers.map((a) => (a instanceof Error ? 'err' : a.length))).toEqual([8192, 8192]);
    expect(uploaded).toEqual([8192, 8192]);
    wait = 2001;
    up.serve(peer, store.asStore(), 1, 0, 8192, respond);
    await new Promise((r) => setImmediate(r));
    const last = answers.at(-1);
    expect(last instanceof Error && 'code' in last ? last.code : undefined).toBe('SESSION_UPLOAD_BUSY');
    up.stop();
  });
});
