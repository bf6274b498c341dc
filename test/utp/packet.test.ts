/** The uTP packet codec: round trips, and hostile bytes that must never throw from `decodeInto`. */
import { describe, expect, it } from 'vitest';
import {
  createPacket,
  decodeInto,
  decodePacket,
  EXT_BITS,
  EXT_BTTKIT,
  EXT_SACK,
  encodePacket,
  HEADER_SIZE,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  UtpError,
} from '../../src/utp/index.js';
import { controlPacket, seqDiff } from '../../src/utp/packet.js';
import { rng } from './sim.js';

describe('uTP packet codec', () => {
  it('round-trips every type with the header fields at their widths', () => {
    for (const type of [ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN]) {
      const bytes = encodePacket({
        type,
        connectionId: 0xfedc,
        timestamp: 0xfffffffe,
        timestampDiff: 123456,
        wnd: 0x7fffffff,
        seq: 0xffff,
        ack: 1,
        payload: new Uint8Array([1, 2, 3]),
      });
      expect(bytes[0]).toBe((type << 4) | 1);
      const p = decodePacket(bytes);
      expect(p).toMatchObject({ type, connectionId: 0xfedc, timestamp: 0xfffffffe, timestampDiff: 123456 });
      expect(p).toMatchObject({ wnd: 0x7fffffff, seq: 0xffff, ack: 1, sackLength: 0, maxDatagram: 0 });
      expect([...p.data.subarray(p.payloadOffset)]).toEqual([1, 2, 3]);
    }
  });

  it('round-trips a selective ack followed by the large-datagram offer', () => {
    const sack = new Uint8Array([0b101, 0, 0, 0x80]);
    const bytes = encodePacket({
      type: ST_STATE,
      connectionId: 7,
      seq: 9,
      ack: 10,
      sack,
      maxDatagram: 64000,
    });
    expect(bytes[1]).toBe(EXT_SACK);
    // sack → extension bits → offer: the offer is never the first extension.
    expect(bytes[HEADER_SIZE]).toBe(EXT_BITS);
    expect(bytes[HEADER_SIZE + 2 + sack.length]).toBe(EXT_BTTKIT);
    const p = decodePacket(bytes);
    expect([...p.data.subarray(p.sackOffset, p.sackOffset + p.sackLength)]).toEqual([...sack]);
    expect(p.maxDatagram).toBe(64000);
    expect(p.payloadOffset).toBe(bytes.length);
    const c = controlPacket(ST_SYN, 5, 1, 2, 3, 4, 0, undefined, 60000);
    // libutp (Transmission) ignores a SYN whose first extension it does not know.
    expect(c[1]).toBe(EXT_BITS);
    expect([...c.subarray(HEADER_SIZE, HEADER_SIZE + 10)]).toEqual([EXT_BTTKIT, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(decodePacket(c)).toMatchObject({ type: ST_SYN, connectionId: 5, seq: 4, maxDatagram: 60000 });
  });

  it('skips unknown extensions (as libtorrent does)', () => {
    const bytes = new Uint8Array(HEADER_SIZE + 6 + 2);
    bytes.set(encodePacket({ type: ST_DATA, connectionId: 1, seq: 2, ack: 3 }).subarray(0, HEADER_SIZE));
    bytes[1] = 0x77;
    bytes.set([0, 4, 9, 9, 9, 9, 0xaa, 0xbb], HEADER_SIZE);
    const p = decodePacket(bytes);
    expect([...p.data.subarray(p.payloadOffset)]).toEqual([0xaa, 0xbb]);
  });

  it('sequence numbers compare across the 16-bit wrap', () => {
    expect(seqDiff(2, 0xfffe)).toBe(4);
    expect(seqDiff(0xfffe, 2)).toBe(-4);
    expect(seqDiff(5, 5)).toBe(0);
  });

  it('rejects malformed packets with typed codes', () => {
    const ok = encodePacket({ type: ST_DATA, connectionId: 1, seq: 1, ack: 1 });
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'UTP_TRUNCATED'],
      [ok.subarray(0, 19), 'UTP_TRUNCATED'],
      [Uint8Array.from(ok, (b, i) => (i === 0 ? 0x02 : b)), 'UTP_BAD_VERSION'],
      [Uint8Array.from(ok, (b, i) => (i === 0 ? 0x51 : b)), 'UTP_BAD_TYPE'],
      // An extension whose length runs past the datagram.
      [Uint8Array.from([...ok, 0, 200, 1, 2], (b, i) => (i === 1 ? EXT_SACK : b)), 'UTP_TRUNCATED'],
      // An extension header cut in half.
      [Uint8Array.from([...ok, 0], (b, i) => (i === 1 ? 9 : b)), 'UTP_TRUNCATED'],
      // A zero-length selective ack.
      [Uint8Array.from([...ok, 0, 0], (b, i) => (i === 1 ? EXT_SACK : b)), 'UTP_BAD_EXTENSION'],
    ];
    // A chain of more extensions than allowed (each pointing to the next).
    const chain = new Uint8Array(HEADER_SIZE + 2 * 20);
    chain.set(ok);
    chain[1] = 9;
    for (let i = 0; i < 20; i++) chain.set([9, 0], HEADER_SIZE + 2 * i);
    cases.push([chain, 'UTP_BAD_EXTENSION']);
    const out = createPacket();
    for (const [bytes, code] of cases) {
      expect(decodeInto(bytes, out)).toBe(code);
      expect(() => decodePacket(bytes)).toThrow(UtpError);
      try {
        decodePacket(bytes);
      } catch (e) {
        expect((e as UtpError).code).toBe(code);
      }
    }
  });

  it('never throws on random bytes', () => {
    const r = rng(2024);
    const out = createPacket();
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(r() * 80);
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = Math.floor(r() * 256);
      // Bias towards plausible headers so the extension walk gets exercised.
      if (n > 1 && r() < 0.5) b[0] = (Math.floor(r() * 5) << 4) | 1;
      if (decodeInto(b, out) === undefined) {
        decoded++;
        expect(out.payloadOffset).toBeLessThanOrEqual(n);
        expect(out.sackOffset + out.sackLength).toBeLessThanOrEqual(n);
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });
});
