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

  /**
   * A tap that loses new data packets (first sends only; resends pass) whose rank among the data
   * packets seen so far is in `drop(rank)`: a burst lost to a receiver's full socket buffer.
   */
  function burstLoss(drop: (rank: number) => boolean) {
    const seen = new Set<number>();
    const loss = {
      seen,
      dropped: 0,
      tap: (d: Uint8Array): Uint8Array | undefined => {
        if (d.length > 100 && (d[0] as number) >> 4 === 0) {
          const seq = ((d[16] as number) << 8) | (d[17] as number);
          if (seen.has(seq)) return d; // a resend
          seen.add(seq);
          if (drop(seen.size)) {
            loss.dropped++;
            return undefined;
          }
        }
        return d;
      },
    };
    return loss;
  }

  it('recovers from a whole burst lost at once in a few round trips, not one timeout per packet', async () => {
    // The receiver's socket buffer overflowed: 130 consecutive data packets vanish, nothing
    // after them arrives to be selectively acked.
    const loss = burstLoss((rank) => rank > 50 && rank <= 180);
    const p = await pair({ latencyMs: 5, tap: loss.tap }, { largePacketSize: 0 });
    const data = pattern(256 * 1024, 13);
    const t0 = p.net.clock.now();
    const r = await transfer(p, p.client, p.server, data, 60_000);
    expect(Buffer.compare(r.out, data)).toBe(0);
    expect(loss.seen.size).toBeGreaterThan(180);
    // One timeout (≥ 1 s before the first RTT sample), then slow start: a few seconds at most.
    expect(p.net.clock.now() - t0).toBeLessThan(5000);
  });

  it('a lost tail on a warm connection is resent after a probe timeout, well before the 500 ms RTO', async () => {
    // Warm up (round-trip samples: the RTO is then its 500 ms floor), then lose the tail of the
    // next burst: every new data packet after the first 10 of the second transfer vanishes once.
    let dropFrom = Infinity;
    const loss = burstLoss((rank) => rank > dropFrom);
    const p = await pair({ latencyMs: 5, tap: loss.tap }, { largePacketSize: 0 });
    const warm = pattern(512 * 1024, 21);
    expect(Buffer.compare((await transfer(p, p.client, p.server, warm, 60_000)).out, warm)).toBe(0);
    dropFrom = loss.seen.size + 10;
    const data = pattern(96 * 1024, 22);
    const t0 = p.net.clock.now();
    const r = await transfer(p, p.client, p.server, data, 60_000);
    expect(Buffer.compare(r.out, data)).toBe(0);
    expect(loss.dropped).toBeGreaterThan(50);
    // The probe fires after max(100 ms, 4 round trips) (checked on the socket's 50 ms tick).
    expect(p.net.clock.now() - t0).toBeLessThan(400);
  });

  it('runs through the 16-bit sequence space (more than 65,536 packets) without a hitch', async () => {
    // 150-byte datagrams: 130 bytes of payload, so 9 MiB is ~72,600 packets — every sequence
    // number wraps at least once, whatever the random start.
    const p = await pair({ latencyMs: 1 }, { packetSize: 150, largePacketSize: 0, maxWindow: 64 * 1024 });
    const data = pattern(9 * 1024 * 1024, 17);
    const r = await transfer(p, p.client, p.server, data, 600_000, 65536);
    expect(r.closed).toBe(null);
    expect(Buffer.compare(r.out, data)).toBe(0);
    expect(p.net.sent).toBeGreaterThan(65_536);
  }, 60_000);
});
