/**
 * The encrypting connection's write path against a transport that holds on to what it was given
 * until it says `onWritten`: pieces still held are never overwritten by later writes, blocks are
 * reused only after their writes completed, batches larger than a block span several pieces,
 * and the caller's chunks are never modified.
 */
import { describe, expect, it } from 'vitest';
import type { Connection, ConnectionHandlers } from '../../../src/util/transport.js';
import { MseConnection } from '../../../src/wire/mse/connection.js';
import { Rc4 } from '../../../src/wire/mse/rc4.js';

/** Keeps every written chunk (by reference) and its onWritten until `complete()`. */
class HoldingConnection implements Connection {
  readonly remote = { host: '127.0.0.1', port: 1 };
  readonly local = { host: '127.0.0.1', port: 2 };
  readonly closed = false;
  readonly bufferedAmount = 0;
  held: Uint8Array[] = [];
  callbacks: (() => void)[] = [];
  attach(_h: ConnectionHandlers): void {}
  write(chunks: readonly Uint8Array[], onWritten?: () => void): boolean {
    this.held.push(...chunks);
    if (onWritten) this.callbacks.push(onWritten);
    return true;
  }
  complete(): void {
    const cbs = this.callbacks;
    this.callbacks = [];
    for (const cb of cbs) cb();
  }
  pause(): void {}
  resume(): void {}
  close(): void {}
  destroy(): void {}
}

const KEY = new Uint8Array(20).fill(5);

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Decrypts what the transport holds (copies) with the receiving stream. */
function decrypt(held: Uint8Array[], rx: Rc4): Uint8Array {
  const all = new Uint8Array(Buffer.concat(held.map((c) => Buffer.from(c))));
  rx.apply(all);
  return all;
}

describe('MseConnection writes', () => {
  it('never reuses a block before onWritten; spans blocks; leaves the caller’s chunks alone', async () => {
    const t = new HoldingConnection();
    const c = new MseConnection(t, new Uint8Array(0), new Rc4(KEY, 1024), undefined);
    const a = [pattern(100_001, 1), pattern(7, 2), pattern(250_000, 3)];
    const b = [pattern(300_000, 4)];
    const snapshots = [...a, ...b].map((x) => x.slice());
    let callerDone = 0;
    c.write(a, () => callerDone++);
    c.write(b, () => callerDone++);
    // Nothing completed yet: every piece is still held and must decrypt to what was written.
    expect(t.held.length).toBeGreaterThanOrEqual(3); // 650 kB over 256 KiB blocks
    const rx = new Rc4(KEY, 1024);
    const first = decrypt(t.held, rx);
    expect(Buffer.from(first).equals(Buffer.concat([...a, ...b]))).toBe(true);
    [...a, ...b].forEach((x, i) => {
      expect(Buffer.from(x).equals(Buffer.from(snapshots[i] as Uint8Array))).toBe(true);
    });
    await Promise.resolve();
    expect(callerDone).toBe(2); // the caller's chunks were free once encrypted
    // The transport completes: blocks may be reused now, and the next write still decrypts right.
    const buffersBefore = new Set(t.held.map((h) => h.buffer));
    t.held = [];
    t.complete();
    const d = [pattern(200_000, 5)];
    c.write(d);
    const again = decrypt(t.held, rx);
    expect(Buffer.from(again).equals(Buffer.from(d[0] as Uint8Array))).toBe(true);
    expect(t.held.some((h) => buffersBefore.has(h.buffer))).toBe(true); // warm memory reused
  });

  it('a write while earlier ones are pending takes other memory', () => {
    const t = new HoldingConnection();
    const c = new MseConnection(t, new Uint8Array(0), new Rc4(KEY, 1024), undefined);
    c.write([pattern(1000, 1)]);
    const held = t.held.slice();
    const copy = held.map((h) => h.slice());
    for (let k = 0; k < 600; k++) c.write([pattern(1000, k + 2)]); // > 2 blocks, none completed
    held.forEach((h, i) => {
      expect(Buffer.from(h).equals(Buffer.from(copy[i] as Uint8Array))).toBe(true);
    });
    const all = decrypt(t.held, new Rc4(KEY, 1024));
    const want = Buffer.concat(Array.from({ length: 601 }, (_, k) => pattern(1000, k + 1)));
    expect(Buffer.from(all).equals(want)).toBe(true);
  });
});
