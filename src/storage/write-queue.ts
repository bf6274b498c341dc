import { AbortError } from '../util/errors.js';
import { ioError, type StorageError } from './errors.js';

/** A block waiting to be written. */
export interface QueuedBlock {
  readonly piece: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** Bytes of `pendingBytes` released once written (more than `bytes` for a spilled piece's last). */
  readonly charge: number;
}

interface PieceWrites {
  count: number;
  error: StorageError | undefined;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** Largest run of queued blocks written with one call. */
const MAX_RUN_BYTES = 4 * 1024 * 1024;

/** What the {@link WriteQueue} needs from the file store. */
export interface WriteQueueOptions {
  /** Byte cap of `pendingBytes` (`maxQueuedBytes`). */
  readonly cap: number;
  /** Writes in flight at once. */
  readonly concurrency: number;
  /** Writes a run of contiguous blocks of one piece (`bytes` in all) to the files. */
  write(run: readonly QueuedBlock[], bytes: number): Promise<void>;
  /**
   * A `put()` waits for room that no write in flight or queued will free: the bytes held are the
   * owner's (pieces assembled in memory), which should write one out.
   */
  stalled(): void;
}

/**
 * The file store's bounded write queue and the accounting of `pendingBytes`: the queue's blocks
 * plus whatever the owner charges for bytes it holds (pieces assembled in memory). Puts wait for
 * room in arrival order; every fall of `pendingBytes` is told to the drain listeners.
 */
export class WriteQueue {
  readonly #opts: WriteQueueOptions;
  #queue: (QueuedBlock | undefined)[] = [];
  #head = 0;
  #inflight = 0;
  #pending = 0;
  readonly #perPiece = new Map<number, PieceWrites>();
  /** put() calls waiting for room, first come first served, with the bytes they bring. */
  #spaceWaiters: { bytes: number; wake: () => void }[] = [];
  #idleWaiters: (() => void)[] = [];
  #lastError: StorageError | undefined;
  /** Replaced, never mutated, on (un)subscribe: a listener may unsubscribe while it is called. */
  #drainListeners: readonly (() => void)[] = [];

  constructor(options: WriteQueueOptions) {
    this.#opts = options;
  }

  /** Bytes queued, being written, or charged by the owner. */
  get pendingBytes(): number {
    return this.#pending;
  }

  /** True while some `put()` waits for room. */
  get waiting(): boolean {
    return this.#spaceWaiters.length > 0;
  }

  /** True while a write of `piece` is queued or in flight. */
  writing(piece: number): boolean {
    return this.#perPiece.has(piece);
  }

  /** Counts `bytes` the owner holds (a piece assembled in memory) in `pendingBytes`. */
  charge(bytes: number): void {
    this.#pending += bytes;
  }

  /** Releases `bytes` charged with {@link charge} that will not be written. */
  release(bytes: number): void {
    if (bytes <= 0) return;
    this.#pending -= bytes;
    this.#wakeSpace();
    this.#drained();
  }

  /** Subscribes to every fall of `pendingBytes`; returns the unsubscribe function. */
  onDrain(listener: () => void): () => void {
    const wrapped = () => listener();
    this.#drainListeners = [...this.#drainListeners, wrapped];
    return () => {
      this.#drainListeners = this.#drainListeners.filter((l) => l !== wrapped);
    };
  }

  /** Queues a block for writing (its `charge` is already counted with {@link charge}). */
  enqueue(block: QueuedBlock): void {
    this.#queue.push(block);
    const pw = this.#perPiece.get(block.piece);
    if (pw) pw.count++;
    else this.#perPiece.set(block.piece, { count: 1, error: undefined, waiters: [] });
    this.#pump();
  }

  /** The first write error since the last call (cleared). */
  takeError(): StorageError | undefined {
    const err = this.#lastError;
    this.#lastError = undefined;
    return err;
  }

  /** Waits until room for `bytes` is likely (woken in arrival order); the caller checks again. */
  waitSpace(signal: AbortSignal | undefined, bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#spaceWaiters = this.#spaceWaiters.filter((f) => f.wake !== wake);
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#spaceWaiters.push({ bytes, wake });
    });
  }

  /** Wakes every waiting put (on close: they then find the store closed). */
  wakeAll(): void {
    this.#wakeSpace(true);
  }

  /** Waits until the piece's queued writes are done; rejects with the first write error. */
  settled(piece: number): Promise<void> {
    const pw = this.#perPiece.get(piece);
    if (!pw) return Promise.resolve();
    return new Promise((resolve, reject) => pw.waiters.push({ resolve, reject }));
  }

  /** Waits until nothing is queued or being written. */
  idle(signal?: AbortSignal): Promise<void> {
    if (this.#inflight === 0 && this.#head >= this.#queue.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new AbortError(undefined, { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#idleWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Drops the blocks not being written yet: their pieces' waiters get `error` (destroy). */
  dropQueued(error: StorageError): void {
    const dropped = this.#queue.slice(this.#head).filter((b): b is QueuedBlock => b !== undefined);
    this.#queue = [];
    this.#head = 0;
    this.#finishRun(dropped, false, error);
  }

  /**
   * Starts writes while fewer than `concurrency` are in flight. Blocks queued back to back for
   * one piece (they pile up only while every writer is busy) go out as one run (one `writev` per
   * file).
   */
  #pump(): void {
    while (this.#inflight < this.#opts.concurrency && this.#head < this.#queue.length) {
      const first = this.#take();
      if (!first) continue;
      const run = [first];
      let end = first.offset + first.bytes.length;
      let bytes = first.bytes.length;
      for (;;) {
        const next = this.#queue[this.#head];
        if (!next || next.piece !== first.piece || next.offset !== end || bytes >= MAX_RUN_BYTES) break;
        this.#take();
        run.push(next);
        end += next.bytes.length;
        bytes += next.bytes.length;
      }
      this.#inflight++;
      this.#opts.write(run, bytes).then(
        () => this.#finishRun(run, true, undefined),
        (e: unknown) => this.#finishRun(run, true, ioError('write', e)),
      );
    }
  }

  #take(): QueuedBlock | undefined {
    const b = this.#queue[this.#head];
    this.#queue[this.#head] = undefined;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return b;
  }

  /** Bookkeeping once a run is written, failed, or dropped unwritten (`wasInflight` false). */
  #finishRun(run: readonly QueuedBlock[], wasInflight: boolean, error: StorageError | undefined): void {
    if (wasInflight) this.#inflight--;
    if (error && wasInflight) this.#lastError ??= error;
    let released = 0;
    for (const b of run) {
      this.#pending -= b.charge;
      released += b.charge;
      const pw = this.#perPiece.get(b.piece);
      if (!pw) continue;
      if (error) pw.error ??= error;
      if (--pw.count === 0) {
        this.#perPiece.delete(b.piece);
        for (const w of pw.waiters) {
          if (pw.error) w.reject(pw.error);
          else w.resolve();
        }
      }
    }
    this.#wakeSpace();
    this.#pump();
    if (this.#inflight === 0 && this.#head >= this.#queue.length) {
      const idle = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of idle) w();
    }
    if (released > 0) this.#drained();
  }

  /**
   * Wakes waiting put() calls in arrival order, only as many as now fit under the cap (all of
   * them with `all`, on close): waking every waiter on each freed block made thousands of them
   * re-check and re-queue at once (quadratic work when a fast peer outran the disk).
   */
  #wakeSpace(all = false): void {
    let free = this.#opts.cap - this.#pending;
    while (this.#spaceWaiters.length > 0) {
      const first = this.#spaceWaiters[0] as { bytes: number; wake: () => void };
      if (!all && this.#pending > 0 && first.bytes > free) {
        this.#opts.stalled();
        break;
      }
      this.#spaceWaiters.shift();
      free -= first.bytes;
      first.wake();
    }
  }

  /** Tells the drain listeners; a listener's error is rethrown asynchronously, not here. */
  #drained(): void {
    const listeners = this.#drainListeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as () => void)();
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
