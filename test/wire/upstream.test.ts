import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Wire from 'bittorrent-protocol';
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/metainfo/bencode.js';
import { concatBytes } from '../../src/util/bytes.js';
import type { WireError } from '../../src/wire/errors.js';
import {
  UPSTREAM_SEAMS,
  UPSTREAM_VERSION,
  type UpstreamHandlers,
  type UpstreamRespond,
  UpstreamWire,
  upstreamMismatches,
} from '../../src/wire/upstream.js';
import { rnd } from './helpers.js';

/**
 * The adapter's contract with bittorrent-protocol: these tests fail loudly when the installed
 * version, or the shape or behaviour of a private member the adapter relies on, changes.
 */

const root = join(import.meta.dirname, '..', '..');
const json = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8'));

interface Seen {
  out: Uint8Array[];
  events: string[];
  requests: { index: number; offset: number; length: number; respond: UpstreamRespond }[];
  bitfields: Uint8Array[];
}

function adapter(): { up: UpstreamWire; seen: Seen } {
  const seen: Seen = { out: [], events: [], requests: [], bitfields: [] };
  const ev =
    (name: string) =>
    (...args: unknown[]) =>
      seen.events.push(args.length ? `${name}:${args.join(',')}` : name);
  const handlers: UpstreamHandlers = {
    output: (d) => seen.out.push(d.slice()),
    choke: ev('choke'),
    unchoke: ev('unchoke'),
    interested: ev('interested'),
    uninterested: ev('uninterested'),
    have: ev('have'),
    bitfield: (bits) => seen.bitfields.push(bits),
    haveAll: ev('have-all'),
    haveNone: ev('have-none'),
    request: (index, offset, length, respond) => seen.requests.push({ index, offset, length, respond }),
    cancel: ev('cancel'),
    reject: ev('reject'),
    allowedFast: ev('allowed-fast'),
  };
  return { up: new UpstreamWire(handlers), seen };
}

/** An adapter whose handshakes are done, BEP 6 on or off. */
function connected(fast: boolean): { up: UpstreamWire; seen: Seen } {
  const a = adapter();
  a.up.handshake(rnd(20), rnd(20), { dht: false, fast: true }, {}, []);
  a.up.onHandshake(rnd(20), rnd(20), { dht: false, fast, extended: false });
  a.seen.out.length = 0;
  return a;
}

const sent = (s: Seen) => concatBytes(s.out);
/** A message's bytes: id and 32-bit integers (`extra`: payload bytes that follow, for the length). */
const msg = (id: number, ...ints: number[]) => msgWith(0, id, ...ints);
const msgWith = (extra: number, id: number, ...ints: number[]) => {
  const out = new Uint8Array(5 + ints.length * 4);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length - 4 + extra);
  out[4] = id;
  for (const [i, n] of ints.entries()) v.setUint32(5 + i * 4, n);
  return out;
};

describe('bittorrent-protocol: the pinned version', () => {
  it('is installed, and package.json pins it exactly (no range)', () => {
    expect(json('node_modules/bittorrent-protocol/package.json').version).toBe(UPSTREAM_VERSION);
    expect(json('package.json').dependencies['bittorrent-protocol']).toBe(UPSTREAM_VERSION);
    const lock = json('package-lock.json');
    expect(lock.packages[''].dependencies['bittorrent-protocol']).toBe(UPSTREAM_VERSION);
    expect(lock.packages['node_modules/bittorrent-protocol'].version).toBe(UPSTREAM_VERSION);
  });

  it('has every private member the adapter uses, with the same parameters', () => {
    expect(Object.keys(UPSTREAM_SEAMS).length).toBeGreaterThan(10);
    expect(upstreamMismatches(Wire.prototype)).toEqual([]);
  });

  it('the shape check itself notices a missing or changed member', () => {
    const proto = Object.create(Wire.prototype, {
      _onChoke: { value: undefined },
      _onHave: { value: (_a: number, _b: number) => {} },
    });
    expect(upstreamMismatches(proto)).toEqual(['_onChoke is missing', '_onHave takes 2 parameters, not 1']);
  });
});

describe('UpstreamWire: the seams behave as the adapter assumes', () => {
  it('_push: every outgoing message reaches our output, the handshake and the extended handshake included', () => {
    const { up, seen } = adapter();
    const ih = rnd(20);
    up.handshake(ih, rnd(20), { dht: true, fast: true }, { v: 'x', reqq: 7 }, ['ut_metadata', 'btt_speed']);
    const hs = sent(seen);
    expect(hs.length).toBe(68);
    expect(hs.subarray(28, 48)).toEqual(ih);
    expect((hs[25] as number) & 0x10).toBe(0x10); // BEP 10
    expect((hs[27] as number) & 0x05).toBe(0x05); // BEP 5, BEP 6
    seen.out.length = 0;
    // The peer's handshake with BEP 10: our extended handshake follows, `m` from the names.
    up.onHandshake(rnd(20), rnd(20), { dht: false, fast: true, extended: true });
    const ext = sent(seen);
    expect(ext[4]).toBe(20);
    expect(ext[5]).toBe(0);
    const dict = decode(ext.subarray(6)) as Map<string, unknown>;
    const m = dict.get('m') as Map<string, bigint>;
    expect(Object.fromEntries(m)).toEqual({ ut_metadata: 1n, btt_speed: 2n });
    expect(dict.get('reqq')).toBe(7n);
    expect(up.hasFast).toBe(true);
    seen.out.length = 0;
    up.interested();
    up.have(3);
    expect(sent(seen)).toEqual(concatBytes([msg(2), msg(4, 3)]));
  });

  it('_push: the handshake is the first push, one fresh 68-byte array, so the BEP 52 bit is set on it alone', () => {
    // v2 off: Wire's own bits only. v2 on: the same bytes, 0x10 added to reserved byte 7, and
    // nothing else touched — not Wire's later messages, not a shared constant.
    for (const v2 of [false, true]) {
      const { up, seen } = adapter();
      up.onHandshake(rnd(20), rnd(20), { dht: false, fast: true, extended: true });
      up.handshake(rnd(20), rnd(20), { dht: false, fast: true, v2 }, {}, []);
      const hs = seen.out[0] as Uint8Array;
      expect(hs.length).toBe(68);
      expect(hs[0]).toBe(19);
      expect(Array.from(hs.subarray(20, 28))).toEqual([0, 0, 0, 0, 0, 0x10, 0, v2 ? 0x14 : 0x04]);
      // The extended handshake followed in the same call, untouched.
      const ext = seen.out[1] as Uint8Array;
      expect(ext[4]).toBe(20);
      expect(seen.out.slice(1).every((d) => d.length !== 68 || d[0] !== 19)).toBe(true);
      seen.out.length = 0;
      up.send(Uint8Array.of(0, 0, 0, 1, 2));
      up.interested();
      expect(sent(seen)).toEqual(concatBytes([Uint8Array.of(0, 0, 0, 1, 2), msg(2)]));
    }
  });

  it('request failures carry a code by entry point: choked, rejected, cancelled, closed', async () => {
    const codes: (string | undefined)[] = [];
    const cb = (err: WireError | null) => codes.push(err?.code);

    // Without BEP 6: a request while choked fails at once; a choke fails those pending.
    const plain = connected(false);
    plain.up.request(0, 0, 16384, cb);
    plain.up.onMessage(1, 0, 0, 0); // unchoke
    plain.up.request(0, 0, 16384, cb);
    plain.up.request(0, 16384, 16384, cb);
    plain.up.onMessage(0, 0, 0, 0); // choke
    expect(codes).toEqual(['WIRE_REQUEST_CHOKED', 'WIRE_REQUEST_CHOKED', 'WIRE_REQUEST_CHOKED']);

    // With BEP 6: a choke leaves requests pending; a reject or a cancel ends one; closing the rest.
    codes.length = 0;
    const fast = connected(true);
    fast.up.onMessage(1, 0, 0, 0);
    for (let i = 0; i < 4; i++) fast.up.request(1, i * 16384, 16384, cb);
    fast.up.onMessage(0, 0, 0, 0);
    expect(codes).toEqual([]);
    expect(fast.up.requests).toBe(4);
    fast.up.onMessage(0x10, 1, 0, 16384); // reject
    fast.up.cancel(1, 16384, 16384);
    fast.up.destroy();
    await new Promise((r) => setTimeout(r, 20)); // Wire fails the rest when its stream finishes
    expect(codes).toEqual(['WIRE_REQUEST_REJECTED', 'WIRE_REQUEST_CANCELLED', 'WIRE_CLOSED', 'WIRE_CLOSED']);
    fast.up.request(1, 0, 16384, cb);
    expect(codes.at(-1)).toBe('WIRE_CLOSED');
  });

  it('a callback that requests again inside a failure does not change the code of the others', () => {
    const { up } = connected(false);
    up.onMessage(1, 0, 0, 0);
    const codes: (string | undefined)[] = [];
    up.request(0, 0, 100, (err) => {
      codes.push(err?.code);
      up.cancel(5, 5, 5); // no such request: nothing fails, the reason must be restored
    });
    up.request(0, 100, 100, (err) => codes.push(err?.code));
    up.onMessage(0, 0, 0, 0);
    expect(codes).toEqual(['WIRE_REQUEST_CHOKED', 'WIRE_REQUEST_CHOKED']);
  });

  it('_pull/_callback: a block answers its request whatever the order, and is counted', () => {
    const { up } = connected(true);
    up.onMessage(1, 0, 0, 0);
    const got: string[] = [];
    for (let i = 0; i < 6; i++)
      up.request(2, i * 10, 10, (err, b) => got.push(err ? 'err' : `${i}:${b?.[0]}`));
    for (const i of [0, 1, 5, 2, 4, 3]) up.onPiece(2, i * 10, new Uint8Array(10).fill(i));
    up.onPiece(2, 999, new Uint8Array(10)); // unrequested: counted, answers nothing
    expect(got).toEqual(['0:0', '1:1', '5:5', '2:2', '4:4', '3:3']);
    expect(up.requests).toBe(0);
    expect(up.downloaded).toBe(70);
  });

  it('_pull: answers in request order leave the rest in request order (one compare per block)', () => {
    // The stock removal moves the last request into the hole, so in-order answers were found ever
    // deeper (half a deep queue per block). Seen here through a choke, which fails what is left
    // newest first: with the order kept that is 7, 6, 5, 4, 3.
    const { up } = connected(false);
    up.onMessage(1, 0, 0, 0);
    const failed: number[] = [];
    for (let i = 0; i < 8; i++) up.request(3, i * 10, 10, (err) => err && failed.push(i));
    for (const i of [0, 1, 2]) up.onPiece(3, i * 10, new Uint8Array(10));
    up.onMessage(0, 0, 0, 0);
    expect(failed).toEqual([7, 6, 5, 4, 3]);
  });

  it('incoming messages reach the state machine: have (repeats dropped), bitfield, have-all, interest', () => {
    const { up, seen } = connected(true);
    up.onMessage(4, 3, 0, 0);
    up.onMessage(4, 3, 0, 0);
    up.onMessage(2, 0, 0, 0);
    expect(seen.events).toEqual(['have:3', 'interested']);
    expect(up.peerHas(3) && !up.peerHas(4)).toBe(true);
    expect(up.peerInterested).toBe(true);
    up.onBitfield(Uint8Array.of(0b0100_0000));
    expect(seen.bitfields.length).toBe(1);
    expect(up.peerHas(1) && !up.peerHas(3)).toBe(true);
    up.onMessage(0x0e, 0, 0, 0);
    expect(up.peerHas(12345)).toBe(true);
    up.onMessage(0x11, 7, 0, 0);
    expect(up.peerAllowedFast).toEqual([7]);
  });

  it("the peer's requests: ignored (BEP 6: rejected) while choking; answered with a piece or a reject", () => {
    const { up, seen } = connected(true);
    up.onMessage(6, 0, 0, 4);
    expect(seen.requests).toEqual([]);
    expect(sent(seen)).toEqual(msg(0x10, 0, 0, 4)); // reject while choking
    seen.out.length = 0;
    up.unchoke();
    up.onMessage(6, 1, 0, 4);
    up.onMessage(6, 1, 4, 4);
    expect(up.peerRequests).toBe(2);
    const [r1, r2] = seen.requests;
    r1?.respond(null, Uint8Array.of(9, 9, 9, 9));
    r2?.respond(new Error('no'));
    expect(sent(seen)).toEqual(
      concatBytes([msg(1), msgWith(4, 7, 1, 0), Uint8Array.of(9, 9, 9, 9), msg(0x10, 1, 4, 4)]),
    );
    expect(up.uploaded).toBe(4);
    expect(up.peerRequests).toBe(0);
    up.onMessage(6, 1, 8, 4);
    up.onMessage(8, 1, 8, 4); // cancelled by the peer
    expect(up.peerRequests).toBe(0);
    expect(seen.events).toContain('cancel:1,8,4');
  });

  it('after destroy nothing is reported or sent', () => {
    const { up, seen } = connected(true);
    up.destroy();
    seen.events.length = 0;
    seen.out.length = 0;
    up.onMessage(4, 1, 0, 0);
    up.choke();
    up.unchoke();
    up.have(1);
    expect(seen.events).toEqual([]);
    expect(seen.out).toEqual([]);
  });
});
