/**
 * A request cancelled and asked again: the late answer to the cancelled one must not take the
 * new one's place (bittorrent-protocol matches answers by index/offset/length), or the new one
 * is never answered and the requester waits for its timeout — what a throttled seeder did in
 * endgame after a web seed's bad piece was downloaded again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RespondFn, WireTorrent } from '../../src/wire/index.js';
import { StaleAnswers } from '../../src/wire/stale-answers.js';
import { next, until, wirePair } from './helpers.js';

const torrent: WireTorrent = { pieceLength: 32 * 1024, pieceCount: 10, length: 9 * 32 * 1024 + 1000 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('answers to cancelled requests', () => {
  it('a late answer to a cancelled request does not swallow the new request for the block', async () => {
    const { a, b, done } = await wirePair('memory', { torrent }, { torrent });
    cleanups.push(done);
    const pending: RespondFn[] = [];
    b.on('request', (_r, respond) => pending.push(respond));
    const un = next(a, 'unchoke');
    b.unchoke();
    await un;
    const first = new Promise<unknown>((r) => a.request(2, 0, 16384, (e) => r(e)));
    await until(() => pending.length === 1, 5000, 'the first request at b');
    const cancelled = next(b, 'cancel');
    a.cancel(2, 0, 16384);
    await first;
    await cancelled;
    const second = new Promise<Uint8Array | undefined>((resolve, reject) =>
      a.request(2, 0, 16384, (e, block) => (e ? reject(e) : resolve(block ?? undefined))),
    );
    await until(() => pending.length === 2, 5000, 'the second request at b');
    const block = new Uint8Array(16384).fill(9);
    // The late answer to the cancelled request first, then the answer to the live one.
    (pending[0] as RespondFn)(block);
    (pending[1] as RespondFn)(block);
    const got = await Promise.race([
      second,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref()),
    ]);
    expect(got?.length).toBe(16384);
    expect(b.peerRequests).toBe(0);
    expect(a.outstandingRequests).toBe(0);
  });

  it('StaleAnswers: only requests received before the cancel are stale; entries are forgotten', () => {
    const s = new StaleAnswers();
    const r1 = s.received(1, 0, 16384);
    s.cancelled(1, 0, 16384);
    const r2 = s.received(1, 0, 16384);
    expect(s.isStale(1, 0, 16384, r1)).toBe(true);
    expect(s.isStale(1, 0, 16384, r2)).toBe(false);
    // Forgotten: a new request starts afresh and a cancel of an answered block changes nothing.
    s.cancelled(1, 0, 16384);
    const r3 = s.received(1, 0, 16384);
    expect(s.isStale(1, 0, 16384, r3)).toBe(false);
    expect(s.isStale(2, 0, 16384, s.received(2, 0, 16384))).toBe(false);
  });
});
