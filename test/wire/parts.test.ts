import { describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Connection } from '../../src/util/transport.js';
import type { WireError } from '../../src/wire/errors.js';
import type { WireExtension } from '../../src/wire/extension.js';
import { type ExtensionHost, ExtensionRegistry, MAX_EXTENSIONS } from '../../src/wire/extension-registry.js';
import { Liveness, type LivenessHost } from '../../src/wire/liveness.js';
import { coalesce, SMALL_CHUNK, WriteBatcher } from '../../src/wire/write-batch.js';

/** A ManualClock whose deferred work runs on `turn()`. */
class TurnClock extends ManualClock {
  #deferred: (() => void)[] = [];
  defer(fn: () => void): void {
    this.#deferred.push(fn);
  }
  turn(): void {
    for (const fn of this.#deferred.splice(0)) fn();
  }
}

/** A connection that records writes and lets the test say when they are written. */
function recorder() {
  const writes: { chunks: Uint8Array[]; onWritten: (() => void) | undefined }[] = [];
  const conn = {
    bufferedAmount: 0,
    write(chunks: readonly Uint8Array[], onWritten?: () => void) {
      writes.push({ chunks: [...chunks], onWritten });
      return true;
    },
  } as unknown as Connection;
  return { conn, writes };
}

const bytes = (n: number, fill = n) => new Uint8Array(n).fill(fill & 255);

describe('WriteBatcher', () => {
  it('writes what one turn queued in one write, small runs joined, large chunks as they are', () => {
    const clock = new TurnClock();
    const { conn, writes } = recorder();
    const w = new WriteBatcher(conn, clock, true);
    const big = bytes(16384);
    for (const c of [bytes(5), bytes(17), big, bytes(13), bytes(13)]) w.enqueue(c);
    expect(writes).toEqual([]);
    expect(w.queued).toBe(5);
    expect(w.queuedBytes).toBe(5 + 17 + 16384 + 26);
    clock.turn();
    expect(writes.length).toBe(1);
    const chunks = writes[0]?.chunks ?? [];
    expect(chunks.map((c) => c.length)).toEqual([22, 16384, 26]);
    expect(chunks[1]).toBe(big); // not copied
    expect(w.queued).toBe(0);
  });

  it('runs onFlushed callbacks once the batch holding them is written; clear drops both', () => {
    const clock = new TurnClock();
    const { conn, writes } = recorder();
    const w = new WriteBatcher(conn, clock, true);
    let released = 0;
    w.enqueue(bytes(300));
    w.onFlushed(() => released++);
    clock.turn();
    expect(released).toBe(0);
    writes[0]?.onWritten?.();
    expect(released).toBe(1);
    w.enqueue(bytes(300));
    w.onFlushed(() => released++);
    w.clear();
    clock.turn();
    expect(writes.length).toBe(1);
    expect(released).toBe(1);
  });

  it('without batching each chunk is written at once', () => {
    const { conn, writes } = recorder();
    const w = new WriteBatcher(conn, new TurnClock(), false);
    w.enqueue(bytes(5));
    w.enqueue(bytes(6));
    expect(writes.map((x) => x.chunks.length)).toEqual([1, 1]);
    expect(w.batching).toBe(false);
  });

  it('coalesce leaves a lone small chunk and lists without two small chunks alone', () => {
    const a = [bytes(SMALL_CHUNK + 1), bytes(3)];
    expect(coalesce(a)).toBe(a);
    const b = [bytes(3), bytes(SMALL_CHUNK + 1), bytes(4)];
    expect(coalesce(b).map((c) => c.length)).toEqual([3, SMALL_CHUNK + 1, 4]);
    const c = [bytes(SMALL_CHUNK, 1), bytes(SMALL_CHUNK, 2)];
    const joined = coalesce(c);
    expect(joined.length).toBe(1);
    expect(joined[0]?.[SMALL_CHUNK]).toBe(2);
  });
});

function livenessHost(over: Partial<LivenessHost> = {}) {
  const state = { ready: false, handshakeSent: false, readingPaused: false, keepAlives: 0 };
  const drops: WireError[] = [];
  const host: LivenessHost = {
    get ready() {
      return state.ready;
    },
    get handshakeSent() {
      return state.handshakeSent;
    },
    get readingPaused() {
      return state.readingPaused;
    },
    sendKeepAlive: () => state.keepAlives++,
    timedOut: (e) => drops.push(e),
    ...over,
  };
  return { host, state, drops };
}

describe('Liveness', () => {
  it('drops a peer without both handshakes after handshakeTimeoutMs', () => {
    const clock = new ManualClock();
    const { host, drops } = livenessHost();
    new Liveness(clock, host, { handshakeTimeoutMs: 1000 });
    clock.advance(999);
    expect(drops).toEqual([]);
    clock.advance(1);
    expect(drops.map((e) => e.code)).toEqual(['WIRE_HANDSHAKE_TIMEOUT']);
  });

  it('once ready, drops after timeoutMs of silence; what arrives pushes it back', () => {
    const clock = new ManualClock();
    const { host, state, drops } = livenessHost();
    const l = new Liveness(clock, host, { handshakeTimeoutMs: 1000, timeoutMs: 5000 });
    state.ready = true;
    state.handshakeSent = true;
    l.arm();
    clock.advance(4000);
    l.received();
    clock.advance(4000);
    expect(drops).toEqual([]);
    clock.advance(1000);
    expect(drops.map((e) => e.code)).toEqual(['WIRE_TIMEOUT']);
  });

  it('does not time out while reading is paused (the silence is ours)', () => {
    const clock = new ManualClock();
    const { host, state, drops } = livenessHost();
    const l = new Liveness(clock, host, { timeoutMs: 5000 });
    state.ready = true;
    state.readingPaused = true;
    l.arm();
    clock.advance(60_000);
    expect(drops).toEqual([]);
    state.readingPaused = false;
    clock.advance(10_000);
    expect(drops.map((e) => e.code)).toEqual(['WIRE_TIMEOUT']);
  });

  it('sends a keep-alive after keepAliveMs of sending nothing, only once our handshake is out', () => {
    const clock = new ManualClock();
    const { host, state } = livenessHost();
    const l = new Liveness(clock, host, { keepAliveMs: 1000, handshakeTimeoutMs: 1e9 });
    clock.advance(5000);
    expect(state.keepAlives).toBe(0);
    state.handshakeSent = true;
    l.sent();
    clock.advance(750);
    expect(state.keepAlives).toBe(0);
    clock.advance(250);
    expect(state.keepAlives).toBe(1);
    l.stop();
    clock.advance(1e6);
    expect(state.keepAlives).toBe(1);
    expect(clock.pending).toBe(0);
  });
});

function registry() {
  const sentMsgs: [number, Uint8Array][] = [];
  const drops: WireError[] = [];
  const state = { closed: false };
  const host: ExtensionHost = {
    clock: new ManualClock(),
    get closed() {
      return state.closed;
    },
    sendExtended: (id, p) => sentMsgs.push([id, p]),
    drop: (e) => drops.push(e),
  };
  return { reg: new ExtensionRegistry(host), sentMsgs, drops, state };
}

function ext(name: string, over: Partial<WireExtension> = {}): WireExtension {
  return { name, maxPayload: 10, onMessage: () => {}, ...over };
}

const codeOf = (fn: () => void) => {
  try {
    fn();
  } catch (e) {
    return (e as WireError).code;
  }
  return undefined;
};

describe('ExtensionRegistry', () => {
  it("gives ids in registration order and sends with the peer's id once it announced the extension", () => {
    const { reg, sentMsgs } = registry();
    const got: Uint8Array[] = [];
    let send: (p: Uint8Array) => void = () => {};
    reg.use((ctx) => {
      send = (p) => ctx.send(p);
      return ext('a', { onMessage: (p) => got.push(p) });
    });
    reg.use(() => ext('b'));
    expect(reg.names()).toEqual(['a', 'b']);
    expect(codeOf(() => send(Uint8Array.of(1)))).toBe('WIRE_NOT_SUPPORTED');
    const info = reg.parseHandshake(encode({ m: { a: 7, z: 3 }, reqq: 250, v: 'lt', p: 6881 }));
    expect([...info.extensions]).toEqual([
      ['a', 7],
      ['z', 3],
    ]);
    expect([info.reqq, info.client, info.port]).toEqual([250, 'lt', 6881]);
    expect(reg.peerSupports('a') && !reg.peerSupports('b')).toBe(true);
    send(Uint8Array.of(1));
    expect(sentMsgs).toEqual([[7, Uint8Array.of(1)]]);
    reg.onMessage(1, Uint8Array.of(5));
    reg.onMessage(9, Uint8Array.of(5)); // not ours: ignored
    expect(got).toEqual([Uint8Array.of(5)]);
    // An update with id 0 takes an extension back.
    reg.parseHandshake(encode({ m: { a: 0 } }));
    expect(reg.peerSupports('a')).toBe(false);
  });

  it('refuses a duplicate name, too many extensions, and bad handshakes, with codes', () => {
    const { reg } = registry();
    reg.use(() => ext('a'));
    expect(codeOf(() => reg.use(() => ext('a')))).toBe('WIRE_DUPLICATE_EXTENSION');
    for (let i = 1; i < MAX_EXTENSIONS; i++) reg.use(() => ext(`x${i}`));
    expect(codeOf(() => reg.use(() => ext('one-more')))).toBe('WIRE_TOO_MANY_EXTENSIONS');
    expect(codeOf(() => reg.parseHandshake(Uint8Array.of(0x64)))).toBe('WIRE_BAD_EXTENDED_HANDSHAKE');
    expect(codeOf(() => reg.parseHandshake(encode([1])))).toBe('WIRE_BAD_EXTENDED_HANDSHAKE');
    expect(codeOf(() => reg.parseHandshake(encode({ m: 5 })))).toBe('WIRE_BAD_EXTENDED_HANDSHAKE');
  });

  it('a message above the limit, or an extension throwing, becomes a WireError; close reaches every extension', () => {
    const { reg, state } = registry();
    const closed: string[] = [];
    reg.use(() =>
      ext('a', {
        onMessage: () => {
          throw new Error('boom');
        },
        onClose: () => {
          closed.push('a');
          throw new Error('ignored');
        },
      }),
    );
    reg.use(() => ext('b', { onClose: () => closed.push('b') }));
    expect(codeOf(() => reg.onMessage(2, new Uint8Array(11)))).toBe('WIRE_EXTENSION_MESSAGE_TOO_LARGE');
    expect(codeOf(() => reg.onMessage(1, new Uint8Array(1)))).toBe('WIRE_EXTENSION_ERROR');
    const seen: string[] = [];
    const reg2 = registry();
    reg2.reg.use(() =>
      ext('p', {
        onExtendedHandshake: () => {
          seen.push('p');
          reg2.state.closed = true;
        },
      }),
    );
    reg2.reg.use(() => ext('q', { onExtendedHandshake: () => seen.push('q') }));
    reg2.reg.deliverHandshake(new Map());
    expect(seen).toEqual(['p']); // stops once the wire closed
    state.closed = true;
    reg.close(undefined);
    expect(closed).toEqual(['a', 'b']);
  });
});
