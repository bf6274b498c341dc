/**
 * Rate control on a ManualClock: the token bucket and its run-time changes, buckets in a chain,
 * the downloader's request gate and the uploader's paced queue.
 */
import { describe, expect, it } from 'vitest';
import { PiecePicker } from '../../src/picker/picker.js';
import { Downloader, type DownloadHost } from '../../src/session/downloader.js';
import { SessionError } from '../../src/session/errors.js';
import { Client } from '../../src/session/index.js';
import { DownloadGate, PacedQueue, RateLimiter, Throttle } from '../../src/session/throttle.js';
import { ManualClock } from '../../src/util/index.js';
import { fakePeer, GatedStore, smallInfo, testSettings } from './fakes.js';

const KiB = 1024;
const BLOCK = 16 * KiB;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SessionError ? err.code : `not a SessionError: ${String(err)}`;
  }
  return undefined;
}

describe('RateLimiter', () => {
  it('refuses rates that are not finite numbers ≥ 0, and 0 is unlimited', () => {
    const clock = new ManualClock();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number])
      expect(code(() => new RateLimiter(bad, clock))).toBe('SESSION_BAD_RATE');
    expect(code(() => new RateLimiter(1000, clock, 0))).toBe('SESSION_BAD_RATE');
    const l = new RateLimiter(0, clock);
    expect(l.limited).toBe(false);
    expect(l.take(1e9)).toBe(0);
    expect(l.wouldWait(1e9)).toBe(0);
    expect(l.available()).toBe(Number.POSITIVE_INFINITY);
    expect(code(() => l.setRate(-5))).toBe('SESSION_BAD_RATE');
    expect(l.bytesPerSecond).toBe(0);
  });

  it('lets a burst go at once, then books bytes at the rate', () => {
    const clock = new ManualClock();
    const l = new RateLimiter(100 * KiB, clock); // burst: 64 KiB (more than a quarter second)
    expect(l.burst).toBe(64 * KiB);
    expect(l.take(64 * KiB)).toBe(0);
    expect(l.wouldWait(10 * KiB)).toBeCloseTo(100);
    expect(l.take(10 * KiB)).toBeCloseTo(100);
    expect(l.take(10 * KiB)).toBeCloseTo(200);
    clock.advance(200);
    expect(l.wouldWait(0)).toBeCloseTo(0);
    clock.advance(10_000); // idle: the bucket fills up to the burst only
    expect(l.available()).toBe(64 * KiB);
    l.refund(1e9);
    expect(l.available()).toBe(64 * KiB);
  });

  it('changes rate at run time: notifies, keeps what was booked, owes at most a second of the new rate', () => {
    const clock = new ManualClock();
    const l = new RateLimiter(1000 * KiB, clock);
    let changes = 0;
    const off = l.onChange(() => changes++);
    l.take(250 * KiB); // the burst
    l.take(2000 * KiB); // two seconds owed at the old rate
    l.setRate(100 * KiB);
    expect(changes).toBe(1);
    expect(l.burst).toBe(64 * KiB);
    expect(l.wouldWait(0)).toBeCloseTo(1000); // capped: one second of the new rate
    l.setRate(100 * KiB); // no change, no notice
    expect(changes).toBe(1);
    l.setRate(200 * KiB); // a higher rate pays the debt faster
    expect(l.wouldWait(0)).toBeCloseTo(500);
    off();
    l.setRate(0);
    expect(changes).toBe(2);
    expect(l.take(1e9)).toBe(0);
    l.setRate(100 * KiB); // from unlimited: a full bucket
    expect(l.available()).toBe(64 * KiB);
  });
});

describe('Throttle (a torrent bucket chained with the client bucket)', () => {
  it('waits for the tighter bucket and books in both', () => {
    const clock = new ManualClock();
    const torrent = new RateLimiter(0, clock);
    const client = new RateLimiter(100 * KiB, clock);
    const t = new Throttle([torrent, client, undefined]);
    expect(t.limited).toBe(true);
    expect(t.bytesPerSecond).toBe(100 * KiB);
    torrent.setRate(50 * KiB);
    expect(t.bytesPerSecond).toBe(50 * KiB);
    t.take(64 * KiB);
    expect(client.available()).toBe(0);
    expect(torrent.available()).toBe(0);
    expect(t.wouldWait(50 * KiB)).toBeCloseTo(1000);
    torrent.setRate(0);
    expect(t.wouldWait(50 * KiB)).toBeCloseTo(500);
    client.setRate(0);
    expect(t.limited).toBe(false);
    expect(t.available()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('DownloadGate in the downloader', () => {
  function setup(rate: number) {
    const clock = new ManualClock();
    const info = smallInfo(4096);
    const store = new GatedStore(info);
    const settings = testSettings();
    const picker = new PiecePicker<string>({
      pieceCount: info.pieceCount,
      pieceLength: info.pieceLength,
      lastPieceLength: info.lastPieceLength,
      blockSize: BLOCK,
      random: () => 0,
    });
    const limiter = new RateLimiter(rate, clock);
    let wakes = 0;
    const peers = [fakePeer(clock, 'a:1', { queue: 64 })];
    let d: Downloader | undefined;
    const gate = new DownloadGate(new Throttle([limiter]), clock, () => {
      wakes++;
      d?.fillAll();
    });
    const host: DownloadHost = {
      clock,
      settings,
      peers: () => peers.values(),
      peer: (id) => peers.find((p) => p.id === id),
      paused: () => false,
      stopped: () => false,
      received: () => {},
      wantsSources: () => false,
      pieceVerified: () => {},
      ban: () => {},
      storeFailed: (err) => {
        throw err;
      },
      warn: () => {},
      downloadGate: gate,
      critical: () => false,
    };
    d = new Downloader(host, info, picker, store.asStore());
    const [p] = peers;
    if (!p) throw new Error('no peer');
    p.fake.givePieces(...Array.from({ length: info.pieceCount }, (_, i) => i));
    d.addPeer(p, true);
    /** Plays a peer that answers every request at once, for `ms` in 10 ms steps; returns blocks received. */
    const run = (ms: number) => {
      let got = 0;
      for (let t = 0; t < ms; t += 10) {
        while (p.fake.requests.length > 0) {
          p.fake.answer(0, new Uint8Array(BLOCK));
          got++;
        }
        store.resolvePuts();
        clock.advance(10);
      }
      return got;
    };
    return { clock, d, p, gate, limiter, run, wakes: () => wakes };
  }

  it('requests at the limit with a pipeline of half a second of it, and one timer at most', () => {
    const { clock, d, p, run, limiter } = setup(256 * KiB); // 16 blocks/s
    d.fill(p);
    // The burst (64 KiB = 4 blocks) at once; the queue cap is 8 blocks (half a second).
    expect(p.fake.requests).toHaveLength(4);
    run(200);
    expect(clock.pending).toBeLessThanOrEqual(1);
    const got = run(10_000);
    expect(got).toBeGreaterThanOrEqual(158);
    expect(got).toBeLessThanOrEqual(162);
    // A peer that does not answer holds at most the cap.
    limiter.setRate(1024 * KiB); // 64 blocks/s; cap 32
    clock.advance(2000);
    d.fill(p);
    clock.advance(2000);
    d.fill(p);
    expect(p.fake.requests.length).toBeLessThanOrEqual(32);
    expect(p.fake.requests.length).toBeGreaterThan(8);
  });

  it('a lowered limit shows at once; a raised one wakes the pipeline; lifted, no timers', () => {
    const { clock, d, p, run, limiter, wakes } = setup(1024 * KiB);
    d.fill(p);
    run(2000);
    const before = wakes();
    limiter.setRate(128 * KiB); // 8 blocks/s
    expect(wakes()).toBe(before + 1);
    run(500); // what was requested before arrives; the bucket owes at most a second
    expect(run(4000)).toBeLessThanOrEqual(33);
    limiter.setRate(2048 * KiB);
    expect(p.fake.requests.length).toBeGreaterThan(0); // woken at once, no wait for a timer
    expect(run(2000)).toBeGreaterThanOrEqual(250);
    limiter.setRate(0);
    run(100);
    expect(clock.pending).toBe(0);
  });

  it('gives back what failed requests had booked, and requests already sent are received', () => {
    const { d, p, limiter } = setup(128 * KiB); // burst 64 KiB, cap 4 requests
    d.fill(p);
    expect(p.fake.requests).toHaveLength(4);
    expect(limiter.available()).toBe(0);
    limiter.setRate(64 * KiB); // lowered with requests in flight: they are kept
    expect(p.fake.requests).toHaveLength(4);
    p.fake.answer(0, null);
    p.fake.answer(0, null);
    expect(limiter.available()).toBe(32 * KiB);
    p.fake.answer(0, new Uint8Array(BLOCK));
    p.fake.answer(0, new Uint8Array(BLOCK));
    expect(p.fake.requests.length).toBeGreaterThan(0); // the refund paid for new requests
  });
});

describe('PacedQueue (the uploader under a cap)', () => {
  it('sends in order at the rate with one timer, refuses over the wait cap, applies a new rate to the queue', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(64 * KiB, clock);
    const q = new PacedQueue(new Throttle([limiter]), clock, 2000);
    const sent: number[] = [];
    const dropped: number[] = [];
    let n = 0;
    const push = () => {
      const i = n++;
      return q.push(
        BLOCK,
        () => sent.push(i),
        () => dropped.push(i),
      );
    };
    for (let i = 0; i < 12; i++) expect(push()).toBe(true); // 4 go (burst), 8 wait 2 s
    expect(sent).toEqual([0, 1, 2, 3]);
    expect(push()).toBe(false); // would wait over 2 s
    expect(clock.pending).toBe(1);
    clock.advance(1000);
    expect(sent).toHaveLength(8);
    limiter.setRate(16 * KiB); // the 4 still queued now go at one a second
    clock.advance(1000);
    expect(sent).toHaveLength(9);
    expect(clock.pending).toBe(1);
    limiter.setRate(0);
    expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(clock.pending).toBe(0);
    limiter.setRate(16 * KiB);
    for (let i = 0; i < 6; i++) push();
    q.stop();
    expect(dropped).toHaveLength(2);
    expect(clock.pending).toBe(0);
  });
});

describe('Client and Torrent rate settings', () => {
  it('take settings as initial values, change at run time, validate, and accept -1 as unlimited', async () => {
    const clock = new ManualClock();
    expect(code(() => new Client({ clock, settings: { downloadRateLimit: -3 } }))).toBe('SESSION_BAD_RATE');
    const client = new Client({ clock, settings: { downloadRateLimit: 4096, uploadRateLimit: 2048 } });
    try {
      expect([client.downloadLimit, client.uploadLimit]).toEqual([4096, 2048]);
      client.throttleDownload(-1);
      client.throttleUpload(1000);
      expect([client.downloadLimit, client.uploadLimit]).toEqual([0, 1000]);
      expect(code(() => client.throttleUpload(Number.NaN))).toBe('SESSION_BAD_RATE');
      const t = client.add('a'.repeat(40), { paused: true });
      expect([t.downloadLimit, t.uploadLimit]).toEqual([0, 0]);
      t.throttleDownload(5000);
      t.throttleUpload(6000);
      expect([t.downloadLimit, t.uploadLimit]).toEqual([5000, 6000]);
      expect(code(() => t.throttleDownload(-2))).toBe('SESSION_BAD_RATE');
    } finally {
      await client.destroy();
    }
  });
});
