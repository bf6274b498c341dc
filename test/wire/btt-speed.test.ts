import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decode as decodeBencode, encode } from '../../src/metainfo/bencode.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import {
  BTT_MAX_AMOUNT,
  type BttHandshake,
  type BttMessage,
  BttRejectCode,
  type BttSpeedExtension,
  bttSchemesOf,
  bttSpeed,
  decodeBttMessage,
  encodeBttHandshake,
  encodeBttMessage,
  formatAmount,
  negotiateScheme,
  type PeerWire,
  parseBttHandshake,
  tryParseAmount,
} from '../../src/wire/index.js';
import { next, type PairKind, rnd, until, wirePair } from './helpers.js';

interface Vector {
  name: string;
  json?: Record<string, unknown>;
  hex: string;
  expect?: string;
}

function readVectors(): Vector[] {
  const md = readFileSync(new URL('../../docs/btt-extension.md', import.meta.url), 'utf8');
  const out: Vector[] = [];
  for (const block of md.matchAll(/```text\n(vector: [\s\S]*?)```/g)) {
    const fields = new Map<string, string>();
    for (const line of (block[1] ?? '').trim().split('\n')) {
      const i = line.indexOf(': ');
      fields.set(line.slice(0, i), line.slice(i + 2));
    }
    const json = fields.get('json');
    out.push({
      name: fields.get('vector') ?? '',
      hex: fields.get('hex') ?? '',
      ...(json ? { json: JSON.parse(json) } : {}),
      ...(fields.has('expect') ? { expect: fields.get('expect') } : {}),
    });
  }
  return out;
}

/** JSON of the spec → typed value: hex for ch/sig, decimal strings for amounts. */
function fromJson(j: Record<string, unknown>): BttMessage {
  const m: Record<string, unknown> = { ...j };
  for (const k of ['ch', 'sig']) if (typeof m[k] === 'string') m[k] = fromHex(m[k] as string);
  for (const k of ['price', 'amt']) if (typeof m[k] === 'string') m[k] = BigInt(m[k] as string);
  return m as unknown as BttMessage;
}

describe('btt_speed spec vectors (docs/btt-extension.md)', () => {
  const vectors = readVectors();

  it('the spec has a vector for every message and for the handshake', () => {
    const names = vectors.map((v) => v.name);
    for (const n of ['handshake', 'bid', 'grant', 'pay', 'ack', 'reject']) expect(names).toContain(n);
    for (const n of ['handshake-eip712', 'bid-eip712', 'pay-eip712', 'ack-eip712', 'unknown-scheme'])
      expect(names).toContain(n);
    expect(vectors.filter((v) => v.expect).length).toBeGreaterThanOrEqual(5);
  });

  for (const v of vectors) {
    it(`vector ${v.name}`, () => {
      const bytes = fromHex(v.hex);
      if (v.name.startsWith('handshake') && v.json) {
        const h = { ...v.json, reserve: BigInt(v.json.reserve as string) } as unknown as BttHandshake;
        expect(toHex(encodeBttHandshake(h))).toBe(v.hex);
        const parsed = parseBttHandshake(new Map([['btt', decodeDict(bytes).get('btt') as never]]));
        expect(parsed).toEqual(h);
        return;
      }
      const r = decodeBttMessage(bytes);
      if (v.json) {
        const msg = fromJson(v.json);
        expect(toHex(encodeBttMessage(msg))).toBe(v.hex);
        expect(r).toEqual({ ok: true, message: msg });
      } else if (v.expect === 'ignore') {
        expect(r.ok && r.message === undefined).toBe(true);
      } else if (v.expect?.startsWith('reject ')) {
        expect(r).toMatchObject({ ok: false, code: Number(v.expect.slice(7)) });
      } else {
        expect(r.ok && r.message?.t).toBe(v.expect);
      }
    });
  }
});

/** The handshake vector is `{btt: {...}}`: decode it with the strict decoder. */
function decodeDict(bytes: Uint8Array): Map<string, unknown> {
  return decodeBencode(bytes) as Map<string, unknown>;
}

describe('btt_speed codec', () => {
  it('amounts: canonical decimal only, 0 .. 2^256-1, never a JS number', () => {
    expect(formatAmount(10n ** 30n)).toBe(`1${'0'.repeat(30)}`);
    expect(tryParseAmount('0')).toBe(0n);
    expect(tryParseAmount(BTT_MAX_AMOUNT.toString())).toBe(BTT_MAX_AMOUNT);
    for (const bad of [
      '',
      '00',
      '01',
      '-1',
      '+1',
      '1e3',
      '1.5',
      ' 1',
      '0x10',
      (BTT_MAX_AMOUNT + 1n).toString(),
    ]) {
      expect(tryParseAmount(bad)).toBeUndefined();
    }
    expect(() => formatAmount(-1n)).toThrow();
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: BTT_MAX_AMOUNT }), (n) => tryParseAmount(formatAmount(n)) === n),
    );
  });

  const arbCh = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const arbCh32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const arbAmt = fc.bigInt({ min: 0n, max: BTT_MAX_AMOUNT });
  const arbCounter = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const eip712 = fc.constant('eip712-bttc' as const);
  const arbMessage: fc.Arbitrary<BttMessage> = fc.oneof(
    fc.record({ t: fc.constant('bid' as const), seq: arbCounter, price: arbAmt, ch: arbCh }),
    fc.record({ t: fc.constant('bid' as const), seq: arbCounter, price: arbAmt, ch: arbCh32, vs: eip712 }),
    fc.record({
      t: fc.constant('pay' as const),
      ch: arbCh32,
      amt: arbAmt,
      sig: fc.uint8Array({ minLength: 65, maxLength: 65 }),
      vs: eip712,
    }),
    fc.record({ t: fc.constant('ack' as const), ch: arbCh32, amt: arbAmt, vs: eip712 }),
    fc.record({ t: fc.constant('grant' as const), seq: arbCounter, price: arbAmt, credit: arbCounter }),
    fc.record({
      t: fc.constant('pay' as const),
      ch: arbCh,
      amt: arbAmt,
      sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    }),
    fc.record({ t: fc.constant('ack' as const), ch: arbCh, amt: arbAmt }),
    fc.record({
      t: fc.constant('reject' as const),
      code: fc.integer({ min: 1, max: 65535 }),
      reason: fc.string({ maxLength: 30 }),
    }),
  );

  it('round-trips every valid message within 1,024 bytes', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const bytes = encodeBttMessage(m);
        expect(bytes.length).toBeLessThanOrEqual(1024);
        expect(decodeBttMessage(bytes)).toEqual({ ok: true, message: m });
      }),
      { numRuns: 500 },
    );
  });

  it('refuses to encode invalid fields', () => {
    const ch = rnd(16);
    expect(() => encodeBttMessage({ t: 'bid', seq: -1, price: 1n, ch })).toThrow();
    expect(() => encodeBttMessage({ t: 'bid', seq: 1, price: 1n, ch: rnd(15) })).toThrow();
    expect(() => encodeBttMessage({ t: 'pay', ch, amt: 1n, sig: rnd(63) })).toThrow();
    expect(() => encodeBttMessage({ t: 'reject', code: 0, reason: '' })).toThrow();
    expect(() => encodeBttMessage({ t: 'reject', code: 1, reason: 'x'.repeat(129) })).toThrow();
    expect(() => encodeBttMessage({ t: 'grant', seq: 1, price: 1n, credit: 1.5 })).toThrow();
    // per-scheme lengths: 16/64 for ed25519-ledger, 32/65 for eip712-bttc; only known schemes
    const vs = 'eip712-bttc' as const;
    expect(() => encodeBttMessage({ t: 'bid', seq: 1, price: 1n, ch: rnd(32) })).toThrow();
    expect(() => encodeBttMessage({ t: 'bid', seq: 1, price: 1n, ch, vs })).toThrow();
    expect(() => encodeBttMessage({ t: 'pay', ch: rnd(32), amt: 1n, sig: rnd(65) })).toThrow();
    expect(() => encodeBttMessage({ t: 'pay', ch: rnd(32), amt: 1n, sig: rnd(64), vs })).toThrow();
    expect(() => encodeBttMessage({ t: 'pay', ch, amt: 1n, sig: rnd(65), vs })).toThrow();
    expect(() => encodeBttMessage({ t: 'ack', ch, amt: 1n, vs })).toThrow();
    expect(() => encodeBttMessage({ t: 'ack', ch, amt: 1n, vs: 'rot13' as never })).toThrow();
    // the default scheme is never written: old peers see the bytes they always saw
    const sig = rnd(64);
    const plain = encodeBttMessage({ t: 'pay', ch, amt: 1n, sig });
    expect(toHex(encodeBttMessage({ t: 'pay', ch, amt: 1n, sig, vs: 'ed25519-ledger' }))).toBe(toHex(plain));
  });

  it('voucher schemes in messages: unknown → reject 12, wrong lengths or a non-text vs → reject 1', () => {
    const msg = (d: Record<string, unknown>) => decodeBttMessage(encode(d as never));
    const ch16 = rnd(16);
    const ch32 = rnd(32);
    expect(msg({ t: 'pay', ch: ch32, amt: '1', sig: rnd(65), vs: 'eip712-bttc' })).toMatchObject({
      ok: true,
      message: { t: 'pay', vs: 'eip712-bttc' },
    });
    expect(msg({ t: 'bid', seq: 1, price: '1', ch: ch32, vs: 'eip712-bttc' })).toMatchObject({
      ok: true,
      message: { t: 'bid', vs: 'eip712-bttc' },
    });
    // explicit default: decoded exactly as without `vs`
    expect(msg({ t: 'ack', ch: ch16, amt: '1', vs: 'ed25519-ledger' })).toEqual({
      ok: true,
      message: { t: 'ack', ch: ch16, amt: 1n },
    });
    for (const [d, code] of [
      [{ t: 'pay', ch: ch32, amt: '1', sig: rnd(65), vs: 'bls-future' }, 12],
      [{ t: 'bid', seq: 1, price: '1', ch: ch32, vs: 'x' }, 12],
      [{ t: 'pay', ch: ch16, amt: '1', sig: rnd(65), vs: 'eip712-bttc' }, 1],
      [{ t: 'pay', ch: ch32, amt: '1', sig: rnd(64), vs: 'eip712-bttc' }, 1],
      [{ t: 'pay', ch: ch32, amt: '1', sig: rnd(66), vs: 'eip712-bttc' }, 1],
      [{ t: 'pay', ch: ch32, amt: '1', sig: rnd(65) }, 1],
      [{ t: 'pay', ch: ch16, amt: '1', sig: rnd(64), vs: 7 }, 1],
      [{ t: 'pay', ch: ch16, amt: '1', sig: rnd(64), vs: ['eip712-bttc'] }, 1],
      [{ t: 'pay', ch: ch16, amt: '1', sig: rnd(64), vs: 'EIP712-BTTC' }, 1],
      [{ t: 'ack', ch: ch16, amt: '1', vs: 'eip712-bttc' }, 1],
      [{ t: 'bid', seq: 1, price: '1', ch: ch16, vs: 'eip712-bttc' }, 1],
      [{ t: 'bid', seq: 1, price: '1', ch: ch16, vs: 'x'.repeat(300) }, 1],
    ] as const) {
      expect(msg(d)).toMatchObject({ ok: false, code });
    }
  });

  it('random bencoded dictionaries and random bytes never throw, and yield ok or a reject code', () => {
    const arbValue = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.uint8Array({ maxLength: 80 }),
        fc.constantFrom(
          'bid',
          'grant',
          'pay',
          'ack',
          'reject',
          '0',
          '01',
          '12345',
          'eip712-bttc',
          'ed25519-ledger',
        ),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom('t', 'seq', 'price', 'ch', 'amt', 'sig', 'credit', 'code', 'reason', 'vs', 'x'),
          tie('v'),
          {
            maxKeys: 5,
          },
        ),
      ),
    }));
    const dict = fc.dictionary(
      fc.constantFrom('t', 'seq', 'price', 'ch', 'amt', 'sig', 'credit', 'code', 'reason', 'vs', 'zz'),
      arbValue.v,
      { maxKeys: 6 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          dict.map((d) => encode(d as never)),
          fc.uint8Array({ maxLength: 1100 }),
        ),
        (bytes) => {
          const r = decodeBttMessage(bytes);
          if (!r.ok) expect(Object.values(BttRejectCode)).toContain(r.code);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a btt handshake that breaks a rule is treated as absent (with the reason)', () => {
    const good = {
      v: 1n,
      addr: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4',
      ledger: 'l',
      token: 'BTT',
      reserve: '5',
    };
    const mk = (o: Record<string, unknown>) =>
      parseBttHandshake(new Map([['btt', decodeBencode(encode({ ...good, ...o } as never)) as never]]));
    expect(mk({})).toMatchObject({ v: 1, reserve: 5n });
    expect(mk({ v: 2n })).toMatchObject({ code: BttRejectCode.UNSUPPORTED_VERSION });
    expect(mk({ addr: 'Xnope' })).toMatchObject({ code: BttRejectCode.MALFORMED });
    expect(mk({ reserve: '05' })).toMatchObject({ code: BttRejectCode.MALFORMED });
    expect(mk({ ledger: 'x'.repeat(65) })).toMatchObject({ code: BttRejectCode.MALFORMED });
    expect(parseBttHandshake(new Map())).toBeUndefined();
    // voucher schemes: absent = ed25519 only; unknown names dropped; eip712 needs evm
    const evm = { chain: 199n, contract: rnd(20), addr: rnd(20) };
    expect(bttSchemesOf(mk({}) as BttHandshake)).toEqual(['ed25519-ledger']);
    expect(mk({ vs: ['eip712-bttc', 'ed25519-ledger'], evm })).toMatchObject({
      vs: ['eip712-bttc', 'ed25519-ledger'],
      evm: { chainId: 199, contract: `0x${toHex(evm.contract)}`, addr: `0x${toHex(evm.addr)}` },
    });
    expect(mk({ vs: ['future-scheme', 'ed25519-ledger', 'ed25519-ledger'] })).toMatchObject({
      vs: ['ed25519-ledger'],
    });
    expect(bttSchemesOf(mk({ vs: ['future-scheme'] }) as BttHandshake)).toEqual([]);
    for (const bad of [
      { vs: 'ed25519-ledger' },
      { vs: [] },
      { vs: Array(9).fill('ed25519-ledger') },
      { vs: [1n] },
      { vs: ['Bad Name'] },
      { vs: ['eip712-bttc'] },
      { vs: ['eip712-bttc'], evm: 'x' },
      { vs: ['eip712-bttc'], evm: { ...evm, chain: 0n } },
      { vs: ['eip712-bttc'], evm: { ...evm, chain: 2n ** 53n } },
      { vs: ['eip712-bttc'], evm: { ...evm, contract: rnd(19) } },
      { vs: ['eip712-bttc'], evm: { ...evm, addr: rnd(21) } },
      { vs: ['eip712-bttc'], evm: { chain: 199n, contract: rnd(20) } },
      { evm: { ...evm, addr: '0x12' } },
    ]) {
      expect(mk(bad)).toMatchObject({ code: BttRejectCode.MALFORMED });
    }
    // negotiation: our preference first, among what the peer offers
    const both = mk({ vs: ['ed25519-ledger', 'eip712-bttc'], evm }) as BttHandshake;
    expect(negotiateScheme(['eip712-bttc', 'ed25519-ledger'], both)).toBe('eip712-bttc');
    expect(negotiateScheme(['ed25519-ledger'], both)).toBe('ed25519-ledger');
    expect(negotiateScheme(['eip712-bttc'], mk({}) as BttHandshake)).toBeUndefined();
    // our own handshake: eip712 without evm, bad addresses, duplicates → refused
    const base = { v: 1, addr: good.addr, ledger: 'l', token: 'BTT', reserve: 0n };
    const evmInfo = { chainId: 199, contract: `0x${'ab'.repeat(20)}`, addr: `0x${'cd'.repeat(20)}` };
    expect(() => encodeBttHandshake({ ...base, vs: ['eip712-bttc'] })).toThrow();
    expect(() =>
      encodeBttHandshake({ ...base, vs: ['eip712-bttc'], evm: { ...evmInfo, contract: '0xAB' } }),
    ).toThrow();
    expect(() => encodeBttHandshake({ ...base, vs: ['ed25519-ledger', 'ed25519-ledger'] })).toThrow();
    expect(() => encodeBttHandshake({ ...base, vs: [] })).toThrow();
    expect(() => encodeBttHandshake({ ...base, vs: ['eip712-bttc'], evm: evmInfo })).not.toThrow();
  });
});

const hsA: BttHandshake = {
  v: 1,
  addr: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4',
  ledger: 'bttkit:local',
  token: 'BTT',
  reserve: 10n,
};
const hsB: BttHandshake = { ...hsA, addr: 'TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7', reserve: 10n ** 18n };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

for (const kind of ['memory', 'tcp'] as PairKind[]) {
  describe(`btt_speed between two PeerWires over ${kind}`, () => {
    it('exchanges the handshake and all five messages', async () => {
      let ea: BttSpeedExtension | undefined;
      let eb: BttSpeedExtension | undefined;
      const gotHs: BttHandshake[] = [];
      const p = await wirePair(kind, {}, {}, (a, b) => {
        ea = a.use(bttSpeed({ handshake: hsA }));
        eb = b.use(bttSpeed({ handshake: hsB }));
        ea.on('handshake', (h) => gotHs.push(h));
      });
      cleanups.push(p.done);
      if (!ea || !eb) throw new Error('extensions not registered');
      const a = ea;
      const b = eb;
      await until(() => a.active && b.active, 3000, 'btt handshakes');
      expect(a.peer).toEqual(hsB);
      expect(b.peer).toEqual(hsA);
      expect(gotHs).toEqual([hsB]);

      const ch = rnd(16);
      const sig = rnd(64);
      const seen: BttMessage[] = [];
      for (const e of ['bid', 'pay', 'reject'] as const) b.on(e, (m: BttMessage) => seen.push(m));
      for (const e of ['grant', 'ack'] as const) a.on(e, (m: BttMessage) => seen.push(m));
      a.bid(1, 2n ** 70n, ch);
      await until(() => seen.length === 1, 3000, 'bid');
      b.grant(1, 2n ** 69n, 1 << 20);
      await until(() => seen.length === 2, 3000, 'grant');
      a.pay(ch, 10n ** 40n, sig);
      await until(() => seen.length === 3, 3000, 'pay');
      b.ack(ch, 10n ** 40n);
      await until(() => seen.length === 4, 3000, 'ack');
      a.reject(BttRejectCode.RATE_LIMITED, 'slow down');
      await until(() => seen.length === 5, 3000, 'reject');
      expect(seen).toEqual([
        { t: 'bid', seq: 1, price: 2n ** 70n, ch },
        { t: 'grant', seq: 1, price: 2n ** 69n, credit: 1 << 20 },
        { t: 'pay', ch, amt: 10n ** 40n, sig },
        { t: 'ack', ch, amt: 10n ** 40n },
        { t: 'reject', code: 9, reason: 'slow down' },
      ]);
    });
  });
}

describe('btt_speed hostile and legacy peers', () => {
  it('answers malformed messages with reject 1, ignores unknown types, drops on the third', async () => {
    let ea: BttSpeedExtension | undefined;
    let eb: BttSpeedExtension | undefined;
    const p = await wirePair('memory', {}, {}, (a, b) => {
      ea = a.use(bttSpeed({ handshake: hsA }));
      eb = b.use(bttSpeed({ handshake: hsB }));
    });
    cleanups.push(p.done);
    if (!ea || !eb) throw new Error('extensions not registered');
    const a = ea;
    const b = eb;
    await until(() => a.active && b.active, 3000, 'btt handshakes');
    const rejects: number[] = [];
    a.on('reject', (m) => rejects.push(m.code));
    let bids = 0;
    b.on('bid', () => bids++);
    const raw = (bytes: Uint8Array) => rawExt(p.a, bytes);
    raw(fromHex('64333a616d74313a35313a74333a74697065')); // unknown type: ignored
    raw(fromHex('6c333a62696465')); // not a dict
    await until(() => rejects.length === 1, 3000, 'first reject');
    raw(fromHex('64333a616d74343a30313030323a636831363a00112233445566778899aabbccddeeff313a74333a61636b65'));
    await until(() => rejects.length === 2, 3000, 'second reject');
    expect(rejects).toEqual([1, 1]);
    expect(p.b.closed).toBe(false);
    const closed = next(p.b, 'close');
    raw(new Uint8Array([0x64]));
    expect((await closed)[0]?.code).toBe('WIRE_BTT_MALFORMED');
    expect(bids).toBe(0);
  });

  it('a peer without btt_speed is never sent a btt message', async () => {
    let ea: BttSpeedExtension | undefined;
    const p = await wirePair('memory', {}, {}, (a) => {
      ea = a.use(bttSpeed({ handshake: hsA }));
    });
    cleanups.push(p.done);
    if (!ea) throw new Error('extension not registered');
    expect(ea.active).toBe(false);
    expect(() => ea?.bid(1, 1n, rnd(16))).toThrow(expect.objectContaining({ code: 'WIRE_NOT_SUPPORTED' }));
    expect(p.a.closed || p.b.closed).toBe(false);
  });
});

/** Sends `payload` as a btt_speed message from `wire`, bypassing the codec (a hostile sender). */
function rawExt(wire: PeerWire, payload: Uint8Array): void {
  const id = wire.peerExtendedHandshake?.extensions.get('btt_speed');
  if (id === undefined) throw new Error('peer lacks btt_speed');
  const frame = new Uint8Array(6 + payload.length);
  new DataView(frame.buffer).setUint32(0, 2 + payload.length);
  frame[4] = 20;
  frame[5] = id;
  frame.set(payload, 6);
  wire.connection.write([frame]);
}
