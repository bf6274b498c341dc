/**
 * The ledger on PostgreSQL (a throwaway cluster of Debian's PostgreSQL, started and removed by the
 * test): the LedgerApi compliance suite on a PgStore, and two ledger instances on one database —
 * races across them settle exactly once, a crash of PostgreSQL itself loses no acknowledged
 * operation, and the invariants hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, LedgerClient, LedgerService, PgStore } from '../../src/ledger/index.js';
import { type PgCluster, startPostgres } from '../helpers/postgres.js';
import { ledgerApiSuite } from './api-suite.js';
import { account, LEDGER_ID, T0, txid } from './world.js';

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.destroy();
});

let dbs = 0;
ledgerApiSuite('embedded Ledger (PostgreSQL store)', async () => {
  const url = await pg.newDatabase(`suite_${++dbs}`);
  let now = T0;
  const ledger = await Ledger.open({
    store: new PgStore({ connectionString: url }),
    ledgerId: LEDGER_ID,
    wallClock: { now: () => now },
  });
  return {
    ledgerId: ledger.ledgerId,
    as: () => ledger,
    operator: ledger,
    state: () => ledger.state,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    close: () => ledger.close(),
  };
});

describe('two ledger instances on one PostgreSQL database', () => {
  it('share one ledger: 1,000-way races on one balance and on one channel settle exactly once', async () => {
    const url = await pg.newDatabase('race');
    const a = await Ledger.open({ store: new PgStore({ connectionString: url }) });
    const b = await Ledger.open({ store: new PgStore({ connectionString: url }) });
    try {
      expect(b.ledgerId).toBe(a.ledgerId);
      const alice = account(1).address;
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          (i % 2 ? a : b).deposit({
            account: alice,
            amount: 10n,
            txid: txid(`d${i}`),
            idempotencyKey: `d${i}`,
          }),
        ),
      );
      // 1,000 withdrawals of 3 from a balance of 1,000, through both instances: 333 pass.
      const res = await Promise.allSettled(
        Array.from({ length: 1000 }, (_, i) =>
          (i % 2 ? a : b).requestWithdrawal({
            account: alice,
            amount: 3n,
            to: alice,
            idempotencyKey: `w${i}`,
          }),
        ),
      );
      expect(res.filter((r) => r.status === 'fulfilled')).toHaveLength(333);
      const reasons = new Set(
        res.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : [])),
      );
      expect(reasons).toEqual(new Set(['LEDGER_INSUFFICIENT_FUNDS']));
      // The same idempotency key through both instances at once: applied once, one result.
      const same = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          (i % 2 ? a : b).deposit({ account: alice, amount: 7n, txid: txid('once'), idempotencyKey: 'once' }),
        ),
      );
      expect(new Set(same.map((r) => r.amount))).toEqual(new Set([7n]));
      const ta = await a.totals();
      const tb = await b.totals();
      expect(ta).toEqual(tb);
      expect(ta.deposits).toBe(1007n);
      expect(ta.balances + ta.locked).toBe(ta.deposits - ta.withdrawals);
      expect(a.state.checkInvariants()).toEqual([]);
      expect(b.state.checkInvariants()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);

  it('a refused request replayed to the other instance is refused as a replay', async () => {
    const url = await pg.newDatabase('replay');
    const now = Date.now();
    const operator = account(1000);
    const alice = account(5);
    const la = await Ledger.open({ store: new PgStore({ connectionString: url }) });
    const lb = await Ledger.open({ store: new PgStore({ connectionString: url }) });
    const sa = new LedgerService(la, { operators: [operator.address] });
    const sb = new LedgerService(lb, { operators: [operator.address] });
    try {
      const [ua, ub] = [await sa.listen(0), await sb.listen(0)];
      // The same signed bytes to both: refused (no funds) by A; after funding, B must refuse it too.
      const { requestMessage, SIGNATURE_HEADER } = await import('../../src/ledger/index.js');
      const { toHex, utf8 } = await import('../../src/util/bytes.js');
      const body = utf8(
        JSON.stringify({
          v: 1,
          ledger: la.ledgerId,
          signer: alice.address,
          nonce: toHex(crypto.getRandomValues(new Uint8Array(16))),
          expires: now + 60_000,
          params: { account: alice.address, amount: '5', to: alice.address, idempotencyKey: 'w' },
        }),
      );
      const sig = toHex(alice.sign(requestMessage('POST', '/v1/withdraw', body)));
      const send = async (u: string) =>
        (
          await fetch(`${u}/v1/withdraw`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sig },
            body,
          })
        ).status;
      expect(await send(ua)).toBe(409);
      await new LedgerClient({ url: ua, key: operator }).deposit({
        account: alice.address,
        amount: 10n,
        txid: txid('fund'),
        idempotencyKey: 'fund',
      });
      expect(await send(ub)).toBe(401);
      expect((await lb.getAccount(alice.address)).balance).toBe(10n);
    } finally {
      await sa.close();
      await sb.close();
      await la.close();
      await lb.close();
    }
  });

  it('an immediate-mode stop of PostgreSQL mid-stream loses no acknowledged operation', async () => {
    const url = await pg.newDatabase('crash');
    const a = await Ledger.open({ store: new PgStore({ connectionString: url }) });
    const acked: string[] = [];
    const alice = account(7).address;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const k = `c${i}`;
        try {
          await a.deposit({ account: alice, amount: 1n, txid: txid(k), idempotencyKey: k });
          acked.push(k);
        } catch {
          // refused while the server is down: not acknowledged
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await pg.crash();
    await new Promise((r) => setTimeout(r, 300));
    await pg.restart();
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await writer;
    await a.close();
    // A fresh instance sees every acknowledged deposit, and the books balance.
    const b = await Ledger.open({ store: new PgStore({ connectionString: url }) });
    try {
      expect(acked.length).toBeGreaterThan(10);
      const missing = acked.filter((k) => !b.state.data.deposits.has(txid(k)));
      expect(missing).toEqual([]);
      expect((await b.getAccount(alice)).balance).toBeGreaterThanOrEqual(BigInt(acked.length));
      const t = await b.totals();
      expect(t.deposits).toBeGreaterThanOrEqual(BigInt(acked.length));
      expect(t.balances + t.locked).toBe(t.deposits - t.withdrawals);
      expect(b.state.checkInvariants()).toEqual([]);
    } finally {
      await b.close();
    }
  }, 120_000);
});
