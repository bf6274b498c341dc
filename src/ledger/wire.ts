/**
 * The JSON forms of the ledger's HTTP protocol. Amounts travel as decimal strings, bytes as
 * lower-case hex, times as integers (ms since the epoch). Every parser here treats its input as
 * hostile: exact fields, exact types, bounded lengths, typed errors.
 */
import { fromHex, toHex } from '../util/bytes.js';
import { formatAmount, parseAmount } from './amount.js';
import type { LedgerCommand } from './core.js';
import { LedgerError } from './errors.js';

/** A JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

type Kind = 'str' | 'amount' | 'hex' | 'int' | 'raw' | Spec;
interface Spec {
  [field: string]: Kind | [Kind, 'optional'];
}

const MAX_STRING = 4096;

function bad(message: string): never {
  throw new LedgerError('LEDGER_BAD_REQUEST', message);
}

function parseField(v: unknown, kind: Kind, name: string): unknown {
  if (typeof kind === 'object') return parseObject(v, kind, name);
  switch (kind) {
    case 'str':
      if (typeof v !== 'string' || v.length > MAX_STRING) bad(`${name} must be a string`);
      return v;
    case 'amount':
      return parseAmount(v, name);
    case 'hex':
      if (typeof v !== 'string' || v.length > MAX_STRING || !/^([0-9a-f]{2})*$/.test(v))
        bad(`${name} must be lower-case hex`);
      return fromHex(v);
    case 'raw':
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        bad(`${name} must be a non-negative integer`);
      return v;
  }
}

function parseObject(v: unknown, spec: Spec, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be an object`);
  const obj = v as Record<string, unknown>;
  for (const k of Object.keys(obj))
    if (!Object.hasOwn(spec, k)) bad(`${what} has an unknown field ${k.slice(0, 40)}`);
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) {
    const optional = Array.isArray(s);
    const kind = Array.isArray(s) ? s[0] : s;
    if (!Object.hasOwn(obj, k) || obj[k] === undefined) {
      if (!optional) bad(`${what} lacks ${k}`);
      continue;
    }
    out[k] = parseField(obj[k], kind, k);
  }
  return out;
}

/** Converts bigints to decimal strings and bytes to hex, recursively (for responses and requests). */
export function toJson(v: unknown): Json {
  if (typeof v === 'bigint') return formatAmount(v);
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === 'object' && v !== null) {
    const out: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJson(x);
    return out;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  return null;
}

/** The mutating operations, by URL path segment. */
export const COMMAND_SPECS: Record<LedgerCommand['type'], Spec> = {
  deposit: { idempotencyKey: 'str', account: 'str', amount: 'amount', txid: 'str' },
  open: {
    idempotencyKey: 'str',
    payer: 'str',
    payee: 'str',
    amount: 'amount',
    expiresAt: 'int',
    channelKey: 'hex',
    authorization: 'hex',
  },
  redeem: {
    idempotencyKey: 'str',
    by: 'str',
    voucher: { ledgerId: 'str', channelId: 'str', cumulative: 'amount', signature: 'hex' },
  },
  close: { idempotencyKey: 'str', by: 'str', channelId: 'str' },
  topup: { idempotencyKey: 'str', by: 'str', channelId: 'str', amount: 'amount' },
  withdraw: { idempotencyKey: 'str', account: 'str', amount: 'amount', to: ['str', 'optional'] },
  settle: { idempotencyKey: 'str', withdrawalId: 'str', outcome: 'str', txid: ['str', 'optional'] },
};

/** True if `type` names a mutating operation. */
export function isCommandType(type: string): type is LedgerCommand['type'] {
  return Object.hasOwn(COMMAND_SPECS, type);
}

/** Parses the `params` of a request into a command (shape only; values are checked by the ledger). */
export function parseCommand(type: LedgerCommand['type'], params: unknown): LedgerCommand {
  return { type, ...parseObject(params, COMMAND_SPECS[type], 'params') } as unknown as LedgerCommand;
}

/** Response specs, for the client. */
export const RESULT_SPECS = {
  deposit: { account: 'str', txid: 'str', amount: 'amount' },
  open: { channelId: 'str', amount: 'amount', expiresAt: 'int' },
  redeem: { channelId: 'str', cumulative: 'amount', credited: 'amount' },
  close: { channelId: 'str', paid: 'amount', refunded: 'amount' },
  topup: { channelId: 'str', added: 'amount', amount: 'amount' },
  withdraw: { withdrawalId: 'str', amount: 'amount' },
  settle: { withdrawalId: 'str', status: 'str' },
  account: { address: 'str', balance: 'amount', locked: 'amount' },
  channel: {
    id: 'str',
    payer: 'str',
    payee: 'str',
    channelKey: 'str',
    amount: 'amount',
    redeemed: 'amount',
    expiresAt: 'int',
    openedAt: 'int',
    status: 'str',
    refunded: ['amount', 'optional'],
    closedAt: ['int', 'optional'],
  },
  withdrawal: {
    id: 'str',
    account: 'str',
    to: 'str',
    amount: 'amount',
    status: 'str',
    requestedAt: 'int',
    txid: ['str', 'optional'],
  },
  totals: { deposits: 'amount', withdrawals: 'amount', balances: 'amount', locked: 'amount' },
  info: { ledgerId: 'str', seq: 'int' },
} satisfies Record<string, Spec>;

/** Parses a response body object by spec. @throws {LedgerError} `LEDGER_BAD_REQUEST` (as `LEDGER_HTTP_ERROR` by the client) */
export function parseResult(kind: keyof typeof RESULT_SPECS, v: unknown): Record<string, unknown> {
  return parseObject(v, RESULT_SPECS[kind], kind);
}

/** The signed request envelope (JSON body of every mutating request). */
export interface RequestEnvelope {
  /** Protocol version: 1. */
  v: 1;
  /** The ledger this request is for. */
  ledger: string;
  /** The signer's address (`T…`). */
  signer: string;
  /** 16 random bytes, hex: never accepted twice within the expiry window. */
  nonce: string;
  /** Expiry, ms since the epoch. */
  expires: number;
  /** The operation's parameters (JSON form). */
  params: Json;
}

/** Parses an envelope. @throws {LedgerError} `LEDGER_BAD_REQUEST` */
export function parseEnvelope(v: unknown): RequestEnvelope {
  const e = parseObject(
    v,
    { v: 'int', ledger: 'str', signer: 'str', nonce: 'str', expires: 'int', params: 'raw' },
    'request',
  );
  if (e.v !== 1) bad('unsupported protocol version');
  if (typeof e.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(e.nonce))
    bad('nonce must be 32 lower-case hex digits');
  return e as unknown as RequestEnvelope;
}
