/**
 * A deterministic little world for ledger tests: fixed accounts, and "intents" (small records of
 * integers, easy for fast-check to generate and shrink) turned into ledger commands against the
 * current state. Used by the property tests and by the crash-test child.
 */

import {
  authorizeChannel,
  ChannelKey,
  channelIdFor,
  type LedgerCommand,
  type LedgerState,
  signVoucher,
  TronKey,
} from '../../src/ledger/index.js';
import { toHex, utf8 } from '../../src/util/bytes.js';
import { sha256 } from '../../src/util/hash.js';

export const LEDGER_ID = 'test-ledger';
export const T0 = 1_700_000_000_000;

/** Account i's key: deterministic. */
export function accountKey(i: number): TronKey {
  return TronKey.fromPrivateKey(sha256(utf8(`bttkit-test-account-${i}`)));
}

const keyCache = new Map<number, TronKey>();
export function account(i: number): TronKey {
  let k = keyCache.get(i);
  if (!k) {
    k = accountKey(i);
    keyCache.set(i, k);
  }
  return k;
}

export function txid(label: string): string {
  return toHex(sha256(utf8(label)));
}

/** How many kinds of intent there are. */
export const KINDS = 7;

/** One intent: what to try; the world turns it into a command for the current state. */
export interface Intent {
  kind: number; // 0 deposit, 1 open, 2 redeem, 3 close, 4 withdraw, 5 settle, 6 topup
  a: number;
  b: number;
  amount: bigint;
  flag: number;
  dt: number; // ms to advance before the op
}

export const ACCOUNTS = 5;

/** Turns intents into commands against a state (deterministic given the state and the op index). */
export class World {
  /** Channel key seeds by channel id. */
  readonly channelKeys = new Map<string, ChannelKey>();
  now = T0;

  channelKeyFor(seq: string): ChannelKey {
    return ChannelKey.fromSeed(sha256(utf8(`bttkit-test-channel-${seq}`)));
  }

  /** Recovers the keys of channels already in a state (after a restart) from their opening ops. */
  adopt(state: LedgerState): void {
    for (const [scope, rec] of state.data.idempotency) {
      if (rec.result.type !== 'open') continue;
      const opKey = scope.slice(scope.indexOf('\n') + 1);
      this.channelKeys.set(rec.result.channelId, this.channelKeyFor(opKey));
    }
  }

  command(state: LedgerState, intent: Intent, index: number): LedgerCommand {
    const key = `op-${index}`;
    const a = account(intent.a % ACCOUNTS);
    const b = account(
      intent.b % ACCOUNTS === intent.a % ACCOUNTS ? (intent.b + 1) % ACCOUNTS : intent.b % ACCOUNTS,
    );
    // Sorted: map order differs between a live state and one restored from a snapshot.
    const channels = [...state.data.channels.values()].sort(
      (x, y) => x.openedAt - y.openedAt || (x.id < y.id ? -1 : 1),
    );
    const pick = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : xs[intent.flag % xs.length]);
    switch (intent.kind % KINDS) {
      case 0: {
        // flag 7 re-uses an earlier txid (a duplicate deposit, refused)
        const deps = [...state.data.deposits.keys()].sort();
        const dup = intent.flag % 8 === 7 ? pick(deps) : undefined;
        return {
          type: 'deposit',
          idempotencyKey: key,
          account: a.address,
          amount: intent.amount,
          txid: dup ?? txid(key),
        };
      }
      case 1: {
        const ck = this.channelKeyFor(key);
        const expiresAt = this.now + 1_000 + (intent.flag % 5) * 1_000;
        const terms = {
          ledgerId: LEDGER_ID,
          payer: a.address,
          payee: b.address,
          channelKey: ck.publicKey,
          amount: intent.amount,
          expiresAt,
        };
        this.channelKeys.set(channelIdFor(LEDGER_ID, ck.publicKey), ck);
        return { type: 'open', idempotencyKey: key, ...terms, authorization: authorizeChannel(a, terms) };
      }
      case 2: {
        // flag bit 5: any channel (maybe closed); otherwise an open one
        const ch = pick(intent.flag & 32 ? channels : channels.filter((c) => c.status === 'open'));
        if (!ch) return this.command(state, { ...intent, kind: 0 }, index);
        const ck = this.channelKeys.get(ch.id) ?? this.channelKeyFor('missing');
        // flag bit 3: step back (a non-increasing voucher); otherwise step forward, maybe beyond the amount.
        const cumulative =
          intent.flag & 8 ? ch.redeemed : ch.redeemed + (intent.amount % (ch.amount + 2n)) + 1n;
        const by = intent.flag & 16 ? ch.payer : ch.payee;
        return {
          type: 'redeem',
          idempotencyKey: key,
          by,
          voucher: signVoucher(ck, LEDGER_ID, ch.id, cumulative),
        };
      }
      case 3: {
        const ch = pick(intent.flag & 32 ? channels : channels.filter((c) => c.status === 'open'));
        if (!ch) return this.command(state, { ...intent, kind: 4 }, index);
        return {
          type: 'close',
          idempotencyKey: key,
          by: intent.flag & 8 ? ch.payer : ch.payee,
          channelId: ch.id,
        };
      }
      case 4:
        return { type: 'withdraw', idempotencyKey: key, account: a.address, amount: intent.amount };
      case 6: {
        // flag bits 4-5 both set: any channel (maybe closed or expired); else an open, unexpired one.
        // Flag bits 2-4: 001 by the payee, 010 by `a` (often a stranger), else by the payer.
        const live = channels.filter((c) => c.status === 'open' && c.expiresAt > this.now);
        const ch = pick((intent.flag & 48) === 48 ? channels : live);
        if (!ch) return this.command(state, { ...intent, kind: 0 }, index);
        const who = (intent.flag >> 2) & 7;
        const by = who === 1 ? ch.payee : who === 2 ? a.address : ch.payer;
        return { type: 'topup', idempotencyKey: key, by, channelId: ch.id, amount: intent.amount };
      }
      default: {
        const ws = [...state.data.withdrawals.keys()].sort((x, y) => Number(x.slice(2)) - Number(y.slice(2)));
        const w = pick(ws) ?? 'w-1';
        return intent.flag & 1
          ? { type: 'settle', idempotencyKey: key, withdrawalId: w, outcome: 'failed' }
          : {
              type: 'settle',
              idempotencyKey: key,
              withdrawalId: w,
              outcome: 'sent',
              txid: txid(`${key}-out`),
            };
      }
    }
  }
}

/** A seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The i-th intent of a seeded sequence (independent of every other index). */
export function intentAt(seed: number, i: number): Intent {
  const r = prng((seed * 1_000_003) ^ (i * 2_654_435_761));
  const big = r() < 0.2;
  const amount = big ? 10n ** 18n * BigInt(1 + Math.floor(r() * 1000)) : BigInt(1 + Math.floor(r() * 1000));
  return {
    kind: Math.floor(r() * KINDS),
    a: Math.floor(r() * ACCOUNTS),
    b: Math.floor(r() * ACCOUNTS),
    amount,
    flag: Math.floor(r() * 64),
    dt: Math.floor(r() * 700),
  };
}
