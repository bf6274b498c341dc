import { describe, expect, it } from 'vitest';
import {
  authorizationMessage,
  authorizeChannel,
  ChannelKey,
  channelIdFor,
  LedgerError,
  setSignatureBackend,
  signVoucher,
  VoucherSigner,
  VoucherVerifier,
  verifyAuthorization,
  verifyVoucherSignature,
  voucherMessage,
} from '../../src/ledger/index.js';
import { toHex } from '../../src/util/bytes.js';
import { account } from './world.js';

const SEED = '01'.repeat(32);

describe('vouchers', () => {
  it('have a pinned encoding (test vector)', () => {
    const ck = ChannelKey.fromSeed(SEED);
    const id = channelIdFor('L1', ck.publicKey);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const msg = voucherMessage('L1', '00112233445566778899aabbccddeeff', 10n ** 18n);
    expect(toHex(msg)).toBe(
      // "bttkit/voucher/v1\0" ‖ 02 "L1" ‖ channel id ‖ u256 1e18
      `${toHex(new TextEncoder().encode('bttkit/voucher/v1'))}00` +
        '02' +
        '4c31' +
        '00112233445566778899aabbccddeeff' +
        '0000000000000000000000000000000000000000000000000de0b6b3a7640000',
    );
    expect(msg.length).toBe(18 + 1 + 2 + 16 + 32);
  });

  it('sign identically through node:crypto and noble, and verify on both', () => {
    const ck = ChannelKey.fromSeed(SEED);
    const id = channelIdFor('L1', ck.publicKey);
    setSignatureBackend('node');
    const a = signVoucher(ck, 'L1', id, 12345n);
    setSignatureBackend('noble');
    const b = signVoucher(ck, 'L1', id, 12345n);
    expect(toHex(a.signature)).toBe(toHex(b.signature));
    expect(verifyVoucherSignature(ck.publicKey, a)).toBe(true);
    setSignatureBackend('node');
    expect(verifyVoucherSignature(ck.publicKey, b)).toBe(true);
  });

  for (const backend of ['node', 'noble'] as const) {
    it(`refuse tampering of every field (${backend})`, () => {
      setSignatureBackend(backend);
      try {
        const ck = ChannelKey.generate();
        const id = channelIdFor('L1', ck.publicKey);
        const v = signVoucher(ck, 'L1', id, 500n);
        expect(verifyVoucherSignature(ck.publicKey, v)).toBe(true);
        expect(verifyVoucherSignature(ck.publicKey, { ...v, cumulative: 501n })).toBe(false);
        expect(verifyVoucherSignature(ck.publicKey, { ...v, ledgerId: 'L2' })).toBe(false);
        expect(verifyVoucherSignature(ck.publicKey, { ...v, channelId: '0'.repeat(32) })).toBe(false);
        expect(verifyVoucherSignature(ChannelKey.generate().publicKey, v)).toBe(false);
        const bad = v.signature.slice();
        bad[0] = (bad[0] as number) ^ 0x80;
        expect(verifyVoucherSignature(ck.publicKey, { ...v, signature: bad })).toBe(false);
        expect(verifyVoucherSignature(ck.publicKey, { ...v, signature: v.signature.subarray(1) })).toBe(
          false,
        );
        expect(verifyVoucherSignature(ck.publicKey, { ...v, cumulative: -1n })).toBe(false);
      } finally {
        setSignatureBackend('node');
      }
    });
  }

  it('VoucherSigner and VoucherVerifier: only increasing, within the lock, right channel and ledger', () => {
    const ck = ChannelKey.generate();
    const id = channelIdFor('L1', ck.publicKey);
    const signer = new VoucherSigner(ck, 'L1', id, 100n);
    const verifier = new VoucherVerifier(ck.publicKey, 'L1', id, 100n);
    const v1 = signer.pay(30n);
    expect(verifier.accept(v1)).toBe(30n);
    const v2 = signer.pay(20n);
    expect(verifier.accept(v2)).toBe(20n);
    expect(verifier.cumulative).toBe(50n);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof LedgerError ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(() => verifier.accept(v1))).toBe('LEDGER_VOUCHER_NOT_INCREASING');
    expect(code(() => verifier.accept(v2))).toBe('LEDGER_VOUCHER_NOT_INCREASING');
    expect(code(() => signer.pay(51n))).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
    expect(code(() => verifier.accept(signVoucher(ck, 'L1', id, 101n)))).toBe(
      'LEDGER_VOUCHER_EXCEEDS_LOCKED',
    );
    expect(code(() => verifier.accept(signVoucher(ck, 'L2', id, 60n)))).toBe('LEDGER_VOUCHER_WRONG_LEDGER');
    const other = ChannelKey.generate();
    const otherId = channelIdFor('L1', other.publicKey);
    expect(code(() => verifier.accept(signVoucher(other, 'L1', otherId, 60n)))).toBe(
      'LEDGER_VOUCHER_BAD_SIGNATURE',
    );
    expect(code(() => verifier.accept(signVoucher(other, 'L1', id, 60n)))).toBe(
      'LEDGER_VOUCHER_BAD_SIGNATURE',
    );
    expect(verifier.best?.cumulative).toBe(50n);
  });

  it('offer() records the newest voucher cheaply; verifyNewest() checks only that one', () => {
    const ck = ChannelKey.generate();
    const id = channelIdFor('L1', ck.publicKey);
    const signer = new VoucherSigner(ck, 'L1', id, 1000n);
    const verifier = new VoucherVerifier(ck.publicKey, 'L1', id, 1000n);
    for (let i = 0; i < 10; i++) verifier.offer(signer.pay(10n));
    expect(verifier.offered).toBe(100n);
    expect(verifier.cumulative).toBe(0n);
    expect(verifier.verifyNewest()).toBe(100n);
    expect(verifier.best?.cumulative).toBe(100n);
    expect(() => verifier.offer(signVoucher(ck, 'L1', id, 100n))).toThrow(LedgerError);
    // a forged newest voucher is caught at verification and dropped
    const forged = { ...signVoucher(ChannelKey.generate(), 'L1', id, 500n) };
    verifier.offer(forged);
    expect(() => verifier.verifyNewest()).toThrow(LedgerError);
    expect(verifier.cumulative).toBe(100n);
    expect(verifier.offered).toBe(100n);
  });

  it('raise(): a top-up lifts the bound of the signer and the verifier; never down, equal is a no-op', () => {
    const ck = ChannelKey.generate();
    const id = channelIdFor('L1', ck.publicKey);
    const signer = new VoucherSigner(ck, 'L1', id, 100n);
    const verifier = new VoucherVerifier(ck.publicKey, 'L1', id, 100n);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof LedgerError ? e.code : 'other';
      }
      return 'none';
    };
    expect(verifier.accept(signer.pay(100n))).toBe(100n);
    expect(code(() => signer.pay(1n))).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
    const above = signVoucher(ck, 'L1', id, 150n);
    expect(code(() => verifier.accept(above))).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
    expect(code(() => verifier.offer(above))).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');

    signer.raise(160n);
    verifier.raise(160n);
    expect(signer.locked).toBe(160n);
    expect(verifier.locked).toBe(160n);
    expect(verifier.accept(above)).toBe(50n);
    const next = signer.pay(60n);
    expect(next.cumulative).toBe(160n);
    verifier.offer(next);
    expect(verifier.verifyNewest()).toBe(160n);
    expect(code(() => signer.pay(1n))).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
    expect(code(() => verifier.accept(signVoucher(ck, 'L1', id, 161n)))).toBe(
      'LEDGER_VOUCHER_EXCEEDS_LOCKED',
    );

    // Equal: nothing changes. Lower, negative, above 2^256-1 or not a bigint: LEDGER_BAD_AMOUNT, bound kept.
    signer.raise(160n);
    verifier.raise(160n);
    for (const bad of [159n, 0n, -1n, 2n ** 256n, 170 as unknown as bigint]) {
      expect(code(() => signer.raise(bad))).toBe('LEDGER_BAD_AMOUNT');
      expect(code(() => verifier.raise(bad))).toBe('LEDGER_BAD_AMOUNT');
    }
    expect(signer.locked).toBe(160n);
    expect(verifier.locked).toBe(160n);
    expect(signer.cumulative).toBe(160n);
    expect(verifier.cumulative).toBe(160n);
    // `locked` stays read-only to callers.
    // @ts-expect-error a getter without a setter
    expect(() => (signer.locked = 1000n)).toThrow(TypeError);
    // @ts-expect-error a getter without a setter
    expect(() => (verifier.locked = 1000n)).toThrow(TypeError);
  });

  it('channel authorizations bind every term', () => {
    const payer = account(0);
    const payee = account(1);
    const ck = ChannelKey.generate();
    const terms = {
      ledgerId: 'L1',
      payer: payer.address,
      payee: payee.address,
      channelKey: ck.publicKey,
      amount: 10n ** 20n,
      expiresAt: 1_800_000_000_000,
    };
    const auth = authorizeChannel(payer, terms);
    expect(verifyAuthorization(terms, auth)).toBe(true);
    expect(authorizationMessage(terms).length).toBe(23 + 1 + 2 + 16 + 21 + 21 + 32 + 32 + 8);
    expect(verifyAuthorization({ ...terms, amount: terms.amount + 1n }, auth)).toBe(false);
    expect(verifyAuthorization({ ...terms, expiresAt: terms.expiresAt + 1 }, auth)).toBe(false);
    expect(verifyAuthorization({ ...terms, payee: account(2).address }, auth)).toBe(false);
    expect(verifyAuthorization({ ...terms, ledgerId: 'L2' }, auth)).toBe(false);
    expect(verifyAuthorization({ ...terms, channelKey: ChannelKey.generate().publicKey }, auth)).toBe(false);
    expect(verifyAuthorization({ ...terms, payer: payee.address }, auth)).toBe(false);
    expect(() => authorizeChannel(payee, terms)).toThrow(LedgerError);
  });
});
