/**
 * The client against trackers that misbehave on purpose (test/tracker/_hostile.ts): every case is
 * a typed error (or a typed warning from TrackerClient), never a crash or a hang, and the client
 * goes on with the next tracker.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnnounceRequest,
  httpAnnounce,
  httpScrape,
  TrackerClient,
  TrackerError,
  type TrackerWarning,
  udpAnnounce,
  udpScrape,
} from '../../src/tracker/index.js';
import { toHex } from '../../src/util/bytes.js';
import {
  type HostileHttp,
  type HostileUdp,
  startHostileHttp,
  startHostileUdp,
  type UdpMode,
} from './_hostile.js';

let http: HostileHttp;
const udp = new Map<string, HostileUdp>();
const udpUrl = (mode: UdpMode, host = '127.0.0.1') => udp.get(`${mode}@${host}`)?.url ?? 'udp://missing:1';

beforeAll(async () => {
  http = await startHostileHttp();
  const modes: UdpMode[] = [
    'ok',
    'silent',
    'wrong-tx',
    'wrong-action',
    'error',
    'truncated-peers',
    'short',
    'junk-then-ok',
  ];
  for (const m of modes) udp.set(`${m}@127.0.0.1`, await startHostileUdp(m));
  udp.set('ok@::1', await startHostileUdp('ok', '::1'));
});
afterAll(async () => {
  await http?.close();
  for (const u of udp.values()) await u.close();
});

const ih = randomBytes(20);
const req: AnnounceRequest = {
  infoHash: ih,
  peerId: randomBytes(20),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 1,
};
const fast = { timeoutMs: 3000, udp: { retransmitBaseMs: 50, maxRetransmits: 2 } };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    expect(err).toBeInstanceOf(TrackerError);
    return (err as TrackerError).code;
  }
}

describe('HTTP: hostile answers are typed errors', () => {
  it.each([
    ['garbage', 'TRACKER_BAD_RESPONSE'],
    ['notdict', 'TRACKER_BAD_RESPONSE'],
    ['badtype', 'TRACKER_BAD_RESPONSE'],
    ['truncated', 'TRACKER_BAD_PEERS'],
    ['truncated6', 'TRACKER_BAD_PEERS'],
    ['failure', 'TRACKER_FAILURE'],
    ['status', 'TRACKER_HTTP_STATUS'],
    ['status-failure', 'TRACKER_FAILURE'],
    ['loop/a', 'TRACKER_TOO_MANY_REDIRECTS'],
    ['chain/9', 'TRACKER_TOO_MANY_REDIRECTS'],
    ['scheme', 'TRACKER_TOO_MANY_REDIRECTS'],
    ['huge-declared', 'TRACKER_BODY_TOO_LARGE'],
  ])('%s → %s', async (path, expected) => {
    expect(await code(httpAnnounce(`${http.base}/${path}/announce`, req, fast))).toBe(expected);
  });

  it('a failure reason is sanitised and kept in details', async () => {
    const err = await httpAnnounce(`${http.base}/failure/announce`, req, fast).catch((e: unknown) => e);
    expect((err as TrackerError).details.reason).toBe('torrent not registered  ');
  });

  it('a 50 MB body is not buffered: reading stops at the cap and the socket is closed', async () => {
    const before = http.hugeWritten();
    expect(
      await code(
        httpAnnounce(`${http.base}/huge/announce`, req, { ...fast, http: { maxBodyBytes: 1 << 20 } }),
      ),
    ).toBe('TRACKER_BODY_TOO_LARGE');
    await new Promise((r) => setTimeout(r, 200));
    const written = http.hugeWritten() - before;
    // What the server could hand to the socket: the cap plus the kernel's loopback buffers.
    expect(written).toBeLessThan(20 * 1024 * 1024);
  });

  it('a never-ending response and a tracker that never answers time out', async () => {
    const t0 = performance.now();
    expect(await code(httpAnnounce(`${http.base}/endless/announce`, req, { timeoutMs: 400 }))).toBe(
      'TRACKER_TIMEOUT',
    );
    expect(await code(httpAnnounce(`${http.base}/hang/announce`, req, { timeoutMs: 400 }))).toBe(
      'TRACKER_TIMEOUT',
    );
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('an AbortSignal aborts with ABORTED', async () => {
    const ctl = new AbortController();
    const p = httpAnnounce(`${http.base}/hang/announce`, req, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('a short redirect chain is followed; odd but valid answers are parsed', async () => {
    const r = await httpAnnounce(`${http.base}/chain/2/announce`, req, fast);
    expect(r.peers).toEqual([{ host: '10.0.0.1', port: 6881 }]);
    expect(r.droppedPeers).toBe(2);
    expect(r).toMatchObject({ interval: 900, minInterval: 60, complete: 1, incomplete: 2 });

    const w = await httpAnnounce(`${http.base}/warning/announce`, req, fast);
    expect(w.warning).toBe('be nice');
    expect(Buffer.from(w.trackerId ?? []).toString()).toBe('T1');

    const six = await httpAnnounce(`${http.base}/peers6/announce`, req, fast);
    expect(six.peers).toEqual([
      { host: '10.0.0.1', port: 6881 },
      { host: '::1', port: 7001 },
      { host: '2001:db8::1:0:0:1', port: 7002 },
    ]);

    const dict = await httpAnnounce(`${http.base}/dict/announce`, req, fast);
    expect(dict.peers).toEqual([
      { host: '10.1.2.3', port: 51413 },
      { host: '2001:db8::7', port: 6881 },
    ]);
    expect(dict.droppedPeers).toBe(4);

    const s = await httpScrape(`${http.base}/ok/announce`, [ih], fast);
    expect(s.files.get(toHex(ih))).toEqual({ complete: 3, incomplete: 4, downloaded: 5 });
    expect(await code(httpScrape(`${http.base}/ok/tracker`, [ih], fast))).toBe('TRACKER_SCRAPE_UNSUPPORTED');
  });
});

describe('UDP: hostile answers are typed errors', () => {
  it('a tracker that never answers: retransmissions after base·2ⁿ, then TRACKER_UDP_NO_REPLY', async () => {
    const silent = udp.get('silent@127.0.0.1');
    const start = silent?.received.length ?? 0;
    const t0 = performance.now();
    const err = await udpAnnounce(udpUrl('silent'), req, {
      udp: { retransmitBaseMs: 60, maxRetransmits: 3 },
    }).catch((e: unknown) => e);
    const elapsed = performance.now() - t0;
    expect(err).toMatchObject({ code: 'TRACKER_UDP_NO_REPLY' });
    const times = silent?.received.slice(start) ?? [];
    expect(times.length).toBe(4); // the first connect and 3 retransmissions
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    gaps.forEach((g, n) => {
      expect(g).toBeGreaterThanOrEqual(60 * 2 ** n * 0.8);
      expect(g).toBeLessThan(60 * 2 ** n + 250);
    });
    expect(elapsed).toBeGreaterThanOrEqual(60 * 15 * 0.8); // 60 + 120 + 240 + 480
    expect(elapsed).toBeLessThan(2500);
  });

  it('replies with a wrong transaction id are ignored (and counted) until the client gives up', async () => {
    const err = (await udpAnnounce(udpUrl('wrong-tx'), req, fast).catch((e: unknown) => e)) as TrackerError;
    expect(err.code).toBe('TRACKER_UDP_NO_REPLY');
    expect(err.details.ignoredReplies).toBe(3);
  });

  it.each([
    ['wrong-action', 'TRACKER_BAD_RESPONSE'],
    ['error', 'TRACKER_FAILURE'],
    ['truncated-peers', 'TRACKER_BAD_PEERS'],
    ['short', 'TRACKER_BAD_RESPONSE'],
  ] as const)('%s → %s', async (mode, expected) => {
    expect(await code(udpAnnounce(udpUrl(mode), req, fast))).toBe(expected);
  });

  it('junk and stray datagrams before the real reply are ignored', async () => {
    const r = await udpAnnounce(udpUrl('junk-then-ok'), req, fast);
    expect(r.peers).toEqual([{ host: '10.0.0.1', port: 6881 }]);
    expect(r).toMatchObject({ interval: 120, incomplete: 2, complete: 1 });
  });

  it('over IPv6 the peers are 18-byte entries; scrape works', async () => {
    const r = await udpAnnounce(udpUrl('ok', '::1'), req, fast);
    expect(r.peers).toEqual([
      { host: '::1', port: 7101 },
      { host: '2001:db8::2', port: 7102 },
    ]);
    const s = await udpScrape(udpUrl('ok', '::1'), [ih, randomBytes(20)], fast);
    expect(s.files.get(toHex(ih))).toEqual({ complete: 5, downloaded: 6, incomplete: 7 });
    expect(s.files.size).toBe(2);
  });

  it('a timeout shorter than the schedule wins, and an abort is ABORTED', async () => {
    expect(await code(udpAnnounce(udpUrl('silent'), req, { timeoutMs: 100 }))).toBe('TRACKER_TIMEOUT');
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 30);
    await expect(udpAnnounce(udpUrl('silent'), req, { signal: ctl.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });
});

describe('TrackerClient walks past every hostile tracker in the tier', () => {
  it('each failure is a typed warning, then the working tracker answers and is promoted', async () => {
    const hostile = [
      `${http.base}/garbage/announce`,
      `${http.base}/huge/announce`,
      `${http.base}/truncated/announce`,
      `${http.base}/endless/announce`,
      `${http.base}/status/announce`,
      `${http.base}/loop/a/announce`,
      udpUrl('wrong-tx'),
      udpUrl('silent'),
      'wss://tracker.example/announce',
    ];
    const ok = `${http.base}/ok/announce`;
    const client = new TrackerClient({
      infoHash: ih,
      peerId: randomBytes(20),
      port: 6881,
      announce: [[...hostile, ok]],
      stats: () => ({ uploaded: 0, downloaded: 0, left: 10 }),
      random: () => 0.999, // keeps the listed order
      timeoutMs: 600,
      udp: { retransmitBaseMs: 50, maxRetransmits: 2 },
    });
    const warnings: TrackerWarning[] = [];
    client.on('warning', (w) => warnings.push(w));
    const peers = new Promise<unknown>((r) => client.once('peers', r));
    client.start();
    expect(await peers).toEqual([{ host: '10.0.0.1', port: 6881 }]);
    expect(warnings.map((w) => [w.url, w.error.code])).toEqual([
      ['wss://tracker.example/announce', 'TRACKER_BAD_URL'],
      [hostile[0], 'TRACKER_BAD_RESPONSE'],
      [hostile[1], 'TRACKER_BODY_TOO_LARGE'],
      [hostile[2], 'TRACKER_BAD_PEERS'],
      [hostile[3], 'TRACKER_TIMEOUT'],
      [hostile[4], 'TRACKER_HTTP_STATUS'],
      [hostile[5], 'TRACKER_TOO_MANY_REDIRECTS'],
      [hostile[6], 'TRACKER_UDP_NO_REPLY'],
      [hostile[7], 'TRACKER_UDP_NO_REPLY'],
    ]);
    expect(warnings.every((w) => w.error instanceof TrackerError)).toBe(true);
    expect(client.tiers[0]?.[0]).toBe(ok);
    const before = warnings.length;
    const scraped = await client.scrape();
    expect(scraped).toMatchObject({ url: ok, complete: 3, incomplete: 4, downloaded: 5 });
    expect(warnings.length).toBe(before); // the promoted tracker is asked first
    client.destroy();
  });
});
