import { randomBytes } from 'node:crypto';
import type { Connection } from '../../src/util/transport.js';
import { createMemoryPair, TcpTransport } from '../../src/util/transport.js';
import { PeerWire, type PeerWireEvents, type PeerWireOptions } from '../../src/wire/index.js';
import { waitFor } from '../helpers/wait.js';

/** In memory, over TCP (the dialled end lends its read buffer), in memory with lent reads. */
export type PairKind = 'memory' | 'tcp' | 'lent';

export function rnd(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** Resolves with the args of the next `event`, or rejects after `ms`. */
export function next<K extends keyof PeerWireEvents & string>(
  wire: PeerWire,
  event: K,
  ms = 5000,
): Promise<PeerWireEvents[K]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
    wire.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

/** Waits until `cond()` holds, or rejects after `ms` (the suite's one wait helper, `waitFor`). */
export function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  return waitFor(cond, ms, what);
}

export async function connections(kind: PairKind): Promise<[Connection, Connection, () => Promise<void>]> {
  if (kind !== 'tcp') {
    const [a, b] = createMemoryPair(undefined, undefined, { lendReadBuffer: kind === 'lent' });
    return [a, b, async () => {}];
  }
  // As a Client does: the dialled end lends its read buffer.
  const t = new TcpTransport({ lendReadBuffer: true });
  let accepted: (c: Connection) => void = () => {};
  const got = new Promise<Connection>((r) => {
    accepted = r;
  });
  const listener = await t.listen({ host: '127.0.0.1', port: 0 }, (c) => accepted(c));
  const a = await t.connect(listener.address);
  const b = await got;
  return [a, b, () => listener.close()];
}

/** Two wires with completed handshakes (a dials b). */
export async function wirePair(
  kind: PairKind,
  optsA: Partial<PeerWireOptions> = {},
  optsB: Partial<PeerWireOptions> = {},
  setup?: (a: PeerWire, b: PeerWire) => void,
): Promise<{ a: PeerWire; b: PeerWire; infoHash: Uint8Array; done: () => Promise<void> }> {
  const infoHash = optsA.infoHash ?? rnd(20);
  const [ca, cb, close] = await connections(kind);
  const a = new PeerWire(ca, { peerId: rnd(20), infoHash, ...optsA });
  const b = new PeerWire(cb, { peerId: rnd(20), ...optsB });
  setup?.(a, b);
  const bGotHandshake = next(b, 'handshake');
  const aExt = next(a, 'extended-handshake');
  const bExt = next(b, 'extended-handshake');
  a.handshake();
  await bGotHandshake;
  b.handshake();
  await Promise.all([aExt, bExt]);
  return {
    a,
    b,
    infoHash,
    done: async () => {
      a.close();
      b.close();
      await close();
    },
  };
}

/** A raw BitTorrent handshake. */
export function rawHandshake(
  infoHash: Uint8Array,
  peerId: Uint8Array,
  reserved: Uint8Array = new Uint8Array(8),
): Uint8Array {
  const out = new Uint8Array(68);
  out[0] = 19;
  out.set(new TextEncoder().encode('BitTorrent protocol'), 1);
  out.set(reserved, 20);
  out.set(infoHash, 28);
  out.set(peerId, 48);
  return out;
}

/** A raw length-prefixed message: id, then 32-bit integers, then bytes. */
export function rawMessage(id: number, ints: number[] = [], tail: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(5 + ints.length * 4 + tail.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length - 4);
  out[4] = id;
  for (const [i, n] of ints.entries()) v.setUint32(5 + i * 4, n);
  out.set(tail, 5 + ints.length * 4);
  return out;
}

/** Reserved bytes with BEP 10 and (optionally) BEP 6 set. */
export function reservedBits(fast: boolean): Uint8Array {
  const r = new Uint8Array(8);
  r[5] = 0x10;
  if (fast) r[7] = 0x04;
  return r;
}
