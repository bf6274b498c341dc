/**
 * Late answers: a request cancelled (or rejected by a choke) and asked again — the late answer
 * to the old one must not take the new one's place (bittorrent-protocol matches answers by
 * index/offset/length), or the new one is never answered and the requester waits for its
 * timeout — what a throttled seeder did in endgame after a web seed's bad piece was downloaded
 * again, once more when a busy reject to a newer request overtook the late answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RespondFn, WireError, WireTorrent } from '../../src/wire/index.js';
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

  it('a cancelled request answered after the answer (a reject) to the next one for the block: the third request is answered', async () => {
    // What a throttled seeder did: request 1 cancelled, request 2 rejected at once (upload queue
    // full), request 3 asked; then the late answer to request 1, then the answer to request 3.
    const { a, b, done } = await wirePair('memory', { torrent }, { torrent });
    cleanups.push(done);
    const pending: RespondFn[] = [];
    b.on('request', (_r, respond) => pending.push(respond));
    const un = next(a, 'unchoke');
    b.unchoke();
    await un;
    const outcome = (): Promise<Error | Uint8Array> =>
      new Promise((r) => a.request(2, 0, 16384, (e, block) => r(e ?? (block as Uint8Array))));
    const first = outcome();
    await until(() => pending.length === 1, 5000, 'request 1 at b');
    const cancelled = next(b, 'cancel');
    a.cancel(2, 0, 16384);
    expect(await first).toBeInstanceOf(Error);
    await cancelled;
    const second = outcome();
    await until(() => pending.length === 2, 5000, 'request 2 at b');
    (pending[1] as RespondFn)(new Error('upload queue full'));
    expect(((await second) as WireError).code).toBe('WIRE_REQUEST_REJECTED');
    const third = outcome();
    await until(() => pending.length === 3, 5000, 'request 3 at b');
    const block = new Uint8Array(16384).fill(7);
    (pending[0] as RespondFn)(new Uint8Array(16384).fill(1));
    (pending[2] as RespondFn)(block);
    const got = await Promise.race([
      third,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref()),
    ]);
    expect(got).toBeInstanceOf(Uint8Array);
    expect((got as Uint8Array)[0]).toBe(7);
    expect(b.peerRequests).toBe(0);
    expect(a.outstandingRequests).toBe(0);
  });

  it('requests rejected by a choke, asked again after the unchoke: late answers to the old ones do not swallow the new', async () => {
    const { a, b, done } = await wirePair('memory', { torrent }, { torrent });
    cleanups.push(done);
    const pending: RespondFn[] = [];
    b.on('request', (_r, respond) => pending.push(respond));
    let un = next(a, 'unchoke');
    b.unchoke();
    await un;
    const outcome = (offset: number): Promise<Error | Uint8Array> =>
      new Promise((r) => a.request(3, offset, 16384, (e, block) => r(e ?? (block as Uint8Array))));
    const old = [outcome(0), outcome(16384)];
    await until(() => pending.length === 2, 5000, 'two requests at b');
    b.choke(); // BEP 6: rejects both
    for (const o of old) expect(((await o) as WireError).code).toMatch(/WIRE_REQUEST_(REJECTED|CHOKED)/);
    un = next(a, 'unchoke');
    b.unchoke();
    await un;
    const fresh = [outcome(0), outcome(16384)];
    await until(() => pending.length === 4, 5000, 'two new requests at b');
    // Late answers to the rejected requests first, in reverse order, then the live ones.
    (pending[1] as RespondFn)(new Uint8Array(16384).fill(1));
    (pending[0] as RespondFn)(new Uint8Array(16384).fill(1));
    (pending[3] as RespondFn)(new Uint8Array(16384).fill(8));
    (pending[2] as RespondFn)(new Uint8Array(16384).fill(8));
    const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref());
    for (const f of fresh) {
      const got = await Promise.race([f, timeout]);
      expect(got).toBeInstanceOf(Uint8Array);
      expect((got as Uint8Array)[0]).toBe(8);
    }
    expect(b.peerRequests).toBe(0);
  });

  it('many rounds of request/cancel/reject on one block, answers in any order: exactly the live request is answered', async () => {
    const { a, b, done } = await wirePair('memory', { torrent }, { torrent });
    cleanups.push(done);
    const pending: RespondFn[] = [];
    b.on('request', (_r, respond) => pending.push(respond));
    const un = next(a, 'unchoke');
    b.unchoke();
    await un;
    for (let round = 0; round < 5; round++) {
      const o = new Promise<unknown>((r) => a.request(4, 0, 16384, (e) => r(e)));
      await until(() => pending.length === round + 1, 5000, `request ${round + 1} at b`);
      a.cancel(4, 0, 16384);
      await o;
    }
    await until(() => b.peerRequests === 0, 5000, 'the cancels at b');
    const live = new Promise<Error | Uint8Array>((r) =>
      a.request(4, 0, 16384, (e, block) => r(e ?? (block as Uint8Array))),
    );
    await until(() => pending.length === 6, 5000, 'the live request at b');
    // Stale answers: rejects and blocks, newest first; then the live one.
    for (let i = 4; i >= 0; i--)
      (pending[i] as RespondFn)(i % 2 ? new Error('busy') : new Uint8Array(16384).fill(1));
    (pending[5] as RespondFn)(new Uint8Array(16384).fill(9));
    const got = await Promise.race([
      live,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref()),
    ]);
    expect(got).toBeInstanceOf(Uint8Array);
    expect((got as Uint8Array)[0]).toBe(9);
    expect(b.peerRequests).toBe(0);
    expect(a.outstandingRequests).toBe(0);
  });
});
