/**
 * uTP connections over an in-memory datagram network on virtual time: transfers byte for byte
 * (clean, and with 1 % and 5 % loss at 50 ms one-way latency), close/FIN, destroy/RESET, connect
 * timeouts, abort.
 */
import { describe, expect, it } from 'vitest';
import type { TransportError } from '../../src/util/errors.js';
import type { Connection } from '../../src/util/transport.js';
import { type UtpOptions, UtpSocket } from '../../src/utp/index.js';
import { type NetOptions, pattern, runUntil, SimNet } from './sim.js';

interface Pair {
  net: SimNet;
  a: UtpSocket;
  b: UtpSocket;
  client: Connection;
  server: Connection;
}

async function pair(net: NetOptions = {}, opts: UtpOptions = {}, host = '10.0.0.1'): Promise<Pair> {
  const n = new SimNet(net);
  const o = { ...opts, clock: n.clock };
  const a = new UtpSocket(n.bind(host), o);
  const b = new UtpSocket(n.bind(host), o);
  let server: Connection | undefined;
  b.onConnection((c) => {
    server = c;
  });
  let client: Connection | undefined;
  let failed: unknown;
  a.connect(b.address).then(
    (c) => {
      client = c;
    },
    (e) => {
      failed = e;
    },
  );
  await runUntil(
    n.clock,
    () => (client !== undefined && server !== undefined) || failed !== undefined,
    30_000,
    'connect',
  );
  if (failed) throw failed;
  return { net: n, a, b, client: client as Connection, server: server as Connection };
}

/** Sends `data` from `from` to `to` honouring back-pressure; resolves with what `to` received. */
async function transfer(
  p: Pair,
  from: Connection,
  to: Connection,
  data: Uint8Array,
  maxVirtualMs: number,
  chunk = 16384,
) {
  const got: Uint8Array[] = [];
  let received = 0;
  let closed: TransportError | undefined | null = null;
  to.attach({
    onData: (c) => {
      got.push(c.slice());
      received += c.length;
    },
    onDrain: () => {},
    onClose: (e) => {
      closed = e;
    },
  });
  let off = 0;
  const pump = () => {
    while (off < data.length) {
      const n = Math.min(chunk, data.length - off);
      const ok = from.write([data.subarray(off, off + n)]);
      off += n;
      if (!ok) return;
    }
  };
  from.attach({ onData: () => {}, onDrain: pump, onClose: () => {} });
  pump();
  await runUntil(
    p.net.clock,
    () => received >= data.length || closed !== null,
    maxVirtualMs,
    `${data.length} bytes`,
  );
  const out = Buffer.concat(got);
  return { out, closed };
}

describe('uTP on a simulated network', () => {
  it('transfers 2 MiB both ways byte for byte', async () => {
    const p = await pair();
    const d1 = pattern(2 * 1024 * 1024, 1);
    const r1 = await transfer(p, p.client, p.server, d1, 60_000);
    expect(r1.closed).toBe(null);
    expect(Buffer.compare(r1.out, d1)).toBe(0);
    const d2 = pattern(1024 * 1024 + 17, 2);
    const r2 = await transfer(p, p.server, p.client, d2, 60_000);
    expect(Buffer.compare(r2.out, d2)).toBe(0);
  });

  for (const loss of [0.01, 0.05]) {
    it(`completes 8 MiB with ${loss * 100} % loss and 50 ms one-way latency`, async () => {
      const p = await pair({ loss, latencyMs: 50, seed: 42 }, { largePacketSize: 0 });
      const data = pattern(8 * 1024 * 1024, 3);
      const r = await transfer(p, p.client, p.server, data, 3_600_000);
      expect(r.closed).toBe(null);
      expect(r.out.length).toBe(data.length);
      expect(Buffer.compare(r.out, data)).toBe(0);
      expect(p.net.lost).toBeGreaterThan(0);
      console.log(`loss ${loss}: ${p.net.clock.now()} virtual ms, sent ${p.net.sent}, lost ${p.net.lost}`);
    }, 60_000);
  }
});
