import { describe, expect, it } from 'vitest';
import { type SimDatagramSocket, SimNetwork, type SimNetworkOptions } from '../../src/sim/network.js';
import { SimRandom } from '../../src/sim/random.js';
import { VirtualClock } from '../../src/sim/scheduler.js';
import type { Connection, Endpoint } from '../../src/util/transport.js';

const MB = 1_000_000;

function lab(options: SimNetworkOptions = {}, seed = 1) {
  const clock = new VirtualClock();
  const net = new SimNetwork(clock, new SimRandom(seed), options);
  return { clock, net };
}

interface Got {
  at: number;
  data: Uint8Array;
  from: Endpoint;
}

function collect(socket: SimDatagramSocket, clock: VirtualClock): Got[] {
  const got: Got[] = [];
  socket.onMessage((data, from) => got.push({ at: clock.now(), data: data.slice(), from }));
  return got;
}

/** A bulk stream a → b (port 6881) that keeps `a`'s send buffer full; returns its byte counter. */
async function bulkStream(net: SimNetwork, clock: VirtualClock, a: string, b: string) {
  let accepted: Connection | undefined;
  await net.transport(b).listen({ host: b, port: 6881 }, (c) => {
    accepted = c;
  });
  const p = net.transport(a).connect({ host: b, port: 6881 });
  await clock.run({ until: () => accepted !== undefined, endAt: clock.now() + 5000 });
  const up = await p;
  const state = { received: 0, stop: false };
  accepted?.attach({ onData: (d) => (state.received += d.length), onDrain: () => {}, onClose: () => {} });
  const block = new Uint8Array(16 * 1024);
  const fill = () => {
    while (!state.stop && up.write([block])) {}
  };
  up.attach({ onData: () => {}, onDrain: fill, onClose: () => {} });
  fill();
  return { state, up };
}

describe('SimNetwork datagrams', () => {
  it('delivers a copy after the uplink time, the link latency and the downlink time', async () => {
    const { clock, net } = lab();
    net.addNode({ host: 'a', upload: MB, download: MB, latencyMs: 10 });
    net.addNode({ host: 'b', upload: MB, download: 2 * MB, latencyMs: 15 });
    const sa = net.bindDatagram('a');
    const sb = net.bindDatagram('b', 6881);
    expect(sb.address).toEqual({ host: 'b', port: 6881 });
    const got = collect(sb, clock);
    const data = new Uint8Array(1000).fill(7);
    sa.send(data, { host: 'b', port: 6881 });
    data.fill(9); // the socket copied it
    await clock.run({ endAt: 1000 });
    expect(got).toHaveLength(1);
    // 1,000 B at 1 MB/s up (1 ms) + 10 + 15 ms + 1,000 B at 2 MB/s down (0.5 ms).
    expect(got[0]?.at).toBeCloseTo(26.5, 9);
    expect(got[0]?.data).toEqual(new Uint8Array(1000).fill(7));
    expect(got[0]?.from).toEqual(sa.address);
    expect(net.stats('a')).toMatchObject({ sent: 1000, datagramsSent: 1 });
    expect(net.stats('b')).toMatchObject({ received: 1000, datagramsReceived: 1 });
    // And back, to the sender's ephemeral port.
    const back = collect(sa, clock);
    sb.send(new Uint8Array([1, 2, 3]), got[0]?.from ?? sa.address);
    await clock.run({ endAt: 2000 });
    expect(back.map((g) => [...g.data])).toEqual([[1, 2, 3]]);
  });

  it('keeps one sender’s order through the FIFO servers, at the link’s rate', async () => {
    const { clock, net } = lab();
    net.addNode({ host: 'a', upload: MB, download: MB, latencyMs: 5 });
    net.addNode({ host: 'b', upload: MB, download: MB, latencyMs: 5 });
    const sa = net.bindDatagram('a');
    const got = collect(net.bindDatagram('b', 1), clock);
    const rnd = new SimRandom(9);
    let bytes = 0;
    for (let i = 0; i < 200; i++) {
      const d = new Uint8Array(100 + rnd.int(1300));
      d[0] = i;
      bytes += d.length;
      sa.send(d, { host: 'b', port: 1 });
    }
    await clock.run({ endAt: 10_000 });
    expect(got.map((g) => g.data[0])).toEqual(Array.from({ length: 200 }, (_, i) => i & 0xff));
    // Back to back at 1 MB/s: the last one leaves after bytes/rate, arrives 10 ms (+ its downlink time) later.
    const last = got[199];
    expect(last?.at).toBeGreaterThanOrEqual((bytes / MB) * 1000 + 10);
    expect(last?.at).toBeLessThan((bytes / MB) * 1000 + 10 + 2);
  });

  it('loses datagrams at the sender’s loss rate, never sending them again (seeded)', async () => {
    const { clock, net } = lab({ datagramQueueBytes: 16 * MB }, 42);
    net.addNode({ host: 'a', upload: 100 * MB, download: MB, loss: 0.05 });
    net.addNode({ host: 'b', upload: MB, download: 100 * MB });
    const sa = net.bindDatagram('a');
    const got = collect(net.bindDatagram('b', 1), clock);
    const n = 10_000;
    for (let i = 0; i < n; i++) sa.send(new Uint8Array([i & 0xff, i >> 8]), { host: 'b', port: 1 });
    await clock.run({ endAt: 10_000 });
    const lost = net.stats('a')?.datagramsLost ?? -1;
    // Binomial(10,000, 0.05): mean 500, sd ≈ 21.8.
    expect(lost).toBeGreaterThan(400);
    expect(lost).toBeLessThan(600);
    expect(got.length + lost).toBe(n);
    expect(net.stats('b')?.datagramsReceived).toBe(got.length);
    const ids = got.map((g) => (g.data[0] ?? 0) | ((g.data[1] ?? 0) << 8));
    expect(new Set(ids).size).toBe(ids.length); // nothing duplicated
    expect(ids).toEqual([...ids].sort((x, y) => x - y)); // nor reordered
  });

  it('waits behind a bulk stream’s window at a shared uplink (queueing delay)', async () => {
    const { clock, net } = lab();
    net.addNode({ host: 'a', upload: MB, download: 10 * MB, latencyMs: 10 });
    net.addNode({ host: 'b', upload: 10 * MB, download: 10 * MB, latencyMs: 10 });
    const sa = net.bindDatagram('a');
    const got = collect(net.bindDatagram('b', 1), clock);
    const probe = async (): Promise<number> => {
      const t0 = clock.now();
      const before = got.length;
      sa.send(new Uint8Array(1000), { host: 'b', port: 1 });
      await clock.run({ until: () => got.length > before, endAt: t0 + 5000 });
      return (got[before]?.at ?? Number.NaN) - t0;
    };
    const idle = await probe();
    expect(idle).toBeCloseTo(1 + 20 + 0.1, 6);
    const { state } = await bulkStream(net, clock, 'a', 'b');
    await clock.run({ endAt: clock.now() + 2000 }); // the stream is at full speed
    const loaded = await probe();
    // The stream keeps its window (256 KiB) in the network: about 20 ms of it is on the wire,
    // the rest waits at a's uplink, ahead of the datagram. 262 KB at 1 MB/s ≈ 262 ms, minus what
    // is in flight (the latency and one segment in service), plus the datagram's own time.
    const window = net.windowBytes;
    expect(loaded).toBeGreaterThan(((window - 0.02 * MB - 2 * net.segmentBytes) / MB) * 1000);
    expect(loaded).toBeLessThan(((window + net.segmentBytes) / MB) * 1000 + 25);
    // The stream still had the link: ~1 MB/s over the 2 s.
    expect(state.received).toBeGreaterThan(1.8 * MB);
    state.stop = true;
  });

  it('waits behind stream segments in the receiver’s downlink FIFO', async () => {
    const { clock, net } = lab();
    net.addNode({ host: 'fast', upload: 10 * MB, download: 10 * MB, latencyMs: 5 });
    net.addNode({ host: 'other', upload: 10 * MB, download: 10 * MB, latencyMs: 5 });
    net.addNode({ host: 'slow', upload: 10 * MB, download: MB, latencyMs: 5 });
    const so = net.bindDatagram('other');
    const got = collect(net.bindDatagram('slow', 1), clock);
    await bulkStream(net, clock, 'fast', 'slow');
    await clock.run({ endAt: clock.now() + 2000 });
    const t0 = clock.now();
    so.send(new Uint8Array(1000), { host: 'slow', port: 1 });
    await clock.run({ until: () => got.length > 0, endAt: t0 + 5000 });
    const delay = (got[0]?.at ?? Number.NaN) - t0;
    // Nearly the whole window sits in slow's downlink queue (its uplink side is 10× faster).
    expect(delay).toBeGreaterThan(((net.windowBytes - 0.01 * 10 * MB - 2 * net.segmentBytes) / MB) * 1000);
    expect(delay).toBeLessThan(((net.windowBytes + net.segmentBytes) / MB) * 1000 + 15);
  });

  it('shares the uplink without exceeding its capacity', async () => {
    const { clock, net } = lab({ datagramQueueBytes: 64 * 1024 });
    net.addNode({ host: 'a', upload: MB, download: 10 * MB, latencyMs: 10 });
    net.addNode({ host: 'b', upload: 10 * MB, download: 10 * MB, latencyMs: 10 });
    const sa = net.bindDatagram('a');
    const got = collect(net.bindDatagram('b', 1), clock);
    const { state } = await bulkStream(net, clock, 'a', 'b');
    // A datagram flood: 1,400 B every 1 ms (1.4 MB/s offered).
    const t = clock.setInterval(() => sa.send(new Uint8Array(1400), { host: 'b', port: 1 }), 1);
    await clock.run({ endAt: clock.now() + 5000 });
    t.cancel();
    state.stop = true;
    const s = net.stats('a');
    const series = [...(s?.sentSeries ?? [])];
    await clock.run({ endAt: clock.now() + 1000 }); // what is in flight lands
    for (const bytes of series) expect(bytes).toBeLessThanOrEqual(MB + net.segmentBytes);
    // The link was full while both sent.
    for (const bytes of series.slice(1, -1)) expect(bytes).toBeGreaterThan(0.95 * MB);
    // Both got through, and the overflow was dropped at the tail, not queued without bound.
    expect(got.length).toBeGreaterThan(100);
    expect(state.received).toBeGreaterThan(MB);
    expect(s?.datagramsDropped).toBeGreaterThan(0);
    expect(s?.datagramsSent).toBe(got.length + (s?.datagramsLost ?? 0) + (s?.datagramsUnroutable ?? 0));
  });

  it('drops at the tail when the uplink’s datagram queue is full, and oversize datagrams', async () => {
    const { clock, net } = lab({ datagramQueueBytes: 10_000, maxDatagramBytes: 1500 });
    net.addNode({ host: 'a', upload: MB, download: MB });
    net.addNode({ host: 'b', upload: MB, download: MB });
    const sa = net.bindDatagram('a');
    const got = collect(net.bindDatagram('b', 1), clock);
    for (let i = 0; i < 20; i++) sa.send(new Uint8Array(1000).fill(i), { host: 'b', port: 1 });
    sa.send(new Uint8Array(1501), { host: 'b', port: 1 });
    await clock.run({ endAt: 1000 });
    // The first went straight into service; ten more fit the 10,000-byte queue; the rest are dropped.
    expect(got.map((g) => g.data[0])).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(net.stats('a')?.datagramsDropped).toBe(9 + 1);
    // Room again once the queue drained.
    sa.send(new Uint8Array(1000).fill(99), { host: 'b', port: 1 });
    await clock.run({ endAt: 2000 });
    expect(got.at(-1)?.data[0]).toBe(99);
  });

  it('drops at the tail of a slow receiver’s downlink too, so a fast sender cannot grow it', async () => {
    const { clock, net } = lab({ datagramQueueBytes: 10_000 });
    net.addNode({ host: 'a', upload: 100 * MB, download: MB });
    net.addNode({ host: 'b', upload: MB, download: MB / 10 });
    const sa = net.bindDatagram('a');
    const got = collect(net.bindDatagram('b', 1), clock);
    // 1,000 datagrams of 1,000 B every 10 ms for 1 s: 100× what b's 100 KB/s downlink takes.
    let i = 0;
    const t = clock.setInterval(() => {
      for (let k = 0; k < 10; k++) sa.send(new Uint8Array(1000).fill(i++ & 0xff), { host: 'b', port: 1 });
    }, 10);
    await clock.run({ endAt: 1000 });
    t.cancel();
    await clock.run({ endAt: 5000 });
    const s = net.stats('a');
    // b's downlink delivered ~100 KB/s for the second, plus the ≤ 10 queued (and one in service) after it.
    expect(got.length).toBeGreaterThanOrEqual(100);
    expect(got.length).toBeLessThanOrEqual(100 + 11 + 1);
    expect(s?.datagramsDropped).toBe(i - got.length);
    expect(s?.datagramsSent).toBe(i);
    // Arrival order kept among what got through.
    const ids = got.map((g) => g.data[0] ?? 0);
    for (let k = 1; k < ids.length; k++) expect((((ids[k] ?? 0) - (ids[k - 1] ?? 0)) & 0xff) > 0).toBe(true);
  });

  it('drops datagrams nobody binds; closing and leaving unbind; ports are checked', async () => {
    const { clock, net } = lab();
    net.addNode({ host: 'a', upload: MB, download: MB });
    net.addNode({ host: 'b', upload: MB, download: MB });
    const sa = net.bindDatagram('a');
    const sb = net.bindDatagram('b', 7);
    const got = collect(sb, clock);
    expect(() => net.bindDatagram('b', 7)).toThrow(
      expect.objectContaining({ code: 'TRANSPORT_LISTEN_FAILED' }),
    );
    expect(() => net.bindDatagram('nowhere')).toThrow(
      expect.objectContaining({ code: 'TRANSPORT_LISTEN_FAILED' }),
    );
    expect(() => net.bindDatagram('b', 70_000)).toThrow(
      expect.objectContaining({ code: 'TRANSPORT_LISTEN_FAILED' }),
    );
    sa.send(new Uint8Array(10), { host: 'b', port: 8 }); // no such port
    sa.send(new Uint8Array(10), { host: 'nowhere', port: 7 }); // no such host
    await clock.run({ endAt: 1000 });
    expect(net.stats('a')?.datagramsUnroutable).toBe(2);
    expect(got).toHaveLength(0);
    await sb.close();
    sa.send(new Uint8Array(10), { host: 'b', port: 7 });
    await clock.run({ endAt: 2000 });
    expect(got).toHaveLength(0);
    expect(net.stats('a')?.datagramsUnroutable).toBe(3);
    // The port is free again; the bind function takes the simulated host, whatever address it is given.
    const again = await net.datagrams('b')({ host: '0.0.0.0', port: 7 });
    expect(again.address).toEqual({ host: 'b', port: 7 });
    const got2 = collect(again, clock);
    net.removeNode('a');
    expect(sa.closed).toBe(true);
    sa.send(new Uint8Array(10), { host: 'b', port: 7 }); // a no-op
    await clock.run({ endAt: 3000 });
    expect(got2).toHaveLength(0);
    await again.close();
    await again.close(); // twice is harmless
  });

  it('refuses nonsense options', () => {
    const clock = new VirtualClock();
    expect(() => new SimNetwork(clock, new SimRandom(1), { datagramQueueBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'SIM_BAD_NETWORK' }),
    );
    expect(() => new SimNetwork(clock, new SimRandom(1), { maxDatagramBytes: 0 })).toThrow(
      expect.objectContaining({ code: 'SIM_BAD_NETWORK' }),
    );
  });
});
