/**
 * IPv6 in the session without a network: PEX `added6` between bttkit clients whose addresses are
 * IPv6 (an in-memory network that gives every client its own address), the peer book's
 * normalisation and `enableIpv6`, the dual-stack defaults — and, on real sockets, a `::` listener
 * (TCP and uTP) reached over 127.0.0.1 reporting the IPv4 peer as IPv4. The IPv6-only network
 * itself is tested in the lab (test/interop/ipv6-lab.test.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { defaultListenHost, dhtHost, isNoIpv6Error } from '../../src/session/dual-stack.js';
import { Client, DEFAULT_SETTINGS } from '../../src/session/index.js';
import { PeerBook } from '../../src/session/peer-book.js';
import { toHex } from '../../src/util/bytes.js';
import { ManualClock } from '../../src/util/clock.js';
import {
  type Connection,
  createMemoryPair,
  type Endpoint,
  type Listener,
  TcpTransport,
  type Transport,
  TransportError,
} from '../../src/util/transport.js';
import { UtpTransport } from '../../src/utp/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-ipv6-');
const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  tmp.cleanup();
});

/** An in-memory network where each client has its own address, seen as such by both ends. */
class AddressedNet {
  readonly #listeners = new Map<string, (c: Connection) => void>();
  #port = 20000;

  transport(host: string): Transport {
    return {
      connect: async (to: Endpoint): Promise<Connection> => {
        const accept = this.#listeners.get(`${to.host}|${to.port}`);
        if (!accept)
          throw new TransportError('TRANSPORT_CONNECT_FAILED', `nothing listens on [${to.host}]:${to.port}`);
        const [mine, theirs] = createMemoryPair({ host, port: this.#port++ }, { ...to });
        accept(theirs);
        return mine;
      },
      listen: async (on: Endpoint, onConnection: (c: Connection) => void): Promise<Listener> => {
        const port = on.port === 0 ? this.#port++ : on.port;
        const key = `${host}|${port}`;
        this.#listeners.set(key, onConnection);
        return { address: { host, port }, close: async () => void this.#listeners.delete(key) };
      },
    };
  }
}

describe('PEX over IPv6 (added6), both ways', () => {
  let torrent: Uint8Array;
  let data: Uint8Array;
  const src = join(tmp.path, 'seed');

  beforeAll(async () => {
    mkdirSync(src, { recursive: true });
    data = pseudoRandomBytes(600_000, 61);
    writeFileSync(join(src, 'f.bin'), data);
    ({ torrent } = await createTorrent(join(src, 'f.bin'), { pieceLength: 32768 }));
  });

  /** Seeder at 2001:db8:1::a; the third peer and the leecher on IPv6, or (`v4`) on IPv4 addresses. */
  async function trio(leecherIpv6: boolean, v4 = false) {
    const net = new AddressedNet();
    const mk = (host: string, settings = {}) => {
      const c = new Client({ transport: net.transport(host), settings });
      clients.push(c);
      return c;
    };
    // The seeder uploads slowly, so the third peer is still there when the leecher arrives.
    const seeder = mk('2001:db8:1::a', { uploadRateLimit: 200_000 });
    const seedAddr = await seeder.listen(0, '2001:db8:1::a');
    const st = seeder.add(torrent, { path: src });
    await new Promise<void>((r) => st.once('ready', r));
    const thirdHost = v4 ? '192.0.2.2' : '2001:db8:1::b';
    const third = mk(thirdHost);
    const thirdAddr = await third.listen(0, thirdHost);
    // Spelt the long way: the book takes it in canonical form.
    const tt = third.add(torrent, { peers: [{ host: '2001:db8:1:0:0:0:0:a', port: seedAddr.port }] });
    await new Promise<void>((r) => tt.once('peer', () => r()));
    const leecherHost = v4 ? '192.0.2.3' : '2001:db8:1::c';
    const leecher = mk(leecherHost, { enableIpv6: leecherIpv6 });
    await leecher.listen(0, leecherHost);
    return { seeder, st, third, thirdAddr, leecher };
  }

  it('a leecher told only of the third peer learns the seeder from added6, and the seeder learns the leecher', async () => {
    const { seeder, st, thirdAddr, leecher } = await trio(true);
    const seederSees = new Set<string>();
    st.on('peer', (p) => seederSees.add(`${p.peerId}@${p.host}`));
    const dir = join(tmp.path, 'leech6');
    const t = leecher.add(torrent, { path: dir, peers: [thirdAddr] });
    const seen = new Map<string, string>();
    t.on('peer', (p) => seen.set(p.peerId ?? '', p.host));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('download did not finish')), 60_000);
      t.once('done', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await t.store?.flush();
    expect(Buffer.compare(readFileSync(join(dir, 'f.bin')), Buffer.from(data))).toBe(0);
    // Neither knew the other but through the third peer's PEX (added6); whichever dialled first
    // (both learn the other), each sees the other's IPv6 address.
    expect(seen.get(toHex(seeder.peerId))).toBe('2001:db8:1::a');
    expect(seederSees.has(`${toHex(leecher.peerId)}@2001:db8:1::c`)).toBe(true);
  }, 90_000);

  it('with enableIpv6 off the leecher ignores added6: it never dials the seeder', async () => {
    // The leecher and the third peer speak IPv4 to each other; the seeder is IPv6 only.
    const { seeder, third, thirdAddr, leecher } = await trio(false, true);
    const t = leecher.add(torrent, { path: join(tmp.path, 'leech4'), peers: [thirdAddr] });
    const seen: { peerId: string; incoming: boolean }[] = [];
    t.on('peer', (p) => seen.push({ peerId: p.peerId ?? '', incoming: p.incoming }));
    // PEX goes out half a second after the extended handshake; give it a few.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(seen.some((p) => p.peerId === toHex(third.peerId))).toBe(true);
    // (The seeder learns the leecher's IPv4 address from the third peer and may dial it: fine.)
    expect(seen.filter((p) => p.peerId === toHex(seeder.peerId) && !p.incoming)).toEqual([]);
  }, 30_000);
});

describe('the peer book and the dual-stack defaults', () => {
  it('one entry per address whatever its spelling; a mapped IPv4 address is the IPv4 peer', () => {
    const book = new PeerBook(new ManualClock(), DEFAULT_SETTINGS, new Uint8Array(20));
    expect(book.add({ host: '2001:DB8::1', port: 6881 })).toBe('[2001:db8::1]:6881');
    expect(book.add({ host: '2001:db8:0:0:0:0:0:1', port: 6881 })).toBeUndefined();
    expect(book.add({ host: '[2001:db8::1]', port: 6881 })).toBeUndefined();
    expect(book.add({ host: '192.0.2.1', port: 6881 })).toBe('192.0.2.1:6881');
    expect(book.add({ host: '::ffff:192.0.2.1', port: 6881 })).toBeUndefined();
    expect(book.hostOf('[2001:db8::9]:1')).toBe('2001:db8::9');
    const off = new PeerBook(
      new ManualClock(),
      { ...DEFAULT_SETTINGS, enableIpv6: false },
      new Uint8Array(20),
    );
    expect(off.add({ host: '2001:db8::1', port: 6881 })).toBeUndefined();
    expect(off.add({ host: '::ffff:192.0.2.1', port: 6881 })).toBe('192.0.2.1:6881');
  });

  it('listens on :: by default, 0.0.0.0 with IPv6 off; the DHT stays on IPv4', () => {
    expect(defaultListenHost(DEFAULT_SETTINGS)).toBe('::');
    expect(defaultListenHost({ enableIpv6: false })).toBe('0.0.0.0');
    expect(dhtHost(undefined)).toBe('0.0.0.0');
    expect(dhtHost('::')).toBe('0.0.0.0');
    expect(dhtHost('2001:db8:1::10')).toBe('0.0.0.0');
    expect(dhtHost('::1')).toBe('127.0.0.1');
    expect(dhtHost('127.0.0.1')).toBe('127.0.0.1');
  });

  it('falls back to IPv4 only for "no IPv6" errors, not for a port in use', () => {
    const wrap = (code: string) =>
      new TransportError('TRANSPORT_LISTEN_FAILED', 'x', { cause: Object.assign(new Error(code), { code }) });
    expect(isNoIpv6Error(wrap('EAFNOSUPPORT'))).toBe(true);
    expect(isNoIpv6Error(wrap('EADDRNOTAVAIL'))).toBe(true);
    expect(isNoIpv6Error(wrap('EADDRINUSE'))).toBe(false);
    expect(isNoIpv6Error('EAFNOSUPPORT')).toBe(false);
  });
});

describe('a dual-stack (::) listener reached over 127.0.0.1', () => {
  it('TCP: both ends see plain IPv4, not ::ffff:127.0.0.1', async () => {
    const tcp = new TcpTransport();
    let accepted: Connection | undefined;
    const l = await tcp.listen({ host: '::', port: 0 }, (c) => {
      accepted = c;
    });
    try {
      const c = await tcp.connect({ host: '127.0.0.1', port: l.address.port });
      await new Promise((r) => setTimeout(r, 50));
      expect(accepted?.remote).toEqual({ host: '127.0.0.1', port: c.local.port });
      expect(accepted?.local.host).toBe('127.0.0.1');
      c.destroy();
      accepted?.destroy();
    } finally {
      await l.close();
    }
  });

  it('uTP: the :: socket is dual-stack, accepts an IPv4 peer as IPv4 and dials IPv4 from its port', async () => {
    const dual = new UtpTransport();
    const v4 = new UtpTransport();
    const fromV4: Connection[] = [];
    const fromDual: Connection[] = [];
    try {
      const ld = await dual.listen({ host: '::', port: 0 }, (c) => fromV4.push(c));
      const l4 = await v4.listen({ host: '127.0.0.1', port: 0 }, (c) => fromDual.push(c));
      expect((await dual.sockets())[0]?.dualStack).toBe(true);
      const out = await v4.connect({ host: '127.0.0.1', port: ld.address.port });
      out.write([new Uint8Array([1])]);
      const back = await dual.connect({ host: '127.0.0.1', port: l4.address.port });
      back.write([new Uint8Array([2])]);
      const deadline = Date.now() + 5_000;
      while ((fromV4.length === 0 || fromDual.length === 0) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(fromV4[0]?.remote).toEqual({ host: '127.0.0.1', port: l4.address.port });
      // Dialled from the listening socket (not an ephemeral udp4 one): the peer sees our port.
      expect(fromDual[0]?.remote).toEqual({ host: '127.0.0.1', port: ld.address.port });
      expect((await dual.sockets()).length).toBe(1);
    } finally {
      await dual.close();
      await v4.close();
    }
  });
});
