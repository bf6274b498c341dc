/**
 * `ut_holepunch` (BEP 55): the codec (round trips, the layouts libtorrent sends, hostile input)
 * and the extension between two PeerWires (a malformed message drops the peer with a typed code).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeHolepunch,
  encodeHolepunch,
  formatIpBytes,
  HOLEPUNCH_MAX_PAYLOAD,
  HolepunchErrorCode,
  type HolepunchMessage,
  type PeerWire,
  type UtHolepunchExtension,
  utHolepunch,
  WireError,
} from '../../src/wire/index.js';
import { next, until, wirePair } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof WireError ? err.code : `not a WireError: ${String(err)}`;
  }
  return undefined;
}

/** Sends `payload` as extension `name` from `wire`, bypassing its codec (a hostile sender). */
function rawExt(wire: PeerWire, name: string, payload: Uint8Array): void {
  const id = wire.peerExtendedHandshake?.extensions.get(name);
  if (id === undefined) throw new Error(`peer lacks ${name}`);
  const frame = new Uint8Array(6 + payload.length);
  new DataView(frame.buffer).setUint32(0, 2 + payload.length);
  frame[4] = 20;
  frame[5] = id;
  frame.set(payload, 6);
  wire.connection.write([frame]);
}

describe('ut_holepunch codec', () => {
  it('lays messages out as BEP 55 says, IPv4 and IPv6, and reads them back', () => {
    const r = encodeHolepunch({
      type: 'rendezvous',
      endpoint: { host: '203.0.113.7', port: 6881 },
      error: 0,
    });
    expect([...r]).toEqual([0, 0, 203, 0, 113, 7, 0x1a, 0xe1, 0, 0, 0, 0]);
    const e = encodeHolepunch({ type: 'error', endpoint: { host: '2001:db8::1', port: 1 }, error: 4 });
    expect(e.length).toBe(HOLEPUNCH_MAX_PAYLOAD);
    expect([...e.subarray(0, 4)]).toEqual([2, 1, 0x20, 0x01]);
    expect([...e.subarray(20)]).toEqual([0, 0, 0, 4]);
    const msgs: HolepunchMessage[] = [
      { type: 'rendezvous', endpoint: { host: '10.77.1.10', port: 51413 }, error: 0 },
      { type: 'connect', endpoint: { host: '2001:db8:1::10', port: 6881 }, error: 0 },
      {
        type: 'error',
        endpoint: { host: '203.0.113.1', port: 65535 },
        error: HolepunchErrorCode.NotConnected,
      },
      { type: 'error', endpoint: { host: '203.0.113.1', port: 2 }, error: 0xffffffff },
    ];
    for (const m of msgs) expect(decodeHolepunch(encodeHolepunch(m))).toEqual(m);
  });

  it('accepts libtorrent’s rendezvous/connect without the error code, ignores an error code there', () => {
    expect(decodeHolepunch(Uint8Array.from([1, 0, 203, 0, 113, 2, 0, 80]))).toEqual({
      type: 'connect',
      endpoint: { host: '203.0.113.2', port: 80 },
      error: 0,
    });
    const v6 = new Uint8Array(20);
    v6[1] = 1;
    v6[2] = 0xfe;
    v6[3] = 0x80;
    v6[17] = 1;
    v6[19] = 9;
    expect(decodeHolepunch(v6).endpoint).toEqual({ host: 'fe80::1', port: 9 });
    expect(decodeHolepunch(Uint8Array.from([1, 0, 1, 2, 3, 4, 0, 5, 0, 0, 0, 7])).error).toBe(0);
  });

  it('refuses hostile input with WIRE_HOLEPUNCH_MALFORMED, never anything else', () => {
    const bad: number[][] = [
      [],
      [0],
      [3, 0, 1, 2, 3, 4, 0, 5, 0, 0, 0, 0], // unknown type
      [255, 0, 1, 2, 3, 4, 0, 5],
      [0, 2, 1, 2, 3, 4, 0, 5, 0, 0, 0, 0], // unknown address type
      [0, 0, 1, 2, 3, 4, 0], // truncated
      [0, 0, 1, 2, 3, 4, 0, 5, 0, 0], // half an error code
      [0, 0, 1, 2, 3, 4, 0, 5, 0, 0, 0, 0, 9], // trailing byte
      [2, 0, 1, 2, 3, 4, 0, 5], // error without its code
      [0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0], // port 0
      [1, 1, 1, 2, 3, 4, 0, 5, 0, 0, 0, 0], // IPv6 type with an IPv4 body
    ];
    for (const b of bad)
      expect(codeOf(() => decodeHolepunch(Uint8Array.from(b)))).toBe('WIRE_HOLEPUNCH_MALFORMED');
    // Random bytes of every length up to the limit: decoded or refused, nothing else.
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from({ length: i % (HOLEPUNCH_MAX_PAYLOAD + 2) }, () =>
        Math.floor(Math.random() * 256),
      );
      b[0] = (b[0] as number) % 4;
      if (b.length > 1) b[1] = (b[1] as number) % 3;
      const code = codeOf(() => decodeHolepunch(b));
      expect(code === undefined || code === 'WIRE_HOLEPUNCH_MALFORMED').toBe(true);
    }
  });

  it('refuses to encode what is not an IP literal, a bad port or error code (our argument)', () => {
    const enc = (m: HolepunchMessage) => codeOf(() => encodeHolepunch(m));
    expect(enc({ type: 'connect', endpoint: { host: 'example.com', port: 1 }, error: 0 })).toBe(
      'WIRE_HOLEPUNCH_MALFORMED',
    );
    expect(enc({ type: 'connect', endpoint: { host: '1.2.3.4', port: 0 }, error: 0 })).toBe(
      'WIRE_HOLEPUNCH_MALFORMED',
    );
    expect(enc({ type: 'error', endpoint: { host: '1.2.3.4', port: 1 }, error: -1 })).toBe(
      'WIRE_HOLEPUNCH_MALFORMED',
    );
  });

  it('formats IPv6 addresses canonically (RFC 5952)', () => {
    const b = (...g: number[]) => Uint8Array.from(g.flatMap((x) => [x >> 8, x & 0xff]));
    expect(formatIpBytes(b(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1))).toBe('2001:db8::1:0:0:1');
    expect(formatIpBytes(b(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1))).toBe('2001:db8:0:1::1');
    expect(formatIpBytes(b(0, 0, 0, 0, 0, 0, 0, 0))).toBe('::');
    expect(formatIpBytes(b(1, 0, 2, 0, 3, 0, 4, 0))).toBe('1:0:2:0:3:0:4:0');
  });
});

describe('ut_holepunch between PeerWires', () => {
  it('carries messages both ways; a malformed one drops the sender with WIRE_HOLEPUNCH_MALFORMED', async () => {
    let xa: UtHolepunchExtension | undefined;
    let xb: UtHolepunchExtension | undefined;
    const p = await wirePair('memory', {}, {}, (a, b) => {
      xa = a.use(utHolepunch());
      xb = b.use(utHolepunch());
    });
    cleanups.push(p.done);
    const a = xa as UtHolepunchExtension;
    const b = xb as UtHolepunchExtension;
    await until(() => a.active && b.active, 3000, 'extended handshakes');
    const got: HolepunchMessage[] = [];
    b.on('message', (m) => got.push(m));
    const m: HolepunchMessage = { type: 'connect', endpoint: { host: '203.0.113.2', port: 6881 }, error: 0 };
    expect(a.send(m)).toBe(true);
    await until(() => got.length === 1, 3000, 'connect message');
    expect(got[0]).toEqual(m);
    const closed = next(p.b, 'close');
    rawExt(p.a, 'ut_holepunch', Uint8Array.from([9, 0, 1, 2, 3, 4, 0, 5]));
    const [err] = await closed;
    expect(err?.code).toBe('WIRE_HOLEPUNCH_MALFORMED');
  });

  it('drops a peer whose message is longer than any BEP 55 message', async () => {
    let xb: UtHolepunchExtension | undefined;
    const p = await wirePair('memory', {}, {}, (a, b) => {
      a.use(utHolepunch());
      xb = b.use(utHolepunch());
    });
    cleanups.push(p.done);
    await until(() => xb?.active === true && p.a.peerExtendedHandshake !== undefined, 3000, 'handshakes');
    const closed = next(p.b, 'close');
    rawExt(p.a, 'ut_holepunch', new Uint8Array(1000));
    const [err] = await closed;
    expect(err?.code).toBe('WIRE_EXTENSION_MESSAGE_TOO_LARGE');
  });

  it('sends nothing to a peer without the extension', async () => {
    let xa: UtHolepunchExtension | undefined;
    const p = await wirePair('memory', {}, {}, (a) => {
      xa = a.use(utHolepunch());
    });
    cleanups.push(p.done);
    await until(() => p.a.peerExtendedHandshake !== undefined, 3000, 'handshake');
    expect(xa?.send({ type: 'rendezvous', endpoint: { host: '1.2.3.4', port: 1 }, error: 0 })).toBe(false);
  });
});
