/**
 * The bound on totals: a deposit that would take the total deposited above 2^256 − 1 is refused,
 * so every snapshot the ledger writes opens again (before, totals above 80 digits compacted into
 * a directory that no longer opened).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore, Ledger, MAX_AMOUNT, MAX_AMOUNT_DIGITS } from '../../src/ledger/index.js';
import { codeOf } from './helpers.js';
import { account, LEDGER_ID, T0, txid } from './world.js';

const dir = mkdtempSync(join(tmpdir(), 'bttkit-bound-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the ledger bound (2^256 − 1)', () => {
  it('refuses deposits past it, and what it compacts always reopens', async () => {
    const clock = { now: () => T0 };
    const open = () =>
      Ledger.open({ store: new FileStore(dir), ledgerId: LEDGER_ID, wallClock: clock, snapshotEvery: 0 });
    let ledger = await open();
    const codes: string[] = [];
    // 900 × (2^256 − 1) is over 10^80: what the old code accepted, then could not read back.
    for (let i = 0; i < 900; i++) {
      const who = account(100 + (i % 7)).address;
      const label = `max-${i}`;
      try {
        await ledger.deposit({ account: who, amount: MAX_AMOUNT, txid: txid(label), idempotencyKey: label });
        codes.push('ok');
      } catch (err) {
        codes.push((err as { code?: string }).code ?? String(err));
      }
    }
    expect(codes[0]).toBe('ok');
    expect(new Set(codes.slice(1))).toEqual(new Set(['LEDGER_BAD_AMOUNT']));
    expect(
      await codeOf(() =>
        ledger.deposit({
          account: account(200).address,
          amount: 1n,
          txid: txid('one'),
          idempotencyKey: 'one',
        }),
      ),
    ).toBe('LEDGER_BAD_AMOUNT');
    await ledger.compact();
    await ledger.close();
    ledger = await open();
    expect((await ledger.totals()).deposits).toBe(MAX_AMOUNT);
    await ledger.close();
    // The readers' bound is the same number, defined once.
    expect(MAX_AMOUNT_DIGITS).toBe(MAX_AMOUNT.toString().length);
  });
});
