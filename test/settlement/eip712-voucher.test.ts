/**
 * EIP-712 vouchers (src/settlement/bttc/voucher.ts, no viem) cross-checked against viem:
 * hashTypedData, signTypedData, recoverTypedDataAddress, encodeAbiParameters + keccak256,
 * getAddress — on fixed vectors (docs/btt-extension.md) and on random inputs; hostile signatures
 * give typed errors only.
 */
import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import {
  encodeAbiParameters,
  getAddress,
  type Hex,
  hashTypedData,
  keccak256,
  recoverTypedDataAddress,
  toHex as viemToHex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import {
  addressFromBytes,
  addressOfPrivateKey,
  addressToBytes,
  checkEvmAddress,
  isEvmAddress,
  toChecksumAddress,
} from '../../src/settlement/bttc/address.js';
import {
  channelIdFor,
  domainSeparator,
  EIP712_DOMAIN_NAME,
  EIP712_DOMAIN_VERSION,
  type Eip712Voucher,
  Eip712VoucherSigner,
  Eip712VoucherVerifier,
  MAX_UINT256,
  recoverDigestSigner,
  recoverVoucherSigner,
  signEip712Voucher,
  type VoucherDomain,
  verifyEip712VoucherSignature,
  voucherDigest,
  ZERO_ADDRESS,
} from '../../src/settlement/bttc/voucher.js';
import { SettlementError } from '../../src/settlement/errors.js';
import { fromHex, toHex } from '../../src/util/bytes.js';

const N = secp256k1.Point.Fn.ORDER;
const hex = (b: Uint8Array): Hex => `0x${toHex(b)}`;

const types = {
  Voucher: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'amount', type: 'uint256' },
  ],
} as const;

function viemDomain(d: VoucherDomain) {
  return {
    name: EIP712_DOMAIN_NAME,
    version: EIP712_DOMAIN_VERSION,
    chainId: d.chainId,
    verifyingContract: d.verifyingContract as Hex,
  };
}

function viemDigest(d: VoucherDomain, channelId: string, amount: bigint): string {
  return hashTypedData({
    domain: viemDomain(d),
    types,
    primaryType: 'Voucher',
    message: { channelId: channelId as Hex, amount },
  });
}

async function viemSign(
  key: Uint8Array,
  d: VoucherDomain,
  channelId: string,
  amount: bigint,
): Promise<string> {
  return privateKeyToAccount(hex(key)).signTypedData({
    domain: viemDomain(d),
    types,
    primaryType: 'Voucher',
    message: { channelId: channelId as Hex, amount },
  });
}

function viemChannelId(payer: string, payee: string, token: string, signer: string, salt: string): string {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'address' },
        { type: 'address' },
        { type: 'address' },
        { type: 'address' },
        { type: 'bytes32' },
      ],
      [payer as Hex, payee as Hex, token as Hex, signer as Hex, salt as Hex],
    ),
  );
}

/** Asserts `fn` throws a SettlementError with `code` (and nothing else). */
function expectCode(fn: () => unknown, code: string, reason?: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SettlementError);
  expect((err as SettlementError).code).toBe(code);
  if (reason) expect((err as SettlementError).details.reason).toBe(reason);
}

// ---- fixed vectors, read from the spec ----

interface VoucherVector {
  name: string;
  fields: Map<string, string>;
}

function readVoucherVectors(): VoucherVector[] {
  const md = readFileSync(new URL('../../docs/btt-extension.md', import.meta.url), 'utf8');
  const out: VoucherVector[] = [];
  for (const block of md.matchAll(/```text\n(eip712: [\s\S]*?)```/g)) {
    const fields = new Map<string, string>();
    for (const line of (block[1] ?? '').trim().split('\n')) {
      const i = line.indexOf(': ');
      fields.set(line.slice(0, i), line.slice(i + 2));
    }
    out.push({ name: fields.get('eip712') ?? '', fields });
  }
  return out;
}

describe('eip712-bttc vectors (docs/btt-extension.md) against viem', () => {
  const vectors = readVoucherVectors();
  const get = (v: VoucherVector, k: string): string => {
    const x = v.fields.get(k);
    if (x === undefined) throw new Error(`vector ${v.name} lacks ${k}`);
    return x;
  };

  it('the spec has a channel-id vector and voucher vectors for 0, 1 BTT and 2^256-1 on chain 199', () => {
    const names = vectors.map((v) => v.name);
    expect(names).toContain('channel-id');
    const amounts = vectors.filter((v) => v.fields.has('amount')).map((v) => get(v, 'amount'));
    expect(amounts).toEqual(expect.arrayContaining(['0', '1000000000000000000', MAX_UINT256.toString()]));
    for (const v of vectors.filter((x) => x.fields.has('amount'))) expect(get(v, 'chainId')).toBe('199');
  });

  for (const v of vectors) {
    it(`vector ${v.name}`, async () => {
      if (v.name === 'channel-id') {
        const input = {
          payer: get(v, 'payer'),
          payee: get(v, 'payee'),
          token: get(v, 'token'),
          signer: get(v, 'signer'),
          salt: get(v, 'salt'),
        };
        expect(channelIdFor(input)).toBe(get(v, 'channelId'));
        expect(viemChannelId(input.payer, input.payee, input.token, input.signer, input.salt)).toBe(
          get(v, 'channelId'),
        );
        return;
      }
      const key = fromHex(get(v, 'key').slice(2));
      const domain = { chainId: Number(get(v, 'chainId')), verifyingContract: get(v, 'contract') };
      const channelId = get(v, 'channelId');
      const amount = BigInt(get(v, 'amount'));
      expect(addressOfPrivateKey(key)).toBe(get(v, 'signer'));
      expect(hex(domainSeparator(domain))).toBe(get(v, 'domainSeparator'));
      const digest = hex(voucherDigest(domain, channelId, amount));
      expect(digest).toBe(get(v, 'digest'));
      expect(viemDigest(domain, channelId, amount)).toBe(get(v, 'digest'));
      const ours = signEip712Voucher(key, domain, channelId, amount);
      expect(hex(ours.signature)).toBe(get(v, 'signature'));
      expect(await viemSign(key, domain, channelId, amount)).toBe(get(v, 'signature'));
      expect(recoverVoucherSigner(domain, ours)).toBe(get(v, 'signer'));
    });
  }
});

// ---- random inputs against viem ----

const arbKey = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .filter((k) => secp256k1.utils.isValidSecretKey(k));
const arbAddress = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => `0x${toHex(b)}`);
const arb32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${toHex(b)}`);
const arbAmount = fc.oneof(
  fc.constantFrom(0n, 1n, MAX_UINT256, MAX_UINT256 - 1n, 10n ** 18n),
  fc.bigInt({ min: 0n, max: MAX_UINT256 }),
);
const arbDomain = fc.record({
  chainId: fc.oneof(fc.constantFrom(199, 1029, 1), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
  verifyingContract: arbAddress,
});

describe('eip712 vouchers against viem, random inputs', () => {
  it('digest, signature and recovered address equal viem’s', async () => {
    await fc.assert(
      fc.asyncProperty(arbKey, arbDomain, arb32, arbAmount, async (key, domain, channelId, amount) => {
        const digest = hex(voucherDigest(domain, channelId, amount));
        expect(digest).toBe(viemDigest(domain, channelId, amount));
        const v = signEip712Voucher(key, domain, channelId, amount);
        const theirs = await viemSign(key, domain, channelId, amount);
        expect(hex(v.signature)).toBe(theirs);
        const signer = addressOfPrivateKey(key);
        expect(signer).toBe(privateKeyToAccount(hex(key)).address);
        expect(
          await recoverTypedDataAddress({
            domain: viemDomain(domain),
            types,
            primaryType: 'Voucher',
            message: { channelId: channelId as Hex, amount },
            signature: theirs as Hex,
          }),
        ).toBe(signer);
        expect(recoverVoucherSigner(domain, v)).toBe(signer);
        expect(verifyEip712VoucherSignature(domain, signer, v)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('channel ids equal keccak256(abi.encode(payer, payee, token, signer, salt))', () => {
    fc.assert(
      fc.property(
        arbAddress,
        arbAddress,
        arbAddress,
        arbAddress,
        arb32,
        (payer, payee, token, signer, salt) => {
          expect(channelIdFor({ payer, payee, token, signer, salt })).toBe(
            viemChannelId(payer, payee, token, signer, salt),
          );
        },
      ),
      { numRuns: 100 },
    );
    const a = '0x1111111111111111111111111111111111111111';
    const native = channelIdFor({
      payer: a,
      payee: a,
      token: ZERO_ADDRESS,
      signer: a,
      salt: `0x${'00'.repeat(32)}`,
    });
    expect(native).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('addresses: EIP-55 as viem’s getAddress; mixed case with a bad checksum refused', () => {
    fc.assert(
      fc.property(arbAddress, (a) => {
        const sum = getAddress(a);
        expect(toChecksumAddress(a)).toBe(sum);
        expect(checkEvmAddress(a.toLowerCase())).toBe(sum);
        expect(checkEvmAddress(`0x${a.slice(2).toUpperCase()}`)).toBe(sum);
        expect(checkEvmAddress(sum)).toBe(sum);
        expect(addressFromBytes(addressToBytes(sum))).toBe(sum);
      }),
      { numRuns: 100 },
    );
    const good = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
    expect(checkEvmAddress(good)).toBe(good);
    expectCode(() => checkEvmAddress('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'), 'SETTLEMENT_BAD_ADDRESS');
    for (const bad of [
      '',
      '0x',
      '5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      `0x${'g'.repeat(40)}`,
      `0x${'1'.repeat(41)}`,
      7,
      null,
    ]) {
      expectCode(() => checkEvmAddress(bad), 'SETTLEMENT_BAD_ADDRESS');
      expect(isEvmAddress(bad)).toBe(false);
    }
    expectCode(() => addressFromBytes(new Uint8Array(19)), 'SETTLEMENT_BAD_ADDRESS');
  });
});

// ---- signer and verifier ----

const KEY = fromHex('59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const OTHER = fromHex('5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');
const DOMAIN: VoucherDomain = {
  chainId: 199,
  verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
};
const CH = `0x${'ab'.repeat(32)}`;

function pair(deposit = 1000n, redeemed = 0n) {
  const signer = new Eip712VoucherSigner({ privateKey: KEY, domain: DOMAIN, channelId: CH, deposit });
  const verifier = new Eip712VoucherVerifier({
    domain: DOMAIN,
    channelId: CH,
    signer: addressOfPrivateKey(KEY),
    deposit,
    redeemed,
  });
  return { signer, verifier };
}

/** A copy of `v` whose signature has byte `i` set to `b`. */
function withSig(v: Eip712Voucher, sig: Uint8Array): Eip712Voucher {
  return { ...v, signature: sig };
}

/** (r, s, v) → 65 bytes. */
function sigOf(r: bigint, s: bigint, v: number): Uint8Array {
  const out = new Uint8Array(65);
  out.set(fromHex(r.toString(16).padStart(64, '0')), 0);
  out.set(fromHex(s.toString(16).padStart(64, '0')), 32);
  out[64] = v;
  return out;
}

function rsv(sig: Uint8Array): { r: bigint; s: bigint; v: number } {
  return {
    r: BigInt(`0x${toHex(sig.subarray(0, 32))}`),
    s: BigInt(`0x${toHex(sig.subarray(32, 64))}`),
    v: sig[64] as number,
  };
}

describe('Eip712VoucherSigner / Eip712VoucherVerifier', () => {
  it('cumulative vouchers within the deposit; only increasing ones accepted', () => {
    const { signer, verifier } = pair(100n);
    const v1 = signer.pay(10n);
    const v2 = signer.pay(15n);
    expect(v2.amount).toBe(25n);
    expect(signer.cumulative).toBe(25n);
    expect(verifier.accept(v1)).toBe(10n);
    expect(verifier.accept(v2)).toBe(15n);
    expectCode(() => verifier.accept(v1), 'SETTLEMENT_VOUCHER_NOT_INCREASING');
    expectCode(() => verifier.accept(v2), 'SETTLEMENT_VOUCHER_NOT_INCREASING');
    expectCode(() => signer.pay(76n), 'SETTLEMENT_VOUCHER_EXCEEDS_DEPOSIT');
    expect(signer.cumulative).toBe(25n);
    const over = signEip712Voucher(KEY, DOMAIN, CH, 101n);
    expectCode(() => verifier.accept(over), 'SETTLEMENT_VOUCHER_EXCEEDS_DEPOSIT');
    verifier.topUp(200n);
    expect(verifier.accept(over)).toBe(76n);
    expect(verifier.best).toBe(over);
    expectCode(() => signer.pay(-1n), 'SETTLEMENT_BAD_AMOUNT');
  });

  it('already redeemed: a voucher must exceed it', () => {
    const { verifier } = pair(100n, 40n);
    expect(verifier.cumulative).toBe(40n);
    expectCode(
      () => verifier.accept(signEip712Voucher(KEY, DOMAIN, CH, 40n)),
      'SETTLEMENT_VOUCHER_NOT_INCREASING',
    );
    expect(verifier.accept(signEip712Voucher(KEY, DOMAIN, CH, 41n))).toBe(1n);
  });

  it('offer + verifyNewest: only the newest is verified; a bad newest is dropped with a typed error', () => {
    const { signer, verifier } = pair(1000n);
    for (let i = 0; i < 5; i++) verifier.offer(signer.pay(10n));
    expect(verifier.offered).toBe(50n);
    expect(verifier.cumulative).toBe(0n);
    expect(verifier.verifyNewest()).toBe(50n);
    expect(verifier.verifyNewest()).toBe(50n); // nothing pending
    const forged = signEip712Voucher(OTHER, DOMAIN, CH, 60n);
    verifier.offer(forged);
    expectCode(() => verifier.verifyNewest(), 'SETTLEMENT_VOUCHER_BAD_SIGNATURE', 'signer');
    expect(verifier.cumulative).toBe(50n);
    expect(verifier.offered).toBe(50n);
  });

  it('the fast path (after the first recovery) refuses what ecrecover would not return the signer for', () => {
    const { signer, verifier } = pair(10n ** 6n);
    verifier.accept(signer.pay(1n)); // first: recovery, then precomputed tables
    let amount = 1n;
    for (let i = 0; i < 20; i++) {
      amount += 1n;
      const good = signEip712Voucher(KEY, DOMAIN, CH, amount);
      const { r, s, v } = rsv(good.signature);
      // v flipped: a valid signature of another key — the contract would recover another address.
      expectCode(
        () => verifier.accept(withSig(good, sigOf(r, s, v === 27 ? 28 : 27))),
        'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
      );
      // another key, another chain, another contract, another amount
      expectCode(
        () => verifier.accept(signEip712Voucher(OTHER, DOMAIN, CH, amount)),
        'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
      );
      expectCode(
        () => verifier.accept({ ...signEip712Voucher(KEY, { ...DOMAIN, chainId: 1029 }, CH, amount) }),
        'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
      );
      expectCode(
        () =>
          verifier.accept(
            signEip712Voucher(
              KEY,
              { ...DOMAIN, verifyingContract: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512' },
              CH,
              amount,
            ),
          ),
        'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
      );
      expectCode(() => verifier.accept({ ...good, amount: amount + 1n }), 'SETTLEMENT_VOUCHER_BAD_SIGNATURE');
      expect(verifier.accept(good)).toBe(1n);
    }
  });

  it('the fast path agrees with recovery on random keys, amounts and tampering', () => {
    fc.assert(
      fc.property(arbKey, fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.nat(65 * 8 - 1), (key, amount, bit) => {
        const addr = addressOfPrivateKey(key);
        const ver = new Eip712VoucherVerifier({
          domain: DOMAIN,
          channelId: CH,
          signer: addr,
          deposit: MAX_UINT256,
        });
        ver.accept(signEip712Voucher(key, DOMAIN, CH, 1n)); // builds the fast path
        const v = signEip712Voucher(key, DOMAIN, CH, amount + 1n);
        const sig = v.signature.slice();
        sig[bit >> 3] = (sig[bit >> 3] as number) ^ (1 << (bit & 7));
        const tampered = withSig(v, sig);
        let byRecovery: boolean;
        try {
          byRecovery = recoverVoucherSigner(DOMAIN, tampered) === addr;
        } catch {
          byRecovery = false;
        }
        let byFast: boolean;
        try {
          ver.accept(tampered);
          byFast = true;
        } catch (err) {
          expect(err).toBeInstanceOf(SettlementError);
          byFast = false;
        }
        expect(byFast).toBe(byRecovery);
        expect(byFast).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('a voucher of another channel is refused', () => {
    const { verifier } = pair();
    const other = signEip712Voucher(KEY, DOMAIN, `0x${'cd'.repeat(32)}`, 5n);
    expectCode(() => verifier.accept(other), 'SETTLEMENT_VOUCHER_BAD_SIGNATURE', 'channel');
    expectCode(() => verifier.offer(other), 'SETTLEMENT_VOUCHER_BAD_SIGNATURE', 'channel');
  });

  it('bad constructor inputs give typed errors', () => {
    expectCode(
      () =>
        new Eip712VoucherSigner({
          privateKey: new Uint8Array(32),
          domain: DOMAIN,
          channelId: CH,
          deposit: 1n,
        }),
      'SETTLEMENT_BAD_KEY',
    );
    expectCode(
      () =>
        new Eip712VoucherSigner({
          privateKey: fromHex('ff'.repeat(32)),
          domain: DOMAIN,
          channelId: CH,
          deposit: 1n,
        }),
      'SETTLEMENT_BAD_KEY',
    );
    expectCode(
      () => new Eip712VoucherSigner({ privateKey: KEY, domain: DOMAIN, channelId: '0x12', deposit: 1n }),
      'SETTLEMENT_BAD_CHANNEL_ID',
    );
    expectCode(
      () =>
        new Eip712VoucherSigner({
          privateKey: KEY,
          domain: { ...DOMAIN, chainId: 0 },
          channelId: CH,
          deposit: 1n,
        }),
      'SETTLEMENT_BAD_OPTIONS',
    );
    expectCode(
      () =>
        new Eip712VoucherSigner({
          privateKey: KEY,
          domain: { ...DOMAIN, chainId: 1.5 },
          channelId: CH,
          deposit: 1n,
        }),
      'SETTLEMENT_BAD_OPTIONS',
    );
    expectCode(
      () =>
        new Eip712VoucherSigner({
          privateKey: KEY,
          domain: DOMAIN,
          channelId: CH,
          deposit: MAX_UINT256 + 1n,
        }),
      'SETTLEMENT_BAD_AMOUNT',
    );
    expectCode(
      () => new Eip712VoucherVerifier({ domain: DOMAIN, channelId: CH, signer: '0x1234', deposit: 1n }),
      'SETTLEMENT_BAD_ADDRESS',
    );
    expectCode(
      () =>
        new Eip712VoucherVerifier({
          domain: { ...DOMAIN, verifyingContract: 'nope' },
          channelId: CH,
          signer: ZERO_ADDRESS,
          deposit: 1n,
        }),
      'SETTLEMENT_BAD_ADDRESS',
    );
    expectCode(() => voucherDigest(DOMAIN, CH, -1n), 'SETTLEMENT_BAD_AMOUNT');
    expectCode(() => voucherDigest(DOMAIN, new Uint8Array(31), 1n), 'SETTLEMENT_BAD_CHANNEL_ID');
  });
});

describe('hostile signatures: typed errors, never anything else', () => {
  const good = signEip712Voucher(KEY, DOMAIN, CH, 7n);
  const { r, s, v } = rsv(good.signature);
  const digest = voucherDigest(DOMAIN, CH, 7n);
  // x = 5 is not the x of a curve point (5³ + 7 = 132 is not a square mod p).
  const cases: [string, unknown, string][] = [
    ['empty', new Uint8Array(0), 'length'],
    ['64 bytes', good.signature.subarray(0, 64), 'length'],
    ['66 bytes', new Uint8Array([...good.signature, 0]), 'length'],
    ['a hex string', viemToHex(good.signature), 'length'],
    ['v = 0', sigOf(r, s, v - 27), 'v'],
    ['v = 1', sigOf(r, s, 1), 'v'],
    ['v = 29', sigOf(r, s, 29), 'v'],
    ['high s (n − s, the malleable twin)', sigOf(r, N - s, v === 27 ? 28 : 27), 'high-s'],
    ['s = 0', sigOf(r, 0n, v), 's'],
    ['s = n', sigOf(r, N, v), 's'],
    ['s = 2^256 − 1', sigOf(r, MAX_UINT256, v), 's'],
    ['r = 0', sigOf(0n, s, v), 'r'],
    ['r = n', sigOf(N, s, v), 'r'],
    ['r = 2^256 − 1', sigOf(MAX_UINT256, s, v), 'r'],
    ['r not on the curve', sigOf(5n, s, v), 'no-point'],
  ];

  it('the malleable twin really is valid for ecrecover without EIP-2 (so refusing it matters)', async () => {
    const twin = sigOf(r, N - s, v === 27 ? 28 : 27);
    const sig = secp256k1.Signature.fromBytes(twin.subarray(0, 64), 'compact').addRecoveryBit(
      (twin[64] as number) - 27,
    );
    const pub = sig.recoverPublicKey(digest).toBytes(false);
    expect(toHex(pub)).toBe(toHex(secp256k1.getPublicKey(KEY, false)));
  });

  for (const [name, sig, reason] of cases) {
    it(`${name} → SETTLEMENT_VOUCHER_BAD_SIGNATURE (${reason})`, () => {
      const bad = { ...good, signature: sig as Uint8Array };
      expectCode(
        () => recoverDigestSigner(digest, sig as Uint8Array),
        'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
        reason,
      );
      expectCode(() => recoverVoucherSigner(DOMAIN, bad), 'SETTLEMENT_VOUCHER_BAD_SIGNATURE', reason);
      expect(verifyEip712VoucherSignature(DOMAIN, addressOfPrivateKey(KEY), bad)).toBe(false);
      const { verifier } = pair();
      expectCode(() => verifier.accept(bad), 'SETTLEMENT_VOUCHER_BAD_SIGNATURE', reason);
      // with the fast path built too (it does not look for the point R: 'no-point' shows as 'signer')
      verifier.accept(signEip712Voucher(KEY, DOMAIN, CH, 1n));
      expectCode(
        () => verifier.accept(bad),
        'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
        reason === 'no-point' ? 'signer' : reason,
      );
    });
  }

  it('random signatures and fields throw only SettlementError', () => {
    const { signer, verifier } = pair(MAX_UINT256);
    verifier.accept(signer.pay(1n));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 70 }),
          fc.uint8Array({ minLength: 65, maxLength: 65 }),
        ),
        fc.oneof(fc.bigInt({ min: -5n, max: MAX_UINT256 + 5n }), fc.constant(3 as unknown as bigint)),
        fc.oneof(fc.constant(CH), arb32, fc.string(), fc.constant(42 as unknown as string)),
        (sig, amount, channelId) => {
          const voucher = { channelId, amount, signature: sig };
          for (const f of [
            () => verifier.offer(voucher),
            () => verifier.accept(voucher),
            () => verifier.verifyNewest(),
          ]) {
            try {
              f();
            } catch (err) {
              expect(err).toBeInstanceOf(SettlementError);
            }
          }
          expect(typeof verifyEip712VoucherSignature(DOMAIN, addressOfPrivateKey(KEY), voucher)).toBe(
            'boolean',
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
