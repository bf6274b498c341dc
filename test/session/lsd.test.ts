/**
 * The session's local service discovery (BEP 14): which torrents a client announces (running,
 * checked or still without metadata, never private), where the peers heard go, and that it never
 * runs for a client on loopback — with a fake socket: no multicast leaves the test.
 */
import { describe, expect, it, vi } from 'vitest';
import type { PeerAddress } from '../../src/metainfo/magnet.js';
import {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  type LsdOpen,
  type LsdSocketHandlers,
} from '../../src/net/index.js';
import { ClientLsd } from '../../src/session/lsd.js';
import type { TorrentCore } from '../../src/session/torrent-types.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { ManualClock } from '../../src/util/clock.js';

const opened = vi.hoisted(() => ({ count: 0 }));
// Every LSD socket of this file is a fake, and every host would have a LAN interface: only the
// loopback rule can keep a client on 127.0.0.1 from opening one.
vi.mock('../../src/net/lsd-socket.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/net/lsd-socket.js')>();
  return {
    ...real,
    lsdInterfacesFor: () => ({ v4: ['10.77.1.10'], v6: [] }),
    openLsdSocket: async (family: 4 | 6, interfaces: readonly string[]) => {
      opened.count++;
      return { family, interfaces, send: () => {}, close: () => {} };
    },
  };
});

const hash = (i: number) => fromHex(i.toString(16).padStart(40, 'e'));

function fakeNet() {
  const sent: string[][] = [];
  const handlers: LsdSocketHandlers[] = [];
  const open: LsdOpen = async (family, interfaces, _o, h) => {
    handlers.push(h);
    return {
      family,
      interfaces,
      send: (d) => sent.push(decodeLsdAnnounce(d).infoHashes.map(toHex)),
      close: () => {},
    };
  };
  return {
    open,
    sent,
    deliver: (d: Uint8Array, from: string) => {
      for (const h of handlers) h.message(d, from);
    },
  };
}

interface FakeTorrent {
  core: TorrentCore;
  peers: PeerAddress[];
  state: { private: boolean; checked: boolean; metadata: boolean; paused: boolean; destroyed: boolean };
}

function torrent(i: number, v2?: Uint8Array): FakeTorrent {
  const peers: PeerAddress[] = [];
  const state = { private: false, checked: true, metadata: true, paused: false, destroyed: false };
  const core = {
    infoHash: hash(i),
    infoHashHex: toHex(hash(i)),
    infoHashV2: () => v2,
    isPrivate: () => state.private,
    downloader: () => (state.checked ? {} : undefined),
    info: () => (state.metadata ? {} : undefined),
    stopped: () => state.destroyed,
    idle: () => state.paused || state.destroyed,
    addPeer: (p: PeerAddress) => peers.push(p),
  } as unknown as TorrentCore;
  return { core, peers, state };
}

async function started(host = '0.0.0.0') {
  const clock = new ManualClock();
  const net = fakeNet();
  const warnings: unknown[] = [];
  const lsd = new ClientLsd(
    { clock, warn: (e) => warnings.push(e) },
    { interfaces: () => ({ v4: ['10.77.1.10'], v6: [] }), service: { open: net.open, startDelayMs: 0 } },
  );
  // The suite runs with BTTKIT_LOCAL_NETWORK=off; these sockets are fakes, so it is turned on here.
  const env = process.env.BTTKIT_LOCAL_NETWORK;
  process.env.BTTKIT_LOCAL_NETWORK = 'on';
  try {
    await lsd.start(host, 6881);
  } finally {
    if (env === undefined) delete process.env.BTTKIT_LOCAL_NETWORK;
    else process.env.BTTKIT_LOCAL_NETWORK = env;
  }
  return { lsd, clock, net, warnings };
}

describe('ClientLsd', () => {
  it('announces a running torrent and hands the peers heard for it to the torrent', async () => {
    const { lsd, clock, net } = await started();
    const t = torrent(1);
    const f = lsd.feature(t.core);
    f.tick?.();
    clock.advance(0);
    expect(net.sent).toEqual([[toHex(hash(1))]]);
    net.deliver(
      encodeLsdAnnounce({ port: 51413, infoHashes: [hash(1), hash(2)], cookie: 'lt' }),
      '10.77.1.20',
    );
    expect(t.peers).toEqual([{ host: '10.77.1.20', port: 51413 }]);
    // Paused: not announced, peers not taken.
    t.state.paused = true;
    clock.advance(6 * 60_000);
    expect(net.sent).toHaveLength(1);
    net.deliver(encodeLsdAnnounce({ port: 51414, infoHashes: [hash(1)] }), '10.77.1.21');
    expect(t.peers).toHaveLength(1);
    // Destroyed: gone from the service.
    f.close?.();
    expect(lsd.service?.has(hash(1))).toBe(false);
    lsd.close();
  });

  it('never announces a private torrent, nor takes LSD peers for it', async () => {
    const { lsd, clock, net } = await started();
    const t = torrent(3);
    t.state.private = true;
    lsd.feature(t.core).tick?.();
    clock.advance(10 * 60_000);
    expect(net.sent).toEqual([]);
    net.deliver(encodeLsdAnnounce({ port: 51413, infoHashes: [hash(3)] }), '10.77.1.20');
    expect(t.peers).toEqual([]);
    // A magnet's metadata turns out private: it stops being announced.
    const m = torrent(4);
    m.state.metadata = false;
    m.state.checked = false;
    const f = lsd.feature(m.core);
    f.tick?.();
    clock.advance(0);
    expect(net.sent).toEqual([[toHex(hash(4))]]);
    m.state.metadata = true;
    m.state.private = true;
    f.tick?.();
    expect(lsd.service?.has(hash(4))).toBe(false);
    lsd.close();
  });

  it('waits for the data check (but not for a magnet’s metadata); a hybrid goes under both hashes', async () => {
    const { lsd, clock, net } = await started();
    const t = torrent(5, fromHex('ab'.repeat(32)));
    t.state.checked = false;
    const f = lsd.feature(t.core);
    f.tick?.();
    clock.advance(0);
    expect(net.sent).toEqual([]);
    t.state.checked = true;
    f.ready?.();
    clock.advance(0);
    expect(net.sent).toEqual([[toHex(hash(5)), 'ab'.repeat(20)]]);
    net.deliver(encodeLsdAnnounce({ port: 7000, infoHashes: [fromHex('ab'.repeat(20))] }), '10.77.1.22');
    expect(t.peers).toEqual([{ host: '10.77.1.22', port: 7000 }]);
    lsd.close();
  });

  it('never starts on a loopback address', async () => {
    for (const host of ['127.0.0.1', '::1', 'localhost']) {
      const { lsd } = await started(host);
      expect(lsd.service).toBeUndefined();
    }
  });

  it('never starts with BTTKIT_LOCAL_NETWORK=off (the test suite’s switch)', async () => {
    const before = process.env.BTTKIT_LOCAL_NETWORK;
    try {
      const lsd = new ClientLsd(
        { clock: new ManualClock(), warn: () => {} },
        { interfaces: () => ({ v4: ['10.77.1.10'], v6: [] }), service: { open: fakeNet().open } },
      );
      process.env.BTTKIT_LOCAL_NETWORK = 'off';
      await lsd.start('0.0.0.0', 6881);
      expect(lsd.service).toBeUndefined();
      process.env.BTTKIT_LOCAL_NETWORK = 'on';
      await lsd.start('0.0.0.0', 6881);
      expect(lsd.service).toBeDefined();
      lsd.close();
    } finally {
      if (before === undefined) delete process.env.BTTKIT_LOCAL_NETWORK;
      else process.env.BTTKIT_LOCAL_NETWORK = before;
    }
  });

  it('a Client on 127.0.0.1 opens no LSD socket, whatever its settings', async () => {
    const { Client } = await import('../../src/session/client.js');
    const before = opened.count;
    const c = new Client({ settings: { lsd: true } });
    await c.listen(0, '127.0.0.1');
    c.add(toHex(hash(9)));
    await new Promise((r) => setTimeout(r, 1100));
    await c.destroy();
    expect(opened.count).toBe(before);
  });
});
