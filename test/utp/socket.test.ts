/**
 * UtpSocket and UtpConnection behaviour on virtual time: hostile datagrams (random, forged,
 * floods) never throw and never grow state past the bounds; close/FIN, destroy/RESET, timeouts,
 * back-pressure, pause/resume with a shrinking window, held data before attach.
 */
import { describe, expect, it } from 'vitest';
import type { TransportError } from '../../src/util/errors.js';
import type { Connection } from '../../src/util/transport.js';
import { encodePacket, ST_DATA, ST_STATE, ST_SYN, type UtpOptions, UtpSocket } from '../../src/utp/index.js';
import { pattern, rng, runUntil, SimNet } from './sim.js';

/** The code of an error's cause. */
function causeCode(e: { cause?: unknown } | null | undefined): string | undefined {
  return (e?.cause as { code?: string } | undefined)?.code;
}

interface Setup {
  net: SimNet;
  a: UtpSocket;
  b: UtpSocket;
  client: Connection;
  server: Connection;
}

async function setup(opts: UtpOptions = {}, netLatency = 5): Promise<Setup> {
  const net = new SimNet({ latencyMs: netLatency });
  const o = { ...opts, clock: net.clock };
  const a = new UtpSocket(net.bind(), o);
  const b = new UtpSocket(net.bind(), o);
  let server: Connection | undefined;
  b.onConnection((c) => {
    server = c;
  });
  let client: Connection | undefined;
  void a.connect(b.address).then((c) => {
    client = c;
  });
  await runUntil(net.clock, () => client !== undefined && server !== undefined, 10_000, 'connect');
  return { net, a, b, client: client as Connection, server: server as Connection };
}

function sink(c: Connection) {
  const s = { bytes: [] as Uint8Array[], n: 0, closed: null as TransportError | undefined | null };
  c.attach({
    onData: (d) => {
      s.bytes.push(d.slice());
      s.n += d.length;
    },
    onDrain: () => {},
    onClose: (e) => {
      s.closed = e;
    },
  });
  return s;
}

describe('UtpSocket under hostile input', () => {
  it('random datagrams and forged packets never throw; the connection survives or closes typed', async () => {
    const s = await setup();
    const r = rng(77);
    const evil = s.net.bind();
    const recv = sink(s.server);
    const cid = (s.client as unknown as { sendId: number }).sendId;
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(r() * 60);
      const junk = new Uint8Array(n);
      for (let j = 0; j < n; j++) junk[j] = Math.floor(r() * 256);
      evil.send(junk, s.b.address);
      // Forged packets from another address with the live connection id: another endpoint, so ignored.
      evil.send(
        encodePacket({
          type: ST_DATA,
          connectionId: cid,
          seq: Math.floor(r() * 65536),
          ack: 0,
          payload: junk,
        }),
        s.b.address,
      );
    }
    await runUntil(s.net.clock, () => s.b.stats.received >= 6000, 10_000, 'the junk');
    const st = s.b.stats;
    expect(st.connections).toBe(1);
    expect(Object.values(st.dropped).reduce((x, y) => x + (y ?? 0), 0)).toBeGreaterThan(0);
    // The real connection still works.
    const data = pattern(100_000, 4);
    s.client.write([data]);
    await runUntil(s.net.clock, () => recv.n >= data.length, 10_000, 'data after the junk');
    expect(Buffer.compare(Buffer.concat(recv.bytes), data)).toBe(0);
  });

  it('forged packets from the peer address (any seq, ack, sack, window) never throw, keep state bounded, and the connection still tears down', async () => {
    // Whoever knows the endpoint and connection id can corrupt or stall a uTP stream (BEP 29 has
    // no authentication; libtorrent is the same): what must hold is no throw, no unbounded state,
    // and a connection that closes with a typed error or stays a well-behaved connection.
    const s = await setup({ recvWindow: 256 * 1024 });
    const recv = sink(s.server);
    s.client.write([pattern(50_000, 1)]);
    const r = rng(5);
    const cid = (s.client as unknown as { sendId: number }).sendId;
    for (let i = 0; i < 2000; i++) {
      const sack = new Uint8Array(4 * (1 + Math.floor(r() * 60))).map(() => Math.floor(r() * 256));
      const type = [ST_DATA, ST_STATE, 1][Math.floor(r() * 3)] as number;
      const pkt = encodePacket({
        type,
        connectionId: cid,
        seq: Math.floor(r() * 65536),
        ack: Math.floor(r() * 65536),
        wnd: Math.floor(r() * 2 ** 32),
        sack,
        payload: new Uint8Array(Math.floor(r() * 1400)),
      });
      // From the client's own address, as a spoofer would send them.
      s.net.transmit(pkt, s.a.address, s.b.address);
    }
    s.net.clock.advance(30_000);
    expect(s.b.stats.connections).toBeLessThanOrEqual(1);
    expect(recv.n).toBeLessThanOrEqual(50_000 + 2000 * 1400);
    if (recv.closed !== null) expect(recv.closed?.code).toMatch(/^TRANSPORT_/);
    s.client.destroy();
    await runUntil(s.net.clock, () => recv.closed !== null, 5000, 'the teardown');
    expect(recv.closed?.code ?? 'TRANSPORT_').toMatch(/^TRANSPORT_/);
    s.net.clock.advance(10_000);
    expect(s.b.stats.connections).toBe(0);
  });

  it('a SYN flood stays within maxHalfOpen and the half-open connections expire', async () => {
    const net = new SimNet({ latencyMs: 1 });
    const b = new UtpSocket(net.bind(), {
      clock: net.clock,
      maxHalfOpen: 16,
      maxConnections: 50,
      connectTimeoutMs: 2000,
    });
    let accepted = 0;
    b.onConnection(() => accepted++);
    const evil = net.bind();
    for (let i = 0; i < 1000; i++)
      evil.send(encodePacket({ type: ST_SYN, connectionId: i * 2, seq: 1, ack: 0 }), b.address);
    await runUntil(net.clock, () => b.stats.received >= 1000, 1000, 'the flood');
    expect(accepted).toBe(16);
    expect(b.stats.halfOpen).toBe(16);
    expect(b.stats.dropped.UTP_TOO_MANY_CONNECTIONS).toBe(984);
    net.clock.advance(2500);
    expect(b.stats.halfOpen).toBe(0);
    net.clock.advance(6000);
    expect(b.stats.connections).toBe(0);
  });

  it('packets for unknown connections get RESETs, rate-limited', async () => {
    const net = new SimNet({ latencyMs: 1 });
    const b = new UtpSocket(net.bind(), { clock: net.clock, resetsPerSecond: 10 });
    b.onConnection(() => {});
    const evil = net.bind();
    for (let i = 0; i < 500; i++)
      evil.send(encodePacket({ type: ST_DATA, connectionId: i, seq: 1, ack: 0 }), b.address);
    await runUntil(net.clock, () => b.stats.received >= 500, 1000, 'the packets');
    expect(b.stats.dropped.UTP_UNKNOWN_CONNECTION).toBe(500);
    expect(b.stats.resetsSent).toBeLessThanOrEqual(11);
    expect(b.stats.resetsSent).toBeGreaterThan(0);
    expect(b.stats.connections).toBe(0);
  });
});

describe('UtpConnection lifecycle', () => {
  it('close sends queued data then FIN; both ends close cleanly and the sockets forget them', async () => {
    const s = await setup();
    const recv = sink(s.server);
    let clientClosed: TransportError | undefined | null = null;
    s.client.attach({ onData: () => {}, onDrain: () => {}, onClose: (e) => (clientClosed = e) });
    const data = pattern(200_000, 9);
    s.client.write([data]);
    s.client.close();
    expect(s.client.write([new Uint8Array(1)])).toBe(false);
    await runUntil(s.net.clock, () => recv.closed !== null && clientClosed !== null, 20_000, 'both closes');
    expect(recv.closed).toBeUndefined();
    expect(clientClosed).toBeUndefined();
    expect(Buffer.compare(Buffer.concat(recv.bytes), data)).toBe(0);
    s.net.clock.advance(10_000);
    expect(s.a.stats.connections).toBe(0);
    expect(s.b.stats.connections).toBe(0);
  });

  it('destroy sends RESET: the other end closes with TRANSPORT_RESET', async () => {
    const s = await setup();
    const recv = sink(s.server);
    s.client.destroy();
    await runUntil(s.net.clock, () => recv.closed !== null, 5000, 'the reset');
    expect(recv.closed?.code).toBe('TRANSPORT_RESET');
    expect(causeCode(recv.closed)).toBe('UTP_RESET');
  });

  it('connect to a silent address rejects with TRANSPORT_CONNECT_FAILED after connectTimeoutMs; abort rejects ABORTED', async () => {
    const net = new SimNet({ latencyMs: 1 });
    const a = new UtpSocket(net.bind(), { clock: net.clock, connectTimeoutMs: 3000 });
    const silent = net.bind();
    let err: TransportError | undefined;
    const t0 = net.clock.now();
    void a.connect(silent.address).catch((e: TransportError) => {
      err = e;
    });
    await runUntil(net.clock, () => err !== undefined, 10_000, 'the connect timeout');
    expect(err?.code).toBe('TRANSPORT_CONNECT_FAILED');
    expect(causeCode(err)).toBe('UTP_CONNECT_TIMEOUT');
    expect(net.clock.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(net.clock.now() - t0).toBeLessThan(3200);
    const ac = new AbortController();
    let aborted: TransportError | undefined;
    void a.connect(silent.address, { signal: ac.signal }).catch((e: TransportError) => {
      aborted = e;
    });
    ac.abort();
    await runUntil(net.clock, () => aborted !== undefined, 100, 'the abort');
    expect(aborted?.code).toBe('ABORTED');
    expect(a.stats.connections).toBe(0);
  });

  it('gives up with UTP_TIMEOUT when the peer vanishes with data in flight', async () => {
    const s = await setup({ idleTimeoutMs: 600_000 });
    const c = sink(s.client);
    await s.b.close();
    s.client.write([pattern(10_000, 2)]);
    await runUntil(s.net.clock, () => c.closed !== null, 600_000, 'the give-up');
    expect(c.closed?.code).toBe('TRANSPORT_ERROR');
    expect(causeCode(c.closed)).toBe('UTP_TIMEOUT');
  });

  it('an idle peer that vanished times out after idleTimeoutMs', async () => {
    const s = await setup({ idleTimeoutMs: 5000, keepaliveMs: 1000 });
    const recv = sink(s.server);
    await s.a.close();
    await runUntil(s.net.clock, () => recv.closed !== null, 20_000, 'the idle timeout');
    expect(causeCode(recv.closed)).toBe('UTP_TIMEOUT');
  });

  it('keepalives keep an idle connection open', async () => {
    const s = await setup({ idleTimeoutMs: 5000, keepaliveMs: 1000 });
    const recv = sink(s.server);
    s.net.clock.advance(30_000);
    expect(recv.closed).toBe(null);
    expect(s.client.closed).toBe(false);
  });

  it('holds data until attach; write returns false over the high-water mark, then onDrain', async () => {
    const s = await setup({ highWaterMark: 64 * 1024 });
    const data = pattern(300_000, 3);
    let drained = 0;
    s.client.attach({ onData: () => {}, onDrain: () => drained++, onClose: () => {} });
    expect(s.client.write([data])).toBe(false);
    expect(s.client.bufferedAmount).toBeGreaterThan(0);
    await runUntil(s.net.clock, () => drained > 0, 10_000, 'drain');
    await runUntil(s.net.clock, () => s.client.bufferedAmount === 0, 10_000, 'all sent');
    s.net.clock.advance(100);
    const recv = sink(s.server);
    await runUntil(s.net.clock, () => recv.n >= data.length, 10_000, 'held data');
    expect(Buffer.compare(Buffer.concat(recv.bytes), data)).toBe(0);
  });

  it('pause shrinks the advertised window to zero and stops the sender (for minutes); resume delivers everything', async () => {
    const s = await setup({ recvWindow: 64 * 1024, largePacketSize: 0 });
    const recv = sink(s.server);
    s.server.pause();
    const data = pattern(1024 * 1024, 8);
    s.client.write([data]);
    s.net.clock.advance(5000);
    await runUntil(s.net.clock, () => true, 1, 'a turn');
    // Paused for longer than the give-up bound of a silent peer: the zero-window probes are
    // answered, so the connection stays up.
    for (let i = 0; i < 2000; i++) {
      s.net.clock.runDeferred();
      await Promise.resolve();
      s.net.clock.advance(100);
    }
    expect(recv.closed).toBe(null);
    expect(recv.n).toBe(0);
    // The sender holds most of the data: the receiver took at most its window.
    expect(s.client.bufferedAmount).toBeGreaterThan(data.length - 70 * 1024);
    s.server.resume();
    await runUntil(s.net.clock, () => recv.n >= data.length, 60_000, 'everything after resume');
    expect(Buffer.compare(Buffer.concat(recv.bytes), data)).toBe(0);
  });
});
