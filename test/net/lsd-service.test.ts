/**
 * The LSD service (BEP 14) on a ManualClock and a fake socket (no multicast leaves the test):
 * when it announces, its rate limits and jitter, several info-hashes per datagram, our own
 * cookie, the peers it reports and the hostile datagrams it refuses without throwing.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  type LsdOpen,
  type LsdPeer,
  LsdService,
  type LsdServiceOptions,
  type LsdSocketHandlers,
  NetError,
} from '../../src/net/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { ManualClock } from '../../src/util/clock.js';

const hash = (i: number) => fromHex(i.toString(16).padStart(40, 'd'));
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const MIN = 60_000;

function fakeNet(fail: (family: 4 | 6) => boolean = () => false) {
  const sent: { family: 4 | 6; at: number; hashes: string[]; port: number; cookie: string | undefined }[] =
    [];
  const handlers: LsdSocketHandlers[] = [];
  let clock: ManualClock | undefined;
  let closed = 0;
  const open: LsdOpen = async (family, interfaces, _options, h) => {
    if (fail(family)) throw new NetError('NET_LSD_SOCKET', `no IPv${family} here`);
    handlers.push(h);
    return {
      family,
      interfaces,
      send: (d) => {
        const a = decodeLsdAnnounce(d);
        sent.push({
          family,
          at: clock?.now() ?? 0,
          hashes: a.infoHashes.map(toHex),
          port: a.port,
          cookie: a.cookie,
        });
      },
      close: () => {
        closed++;
      },
    };
  };
  return {
    open,
    sent,
    handlers,
    setClock: (c: ManualClock) => {
      clock = c;
    },
    closed: () => closed,
    deliver: (d: Uint8Array, from = '10.77.1.20') => {
      for (const h of handlers) h.message(d, from);
    },
  };
}

async function service(options: Partial<LsdServiceOptions> = {}, net = fakeNet()) {
  const clock = new ManualClock(1_000_000);
  net.setClock(clock);
  let r = 0.5;
  const s = new LsdService({
    port: 6881,
    interfaces: { v4: ['10.77.1.10'], v6: [] },
    clock,
    random: () => r,
    cookie: 'c00c1e',
    open: net.open,
    repeatDelaysMs: [],
    ...options,
  });
  const warnings: NetError[] = [];
  const peers: LsdPeer[] = [];
  s.on('warning', (w) => warnings.push(w));
  s.on('peer', (p) => peers.push(p));
  await s.start();
  return { s, clock, net, warnings, peers, setRandom: (v: number) => (r = v) };
}

describe('LsdService', () => {
  it('announces a torrent within the start delay, then every 5 minutes ± 10 %', async () => {
    const { s, clock, net } = await service();
    s.add(hash(1));
    clock.advance(249);
    expect(net.sent).toEqual([]); // random 0.5 × 500 ms
    clock.advance(1);
    expect(net.sent).toEqual([
      { family: 4, at: 1_000_250, hashes: [toHex(hash(1))], port: 6881, cookie: 'c00c1e' },
    ]);
    clock.advance(5 * MIN - 1);
    expect(net.sent).toHaveLength(1);
    clock.advance(1);
    expect(net.sent).toHaveLength(2);
    // Jitter: with random() = 0 the next interval is 4.5 min, with 1 it is 5.5 min.
    s.close();
    const lo = await service({ random: () => 0 });
    lo.s.add(hash(1));
    lo.clock.advance(0);
    lo.clock.advance(4.5 * MIN);
    expect(lo.net.sent.map((x) => x.at - 1_000_000)).toEqual([0, 4.5 * MIN]);
    const hi = await service({ random: () => 0.999999 });
    hi.s.add(hash(1));
    hi.clock.advance(5.5 * MIN + 500);
    expect(hi.net.sent).toHaveLength(2);
    expect((hi.net.sent[1]?.at ?? 0) - (hi.net.sent[0]?.at ?? 0)).toBeGreaterThan(5.49 * MIN);
  });

  it('repeats a torrent’s first announce after 2 and 6 s (libtorrent’s), not the later ones', async () => {
    const { s, clock, net } = await service({ startDelayMs: 0, repeatDelaysMs: [2000, 6000] });
    s.add(hash(1));
    clock.advance(0);
    s.add(hash(2));
    clock.advance(1000);
    s.remove(hash(2)); // removed before its repeats: none
    clock.advance(10_000);
    const t0 = 1_000_000;
    expect(net.sent.map((x) => [x.at - t0, x.hashes.length])).toEqual([
      [0, 1],
      [0, 1],
      [2000, 1],
      [6000, 1],
    ]);
    expect(net.sent.map((x) => x.hashes[0])).toEqual([
      toHex(hash(1)),
      toHex(hash(2)),
      toHex(hash(1)),
      toHex(hash(1)),
    ]);
    clock.advance(5 * MIN);
    expect(net.sent).toHaveLength(5); // the periodic announce, once
    s.close();
    expect(clock.pending).toBe(0);
  });

  it('puts due torrents together, 25 to a datagram, and spends one token per datagram', async () => {
    const { s, clock, net } = await service({ startDelayMs: 0 });
    for (let i = 1; i <= 30; i++) s.add(hash(i));
    clock.advance(0);
    expect(net.sent.map((x) => x.hashes.length)).toEqual([25, 5]);
    expect(new Set(net.sent.flatMap((x) => x.hashes)).size).toBe(30);
  });

  it('never sends more than the burst and then one a minute, however many torrents come', async () => {
    const { s, clock, net } = await service({ startDelayMs: 0 });
    // A torrent every 5 s for 10 minutes: 120 torrents, each wanting an announce at once.
    for (let i = 1; i <= 120; i++) {
      s.add(hash(i));
      clock.advance(5000);
    }
    const times = net.sent.map((x) => x.at);
    expect(times.length).toBeLessThanOrEqual(3 + 10);
    expect(times.length).toBeGreaterThanOrEqual(3 + 9);
    // A token bucket: in any stretch of time t, at most 3 + t / 1 min datagrams.
    for (let i = 0; i < times.length; i++)
      for (let j = i; j < times.length; j++)
        expect(j - i + 1).toBeLessThanOrEqual(3 + ((times[j] ?? 0) - (times[i] ?? 0)) / MIN + 1e-6);
    // Past the burst, one a minute.
    expect((times[4] ?? 0) - (times[3] ?? 0)).toBeGreaterThanOrEqual(MIN - 1);
    // Every torrent was announced: the late ones ride along in shared datagrams.
    clock.advance(MIN);
    expect(new Set(net.sent.flatMap((x) => x.hashes)).size).toBe(120);
  });

  it('skips a torrent whose `active` says no, and stops with remove() and close()', async () => {
    const { s, clock, net } = await service({ startDelayMs: 0 });
    let active = false;
    s.add(hash(1), () => active);
    s.add(hash(2));
    clock.advance(0);
    expect(net.sent.map((x) => x.hashes)).toEqual([[toHex(hash(2))]]);
    active = true;
    clock.advance(5 * MIN);
    expect(net.sent.at(-1)?.hashes.sort()).toEqual([toHex(hash(1)), toHex(hash(2))].sort());
    s.remove(hash(2));
    expect(s.has(hash(2))).toBe(false);
    clock.advance(5 * MIN);
    expect(net.sent.at(-1)?.hashes).toEqual([toHex(hash(1))]);
    s.close();
    expect(net.closed()).toBe(1);
    expect(clock.pending).toBe(0);
    const before = net.sent.length;
    clock.advance(60 * MIN);
    expect(net.sent).toHaveLength(before);
  });

  it('reports peers at the datagram’s source address, ignores its own cookie', async () => {
    const { s, net, peers } = await service();
    net.deliver(
      encodeLsdAnnounce({ port: 51413, infoHashes: [hash(7), hash(8)], cookie: 'other' }),
      '10.77.1.20',
    );
    expect(peers).toEqual([
      { infoHash: toHex(hash(7)), host: '10.77.1.20', port: 51413 },
      { infoHash: toHex(hash(8)), host: '10.77.1.20', port: 51413 },
    ]);
    net.deliver(encodeLsdAnnounce({ port: 6881, infoHashes: [hash(7)], cookie: 'C00C1E' }), '10.77.1.10');
    net.deliver(encodeLsdAnnounce({ port: 6882, infoHashes: [hash(9)] }), '::ffff:10.77.1.30');
    expect(peers).toHaveLength(3);
    expect(peers[2]).toEqual({ infoHash: toHex(hash(9)), host: '10.77.1.30', port: 6882 });
    expect(s.stats).toEqual({ sent: 0, received: 3, malformed: 0, own: 1, peers: 3 });
  });

  it('refuses hostile datagrams: counted, one warning per 10 s, never thrown', async () => {
    const { s, clock, net, warnings, peers } = await service();
    const hostile = [
      new Uint8Array(0),
      new Uint8Array(4000).fill(0x41),
      Uint8Array.from([0xff, 0x00, 0x0d, 0x0a]),
      ascii('BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n\r\n'),
      ascii(`BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: ${'1'.repeat(40)}\r\n\r\n`),
      ascii(`BT-SEARCH * HTTP/1.1\r\nInfohash: ${'1'.repeat(40)}\r\n\r\n`),
      ascii('BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: xyz\r\n\r\n'),
    ];
    for (let round = 0; round < 100; round++) for (const d of hostile) net.deliver(d, '10.77.1.66');
    expect(s.stats.malformed).toBe(700);
    expect(peers).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.code).toBe('NET_LSD_MALFORMED');
    expect(warnings[0]?.message).toMatch(/from 10\.77\.1\.66/);
    clock.advance(10_000);
    net.deliver(hostile[0] as Uint8Array, '10.77.1.66');
    expect(warnings).toHaveLength(2);
    expect(warnings[1]?.message).toMatch(/699 more refused/);
    // Still working.
    net.deliver(encodeLsdAnnounce({ port: 6881, infoHashes: [hash(1)] }), '10.77.1.20');
    expect(peers).toHaveLength(1);
  });

  it('a socket that cannot open is a NET_LSD_SOCKET warning; the other family still runs', async () => {
    const net = fakeNet((f) => f === 6);
    const { s, clock, warnings } = await service(
      { interfaces: { v4: ['10.77.1.10'], v6: ['::%e0'] }, startDelayMs: 0 },
      net,
    );
    expect(warnings.map((w) => w.code)).toEqual(['NET_LSD_SOCKET']);
    expect(s.families).toEqual([4]);
    s.add(hash(1));
    clock.advance(0);
    expect(net.sent.map((x) => x.family)).toEqual([4]);
    // Both families: one datagram each per announce.
    const both = await service({ interfaces: { v4: ['10.77.1.10'], v6: ['::%e0'] }, startDelayMs: 0 });
    both.s.add(hash(1));
    both.clock.advance(0);
    expect(both.net.sent.map((x) => x.family)).toEqual([4, 6]);
    expect(both.s.stats.sent).toBe(2);
  });

  it('refuses options it cannot use with NET_LSD_BAD_OPTIONS', () => {
    const base = { port: 6881, interfaces: { v4: [], v6: [] } };
    for (const o of [
      { port: 0 },
      { port: 70000 },
      { announceIntervalMs: 0 },
      { minIntervalMs: Number.NaN },
      { burst: 0 },
      { ttl: 0 },
      { ttl: 256 },
      { jitter: 1 },
      { cookie: 'not ok' },
    ])
      expect(() => new LsdService({ ...base, ...o })).toThrow(
        expect.objectContaining({ code: 'NET_LSD_BAD_OPTIONS' }),
      );
    expect(() => new LsdService(base).add(new Uint8Array(5))).toThrow(
      expect.objectContaining({ code: 'NET_LSD_BAD_OPTIONS' }),
    );
  });
});
