/**
 * The tracker client against Debian's opentracker on 127.0.0.1, over HTTP and UDP: announce,
 * re-announce through the clock, scrape, compact peers, and `stopped` removing us.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnnounceInfo,
  type AnnounceRequest,
  announce,
  httpAnnounce,
  scrape,
  TrackerClient,
  type TrackerWarning,
  UdpConnectionCache,
  udpAnnounce,
} from '../../src/tracker/index.js';
import { toHex } from '../../src/util/bytes.js';
import { ManualClock } from '../../src/util/clock.js';
import { type Opentracker, startOpentracker } from '../helpers/opentracker.js';

const ihHttp = randomBytes(20);
const ihUdp = randomBytes(20);
const ihClient = randomBytes(20);
let ot: Opentracker;

beforeAll(async () => {
  ot = await startOpentracker([ihHttp, ihUdp, ihClient]);
});
afterAll(() => ot?.stop());

function req(infoHash: Uint8Array, port: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest {
  return {
    infoHash,
    peerId: randomBytes(20),
    port,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    ...extra,
  };
}

const hasPeer = (peers: readonly { host: string; port: number }[], port: number) =>
  peers.some((p) => p.host === '127.0.0.1' && p.port === port);

describe.each([
  ['http', () => ot.http, ihHttp],
  ['udp', () => ot.udp, ihUdp],
] as const)('opentracker over %s', (kind, url, ih) => {
  it('announce returns compact peers; scrape counts them; stopped removes us', async () => {
    const opts = { timeoutMs: 5000, udp: { retransmitBaseMs: 500, maxRetransmits: 3 } };
    const seed = req(ih, 40001, { left: 0, event: 'started' });
    const first = await announce(url(), seed, opts);
    expect(first.interval).toBeGreaterThan(0);

    const leech = req(ih, 40002, { event: 'started', numwant: 50 });
    const second = await announce(url(), leech, opts);
    expect(hasPeer(second.peers, 40001)).toBe(true);
    expect(second.complete).toBe(1);
    expect(second.incomplete).toBe(1);

    const s = await scrape(url(), [ih], opts);
    expect(s.files.get(toHex(ih))).toMatchObject({ complete: 1, incomplete: 1 });

    await announce(url(), { ...seed, event: 'stopped', numwant: 0 }, opts);
    const after = await announce(url(), { ...leech, event: undefined }, opts);
    expect(hasPeer(after.peers, 40001)).toBe(false);
    expect(after.complete).toBe(0);
    const s2 = await scrape(url(), [ih], opts);
    expect(s2.files.get(toHex(ih))?.complete).toBe(0);
    void kind;
  });
});

describe('low-level details', () => {
  it('HTTP announce sends key and the BEP 23 compact form; an unknown hash is refused (whitelist)', async () => {
    const r = await httpAnnounce(ot.http, req(ihHttp, 40010, { key: 0xdeadbeef }), { timeoutMs: 5000 });
    expect(Array.isArray(r.peers)).toBe(true);
    await expect(
      httpAnnounce(ot.http, req(randomBytes(20), 40011), { timeoutMs: 5000 }),
    ).rejects.toMatchObject({ code: 'TRACKER_FAILURE' });
  });

  it('UDP reuses a connection id within a minute', async () => {
    const connections = new UdpConnectionCache();
    const opts = { timeoutMs: 5000, udp: { connections, retransmitBaseMs: 500, maxRetransmits: 3 } };
    await udpAnnounce(ot.udp, req(ihUdp, 40020), opts);
    const key = `127.0.0.1|${ot.port}`;
    const id = connections.get(key, performance.now());
    expect(id?.length).toBe(8);
    await udpAnnounce(ot.udp, req(ihUdp, 40021), opts);
    expect(connections.get(key, performance.now())).toBe(id);
  });
});

describe('TrackerClient against opentracker', () => {
  it('started, re-announce on the interval via the clock, completed, stopped; a second client sees us until then', async () => {
    const clock = new ManualClock();
    const stats = { uploaded: 0, downloaded: 0, left: 5000 };
    // A dead UDP tracker first in tier 0 (nothing listens there): the client moves on to opentracker.
    const a = new TrackerClient({
      infoHash: ihClient,
      peerId: randomBytes(20),
      port: 41001,
      announce: [[`udp://127.0.0.1:9`], [ot.http, ot.udp]],
      stats: () => stats,
      clock,
      random: () => 0.99,
      timeoutMs: 5000,
      udp: { retransmitBaseMs: 200, maxRetransmits: 1 },
    });
    const announces: AnnounceInfo[] = [];
    const warnings: TrackerWarning[] = [];
    a.on('announce', (i) => announces.push(i));
    a.on('warning', (w) => warnings.push(w));
    const next = () => new Promise<AnnounceInfo>((r) => a.once('announce', r));

    let got = next();
    a.start();
    // The dead tracker's retransmission timer runs on the manual clock: drive it.
    const driver = setInterval(() => clock.advance(200), 20);
    try {
      const first = await got;
      expect(first.event).toBe('started');
      expect(first.tier).toBe(1);
      expect(warnings[0]?.url).toBe('udp://127.0.0.1:9');
      expect(['TRACKER_UDP_NO_REPLY', 'TRACKER_NETWORK']).toContain(warnings[0]?.error.code);
    } finally {
      clearInterval(driver);
    }
    const winner = announces[0]?.url;
    expect(a.tiers[1]?.[0]).toBe(winner);
    const due = a.nextAnnounceAt;
    expect(due).toBeDefined();

    const b = new TrackerClient({
      infoHash: ihClient,
      peerId: randomBytes(20),
      port: 41002,
      announce: [[ot.udp]],
      stats: () => ({ uploaded: 0, downloaded: 0, left: 5000 }),
      clock,
      timeoutMs: 5000,
    });
    const bPeers: { host: string; port: number }[][] = [];
    b.on('peers', (p) => bPeers.push(p));
    const bFirst = new Promise<AnnounceInfo>((r) => b.once('announce', r));
    b.start();
    await bFirst;
    expect(hasPeer(bPeers.flat(), 41001)).toBe(true);

    // Re-announce when the interval elapses on the clock (no event), to the promoted tracker.
    got = next();
    clock.advance((due ?? 0) - clock.now());
    const re = await got;
    expect(re.event).toBeUndefined();
    expect(re.url).toBe(winner);

    stats.left = 0;
    got = next();
    await a.complete();
    expect((await got).event).toBe('completed');

    await a.stop();
    expect(a.running).toBe(false);
    const bAgain = new Promise<AnnounceInfo>((r) => b.once('announce', r));
    await b.announce();
    const info = await bAgain;
    expect(hasPeer(info.response.peers, 41001)).toBe(false);
    await b.stop();
    expect(clock.pending).toBe(0);
  });
});
