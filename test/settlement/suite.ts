import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_TRC10_AMOUNT,
  maxTransferAmount,
  type PreparedTransfer,
  type SettlementAdapter,
  type TokenProfile,
} from '../../src/settlement/index.js';

/** One implementation under test: a funded hot wallet, a funded user wallet, and a way to make blocks. */
export interface Harness {
  token: TokenProfile;
  hot: SettlementAdapter;
  user: SettlementAdapter;
  /** A wallet funded with {@link POOR_FUNDING} only (of the token; on EVM chains plus gas money for an ERC-20). */
  poor: SettlementAdapter;
  /** Funding of each wallet at the start (base units). */
  funding: bigint;
  /** A fresh address nobody holds funds at, in the chain's form. */
  newAddress(): string;
  /** Mines `n` blocks (a transaction broadcast and not yet mined goes into the first). */
  mine(n: number): unknown;
  /** Blocks from inclusion to solid (1 + solidity lag, or the confirmation depth). */
  confirmBlocks: number;
  /** What the hot wallet paid in the token for the fees of `txid` (native coins pay their own gas; else 0). */
  feePaid(txid: string): Promise<bigint>;
  /**
   * Makes the prepared, never-broadcast `tx` of the hot wallet dead by the chain's own rule (TRON:
   * let it expire; EVM: another transaction takes its nonce) and mines until that is solid.
   * Resolves with the code a broadcast of `tx` is then refused with.
   */
  kill(tx: PreparedTransfer): Promise<string>;
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
      expect(await h.hot.balance(h.newAddress())).toBe(0n);
    });

    it('transfers exactly, confirmed once solid', async () => {
      const to = h.newAddress();
      const before = await h.hot.balance(h.hot.address);
      const amount = 3n * unit() + 7n;
      const { txid, expiration, nonce } = await h.hot.transfer(to, amount, 'suite-transfer-1');
      expect(txid).toMatch(/^[0-9a-f]{64}$/);
      // A transaction either expires (TRON) or carries its account nonce (EVM).
      if (expiration !== undefined)
        expect(expiration).toBeGreaterThan((await h.hot.chainTime()).head.timestamp);
      else expect(nonce).toBeGreaterThanOrEqual(0);
      expect((await h.hot.status(txid)).state).toBe('unknown');
      await h.mine(1);
      if (h.confirmBlocks > 1) expect((await h.hot.status(txid)).state).toBe('pending');
      await h.mine(h.confirmBlocks - 1);
      const s = await h.hot.confirm(txid);
      expect(s.state).toBe('confirmed');
      expect(await h.hot.balance(to)).toBe(amount);
      expect(await h.hot.balance(h.hot.address)).toBe(before - amount - (await h.feePaid(txid)));
    });

    it('a repeated idempotency key pays once; the same key with other terms is refused', async () => {
      const to = h.newAddress();
      const a = await h.hot.transfer(to, 5n, 'suite-idem');
      const b = await h.hot.transfer(to, 5n, 'suite-idem');
      expect(b.txid).toBe(a.txid);
      await rejectsWith(h.hot.transfer(to, 6n, 'suite-idem'), 'SETTLEMENT_BAD_IDEMPOTENCY_KEY');
      await h.mine(h.confirmBlocks);
      await h.hot.confirm(a.txid);
      expect(await h.hot.balance(to)).toBe(5n);
    });

    it('concurrent calls with one idempotency key make one transaction', async () => {
      const to = h.newAddress();
      const [a, b] = await Promise.all([
        h.hot.transfer(to, 4n, 'suite-concurrent'),
        h.hot.transfer(to, 4n, 'suite-concurrent'),
      ]);
      expect(b.txid).toBe(a.txid);
      await h.mine(h.confirmBlocks);
      await h.hot.confirm(a.txid);
      expect(await h.hot.balance(to)).toBe(4n);
    });

    it('broadcasting a prepared transfer twice pays once', async () => {
      const to = h.newAddress();
      const tx = await h.hot.prepare(to, 9n);
      await h.hot.broadcast(tx);
      await h.hot.broadcast(tx);
      await h.mine(1);
      await h.hot.broadcast(tx);
      await h.mine(h.confirmBlocks);
      await h.hot.confirm(tx.txid);
      expect(await h.hot.balance(to)).toBe(9n);
    });

    it('finds deposits in solid blocks, once per cursor; an old cursor reports them again', async () => {
      const first = await h.hot.depositsSince(undefined);
      const amount = 2n * unit() + 1n;
      const { txid } = await h.user.transfer(h.hot.address, amount, 'suite-deposit');
      await h.mine(1);
      const early = await h.hot.depositsSince(first.cursor);
      if (h.confirmBlocks > 1) expect(early.deposits.find((d) => d.txid === txid)).toBeUndefined();
      await h.mine(h.confirmBlocks);
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
      const to = h.newAddress();
      const have = await h.poor.balance(h.poor.address);
      expect(have).toBe(POOR_FUNDING);
      let txid: string | undefined;
      try {
        txid = (await h.poor.transfer(to, have + 1n, 'suite-overdraw')).txid;
      } catch (err) {
        expect(err).toMatchObject({ code: 'SETTLEMENT_INSUFFICIENT_BALANCE' });
      }
      if (txid !== undefined) {
        await h.mine(h.confirmBlocks);
        await rejectsWith(h.poor.confirm(txid), 'SETTLEMENT_TX_FAILED');
      }
      expect(await h.poor.balance(to)).toBe(0n);
      expect(await h.poor.balance(h.poor.address)).toBe(have);
    });

    it('a transfer made dead by the chain (expired / nonce taken) is refused and provably dead', async () => {
      const to = h.newAddress();
      const tx = await h.hot.prepare(to, 4n);
      expect(await h.hot.provablyDead(tx)).toBe(false);
      const code = await h.kill(tx);
      await rejectsWith(h.hot.broadcast(tx), code);
      expect((await h.hot.status(tx.txid)).state).toBe('unknown');
      expect(await h.hot.provablyDead(tx)).toBe(true);
      await h.mine(h.confirmBlocks);
      expect(await h.hot.balance(to)).toBe(0n);
    });

    it('a prepared transfer not yet broadcast is not provably dead; broadcast later, it lands', async () => {
      const to = h.newAddress();
      const tx = await h.hot.prepare(to, 4n);
      await h.mine(2);
      expect(await h.hot.provablyDead(tx)).toBe(false);
      await h.hot.broadcast(tx);
      await h.mine(h.confirmBlocks);
      expect(await h.hot.provablyDead(tx)).toBe(false);
      await h.hot.confirm(tx.txid);
      expect(await h.hot.balance(to)).toBe(4n);
    });

    it('a transaction made elsewhere (another wallet, a journal edited) is refused, never broadcast', async () => {
      const tx = await h.user.prepare(h.newAddress(), 4n);
      await expect(h.hot.broadcast(tx)).rejects.toMatchObject({
        code: expect.stringMatching(/^SETTLEMENT_/),
      });
      await expect(h.hot.broadcast({ ...tx, amount: tx.amount + 1n })).rejects.toMatchObject({
        code: expect.stringMatching(/^SETTLEMENT_/),
      });
      // Its own wallet sends it (on EVM chains a prepared, never-sent transaction holds up the next nonce).
      await h.user.broadcast(tx);
      await h.mine(h.confirmBlocks);
      await h.user.confirm(tx.txid);
    });

    it('refuses bad input with typed errors', async () => {
      await rejectsWith(h.hot.transfer('T-not-an-address', 1n, 'k1'), 'SETTLEMENT_BAD_ADDRESS');
      await rejectsWith(h.hot.prepare(h.newAddress(), 0n), 'SETTLEMENT_AMOUNT_OUT_OF_RANGE');
      await rejectsWith(h.hot.prepare(h.hot.address, 1n), 'SETTLEMENT_SAME_ACCOUNT');
      await rejectsWith(h.hot.status('xyz'), 'SETTLEMENT_BAD_TXID');
      await rejectsWith(h.hot.depositsSince('-1'), 'SETTLEMENT_BAD_CURSOR');
      await rejectsWith(h.hot.balance('nope'), 'SETTLEMENT_BAD_ADDRESS');
    });

    it('honours an aborted signal', async () => {
      const signal = AbortSignal.abort();
      await rejectsWith(h.hot.prepare(h.newAddress(), 1n, { signal }), 'ABORTED');
      await rejectsWith(h.hot.chainTime({ signal }), 'ABORTED');
    });

    it('moves amounts at the top of the token range exactly', async () => {
      const big = maxTransferAmount(h.token) > MAX_TRC10_AMOUNT ? 2n ** 64n + 12345n : MAX_TRC10_AMOUNT;
      const dest = h.newAddress();
      const { txid } = await h.user.transfer(h.hot.address, big, 'suite-big-deposit');
      const t2 = await h.hot.transfer(dest, big - 1n, 'suite-big-withdraw');
      await h.mine(h.confirmBlocks);
      await h.hot.confirm(txid);
      await h.hot.confirm(t2.txid);
      expect(await h.hot.balance(dest)).toBe(big - 1n);
      const s = await h.hot.status(txid);
      const page = await h.hot.depositsSince(String(s.state === 'confirmed' ? s.blockNumber : 0));
      expect(page.deposits.find((d) => d.txid === txid)?.amount).toBe(big);
    });
  });
}
