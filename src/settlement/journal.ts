import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromUtf8Strict, utf8 } from '../util/bytes.js';
import { AppendJournal, type JournalErrors, PidLock } from '../util/journal.js';
import { SettlementError } from './errors.js';
import { type JsonObject, parseJson, readInt, readObject, readOptString, readString } from './json.js';
import type { PreparedTransfer } from './types.js';

/** First 8 bytes of the settlement journal. */
export const SETTLEMENT_JOURNAL_MAGIC = utf8('BTTKSET1');
/** Largest record payload (bytes). */
export const MAX_SETTLEMENT_RECORD = 256 * 1024;
const FILE = 'settlement.log';
// Every record is a JSON object whose first key is its type.
const RECORD_PREFIX = utf8('{"t":"');

const JOURNAL_ERRORS: JournalErrors = {
  corrupt: (message, details) => new SettlementError('SETTLEMENT_JOURNAL_CORRUPT', message, { details }),
  failed: (message, cause) => new SettlementError('SETTLEMENT_JOURNAL_FAILED', message, { cause }),
  closed: (message) => new SettlementError('SETTLEMENT_CLOSED', message),
};

/** What the journal knows of one withdrawal. */
export interface JournaledWithdrawal {
  readonly id: string;
  /** Signed transactions made for it, oldest first; each journaled before it was broadcast. */
  readonly attempts: PreparedTransfer[];
  /** Broadcast outcomes seen, by txid (`ok` or the error code). */
  readonly broadcasts: Map<string, string>;
  /** Set once the ledger has recorded the outcome. */
  settled?: { outcome: 'sent' | 'failed'; txid?: string };
}

type Rec =
  | { t: 'cursor'; cursor: string }
  | { t: 'attempt'; w: string; tx: PreparedTransfer }
  | { t: 'broadcast'; w: string; txid: string; result: string }
  | { t: 'settled'; w: string; outcome: 'sent' | 'failed'; txid?: string };

function encode(r: Rec): Uint8Array {
  if (r.t === 'attempt') {
    const { tx } = r;
    return utf8(
      JSON.stringify({
        t: 'attempt',
        w: r.w,
        txid: tx.txid,
        from: tx.from,
        to: tx.to,
        amount: tx.amount.toString(),
        ...(tx.expiration === undefined ? {} : { expiration: tx.expiration }),
        ...(tx.nonce === undefined ? {} : { nonce: tx.nonce }),
        payload: tx.payload,
      }),
    );
  }
  return utf8(JSON.stringify(r));
}

function decode(payload: Uint8Array): Rec {
  const text = fromUtf8Strict(payload);
  if (text === undefined) throw new SettlementError('SETTLEMENT_JOURNAL_CORRUPT', 'record is not UTF-8');
  const o: JsonObject = readObject(
    parseJson(text, { code: 'SETTLEMENT_JOURNAL_CORRUPT' }),
    'record',
    'SETTLEMENT_JOURNAL_CORRUPT',
  );
  const s = (k: string, max = 256) => readString(o, k, max, 'SETTLEMENT_JOURNAL_CORRUPT');
  switch (o.t) {
    case 'cursor':
      return { t: 'cursor', cursor: s('cursor') };
    case 'attempt': {
      const amount = s('amount', 80);
      if (!/^[1-9][0-9]{0,77}$/.test(amount))
        throw new SettlementError('SETTLEMENT_JOURNAL_CORRUPT', 'bad amount');
      // TRON attempts carry `expiration`, EVM attempts `nonce` (older journals: always `expiration`).
      const opt = (k: string) =>
        o[k] === undefined ? undefined : readInt(o, k, 'SETTLEMENT_JOURNAL_CORRUPT');
      const expiration = opt('expiration');
      const nonce = opt('nonce');
      if (expiration === undefined && nonce === undefined)
        throw new SettlementError('SETTLEMENT_JOURNAL_CORRUPT', 'attempt has neither expiration nor nonce');
      return {
        t: 'attempt',
        w: s('w'),
        tx: {
          txid: s('txid', 64),
          from: s('from', 64),
          to: s('to', 64),
          amount: BigInt(amount),
          ...(expiration === undefined ? {} : { expiration }),
          ...(nonce === undefined ? {} : { nonce }),
          payload: s('payload', MAX_SETTLEMENT_RECORD),
        },
      };
    }
    case 'broadcast':
      return { t: 'broadcast', w: s('w'), txid: s('txid', 64), result: s('result', 64) };
    case 'settled': {
      const outcome = o.outcome;
      if (outcome !== 'sent' && outcome !== 'failed')
        throw new SettlementError('SETTLEMENT_JOURNAL_CORRUPT', 'bad outcome');
      const txid = readOptString(o, 'txid', 64, 'SETTLEMENT_JOURNAL_CORRUPT');
      return txid === undefined
        ? { t: 'settled', w: s('w'), outcome }
        : { t: 'settled', w: s('w'), outcome, txid };
    }
    default:
      throw new SettlementError('SETTLEMENT_JOURNAL_CORRUPT', 'unknown record type');
  }
}

/**
 * The settlement journal: what the ledger's own journal has no place for — the deposit cursor and,
 * per withdrawal, each signed transaction (journaled before it is broadcast), broadcast outcomes and
 * the final settlement. One append-only file `settlement.log` in `dir`: `BTTKSET1`, then records in
 * the ledger journal's framing (`u32 length ‖ u32 CRC-32 ‖ payload`, payload UTF-8 JSON), each
 * fsync'd before `append` resolves. On open, a torn tail is truncated; a bad record followed by a
 * good one refuses to open (`SETTLEMENT_JOURNAL_CORRUPT`). A `LOCK` file holds the owner's pid
 * (`SETTLEMENT_JOURNAL_LOCKED` while a live process holds it). The journal and the lock are the
 * package's one implementation (`src/util/journal.ts`), shared with the ledger's file store.
 */
export class SettlementJournal {
  readonly dir: string;
  readonly #journal: AppendJournal;
  readonly #lock: PidLock;
  #cursor: string | undefined;
  readonly #withdrawals = new Map<string, JournaledWithdrawal>();
  /** Bytes cut from a torn tail when it opened. */
  truncatedBytes: number;

  private constructor(dir: string, journal: AppendJournal, lock: PidLock, truncatedBytes: number) {
    this.dir = dir;
    this.#journal = journal;
    this.#lock = lock;
    this.truncatedBytes = truncatedBytes;
  }

  /** Opens (creating if needed) the journal in `dir` and replays it. */
  static async open(dir: string): Promise<SettlementJournal> {
    await mkdir(dir, { recursive: true });
    const lock = await PidLock.acquire(
      join(dir, 'LOCK'),
      (pid) =>
        new SettlementError(
          'SETTLEMENT_JOURNAL_LOCKED',
          pid === undefined
            ? 'cannot take the settlement journal lock'
            : `settlement journal in use by process ${pid}`,
        ),
    );
    let opened: Awaited<ReturnType<typeof AppendJournal.open>> | undefined;
    try {
      opened = await AppendJournal.open(join(dir, FILE), {
        magic: SETTLEMENT_JOURNAL_MAGIC,
        errors: JOURNAL_ERRORS,
        maxRecord: MAX_SETTLEMENT_RECORD,
        recordPrefix: RECORD_PREFIX,
      });
      const j = new SettlementJournal(dir, opened.journal, lock, opened.truncatedBytes);
      for (const payload of opened.records) j.#apply(decode(payload));
      return j;
    } catch (err) {
      await opened?.journal.close();
      await lock.release();
      throw err;
    }
  }

  #apply(r: Rec): void {
    if (r.t === 'cursor') {
      this.#cursor = r.cursor;
      return;
    }
    const w = this.#entry(r.w);
    if (r.t === 'attempt') w.attempts.push(r.tx);
    else if (r.t === 'broadcast') w.broadcasts.set(r.txid, r.result);
    else w.settled = r.txid === undefined ? { outcome: r.outcome } : { outcome: r.outcome, txid: r.txid };
  }

  #entry(id: string): JournaledWithdrawal {
    let w = this.#withdrawals.get(id);
    if (!w) {
      w = { id, attempts: [], broadcasts: new Map() };
      this.#withdrawals.set(id, w);
    }
    return w;
  }

  /** Appends `r`; once it is durable, applies it (so the views only show what survives a crash). */
  async #append(r: Rec): Promise<void> {
    await this.#journal.append(encode(r));
    this.#apply(r);
  }

  /** The deposit cursor last journaled. */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  setCursor(cursor: string): Promise<void> {
    return this.#append({ t: 'cursor', cursor });
  }

  /**
   * Journals a signed transaction for withdrawal `id`; resolves once it is on disk. It must carry
   * an `expiration` (TRON) or a `nonce` (EVM): without either it could never be proven dead.
   * @throws {SettlementError} `SETTLEMENT_TX_MISMATCH` (nothing written)
   */
  async recordAttempt(id: string, tx: PreparedTransfer): Promise<void> {
    if (tx.expiration === undefined && tx.nonce === undefined)
      throw new SettlementError(
        'SETTLEMENT_TX_MISMATCH',
        'a prepared transfer carries an expiration or a nonce',
      );
    await this.#append({ t: 'attempt', w: id, tx });
  }

  recordBroadcast(id: string, txid: string, result: string): Promise<void> {
    return this.#append({ t: 'broadcast', w: id, txid, result });
  }

  recordSettled(id: string, outcome: 'sent' | 'failed', txid?: string): Promise<void> {
    return this.#append(
      txid === undefined ? { t: 'settled', w: id, outcome } : { t: 'settled', w: id, outcome, txid },
    );
  }

  /** What the journal knows of withdrawal `id`. */
  withdrawal(id: string): JournaledWithdrawal | undefined {
    return this.#withdrawals.get(id);
  }

  /** Ids of withdrawals with an attempt and no settlement. */
  unsettled(): string[] {
    return [...this.#withdrawals.values()]
      .filter((w) => !w.settled && w.attempts.length > 0)
      .map((w) => w.id);
  }

  /** Waits for the appends in flight, closes the file and releases the lock. */
  async close(): Promise<void> {
    await this.#journal.close();
    await this.#lock.release();
  }
}
