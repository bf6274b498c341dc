import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TronKey } from '../../src/ledger/keys.js';
import { provablyExpired } from '../../src/settlement/_common.js';
import type { SettlementAdapter, TokenProfile } from '../../src/settlement/index.js';

/** One implementation under test: a funded hot wallet, a funded user wallet, and a way to make blocks. */
export interface Harness {
  token: TokenProfile;
  hot: SettlementAdapter;
  user: SettlementAdapter;
  /** A wallet funded with {@link POOR_FUNDING} only. */
  poor: SettlementAdapter;
  /** Funding of each wallet at the start (base units). */
  funding: bigint;
  /** Mines `n` blocks. */
  mine(n: number): void;
  /** Blocks from inclusion to solid (1 + solidity lag). */
  confirmBlocks: number;
  close(): Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/** What the poor wallet holds. */
export const POOR_FUNDING = 1000n;

/** The behavioural suite every {@link SettlementAdapter} passes. */
export function settlementSuite(name: string, make: () => Promise<Harness>): void {
  describe(`SettlementAdapter behaviour: ${name}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await make();
    });
    afterAll(async () => {
      await h?.close();
    });
    const unit = () => 10n ** BigInt(h.token.decimals);

    it('reports balances in the solid view; an unknown address holds 0', async () => {
      expect(await h.hot.balance(h.hot.address)).toBe(h.funding);
      expect(await h.hot.balance(TronKey.generate().address)).toBe(0n);
    });

    it('transfers exactly, confirmed once solid', async () => {
      const to = TronKey.generate().address;
      const before = await h.hot.balance(h.hot.address);
      const amount = 3n * unit() + 7n;
      const { txid, expiration } = await h.hot.transfer(to, amount, 'suite-transfer-1');
      expect(txid).toMatch(/^[0-9a-f]{64}$/);
      expect(expiration).toBeGreaterThan((await h.hot.chainTime()).head.timestamp);
      expect((await h.hot.status(txid)).state).toBe('unknown');
      h.mine(1);
      if (h.confirmBlocks > 1) expect((await h.hot.status(txid)).state).toBe('pending');
      h.mine(h.confirmBlocks - 1);
      const s = await h.hot.confirm(txid);
      expect(s.state).toBe('confirmed');
      expect(await h.hot.balance(to)).toBe(amount);
      expect(await h.hot.balance(h.hot.address)).toBe(before - amount);
    });

    it('a repeated idempotency key pays once; the same key with other terms is refused', async () => {
      const to = TronKey.generate().address;
      const a = await h.hot.transfer(to, 5n, 'suite-idem');
      const b = await h.hot.transfer(to, 5n, 'suite-idem');
      expect(b.txid).toBe(a.txid);
      await rejectsWith(h.hot.transfer(to, 6n, 'suite-idem'), 'SETTLEMENT_BAD_IDEMPOTENCY_KEY');
      h.mine(h.confirmBlocks);
      await h.hot.confirm(a.txid);
      expect(await h.hot.balance(to)).toBe(5n);
    });

    it('concurrent calls with one idempotency key make one transaction', async () => {
      const to = TronKey.generate().address;
      const [a, b] = await Promise.all([
        h.hot.transfer(to, 4n, 'suite-concurrent'),
        h.hot.transfer(to, 4n, 'suite-concurrent'),
      ]);
      expect(b.txid).toBe(a.txid);
      h.mine(h.confirmBlocks);
      await h.hot.confirm(a.txid);
      expect(await h.hot.balance(to)).toBe(4n);
    });

    it('broadcasting a prepared transfer twice pays once', async () => {
      const to = TronKey.generate().address;
      const tx = await h.hot.prepare(to, 9n);
      await h.hot.broadcast(tx);
      await h.hot.broadcast(tx);
      h.mine(1);
      await h.hot.broadcast(tx);
      h.mine(h.confirmBlocks);
      await h.hot.confirm(tx.txid);
      expect(await h.hot.balance(to)).toBe(9n);
    });

    it('finds deposits in solid blocks, once per cursor; an old cursor reports them again', async () => {
      const first = await h.hot.depositsSince(undefined);
      const amount = 2n * unit() + 1n;
      const { txid } = await h.user.transfer(h.hot.address, amount, 'suite-deposit');
      h.mine(1);
      const early = await h.hot.depositsSince(first.cursor);
      if (h.confirmBlocks > 1) expect(early.deposits.find((d) => d.txid === txid)).toBeUndefined();
      h.mine(h.confirmBlocks);
      let cursor = first.cursor;
      const seen = [];
      for (;;) {
        const page = await h.hot.depositsSince(cursor);
        seen.push(...page.deposits);
        cursor = page.cursor;
        if (page.caughtUp) break;
      }
      const mine = seen.filter((d) => d.txid === txid);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ from: h.user.address, to: h.hot.address, amount });
      expect((await h.hot.depositsSince(cursor)).deposits).toHaveLength(0);
      const again = await h.hot.depositsSince(first.cursor);
      expect(again.deposits.filter((d) => d.txid === txid)).toHaveLength(1);
    });

    it('an overdraft is refused (INSUFFICIENT_BALANCE) or fails on chain (TX_FAILED); nothing moves', async () => {
      const to = TronKey.generate().address;
      const have = await h.poor.balance(h.poor.address);
      expect(have).toBe(POOR_FUNDING);
      let txid: string | undefined;
      try {
        txid = (await h.poor.transfer(to, have + 1n, 'suite-overdraw')).txid;
      } catch (err) {
        expect(err).toMatchObject({ code: 'SETTLEMENT_INSUFFICIENT_BALANCE' });
      }
      if (txid !== undefined) {
        h.mine(h.confirmBlocks);
        await rejectsWith(h.poor.confirm(txid), 'SETTLEMENT_TX_FAILED');
      }
      expect(await h.poor.balance(to)).toBe(0n);
      expect(await h.poor.balance(h.poor.address)).toBe(have);
    });

    it('an expired transfer is refused (TX_EXPIRED) and provably expired', async () => {
      const tx = await h.hot.prepare(TronKey.generate().address, 4n);
      h.mine(25 + h.confirmBlocks);
      await rejectsWith(h.hot.broadcast(tx), 'SETTLEMENT_TX_EXPIRED');
      const time = await h.hot.chainTime();
      const status = await h.hot.status(tx.txid);
      expect(status.state).toBe('unknown');
      expect(provablyExpired(tx, time, status)).toBe(true);
    });

    it('a transfer still valid is not provably expired', async () => {
      const tx = await h.hot.prepare(TronKey.generate().address, 4n);
      expect(provablyExpired(tx, await h.hot.chainTime(), await h.hot.status(tx.txid))).toBe(false);
    });

    it('refuses bad input with typed errors', async () => {
      await rejectsWith(h.hot.transfer('T-not-an-address', 1n, 'k1'), 'SETTLEMENT_BAD_ADDRESS');
      await rejectsWith(h.hot.prepare(TronKey.generate().address, 0n), 'SETTLEMENT_AMOUNT_OUT_OF_RANGE');
      await rejectsWith(h.hot.prepare(h.hot.address, 1n), 'SETTLEMENT_SAME_ACCOUNT');
      await rejectsWith(h.hot.status('xyz'), 'SETTLEMENT_BAD_TXID');
      await rejectsWith(h.hot.depositsSince('-1'), 'SETTLEMENT_BAD_CURSOR');
      await rejectsWith(h.hot.balance('nope'), 'SETTLEMENT_BAD_ADDRESS');
    });

    it('honours an aborted signal', async () => {
      const signal = AbortSignal.abort();
      await rejectsWith(h.hot.prepare(TronKey.generate().address, 1n, { signal }), 'ABORTED');
      await rejectsWith(h.hot.chainTime({ signal }), 'ABORTED');
    });

    it('moves amounts at the top of the token range exactly', async () => {
      const big = h.token.standard === 'trc20' ? 2n ** 64n + 12345n : 2n ** 53n - 1n;
      const key = TronKey.generate();
      const { txid } = await h.user.transfer(h.hot.address, big, 'suite-big-deposit');
      const t2 = await h.hot.transfer(key.address, big - 1n, 'suite-big-withdraw');
      h.mine(h.confirmBlocks);
      await h.hot.confirm(txid);
      await h.hot.confirm(t2.txid);
      expect(await h.hot.balance(key.address)).toBe(big - 1n);
      const s = await h.hot.status(txid);
      const page = await h.hot.depositsSince(String(s.state === 'confirmed' ? s.blockNumber : 0));
      expect(page.deposits.find((d) => d.txid === txid)?.amount).toBe(big);
    });
  });
}
