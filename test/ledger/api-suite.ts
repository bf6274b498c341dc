/**
 * The behavioural suite every LedgerApi implementation must pass: run against the embedded
 * ledger and against LedgerClient → LedgerService.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  authorizeChannel,
  ChannelKey,
  channelIdFor,
  type LedgerApi,
  type LedgerState,
  MAX_AMOUNT,
  signVoucher,
  type TronKey,
  VoucherSigner,
  VoucherVerifier,
} from '../../src/ledger/index.js';
import { codeOf, expectSound } from './helpers.js';
import { account, txid } from './world.js';

export interface ApiEnv {
  ledgerId: string;
  /** The API as used by the holder of `key`. */
  as(key: TronKey): LedgerApi;
  /** The API as used by the operator (deposits, settlements). */
  operator: LedgerApi;
  /** The ledger's state, for invariant checks. */
  state(): LedgerState;
  advance(ms: number): void;
  now(): number;
  close(): Promise<void>;
}

let seq = 0;
const key = (label: string) => `${label}-${++seq}`;

export function ledgerApiSuite(name: string, make: () => Promise<ApiEnv>): void {
  describe(`LedgerApi behaviour: ${name}`, () => {
    let env: ApiEnv;
    const alice = account(10);
    const bob = account(11);
    const carol = account(12);

    beforeEach(async () => {
      env = await make();
    });
    afterEach(async () => {
      expectSound(env.state());
      await env.close();
    });

    async function fund(who: TronKey, amount: bigint) {
      const t = txid(key('dep'));
      return env.operator.deposit({ account: who.address, amount, txid: t, idempotencyKey: t });
    }

    async function open(payer: TronKey, payee: TronKey, amount: bigint, ttl = 60_000) {
      const ck = ChannelKey.generate();
      const terms = {
        ledgerId: env.ledgerId,
        payer: payer.address,
        payee: payee.address,
        channelKey: ck.publicKey,
        amount,
        expiresAt: env.now() + ttl,
      };
      const r = await env.as(payer).openChannel({
        ...terms,
        authorization: authorizeChannel(payer, terms),
        idempotencyKey: key('open'),
      });
      return { ...r, ck, signer: new VoucherSigner(ck, env.ledgerId, r.channelId, amount) };
    }

    function topUp(by: TronKey, channelId: string, amount: bigint, idempotencyKey = key('t')) {
      return env.as(by).topUpChannel({ by: by.address, channelId, amount, idempotencyKey });
    }

    it('reports its id', async () => {
      expect((await env.as(alice).info()).ledgerId).toBe(env.ledgerId);
    });

    it('credits a deposit once per txid, with amounts beyond 2^53', async () => {
      const big = 2n ** 200n + 7n;
      const t = txid(key('dep'));
      await env.operator.deposit({ account: alice.address, amount: big, txid: t, idempotencyKey: t });
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(big);
      expect(
        await codeOf(() =>
          env.operator.deposit({ account: alice.address, amount: big, txid: t, idempotencyKey: 'other' }),
        ),
      ).toBe('LEDGER_DUPLICATE_DEPOSIT');
      const again = await env.operator.deposit({
        account: alice.address,
        amount: big,
        txid: t,
        idempotencyKey: t,
      });
      expect(again.amount).toBe(big);
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(big);
      expect((await env.operator.totals()).deposits).toBe(big);
    });

    it('full channel life: open, pay, redeem, close; funds move exactly', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 600n);
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 400n,
        locked: 600n,
      });
      ch.signer.pay(100n);
      const v = ch.signer.pay(150n);
      const r = await env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') });
      expect(r).toEqual({ channelId: ch.channelId, cumulative: 250n, credited: 250n });
      const r2 = await env
        .as(bob)
        .redeem({ by: bob.address, voucher: ch.signer.pay(50n), idempotencyKey: key('r') });
      expect(r2.credited).toBe(50n);
      const c = await env
        .as(bob)
        .closeChannel({ by: bob.address, channelId: ch.channelId, idempotencyKey: key('c') });
      expect(c).toEqual({ channelId: ch.channelId, paid: 300n, refunded: 300n });
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 700n,
        locked: 0n,
      });
      expect((await env.as(bob).getAccount(bob.address)).balance).toBe(300n);
      const view = await env.as(bob).getChannel(ch.channelId);
      expect(view?.status).toBe('closed');
      expect(view?.redeemed).toBe(300n);
    });

    it('repeats with the same idempotency key are no-ops returning the first result', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 500n);
      const v = ch.signer.pay(100n);
      const k = key('r');
      const first = await env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: k });
      const seqBefore = (await env.as(bob).info()).seq;
      const second = await env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: k });
      expect(second).toEqual(first);
      expect((await env.as(bob).info()).seq).toBe(seqBefore);
      expect((await env.as(bob).getAccount(bob.address)).balance).toBe(100n);
      const other = ch.signer.pay(1n);
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: other, idempotencyKey: k })),
      ).toBe('LEDGER_IDEMPOTENCY_MISMATCH');
    });

    it('a retried open (same key, same terms) returns the first channel', async () => {
      await fund(alice, 1000n);
      const ck = ChannelKey.generate();
      const terms = {
        ledgerId: env.ledgerId,
        payer: alice.address,
        payee: bob.address,
        channelKey: ck.publicKey,
        amount: 100n,
        expiresAt: env.now() + 60_000,
      };
      const k = key('open');
      const first = await env
        .as(alice)
        .openChannel({ ...terms, authorization: authorizeChannel(alice, terms), idempotencyKey: k });
      const seqBefore = (await env.as(alice).info()).seq;
      const again = await env
        .as(alice)
        .openChannel({ ...terms, authorization: authorizeChannel(alice, terms), idempotencyKey: k });
      expect(again).toEqual(first);
      expect((await env.as(alice).info()).seq).toBe(seqBefore);
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(900n);
    });

    it('rejects a forged voucher signature', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 500n);
      const forger = ChannelKey.generate();
      const forged = signVoucher(forger, env.ledgerId, ch.channelId, 100n);
      expect(
        await codeOf(() =>
          env.as(bob).redeem({ by: bob.address, voucher: forged, idempotencyKey: key('r') }),
        ),
      ).toBe('LEDGER_VOUCHER_BAD_SIGNATURE');
      expect((await env.as(bob).getAccount(bob.address)).balance).toBe(0n);
    });

    it("rejects a voucher for another channel (signed by that channel's key)", async () => {
      await fund(alice, 1000n);
      const a = await open(alice, bob, 300n);
      const b = await open(alice, bob, 300n);
      const forA = a.signer.pay(100n);
      const relabelled = { ...forA, channelId: b.channelId };
      expect(
        await codeOf(() =>
          env.as(bob).redeem({ by: bob.address, voucher: relabelled, idempotencyKey: key('r') }),
        ),
      ).toBe('LEDGER_VOUCHER_BAD_SIGNATURE');
      const crossSigned = signVoucher(a.ck, env.ledgerId, b.channelId, 100n);
      expect(
        await codeOf(() =>
          env.as(bob).redeem({ by: bob.address, voucher: crossSigned, idempotencyKey: key('r') }),
        ),
      ).toBe('LEDGER_VOUCHER_BAD_SIGNATURE');
    });

    it('rejects a voucher for another ledger', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      const v = signVoucher(ch.ck, 'some-other-ledger', ch.channelId, 100n);
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') })),
      ).toBe('LEDGER_VOUCHER_WRONG_LEDGER');
      const relabelled = { ...v, ledgerId: env.ledgerId };
      expect(
        await codeOf(() =>
          env.as(bob).redeem({ by: bob.address, voucher: relabelled, idempotencyKey: key('r') }),
        ),
      ).toBe('LEDGER_VOUCHER_BAD_SIGNATURE');
    });

    it('rejects a replayed voucher (same voucher, new idempotency key)', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      const v = ch.signer.pay(100n);
      await env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') });
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') })),
      ).toBe('LEDGER_VOUCHER_NOT_INCREASING');
      expect((await env.as(bob).getAccount(bob.address)).balance).toBe(100n);
    });

    it('rejects a non-increasing cumulative amount', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      await env.as(bob).redeem({
        by: bob.address,
        voucher: signVoucher(ch.ck, env.ledgerId, ch.channelId, 200n),
        idempotencyKey: key('r'),
      });
      const lower = signVoucher(ch.ck, env.ledgerId, ch.channelId, 150n);
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: lower, idempotencyKey: key('r') })),
      ).toBe('LEDGER_VOUCHER_NOT_INCREASING');
    });

    it('rejects a voucher above the locked amount', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      const v = signVoucher(ch.ck, env.ledgerId, ch.channelId, 301n);
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') })),
      ).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
      const exact = signVoucher(ch.ck, env.ledgerId, ch.channelId, 300n);
      expect(
        (await env.as(bob).redeem({ by: bob.address, voucher: exact, idempotencyKey: key('r') })).credited,
      ).toBe(300n);
    });

    it('rejects a redeem after close', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      const v = ch.signer.pay(100n);
      await env.as(bob).closeChannel({ by: bob.address, channelId: ch.channelId, idempotencyKey: key('c') });
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') })),
      ).toBe('LEDGER_CHANNEL_CLOSED');
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(1000n);
    });

    it('rejects opening a channel with insufficient balance', async () => {
      await fund(alice, 100n);
      expect(await codeOf(() => open(alice, bob, 101n))).toBe('LEDGER_INSUFFICIENT_FUNDS');
      expect(await codeOf(() => open(carol, bob, 1n))).toBe('LEDGER_INSUFFICIENT_FUNDS');
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 100n,
        locked: 0n,
      });
    });

    it('rejects an open whose authorization is not the payer’s', async () => {
      await fund(alice, 1000n);
      const ck = ChannelKey.generate();
      const terms = {
        ledgerId: env.ledgerId,
        payer: alice.address,
        payee: bob.address,
        channelKey: ck.publicKey,
        amount: 10n,
        expiresAt: env.now() + 60_000,
      };
      const auth = bob.sign(new Uint8Array(10));
      expect(
        await codeOf(() =>
          env.as(alice).openChannel({ ...terms, authorization: auth, idempotencyKey: key('o') }),
        ),
      ).toBe('LEDGER_BAD_AUTHORIZATION');
      const forOtherTerms = authorizeChannel(alice, { ...terms, amount: 1n });
      expect(
        await codeOf(() =>
          env.as(alice).openChannel({ ...terms, authorization: forOtherTerms, idempotencyKey: key('o') }),
        ),
      ).toBe('LEDGER_BAD_AUTHORIZATION');
      expect(channelIdFor(env.ledgerId, ck.publicKey)).toMatch(/^[0-9a-f]{32}$/);
    });

    it('lets only the payee redeem, and the payer close only after expiry', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n, 10_000);
      const v = ch.signer.pay(100n);
      expect(
        await codeOf(() => env.as(alice).redeem({ by: alice.address, voucher: v, idempotencyKey: key('r') })),
      ).toBe('LEDGER_NOT_PAYEE');
      expect(
        await codeOf(() =>
          env
            .as(carol)
            .closeChannel({ by: carol.address, channelId: ch.channelId, idempotencyKey: key('c') }),
        ),
      ).toBe('LEDGER_NOT_PARTY');
      expect(
        await codeOf(() =>
          env
            .as(alice)
            .closeChannel({ by: alice.address, channelId: ch.channelId, idempotencyKey: key('c') }),
        ),
      ).toBe('LEDGER_CHANNEL_NOT_EXPIRED');
      await env.as(bob).redeem({ by: bob.address, voucher: v, idempotencyKey: key('r') });
      env.advance(10_000);
      const c = await env
        .as(alice)
        .closeChannel({ by: alice.address, channelId: ch.channelId, idempotencyKey: key('c') });
      expect(c.refunded).toBe(200n);
      expect(
        await codeOf(() =>
          env.as(bob).closeChannel({ by: bob.address, channelId: ch.channelId, idempotencyKey: key('c') }),
        ),
      ).toBe('LEDGER_CHANNEL_CLOSED');
    });

    it('tops up an open channel: the payer’s balance moves to locked, the deposit grows, totals hold', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      await env.as(bob).redeem({ by: bob.address, voucher: ch.signer.pay(100n), idempotencyKey: key('r') });
      const t = await topUp(alice, ch.channelId, 200n);
      expect(t).toEqual({ channelId: ch.channelId, added: 200n, amount: 500n });
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 500n,
        locked: 400n,
      });
      expect(await env.as(alice).getChannel(ch.channelId)).toMatchObject({
        amount: 500n,
        redeemed: 100n,
        status: 'open',
      });
      expect((await topUp(alice, ch.channelId, 1n)).amount).toBe(501n);
      expect(await env.operator.totals()).toEqual({
        deposits: 1000n,
        withdrawals: 0n,
        balances: 499n + 100n,
        locked: 401n,
      });
      // Closing refunds the whole unredeemed deposit, top-ups included.
      const c = await env
        .as(bob)
        .closeChannel({ by: bob.address, channelId: ch.channelId, idempotencyKey: key('c') });
      expect(c).toEqual({ channelId: ch.channelId, paid: 100n, refunded: 401n });
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 900n,
        locked: 0n,
      });
    });

    it('after a top-up, vouchers above the old deposit are accepted and redeemed', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      const verifier = new VoucherVerifier(ch.ck.publicKey, env.ledgerId, ch.channelId, 300n);
      const v300 = ch.signer.pay(300n);
      verifier.accept(v300);
      await env.as(bob).redeem({ by: bob.address, voucher: v300, idempotencyKey: key('r') });
      const above = signVoucher(ch.ck, env.ledgerId, ch.channelId, 450n);
      expect(
        await codeOf(() => env.as(bob).redeem({ by: bob.address, voucher: above, idempotencyKey: key('r') })),
      ).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
      expect(await codeOf(() => verifier.accept(above))).toBe('LEDGER_VOUCHER_EXCEEDS_LOCKED');
      const t = await topUp(alice, ch.channelId, 200n);
      ch.signer.raise(t.amount);
      // The payee learns the new deposit from the ledger.
      verifier.raise((await env.as(bob).getChannel(ch.channelId))?.amount ?? 0n);
      const v450 = ch.signer.pay(150n);
      expect(verifier.accept(v450)).toBe(150n);
      const r = await env.as(bob).redeem({ by: bob.address, voucher: v450, idempotencyKey: key('r') });
      expect(r).toEqual({ channelId: ch.channelId, cumulative: 450n, credited: 150n });
      const full = await env.as(bob).redeem({
        by: bob.address,
        voucher: ch.signer.pay(50n),
        idempotencyKey: key('r'),
      });
      expect(full.cumulative).toBe(500n);
      expect(() => ch.signer.pay(1n)).toThrow(/beyond the locked amount/);
      expect((await env.as(bob).getAccount(bob.address)).balance).toBe(500n);
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 500n,
        locked: 0n,
      });
    });

    it('only the payer tops up: the payee and a stranger are refused, nothing moves', async () => {
      await fund(alice, 1000n);
      await fund(bob, 1000n);
      await fund(carol, 1000n);
      const ch = await open(alice, bob, 300n);
      expect(await codeOf(() => topUp(bob, ch.channelId, 10n))).toBe('LEDGER_NOT_YOURS');
      expect(await codeOf(() => topUp(carol, ch.channelId, 10n))).toBe('LEDGER_NOT_YOURS');
      for (const [who, balance, locked] of [
        [alice, 700n, 300n],
        [bob, 1000n, 0n],
        [carol, 1000n, 0n],
      ] as const) {
        expect(await env.as(who).getAccount(who.address)).toEqual({ address: who.address, balance, locked });
      }
      expect((await env.as(alice).getChannel(ch.channelId))?.amount).toBe(300n);
    });

    it('refuses a top-up of a closed, an expired or an unknown channel', async () => {
      await fund(alice, 1000n);
      const closed = await open(alice, bob, 100n);
      await env
        .as(bob)
        .closeChannel({ by: bob.address, channelId: closed.channelId, idempotencyKey: key('c') });
      expect(await codeOf(() => topUp(alice, closed.channelId, 10n))).toBe('LEDGER_CHANNEL_CLOSED');
      const expiring = await open(alice, bob, 100n, 10_000);
      env.advance(9_999);
      expect((await topUp(alice, expiring.channelId, 1n)).amount).toBe(101n);
      env.advance(1);
      expect(await codeOf(() => topUp(alice, expiring.channelId, 10n))).toBe('LEDGER_CHANNEL_EXPIRED');
      expect(await codeOf(() => topUp(alice, '0'.repeat(32), 10n))).toBe('LEDGER_CHANNEL_NOT_FOUND');
      expect(await codeOf(() => topUp(alice, 'zz', 10n))).toBe('LEDGER_BAD_CHANNEL_ID');
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 899n,
        locked: 101n,
      });
    });

    it('refuses a top-up beyond the balance, of nothing, or past the largest amount', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 600n);
      expect(await codeOf(() => topUp(alice, ch.channelId, 401n))).toBe('LEDGER_INSUFFICIENT_FUNDS');
      expect(await codeOf(() => topUp(alice, ch.channelId, 0n))).toBe('LEDGER_BAD_AMOUNT');
      expect(await codeOf(() => topUp(alice, ch.channelId, -1n))).toBe('LEDGER_BAD_AMOUNT');
      expect(await codeOf(() => topUp(alice, ch.channelId, MAX_AMOUNT))).toBe('LEDGER_BAD_AMOUNT');
      expect(await codeOf(() => topUp(alice, ch.channelId, MAX_AMOUNT + 1n))).toBe('LEDGER_BAD_AMOUNT');
      expect((await topUp(alice, ch.channelId, 400n)).amount).toBe(1000n);
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 0n,
        locked: 1000n,
      });
    });

    it('a repeated top-up (same key, same parameters) is a no-op returning the first result', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 300n);
      const k = key('t');
      const first = await topUp(alice, ch.channelId, 200n, k);
      const seqBefore = (await env.as(alice).info()).seq;
      expect(await topUp(alice, ch.channelId, 200n, k)).toEqual(first);
      expect((await env.as(alice).info()).seq).toBe(seqBefore);
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 500n,
        locked: 500n,
      });
      expect(await codeOf(() => topUp(alice, ch.channelId, 201n, k))).toBe('LEDGER_IDEMPOTENCY_MISMATCH');
      // Still the first result once the channel is closed (a retry that comes late).
      await env.as(bob).closeChannel({ by: bob.address, channelId: ch.channelId, idempotencyKey: key('c') });
      expect(await topUp(alice, ch.channelId, 200n, k)).toEqual(first);
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(1000n);
    });

    it('concurrent top-ups of one channel lock each unit once', async () => {
      await fund(alice, 1000n);
      const ch = await open(alice, bob, 100n);
      // 30 distinct top-ups of 50 (the balance covers 18), each also sent twice with its key.
      const keys = Array.from({ length: 30 }, () => key('t'));
      const outcomes = await Promise.all(
        [...keys, ...keys].map((k) =>
          topUp(alice, ch.channelId, 50n, k).then(
            (r) => ({ k, added: r.added }),
            (err: unknown) => ({ k, code: (err as { code?: string }).code }),
          ),
        ),
      );
      const applied = new Set(outcomes.filter((o) => 'added' in o).map((o) => o.k));
      for (const o of outcomes) if ('code' in o) expect(o.code).toBe('LEDGER_INSUFFICIENT_FUNDS');
      expect(applied.size).toBe(18);
      expect((await env.as(alice).getChannel(ch.channelId))?.amount).toBe(100n + 18n * 50n);
      expect(await env.as(alice).getAccount(alice.address)).toEqual({
        address: alice.address,
        balance: 0n,
        locked: 1000n,
      });
    });

    it('withdrawals debit at once, and a failed one is refunded', async () => {
      await fund(alice, 1000n);
      const w = await env
        .as(alice)
        .requestWithdrawal({ account: alice.address, amount: 400n, idempotencyKey: key('w') });
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(600n);
      expect((await env.as(alice).getWithdrawal(w.withdrawalId))?.status).toBe('pending');
      expect(
        await codeOf(() =>
          env.as(alice).requestWithdrawal({ account: alice.address, amount: 601n, idempotencyKey: key('w') }),
        ),
      ).toBe('LEDGER_INSUFFICIENT_FUNDS');
      await env.operator.settleWithdrawal({
        withdrawalId: w.withdrawalId,
        outcome: 'failed',
        idempotencyKey: key('s'),
      });
      expect((await env.as(alice).getAccount(alice.address)).balance).toBe(1000n);
      const w2 = await env.as(alice).requestWithdrawal({
        account: alice.address,
        amount: 1000n,
        to: carol.address,
        idempotencyKey: key('w'),
      });
      const t = txid('out');
      await env.operator.settleWithdrawal({
        withdrawalId: w2.withdrawalId,
        outcome: 'sent',
        txid: t,
        idempotencyKey: key('s'),
      });
      const view = await env.as(alice).getWithdrawal(w2.withdrawalId);
      expect(view).toMatchObject({ status: 'sent', txid: t, to: carol.address, amount: 1000n });
      expect(
        await codeOf(() =>
          env.operator.settleWithdrawal({
            withdrawalId: w2.withdrawalId,
            outcome: 'failed',
            idempotencyKey: key('s'),
          }),
        ),
      ).toBe('LEDGER_WITHDRAWAL_NOT_PENDING');
      expect(await env.operator.totals()).toEqual({
        deposits: 1000n,
        withdrawals: 1000n,
        balances: 0n,
        locked: 0n,
      });
    });

    it('refuses malformed input with 400-class codes', async () => {
      expect(
        await codeOf(() =>
          env.operator.deposit({ account: 'Tnope', amount: 1n, txid: txid('x'), idempotencyKey: 'k' }),
        ),
      ).toBe('LEDGER_BAD_ADDRESS');
      expect(
        await codeOf(() =>
          env.operator.deposit({ account: alice.address, amount: 0n, txid: txid('x'), idempotencyKey: 'k' }),
        ),
      ).toBe('LEDGER_BAD_AMOUNT');
      expect(
        await codeOf(() =>
          env.operator.deposit({ account: alice.address, amount: -5n, txid: txid('x'), idempotencyKey: 'k' }),
        ),
      ).toBe('LEDGER_BAD_AMOUNT');
      expect(
        await codeOf(() =>
          env.operator.deposit({
            account: alice.address,
            amount: 2n ** 256n,
            txid: txid('x'),
            idempotencyKey: 'k',
          }),
        ),
      ).toBe('LEDGER_BAD_AMOUNT');
      expect(
        await codeOf(() =>
          env.operator.deposit({ account: alice.address, amount: 1n, txid: 'abc', idempotencyKey: 'k' }),
        ),
      ).toBe('LEDGER_BAD_TXID');
      expect(
        await codeOf(() =>
          env.operator.deposit({ account: alice.address, amount: 1n, txid: txid('x'), idempotencyKey: '' }),
        ),
      ).toBe('LEDGER_BAD_IDEMPOTENCY_KEY');
      expect(await codeOf(() => env.as(bob).getChannel('zz'))).toBe('LEDGER_BAD_CHANNEL_ID');
      expect(await env.as(bob).getChannel('0'.repeat(32))).toBeUndefined();
      expect(await env.as(bob).getWithdrawal('w-999')).toBeUndefined();
    });

    it('serves 50 concurrent clients without losing or inventing a unit', async () => {
      const clients = Array.from({ length: 50 }, (_, i) => account(100 + i));
      await Promise.all(clients.map((c) => fund(c, 1_000_000n)));
      const payee = account(99);
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const ch = await open(c, payee, 10_000n);
          let paid = 0n;
          for (let k = 1; k <= 4; k++) {
            const v = ch.signer.pay(BigInt(k * 100 + i));
            paid += BigInt(k * 100 + i);
            await env.as(payee).redeem({ by: payee.address, voucher: v, idempotencyKey: key(`cc${i}`) });
          }
          await env
            .as(c)
            .requestWithdrawal({ account: c.address, amount: 1000n, idempotencyKey: key(`cw${i}`) });
          if (i % 2 === 0) {
            await env
              .as(payee)
              .closeChannel({ by: payee.address, channelId: ch.channelId, idempotencyKey: key(`cx${i}`) });
          }
          return paid;
        }),
      );
      const paid = results.reduce((a, b) => a + b, 0n);
      expect((await env.as(payee).getAccount(payee.address)).balance).toBe(paid);
      const t = await env.operator.totals();
      expect(t.deposits).toBe(50_000_000n);
      expect(t.withdrawals).toBe(50_000n);
      expect(t.balances + t.locked).toBe(t.deposits - t.withdrawals);
    });

    it('honours an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(env.as(alice).getAccount(alice.address, { signal: ac.signal })).rejects.toMatchObject({
        code: 'ABORTED',
      });
      await expect(
        env.operator.deposit(
          { account: alice.address, amount: 1n, txid: txid('a'), idempotencyKey: 'a' },
          { signal: ac.signal },
        ),
      ).rejects.toMatchObject({ code: 'ABORTED' });
      expect((await env.operator.totals()).deposits).toBe(0n);
    });
  });
}
