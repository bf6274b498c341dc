/**
 * Hostile input against both sides of the MSE handshake: garbage, truncation, a sync marker
 * that never comes (bounded by bytes, not by the timeout), oversized padding, a selection we did
 * not offer, zero provide bits, an unknown info-hash, a wrong verification constant, a
 * plaintext handshake under `forced`, random bytes. Each ends with a typed MseError and the
 * connection destroyed — no crash, no hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/util/bytes.js';
import { ManualClock } from '../../../src/util/clock.js';
import { type Connection, createMemoryPair } from '../../../src/util/transport.js';
import { hashOf, rc4Streams } from '../../../src/wire/mse/core.js';
import { dhKeyPair, dhSecret } from '../../../src/wire/mse/dh.js';
import { MseError, type MseErrorCode, mseAccept, mseConnect, req2Hash } from '../../../src/wire/mse/index.js';
import { waitFor } from '../../helpers/wait.js';

const INFO_HASH = new Uint8Array(20).map((_, i) => 100 + i);
const lookup = (req2: Uint8Array) => (toHex(req2) === toHex(req2Hash(INFO_HASH)) ? INFO_HASH : undefined);

/** The raw side: what it received so far, and whether its connection closed. */
function raw(conn: Connection) {
  const parts: Uint8Array[] = [];
  let closed = false;
  conn.attach({
    onData: (c) => parts.push(c.slice()),
    onDrain: () => {},
    onClose: () => {
      closed = true;
    },
  });
  return { bytes: () => new Uint8Array(Buffer.concat(parts)), closed: () => closed };
}

function seeded(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

async function expectCode(p: Promise<unknown>, code: MseErrorCode): Promise<MseError> {
  const err = await waitFor(
    p.then(
      () => undefined,
      (e: unknown) => e,
    ),
    10_000,
    `the handshake to fail with ${code}`,
  );
  expect(err).toBeInstanceOf(MseError);
  expect((err as MseError).code).toBe(code);
  return err as MseError;
}

/** A hand-made initiator: Ya, PadA, then `tail(secret)` built by the test. */
function initiatorBytes(
  build: (secret: Uint8Array, streams: ReturnType<typeof rc4Streams>) => Uint8Array[],
  theirYb: Uint8Array,
  keys = dhKeyPair(),
): Uint8Array[] {
  const secret = dhSecret(keys, theirYb);
  if (!secret) throw new Error('degenerate');
  return build(secret, rc4Streams(secret, INFO_HASH, true));
}

/** Step 3 of the spec with chosen fields (defaults: valid). */
function step3(
  secret: Uint8Array,
  out: ReturnType<typeof rc4Streams>['out'],
  f: { vc?: Uint8Array; provide?: number; padC?: number; padBytes?: number; infoHash?: Uint8Array } = {},
): Uint8Array[] {
  const req3 = hashOf('req3', secret);
  const req2 = hashOf('req2', f.infoHash ?? INFO_HASH);
  const x = req2.map((b, i) => b ^ (req3[i] as number));
  const padBytes = f.padBytes ?? f.padC ?? 0;
  const enc = new Uint8Array(8 + 4 + 2 + padBytes + 2);
  enc.set(f.vc ?? new Uint8Array(8));
  const dv = new DataView(enc.buffer);
  dv.setUint32(8, f.provide ?? 2);
  dv.setUint16(12, f.padC ?? 0);
  dv.setUint16(14 + padBytes, 0);
  out.apply(enc);
  return [hashOf('req1', secret), x, enc];
}

describe('hostile initiators against mseAccept', () => {
  async function attack(
    send: (a: Connection, got: () => Uint8Array) => Promise<void>,
    code: MseErrorCode,
    policy: 'enabled' | 'forced' | 'disabled' = 'enabled',
    clock?: ManualClock,
  ) {
    const [a, b] = createMemoryPair();
    const r = raw(a);
    const p = mseAccept(b, { policy, allow: ['rc4', 'plaintext'], lookup, clock });
    const settled = p.catch(() => undefined);
    await send(a, r.bytes);
    await expectCode(p, code);
    await settled;
    await waitFor(() => r.closed() && b.closed, 5000, 'the connection to be destroyed');
  }

  /** Sends Ya, waits for Yb, then sends what `build` makes. */
  const handshake =
    (build: (secret: Uint8Array, s: ReturnType<typeof rc4Streams>) => Uint8Array[]) =>
    async (a: Connection, got: () => Uint8Array) => {
      const keys = dhKeyPair();
      a.write([keys.publicKey]);
      await waitFor(() => got().length >= 96, 5000, 'Yb');
      a.write(initiatorBytes(build, got().subarray(0, 96), keys));
    };

  it('garbage: the sync marker is never found → MSE_SYNC_NOT_FOUND after 628 bytes, not at the timeout', async () => {
    const clock = new ManualClock(); // never advanced: the byte bound alone must end it
    const garbage = seeded(4000, 1);
    garbage[0] = 0x42;
    await attack(async (a) => void a.write([garbage]), 'MSE_SYNC_NOT_FOUND', 'enabled', clock);
  });

  it('Ya then 600 bytes of padding (above 512) and no req1 → MSE_SYNC_NOT_FOUND', async () => {
    await attack(async (a) => {
      a.write([dhKeyPair().publicKey]);
      for (let k = 0; k < 6; k++) a.write([seeded(100, k + 5)]);
    }, 'MSE_SYNC_NOT_FOUND');
  });

  it('truncated then silent → MSE_TIMEOUT on the injected clock', async () => {
    const clock = new ManualClock();
    await attack(
      async (a) => {
        a.write([dhKeyPair().publicKey.subarray(0, 50)]);
        await new Promise((r) => setTimeout(r, 10));
        clock.advance(10_000);
      },
      'MSE_TIMEOUT',
      'enabled',
      clock,
    );
  });

  it('truncated then closed → MSE_CONNECTION_CLOSED', async () => {
    await attack(async (a) => {
      a.write([dhKeyPair().publicKey.subarray(0, 70)]);
      a.close();
    }, 'MSE_CONNECTION_CLOSED');
  });

  it('a degenerate public key (zero) → MSE_BAD_HANDSHAKE', async () => {
    const [a, b] = createMemoryPair();
    raw(a);
    const p = mseAccept(b, { policy: 'enabled', allow: ['rc4'], lookup });
    a.write([new Uint8Array(96)]);
    await expectCode(p, 'MSE_BAD_HANDSHAKE');
    expect(b.closed).toBe(true);
  });

  it('an unknown info-hash → MSE_UNKNOWN_TORRENT', async () => {
    await attack(
      handshake((s, st) => step3(s, st.out, { infoHash: new Uint8Array(20).fill(9) })),
      'MSE_UNKNOWN_TORRENT',
    );
  });

  it('a wrong verification constant → MSE_BAD_HANDSHAKE', async () => {
    await attack(
      handshake((s, st) => step3(s, st.out, { vc: new Uint8Array(8).fill(1) })),
      'MSE_BAD_HANDSHAKE',
    );
  });

  it('zero provide bits → MSE_NO_COMMON_METHOD', async () => {
    await attack(
      handshake((s, st) => step3(s, st.out, { provide: 0 })),
      'MSE_NO_COMMON_METHOD',
    );
  });

  it('only unknown provide bits → MSE_NO_COMMON_METHOD', async () => {
    await attack(
      handshake((s, st) => step3(s, st.out, { provide: 0xfff0 })),
      'MSE_NO_COMMON_METHOD',
    );
  });

  it('len(PadC) = 513 and 65535 → MSE_PADDING_TOO_LONG (before reading the padding)', async () => {
    await attack(
      handshake((s, st) => step3(s, st.out, { padC: 513, padBytes: 0 })),
      'MSE_PADDING_TOO_LONG',
    );
    await attack(
      handshake((s, st) => step3(s, st.out, { padC: 65535, padBytes: 0 })),
      'MSE_PADDING_TOO_LONG',
    );
  });

  it('a plaintext BitTorrent handshake under forced → MSE_PLAINTEXT_REFUSED', async () => {
    const hs = new Uint8Array(68);
    hs.set(new TextEncoder().encode('\x13BitTorrent protocol'));
    await attack(async (a) => void a.write([hs]), 'MSE_PLAINTEXT_REFUSED', 'forced');
  });

  it('an encrypted handshake under disabled → MSE_ENCRYPTION_REFUSED', async () => {
    await attack(async (a) => void a.write([dhKeyPair().publicKey]), 'MSE_ENCRYPTION_REFUSED', 'disabled');
  });

  it('19 then not the protocol string is treated as MSE (and fails on garbage)', async () => {
    const bytes = seeded(1000, 3);
    bytes[0] = 19;
    await attack(async (a) => void a.write([bytes]), 'MSE_SYNC_NOT_FOUND', 'forced');
  });

  it('random bytes in random pieces: always an MseError, bounded', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 1500 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }),
        async (bytes, cuts) => {
          const clock = new ManualClock();
          const [a, b] = createMemoryPair();
          raw(a);
          const p = mseAccept(b, { policy: 'enabled', allow: ['rc4', 'plaintext'], lookup, clock });
          let off = 0;
          for (const c of cuts) {
            if (off >= bytes.length) break;
            a.write([bytes.subarray(off, off + c)]);
            off += c;
          }
          if (off < bytes.length) a.write([bytes.subarray(off)]);
          await new Promise((r) => setTimeout(r, 2));
          clock.advance(10_000);
          const r = await p.then(
            (x) => x,
            (e: unknown) => e,
          );
          // A random stream may start with the plaintext handshake's 20 bytes only by design.
          if (!(r instanceof MseError)) expect((r as { method: string }).method).toBe('none');
          else expect(b.closed).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('hostile responders against mseConnect', () => {
  async function attack(
    respond: (b: Connection, got: () => Uint8Array) => Promise<void>,
    code: MseErrorCode,
    opts: { clock?: ManualClock; provide?: ('rc4' | 'plaintext')[]; signal?: AbortSignal } = {},
  ) {
    const [a, b] = createMemoryPair();
    const r = raw(b);
    const p = mseConnect(a, {
      infoHash: INFO_HASH,
      provide: opts.provide ?? ['rc4'],
      clock: opts.clock,
      signal: opts.signal,
    });
    const settled = p.catch(() => undefined);
    await respond(b, r.bytes);
    await expectCode(p, code);
    await settled;
    await waitFor(() => r.closed() && a.closed, 5000, 'the connection to be destroyed');
  }

  /** Answers Ya with Yb, then `build(secret, streams)` (streams of the responder). */
  const answer =
    (build: (secret: Uint8Array, s: ReturnType<typeof rc4Streams>) => Uint8Array[]) =>
    async (b: Connection, got: () => Uint8Array) => {
      await waitFor(() => got().length >= 96, 5000, 'Ya');
      const keys = dhKeyPair();
      const secret = dhSecret(keys, got().subarray(0, 96));
      if (!secret) throw new Error('degenerate');
      b.write([keys.publicKey, ...build(secret, rc4Streams(secret, INFO_HASH, false))]);
    };

  /** ENCRYPT(VC, crypto_select, len(PadD), PadD). */
  const select = (out: ReturnType<typeof rc4Streams>['out'], bits: number, padD = 0, padBytes = 0) => {
    const m = new Uint8Array(8 + 6 + padBytes);
    const dv = new DataView(m.buffer);
    dv.setUint32(8, bits);
    dv.setUint16(12, padD);
    out.apply(m);
    return [m];
  };

  it('garbage instead of Yb → MSE_SYNC_NOT_FOUND after 616 bytes (clock never advanced)', async () => {
    const clock = new ManualClock();
    await attack(async (b) => void b.write([seeded(3000, 7)]), 'MSE_SYNC_NOT_FOUND', { clock });
  });

  it('Yb and more than 512 bytes of padding without the VC → MSE_SYNC_NOT_FOUND', async () => {
    await attack(
      answer(() => [seeded(700, 8)]),
      'MSE_SYNC_NOT_FOUND',
    );
  });

  it('Yb then silence → MSE_TIMEOUT', async () => {
    const clock = new ManualClock();
    await attack(
      async (b, got) => {
        await answer(() => [])(b, got);
        await new Promise((r) => setTimeout(r, 10));
        clock.advance(9_999);
        await new Promise((r) => setTimeout(r, 5));
        clock.advance(1);
      },
      'MSE_TIMEOUT',
      { clock },
    );
  });

  it('closed mid-handshake → MSE_CONNECTION_CLOSED', async () => {
    await attack(async (b, got) => {
      await waitFor(() => got().length >= 96, 5000, 'Ya');
      b.write([dhKeyPair().publicKey.subarray(0, 40)]);
      b.close();
    }, 'MSE_CONNECTION_CLOSED');
  });

  it('crypto_select of a method not offered, of none, of both → MSE_BAD_SELECT', async () => {
    await attack(
      answer((_s, st) => select(st.out, 0x01)),
      'MSE_BAD_SELECT',
      { provide: ['rc4'] },
    );
    await attack(
      answer((_s, st) => select(st.out, 0x02)),
      'MSE_BAD_SELECT',
      { provide: ['plaintext'] },
    );
    await attack(
      answer((_s, st) => select(st.out, 0)),
      'MSE_BAD_SELECT',
      { provide: ['rc4', 'plaintext'] },
    );
    await attack(
      answer((_s, st) => select(st.out, 3)),
      'MSE_BAD_SELECT',
      { provide: ['rc4', 'plaintext'] },
    );
  });

  it('len(PadD) above 512 → MSE_PADDING_TOO_LONG', async () => {
    await attack(
      answer((_s, st) => select(st.out, 0x02, 0xffff)),
      'MSE_PADDING_TOO_LONG',
    );
  });

  it('the signal aborts → MSE_ABORTED', async () => {
    const ac = new AbortController();
    await attack(async () => ac.abort(), 'MSE_ABORTED', { signal: ac.signal });
  });

  it('bad arguments → MSE_BAD_OPTIONS, the connection destroyed', async () => {
    const [a] = createMemoryPair();
    await expectCode(mseConnect(a, { infoHash: new Uint8Array(19), provide: ['rc4'] }), 'MSE_BAD_OPTIONS');
    await waitFor(() => a.closed, 5000, 'destroyed');
    const [c] = createMemoryPair();
    await expectCode(mseConnect(c, { infoHash: INFO_HASH, provide: [] }), 'MSE_BAD_OPTIONS');
    const [d] = createMemoryPair();
    await expectCode(mseAccept(d, { policy: 'forced', allow: [], lookup }), 'MSE_BAD_OPTIONS');
    await waitFor(() => c.closed && d.closed, 5000, 'destroyed');
  });
});
