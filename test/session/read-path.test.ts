import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { type ChunkStore, FsChunkStore, MemoryChunkStore } from '../../src/storage/index.js';
import {
  type Connection,
  type ConnectionHandlers,
  MemoryTransport,
  type Transport,
} from '../../src/util/transport.js';
import type { PeerWire } from '../../src/wire/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('bttkit-readpath-');
afterAll(tmp.cleanup);

/** A seeder of one 1.5 MB file on a transport that lends read buffers (scribbled after each read). */
async function lentSwarm(name: string) {
  const transport = new MemoryTransport({ lendReadBuffer: true });
  const src = join(tmp.path, name);
  mkdirSync(src, { recursive: true });
  const data = pseudoRandomBytes(1_500_000, 7);
  writeFileSync(join(src, 'f.bin'), data);
  const { torrent } = await createTorrent(join(src, 'f.bin'), { pieceLength: 65536 });
  const seeder = new Client({ transport });
  const addr = await seeder.listen(0, '127.0.0.1');
  const st = seeder.add(torrent, { path: src });
  await waitFor(new Promise<void>((r) => st.once('ready', r)), 10_000, 'seeder ready');
  const leecher = new Client({ transport });
  await leecher.listen(0, '127.0.0.1');
  return { transport, seeder, leecher, torrent, data, peers: [{ host: '127.0.0.1', port: addr.port }] };
}

/** `inner`, with `put` taken over (and `copiesOnPut` hidden when `put` is). */
function wrap(inner: ChunkStore, put: ChunkStore['put'] | undefined, pending?: () => number): ChunkStore {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'put' && put) return put;
      if (prop === 'copiesOnPut' && put) return undefined;
      if (prop === 'pendingBytes' && pending) return pending();
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** `inner`, counting the bytes each of its connections hands to its consumer (`read`). */
function countingReads(inner: Transport): { transport: Transport; read: Map<Connection, number> } {
  const read = new Map<Connection, number>();
  const wrap = (c: Connection): Connection => {
    const counted: Connection = new Proxy(c, {
      get(target, prop) {
        if (prop === 'attach') {
          return (h: ConnectionHandlers) =>
            target.attach({
              onData: (chunk) => {
                read.set(counted, (read.get(counted) ?? 0) + chunk.length);
                h.onData(chunk);
              },
              onDrain: () => h.onDrain(),
              onClose: (err) => h.onClose(err),
            });
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    return counted;
  };
  return {
    read,
    transport: {
      connect: async (to, options) => wrap(await inner.connect(to, options)),
      listen: (on, onConnection) => inner.listen(on, (c) => onConnection(wrap(c))),
    },
  };
}

describe('read buffers lent by the connection (blocks handed on as views)', () => {
  it.each([
    ['assembling pieces', {}],
    ['writing block by block', { assemblePieces: false, maxQueuedBytes: 256 * 1024 }],
  ])(
    'a download over connections that reuse their read buffer is byte-identical: file store %s',
    async (name, options) => {
      // Assembling, blocks are copied into their piece; block by block, each is copied for the
      // queue: either way a view kept into the lent buffer would be scribbled over.
      const s = await lentSwarm(name.replaceAll(' ', '-'));
      try {
        const dir = join(tmp.path, `${name.replaceAll(' ', '-')}-out`);
        const t = s.leecher.add(s.torrent, {
          peers: s.peers,
          store: (info) => new FsChunkStore(info, { path: dir, ...options }),
        });
        await waitFor(new Promise<void>((r) => t.once('done', r)), 30_000, 'download');
        expect(Buffer.compare(readFileSync(join(dir, 'f.bin')), s.data)).toBe(0);
      } finally {
        await Promise.all([s.seeder.destroy(), s.leecher.destroy()]);
      }
    },
  );

  it('a store that keeps the bytes it is given (no copiesOnPut) gets copies, not views of the read buffer', async () => {
    const s = await lentSwarm('lent-keep');
    try {
      let stores = 0;
      const t = s.leecher.add(s.torrent, {
        peers: s.peers,
        store: (info) => {
          stores++;
          const inner = new MemoryChunkStore(info);
          // Holds on to `bytes` across a turn of the event loop before storing them: a view
          // into the lent buffer would have been scribbled over by then.
          return wrap(inner, async (piece, offset, bytes, options) => {
            await new Promise((r) => setImmediate(r));
            return inner.put(piece, offset, bytes, options);
          });
        },
      });
      const failures: string[] = [];
      t.on('warning', (w) => {
        if (w.code === 'SESSION_HASH_FAILED') failures.push(w.message);
      });
      await waitFor(new Promise<void>((r) => t.once('done', r)), 30_000, 'download');
      expect(stores).toBe(1);
      expect(failures).toEqual([]);
      const store = t.store as ChunkStore;
      const got = await store.get(0, 0, 65536);
      expect(Buffer.compare(got, s.data.subarray(0, 65536))).toBe(0);
    } finally {
      await Promise.all([s.seeder.destroy(), s.leecher.destroy()]);
    }
  });
});

describe('backpressure from the store', () => {
  it('reading resumes when what the store holds cannot drain without it (no put waiting, nothing written)', async () => {
    // A store that always reports more pending than the torrent lets it hold (as pieces being
    // assembled would, waiting for their other blocks): waiting for it to drain would be forever.
    const s = await lentSwarm('stuck');
    await s.leecher.destroy();
    const leecher = new Client({ transport: s.transport, settings: { maxPendingWriteBytes: 1024 * 1024 } });
    try {
      const wires: PeerWire[] = [];
      let paused = 0;
      const t = leecher.add(s.torrent, {
        peers: s.peers,
        store: (info) => wrap(new MemoryChunkStore(info), undefined, () => 1024 * 1024),
      });
      t.on('wire', (w) => {
        wires.push(w);
        const pause = w.pauseReading.bind(w);
        w.pauseReading = () => {
          paused++;
          pause();
        };
      });
      await waitFor(
        new Promise<void>((r) => t.once('done', r)),
        30_000,
        'download with a store that never drains',
      );
      expect(paused).toBeGreaterThan(0);
      const got = await (t.store as ChunkStore).get(0, 0, 65536);
      expect(Buffer.compare(got, s.data.subarray(0, 65536))).toBe(0);
    } finally {
      await Promise.all([s.seeder.destroy(), leecher.destroy()]);
    }
  });

  it('peers are not read while puts pile up unresolved, and reading resumes once the store drains', async () => {
    const s = await lentSwarm('gate');
    // Settings of the leecher only matter; the swarm helper made a default one: make another.
    await s.leecher.destroy();
    const { transport, read } = countingReads(s.transport);
    const leecher = new Client({ transport, settings: { maxPendingWriteBytes: 1024 * 1024 } });
    const extra: Client[] = [];
    try {
      let open = false;
      const waiting: (() => void)[] = [];
      let unresolved = 0;
      let mostUnresolved = 0;
      const wires: PeerWire[] = [];
      const t = leecher.add(s.torrent, {
        peers: s.peers,
        store: (info) => {
          const inner = new MemoryChunkStore(info);
          return wrap(
            inner,
            async (piece, offset, bytes, options) => {
              const copy = bytes.slice();
              unresolved += copy.length;
              mostUnresolved = Math.max(mostUnresolved, unresolved);
              if (!open) await new Promise<void>((r) => waiting.push(r));
              unresolved -= copy.length;
              return inner.put(piece, offset, copy, options);
            },
            () => unresolved,
          );
        },
      });
      t.on('wire', (w) => wires.push(w));
      // With the gate shut the leecher reads until the unresolved puts pass a quarter of the
      // cap (256 KiB), then stops; what it already read is the rest.
      await waitFor(() => wires.some((w) => w.readingPaused), 10_000, 'reading paused');
      // The one connection so far, as the transport made it (the wire may hold an MSE wrapper).
      const first = [...read.keys()][0];
      const readAtPause = first && read.get(first);
      expect(readAtPause).toBeGreaterThan(256 * 1024);
      // A peer that joins meanwhile is not read either.
      const second = new Client({ transport: s.transport });
      extra.push(second);
      const addr2 = await second.listen(0, '127.0.0.1');
      const st2 = second.add(s.torrent, { path: join(tmp.path, 'gate') });
      await waitFor(new Promise<void>((r) => st2.once('ready', r)), 10_000, 'second seeder ready');
      t.addPeer({ host: '127.0.0.1', port: addr2.port });
      // Its handshake is read; what it sends after (the extended handshake, so no `peer` event
      // yet) waits with the rest: our handshake and theirs are each a write of their own.
      await waitFor(
        () => wires.length === 2 && wires[1]?.peerHandshake !== undefined,
        10_000,
        'second seeder handshaken',
      );
      expect(wires).toHaveLength(2);
      expect(wires[1]?.readingPaused).toBe(true);
      // Nothing more was read from the first peer all that time (a second seeder started, checked
      // its data and connected): its data waits in the connection.
      expect(first && read.get(first)).toBe(readAtPause);
      expect(mostUnresolved).toBeGreaterThan(256 * 1024);
      expect(mostUnresolved).toBeLessThan(1024 * 1024);
      open = true;
      for (const w of waiting.splice(0)) w();
      await waitFor(new Promise<void>((r) => t.once('done', r)), 30_000, 'download after the gate opened');
      expect(wires.every((w) => w.closed || !w.readingPaused)).toBe(true);
      const got = await (t.store as ChunkStore).get(22, 0, 1_500_000 - 22 * 65536);
      expect(Buffer.compare(got, s.data.subarray(22 * 65536))).toBe(0);
    } finally {
      await Promise.all([s.seeder.destroy(), leecher.destroy(), ...extra.map((c) => c.destroy())]);
    }
  });
});
