import type { LedgerEvent, LedgerStateData } from './core.js';

/** What a store holds when opened: the latest snapshot (if any) and the events after it. */
export interface StoreContents {
  state: LedgerStateData | undefined;
  events: LedgerEvent[];
}

/**
 * Where a ledger keeps its journal. {@link FileStore} (append-only file, fsync'd) is the default;
 * {@link MemoryStore} has the same behaviour in memory for tests and the swarm lab.
 */
export interface LedgerStore {
  /** Reads the snapshot and the journal (repairing a torn tail). Called once, before anything else. */
  load(): Promise<StoreContents>;
  /**
   * Appends an event; resolves once it is durable (for the file store: written and fsync'd).
   * Events must be appended in sequence order.
   */
  append(event: LedgerEvent): Promise<void>;
  /** Resolves once every event appended so far is durable. */
  flush(): Promise<void>;
  /**
   * Replaces the journal by a snapshot of `state`, which must include every event appended so
   * far. The state is encoded synchronously, before this returns its promise.
   */
  compact(state: LedgerStateData): Promise<void>;
  /** Events appended since the last snapshot. */
  readonly eventsSinceSnapshot: number;
  /** Flushes and releases the store. */
  close(): Promise<void>;
}
