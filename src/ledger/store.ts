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
  /**
   * Shared stores only (several ledger processes on one database, {@link PgStore}): takes the
   * store's write lock and returns the events other writers appended after `seq`. The ledger
   * replays them, runs one mutation, appends its event through the transaction and commits —
   * so every instance decides on the latest state, one at a time. Stores with one writer (file,
   * memory) leave it out and use {@link append}.
   */
  begin?(seq: number): Promise<StoreTransaction>;
  /** Shared stores only: the events other writers appended after `seq` (before a read). */
  since?(seq: number): Promise<LedgerEvent[]>;
}

/** A write transaction of a shared store (see {@link LedgerStore.begin}). */
export interface StoreTransaction {
  /** Events appended by others since the `seq` given to `begin`, in order. */
  readonly events: readonly LedgerEvent[];
  /** Appends an event inside the transaction (durable once `commit` resolves). */
  append(event: LedgerEvent): Promise<void>;
  /** Commits and releases the lock: the appended events are durable when it resolves. */
  commit(): Promise<void>;
  /** Releases the lock, appending nothing. Never throws. */
  rollback(): Promise<void>;
}
