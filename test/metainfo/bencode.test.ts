import bencodeRef from 'bencode';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BDict,
  type BValue,
  decode,
  decodePrefix,
  encode,
  RawBencode,
} from '../../src/metainfo/index.js';
import { BencodeError, fromBinaryString, toBinaryString, utf8 } from '../../src/util/index.js';

const b = (s: string) => fromBinaryString(s);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BencodeError) return e.code;
    throw e;
  }
  return 'OK';
}

/** Any bencode value, as our decoder represents it. */
const bvalue: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc
      .array(fc.tuple(fc.uint8Array({ maxLength: 8 }), tie('v')), { maxLength: 5 })
      .map((entries) => new Map(entries.map(([k, v]) => [toBinaryString(k), v] as [string, BValue]))),
  ),
})).v;

describe('bencode decode', () => {
  it('decodes every type', () => {
    const v = decode(b('d4:listli1ei-42e0:e3:numi0e3:str5:helloe')) as BDict;
    expect(v.get('num')).toBe(0n);
    expect(v.get('str')).toEqual(utf8('hello'));
    expect(v.get('list')).toEqual([1n, -42n, new Uint8Array(0)]);
    expect(decode(b('i123456789012345678901234567890e'))).toBe(123456789012345678901234567890n);
  });

  it('keeps dictionaries safe from prototype keys and keeps raw key bytes', () => {
    const v = decode(b('d9:__proto__i1e11:constructori2ee')) as BDict;
    expect(v.get('__proto__')).toBe(1n);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const raw = decode(encode(new Map([[toBinaryString(new Uint8Array([0xff, 0xfe])), 1n]]))) as BDict;
    expect([...raw.keys()]).toEqual(['\u00ff\u00fe']);
  });

  it.each([
    ['', 'BENCODE_EMPTY'],
    ['i03e', 'BENCODE_BAD_INTEGER'],
    ['i-0e', 'BENCODE_BAD_INTEGER'],
    ['ie', 'BENCODE_BAD_INTEGER'],
    ['i-e', 'BENCODE_BAD_INTEGER'],
    ['i1.5e', 'BENCODE_BAD_INTEGER'],
    ['i+1e', 'BENCODE_BAD_INTEGER'],
    ['i12', 'BENCODE_TRUNCATED'],
    ['03:abc', 'BENCODE_BAD_STRING_LENGTH'],
    ['3abc', 'BENCODE_BAD_STRING_LENGTH'],
    ['5:abc', 'BENCODE_TRUNCATED'],
    ['99999999999999999999:abc', 'BENCODE_STRING_TOO_LONG'],
    ['l', 'BENCODE_TRUNCATED'],
    ['li1e', 'BENCODE_TRUNCATED'],
    ['e', 'BENCODE_UNEXPECTED_BYTE'],
    ['x', 'BENCODE_UNEXPECTED_BYTE'],
    ['i1ei2e', 'BENCODE_TRAILING_DATA'],
    ['di1ei2ee', 'BENCODE_KEY_NOT_STRING'],
    ['dli1eei2ee', 'BENCODE_KEY_NOT_STRING'],
    ['d1:ae', 'BENCODE_MISSING_VALUE'],
    ['d1:ai1e1:ai2ee', 'BENCODE_DUPLICATE_KEY'],
    ['d1:bi1e1:ai2e1:bi3ee', 'BENCODE_DUPLICATE_KEY'],
  ])('refuses %j with %s', (input, code) => {
    expect(codeOf(() => decode(b(input)))).toBe(code);
  });

  it('accepts unsorted keys leniently (reporting them) and refuses them strictly', () => {
    const data = b('d1:bi1e1:ai2ee');
    expect((decode(data) as BDict).get('a')).toBe(2n);
    expect(decodePrefix(data).unsortedKeys).toBe(true);
    expect(decodePrefix(b('d1:ai1e1:bi2ee')).unsortedKeys).toBe(false);
    expect(codeOf(() => decode(data, { keyOrder: 'strict' }))).toBe('BENCODE_UNSORTED_KEYS');
  });

  it('enforces depth, size, string, item and digit limits', () => {
    expect(codeOf(() => decode(b(`${'l'.repeat(200_000)}${'e'.repeat(200_000)}`)))).toBe(
      'BENCODE_DEPTH_LIMIT',
    );
    expect(codeOf(() => decode(b(`${'l'.repeat(65)}${'e'.repeat(65)}`)))).toBe('BENCODE_DEPTH_LIMIT');
    expect(codeOf(() => decode(b(`${'l'.repeat(64)}${'e'.repeat(64)}`)))).toBe('OK');
    expect(codeOf(() => decode(b('3:abc'), { maxBytes: 4 }))).toBe('BENCODE_TOO_LARGE');
    expect(codeOf(() => decode(b('5:abcde'), { maxStringLength: 4 }))).toBe('BENCODE_STRING_TOO_LONG');
    expect(codeOf(() => decode(b('li1ei2ei3ee'), { maxItems: 3 }))).toBe('BENCODE_ITEM_LIMIT');
    expect(codeOf(() => decode(b(`i${'9'.repeat(41)}e`)))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decode(b(`i${'9'.repeat(1_000_000)}`)))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodePrefix(b('4:abcdXXXX'), 0, { maxBytes: 5 }))).toBe('BENCODE_TOO_LARGE');
  });

  it('decodePrefix reports where the value ends and the spans of root values', () => {
    const data = b('d4:infod1:xi1ee1:yi2eeTRAILER');
    const r = decodePrefix(data);
    expect(r.end).toBe(data.length - 'TRAILER'.length);
    const span = r.rootSpans.get('info');
    expect(span && toBinaryString(data.subarray(span.start, span.end))).toBe('d1:xi1ee');
    expect(r.rootSpans.get('y')).toEqual({ start: 18, end: 21 });
    expect(decodePrefix(b('xxi5e'), 2).value).toBe(5n);
  });
});

describe('bencode encode', () => {
  it('is canonical: keys sorted by raw bytes, integers plain', () => {
    expect(toBinaryString(encode({ b: 1, a: 'x', c: undefined }))).toBe('d1:a1:x1:bi1ee');
    // 'é' (0xc3 0xa9 in UTF-8) sorts after 'z' by bytes; UTF-16 order would agree here, 'ｚ' shows bytes win.
    expect(toBinaryString(encode({ z: 1, é: 2 }))).toBe('d1:zi1e2:\u00c3\u00a9i2ee');
    expect(toBinaryString(encode([-5n, 0, new Uint8Array([0, 1])]))).toBe('li-5ei0e2:\u0000\u0001e');
    expect(toBinaryString(encode({ r: new RawBencode(b('i7e')) }))).toBe('d1:ri7ee');
  });

  it('refuses what has no bencoding', () => {
    expect(codeOf(() => encode(1.5))).toBe('BENCODE_NOT_ENCODABLE');
    expect(codeOf(() => encode(2 ** 60))).toBe('BENCODE_NOT_ENCODABLE');
    expect(codeOf(() => encode(Number.NaN))).toBe('BENCODE_NOT_ENCODABLE');
    expect(codeOf(() => encode(null as unknown as number))).toBe('BENCODE_NOT_ENCODABLE');
    expect(codeOf(() => encode(true as unknown as number))).toBe('BENCODE_NOT_ENCODABLE');
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(codeOf(() => encode(cyclic as never))).toBe('BENCODE_DEPTH_LIMIT');
  });
});

describe('bencode properties', () => {
  it('decode ∘ encode is the identity, and encode ∘ decode is canonical', () => {
    fc.assert(
      fc.property(bvalue, (v) => {
        const bytes = encode(v);
        const back = decode(bytes, { keyOrder: 'strict' });
        expect(back).toEqual(v);
        expect(encode(back)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the bencode package on canonical data', () => {
    const plain = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: -1e9, max: 1e9 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.stringMatching(/^[a-z0-9 ._-]{0,8}$/), tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(plain, (v) => {
        const ours = encode(v as never);
        expect(Buffer.from(bencodeRef.encode(v as never))).toEqual(Buffer.from(ours));
        expect(() => decode(ours, { keyOrder: 'strict' })).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes never throw anything but BencodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
        codeOf(() => decode(data));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...'dile0123456789:-xe'.split('')), { maxLength: 100 }),
        (chars) => {
          codeOf(() => decode(b(chars.join(''))));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated valid encodings never throw anything but BencodeError', () => {
    fc.assert(
      fc.property(
        bvalue,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'del', 'ins')), {
          minLength: 1,
          maxLength: 4,
        }),
        (v, edits) => {
          const bytes = [...encode(v)];
          for (const [pos, byte, op] of edits) {
            const i = bytes.length === 0 ? 0 : pos % bytes.length;
            if (op === 'set') bytes[i] = byte;
            else if (op === 'del') bytes.splice(i, 1);
            else bytes.splice(i, 0, byte);
          }
          codeOf(() => decode(Uint8Array.from(bytes)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('work is linear in the input, including on adversarial shapes', () => {
    // Count the decoder's work by the bytes it consumes: a run over n bytes of each shape must
    // cost about 32 times a run over n/32 bytes. Time is the only observable: this process's CPU
    // time (not wall time, which other processes on a loaded machine stretch), the best of
    // several runs, with a wide margin — the garbage collector makes the large runs up to ~5×
    // dearer per byte (ratios up to ~145 seen), while quadratic behaviour would show as ≈1024×.
    const shapes: Record<string, (n: number) => Uint8Array> = {
      'many small ints': (n) => b(`l${'i1e'.repeat(n / 3)}e`),
      'many empty lists': (n) => b(`l${'le'.repeat(n / 2)}e`),
      'wide dict': (n) => {
        const parts: string[] = ['d'];
        for (let i = 0; i < n / 16; i++) parts.push(`8:${i.toString(16).padStart(8, '0')}i0e`);
        parts.push('e');
        return b(parts.join(''));
      },
      'long digits': (n) => b(`l${`i${'9'.repeat(39)}e`.repeat(n / 41)}e`),
    };
    for (const [name, make] of Object.entries(shapes)) {
      const small = make(1 << 14);
      const large = make(1 << 19);
      const best = (data: Uint8Array) => {
        let t = Number.POSITIVE_INFINITY;
        for (let k = 0; k < 7; k++) {
          const c0 = process.cpuUsage();
          decode(data);
          const c = process.cpuUsage(c0);
          t = Math.min(t, (c.user + c.system) / 1000);
        }
        return t;
      };
      best(small);
      const ratio = best(large) / Math.max(best(small), 0.05);
      expect(ratio, name).toBeLessThan(400);
    }
  });
});
