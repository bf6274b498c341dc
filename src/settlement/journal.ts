import { type FileHandle, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { frameRecord, readRecord } from '../ledger/codec.js';
import { equalBytes, fromUtf8Strict, utf8 } from '../util/bytes.js';
import { SettlementError } from './errors.js';
import { type JsonObject, parseJson, readInt, readObject, readOptString, readString } from './json.js';
import type { PreparedTransfer } from './types.js';

/** First 8 bytes of the settlement journal. */
export const SETTLEMENT_JOURNAL_MAGIC = utf8('BTTKSET1');
/** Largest record payload (bytes). */
export const MAX_SETTLEMENT_RECORD = 256 * 1024;
const FILE = 'settlement.log';

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
        expiration: tx.expiration,
        payload: tx.payload,
      }),
    );
  }
  return utf8(JSON.stringify(r));
}

function decode(payload: Uint8Array): Rec {
  const text = fromUtf8Strict(payload);
  if (text === undefined) throw new SettlementError('JOURNAL_CORRUPT', 'record is not UTF-8');
  const o: JsonObject = readObject(parseJson(text, { code: 'JOURNAL_CORRUPT' }), 'record', 'JOURNAL_CORRUPT');
  const s = (k: string, max = 256) => readString(o, k, max, 'JOURNAL_CORRUPT');
  switch (o.t) {
    case 'cursor':
      return { t: 'cursor', cursor: s('cursor') };
    case 'attempt': {
      const amount = s('amount', 80);
      if (!/^[1-9][0-9]{0,77}$/.test(amount)) throw new SettlementError('JOURNAL_CORRUPT', 'bad amount');
      return {
        t: 'attempt',
        w: s('w'),
        tx: {
          txid: s('txid', 64),
          from: s('from', 64),
          to: s('to', 64),
          amount: BigInt(amount),
          expiration: readInt(o, 'expiration', 'JOURNAL_CORRUPT'),
          payload: s('payload', MAX_SETTLEMENT_RECORD),
        },
      };
    }
    case 'broadcast':
      return { t: 'broadcast', w: s('w'), txid: s('txid', 64), result: s('result', 64) };
    case 'settled': {
      const outcome = o.outcome;
      if (outcome !== 'sent' && outcome !== 'failed')
        throw new SettlementError('JOURNAL_CORRUPT', 'bad outcome');
      const txid = readOptString(o, 'txid', 64, 'JOURNAL_CORRUPT');
      return txid === undefined
        ? { t: 'settled', w: s('w'), outcome }
        : { t: 'settled', w: s('w'), outcome, txid };
    }
    default:
      throw new SettlementError('JOURNAL_CORRUPT', 'unknown record type');
  }
}

/**
 * The settlement journal: what the ledger's own journal has no place for — the deposit cursor and,
 * per withdrawal, each signed transaction (journaled before it is broadcast), broadcast outcomes and
 * the final settlement. One append-only file `settlement.log` in `dir`: `BTTKSET1`, then records in
 * the ledger journal's framing (`u32 length ‖ u32 CRC-32 ‖ payload`, payload UTF-8 JSON), each
 * fsync'd before `append` resolves. On open, a torn tail is truncated; a bad record followed by a
 * good one refuses to open (`JOURNAL_CORRUPT`). A `LOCK` file holds the owner's pid.
 */
export class SettlementJournal {
  readonly dir: string;
  #fh: FileHandle | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failed: unknown;
  #cursor: string | undefined;
  readonly #withdrawals = new Map<string, JournaledWithdrawal>();
  /** Bytes cut from a torn tail when it opened. */
  truncatedBytes = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating if needed) the journal in `dir` and replays it. */
  static async open(dir: string): Promise<SettlementJournal> {
    const j = new SettlementJournal(dir);
    await mkdir(dir, { recursive: true });
    await j.#lock();
    try {
      await j.#load();
    } catch (err) {
      await rm(join(dir, 'LOCK'), { force: true });
      throw err;
    }
    return j;
  }

  async #lock(): Promise<void> {
    const path = join(this.dir, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isSafeInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as { code?: string }).code === 'EPERM';
        }
      }
      if (alive) throw new SettlementError('JOURNAL_LOCKED', `settlement journal in use by process ${pid}`);
      await rm(path, { force: true });
    }
    throw new SettlementError('JOURNAL_LOCKED', 'cannot take the settlement journal lock');
  }

  async #load(): Promise<void> {
    const path = join(this.dir, FILE);
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(path));
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      data = new Uint8Array(0);
    }
    if (data.length < 8) {
      this.truncatedBytes = data.length;
      const fh = await open(path, 'w');
      await fh.write(SETTLEMENT_JOURNAL_MAGIC);
      await fh.datasync();
      await fh.close();
      const d = await open(this.dir, 'r');
      await d.sync();
      await d.close();
    } else {
      if (!equalBytes(data.subarray(0, 8), SETTLEMENT_JOURNAL_MAGIC)) {
        throw new SettlementError('JOURNAL_CORRUPT', 'bad settlement journal magic');
      }
      let good = 8;
      for (;;) {
        const r = readRecord(data, good, MAX_SETTLEMENT_RECORD);
        if (r.kind === 'end') break;
        if (r.kind === 'ok') {
          this.#apply(decode(r.payload));
          good = r.end;
          continue;
        }
        for (let i = good + 1; i < data.length; i++) {
          if (readRecord(data, i, MAX_SETTLEMENT_RECORD).kind === 'ok') {
            throw new SettlementError('JOURNAL_CORRUPT', `bad record at offset ${good} (${r.reason})`);
          }
        }
        break;
      }
      if (good < data.length) {
        this.truncatedBytes = data.length - good;
        const fh = await open(path, 'r+');
        await fh.truncate(good);
        await fh.sync();
        await fh.close();
      }
    }
    this.#fh = await open(path, 'a');
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

  #append(r: Rec): Promise<void> {
    if (this.#failed !== undefined) {
      return Promise.reject(
        new SettlementError('JOURNAL_FAILED', 'journal failed earlier', { cause: this.#failed }),
      );
    }
    const fh = this.#fh;
    if (!fh) return Promise.reject(new SettlementError('CLOSED', 'journal is closed'));
    const bytes = frameRecord(encode(r));
    if (bytes.length - 8 > MAX_SETTLEMENT_RECORD) {
      return Promise.reject(new SettlementError('JOURNAL_FAILED', 'record too large'));
    }
    const done = this.#chain.then(async () => {
      try {
        let off = 0;
        while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
        await fh.datasync();
      } catch (err) {
        this.#failed ??= err;
        throw new SettlementError('JOURNAL_FAILED', 'journal write failed', { cause: err });
      }
      this.#apply(r);
    });
    this.#chain = done.catch(() => undefined);
    return done;
  }

  /** The deposit cursor last journaled. */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  setCursor(cursor: string): Promise<void> {
    return this.#append({ t: 'cursor', cursor });
  }

  /** Journals a signed transaction for withdrawal `id`; resolves once it is on disk. */
  recordAttempt(id: string, tx: PreparedTransfer): Promise<void> {
    return this.#append({ t: 'attempt', w: id, tx });
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

  async close(): Promise<void> {
    await this.#chain;
    await this.#fh?.close();
    this.#fh = undefined;
    await rm(join(this.dir, 'LOCK'), { force: true });
  }
}
