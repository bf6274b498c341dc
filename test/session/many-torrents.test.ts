/**
 * Many torrents in one client: one bound on open files over every store (`maxOpenFiles`,
 * counted in /proc/self/fd), intervals of one period sharing a timer, spread announces.
 */
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { AnnounceGate, TimerGroup } from '../../src/session/timer-group.js';
import { ManualClock } from '../../src/util/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-many-');
afterAll(tmp.cleanup);

/** Open descriptors of files under the test's folder (the torrents' data). */
function dataFds(root: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Seeds 50 torrents of 4 files each under `maxOpenFiles`; returns the most fds seen open above the start. */
async function peakFds(maxOpenFiles: number, tag: string): Promise<number> {
  const torrents: Uint8Array[] = [];
  const root = join(tmp.path, tag);
  for (let i = 0; i < 50; i++) {
    const dir = join(root, `t${i}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 4; f++)
      writeFileSync(join(dir, `f${f}.bin`), pseudoRandomBytes(40_000, i * 4 + f + 1));
    torrents.push((await createTorrent(dir, { pieceLength: 16384 })).torrent);
  }
  const openFds = () => dataFds(root);
  const base = openFds();
  let peak = 0;
  const c = new Client({ utp: false, settings: { lsd: false, portMapping: false, maxOpenFiles } });
  const sampler = setInterval(() => {
    peak = Math.max(peak, openFds() - base);
  }, 1);
  try {
    const all: Torrent[] = torrents.map((t) => c.add(t, { path: root }));
    await Promise.all(
      all.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('not ready in 20 s')), 20_000);
            t.once('ready', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    for (const t of all) expect(t.state).toBe('seeding');
    peak = Math.max(peak, openFds() - base);
    // Serving reads of every torrent goes through the same bound.
    for (const t of all) await t.store?.get(0, 0, 16384);
    peak = Math.max(peak, openFds() - base);
  } finally {
    clearInterval(sampler);
    await c.destroy();
  }
  return peak;
}

describe('a client-wide bound on open files', () => {
  it('50 torrents × 4 files under maxOpenFiles 8: never more than the bound + a few', async () => {
    // Over the bound: only second files of pieces straddling two files, opened by a caller that
    // holds the first (it may not wait for room: see FdCache) — at most one per pinned first.
    const peak = await peakFds(8, 'small');
    expect(peak).toBeLessThanOrEqual(8 + 8);
    expect(peak).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('the bound is what holds them: with 400 allowed, far more stay open', async () => {
    expect(await peakFds(400, 'large')).toBeGreaterThan(100);
  }, 60_000);
});

describe('TimerGroup: intervals of one period share one timer', () => {
  it('calls every member each period, never before its first period, and stops when all are cancelled', () => {
    const clock = new ManualClock(0);
    const g = new TimerGroup(clock);
    const calls: string[] = [];
    const a = g.setInterval(() => calls.push(`a${clock.now()}`), 1000);
    clock.advance(400);
    const b = g.setInterval(() => calls.push(`b${clock.now()}`), 1000);
    const c = g.setInterval(() => calls.push(`c${clock.now()}`), 10_000);
    expect(g.timers).toBe(2);
    clock.advance(600); // t = 1000: a due; b joined at 400 — not before 1400
    expect(calls).toEqual(['a1000']);
    clock.advance(1000); // t = 2000
    expect(calls).toEqual(['a1000', 'a2000', 'b2000']);
    clock.advance(8000); // t = 10,000: c (and its 10 s timer) began at 400
    expect(calls.filter((x) => x.startsWith('c'))).toEqual([]);
    clock.advance(10_000);
    expect(calls.filter((x) => x.startsWith('c'))).toEqual(['c10400']);
    expect(calls.filter((x) => x.startsWith('a')).length).toBe(20);
    a.cancel();
    b.cancel();
    b.cancel();
    expect(g.timers).toBe(1);
    c.cancel();
    expect(g.timers).toBe(0);
    const before = calls.length;
    clock.advance(30_000);
    expect(calls.length).toBe(before);
  });

  it('1,000 torrents in a client on the wall clock add no timers of their own', async () => {
    const c = new Client({ utp: false, settings: { lsd: false, portMapping: false } });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    try {
      for (let i = 0; i < 1000; i++) {
        const info = new Uint8Array(20);
        info[0] = i >> 8;
        info[1] = i & 0xff;
        info[19] = 1;
        c.add(Buffer.from(info).toString('hex'));
      }
      expect(timers() - before).toBeLessThanOrEqual(4);
    } finally {
      await c.destroy();
    }
  });
});

describe('announces of many torrents are spread', () => {
  it('60 torrents added at once, 20 a second: a third announce in the first second, all within 4 s', async () => {
    const times: number[] = [];
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/announce')) times.push(performance.now());
      res.end('d8:intervali1800e5:peers0:e');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const c = new Client({
      utp: false,
      settings: { lsd: false, portMapping: false, maxAnnouncesPerSecond: 20 },
    });
    try {
      await c.listen(0, '127.0.0.1');
      const t0 = performance.now();
      for (let i = 0; i < 60; i++) {
        const hex = (i + 1).toString(16).padStart(40, '0');
        c.add(`magnet:?xt=urn:btih:${hex}&tr=${encodeURIComponent(`http://127.0.0.1:${port}/announce`)}`);
      }
      for (let i = 0; i < 100 && times.length < 60; i++) await new Promise((r) => setTimeout(r, 50));
      expect(times.length).toBe(60);
      const inFirst = times.filter((t) => t - t0 < 900).length;
      expect(inFirst).toBeGreaterThan(0);
      expect(inFirst).toBeLessThanOrEqual(20);
      expect(Math.max(...times) - t0).toBeGreaterThan(1500); // spread over seconds, not at t = 0
    } finally {
      await c.destroy();
      server.close();
    }
  }, 20_000);
});

describe('AnnounceGate', () => {
  it('lets at most n torrents a second start announcing', () => {
    const clock = new ManualClock(0);
    const gate = new AnnounceGate(clock, 3);
    const take = () => [0, 1, 2, 3, 4].map(() => gate.take()).filter(Boolean).length;
    expect(take()).toBe(3);
    clock.advance(999);
    expect(take()).toBe(0);
    clock.advance(1);
    expect(take()).toBe(3);
    expect(new AnnounceGate(clock, 0).take()).toBe(true); // 0: no limit
  });
});
