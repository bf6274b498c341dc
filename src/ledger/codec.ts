import { type BDict, type BValue, decode, encode } from '../metainfo/bencode.js';
import { fromUtf8Strict, toBinaryString } from '../util/bytes.js';
import { MAX_RECORD } from '../util/journal.js';
import { MAX_AMOUNT_DIGITS } from './amount.js';
import type { ChannelRecord, LedgerCommand, LedgerEvent, LedgerResult, LedgerStateData } from './core.js';
import { LedgerError } from './errors.js';
import type { WithdrawalView } from './types.js';

// The journal framing is the package's one implementation, shared with the settlement journal.
export {
  crc32,
  frameRecord,
  MAX_RECORD,
  RECORD_HEADER,
  type RecordRead,
  readRecord,
} from '../util/journal.js';

// ---- field readers over a decoded, hostile dictionary ----

function corrupt(message: string): never {
  throw new LedgerError('LEDGER_JOURNAL_CORRUPT', message);
}

function dict(v: BValue | undefined, what: string): BDict {
  if (!(v instanceof Map)) corrupt(`${what}: not a dictionary`);
  return v;
}

function list(v: BValue | undefined, what: string): BValue[] {
  if (!Array.isArray(v)) corrupt(`${what}: not a list`);
  return v;
}

function bytesOf(v: BValue | undefined, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) corrupt(`${what}: not a byte string`);
  return v;
}

function strOf(v: BValue | undefined, what: string): string {
  const s = fromUtf8Strict(bytesOf(v, what));
  if (s === undefined) corrupt(`${what}: not UTF-8`);
  return s;
}

function intOf(v: BValue | undefined, what: string): bigint {
  if (typeof v !== 'bigint') corrupt(`${what}: not an integer`);
  return v;
}

function numOf(v: BValue | undefined, what: string): number {
  const n = intOf(v, what);
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(`${what}: out of range`);
  return Number(n);
}

const get = (d: BDict, k: string): BValue | undefined => d.get(k);
const str = (d: BDict, k: string) => strOf(get(d, k), k);
const int = (d: BDict, k: string) => intOf(get(d, k), k);
const num = (d: BDict, k: string) => numOf(get(d, k), k);
const bytes = (d: BDict, k: string) => Uint8Array.from(bytesOf(get(d, k), k));
const optStr = (d: BDict, k: string) => (d.has(k) ? str(d, k) : undefined);

// ---- commands ----

/** Canonical bencoding of a command (also the input of its idempotency fingerprint). */
export function encodeCommand(c: LedgerCommand): Uint8Array {
  return encode(commandValue(c));
}

function commandValue(c: LedgerCommand): Record<string, BValue | string | undefined> {
  switch (c.type) {
    case 'deposit':
      return { type: c.type, key: c.idempotencyKey, account: c.account, amount: c.amount, txid: c.txid };
    case 'open':
      return {
        type: c.type,
        key: c.idempotencyKey,
        payer: c.payer,
        payee: c.payee,
        amount: c.amount,
        expiresAt: BigInt(c.expiresAt),
        channelKey: c.channelKey,
        authorization: c.authorization,
      };
    case 'redeem':
      return {
        type: c.type,
        key: c.idempotencyKey,
        by: c.by,
        ledgerId: c.voucher.ledgerId,
        channelId: c.voucher.channelId,
        cumulative: c.voucher.cumulative,
        signature: c.voucher.signature,
      };
    case 'close':
      return { type: c.type, key: c.idempotencyKey, by: c.by, channelId: c.channelId };
    case 'topup':
      return { type: c.type, key: c.idempotencyKey, by: c.by, channelId: c.channelId, amount: c.amount };
    case 'withdraw':
      return { type: c.type, key: c.idempotencyKey, account: c.account, amount: c.amount, to: c.to };
    case 'settle':
      return {
        type: c.type,
        key: c.idempotencyKey,
        withdrawalId: c.withdrawalId,
        outcome: c.outcome,
        txid: c.txid,
      };
  }
}

function decodeCommand(d: BDict): LedgerCommand {
  const type = str(d, 'type');
  const idempotencyKey = str(d, 'key');
  switch (type) {
    case 'deposit':
      return {
        type,
        idempotencyKey,
        account: str(d, 'account'),
        amount: int(d, 'amount'),
        txid: str(d, 'txid'),
      };
    case 'open':
      return {
        type,
        idempotencyKey,
        payer: str(d, 'payer'),
        payee: str(d, 'payee'),
        amount: int(d, 'amount'),
        expiresAt: num(d, 'expiresAt'),
        channelKey: bytes(d, 'channelKey'),
        authorization: bytes(d, 'authorization'),
      };
    case 'redeem':
      return {
        type,
        idempotencyKey,
        by: str(d, 'by'),
        voucher: {
          ledgerId: str(d, 'ledgerId'),
          channelId: str(d, 'channelId'),
          cumulative: int(d, 'cumulative'),
          signature: bytes(d, 'signature'),
        },
      };
    case 'close':
      return { type, idempotencyKey, by: str(d, 'by'), channelId: str(d, 'channelId') };
    case 'topup':
      return {
        type,
        idempotencyKey,
        by: str(d, 'by'),
        channelId: str(d, 'channelId'),
        amount: int(d, 'amount'),
      };
    case 'withdraw': {
      const to = optStr(d, 'to');
      return {
        type,
        idempotencyKey,
        account: str(d, 'account'),
        amount: int(d, 'amount'),
        ...(to !== undefined ? { to } : {}),
      };
    }
    case 'settle': {
      const outcome = str(d, 'outcome');
      if (outcome !== 'sent' && outcome !== 'failed') corrupt('bad outcome');
      const txid = optStr(d, 'txid');
      return {
        type,
        idempotencyKey,
        withdrawalId: str(d, 'withdrawalId'),
        outcome,
        ...(txid !== undefined ? { txid } : {}),
      };
    }
    default:
      return corrupt(`unknown command type ${JSON.stringify(type.slice(0, 32))}`);
  }
}

// ---- events ----

/** The journal payload of an event (canonical bencode). */
export function encodeEvent(e: LedgerEvent): Uint8Array {
  if (e.type === 'init')
    return encode({ seq: BigInt(e.seq), at: BigInt(e.at), t: 'init', ledgerId: e.ledgerId });
  if (e.type === 'nonce')
    return encode({
      seq: BigInt(e.seq),
      at: BigInt(e.at),
      t: 'nonce',
      key: e.key,
      expires: BigInt(e.expires),
    });
  return encode({ seq: BigInt(e.seq), at: BigInt(e.at), t: 'command', c: commandValue(e.command) });
}

function decodeHostile(payload: Uint8Array, maxBytes: number): BValue {
  try {
    return decode(payload, {
      maxBytes,
      maxDepth: 8,
      keyOrder: 'strict',
      maxItems: Number.MAX_SAFE_INTEGER,
      maxIntegerDigits: MAX_AMOUNT_DIGITS,
    });
  } catch (cause) {
    throw new LedgerError('LEDGER_JOURNAL_CORRUPT', 'record is not canonical bencode', { cause });
  }
}

/**
 * Decodes a journal payload into an event. Shapes are checked; values (addresses, amounts,
 * signatures) are checked again when the event is replayed.
 * @throws {LedgerError} `LEDGER_JOURNAL_CORRUPT`
 */
export function decodeEvent(payload: Uint8Array): LedgerEvent {
  const d = dict(decodeHostile(payload, MAX_RECORD), 'event');
  const seq = num(d, 'seq');
  const at = num(d, 'at');
  const t = str(d, 't');
  if (t === 'init') return { seq, at, type: 'init', ledgerId: str(d, 'ledgerId') };
  if (t === 'nonce') return { seq, at, type: 'nonce', key: str(d, 'key'), expires: num(d, 'expires') };
  if (t === 'command') return { seq, at, type: 'command', command: decodeCommand(dict(get(d, 'c'), 'c')) };
  return corrupt('unknown event type');
}

// ---- results and snapshots ----

function resultValue(r: LedgerResult): Record<string, BValue | string | undefined> {
  switch (r.type) {
    case 'deposit':
      return { type: r.type, account: r.account, txid: r.txid, amount: r.amount };
    case 'open':
      return { type: r.type, channelId: r.channelId, amount: r.amount, expiresAt: BigInt(r.expiresAt) };
    case 'redeem':
      return { type: r.type, channelId: r.channelId, cumulative: r.cumulative, credited: r.credited };
    case 'close':
      return { type: r.type, channelId: r.channelId, paid: r.paid, refunded: r.refunded };
    case 'topup':
      return { type: r.type, channelId: r.channelId, added: r.added, amount: r.amount };
    case 'withdraw':
      return { type: r.type, withdrawalId: r.withdrawalId, amount: r.amount };
    case 'settle':
      return { type: r.type, withdrawalId: r.withdrawalId, status: r.status };
  }
}

function decodeResult(d: BDict): LedgerResult {
  const type = str(d, 'type');
  switch (type) {
    case 'deposit':
      return { type, account: str(d, 'account'), txid: str(d, 'txid'), amount: int(d, 'amount') };
    case 'open':
      return {
        type,
        channelId: str(d, 'channelId'),
        amount: int(d, 'amount'),
        expiresAt: num(d, 'expiresAt'),
      };
    case 'redeem':
      return {
        type,
        channelId: str(d, 'channelId'),
        cumulative: int(d, 'cumulative'),
        credited: int(d, 'credited'),
      };
    case 'close':
      return { type, channelId: str(d, 'channelId'), paid: int(d, 'paid'), refunded: int(d, 'refunded') };
    case 'topup':
      return { type, channelId: str(d, 'channelId'), added: int(d, 'added'), amount: int(d, 'amount') };
    case 'withdraw':
      return { type, withdrawalId: str(d, 'withdrawalId'), amount: int(d, 'amount') };
    case 'settle': {
      const status = str(d, 'status');
      if (status !== 'sent' && status !== 'failed') corrupt('bad status');
      return { type, withdrawalId: str(d, 'withdrawalId'), status };
    }
    default:
      return corrupt('unknown result type');
  }
}

const optInt = (v: bigint | undefined) => v;
const optNum = (v: number | undefined) => (v === undefined ? undefined : BigInt(v));

function sortedBy<T>(items: T[], key: (t: T) => string): T[] {
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** The snapshot payload of a state (canonical bencode; entries sorted, so equal states encode equally). */
export function encodeState(s: LedgerStateData): Uint8Array {
  return encode({
    v: 1n,
    ledgerId: s.ledgerId,
    seq: BigInt(s.seq),
    deposited: s.totalDeposits,
    withdrawn: s.totalWithdrawals,
    accounts: sortedBy([...s.accounts], (e) => e[0]).map(([a, r]) => [a, r.balance, r.locked]),
    channels: sortedBy([...s.channels.values()], (c) => c.id).map((c) => ({
      id: c.id,
      payer: c.payer,
      payee: c.payee,
      key: c.key,
      amount: c.amount,
      redeemed: c.redeemed,
      expiresAt: BigInt(c.expiresAt),
      openedAt: BigInt(c.openedAt),
      status: c.status,
      refunded: optInt(c.refunded),
      closedAt: optNum(c.closedAt),
    })),
    deposits: sortedBy([...s.deposits], (e) => e[0]).map(([txid, d]) => [txid, d.account, d.amount]),
    withdrawals: sortedBy([...s.withdrawals.values()], (w) => w.id).map((w) => ({
      id: w.id,
      account: w.account,
      to: w.to,
      amount: w.amount,
      status: w.status,
      requestedAt: BigInt(w.requestedAt),
      txid: w.txid,
    })),
    idempotency: sortedBy([...s.idempotency], (e) => e[0]).map(([scope, r]) => [
      scope,
      r.fingerprint,
      resultValue(r.result),
    ]),
    // (Absent in snapshots written before refused requests' nonces were kept.)
    nonces:
      s.nonces.size > 0
        ? sortedBy([...s.nonces], (e) => e[0]).map(([k, exp]) => [k, BigInt(exp)])
        : undefined,
  });
}

function tuple(v: BValue | undefined, n: number, what: string): BValue[] {
  const l = list(v, what);
  if (l.length !== n) corrupt(`${what}: want ${n} items`);
  return l;
}

/**
 * Decodes a snapshot payload. @throws {LedgerError} `LEDGER_JOURNAL_CORRUPT`
 */
export function decodeState(payload: Uint8Array): LedgerStateData {
  const d = dict(decodeHostile(payload, payload.length), 'snapshot');
  if (int(d, 'v') !== 1n) corrupt('unknown snapshot version');
  const s: LedgerStateData = {
    ledgerId: optStr(d, 'ledgerId'),
    seq: num(d, 'seq'),
    totalDeposits: int(d, 'deposited'),
    totalWithdrawals: int(d, 'withdrawn'),
    accounts: new Map(),
    channels: new Map(),
    deposits: new Map(),
    withdrawals: new Map(),
    idempotency: new Map(),
    nonces: new Map(),
  };
  if (d.has('nonces')) {
    for (const item of list(get(d, 'nonces'), 'nonces')) {
      const [k, exp] = tuple(item, 2, 'nonce');
      s.nonces.set(strOf(k, 'nonce'), Number(intOf(exp, 'expires')));
    }
  }
  for (const item of list(get(d, 'accounts'), 'accounts')) {
    const [a, b, l] = tuple(item, 3, 'account');
    s.accounts.set(strOf(a, 'address'), { balance: intOf(b, 'balance'), locked: intOf(l, 'locked') });
  }
  for (const item of list(get(d, 'channels'), 'channels')) {
    const c = dict(item, 'channel');
    const status = str(c, 'status');
    if (status !== 'open' && status !== 'closed') corrupt('bad channel status');
    const ch: ChannelRecord = {
      id: str(c, 'id'),
      payer: str(c, 'payer'),
      payee: str(c, 'payee'),
      key: bytes(c, 'key'),
      amount: int(c, 'amount'),
      redeemed: int(c, 'redeemed'),
      expiresAt: num(c, 'expiresAt'),
      openedAt: num(c, 'openedAt'),
      status,
    };
    if (c.has('refunded')) ch.refunded = int(c, 'refunded');
    if (c.has('closedAt')) ch.closedAt = num(c, 'closedAt');
    s.channels.set(ch.id, ch);
  }
  for (const item of list(get(d, 'deposits'), 'deposits')) {
    const [t, a, n] = tuple(item, 3, 'deposit');
    s.deposits.set(strOf(t, 'txid'), { account: strOf(a, 'account'), amount: intOf(n, 'amount') });
  }
  for (const item of list(get(d, 'withdrawals'), 'withdrawals')) {
    const w = dict(item, 'withdrawal');
    const status = str(w, 'status');
    if (status !== 'pending' && status !== 'sent' && status !== 'failed') corrupt('bad withdrawal status');
    const view: WithdrawalView = {
      id: str(w, 'id'),
      account: str(w, 'account'),
      to: str(w, 'to'),
      amount: int(w, 'amount'),
      status,
      requestedAt: num(w, 'requestedAt'),
    };
    const txid = optStr(w, 'txid');
    if (txid !== undefined) view.txid = txid;
    s.withdrawals.set(view.id, view);
  }
  for (const item of list(get(d, 'idempotency'), 'idempotency')) {
    const [scope, fp, r] = tuple(item, 3, 'idempotency');
    s.idempotency.set(strOf(scope, 'scope'), {
      fingerprint: strOf(fp, 'fingerprint'),
      result: decodeResult(dict(r, 'result')),
    });
  }
  return s;
}

/** A digest-friendly canonical form of a state (for comparing two states in tests). */
export function stateFingerprint(s: LedgerStateData): string {
  return toBinaryString(encodeState(s));
}
