import { describe, expect, it } from 'vitest';
import { fluidBound } from '../../src/sim/bound.js';
import { SimError, SimNetwork } from '../../src/sim/network.js';
import { SimRandom } from '../../src/sim/random.js';
import { formatBtt, normalizeScenario, parseBtt, parseRate, parseSize } from '../../src/sim/scenario.js';
import { VirtualClock } from '../../src/sim/scheduler.js';
import { SimContent } from '../../src/sim/store.js';
import { AbortError } from '../../src/util/errors.js';
import type { Connection } from '../../src/util/transport.js';

const MiB = 1024 * 1024;

describe('fluidBound', () => {
  it('is the seed term when the seed is the bottleneck', () => {
    // F/u_s = 100/10 = 10; F/d_min = 100/20 = 5; N·F/(u_s+Σu) = 200/20 = 10 → 10 (ties keep the first).
    expect(
      fluidBound({ fileBytes: 100, seedUpload: 10, leecherUploads: [5, 5], leecherDownloads: [20, 50] }),
    ).toEqual({
      seconds: 10,
      terms: { seed: 10, download: 5, swarm: 10 },
      binding: 'seed',
    });
  });

  it('is the download term for a slow downloader', () => {
    // F/u_s = 1; F/d_min = 100/4 = 25; swarm = 200/(100+200) = 0.667.
    const b = fluidBound({
      fileBytes: 100,
      seedUpload: 100,
      leecherUploads: [100, 100],
      leecherDownloads: [4, 1000],
    });
    expect(b.binding).toBe('download');
    expect(b.seconds).toBe(25);
    expect(b.terms.swarm).toBeCloseTo(2 / 3, 10);
  });

  it('is the swarm term for a large crowd', () => {
    // 4 leechers of upload 5, seed 10: 4·100/(10+20) = 13.33 > F/u_s = 10 > F/d = 1.
    const b = fluidBound({
      fileBytes: 100,
      seedUpload: 10,
      leecherUploads: [5, 5, 5, 5],
      leecherDownloads: [100, 100, 100, 100],
    });
    expect(b.binding).toBe('swarm');
    expect(b.seconds).toBeCloseTo(400 / 30, 10);
  });

  it('counts a zero-upload (free-riding) leecher in N but not in the upload', () => {
    const b = fluidBound({
      fileBytes: 90,
      seedUpload: 10,
      leecherUploads: [0, 20],
      leecherDownloads: [100, 100],
    });
    expect(b.terms.swarm).toBe(180 / 30);
  });

  it('is 0 without leechers and refuses nonsense', () => {
    expect(
      fluidBound({ fileBytes: 5, seedUpload: 1, leecherUploads: [], leecherDownloads: [] }).seconds,
    ).toBe(0);
    expect(() =>
      fluidBound({ fileBytes: 5, seedUpload: 0, leecherUploads: [], leecherDownloads: [] }),
    ).toThrow(expect.objectContaining({ name: 'SimError', code: 'SIM_BAD_ARGUMENT' }));
    expect(() =>
      fluidBound({ fileBytes: 5, seedUpload: 1, leecherUploads: [1], leecherDownloads: [0] }),
    ).toThrow(expect.objectContaining({ name: 'SimError', code: 'SIM_BAD_ARGUMENT' }));
    expect(() =>
      fluidBound({ fileBytes: 5, seedUpload: 1, leecherUploads: [1, 2], leecherDownloads: [3] }),
    ).toThrow(SimError);
    expect(() => new VirtualClock({ quantumMs: 0 })).toThrow(SimError);
    expect(() => new SimContent(0, 1024, new SimRandom(1))).toThrow(SimError);
  });
});

describe('VirtualClock', () => {
  it('fires in time order, ties in scheduling order, and lets promise work finish before time moves', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      log.push(`a@${clock.now()}`);
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => log.push(`a-then@${clock.now()}`));
    }, 10);
    clock.setTimeout(() => log.push(`c@${clock.now()}`), 20);
    const t = clock.setInterval(() => log.push(`i@${clock.now()}`), 15);
    clock.setTimeout(() => t.cancel(), 31);
    await clock.run();
    expect(log).toEqual(['a@10', 'a-then@10', 'i@15', 'b@20', 'c@20', 'i@30']);
    expect(clock.pending).toBe(0);
  });

  it('stops at endAt and when until() holds', async () => {
    const clock = new VirtualClock();
    let n = 0;
    clock.setInterval(() => n++, 100);
    await clock.run({ endAt: 1000 });
    expect(n).toBe(10);
    expect(clock.now()).toBe(1000);
    await clock.run({ until: () => n >= 15 });
    expect(n).toBe(15);
  });
});

describe('SimRandom', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = new SimRandom(7);
    const b = new SimRandom(7);
    const c = new SimRandom(8);
    const xs = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(xs);
    const r = new SimRandom(1);
    for (let i = 0; i < 1000; i++) {
      const v = r.next();
      expect(v >= 0 && v < 1).toBe(true);
    }
  });
});

/** Connects two hosts and returns the two ends (listening once per host). */
const listening = new WeakMap<SimNetwork, Map<string, Connection[]>>();
async function pair(
  net: SimNetwork,
  clock: VirtualClock,
  from: string,
  to: string,
): Promise<[Connection, Connection]> {
  const accepted = listening.get(net) ?? new Map<string, Connection[]>();
  listening.set(net, accepted);
  let list = accepted.get(to);
  if (!list) {
    const l: Connection[] = [];
    list = l;
    accepted.set(to, l);
    await net.transport(to).listen({ host: to, port: 6881 }, (c) => l.push(c));
  }
  const before = list.length;
  const p = net.transport(from).connect({ host: to, port: 6881 });
  const l = list;
  await clock.run({ until: () => l.length > before });
  const a = await p;
  return [a, l[before] as Connection];
}

describe('SimNetwork', () => {
  it('never sends above a host upload capacity nor receives above its download capacity', async () => {
    const clock = new VirtualClock();
    const net = new SimNetwork(clock, new SimRandom(1));
    net.addNode({ host: 'a', upload: 1 * MiB, download: 10 * MiB, latencyMs: 5 });
    net.addNode({ host: 'b', upload: 10 * MiB, download: 10 * MiB, latencyMs: 5 });
    net.addNode({ host: 'c', upload: 10 * MiB, download: 10 * MiB, latencyMs: 5 });
    net.addNode({ host: 'sink', upload: 1 * MiB, download: 3 * MiB, latencyMs: 5 });
    // a → b: limited by a's upload (1 MiB/s). b, c → sink: limited by sink's download (3 MiB/s).
    const [ab, ba] = await pair(net, clock, 'a', 'b');
    const ends = [await pair(net, clock, 'b', 'sink'), await pair(net, clock, 'c', 'sink')];
    let gotAB = 0;
    let gotSink = 0;
    ba.attach({ onData: (d) => (gotAB += d.length), onDrain: () => {}, onClose: () => {} });
    for (const [, s] of ends)
      s.attach({ onData: (d) => (gotSink += d.length), onDrain: () => {}, onClose: () => {} });
    const block = new Uint8Array(64 * 1024);
    const start = clock.now();
    for (let i = 0; i < 80; i++) ab.write([block]); // 5 MiB
    for (const [w] of ends) for (let i = 0; i < 160; i++) w.write([block]); // 10 MiB each
    await clock.run({ until: () => gotAB === 5 * MiB && gotSink === 20 * MiB, endAt: 60_000 });
    expect(gotAB).toBe(5 * MiB);
    expect(gotSink).toBe(20 * MiB);
    const seg = net.segmentBytes;
    for (const [host, up, down] of [
      ['a', 1 * MiB, 10 * MiB],
      ['sink', 1 * MiB, 3 * MiB],
      ['b', 10 * MiB, 10 * MiB],
    ] as const) {
      const s = net.stats(host);
      expect(s).toBeDefined();
      for (const bytes of s?.sentSeries ?? []) expect(bytes).toBeLessThanOrEqual(up + seg);
      for (const bytes of s?.receivedSeries ?? []) expect(bytes).toBeLessThanOrEqual(down + seg);
    }
    // The links ran at their capacity, not below it: 20 MiB through a 3 MiB/s downlink takes ≥ 6.67 s.
    expect(clock.now() - start).toBeGreaterThanOrEqual((20 / 3) * 1000);
    expect(clock.now() - start).toBeLessThan((20 / 3) * 1000 * 1.1);
  });

  it('keeps order under loss (retransmission) and refuses connections to absent hosts', async () => {
    const clock = new VirtualClock();
    const net = new SimNetwork(clock, new SimRandom(3));
    net.addNode({ host: 'a', upload: MiB, download: MiB, loss: 0.2 });
    net.addNode({ host: 'b', upload: MiB, download: MiB });
    const [ab, ba] = await pair(net, clock, 'a', 'b');
    const got: number[] = [];
    ba.attach({ onData: (d) => got.push(...d), onDrain: () => {}, onClose: () => {} });
    const sent: number[] = [];
    for (let i = 0; i < 200; i++) {
      const chunk = new Uint8Array(1000).fill(i & 0xff);
      sent.push(...chunk);
      ab.write([chunk]);
    }
    await clock.run({ until: () => got.length === sent.length, endAt: 60_000 });
    expect(got).toEqual(sent);
    const failed = net
      .transport('a')
      .connect({ host: 'nowhere', port: 1 })
      .then(
        () => 'connected',
        (e: SimError) => e.code,
      );
    await clock.run({ endAt: clock.now() + 1000 });
    expect(await failed).toBe('TRANSPORT_CONNECT_FAILED');
  });

  it('an aborted dial rejects with AbortError (ABORTED), before and during the connect', async () => {
    const clock = new VirtualClock();
    const net = new SimNetwork(clock, new SimRandom(4));
    net.addNode({ host: 'a', upload: MiB, download: MiB, latencyMs: 50 });
    net.addNode({ host: 'b', upload: MiB, download: MiB, latencyMs: 50 });
    await net.transport('b').listen({ host: 'b', port: 6881 }, () => {});
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'connected',
        (e: unknown) => (e instanceof AbortError ? e.code : String(e)),
      );
    const early = new AbortController();
    early.abort();
    const before = outcome(net.transport('a').connect({ host: 'b', port: 6881 }, { signal: early.signal }));
    const late = new AbortController();
    const during = outcome(net.transport('a').connect({ host: 'b', port: 6881 }, { signal: late.signal }));
    late.abort();
    await clock.run({ endAt: clock.now() + 1000 });
    expect(await before).toBe('ABORTED');
    expect(await during).toBe('ABORTED');
  });
});

describe('scenarios', () => {
  const base = {
    file: { size: '4 MiB' },
    groups: [
      { name: 's', count: 1, seed: true, upload: '1 MiB/s', download: '1 MiB/s' },
      { name: 'l', count: 2, upload: '8 Mbit/s', download: 250_000 },
    ],
  };

  it('reads units and fills defaults', () => {
    expect(parseSize('100 MiB')).toBe(100 * MiB);
    expect(parseSize('1.5 KB')).toBe(1500);
    expect(parseRate('8 Mbit/s')).toBe(1_000_000);
    expect(parseRate('2 MiB/s')).toBe(2 * MiB);
    expect(parseBtt('0.000000000000000001')).toBe(1n);
    expect(parseBtt('20')).toBe(20n * 10n ** 18n);
    expect(formatBtt(1_500_000_000_000_000_000n)).toBe('1.5');
    const s = normalizeScenario(base);
    expect(s.groups[1]).toMatchObject({
      upload: 1_000_000,
      download: 250_000,
      strategy: 'tit-for-tat',
      departure: { kind: 'leave' },
    });
    expect(s.groups[0]?.departure).toEqual({ kind: 'stay' });
    expect(s.pieceLength).toBe(256 * 1024);
  });

  it('names the bad field', () => {
    const bad = (patch: object, path: string) => {
      let err: unknown;
      try {
        normalizeScenario({ ...base, ...patch });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SimError);
      expect((err as SimError).code).toBe('SIM_BAD_SCENARIO');
      expect((err as SimError).message).toContain(path);
    };
    bad({ file: { size: 'lots' } }, 'file.size');
    bad({ groups: [base.groups[1]] }, 'groups');
    bad({ groups: [base.groups[0], { ...base.groups[1], strategy: 'bribe' }] }, 'groups[1].strategy');
    bad({ groups: [base.groups[0], { ...base.groups[1], budget: '5' }] }, 'groups[1].budget');
    bad({ groups: [base.groups[0], { ...base.groups[1], budget: 5 }] }, 'groups[1].budget');
    bad(
      { groups: [base.groups[0], { ...base.groups[1], arrival: { kind: 'poisson' } }] },
      'groups[1].arrival.ratePerSecond',
    );
    bad({ file: { size: '4 MiB', pieceLength: 1000 } }, 'file.pieceLength');
  });
});
