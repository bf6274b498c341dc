/**
 * LEDBAT (BEP 29's congestion control): the window arithmetic, and its behaviour through a
 * bottleneck on virtual time — it keeps the queue it builds near the 100 ms target instead of
 * filling the buffer, and it yields to cross traffic that fills the queue.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/util/transport.js';
import { DelayHistory, Ledbat, RttEstimator, UtpSocket } from '../../src/utp/index.js';
import { pattern, runUntil, SimNet } from './sim.js';

describe('LEDBAT arithmetic', () => {
  const opts = () => ({ targetUs: 100_000, mss: 1000, minWindow: 1000, maxWindow: 1_000_000, gain: 3000 });

  it('grows below the target delay and shrinks above it, within bounds', () => {
    const l = new Ledbat(opts());
    const start = l.cwnd;
    for (let i = 0; i < 50; i++) l.onAck(1000, 0, l.cwnd);
    expect(l.cwnd).toBeGreaterThan(start);
    const high = l.cwnd;
    for (let i = 0; i < 500; i++) l.onAck(1000, 300_000, l.cwnd);
    expect(l.cwnd).toBeLessThan(high);
    expect(l.cwnd).toBeGreaterThanOrEqual(1000);
    for (let i = 0; i < 100_000; i++) l.onAck(1000, 0, l.cwnd);
    expect(l.cwnd).toBeLessThanOrEqual(1_000_000);
  });

  it('does not grow when the window was not used (application-limited)', () => {
    const l = new Ledbat(opts());
    const w = l.cwnd;
    l.onAck(1000, 0, 0);
    expect(l.cwnd).toBe(w);
  });

  it('halves on loss at most once per round trip, and drops to one packet on a timeout', () => {
    const l = new Ledbat(opts());
    for (let i = 0; i < 50; i++) l.onAck(1000, 0, l.cwnd);
    const w = l.cwnd;
    l.onLoss(1000, 100);
    expect(l.cwnd).toBeCloseTo(w / 2);
    l.onLoss(1050, 100);
    expect(l.cwnd).toBeCloseTo(w / 2);
    l.onLoss(1200, 100);
    expect(l.cwnd).toBeCloseTo(w / 4);
    l.onTimeout();
    expect(l.cwnd).toBe(1000);
  });

  it('the base delay is the minimum of recent minutes, across the 32-bit wrap', () => {
    const h = new DelayHistory(2);
    expect(h.add(0xfffffff0, 0)).toBe(0);
    expect(h.add(0x10, 1000)).toBe(0x20); // 32 µs after the wrap
    expect(h.add(0xffffffe0, 2000)).toBe(0); // a new minimum
    expect(h.base).toBe(0xffffffe0);
    // Minutes later the old minimum ages out.
    h.add(5000, 61_000);
    h.add(5000, 122_000);
    h.add(5000, 183_000);
    expect(h.base).toBe(5000);
  });

  it('the retransmission timeout follows RTT and its variance, with a floor', () => {
    const r = new RttEstimator(500, 1000);
    expect(r.rto).toBe(1000);
    for (let i = 0; i < 20; i++) r.sample(200);
    expect(r.rto).toBeGreaterThanOrEqual(500);
    for (let i = 0; i < 20; i++) r.sample(i % 2 ? 100 : 900);
    expect(r.rto).toBeGreaterThan(900);
  });
});

async function bottleneck(crossBytesPerMs: number) {
  // 1 MB/s link, a 1 s buffer, 20 ms latency each way.
  const net = new SimNet({ latencyMs: 20, bottleneck: { bytesPerMs: 1000, maxQueueMs: 1000 } });
  const o = { clock: net.clock, largePacketSize: 0 };
  const a = new UtpSocket(net.bind(), o);
  const b = new UtpSocket(net.bind(), o);
  let server: Connection | undefined;
  b.onConnection((c) => {
    server = c;
  });
  let client: Connection | undefined;
  void a.connect(b.address).then((c) => {
    client = c;
  });
  await runUntil(net.clock, () => client !== undefined && server !== undefined, 10_000, 'connect');
  let got = 0;
  (server as Connection).attach({ onData: (d) => (got += d.length), onDrain: () => {}, onClose: () => {} });
  const c = client as Connection;
  const chunk = pattern(64 * 1024, 1);
  const pump = () => {
    while (c.write([chunk])) {}
  };
  c.attach({ onData: () => {}, onDrain: pump, onClose: () => {} });
  pump();
  // Cross traffic: a flow that ignores congestion, from another socket.
  const cross = net.bind();
  const sinkAddr = net.bind().address;
  if (crossBytesPerMs > 0) {
    net.clock.setInterval(() => cross.send(new Uint8Array(crossBytesPerMs * 10), sinkAddr), 10);
  }
  const t0 = net.clock.now();
  await runUntil(net.clock, () => net.clock.now() - t0 >= 30_000, 40_000, '30 s of traffic');
  const late = net.queued.filter((q) => q.at - t0 > 10_000);
  const meanDelay = late.reduce((s, q) => s + q.delay, 0) / Math.max(1, late.length);
  return { rate: got / 30_000, meanDelay };
}

describe('LEDBAT through a bottleneck', () => {
  it('keeps the queue near the target delay instead of filling the buffer', async () => {
    const r = await bottleneck(0);
    // It uses the link…
    expect(r.rate).toBeGreaterThan(600);
    // …with a standing queue around the 100 ms target, far below the 1 s buffer.
    expect(r.meanDelay).toBeLessThan(200);
  }, 30_000);

  it('yields to traffic that fills the queue', async () => {
    const alone = await bottleneck(0);
    const shared = await bottleneck(1000);
    // The cross traffic alone fills the link: the queue grows past the target and LEDBAT backs
    // off to almost nothing (a loss-based flow would keep competing for its share).
    expect(shared.rate).toBeLessThan(alone.rate * 0.1);
    expect(shared.meanDelay).toBeGreaterThan(300);
  }, 30_000);
});
