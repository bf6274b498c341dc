/**
 * uTP over real UDP on 127.0.0.1 (integration): a transfer compared byte for byte both ways,
 * close (FIN) and destroy (RESET) as the other end sees them, a connect to a silent port that
 * times out, an aborted connect, and the transport's socket sharing.
 */
import * as dgram from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import type { TransportError } from '../../src/util/errors.js';
import type { Connection } from '../../src/util/transport.js';
import { UtpTransport } from '../../src/utp/index.js';
import { waitFor } from '../helpers/wait.js';
import { pattern } from './sim.js';

const LOCAL = { host: '127.0.0.1', port: 0 };
const transports: UtpTransport[] = [];
afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
});

function transport(o: ConstructorParameters<typeof UtpTransport>[0] = {}): UtpTransport {
  const t = new UtpTransport(o);
  transports.push(t);
  return t;
}

interface Sink {
  bytes: () => Buffer;
  length: () => number;
  closed: () => TransportError | undefined | null;
}

function sink(c: Connection): Sink {
  const got: Uint8Array[] = [];
  let n = 0;
  let closed: TransportError | undefined | null = null;
  c.attach({
    onData: (d) => {
      got.push(d.slice());
      n += d.length;
    },
    onDrain: () => {},
    onClose: (e) => {
      closed = e;
    },
  });
  return { bytes: () => Buffer.concat(got), length: () => n, closed: () => closed };
}

function send(c: Connection, data: Uint8Array, chunk = 65536): Promise<void> {
  return new Promise((resolve) => {
    let off = 0;
    const pump = () => {
      while (off < data.length) {
        const n = Math.min(chunk, data.length - off);
        const ok = c.write([data.subarray(off, off + n)]);
        off += n;
        if (!ok) return;
      }
      resolve();
    };
    c.attach({ onData: () => {}, onDrain: pump, onClose: () => resolve() });
    pump();
  });
}

async function connected(): Promise<{
  client: Connection;
  server: Connection;
  t1: UtpTransport;
  t2: UtpTransport;
}> {
  const t1 = transport();
  const t2 = transport();
  let server: Connection | undefined;
  const l = await t2.listen(LOCAL, (c) => {
    server = c;
  });
  const client = await t1.connect({ host: '127.0.0.1', port: l.address.port });
  await waitFor(() => server !== undefined, 5000, 'the incoming connection');
  return { client, server: server as Connection, t1, t2 };
}

describe('uTP over 127.0.0.1', () => {
  it('transfers 32 MiB one way and 4 MiB back, byte for byte', async () => {
    const { client, server } = await connected();
    const up = pattern(32 * 1024 * 1024, 11);
    const s = sink(server);
    await send(client, up);
    await waitFor(() => s.length() >= up.length || s.closed() !== null, 20_000, '32 MiB');
    expect(Buffer.compare(s.bytes(), up)).toBe(0);
    const down = pattern(4 * 1024 * 1024 + 3, 12);
    const s2 = sink(client);
    await send(server, down, 1000);
    await waitFor(() => s2.length() >= down.length, 20_000, '4 MiB back');
    expect(Buffer.compare(s2.bytes(), down)).toBe(0);
  });

  it('close sends queued data, then FIN: both ends close cleanly', async () => {
    const { client, server } = await connected();
    const data = pattern(300_000, 5);
    const s = sink(server);
    let clientClosed: TransportError | undefined | null = null;
    client.attach({ onData: () => {}, onDrain: () => {}, onClose: (e) => (clientClosed = e) });
    client.write([data]);
    client.close();
    await waitFor(() => s.closed() !== null && clientClosed !== null, 10_000, 'both ends to close');
    expect(s.closed()).toBeUndefined();
    expect(clientClosed).toBeUndefined();
    expect(Buffer.compare(s.bytes(), data)).toBe(0);
    expect(client.write([new Uint8Array(1)])).toBe(false);
  });

  it('destroy sends RESET: the other end closes with TRANSPORT_RESET', async () => {
    const { client, server } = await connected();
    const s = sink(server);
    client.destroy();
    await waitFor(() => s.closed() !== null, 5000, 'the reset');
    expect(s.closed()?.code).toBe('TRANSPORT_RESET');
  });

  it('a connect to a silent port rejects with TRANSPORT_CONNECT_FAILED within the timeout', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const port = silent.address().port;
    const t = transport({ connectTimeoutMs: 800 });
    const started = Date.now();
    const err = (await t.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e)) as TransportError;
    expect(err.code).toBe('TRANSPORT_CONNECT_FAILED');
    expect((err.cause as { code?: string }).code).toBe('UTP_CONNECT_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
    silent.close();
  });

  it('an aborted connect rejects with ABORTED', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const t = transport();
    const ac = new AbortController();
    const p = t.connect({ host: '127.0.0.1', port: silent.address().port }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const err = (await p.catch((e: unknown) => e)) as TransportError;
    expect(err.code).toBe('ABORTED');
    const pre = new AbortController();
    pre.abort();
    const err2 = (await t
      .connect({ host: '127.0.0.1', port: 9 }, { signal: pre.signal })
      .catch((e: unknown) => e)) as TransportError;
    expect(err2.code).toBe('ABORTED');
    silent.close();
  });

  it('dials from the listening socket when there is one', async () => {
    const t1 = transport();
    const t2 = transport();
    const l1 = await t1.listen(LOCAL, () => {});
    let remotePort = 0;
    const l2 = await t2.listen(LOCAL, (c) => {
      remotePort = c.remote.port;
    });
    await t1.connect({ host: '127.0.0.1', port: l2.address.port });
    await waitFor(() => remotePort !== 0, 5000, 'the incoming connection');
    expect(remotePort).toBe(l1.address.port);
  });
});
