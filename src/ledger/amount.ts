import { LedgerError } from './errors.js';

/**
 * The largest amount the ledger accepts: 2²⁵⁶ − 1 (a TRC-20 `uint256`) — for one amount and for
 * the total deposited, which bounds every balance, lock and total the ledger holds (a deposit
 * that would cross it is refused), so every snapshot it writes can be read back.
 */
export const MAX_AMOUNT: bigint = (1n << 256n) - 1n;

/** Decimal digits of {@link MAX_AMOUNT} (78): the most the journal and snapshot readers accept. */
export const MAX_AMOUNT_DIGITS: number = MAX_AMOUNT.toString(10).length;

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

/**
 * Parses a decimal string of base units (the wire form of every amount). Refuses signs,
 * leading zeros, fractions, exponents, and values above {@link MAX_AMOUNT}.
 * @throws {LedgerError} `LEDGER_BAD_AMOUNT`
 */
export function parseAmount(text: unknown, field = 'amount'): bigint {
  if (typeof text !== 'string' || !DECIMAL.test(text)) {
    throw new LedgerError('LEDGER_BAD_AMOUNT', `${field} must be a decimal string of base units`, {
      details: { field },
    });
  }
  const v = BigInt(text);
  if (v > MAX_AMOUNT)
    throw new LedgerError('LEDGER_BAD_AMOUNT', `${field} above 2^256-1`, { details: { field } });
  return v;
}

/** The wire form of an amount: its decimal string. */
export function formatAmount(v: bigint): string {
  return v.toString(10);
}

/**
 * Checks that `v` is a bigint in [min, {@link MAX_AMOUNT}].
 * @throws {LedgerError} `LEDGER_BAD_AMOUNT`
 */
export function checkAmount(v: unknown, field = 'amount', min = 1n): bigint {
  if (typeof v !== 'bigint' || v < min || v > MAX_AMOUNT) {
    throw new LedgerError('LEDGER_BAD_AMOUNT', `${field} must be a bigint in [${min}, 2^256-1]`, {
      details: { field },
    });
  }
  return v;
}

/** `v` as 32 big-endian bytes (`v` must be in [0, 2²⁵⁶)). */
export function u256be(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let x = v;
  for (let i = 31; i >= 0 && x > 0n; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** `v` (a non-negative safe integer) as 8 big-endian bytes. */
export function u64be(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
}
