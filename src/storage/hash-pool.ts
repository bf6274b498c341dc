import type { Worker as NodeWorker, WorkerOptions } from 'node:worker_threads';
import { merkleRoot } from '../metainfo/merkle.js';
import { createSha1, sha256 } from '../util/hash.js';
import { WORKER_SOURCE } from './_worker-source.js';
import { StorageError } from './errors.js';
import type { PieceHashKind } from './verifier.js';

/** Options of a {@link HashPool}. */
export interface HashPoolOptions {
  /**
   * Worker threads. Default `min(2, cores)`. `0` hashes on the calling thread (the baseline the
   * benchmark compares against), as does any pool where `node:worker_threads` is absent.
   */
  size?: number;
  /** Tasks queued per worker before it is considered busy. Default 2 (keeps workers fed). */
  depth?: number;
}

/**
 * A part of a piece to hash: bytes of an open file (`fd`, `position`, `length`), or `length` zero
 * bytes (`fd` −1: BEP 47 padding).
 */
export interface HashRange {
  readonly fd: number;
  readonly position: number;
  readonly length: number;
}

/** Result of {@link HashPool.hashRanges}. */
export interface RangeHashResult {
  /**
   * SHA-1 of the bytes read, or with a `leaves` kind the SHA-256 of each 16 KiB block of the
   * first `length` bytes, concatenated (meaningless when `complete` is false).
   */
  readonly digest: Uint8Array;
  /** False when a file ended before its range did. */
  readonly complete: boolean;
  /** The buffer lent to {@link HashPool.hashLent}, given back. */
  readonly buf?: ArrayBuffer;
}

/** Result of {@link HashPool.hashLent}. */
export interface LentHashResult {
  /** SHA-1 of the bytes (or their leaves, with a `leaves` kind). */
  readonly digest: Uint8Array;
  /** The same bytes, in the buffer given back (the one lent, or a copy where it was not moved). */
  readonly bytes: Uint8Array;
}

interface Task {
  readonly msg: {
    id: number;
    buf?: ArrayBufferLike;
    offset?: number;
    length?: number;
    back?: boolean;
    ranges?: number[];
    /** Hash the first `leaves` bytes as SHA-256 leaves instead of SHA-1 over all. */
    leaves?: number;
    /** With `leaves`: answer the root of the leaves padded to this many, not the leaves. */
    width?: number;
  };
  readonly transfer: ArrayBuffer[];
  readonly resolve: (r: RangeHashResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  readonly worker: NodeWorker;
  readonly inflight: Map<number, Task>;
}

interface WorkerThreadsLike {
  Worker: new (code: string, options: WorkerOptions) => NodeWorker;
}

interface FsLike {
  read(
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
    cb: (err: Error | null, bytesRead: number) => void,
  ): void;
}

interface OsLike {
  availableParallelism?: () => number;
  cpus(): unknown[];
}

function builtin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

function defaultSize(): number {
  const os = builtin<OsLike>('node:os');
  const cores = os ? (os.availableParallelism?.() ?? os.cpus().length) : 1;
  return Math.max(1, Math.min(2, cores));
}

const CHUNK = 1 << 20;

/**
 * A small pool of worker threads that SHA-1 whole pieces, so verification never stalls the
 * network loop. Bytes in a `SharedArrayBuffer` are hashed in place; other bytes are copied once
 * into a transferable buffer. File ranges are read by the worker itself, from file descriptors
 * the caller keeps open until the task settles (descriptors are process-wide).
 *
 * The first worker starts on first use, another only while those running are full (a recheck
 * uses them all, a download usually one); idle workers do not keep the process alive.
 */
export class HashPool {
  /** Worker threads (0: hashing runs on the calling thread). */
  readonly size: number;
  readonly #depth: number;
  readonly #wt: WorkerThreadsLike | undefined;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  #seq = 0;
  #closed = false;
  #hashed = 0;

  /** @throws {StorageError} `STORAGE_BAD_OPTIONS` when `size` is not a natural number. */
  constructor(options: HashPoolOptions = {}) {
    const wt = builtin<WorkerThreadsLike>('node:worker_threads');
    this.#wt = wt;
    const size = options.size ?? defaultSize();
    if (!Number.isInteger(size) || size < 0) {
      throw new StorageError('STORAGE_BAD_OPTIONS', `bad hash pool size ${size}`, { details: { size } });
    }
    this.size = wt ? size : 0;
    this.#depth = Math.max(1, options.depth ?? 2);
  }

  /**
   * Hash calls made so far (`hash`, `hashLent`, `hashRanges`: one per piece the stores verify
   * or recheck): what fast-resume saves shows here.
   */
  get hashed(): number {
    return this.#hashed;
  }

  /** Worker threads running now (at most {@link size}). */
  get workers(): number {
    return this.#slots.length;
  }

  /** Tasks waiting for a worker or running. */
  get pending(): number {
    let n = this.#queue.length;
    for (const s of this.#slots) n += s.inflight.size;
    return n;
  }

  /**
   * SHA-1 of `bytes` (20 bytes), or with a `leaves` kind (v2) the SHA-256 leaves of its first
   * `kind.length` bytes. `bytes` are not modified and may be reused once this settles.
   */
  async hash(bytes: Uint8Array, kind?: PieceHashKind): Promise<Uint8Array> {
    this.#hashed++;
    const leaves = leavesOf(kind, bytes.length);
    if (this.size === 0 || this.#closed) return hashHere(bytes, leaves);
    if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer) {
      const r = await this.#submit(
        { buf: bytes.buffer, offset: bytes.byteOffset, length: bytes.length, ...leaves },
        [],
      );
      return r.digest;
    }
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    const r = await this.#submit({ buf: copy, offset: 0, length: bytes.length, ...leaves }, [copy]);
    return r.digest;
  }

  /**
   * SHA-1 of `bytes`, which must be the whole of a plain `ArrayBuffer`: the buffer is moved to a
   * worker (no copy) and given back with the digest. `bytes` is unusable (detached) until then;
   * use the `bytes` of the result. On the calling thread (size 0) nothing moves.
   */
  async hashLent(bytes: Uint8Array, kind?: PieceHashKind): Promise<LentHashResult> {
    this.#hashed++;
    const ab = bytes.buffer;
    if (
      this.size === 0 ||
      this.#closed ||
      !(ab instanceof ArrayBuffer) ||
      bytes.byteOffset !== 0 ||
      bytes.byteLength !== ab.byteLength
    ) {
      this.#hashed--; // counted once, by hash()
      return { digest: await this.hash(bytes, kind), bytes };
    }
    const leaves = leavesOf(kind, bytes.length);
    const r = await this.#submit({ buf: ab, offset: 0, length: bytes.length, back: true, ...leaves }, [ab]);
    return { digest: r.digest, bytes: r.buf ? new Uint8Array(r.buf) : new Uint8Array(bytes.length) };
  }

  /**
   * SHA-1 over `ranges` in order, read from open file descriptors (see {@link HashRange}); with
   * a `leaves` kind, the SHA-256 leaves of their first `kind.length` bytes.
   */
  async hashRanges(ranges: readonly HashRange[], kind?: PieceHashKind): Promise<RangeHashResult> {
    this.#hashed++;
    let total = 0;
    for (const r of ranges) total += r.length;
    const leaves = leavesOf(kind, total);
    if (this.size === 0 || this.#closed) {
      const r = await hashRangesHere(ranges, leaves.leaves);
      const { width } = leaves;
      return width === undefined || !r.complete
        ? r
        : { ...r, digest: merkleRoot(r.digest, undefined, width) };
    }
    const flat: number[] = [];
    for (const r of ranges) flat.push(r.fd, r.position, r.length);
    return this.#submit({ ranges: flat, ...leaves }, []);
  }

  /** Stops the workers; tasks still queued fail with `STORAGE_CLOSED`. Later calls hash inline. */
  async close(): Promise<void> {
    this.#closed = true;
    const err = new StorageError('STORAGE_CLOSED', 'hash pool closed');
    for (const t of this.#queue.splice(0)) t.reject(err);
    const slots = this.#slots.splice(0);
    for (const s of slots) for (const t of s.inflight.values()) t.reject(err);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #submit(msg: Omit<Task['msg'], 'id'>, transfer: ArrayBuffer[]): Promise<RangeHashResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ msg: { id: ++this.#seq, ...msg }, transfer, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.#slots) if (!best || s.inflight.size < best.inflight.size) best = s;
      // Another worker only when those running are full: a download's pieces come far slower
      // than one worker hashes them, and each worker costs a thread's start-up (~60 ms of CPU).
      if ((!best || best.inflight.size >= this.#depth) && this.#slots.length < this.size)
        best = this.#spawn();
      if (!best || best.inflight.size >= this.#depth) return;
      const task = this.#queue.shift();
      if (!task) return;
      if (best.inflight.size === 0) best.worker.ref();
      best.inflight.set(task.msg.id, task);
      best.worker.postMessage(task.msg, task.transfer);
    }
  }

  #spawn(): Slot | undefined {
    if (!this.#wt) return undefined;
    const worker = new this.#wt.Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    const slot: Slot = { worker, inflight: new Map() };
    worker.unref();
    worker.on(
      'message',
      (m: { id: number; digest?: ArrayBuffer; complete?: boolean; buf?: ArrayBuffer; error?: string }) => {
        const task = slot.inflight.get(m.id);
        if (!task) return;
        slot.inflight.delete(m.id);
        if (slot.inflight.size === 0) worker.unref();
        if (m.digest) {
          const r = { digest: new Uint8Array(m.digest), complete: m.complete === true };
          task.resolve(m.buf ? { ...r, buf: m.buf } : r);
        } else task.reject(new StorageError('STORAGE_HASH_FAILED', `hash worker: ${m.error}`));
        this.#pump();
      },
    );
    const fail = (cause: unknown) => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return;
      this.#slots.splice(i, 1);
      const err = new StorageError('STORAGE_HASH_FAILED', 'hash worker died', { cause });
      for (const t of slot.inflight.values()) t.reject(err);
      slot.inflight.clear();
      if (!this.#closed) this.#pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit ${code}`))); // internal: wrapped by fail()
    this.#slots.push(slot);
    return slot;
  }
}

/** `{ leaves, width? }` for a task of `total` bytes hashed as v2 leaves, `{}` for SHA-1. */
function leavesOf(kind: PieceHashKind | undefined, total: number): { leaves?: number; width?: number } {
  if (kind?.algo !== 'leaves') return {};
  if (!Number.isInteger(kind.length) || kind.length <= 0 || kind.length > total) {
    throw new StorageError('STORAGE_OUT_OF_RANGE', `cannot hash ${kind.length} of ${total} bytes as leaves`, {
      details: { length: kind.length, total },
    });
  }
  const w = kind.width;
  if (w === undefined) return { leaves: kind.length };
  const blocks = Math.ceil(kind.length / LEAF);
  if (!Number.isInteger(w) || w < blocks || w > 1 << 20 || (w & (w - 1)) !== 0) {
    throw new StorageError('STORAGE_OUT_OF_RANGE', `a tree of ${w} leaves cannot hold ${blocks}`, {
      details: { width: w, blocks },
    });
  }
  return { leaves: kind.length, width: w };
}

/** SHA-256 of each 16 KiB block of `bytes`, concatenated (v2 leaf hashes). */
function leafHashes(bytes: Uint8Array): Uint8Array {
  const n = Math.ceil(bytes.length / LEAF);
  const out = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) out.set(sha256(bytes.subarray(i * LEAF, (i + 1) * LEAF)), i * 32);
  return out;
}

function hashHere(bytes: Uint8Array, leaves: { leaves?: number; width?: number }): Uint8Array {
  if (leaves.leaves === undefined) return createSha1().update(bytes).digest();
  const l = leafHashes(bytes.subarray(0, leaves.leaves));
  return leaves.width === undefined ? l : merkleRoot(l, undefined, leaves.width);
}

const LEAF = 16 * 1024;

/** Main-thread fallback of {@link HashPool.hashRanges}: async reads, hashing in 1 MiB chunks. */
async function hashRangesHere(ranges: readonly HashRange[], leaves?: number): Promise<RangeHashResult> {
  if (leaves !== undefined) return leavesOfRangesHere(ranges, leaves);
  const h = createSha1();
  const fs = builtin<FsLike>('node:fs');
  let scratch: Uint8Array | undefined;
  for (const r of ranges) {
    let left = r.length;
    let pos = r.position;
    if (r.fd < 0) {
      const z = new Uint8Array(Math.min(left, CHUNK));
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        h.update(z.subarray(0, n));
        left -= n;
      }
      continue;
    }
    if (!fs) throw new StorageError('STORAGE_IO', 'no file system here');
    scratch ??= new Uint8Array(CHUNK);
    const buf = scratch;
    while (left > 0) {
      const want = Math.min(left, CHUNK);
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(r.fd, buf, 0, want, pos, (err, got) => (err ? reject(err) : resolve(got))),
      );
      if (n === 0) return { digest: h.digest(), complete: false };
      h.update(buf.subarray(0, n));
      left -= n;
      pos += n;
    }
  }
  return { digest: h.digest(), complete: true };
}

/** Main-thread v2 leaves of the first `leaves` bytes of `ranges` (read whole, then hashed). */
async function leavesOfRangesHere(ranges: readonly HashRange[], leaves: number): Promise<RangeHashResult> {
  const fs = builtin<FsLike>('node:fs');
  const buf = new Uint8Array(leaves);
  let at = 0;
  for (const r of ranges) {
    if (at >= leaves) break;
    const take = Math.min(r.length, leaves - at);
    if (r.fd < 0) {
      at += take; // zeros
      continue;
    }
    if (!fs) throw new StorageError('STORAGE_IO', 'no file system here');
    let done = 0;
    while (done < take) {
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(r.fd, buf, at + done, take - done, r.position + done, (err, got) =>
          err ? reject(err) : resolve(got),
        ),
      );
      if (n === 0) return { digest: new Uint8Array(0), complete: false };
      done += n;
    }
    at += take;
  }
  return { digest: leafHashes(buf), complete: true };
}

let shared: HashPool | undefined;

/** The process-wide pool stores use unless given their own (created on first use). */
export function sharedHashPool(): HashPool {
  shared ??= new HashPool();
  return shared;
}
