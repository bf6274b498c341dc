/**
 * Voucher schemes keep `btt_speed` backward compatible: a verbatim copy of the codec before
 * schemes (test/wire/legacy/btt-speed-v1.ts) plays the old peer, in both directions, as codec
 * and over real wires.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decode as decodeBencode } from '../../src/metainfo/bencode.js';
import {
  type BttHandshake,
  type BttMessage,
  type BttSpeedExtension,
  bttSchemesOf,
  bttSpeed,
  decodeBttMessage,
  encodeBttHandshake,
  encodeBttMessage,
  negotiateScheme,
  parseBttHandshake,
} from '../../src/wire/index.js';
import { type PairKind, rnd, until, wirePair } from './helpers.js';
import * as legacy from './legacy/btt-speed-v1.js';

const arbAmt = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
const arbCounter = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const arbCh = fc.uint8Array({ minLength: 16, maxLength: 16 });
const arbOld: fc.Arbitrary<BttMessage> = fc.oneof(
  fc.record({ t: fc.constant('bid' as const), seq: arbCounter, price: arbAmt, ch: arbCh }),
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

const oldHs: BttHandshake = {
  v: 1,
  addr: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4',
  ledger: 'bttkit:local',
  token: 'BTT',
  reserve: 10n,
};
const newHs: BttHandshake = {
  ...oldHs,
  addr: 'TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7',
  vs: ['eip712-bttc', 'ed25519-ledger'],
  evm: {
    chainId: 199,
    contract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    addr: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
  },
};

describe('btt_speed codec: old and new peers', () => {
  it('ed25519-ledger messages are byte for byte the old ones, and decode the same both ways', () => {
    fc.assert(
      fc.property(arbOld, (m) => {
        const ours = encodeBttMessage(m);
        const theirs = legacy.encodeBttMessage(m as legacy.BttMessage);
        expect(ours).toEqual(theirs);
        expect(legacy.decodeBttMessage(ours)).toEqual({ ok: true, message: m });
        expect(decodeBttMessage(theirs)).toEqual({ ok: true, message: m });
      }),
      { numRuns: 300 },
    );
  });

  it('handshakes: the old parser reads ours (vs, evm ignored); ours reads the old one as ed25519 only', () => {
    const ours = decodeBencode(encodeBttHandshake(newHs)) as Map<string, never>;
    expect(legacy.parseBttHandshake(ours)).toEqual({ ...oldHs, addr: newHs.addr });
    const theirs = decodeBencode(legacy.encodeBttHandshake(oldHs)) as Map<string, never>;
    const parsed = parseBttHandshake(theirs) as BttHandshake;
    expect(parsed).toEqual(oldHs);
    expect(bttSchemesOf(parsed)).toEqual(['ed25519-ledger']);
    expect(negotiateScheme(['eip712-bttc', 'ed25519-ledger'], parsed)).toBe('ed25519-ledger');
    expect(negotiateScheme(['eip712-bttc'], parsed)).toBeUndefined();
    // and our handshake without schemes is the old one, byte for byte
    expect(encodeBttHandshake(oldHs)).toEqual(legacy.encodeBttHandshake(oldHs));
  });

  it('an eip712 message to an old peer is malformed there (which is why it is sent only to peers that list it)', () => {
    const m = encodeBttMessage({ t: 'ack', ch: rnd(32), amt: 1n, vs: 'eip712-bttc' });
    expect(legacy.decodeBttMessage(m)).toMatchObject({ ok: false, code: 1 });
  });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

for (const kind of ['memory', 'tcp'] as PairKind[]) {
  it(`an old peer and a new peer trade in ed25519-ledger over ${kind}`, async () => {
    let eOld: legacy.BttSpeedExtension | undefined;
    let eNew: BttSpeedExtension | undefined;
    const p = await wirePair(kind, {}, {}, (a, b) => {
      eOld = a.use(legacy.bttSpeed({ handshake: oldHs }));
      eNew = b.use(bttSpeed({ handshake: newHs }));
    });
    cleanups.push(p.done);
    if (!eOld || !eNew) throw new Error('extensions not registered');
    const old = eOld;
    const nu = eNew;
    await until(() => old.active && nu.active, 3000, 'btt handshakes');
    expect(old.peer).toEqual({ ...oldHs, addr: newHs.addr });
    expect(nu.peer).toEqual(oldHs);
    const scheme = negotiateScheme(['eip712-bttc', 'ed25519-ledger'], nu.peer as BttHandshake);
    expect(scheme).toBe('ed25519-ledger');

    const ch = rnd(16);
    const sig = rnd(64);
    const seen: unknown[] = [];
    nu.on('bid', (m) => seen.push(m));
    nu.on('pay', (m) => seen.push(m));
    old.on('grant', (m) => seen.push(m));
    old.on('ack', (m) => seen.push(m));
    old.on('reject', (m) => seen.push(m));
    old.bid(1, 5n, ch);
    await until(() => seen.length === 1, 3000, 'bid');
    nu.grant(1, 4n, 1 << 20);
    await until(() => seen.length === 2, 3000, 'grant');
    old.pay(ch, 77n, sig);
    await until(() => seen.length === 3, 3000, 'pay');
    nu.ack(ch, 77n, scheme);
    await until(() => seen.length === 4, 3000, 'ack');
    expect(seen).toEqual([
      { t: 'bid', seq: 1, price: 5n, ch },
      { t: 'grant', seq: 1, price: 4n, credit: 1 << 20 },
      { t: 'pay', ch, amt: 77n, sig },
      { t: 'ack', ch, amt: 77n },
    ]);
    expect(p.a.closed || p.b.closed).toBe(false);
  });
}

it('two new peers negotiate eip712-bttc and trade 32-byte channels and 65-byte signatures', async () => {
  let ea: BttSpeedExtension | undefined;
  let eb: BttSpeedExtension | undefined;
  const p = await wirePair('memory', {}, {}, (a, b) => {
    ea = a.use(bttSpeed({ handshake: newHs }));
    eb = b.use(bttSpeed({ handshake: { ...newHs, addr: oldHs.addr } }));
  });
  cleanups.push(p.done);
  if (!ea || !eb) throw new Error('extensions not registered');
  const a = ea;
  const b = eb;
  await until(() => a.active && b.active, 3000, 'btt handshakes');
  expect(b.peer?.evm).toEqual(newHs.evm);
  const vs = negotiateScheme(['eip712-bttc'], b.peer as BttHandshake);
  expect(vs).toBe('eip712-bttc');
  const ch = rnd(32);
  const sig = rnd(65);
  const seen: unknown[] = [];
  a.on('bid', (m) => seen.push(m));
  a.on('pay', (m) => seen.push(m));
  b.on('ack', (m) => seen.push(m));
  b.bid(3, 9n, ch, vs);
  b.pay(ch, 9n, sig, vs);
  await until(() => seen.length === 2, 3000, 'bid and pay');
  a.ack(ch, 9n, vs);
  await until(() => seen.length === 3, 3000, 'ack');
  expect(seen).toEqual([
    { t: 'bid', seq: 3, price: 9n, ch, vs },
    { t: 'pay', ch, amt: 9n, sig, vs },
    { t: 'ack', ch, amt: 9n, vs },
  ]);
});
