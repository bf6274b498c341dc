/**
 * BEP 12 tier logic and the TrackerClient schedule, with an injected random source, the
 * ManualClock and a scripted Announcer (the client's own pluggable interface: no network here;
 * the network paths are covered against opentracker, bittorrent-tracker and the hostile server).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AnnounceEvent,
  type AnnounceRequest,
  type AnnounceResponse,
  type Announcer,
  type ScrapeResponse,
  TrackerClient,
  type TrackerClientOptions,
  TrackerError,
  TrackerTiers,
  type TrackerWarning,
} from '../../src/tracker/index.js';
import { ManualClock } from '../../src/util/clock.js';

/** Scripted answers per URL: a response, or an error to throw. */
type Script = Record<string, (req: AnnounceRequest) => Partial<AnnounceResponse> | TrackerError>;

class ScriptedAnnouncer implements Announcer {
  calls: { url: string; event: AnnounceEvent | undefined; trackerId?: string; numwant?: number }[] = [];
  constructor(public script: Script) {}
  async announce(url: string, req: AnnounceRequest): Promise<AnnounceResponse> {
    url = host(url);
    this.calls.push({
      url,
      event: req.event,
      ...(req.trackerId ? { trackerId: Buffer.from(req.trackerId).toString() } : {}),
      ...(req.numwant === undefined ? {} : { numwant: req.numwant }),
    });
    const f = this.script[url];
    const r = f ? f(req) : new TrackerError('TRACKER_NETWORK', 'unreachable');
    if (r instanceof TrackerError) throw r;
    return { interval: 1800, peers: [], droppedPeers: 0, ...r };
  }
  async scrape(url: string): Promise<ScrapeResponse> {
    const f = this.script[host(url)];
    if (!f) throw new TrackerError('TRACKER_NETWORK', 'unreachable');
    return { files: new Map([['x', { complete: 1, incomplete: 2, downloaded: 3 }]]) };
  }
}

/** Tracker names in tests are the host of `http://<name>/announce`. */
function host(url: string): string;
function host(url: string | undefined): string | undefined;
function host(url: string | undefined): string | undefined {
  return url === undefined ? undefined : new URL(url).hostname;
}
const short = (tiers: string[][]) => tiers.map((t) => t.map((u) => host(u)));
const ok =
  (extra: Partial<AnnounceResponse> = {}) =>
  () =>
    extra;
const fail = () => () => new TrackerError('TRACKER_NETWORK', 'down');
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function make(announce: string[][], script: Script, extra: Partial<TrackerClientOptions> = {}) {
  const clock = new ManualClock();
  const announcer = new ScriptedAnnouncer(script);
  const client = new TrackerClient({
    infoHash: randomBytes(20),
    peerId: randomBytes(20),
    port: 6881,
    announce: announce.map((t) => t.map((n) => `http://${n}/announce`)),
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
    clock,
    random: () => 0.999, // identity shuffle: the listed order
    announcer,
    ...extra,
  });
  const warnings: TrackerWarning[] = [];
  client.on('warning', (w) => warnings.push(w));
  return { clock, announcer, client, warnings };
}

describe('TrackerTiers', () => {
  it('shuffles each tier with the injected random source (Fisher–Yates)', () => {
    // random() = 0 swaps position i with 0: [a,b,c] → [c,b,a] → [b,c,a].
    expect(
      new TrackerTiers(
        [
          ['a', 'b', 'c'],
          ['d', 'e'],
        ],
        () => 0,
      ).tiers,
    ).toEqual([
      ['b', 'c', 'a'],
      ['e', 'd'],
    ]);
    expect(new TrackerTiers([['a', 'b', 'c']], () => 0.999).tiers).toEqual([['a', 'b', 'c']]);
    const seq = [0.5, 0.1];
    expect(new TrackerTiers([['a', 'b', 'c']], () => seq.shift() ?? 0).tiers).toEqual([['c', 'a', 'b']]);
  });

  it('drops duplicates (first place wins) and empty tiers; promotes within the tier only', () => {
    const t = new TrackerTiers([['a', 'b', 'a'], [], ['b', 'c', 'd']], () => 0.999);
    expect(t.tiers).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(t.size).toBe(4);
    t.promote('d');
    t.promote('unknown');
    expect(t.tiers).toEqual([
      ['a', 'b'],
      ['d', 'c'],
    ]);
    expect(t.entries().map((e) => `${e.tier}:${e.url}`)).toEqual(['0:a', '0:b', '1:d', '1:c']);
  });
});

describe('TrackerClient (BEP 12 rounds and the schedule)', () => {
  it('falls through a tier whose trackers all fail, and promotes the one that answered', async () => {
    const { announcer, client, warnings } = make(
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      { a: fail(), d: ok(), b: fail() },
    );
    const got: string[] = [];
    client.on('announce', (i) => got.push(`${i.tier}:${host(i.url)}:${i.event}`));
    client.start();
    await flush();
    expect(announcer.calls.map((c) => c.url)).toEqual(['a', 'b', 'c', 'd']);
    expect(warnings.map((w) => `${w.tier}:${host(w.url)}:${w.error.code}`)).toEqual([
      '0:a:TRACKER_NETWORK',
      '0:b:TRACKER_NETWORK',
      '1:c:TRACKER_NETWORK',
    ]);
    expect(got).toEqual(['1:d:started']);
    expect(short(client.tiers)).toEqual([
      ['a', 'b'],
      ['d', 'c'],
    ]);
    client.destroy();
  });

  it('a tier-1 tracker that recovers is asked first next round; a new tracker gets started', async () => {
    const script: Script = { a: fail(), b: ok({ interval: 100 }) };
    const { clock, announcer, client } = make([['a', 'b']], script);
    client.start();
    await flush();
    expect(short(client.tiers)).toEqual([['b', 'a']]);
    expect(client.nextAnnounceAt).toBe(100_000);
    announcer.calls = [];
    clock.advance(100_000);
    await flush();
    expect(announcer.calls).toEqual([{ url: 'b', event: undefined, numwant: 50 }]);
    // b goes down: a answers, and hears `started` (it never did), then b is behind a.
    script.b = fail();
    script.a = ok({ interval: 100 });
    announcer.calls = [];
    clock.advance(100_000);
    await flush();
    expect(announcer.calls.map((c) => `${c.url}:${c.event}`)).toEqual(['b:undefined', 'a:started']);
    expect(short(client.tiers)).toEqual([['a', 'b']]);
    client.destroy();
  });

  it('clamps the interval (floor, tracker min interval, ceiling)', async () => {
    const script: Script = { a: ok({ interval: 0 }) };
    const { clock, client } = make([['a']], script, { minIntervalMs: 30_000, maxIntervalMs: 3_600_000 });
    client.start();
    await flush();
    expect(client.nextAnnounceAt).toBe(30_000);
    script.a = ok({ interval: 10, minInterval: 45 });
    clock.advance(30_000);
    await flush();
    expect(client.nextAnnounceAt).toBe(30_000 + 45_000);
    script.a = ok({ interval: 2 ** 31 - 1 });
    clock.advance(45_000);
    await flush();
    expect(client.nextAnnounceAt).toBe(75_000 + 3_600_000);
    client.destroy();
    expect(clock.pending).toBe(0);
  });

  it('when every tracker fails: TRACKER_ALL_FAILED and a doubling, capped retry', async () => {
    const { clock, announcer, client, warnings } = make(
      [['a'], ['b']],
      {},
      { retryBaseMs: 1000, retryMaxMs: 5000 },
    );
    client.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const at = client.nextAnnounceAt ?? -1;
      delays.push(at - clock.now());
      clock.advance(at - clock.now());
      await flush();
    }
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(announcer.calls.length).toBe(12);
    expect(warnings.filter((w) => w.error.code === 'TRACKER_ALL_FAILED').length).toBe(6);
    expect(warnings.find((w) => w.error.code === 'TRACKER_ALL_FAILED')?.url).toBeUndefined();
    client.destroy();
  });

  it('completed once, tracker id echoed, warning message surfaced, peers emitted', async () => {
    const script: Script = {
      a: ok({
        interval: 60,
        trackerId: Buffer.from('tid'),
        warning: 'slow down',
        peers: [{ host: '10.0.0.9', port: 1 }],
      }),
    };
    const { announcer, client, warnings } = make([['a']], script);
    const peers: unknown[] = [];
    client.on('peers', (p, src) => peers.push([p, src]));
    client.start();
    await flush();
    expect(peers).toEqual([[[{ host: '10.0.0.9', port: 1 }], { url: 'http://a/announce', tier: 0 }]]);
    expect(warnings.map((w) => w.error.code)).toEqual(['TRACKER_WARNING']);
    await client.complete();
    await client.complete();
    expect(announcer.calls.slice(1)).toEqual([
      { url: 'a', event: 'completed', trackerId: 'tid', numwant: 50 },
    ]);
    client.destroy();
  });

  it('announce() waits for the tracker min interval; stop() sends stopped to every tracker that saw started', async () => {
    const script: Script = { a: ok({ interval: 600, minInterval: 120 }), b: fail() };
    const { clock, announcer, client } = make([['a'], ['b']], script);
    client.start();
    await flush();
    clock.advance(10_000);
    await client.announce();
    expect(announcer.calls.length).toBe(1);
    expect(client.nextAnnounceAt).toBe(120_000);
    clock.advance(110_000);
    await flush();
    expect(announcer.calls.length).toBe(2);
    // a fails, b answers: both got `started`, both get `stopped`.
    script.a = fail();
    script.b = ok({ interval: 600 });
    clock.advance(600_000);
    await flush();
    announcer.calls = [];
    await client.stop();
    expect(announcer.calls.map((c) => `${c.url}:${c.event}:${c.numwant}`).sort()).toEqual([
      'a:stopped:0',
      'b:stopped:0',
    ]);
    expect(client.running).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('scrape walks the tiers; all failing is TRACKER_ALL_FAILED', async () => {
    const { client, warnings } = make([['a'], ['b']], { b: ok() });
    await expect(client.scrape()).resolves.toMatchObject({ url: 'http://b/announce', tier: 1, complete: 1 });
    expect(warnings.map((w) => host(w.url))).toEqual(['a']);
    const none = make([['a']], {});
    await expect(none.client.scrape()).rejects.toMatchObject({ code: 'TRACKER_ALL_FAILED' });
  });

  it('a signal on announce() stops the waiting only; the round goes on', async () => {
    const { announcer, client } = make([['a']], { a: ok({ interval: 60 }) });
    client.start();
    const ctl = new AbortController();
    ctl.abort();
    await expect(client.announce({ signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    await flush();
    expect(announcer.calls.length).toBe(2);
    client.destroy();
  });

  it('refuses bad construction arguments', () => {
    const base = {
      peerId: randomBytes(20),
      port: 1,
      announce: [],
      stats: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
    };
    expect(() => new TrackerClient({ ...base, infoHash: new Uint8Array(19) })).toThrow(/20 bytes/);
    expect(() => new TrackerClient({ ...base, infoHash: randomBytes(20), port: 0 })).toThrow(/port/);
  });
});
