import { decodeEvent, decodeState, encodeEvent, encodeState, frameRecord, readRecord } from './codec.js';
import type { LedgerEvent, LedgerStateData } from './core.js';
import { LedgerError } from './errors.js';
import type { LedgerStore, StoreContents } from './store.js';

/**
 * A {@link LedgerStore} in memory. Records are encoded and framed exactly like the file store's,
 * so the same codec runs; a new ledger opened on the same `MemoryStore` replays it (a "restart").
 */
export class MemoryStore implements LedgerStore {
  #snapshot: Uint8Array | undefined;
  #records: Uint8Array[] = [];
  #closed = false;

  async load(): Promise<StoreContents> {
    this.#closed = false;
    const state = this.#snapshot ? decodeState(this.#snapshot) : undefined;
    const events: LedgerEvent[] = [];
    for (const rec of this.#records) {
      const r = readRecord(rec, 0);
      if (r.kind !== 'ok') throw new LedgerError('LEDGER_JOURNAL_CORRUPT', 'bad record in memory store');
      events.push(decodeEvent(r.payload));
    }
    return { state, events };
  }

  async append(event: LedgerEvent): Promise<void> {
    if (this.#closed) throw new LedgerError('LEDGER_CLOSED', 'store is closed');
    this.#records.push(frameRecord(encodeEvent(event)));
  }

  async flush(): Promise<void> {}

  async compact(state: LedgerStateData): Promise<void> {
    this.#snapshot = encodeState(state);
    this.#records = [];
  }

  get eventsSinceSnapshot(): number {
    return this.#records.length;
  }

  /** Bytes held (snapshot + journal). */
  get size(): number {
    let n = this.#snapshot?.length ?? 0;
    for (const r of this.#records) n += r.length;
    return n;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
