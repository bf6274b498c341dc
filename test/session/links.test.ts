import { describe, expect, it } from 'vitest';
import { cryptoMethods, Dialer, type LinkHints, type StreamEncryption } from '../../src/session/links.js';
import { DEFAULT_SETTINGS, type Settings } from '../../src/session/settings.js';
import { BttkitError } from '../../src/util/errors.js';
import { ManualClock } from '../../src/util/index.js';
import {
  type Connection,
  createMemoryPair,
  type Endpoint,
  type Listener,
  type Transport,
  TransportError,
} from '../../src/util/transport.js';

/** A transport that records dials and either connects (to a silent in-memory end) or refuses. */
class FakeTransport implements Transport {
  dials: Endpoint[] = [];
  constructor(public works: boolean) {}
  async connect(to: Endpoint): Promise<Connection> {
    this.dials.push(to);
    if (!this.works) throw new TransportError('TRANSPORT_CONNECT_FAILED', 'refused');
    return createMemoryPair()[0];
  }
  async listen(): Promise<Listener> {
    throw new TransportError('TRANSPORT_LISTEN_FAILED', 'not here');
  }
}

/** MSE that succeeds with `method`, or fails as a peer without MSE would. */
function fakeMse(
  works: boolean,
  calls: { provide: readonly string[]; prefer: string | undefined }[],
): StreamEncryption {
  return {
    connect: async (conn, o) => {
      calls.push({ provide: o.provide, prefer: o.prefer });
      if (!works) {
        conn.destroy();
        throw new BttkitError('MSE_CLOSED', 'closed during the handshake');
      }
      return { connection: conn, method: o.prefer === 'rc4' ? 'rc4' : 'plaintext' };
    },
    accept: async () => {
      throw new BttkitError('MSE_CLOSED', 'not used');
    },
    req2Hash: () => new Uint8Array(20),
  } as StreamEncryption;
}

const addr = { host: '127.0.0.1', port: 6881 };
const ih = new Uint8Array(20).fill(1);

function dialer(
  over: Partial<Settings>,
  t: { tcp?: FakeTransport; utp?: FakeTransport },
  enc?: StreamEncryption,
): Dialer {
  return new Dialer(t, enc, { ...DEFAULT_SETTINGS, ...over }, new ManualClock());
}

describe('Dialer: the transport policy', () => {
  it('tries uTP first, falls back to TCP, and remembers that uTP failed', async () => {
    const tcp = new FakeTransport(true);
    const utp = new FakeTransport(false);
    const d = dialer({ encryption: 'disabled' }, { tcp, utp });
    const hints: LinkHints = {};
    const r = await d.dial(addr, ih, hints, new AbortController().signal);
    expect(r.link).toEqual({ transport: 'tcp', encryption: 'none' });
    expect([utp.dials.length, tcp.dials.length]).toEqual([1, 1]);
    expect(hints.utp).toBe(false);
    await d.dial(addr, ih, hints, new AbortController().signal);
    expect([utp.dials.length, tcp.dials.length]).toEqual([1, 2]);
  });

  it('uses uTP when it works, TCP untouched', async () => {
    const tcp = new FakeTransport(true);
    const utp = new FakeTransport(true);
    const r = await dialer({ encryption: 'disabled' }, { tcp, utp }).dial(
      addr,
      ih,
      {},
      new AbortController().signal,
    );
    expect(r.link.transport).toBe('utp');
    expect(tcp.dials).toHaveLength(0);
  });

  it('honours enableUtp / enableTcp', async () => {
    const tcp = new FakeTransport(true);
    const utp = new FakeTransport(true);
    expect(dialer({ enableUtp: false }, { tcp, utp }).order({})).toEqual(['tcp']);
    expect(dialer({ enableTcp: false }, { tcp, utp }).order({})).toEqual(['utp']);
    // Known not to speak uTP, but uTP is all there is: it is still tried.
    expect(dialer({ enableTcp: false }, { tcp, utp }).order({ utp: false })).toEqual(['utp']);
    expect(dialer({}, { tcp }).order({})).toEqual(['tcp']);
    const none = dialer({ enableUtp: false }, { utp });
    await expect(none.dial(addr, ih, {}, new AbortController().signal)).rejects.toMatchObject({
      code: 'SESSION_NO_TRANSPORT',
    });
  });

  it('fails with SESSION_CONNECT_FAILED when every transport fails', async () => {
    const d = dialer(
      { encryption: 'disabled' },
      { tcp: new FakeTransport(false), utp: new FakeTransport(false) },
    );
    const err = await d.dial(addr, ih, {}, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SESSION_CONNECT_FAILED' });
    expect((err as Error).cause).toBeInstanceOf(TransportError);
  });
});

describe('Dialer: the encryption policy', () => {
  it('enabled: MSE offering both, plaintext preferred; RC4 preferred with preferRc4', async () => {
    const calls: { provide: readonly string[]; prefer: string | undefined }[] = [];
    const tcp = new FakeTransport(true);
    const r = await dialer({ enableUtp: false }, { tcp }, fakeMse(true, calls)).dial(
      addr,
      ih,
      {},
      new AbortController().signal,
    );
    expect(r.link).toEqual({ transport: 'tcp', encryption: 'plaintext' });
    expect(calls[0]).toEqual({ provide: ['plaintext', 'rc4'], prefer: 'plaintext' });
    const r2 = await dialer({ enableUtp: false, preferRc4: true }, { tcp }, fakeMse(true, calls)).dial(
      addr,
      ih,
      {},
      new AbortController().signal,
    );
    expect(r2.link.encryption).toBe('rc4');
  });

  it('enabled: a peer without MSE gets a plaintext retry, remembered', async () => {
    const calls: { provide: readonly string[]; prefer: string | undefined }[] = [];
    const tcp = new FakeTransport(true);
    const d = dialer({ enableUtp: false }, { tcp }, fakeMse(false, calls));
    const hints: LinkHints = {};
    const r = await d.dial(addr, ih, hints, new AbortController().signal);
    expect(r.link).toEqual({ transport: 'tcp', encryption: 'none' });
    expect(tcp.dials).toHaveLength(2);
    expect(hints.encryption).toBe(false);
    await d.dial(addr, ih, hints, new AbortController().signal);
    expect(calls).toHaveLength(1);
  });

  it('forced: RC4 only, and no plaintext retry', async () => {
    const calls: { provide: readonly string[]; prefer: string | undefined }[] = [];
    const tcp = new FakeTransport(true);
    const d = dialer({ enableUtp: false, encryption: 'forced' }, { tcp }, fakeMse(false, calls));
    const hints: LinkHints = { encryption: false };
    await expect(d.dial(addr, ih, hints, new AbortController().signal)).rejects.toMatchObject({
      code: 'SESSION_CONNECT_FAILED',
    });
    expect(calls).toEqual([{ provide: ['rc4'], prefer: 'rc4' }]);
    expect(tcp.dials).toHaveLength(1);
  });

  it('disabled: no MSE at all', async () => {
    const calls: { provide: readonly string[]; prefer: string | undefined }[] = [];
    const r = await dialer(
      { enableUtp: false, encryption: 'disabled' },
      { tcp: new FakeTransport(true) },
      fakeMse(true, calls),
    ).dial(addr, ih, {}, new AbortController().signal);
    expect(r.link.encryption).toBe('none');
    expect(calls).toHaveLength(0);
  });

  it('offers what each policy allows', () => {
    expect(cryptoMethods('forced')).toEqual(['rc4']);
    expect(cryptoMethods('enabled')).toEqual(['plaintext', 'rc4']);
  });
});

describe('PeerBook: what sources say of a peer', () => {
  it('keeps link hints per address; PEX flags raise them, failures lower them', async () => {
    const { PeerBook } = await import('../../src/session/peer-book.js');
    const book = new PeerBook(new ManualClock(), DEFAULT_SETTINGS, new Uint8Array(20));
    const id = book.add({ host: '10.0.0.1', port: 1 });
    expect(id).toBe('10.0.0.1:1');
    const h = book.hints('10.0.0.1:1');
    expect(h).toEqual({});
    h.utp = false; // a failed uTP dial
    expect(book.add({ host: '10.0.0.1', port: 1 }, { utp: true, encryption: true })).toBeUndefined();
    expect(book.hints('10.0.0.1:1')).toEqual({ utp: true, encryption: true });
    book.add({ host: '10.0.0.2', port: 2 }, { utp: true });
    expect(book.hints('10.0.0.2:2')).toEqual({ utp: true });
    expect(book.hints('10.9.9.9:9')).toEqual({});
  });
});
