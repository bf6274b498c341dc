import { toHex } from '../util/bytes.js';
import { sha256 } from '../util/hash.js';
import { checkAmount } from './amount.js';
import { isEd25519PublicKey } from './channel-key.js';
import { encodeCommand } from './codec.js';
import type { LedgerCommand } from './core.js';
import { LedgerError } from './errors.js';
import { ACCOUNT_SIGNATURE_LENGTH, normalizeAddress } from './keys.js';
import { checkChannelId, checkLedgerId } from './voucher.js';

/* Commands: shapes, normalization, idempotency fingerprints (core.ts applies them). */

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const TXID = /^[0-9a-fA-F]{64}$/;
const OPERATOR_SCOPE = '@operator';

/**
 * The idempotency fingerprint of a normalized command: 128 bits of SHA-256 over its canonical
 * bencoding without the key — and without an open's authorization, since any valid
 * authorization of the same terms is the same request.
 */
export function fingerprintOf(c: LedgerCommand): string {
  const bare: LedgerCommand =
    c.type === 'open'
      ? { ...c, idempotencyKey: '', authorization: new Uint8Array(0) }
      : { ...c, idempotencyKey: '' };
  return toHex(sha256(encodeCommand(bare)).subarray(0, 16));
}

function fail(code: ConstructorParameters<typeof LedgerError>[0], message: string): never {
  throw new LedgerError(code, message);
}

/** Checks an idempotency key (1–128 printable ASCII). @throws {LedgerError} `LEDGER_BAD_IDEMPOTENCY_KEY` */
export function checkIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    fail('LEDGER_BAD_IDEMPOTENCY_KEY', 'idempotency key must be 1-128 printable ASCII characters');
  }
  return key;
}

/** Checks and lower-cases an on-chain txid (64 hex digits). @throws {LedgerError} `LEDGER_BAD_TXID` */
export function checkTxid(txid: unknown): string {
  if (typeof txid !== 'string' || !TXID.test(txid)) fail('LEDGER_BAD_TXID', 'txid must be 64 hex digits');
  return txid.toLowerCase();
}

function checkTime(t: unknown, field: string): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
    fail('LEDGER_BAD_EXPIRY', `${field} must be a non-negative safe integer (ms since the epoch)`);
  }
  return t;
}

function checkBytes(
  b: unknown,
  length: number,
  code: 'LEDGER_BAD_KEY' | 'LEDGER_BAD_SIGNATURE_FORMAT',
  what: string,
) {
  if (!(b instanceof Uint8Array) || b.length !== length) fail(code, `${what} must be ${length} bytes`);
  return b;
}

/**
 * Validates a command's shape and normalizes it (addresses to `T…`, txids to lower case). Pure;
 * checks no state and no signatures.
 * @throws {LedgerError} a 400-class code.
 */
export function normalizeCommand(c: LedgerCommand): LedgerCommand {
  const idempotencyKey = checkIdempotencyKey(c.idempotencyKey);
  switch (c.type) {
    case 'deposit':
      return {
        type: 'deposit',
        idempotencyKey,
        account: normalizeAddress(c.account),
        amount: checkAmount(c.amount),
        txid: checkTxid(c.txid),
      };
    case 'open': {
      const payer = normalizeAddress(c.payer);
      const payee = normalizeAddress(c.payee);
      if (payer === payee) fail('LEDGER_SAME_PARTY', 'payer and payee must differ');
      if (!isEd25519PublicKey(c.channelKey))
        fail('LEDGER_BAD_KEY', 'channelKey is not an ed25519 public key');
      return {
        type: 'open',
        idempotencyKey,
        payer,
        payee,
        amount: checkAmount(c.amount),
        expiresAt: checkTime(c.expiresAt, 'expiresAt'),
        channelKey: Uint8Array.from(c.channelKey),
        authorization: Uint8Array.from(
          checkBytes(
            c.authorization,
            ACCOUNT_SIGNATURE_LENGTH,
            'LEDGER_BAD_SIGNATURE_FORMAT',
            'authorization',
          ),
        ),
      };
    }
    case 'redeem': {
      const v = c.voucher;
      if (typeof v !== 'object' || v === null) fail('LEDGER_BAD_REQUEST', 'voucher missing');
      return {
        type: 'redeem',
        idempotencyKey,
        by: normalizeAddress(c.by),
        voucher: {
          ledgerId: checkLedgerId(v.ledgerId),
          channelId: checkChannelId(v.channelId),
          cumulative: checkAmount(v.cumulative, 'cumulative'),
          signature: Uint8Array.from(
            checkBytes(v.signature, 64, 'LEDGER_BAD_SIGNATURE_FORMAT', 'voucher signature'),
          ),
        },
      };
    }
    case 'close':
      return {
        type: 'close',
        idempotencyKey,
        by: normalizeAddress(c.by),
        channelId: checkChannelId(c.channelId),
      };
    case 'topup':
      return {
        type: 'topup',
        idempotencyKey,
        by: normalizeAddress(c.by),
        channelId: checkChannelId(c.channelId),
        amount: checkAmount(c.amount),
      };
    case 'withdraw':
      return {
        type: 'withdraw',
        idempotencyKey,
        account: normalizeAddress(c.account),
        amount: checkAmount(c.amount),
        to: normalizeAddress(c.to ?? c.account),
      };
    case 'settle': {
      if (c.outcome !== 'sent' && c.outcome !== 'failed')
        fail('LEDGER_BAD_REQUEST', "outcome must be 'sent' or 'failed'");
      if (typeof c.withdrawalId !== 'string' || !/^w-[0-9]{1,16}$/.test(c.withdrawalId)) {
        fail('LEDGER_BAD_REQUEST', 'bad withdrawal id');
      }
      if (c.outcome === 'sent') {
        return {
          type: 'settle',
          idempotencyKey,
          withdrawalId: c.withdrawalId,
          outcome: 'sent',
          txid: checkTxid(c.txid),
        };
      }
      if (c.txid !== undefined) fail('LEDGER_BAD_REQUEST', 'a failed withdrawal has no txid');
      return { type: 'settle', idempotencyKey, withdrawalId: c.withdrawalId, outcome: 'failed' };
    }
    default:
      return fail('LEDGER_BAD_REQUEST', 'unknown command type');
  }
}

/** The account a command acts for (whose idempotency scope it uses; who must sign it). */
export function commandActor(c: LedgerCommand): string {
  switch (c.type) {
    case 'deposit':
    case 'settle':
      return OPERATOR_SCOPE;
    case 'open':
      return c.payer;
    case 'redeem':
    case 'close':
    case 'topup':
      return c.by;
    case 'withdraw':
      return c.account;
  }
}
