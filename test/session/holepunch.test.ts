/**
 * Hole punching (BEP 55) in the session, on a ManualClock with fake wires and a fake dialer: the
 * relay's answers and rate limit, the initiator's rendezvous after a failed dial of a peer learned
 * through PEX, `connect` → an immediate uTP dial (and the endpoints refused), the PEX flags, and
 * the peer book keeping one of the two connections of a uTP simultaneous open on both sides.
 */
import { describe, expect, it } from 'vitest';
import type { PeerAddress } from '../../src/metainfo/magnet.js';
import { Holepunch, refusedEndpoint } from '../../src/session/holepunch.js';
import type { LinkHints } from '../../src/session/links.js';
import { NO_LINK } from '../../src/session/links.js';
import { PeerConn } from '../../src/session/peer.js';
import { PeerBook } from '../../src/session/peer-book.js';
import { PexGossip } from '../../src/session/pex.js';
import type { TorrentCore } from '../../src/session/torrent-types.js';
import { ManualClock } from '../../src/util/index.js';
import type { WireError } from '../../src/wire/errors.js';
import type { ExtensionContext, ExtensionFactory, WireExtension } from '../../src/wire/extension.js';
import {
  decodeHolepunch,
  encodeHolepunch,
  encodePex,
  type HolepunchMessage,
  PexFlags,
  type PexMessage,
  UtPexExtension,
} from '../../src/wire/index.js';
import type { PeerWire } from '../../src/wire/peer-wire.js';
import { fakePeer, testSettings } from './fakes.js';

const SELF = new Uint8Array(20).fill(7);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A wire that runs real extensions: records what they send, and lets the test play the peer. */
class ExtWire {
  closed = false;
  readonly sent: HolepunchMessage[] = [];
  readonly peerNames = new Set<string>();
  readonly exts = new Map<string, WireExtension>();
  peerExtendedHandshake: { port?: number } | undefined;
  readonly #close: ((e: WireError | undefined) => void)[] = [];
  constructor(
    readonly remote: { host: string; port: number },
    speaks: string[],
  ) {
    for (const n of speaks) this.peerNames.add(n);
  }
  use<X extends WireExtension>(factory: ExtensionFactory<X>): X {
    let name = '';
    const ctx: ExtensionContext = {
      get name() {
        return name;
      },
      clock: new ManualClock(),
      peerSupports: false,
      send: (payload) => this.sent.push(decodeHolepunch(payload)),
      drop: () => {},
    };
    const names = this.peerNames;
    Object.defineProperty(ctx, 'peerSupports', { get: () => names.has(name) });
    const ext = factory(ctx);
    name = ext.name;
    this.exts.set(name, ext);
    return ext;
  }
  peerSupports(name: string): boolean {
    return this.peerNames.has(name);
  }
  /** Plays the peer sending a ut_holepunch message. */
  receive(m: HolepunchMessage): void {
    this.exts.get('ut_holepunch')?.onMessage(encodeHolepunch(m));
  }
  once(_e: 'close', fn: (e: WireError | undefined) => void): this {
    this.#close.push(fn);
    return this;
  }
  close(): void {
    this.closed = true;
    for (const fn of this.#close.splice(0)) fn(undefined);
  }
}

interface Setup {
  clock: ManualClock;
  book: PeerBook;
  hp: Holepunch;
  dials: { addr: PeerAddress; hints: LinkHints }[];
  peers: PeerConn[];
  /** A connected peer: `id` as `host:port`; `listen`: the `p` of an incoming peer. */
  connect(
    id: string,
    opts?: { incoming?: boolean; listen?: number; speaks?: string[] },
  ): PeerConn & { ew: ExtWire };
}

function setup(opts: { private?: boolean; local?: string[]; listenPort?: number } = {}): Setup {
  const clock = new ManualClock();
  const settings = testSettings({ reconnectBackoffMs: 5000 });
  const book = new PeerBook(clock, settings, SELF);
  const dials: { addr: PeerAddress; hints: LinkHints }[] = [];
  const peers: PeerConn[] = [];
  const core = {
    infoHash: new Uint8Array(20),
    infoHashHex: '00'.repeat(20),
    peerId: SELF,
    clock,
    settings,
    book,
    dialer: {
      dial: (addr: PeerAddress, _h: Uint8Array, hints: LinkHints) => {
        dials.push({ addr, hints: { ...hints } });
        return Promise.reject(new Error('unreachable'));
      },
    },
    listenPort: () => opts.listenPort ?? 6881,
    info: () => undefined,
    speaksV2: () => false,
    infoHashV2: () => undefined,
    canConnect: () => true,
    connectionOpened: () => {},
    connectionClosed: () => {},
    idle: () => false,
    isPrivate: () => opts.private === true,
    attach: () => {},
    warn: () => {},
    wantsWarnings: () => false,
    peers: () => peers.values(),
  } as unknown as TorrentCore;
  const hp = new Holepunch(core, { localAddresses: () => opts.local ?? ['192.0.2.99'] });
  const connect: Setup['connect'] = (id, o = {}) => {
    const [host = '', port = '0'] = id.split(':');
    const ew = new ExtWire({ host, port: Number(port) }, o.speaks ?? ['ut_holepunch', 'ut_pex']);
    if (o.listen !== undefined) ew.peerExtendedHandshake = { port: o.listen };
    const peer = new PeerConn(id, ew as unknown as PeerWire, o.incoming ?? false, clock, 4, NO_LINK);
    peer.pex = ew.use((ctx) => new UtPexExtension(ctx));
    hp.attach(peer);
    peers.push(peer);
    book.admit(peer, undefined);
    return Object.assign(peer, { ew });
  };
  return { clock, book, hp, dials, peers, connect };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('Holepunch as relay', () => {
  it('introduces two connected peers to each other by their listen addresses', () => {
    const s = setup();
    // A dialled us from a NATed ephemeral port and told its listen port; B we dialled.
    const a = s.connect('203.0.113.1:40000', { incoming: true, listen: 6881 });
    const b = s.connect('203.0.113.2:6882');
    a.ew.receive({ type: 'rendezvous', endpoint: { host: '203.0.113.2', port: 6882 }, error: 0 });
    expect(b.ew.sent).toEqual([{ type: 'connect', endpoint: { host: '203.0.113.1', port: 6881 }, error: 0 }]);
    expect(a.ew.sent).toEqual([{ type: 'connect', endpoint: { host: '203.0.113.2', port: 6882 }, error: 0 }]);
    expect(s.hp.stats.connectsRelayed).toBe(2);
    // B asks back for A, by A's listen address.
    b.ew.receive({ type: 'rendezvous', endpoint: { host: '203.0.113.1', port: 6881 }, error: 0 });
    expect(a.ew.sent[1]?.endpoint).toEqual({ host: '203.0.113.2', port: 6882 });
  });

  it('answers NotConnected, NoSelf, NoSupport, NoSuchPeer with the endpoint asked for', () => {
    const s = setup();
    const a = s.connect('203.0.113.1:6881');
    s.connect('203.0.113.3:6881', { speaks: ['ut_pex'] });
    const ask = (host: string, port: number) => {
      a.ew.receive({ type: 'rendezvous', endpoint: { host, port }, error: 0 });
      return a.ew.sent.at(-1);
    };
    expect(ask('203.0.113.9', 1)).toEqual({
      type: 'error',
      endpoint: { host: '203.0.113.9', port: 1 },
      error: 2,
    });
    expect(ask('203.0.113.1', 6881)?.error).toBe(4);
    expect(ask('203.0.113.3', 6881)?.error).toBe(3);
    expect(ask('224.0.0.1', 6771)?.error).toBe(1);
    expect(ask('0.0.0.0', 1)?.error).toBe(1);
    expect(ask('127.0.0.1', 1)?.error).toBe(1); // loopback, from a peer not on loopback
    expect(s.hp.stats.errorsSent).toEqual({ 1: 3, 2: 1, 3: 1, 4: 1 });
  });

  it('rate-limits each peer’s rendezvous requests to 20 a minute', () => {
    const s = setup();
    const a = s.connect('203.0.113.1:6881');
    for (let i = 0; i < 30; i++)
      a.ew.receive({ type: 'rendezvous', endpoint: { host: '203.0.113.9', port: 1 }, error: 0 });
    expect(a.ew.sent.length).toBe(20);
    expect(s.hp.stats.ignored).toBe(10);
    s.clock.advance(60_000);
    a.ew.receive({ type: 'rendezvous', endpoint: { host: '203.0.113.9', port: 1 }, error: 0 });
    expect(a.ew.sent.length).toBe(21);
  });

  it('registers nothing for a private torrent', () => {
    const s = setup({ private: true });
    const a = s.connect('203.0.113.1:6881');
    expect(a.ew.exts.has('ut_holepunch')).toBe(false);
  });
});

describe('Holepunch as initiator and target', () => {
  const pex = (peers: { host: string; port: number; flags: number }[]): PexMessage => ({
    added: peers,
    dropped: [],
  });

  it('asks the peer that told us of an address to introduce us once dialling it failed', () => {
    const s = setup();
    const relay = s.connect('203.0.113.10:6881');
    const target = { host: '203.0.113.1', port: 6881 };
    (relay.pex as UtPexExtension).onMessage(
      encodePex(
        pex([
          { ...target, flags: PexFlags.holepunch | PexFlags.utp },
          { host: '203.0.113.5', port: 1, flags: PexFlags.reachable }, // reachable, no holepunch: never asked
        ]),
      ),
    );
    const id = s.book.add(target) ?? '';
    s.book.add({ host: '203.0.113.5', port: 1 });
    s.hp.tick();
    expect(relay.ew.sent).toEqual([]); // not dialled yet
    s.book.failed(id);
    s.book.failed('203.0.113.5:1');
    s.hp.tick();
    expect(relay.ew.sent).toEqual([{ type: 'rendezvous', endpoint: target, error: 0 }]);
    s.hp.tick();
    s.clock.advance(30_000);
    s.hp.tick();
    expect(relay.ew.sent.length).toBe(1); // once a minute per candidate
    s.clock.advance(30_000);
    s.hp.tick();
    expect(relay.ew.sent.length).toBe(2);
    s.clock.advance(60_000);
    s.hp.tick();
    expect(relay.ew.sent.length).toBe(2); // two attempts, then given up
    expect(s.hp.stats.rendezvousSent).toBe(2);
  });

  it('asks a source that speaks ut_holepunch, whoever else told us of the address', () => {
    const s = setup();
    const relay = s.connect('203.0.113.10:6881');
    const other = s.connect('203.0.113.11:6881', { speaks: ['ut_pex'] });
    const target = { host: '203.0.113.1', port: 6881 };
    (relay.pex as UtPexExtension).onMessage(encodePex(pex([{ ...target, flags: PexFlags.holepunch }])));
    (other.pex as UtPexExtension).onMessage(encodePex(pex([{ ...target, flags: PexFlags.holepunch }])));
    const id = s.book.add(target) ?? '';
    s.book.failed(id);
    s.hp.tick();
    expect(relay.ew.sent).toEqual([{ type: 'rendezvous', endpoint: target, error: 0 }]);
    expect(other.ew.sent).toEqual([]);
  });

  it('an error from the relay ends the attempts for that address', () => {
    const s = setup();
    const relay = s.connect('203.0.113.10:6881');
    const target = { host: '203.0.113.1', port: 6881 };
    (relay.pex as UtPexExtension).onMessage(encodePex(pex([{ ...target, flags: PexFlags.holepunch }])));
    const id = s.book.add(target) ?? '';
    s.book.failed(id);
    s.hp.tick();
    relay.ew.receive({ type: 'error', endpoint: target, error: 2 });
    s.clock.advance(120_000);
    s.hp.tick();
    expect(relay.ew.sent.length).toBe(1);
    expect(s.hp.stats.errorsReceived).toEqual({ 2: 1 });
  });

  it('on connect: dials the endpoint at once over uTP, whatever the back-off', async () => {
    const s = setup();
    const relay = s.connect('203.0.113.10:6881');
    const id = s.book.add({ host: '203.0.113.1', port: 6881 }, { utp: false }) ?? '';
    s.book.failed(id);
    s.book.failed(id);
    expect(s.book.dialTarget(id)).toBeUndefined(); // backing off
    relay.ew.receive({ type: 'connect', endpoint: { host: '203.0.113.1', port: 6881 }, error: 0 });
    await flush();
    expect(s.dials).toEqual([{ addr: { host: '203.0.113.1', port: 6881 }, hints: { utp: true } }]);
    expect(s.hp.stats.punches).toBe(1);
    // An endpoint never heard of is learned and dialled too.
    relay.ew.receive({ type: 'connect', endpoint: { host: '203.0.113.2', port: 7000 }, error: 0 });
    await flush();
    expect(s.dials[1]?.addr).toEqual({ host: '203.0.113.2', port: 7000 });
  });

  it('refuses nonsense endpoints and bounds the connects it acts on', async () => {
    const s = setup({ local: ['10.77.1.10'], listenPort: 6881 });
    const relay = s.connect('203.0.113.10:6881');
    s.connect('203.0.113.4:6881');
    const c = (host: string, port: number) =>
      relay.ew.receive({ type: 'connect', endpoint: { host, port }, error: 0 });
    c('224.1.2.3', 6881); // multicast
    c('255.255.255.255', 6881); // broadcast
    c('0.0.0.0', 6881);
    c('127.0.0.1', 6881); // loopback from a relay that is not
    c('ff02::1', 6881);
    c('203.0.113.10', 6881); // the relay itself
    c('10.77.1.10', 6881); // ourselves
    c('203.0.113.4', 6881); // already connected
    s.book.ban('203.0.113.66', 'test');
    c('203.0.113.66', 6881);
    await flush();
    expect(s.dials).toEqual([]);
    expect(s.hp.stats.ignored).toBe(9);
    for (let i = 1; i <= 30; i++) c('203.0.113.20', 1000 + i);
    await flush();
    expect(s.dials.length).toBe(20);
    s.clock.advance(60_000);
    c('203.0.113.21', 1);
    await flush();
    expect(s.dials.length).toBe(21);
  });

  it('refusedEndpoint: loopback only from a loopback relay', () => {
    expect(refusedEndpoint({ host: '127.0.0.1', port: 1 }, true)).toBeUndefined();
    expect(refusedEndpoint({ host: '::1', port: 1 }, false)).toBe('loopback address');
    expect(refusedEndpoint({ host: 'example.com', port: 1 }, true)).toBe('not an IP address');
    expect(refusedEndpoint({ host: '10.0.0.1', port: 0 }, true)).toBe('bad port');
    expect(refusedEndpoint({ host: '2001:db8::1', port: 1 }, false)).toBeUndefined();
  });
});

describe('PEX flags and simultaneous open', () => {
  it('PEX says 0x08 for a peer that speaks ut_holepunch and 0x10 for one we reached', () => {
    const clock = new ManualClock();
    const gossip = new PexGossip(clock, () => false);
    const peers = new Map<string, PeerConn>();
    const mk = (id: string, incoming: boolean, speaks: string[], listen?: number) => {
      const [host = '', port = '0'] = id.split(':');
      const ew = new ExtWire({ host, port: Number(port) }, speaks);
      if (listen !== undefined) ew.peerExtendedHandshake = { port: listen };
      const p = new PeerConn(id, ew as unknown as PeerWire, incoming, clock, 4, NO_LINK);
      p.pex = ew.use((ctx) => new UtPexExtension(ctx));
      peers.set(id, p);
      return { p, ew };
    };
    mk('203.0.113.1:6881', false, ['ut_holepunch', 'ut_pex']);
    mk('203.0.113.2:5000', true, ['ut_pex'], 6882);
    const target = mk('203.0.113.3:6881', false, ['ut_pex']);
    const sent: PexMessage[] = [];
    (target.p.pex as UtPexExtension).send = (m: PexMessage) => {
      sent.push(m);
      return true;
    };
    Object.defineProperty(target.p.pex, 'active', { get: () => true });
    gossip.send(target.p, peers);
    const flags = new Map(sent[0]?.added.map((a) => [`${a.host}:${a.port}`, a.flags]));
    expect(flags.get('203.0.113.1:6881')).toBe(PexFlags.holepunch | PexFlags.reachable);
    expect(flags.get('203.0.113.2:6882')).toBe(0);
  });

  it('both sides keep the same one of the two uTP connections a hole punch opens', () => {
    // Over uTP both connections of a simultaneous open have the same address id on each side.
    const ID_A = new Uint8Array(20).fill(1);
    const ID_B = new Uint8Array(20).fill(2);
    for (const order of ['out-first', 'in-first'] as const)
      for (const side of [ID_A, ID_B]) {
        const clock = new ManualClock();
        const book = new PeerBook(clock, testSettings(), side);
        const remote = side === ID_A ? ID_B : ID_A;
        const id = side === ID_A ? '203.0.113.2:6881' : '203.0.113.1:6881';
        const out = fakePeer(clock, id);
        const inc = fakePeer(clock, id, { incoming: true });
        const [first, second] = order === 'out-first' ? [out, inc] : [inc, out];
        expect(book.admit(first, hex(remote))).toBe(true);
        book.admit(second, hex(remote));
        // A has the lower id: the connection A dialled survives (A's outgoing, B's incoming).
        const kept = side === ID_A ? out : inc;
        const lost = kept === out ? inc : out;
        expect(kept.fake.closed, `${order} on ${side[0]}`).toBe(false);
        expect(lost.fake.closeError?.code).toBe('WIRE_DUPLICATE_CONNECTION');
        expect(book.connected.get(id)).toBe(kept);
        expect(book.isConnected(id)).toBe(true);
      }
  });
});
