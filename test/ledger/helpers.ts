import { expect } from 'vitest';
import { LedgerError, type LedgerState } from '../../src/ledger/index.js';

/** Asserts every invariant of a state. */
export function expectSound(state: LedgerState): void {
  expect(state.checkInvariants()).toEqual([]);
  const t = state.totals();
  expect(t.balances + t.locked).toBe(t.deposits - t.withdrawals);
}

/** Runs `fn` and returns the LedgerError code it threw (fails if it did not throw one). */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof LedgerError) return err.code;
    throw err;
  }
  throw new Error('expected a LedgerError, nothing was thrown');
}
