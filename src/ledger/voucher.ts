import { concatBytes, equalBytes, fromHex, toHex, utf8 } from '../util/bytes.js';
import { sha256 } from '../util/hash.js';
import { checkAmount, u64be, u256be } from './amount.js';
import { type ChannelKey, ED25519_SIGNATURE_LENGTH, verifyEd25519 } from './channel-key.js';
import { LedgerError } from './errors.js';
import { addressBytes, type TronKey, verifyAccountSignature } from './keys.js';

/** Domain tag of a voucher's signed bytes. */
export const VOUCHER_DOMAIN = 'bttkit/voucher/v1';
/** Domain tag of a channel-key authorization's signed bytes. */
export const AUTHORIZATION_DOMAIN = 'bttkit/channel-auth/v1';
/** Domain tag of the channel-id derivation. */
export const CHANNEL_ID_DOMAIN = 'bttkit/channel-id/v1';

const LEDGER_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const CHANNEL_ID = /^[0-9a-f]{32}$/;

/** Checks a ledger id: 1–64 characters of `A–Z a–z 0–9 . _ : -`. @throws {LedgerError} `LEDGER_BAD_LEDGER_ID` */
export function checkLedgerId(id: unknown): string {
  if (typeof id !== 'string' || !LEDGER_ID.test(id)) {
    throw new LedgerError('LEDGER_BAD_LEDGER_ID', 'ledger id must be 1-64 characters of A-Z a-z 0-9 . _ : -');
  }
  return id;
}

/** Checks a channel id: 32 lower-case hex digits. @throws {LedgerError} `LEDGER_BAD_CHANNEL_ID` */
export function checkChannelId(id: unknown): string {
  if (typeof id !== 'string' || !CHANNEL_ID.test(id)) {
    throw new LedgerError('LEDGER_BAD_CHANNEL_ID', 'channel id must be 32 lower-case hex digits');
  }
  return id;
}

function tag(domain: string): Uint8Array {
  return concatBytes([utf8(domain), new Uint8Array(1)]);
}
const VOUCHER_TAG = tag(VOUCHER_DOMAIN);
const AUTH_TAG = tag(AUTHORIZATION_DOMAIN);
const CHANNEL_ID_TAG = tag(CHANNEL_ID_DOMAIN);

function lengthPrefixed(s: string): Uint8Array {
  const b = utf8(s);
  return concatBytes([Uint8Array.of(b.length), b]);
}

/**
 * The id of the channel whose key is `channelPublicKey` on ledger `ledgerId`: the first 16 bytes
 * of SHA-256(`"bttkit/channel-id/v1\0"` ‖ len ‖ ledgerId ‖ channelPublicKey), as hex. A channel
 * key therefore opens at most one channel per ledger, and the payer knows the id before opening.
 */
export function channelIdFor(ledgerId: string, channelPublicKey: Uint8Array): string {
  checkLedgerId(ledgerId);
  return toHex(
    sha256(concatBytes([CHANNEL_ID_TAG, lengthPrefixed(ledgerId), channelPublicKey])).subarray(0, 16),
  );
}

/**
 * A voucher: the payer's promise that the payee may redeem up to `cumulative` base units from
 * the channel in total. Vouchers are cumulative, so only the newest matters.
 */
export interface Voucher {
  /** The ledger the channel lives on. */
  readonly ledgerId: string;
  /** The channel (32 hex digits). */
  readonly channelId: string;
  /** Total base units promised so far (not an increment). */
  readonly cumulative: bigint;
  /** ed25519 signature (64 bytes) by the channel key over {@link voucherMessage}. */
  readonly signature: Uint8Array;
}

/**
 * The exact bytes a voucher signature covers:
 * `"bttkit/voucher/v1\0"` ‖ u8 len(ledgerId) ‖ ledgerId ‖ channelId (16 bytes) ‖ cumulative
 * (32 bytes, big-endian).
 */
export function voucherMessage(ledgerId: string, channelId: string, cumulative: bigint): Uint8Array {
  checkLedgerId(ledgerId);
  checkChannelId(channelId);
  checkAmount(cumulative, 'cumulative', 0n);
  return concatBytes([VOUCHER_TAG, lengthPrefixed(ledgerId), fromHex(channelId), u256be(cumulative)]);
}

/** Signs a voucher with the channel key. */
export function signVoucher(
  key: ChannelKey,
  ledgerId: string,
  channelId: string,
  cumulative: bigint,
): Voucher {
  const signature = key.sign(voucherMessage(ledgerId, channelId, cumulative));
  return { ledgerId, channelId, cumulative, signature };
}

/**
 * True if `voucher.signature` is the channel key's signature over the voucher's fields. Checks
 * the signature only, not amounts or channel state. Never throws on malformed input.
 */
export function verifyVoucherSignature(channelPublicKey: Uint8Array, voucher: Voucher): boolean {
  let msg: Uint8Array;
  try {
    msg = voucherMessage(voucher.ledgerId, voucher.channelId, voucher.cumulative);
  } catch {
    return false;
  }
  return (
    voucher.signature instanceof Uint8Array &&
    voucher.signature.length === ED25519_SIGNATURE_LENGTH &&
    verifyEd25519(channelPublicKey, msg, voucher.signature)
  );
}

/** The terms a payer authorizes when opening a channel. */
export interface ChannelTerms {
  readonly ledgerId: string;
  /** Payer address (`T…`). */
  readonly payer: string;
  /** Payee address (`T…`). */
  readonly payee: string;
  /** The channel's ed25519 public key (32 bytes). */
  readonly channelKey: Uint8Array;
  /** Amount locked, base units. */
  readonly amount: bigint;
  /** Expiry, milliseconds since the Unix epoch. */
  readonly expiresAt: number;
}

/**
 * The exact bytes a channel-key authorization covers: `"bttkit/channel-auth/v1\0"` ‖ u8
 * len(ledgerId) ‖ ledgerId ‖ channelId (16) ‖ payer (21) ‖ payee (21) ‖ channelKey (32) ‖
 * amount (32, big-endian) ‖ expiresAt (8, big-endian ms).
 */
export function authorizationMessage(terms: ChannelTerms): Uint8Array {
  checkAmount(terms.amount);
  if (!Number.isSafeInteger(terms.expiresAt) || terms.expiresAt < 0) {
    throw new LedgerError('LEDGER_BAD_EXPIRY', 'expiresAt must be a non-negative safe integer (ms)');
  }
  return concatBytes([
    AUTH_TAG,
    lengthPrefixed(checkLedgerId(terms.ledgerId)),
    fromHex(channelIdFor(terms.ledgerId, terms.channelKey)),
    addressBytes(terms.payer),
    addressBytes(terms.payee),
    terms.channelKey,
    u256be(terms.amount),
    u64be(terms.expiresAt),
  ]);
}

/** The payer's TRON-key signature ({@link AccountSignature}) authorizing a channel key. */
export function authorizeChannel(payerKey: TronKey, terms: ChannelTerms): Uint8Array {
  if (payerKey.address !== terms.payer) {
    throw new LedgerError('LEDGER_NOT_YOURS', 'the authorizing key is not the payer');
  }
  return payerKey.sign(authorizationMessage(terms));
}

/** True if `authorization` is the payer's valid authorization of `terms`. Never throws. */
export function verifyAuthorization(terms: ChannelTerms, authorization: Uint8Array): boolean {
  let msg: Uint8Array;
  try {
    msg = authorizationMessage(terms);
  } catch {
    return false;
  }
  return verifyAccountSignature(terms.payer, msg, authorization);
}

/** The new lock bound of a signer or verifier: `next`, which must not be below `current`. */
function raisedLock(current: bigint, next: bigint): bigint {
  checkAmount(next, 'locked', 0n);
  if (next < current) throw new LedgerError('LEDGER_BAD_AMOUNT', 'a channel deposit never shrinks');
  return next;
}

/**
 * The payer's side of a channel: makes cumulative vouchers, never beyond the locked amount.
 *
 * @example
 * ```ts
 * const sender = new VoucherSigner(channelKey, ledgerId, channelId, 1000n);
 * const v = sender.pay(10n); // cumulative 10
 * ```
 */
export class VoucherSigner {
  #cumulative: bigint;
  #locked: bigint;

  constructor(
    readonly key: ChannelKey,
    readonly ledgerId: string,
    readonly channelId: string,
    locked: bigint,
    cumulative = 0n,
  ) {
    this.#locked = locked;
    this.#cumulative = cumulative;
  }

  /** Total promised so far. */
  get cumulative(): bigint {
    return this.#cumulative;
  }

  /** The channel's deposit: no voucher promises more. */
  get locked(): bigint {
    return this.#locked;
  }

  /**
   * Raises {@link locked} to the channel's new deposit after a top-up (`topUpChannel`'s
   * `amount`); the same value again does nothing.
   * @throws {LedgerError} `LEDGER_BAD_AMOUNT` (a decrease, or not an amount)
   */
  raise(locked: bigint): void {
    this.#locked = raisedLock(this.#locked, locked);
  }

  /** A voucher promising `amount` more. @throws {LedgerError} `LEDGER_VOUCHER_EXCEEDS_LOCKED`, `LEDGER_BAD_AMOUNT` */
  pay(amount: bigint): Voucher {
    checkAmount(amount);
    const next = this.#cumulative + amount;
    if (next > this.#locked)
      throw new LedgerError('LEDGER_VOUCHER_EXCEEDS_LOCKED', 'payment beyond the locked amount');
    const v = signVoucher(this.key, this.ledgerId, this.channelId, next);
    this.#cumulative = next;
    return v;
  }
}

/**
 * The payee's side of a channel: accepts a voucher only if it is for this ledger and channel,
 * strictly larger than the best so far, within the locked amount, and signed by the channel
 * key. Only the newest voucher is verified (vouchers are cumulative); the best one is kept for
 * redeeming.
 */
export class VoucherVerifier {
  #best: Voucher | undefined;
  #pending: Voucher | undefined;
  #locked: bigint;

  constructor(
    readonly channelKey: Uint8Array,
    readonly ledgerId: string,
    readonly channelId: string,
    locked: bigint,
    readonly redeemed = 0n,
  ) {
    this.#locked = locked;
  }

  /** The channel's deposit: no voucher above it is accepted. */
  get locked(): bigint {
    return this.#locked;
  }

  /**
   * Raises {@link locked} to the channel's new deposit after a top-up (as the ledger's
   * `getChannel` reports it); the same value again does nothing. Vouchers up to it are accepted
   * from then on.
   * @throws {LedgerError} `LEDGER_BAD_AMOUNT` (a decrease, or not an amount)
   */
  raise(locked: bigint): void {
    this.#locked = raisedLock(this.#locked, locked);
  }

  /** The best voucher accepted so far. */
  get best(): Voucher | undefined {
    return this.#best;
  }

  /** Cumulative amount of the best verified voucher (or what was already redeemed). */
  get cumulative(): bigint {
    return this.#best?.cumulative ?? this.redeemed;
  }

  /** Cumulative amount of the newest voucher offered, verified or not. */
  get offered(): bigint {
    return this.#pending?.cumulative ?? this.cumulative;
  }

  #checkFields(voucher: Voucher, above: bigint): void {
    if (voucher.ledgerId !== this.ledgerId) {
      throw new LedgerError('LEDGER_VOUCHER_WRONG_LEDGER', 'voucher is for another ledger');
    }
    if (voucher.channelId !== this.channelId) {
      throw new LedgerError('LEDGER_VOUCHER_BAD_SIGNATURE', 'voucher is for another channel');
    }
    if (typeof voucher.cumulative !== 'bigint' || voucher.cumulative <= above) {
      throw new LedgerError('LEDGER_VOUCHER_NOT_INCREASING', 'voucher cumulative amount does not increase');
    }
    if (voucher.cumulative > this.#locked) {
      throw new LedgerError('LEDGER_VOUCHER_EXCEEDS_LOCKED', 'voucher above the locked amount');
    }
  }

  /**
   * Records a voucher without verifying its signature (cheap: field checks only). Vouchers are
   * cumulative, so a provider keeps only the newest and verifies it with {@link verifyNewest}
   * just before it extends more credit — one verification per credit window, not per payment.
   * @throws {LedgerError} as {@link accept}, except for the signature.
   */
  offer(voucher: Voucher): void {
    this.#checkFields(voucher, this.offered);
    this.#pending = voucher;
  }

  /**
   * Verifies the newest offered voucher and makes it the best; returns the verified cumulative
   * amount. A bad signature means the payer cheated: the pending voucher is dropped and
   * `LEDGER_VOUCHER_BAD_SIGNATURE` thrown (stop serving that peer).
   */
  verifyNewest(): bigint {
    const v = this.#pending;
    if (!v) return this.cumulative;
    this.#pending = undefined;
    if (!verifyVoucherSignature(this.channelKey, v)) {
      throw new LedgerError('LEDGER_VOUCHER_BAD_SIGNATURE', 'voucher signature does not verify');
    }
    this.#best = v;
    return v.cumulative;
  }

  /**
   * Accepts `voucher` and returns the increment it adds.
   * @throws {LedgerError} `LEDGER_VOUCHER_WRONG_LEDGER`, `LEDGER_VOUCHER_BAD_SIGNATURE` (also for another
   * channel's voucher), `LEDGER_VOUCHER_NOT_INCREASING`, `LEDGER_VOUCHER_EXCEEDS_LOCKED`.
   */
  accept(voucher: Voucher): bigint {
    const prev = this.cumulative;
    this.#checkFields(voucher, prev);
    if (!verifyVoucherSignature(this.channelKey, voucher)) {
      throw new LedgerError('LEDGER_VOUCHER_BAD_SIGNATURE', 'voucher signature does not verify');
    }
    this.#best = voucher;
    if (this.#pending && this.#pending.cumulative <= voucher.cumulative) this.#pending = undefined;
    return voucher.cumulative - prev;
  }
}

/** True if two vouchers are identical (fields and signature). */
export function sameVoucher(a: Voucher, b: Voucher): boolean {
  return (
    a.ledgerId === b.ledgerId &&
    a.channelId === b.channelId &&
    a.cumulative === b.cumulative &&
    equalBytes(a.signature, b.signature)
  );
}
