/**
 * MSE/PE handshakes between our two sides over in-memory connections: every provide/select
 * combination, lent and non-lent reads, the initiator's initial payload, plaintext detection,
 * and the stream afterwards in both directions (payload compared byte for byte, callers' write
 * chunks untouched).
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/util/bytes.js';
import { type Connection, createMemoryPair } from '../../../src/util/transport.js';
import {
  type CryptoMethod,
  type EncryptionPolicy,
  type MseAcceptResult,
  mseAccept,
  mseConnect,
  req2Hash,
} from '../../../src/wire/mse/index.js';
import { waitFor } from '../../helpers/wait.js';

const INFO_HASH = new Uint8Array(20).map((_, i) => i + 1);
const OTHER_HASH = new Uint8Array(20).fill(7);
const table = new Map([INFO_HASH, OTHER_HASH].map((h) => [toHex(req2Hash(h)), h]));
const lookup = (req2: Uint8Array) => table.get(toHex(req2));

/** Collects what a connection receives (copies: reads may be lent). */
function collect(conn: Connection, onChunk?: () => void): { bytes: () => Uint8Array; closed: () => boolean } {
  const parts: Uint8Array[] = [];
  let closed = false;
  conn.attach({
    onData: (c) => {
      onChunk?.();
      parts.push(c.slice());
    },
    onDrain: () => {},
    onClose: () => {
      closed = true;
    },
  });
  return {
    bytes: () => Buffer.concat(parts),
    closed: () => closed,
  };
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function pair(
  provide: CryptoMethod[],
  allow: CryptoMethod[],
  opts: { lend?: boolean; prefer?: CryptoMethod; ia?: Uint8Array; policy?: EncryptionPolicy } = {},
) {
  const [a, b] = createMemoryPair(undefined, undefined, { lendReadBuffer: opts.lend === true });
  const accepted = mseAccept(b, {
    policy: opts.policy ?? 'enabled',
    allow,
    prefer: opts.prefer,
    lookup,
  });
  const connected = mseConnect(a, { infoHash: INFO_HASH, provide, initialPayload: opts.ia });
  const [out, inc] = await Promise.all([connected, accepted]);
  return { out, inc };
}

/** Sends `n` bytes each way in uneven batches and checks both ends received them intact. */
async function exchange(x: Connection, y: Connection, n: number): Promise<void> {
  const fromX = pattern(n, 1);
  const fromY = pattern(n, 2);
  const rx = collect(x);
  const ry = collect(y);
  const snapshot = fromX.slice();
  for (let off = 0, k = 1; off < n; k++) {
    const len = Math.min(n - off, (k * 7919) % 70_000);
    x.write([
      fromX.subarray(off, off + Math.floor(len / 2)),
      fromX.subarray(off + Math.floor(len / 2), off + len),
    ]);
    y.write([fromY.subarray(off, off + len)]);
    off += len;
  }
  await waitFor(() => rx.bytes().length >= n && ry.bytes().length >= n, 10_000, 'both directions');
  expect(Buffer.from(ry.bytes()).equals(Buffer.from(fromX))).toBe(true);
  expect(Buffer.from(rx.bytes()).equals(Buffer.from(fromY))).toBe(true);
  // Our write chunks were never modified (they may be shared piece buffers).
  expect(Buffer.from(fromX).equals(Buffer.from(snapshot))).toBe(true);
}

const COMBINATIONS: [CryptoMethod[], CryptoMethod[], CryptoMethod | undefined, CryptoMethod][] = [
  [['rc4'], ['rc4'], undefined, 'rc4'],
  [['plaintext'], ['plaintext'], undefined, 'plaintext'],
  [['rc4', 'plaintext'], ['rc4'], undefined, 'rc4'],
  [['rc4', 'plaintext'], ['plaintext'], undefined, 'plaintext'],
  [['rc4'], ['rc4', 'plaintext'], 'plaintext', 'rc4'],
  [['plaintext'], ['rc4', 'plaintext'], 'rc4', 'plaintext'],
  [['rc4', 'plaintext'], ['rc4', 'plaintext'], undefined, 'rc4'],
  [['rc4', 'plaintext'], ['rc4', 'plaintext'], 'rc4', 'rc4'],
  [['rc4', 'plaintext'], ['rc4', 'plaintext'], 'plaintext', 'plaintext'],
];

describe('MSE handshake round trips', () => {
  for (const lend of [false, true]) {
    describe(lend ? 'lent reads' : 'fresh reads', () => {
      it.each(COMBINATIONS)(
        'provide %j, allow %j, prefer %s → %s',
        async (provide, allow, prefer, expected) => {
          const { out, inc } = await pair(provide, allow, { lend, prefer });
          expect(out.method).toBe(expected);
          expect(inc.method).toBe(expected);
          expect(toHex(inc.infoHash ?? new Uint8Array())).toBe(toHex(INFO_HASH));
          expect(out.connection.lendsReadBuffer === true).toBe(lend);
          await exchange(out.connection, inc.connection, 300_000);
        },
      );
    });
  }

  it('finds the right torrent among several', async () => {
    const [a, b] = createMemoryPair();
    const accepted = mseAccept(b, { policy: 'forced', allow: ['rc4'], lookup });
    const connected = mseConnect(a, { infoHash: OTHER_HASH, provide: ['rc4'] });
    const [, inc] = await Promise.all([connected, accepted]);
    expect(toHex(inc.infoHash ?? new Uint8Array())).toBe(toHex(OTHER_HASH));
  });

  it.each([
    ['rc4', false],
    ['plaintext', false],
    ['rc4', true],
  ] as const)(
    "the initiator's initial payload comes first on the responder's stream (%s, lent %s)",
    async (m, lend) => {
      const ia = pattern(5000, 9);
      const { out, inc } = await pair([m], [m], { ia, lend });
      // Not inside `attach`: a consumer registers its listeners after attaching (PeerWire).
      let inAttach = true;
      let deliveredInAttach = false;
      const rx = collect(inc.connection, () => {
        if (inAttach) deliveredInAttach = true;
      });
      inAttach = false;
      const after = pattern(1000, 10);
      out.connection.write([after]);
      await waitFor(() => rx.bytes().length >= 6000, 5000, 'IA and the stream');
      expect(Buffer.from(rx.bytes()).equals(Buffer.concat([ia, after]))).toBe(true);
      expect(deliveredInAttach).toBe(false);
    },
  );

  it('bytes written by the responder right after its answer arrive first on the initiator', async () => {
    const [a, b] = createMemoryPair();
    let inc: MseAcceptResult | undefined;
    const accepted = mseAccept(b, { policy: 'enabled', allow: ['rc4'], lookup }).then((r) => {
      inc = r;
      // Written in the same tick as the answer: reaches the initiator with the handshake.
      r.connection.write([new TextEncoder().encode('hello from B')]);
      return r;
    });
    const out = await mseConnect(a, { infoHash: INFO_HASH, provide: ['rc4'] });
    await accepted;
    expect(inc?.method).toBe('rc4');
    const rx = collect(out.connection);
    await waitFor(() => rx.bytes().length >= 12, 5000, "B's first bytes");
    expect(new TextDecoder().decode(rx.bytes())).toBe('hello from B');
  });

  it('a plaintext BitTorrent handshake is passed through (method none) under enabled and disabled', async () => {
    for (const policy of ['enabled', 'disabled'] as const) {
      const [a, b] = createMemoryPair();
      const accepted = mseAccept(b, { policy, allow: ['rc4', 'plaintext'], lookup });
      const hs = new Uint8Array(68);
      hs.set(new TextEncoder().encode('\x13BitTorrent protocol'));
      hs.set(INFO_HASH, 28);
      // In two writes: detection waits for the whole protocol string.
      a.write([hs.subarray(0, 5)]);
      await new Promise((r) => setTimeout(r, 5));
      a.write([hs.subarray(5)]);
      const inc = await accepted;
      expect(inc.method).toBe('none');
      expect(inc.infoHash).toBeUndefined();
      const rx = collect(inc.connection);
      await waitFor(() => rx.bytes().length >= 68, 5000, 'the plaintext handshake');
      expect(Buffer.from(rx.bytes()).equals(Buffer.from(hs))).toBe(true);
    }
  });

  it('a consumer that pauses while the handshake bytes are delivered gets the rest after resume', async () => {
    const ia = pattern(300, 4);
    const { out, inc } = await pair(['rc4'], ['rc4'], { ia });
    out.connection.write([pattern(200, 5)]);
    await new Promise((r) => setTimeout(r, 20)); // the 200 bytes are held too (not attached yet)
    const got: Uint8Array[] = [];
    inc.connection.attach({
      onData: (c) => {
        got.push(c.slice());
        inc.connection.pause();
      },
      onDrain: () => {},
      onClose: () => {},
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(got.length).toBe(1);
    for (let k = 0; k < 10 && Buffer.concat(got).length < 500; k++) {
      inc.connection.resume();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(Buffer.concat(got).equals(Buffer.concat([ia, pattern(200, 5)]))).toBe(true);
  });

  it('pause and resume pass through; close reaches the other side', async () => {
    const { out, inc } = await pair(['rc4'], ['rc4']);
    const rx = collect(inc.connection);
    inc.connection.pause();
    out.connection.write([pattern(1000, 3)]);
    await new Promise((r) => setTimeout(r, 20));
    expect(rx.bytes().length).toBe(0);
    inc.connection.resume();
    await waitFor(() => rx.bytes().length === 1000, 5000, 'data after resume');
    expect(Buffer.from(rx.bytes()).equals(Buffer.from(pattern(1000, 3)))).toBe(true);
    const ox = collect(out.connection);
    out.connection.close();
    await waitFor(() => rx.closed() && ox.closed(), 5000, 'both ends closed');
    expect(out.connection.closed).toBe(true);
  });

  it('onWritten of the caller is called, and bufferedAmount reflects the transport', async () => {
    const { out, inc } = await pair(['rc4'], ['rc4']);
    let written = 0;
    out.connection.write([pattern(100, 1)], () => written++);
    out.connection.write([], () => written++);
    expect(out.connection.bufferedAmount).toBeGreaterThan(0);
    await waitFor(() => written === 2, 5000, 'onWritten');
    collect(inc.connection);
    await waitFor(() => out.connection.bufferedAmount === 0, 5000, 'delivery');
  });
});
