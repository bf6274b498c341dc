import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  BttkitError,
  compareBytes,
  concatBytes,
  createSha1,
  equalBytes,
  fromBase32,
  fromBinaryString,
  fromHex,
  fromUtf8Strict,
  hashBackend,
  isBttkitError,
  ManualClock,
  RealClock,
  setHashBackend,
  sha1,
  sha256,
  throwIfAborted,
  toBase32,
  toBinaryString,
  toHex,
  utf8,
} from '../../src/util/index.js';

describe('errors', () => {
  it('carry a code, details and cause, and walk the cause chain', () => {
    const inner = new Error('disk');
    const e = new BttkitError('X_FAILED', 'x failed', { cause: inner, details: { offset: 3 } });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('BttkitError');
    expect(e.code).toBe('X_FAILED');
    expect(e.details.offset).toBe(3);
    expect(e.walk((c) => c === inner)).toBe(inner);
    expect(isBttkitError(e, 'X_FAILED')).toBe(true);
    expect(isBttkitError(e, 'OTHER')).toBe(false);
    expect(isBttkitError(inner)).toBe(false);
  });

  it('throwIfAborted throws AbortError only when aborted', () => {
    const ac = new AbortController();
    expect(() => throwIfAborted(ac.signal)).not.toThrow();
    ac.abort(new Error('stop'));
    expect(() => throwIfAborted(ac.signal)).toThrow(AbortError);
  });
});

describe('ManualClock', () => {
  it('fires timers in time order, intervals repeatedly, and honours cancel', () => {
    const clock = new ManualClock(1000);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    const iv = clock.setInterval(() => log.push(`i@${clock.now()}`), 15);
    const cancelled = clock.setTimeout(() => log.push('never'), 5);
    cancelled.cancel();
    clock.advance(9);
    expect(log).toEqual([]);
    clock.advance(21);
    expect(log).toEqual(['a@1010', 'i@1015', 'b@1020', 'i@1030']);
    iv.cancel();
    clock.advance(100);
    expect(log).toHaveLength(4);
    expect(clock.now()).toBe(1130);
    expect(clock.pending).toBe(0);
  });

  it('timers scheduled from a timer run in the same advance if due', () => {
    const clock = new ManualClock();
    const log: number[] = [];
    clock.setTimeout(() => {
      log.push(clock.now());
      clock.setTimeout(() => log.push(clock.now()), 5);
    }, 5);
    expect(clock.runNext()).toBe(true);
    clock.advance(5);
    expect(log).toEqual([5, 10]);
    expect(clock.runNext()).toBe(false);
    expect(() => clock.advance(-1)).toThrow(expect.objectContaining({ code: 'UTIL_OUT_OF_RANGE' }));
  });

  it('RealClock fires and cancels', async () => {
    const clock = new RealClock();
    const t0 = clock.now();
    await new Promise<void>((res) => clock.setTimeout(res, 5));
    expect(clock.now()).toBeGreaterThan(t0);
    let fired = false;
    clock
      .setTimeout(() => {
        fired = true;
      }, 1)
      .cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
  });
});

describe('bytes', () => {
  it('hex, base32 and binary strings round-trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
        expect(fromBase32(toBase32(b))).toEqual(b);
        expect(fromBinaryString(toBinaryString(b))).toEqual(b);
        expect(toHex(b)).toBe(Buffer.from(b).toString('hex'));
      }),
    );
  });

  it('base32 matches RFC 4648 vectors and rejects junk', () => {
    expect(toBase32(utf8('foobar'))).toBe('MZXW6YTBOI');
    expect(fromBase32('mzxw6ytboi======')).toEqual(utf8('foobar'));
    expect(() => fromBase32('MZXW6YTBO1')).toThrow(BttkitError);
    expect(() => fromHex('abc')).toThrow(BttkitError);
    expect(() => fromHex('zz')).toThrow(BttkitError);
  });

  it('compares, concatenates and checks UTF-8', () => {
    expect(compareBytes(utf8('a'), utf8('b'))).toBeLessThan(0);
    expect(compareBytes(utf8('ab'), utf8('a'))).toBeGreaterThan(0);
    expect(compareBytes(new Uint8Array([0xff]), utf8('a'))).toBeGreaterThan(0);
    expect(equalBytes(concatBytes([utf8('ab'), utf8('c')]), utf8('abc'))).toBe(true);
    expect(fromUtf8Strict(new Uint8Array([0xc3, 0x28]))).toBeUndefined();
    expect(fromUtf8Strict(utf8('ü'))).toBe('ü');
  });
});

describe('hash', () => {
  afterEach(() => {
    setHashBackend('node');
  });

  it('node and noble backends agree with node:crypto, streaming and one-shot', () => {
    for (const backend of ['node', 'noble'] as const) {
      expect(setHashBackend(backend)).toBe(backend);
      expect(hashBackend()).toBe(backend);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
          const at = Math.min(cut, data.length);
          const h = createSha1().update(data.subarray(0, at)).update(data.subarray(at)).digest();
          expect(toHex(h)).toBe(createHash('sha1').update(data).digest('hex'));
          expect(toHex(sha1(data))).toBe(toHex(h));
          expect(toHex(sha256(data))).toBe(createHash('sha256').update(data).digest('hex'));
        }),
        { numRuns: 50 },
      );
    }
  });
});
