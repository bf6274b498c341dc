import { toHex } from '../util/bytes.js';
import { MAX_AMOUNT } from './amount.js';
import { commandActor, fingerprintOf, normalizeCommand } from './command.js';
import { LedgerError } from './errors.js';
import { normalizeAddress } from './keys.js';
import type {
  AccountView,
  ChannelView,
  CloseChannelParams,
  CloseChannelResult,
  DepositParams,
  DepositResult,
  LedgerTotals,
  OpenChannelParams,
  OpenChannelResult,
  RedeemParams,
  RedeemResult,
  SettleWithdrawalParams,
  SettleWithdrawalResult,
  TopUpChannelParams,
  TopUpChannelResult,
  WithdrawalView,
  WithdrawParams,
  WithdrawResult,
} from './types.js';
import {
  channelIdFor,
  checkChannelId,
  checkLedgerId,
  verifyAuthorization,
  verifyVoucherSignature,
} from './voucher.js';

export { checkIdempotencyKey, checkTxid, commandActor, normalizeCommand } from './command.js';

/** A mutation, as journaled (addresses normalized to `T…`). */
export type LedgerCommand =
  | ({ type: 'deposit' } & DepositParams)
  | ({ type: 'open' } & OpenChannelParams)
  | ({ type: 'redeem' } & RedeemParams)
  | ({ type: 'close' } & CloseChannelParams)
  | ({ type: 'topup' } & TopUpChannelParams)
  | ({ type: 'withdraw' } & WithdrawParams)
  | ({ type: 'settle' } & SettleWithdrawalParams);

/** The result of a {@link LedgerCommand}, tagged with its type. */
export type LedgerResult =
  | ({ type: 'deposit' } & DepositResult)
  | ({ type: 'open' } & OpenChannelResult)
  | ({ type: 'redeem' } & RedeemResult)
  | ({ type: 'close' } & CloseChannelResult)
  | ({ type: 'topup' } & TopUpChannelResult)
  | ({ type: 'withdraw' } & WithdrawResult)
  | ({ type: 'settle' } & SettleWithdrawalResult);

/** One journal entry: the ledger's identity (`init`, first) or an applied command. */
export type LedgerEvent =
  | { seq: number; at: number; type: 'init'; ledgerId: string }
  | { seq: number; at: number; type: 'command'; command: LedgerCommand }
  /** A signed request the ledger refused: its nonce stays spent until it expires (the service's replay guard). */
  | { seq: number; at: number; type: 'nonce'; key: string; expires: number };

/** Internal channel record. */
export interface ChannelRecord {
  id: string;
  payer: string;
  payee: string;
  key: Uint8Array;
  amount: bigint;
  redeemed: bigint;
  expiresAt: number;
  openedAt: number;
  status: 'open' | 'closed';
  refunded?: bigint;
  closedAt?: number;
}

/** Internal account record. */
export interface AccountRecord {
  balance: bigint;
  locked: bigint;
}

/** A remembered mutation: its parameter fingerprint and first result. */
export interface IdempotencyRecord {
  fingerprint: string;
  result: LedgerResult;
}

/** The complete state of a ledger (what a snapshot holds). */
export interface LedgerStateData {
  ledgerId: string | undefined;
  seq: number;
  totalDeposits: bigint;
  totalWithdrawals: bigint;
  accounts: Map<string, AccountRecord>;
  channels: Map<string, ChannelRecord>;
  deposits: Map<string, { account: string; amount: bigint }>;
  withdrawals: Map<string, WithdrawalView>;
  idempotency: Map<string, IdempotencyRecord>;
  /** Spent nonces of refused requests (`signer:nonce` → expiry, epoch ms), kept until they expire. */
  nonces: Map<string, number>;
}

function fail(code: ConstructorParameters<typeof LedgerError>[0], message: string): never {
  throw new LedgerError(code, message);
}

/** What {@link LedgerState.execute} did. */
export type Execution =
  | { kind: 'applied'; event: LedgerEvent; result: LedgerResult }
  | { kind: 'repeat'; result: LedgerResult };

/** An empty state. */
export function emptyState(): LedgerStateData {
  return {
    ledgerId: undefined,
    seq: 0,
    totalDeposits: 0n,
    totalWithdrawals: 0n,
    accounts: new Map(),
    channels: new Map(),
    deposits: new Map(),
    withdrawals: new Map(),
    idempotency: new Map(),
    nonces: new Map(),
  };
}

/**
 * The ledger as a pure, synchronous state machine: no I/O, no timers; time is passed in.
 * {@link LedgerState.execute} validates a command, and either refuses it (throws, state untouched),
 * recognises a repeat (returns the first result), or applies it and returns the event to journal.
 * {@link LedgerState.replay} re-applies journaled events (signatures are not re-checked: the
 * journal is checksummed and only ever holds verified events).
 */
export class LedgerState {
  readonly data: LedgerStateData;

  constructor(data: LedgerStateData = emptyState()) {
    this.data = data;
  }

  get ledgerId(): string | undefined {
    return this.data.ledgerId;
  }

  get seq(): number {
    return this.data.seq;
  }

  /** Makes the `init` event that names a new ledger. */
  init(ledgerId: string, at: number): LedgerEvent {
    if (this.data.ledgerId !== undefined) fail('LEDGER_ID_MISMATCH', 'ledger already initialised');
    const event: LedgerEvent = {
      seq: this.data.seq + 1,
      at,
      type: 'init',
      ledgerId: checkLedgerId(ledgerId),
    };
    this.replay(event);
    return event;
  }

  /**
   * Makes the event that spends the nonce `key` (`signer:nonce`) of a refused request until
   * `expires` (epoch ms), and applies it.
   */
  spendNonce(key: string, expires: number, at: number): LedgerEvent {
    if (!Number.isSafeInteger(expires)) fail('LEDGER_BAD_REQUEST', 'bad nonce expiry');
    const event: LedgerEvent = {
      seq: this.data.seq + 1,
      at,
      type: 'nonce',
      key: checkNonceKey(key),
      expires,
    };
    this.replay(event);
    return event;
  }

  /** True when nonce `key` was spent by a refused request that is still valid at `now`. */
  nonceSpent(key: string, now: number): boolean {
    const exp = this.data.nonces.get(key);
    return exp !== undefined && exp > now;
  }

  /** Forgets spent nonces that expired by `now` (before a snapshot). */
  pruneNonces(now: number): void {
    for (const [k, exp] of this.data.nonces) if (exp <= now) this.data.nonces.delete(k);
  }

  /**
   * Validates and applies `command` at time `at` (ms since the epoch).
   * @throws {LedgerError} if refused; the state is then unchanged.
   */
  execute(command: LedgerCommand, at: number): Execution {
    if (this.data.ledgerId === undefined) fail('LEDGER_CLOSED', 'ledger not initialised');
    const c = normalizeCommand(command);
    const scope = `${commandActor(c)}\n${c.idempotencyKey}`;
    const fingerprint = fingerprintOf(c);
    const prior = this.data.idempotency.get(scope);
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        fail('LEDGER_IDEMPOTENCY_MISMATCH', 'idempotency key already used with other parameters');
      }
      return { kind: 'repeat', result: prior.result };
    }
    const seq = this.data.seq + 1;
    const result = this.#apply(c, at, seq, true);
    this.data.idempotency.set(scope, { fingerprint, result });
    this.data.seq = seq;
    return { kind: 'applied', event: { seq, at, type: 'command', command: c }, result };
  }

  /**
   * Re-applies a journaled event. @throws {LedgerError} `LEDGER_JOURNAL_CORRUPT` if it does not follow
   * (wrong sequence number, or refused by the state).
   */
  replay(event: LedgerEvent): void {
    if (event.seq !== this.data.seq + 1) {
      fail('LEDGER_JOURNAL_CORRUPT', `journal event ${event.seq} does not follow ${this.data.seq}`);
    }
    if (event.type === 'init') {
      if (this.data.ledgerId !== undefined) fail('LEDGER_JOURNAL_CORRUPT', 'second init event');
      this.data.ledgerId = event.ledgerId;
      this.data.seq = event.seq;
      return;
    }
    if (event.type === 'nonce') {
      this.data.nonces.set(checkNonceKey(event.key, 'LEDGER_JOURNAL_CORRUPT'), event.expires);
      this.data.seq = event.seq;
      return;
    }
    if (this.data.ledgerId === undefined) fail('LEDGER_JOURNAL_CORRUPT', 'command before init');
    let c: LedgerCommand;
    try {
      c = normalizeCommand(event.command);
      const scope = `${commandActor(c)}\n${c.idempotencyKey}`;
      if (this.data.idempotency.has(scope)) fail('LEDGER_JOURNAL_CORRUPT', 'idempotency key repeated');
      const fingerprint = fingerprintOf(c);
      const result = this.#apply(c, event.at, event.seq, false);
      this.data.idempotency.set(scope, { fingerprint, result });
    } catch (cause) {
      if (cause instanceof LedgerError && cause.code === 'LEDGER_JOURNAL_CORRUPT') throw cause;
      throw new LedgerError('LEDGER_JOURNAL_CORRUPT', `journal event ${event.seq} does not apply`, { cause });
    }
    this.data.seq = event.seq;
  }

  #account(address: string): AccountRecord {
    let a = this.data.accounts.get(address);
    if (!a) {
      a = { balance: 0n, locked: 0n };
      this.data.accounts.set(address, a);
    }
    return a;
  }

  #channel(id: string): ChannelRecord {
    const ch = this.data.channels.get(id);
    if (!ch) fail('LEDGER_CHANNEL_NOT_FOUND', 'no such channel');
    return ch;
  }

  // Validates everything first, then mutates: a refused command leaves no trace.
  #apply(c: LedgerCommand, at: number, seq: number, verify: boolean): LedgerResult {
    const ledgerId = this.data.ledgerId as string;
    switch (c.type) {
      case 'deposit': {
        if (this.data.deposits.has(c.txid)) fail('LEDGER_DUPLICATE_DEPOSIT', 'deposit already credited');
        // Every amount the ledger holds is at most the total deposited: bounding it bounds them all.
        if (this.data.totalDeposits + c.amount > MAX_AMOUNT)
          fail('LEDGER_BAD_AMOUNT', 'the total deposited would exceed 2^256-1, the most the ledger holds');
        this.data.deposits.set(c.txid, { account: c.account, amount: c.amount });
        this.#account(c.account).balance += c.amount;
        this.data.totalDeposits += c.amount;
        return { type: 'deposit', account: c.account, txid: c.txid, amount: c.amount };
      }
      case 'open': {
        const id = channelIdFor(ledgerId, c.channelKey);
        if (this.data.channels.has(id)) fail('LEDGER_CHANNEL_EXISTS', 'a channel with this key exists');
        if (c.expiresAt <= at) fail('LEDGER_BAD_EXPIRY', 'expiresAt is not in the future');
        const terms = { ledgerId, ...c };
        if (verify && !verifyAuthorization(terms, c.authorization)) {
          fail('LEDGER_BAD_AUTHORIZATION', "channel key not authorized by the payer's key");
        }
        const payer = this.data.accounts.get(c.payer);
        if (!payer || payer.balance < c.amount)
          fail('LEDGER_INSUFFICIENT_FUNDS', 'balance below the channel amount');
        payer.balance -= c.amount;
        payer.locked += c.amount;
        this.data.channels.set(id, {
          id,
          payer: c.payer,
          payee: c.payee,
          key: c.channelKey,
          amount: c.amount,
          redeemed: 0n,
          expiresAt: c.expiresAt,
          openedAt: at,
          status: 'open',
        });
        return { type: 'open', channelId: id, amount: c.amount, expiresAt: c.expiresAt };
      }
      case 'redeem': {
        const v = c.voucher;
        if (v.ledgerId !== ledgerId) fail('LEDGER_VOUCHER_WRONG_LEDGER', 'voucher is for another ledger');
        const ch = this.#channel(v.channelId);
        if (c.by !== ch.payee) fail('LEDGER_NOT_PAYEE', 'only the payee redeems');
        if (ch.status !== 'open') fail('LEDGER_CHANNEL_CLOSED', 'channel is closed');
        if (v.cumulative <= ch.redeemed)
          fail('LEDGER_VOUCHER_NOT_INCREASING', 'voucher not above what was redeemed');
        if (v.cumulative > ch.amount)
          fail('LEDGER_VOUCHER_EXCEEDS_LOCKED', 'voucher above the locked amount');
        if (verify && !verifyVoucherSignature(ch.key, v)) {
          fail('LEDGER_VOUCHER_BAD_SIGNATURE', 'voucher not signed by the channel key');
        }
        const credited = v.cumulative - ch.redeemed;
        const payer = this.#account(ch.payer);
        if (payer.locked < credited) fail('LEDGER_JOURNAL_CORRUPT', 'locked funds missing');
        payer.locked -= credited;
        this.#account(ch.payee).balance += credited;
        ch.redeemed = v.cumulative;
        return { type: 'redeem', channelId: ch.id, cumulative: v.cumulative, credited };
      }
      case 'close': {
        const ch = this.#channel(c.channelId);
        if (c.by !== ch.payee && c.by !== ch.payer) fail('LEDGER_NOT_PARTY', 'not a party to this channel');
        if (ch.status !== 'open') fail('LEDGER_CHANNEL_CLOSED', 'channel is closed');
        if (c.by === ch.payer && at < ch.expiresAt)
          fail('LEDGER_CHANNEL_NOT_EXPIRED', 'payer may close only after expiry');
        const refunded = ch.amount - ch.redeemed;
        const payer = this.#account(ch.payer);
        if (payer.locked < refunded) fail('LEDGER_JOURNAL_CORRUPT', 'locked funds missing');
        payer.locked -= refunded;
        payer.balance += refunded;
        ch.status = 'closed';
        ch.refunded = refunded;
        ch.closedAt = at;
        return { type: 'close', channelId: ch.id, paid: ch.redeemed, refunded };
      }
      case 'topup': {
        const ch = this.#channel(c.channelId);
        // The deposit is the payer's money: nobody else adds to it (a payee or stranger would be
        // locking the payer's balance), so NOT_YOURS — not NOT_PARTY, which a payee is.
        if (c.by !== ch.payer) fail('LEDGER_NOT_YOURS', 'only the payer tops a channel up');
        if (ch.status !== 'open') fail('LEDGER_CHANNEL_CLOSED', 'channel is closed');
        if (at >= ch.expiresAt) fail('LEDGER_CHANNEL_EXPIRED', 'channel has expired');
        // The bound deposits use; implied by the funds check below (a deposit is at most the
        // payer's balance + locked ≤ the total deposited), checked on its own all the same.
        if (ch.amount + c.amount > MAX_AMOUNT)
          fail('LEDGER_BAD_AMOUNT', 'the channel deposit would exceed 2^256-1, the most the ledger holds');
        const payer = this.data.accounts.get(ch.payer);
        if (!payer || payer.balance < c.amount)
          fail('LEDGER_INSUFFICIENT_FUNDS', 'balance below the top-up amount');
        payer.balance -= c.amount;
        payer.locked += c.amount;
        ch.amount += c.amount;
        return { type: 'topup', channelId: ch.id, added: c.amount, amount: ch.amount };
      }
      case 'withdraw': {
        const a = this.data.accounts.get(c.account);
        if (!a || a.balance < c.amount) fail('LEDGER_INSUFFICIENT_FUNDS', 'balance below the withdrawal');
        const id = `w-${seq}`;
        a.balance -= c.amount;
        this.data.totalWithdrawals += c.amount;
        this.data.withdrawals.set(id, {
          id,
          account: c.account,
          to: c.to ?? c.account,
          amount: c.amount,
          status: 'pending',
          requestedAt: at,
        });
        return { type: 'withdraw', withdrawalId: id, amount: c.amount };
      }
      case 'settle': {
        const w = this.data.withdrawals.get(c.withdrawalId);
        if (!w) fail('LEDGER_WITHDRAWAL_NOT_FOUND', 'no such withdrawal');
        if (w.status !== 'pending') fail('LEDGER_WITHDRAWAL_NOT_PENDING', 'withdrawal already settled');
        if (c.outcome === 'failed') {
          this.#account(w.account).balance += w.amount;
          this.data.totalWithdrawals -= w.amount;
          w.status = 'failed';
        } else {
          w.status = 'sent';
          w.txid = c.txid;
        }
        return { type: 'settle', withdrawalId: w.id, status: w.status };
      }
    }
  }

  /** An account's funds (zeros if unknown). */
  account(address: string): AccountView {
    const a = normalizeAddress(address);
    const r = this.data.accounts.get(a);
    return { address: a, balance: r?.balance ?? 0n, locked: r?.locked ?? 0n };
  }

  /** A channel, or `undefined`. */
  channel(id: string): ChannelView | undefined {
    const ch = this.data.channels.get(checkChannelId(id));
    if (!ch) return undefined;
    const view: ChannelView = {
      id: ch.id,
      payer: ch.payer,
      payee: ch.payee,
      channelKey: toHex(ch.key),
      amount: ch.amount,
      redeemed: ch.redeemed,
      expiresAt: ch.expiresAt,
      openedAt: ch.openedAt,
      status: ch.status,
    };
    if (ch.refunded !== undefined) view.refunded = ch.refunded;
    if (ch.closedAt !== undefined) view.closedAt = ch.closedAt;
    return view;
  }

  /** A withdrawal, or `undefined`. */
  withdrawal(id: string): WithdrawalView | undefined {
    const w = this.data.withdrawals.get(id);
    return w ? { ...w } : undefined;
  }

  /** Totals; computed by summing every account. */
  totals(): LedgerTotals {
    let balances = 0n;
    let locked = 0n;
    for (const a of this.data.accounts.values()) {
      balances += a.balance;
      locked += a.locked;
    }
    return { deposits: this.data.totalDeposits, withdrawals: this.data.totalWithdrawals, balances, locked };
  }

  /**
   * Checks every invariant from scratch: Σ balances + Σ locked = Σ deposits − Σ withdrawals;
   * nothing negative; each account's `locked` equals the unredeemed amount of its open channels;
   * no channel redeemed beyond its amount; deposits and pending/sent withdrawals add up.
   * @returns the violations found (empty when sound).
   */
  checkInvariants(): string[] {
    const errors: string[] = [];
    const d = this.data;
    const t = this.totals();
    if (t.balances + t.locked !== t.deposits - t.withdrawals) {
      errors.push(
        `balances ${t.balances} + locked ${t.locked} != deposits ${t.deposits} - withdrawals ${t.withdrawals}`,
      );
    }
    if (t.deposits < 0n || t.withdrawals < 0n) errors.push('negative total');
    const lockedBy = new Map<string, bigint>();
    for (const ch of d.channels.values()) {
      if (ch.redeemed < 0n || ch.redeemed > ch.amount) errors.push(`channel ${ch.id} redeemed out of range`);
      if (ch.status === 'open')
        lockedBy.set(ch.payer, (lockedBy.get(ch.payer) ?? 0n) + ch.amount - ch.redeemed);
      else if (ch.refunded !== ch.amount - ch.redeemed) errors.push(`channel ${ch.id} refund mismatch`);
    }
    for (const [addr, a] of d.accounts) {
      if (a.balance < 0n || a.locked < 0n) errors.push(`account ${addr} negative`);
      if (a.locked !== (lockedBy.get(addr) ?? 0n)) errors.push(`account ${addr} locked mismatch`);
    }
    let deposits = 0n;
    for (const dep of d.deposits.values()) deposits += dep.amount;
    if (deposits !== d.totalDeposits) errors.push('deposits do not add up');
    let withdrawals = 0n;
    for (const w of d.withdrawals.values()) if (w.status !== 'failed') withdrawals += w.amount;
    if (withdrawals !== d.totalWithdrawals) errors.push('withdrawals do not add up');
    return errors;
  }
}

/** A nonce key: `signer:nonce`, printable ASCII, at most 128 characters. */
function checkNonceKey(
  key: string,
  code: 'LEDGER_BAD_REQUEST' | 'LEDGER_JOURNAL_CORRUPT' = 'LEDGER_BAD_REQUEST',
): string {
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(key)) fail(code, 'bad nonce key');
  return key;
}
