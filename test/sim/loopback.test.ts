import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/session/client.js';
import type { Torrent } from '../../src/session/torrent.js';
import { SimRandom } from '../../src/sim/random.js';
import { runSwarm } from '../../src/sim/run.js';
import { SimContent, SimPieces, SimStore } from '../../src/sim/store.js';
import {
  type Connection,
  type ConnectionHandlers,
  type ConnectOptions,
  type Endpoint,
  type Listener,
  TcpTransport,
  type Transport,
} from '../../src/util/transport.js';

const MiB = 1024 * 1024;

/**
 * Real TCP on 127.0.0.1 with a download cap: every connection of the host draws from one link
 * that frees at `rate`; a connection that got ahead of it stops reading (TCP flow control does
 * the rest) until the link catches up.
 */
class DownloadShapedTransport implements Transport {
  #inner = new TcpTransport();
  #free = 0;
  constructor(readonly rate: number) {}

  async connect(to: Endpoint, options?: ConnectOptions): Promise<Connection> {
    return this.#wrap(await this.#inner.connect(to, options));
  }

  listen(on: Endpoint, onConnection: (c: Connection) => void): Promise<Listener> {
    return this.#inner.listen(on, (c) => onConnection(this.#wrap(c)));
  }

  #wrap(conn: Connection): Connection {
    const link = this;
    let resumeAt = 0;
    const shaped: Connection = {
      get remote() {
        return conn.remote;
      },
      get local() {
        return conn.local;
      },
      get closed() {
        return conn.closed;
      },
      get bufferedAmount() {
        return conn.bufferedAmount;
      },
      attach(h: ConnectionHandlers) {
        conn.attach({
          onData(chunk) {
            h.onData(chunk);
            const now = performance.now();
            link.#free = Math.max(link.#free, now) + (chunk.length * 1000) / link.rate;
            const wait = link.#free - now;
            if (wait > 2 && resumeAt <= now) {
              resumeAt = link.#free;
              conn.pause();
              setTimeout(() => conn.resume(), wait);
            }
          },
          onDrain: () => h.onDrain(),
          onClose: (e) => h.onClose(e),
        });
      },
      write: (chunks) => conn.write(chunks),
      pause: () => conn.pause(),
      resume: () => conn.resume(),
      close: () => conn.close(),
      destroy: (e) => conn.destroy(e),
    };
    return shaped;
  }
}

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
});

describe('the swarm lab against real sockets', () => {
  it('a tiny swarm completes in the same order simulated and over loopback TCP', async () => {
    const downloads = [1 * MiB, 4 * MiB, 2 * MiB];
    const size = 6 * MiB;
    const expected = ['l-2', 'l-3', 'l-1'];

    // Simulated: one group per leecher so that each has its own capacity.
    const sim = await runSwarm({
      seed: 3,
      file: { size, pieceLength: '256 KiB' },
      network: { latencyMs: 1 },
      groups: [
        { name: 'seed', count: 1, seed: true, upload: '8 MiB/s', download: '8 MiB/s' },
        ...downloads.map((d, i) => ({ name: `l${i + 1}`, count: 1, upload: '64 MiB/s', download: d })),
      ],
    });
    const simOrder = sim.peers
      .filter((p) => !p.seed)
      .sort((a, b) => (a.completedAt ?? 0) - (b.completedAt ?? 0))
      .map((p) => p.group.replace('l', 'l-'));
    expect(simOrder).toEqual(expected);

    // Real: the same capacities on 127.0.0.1 (seed upload by the engine's limiter, leecher
    // downloads by a shaping transport), the same generated content.
    const content = new SimContent(size, 256 * 1024, new SimRandom(3));
    const seed = new Client({ settings: { uploadRateLimit: 8 * MiB } });
    clients.push(seed);
    const seedAddr = await seed.listen(0, '127.0.0.1');
    const seedTorrent = seed.add(content.info, { store: () => new SimStore(new SimPieces(content, true)) });
    await new Promise<void>((r) => seedTorrent.once('ready', () => r()));
    const leechers = downloads.map((rate) => {
      const c = new Client({ transport: new DownloadShapedTransport(rate) });
      clients.push(c);
      return c;
    });
    const addrs = await Promise.all(leechers.map((c) => c.listen(0, '127.0.0.1')));
    const order: string[] = [];
    const torrents: Torrent[] = [];
    await Promise.race([
      Promise.all(
        leechers.map(
          (c, i) =>
            new Promise<void>((resolve, reject) => {
              const others = addrs.filter((_, j) => j !== i);
              const t = c.add(content.info, {
                store: () => new SimStore(new SimPieces(content)),
                peers: [seedAddr, ...others],
              });
              torrents.push(t);
              t.once('done', () => {
                order.push(`l-${i + 1}`);
                resolve();
              });
              t.once('error', reject);
            }),
        ),
      ),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('loopback swarm did not finish in 60 s')), 60_000),
      ),
    ]);
    expect(order).toEqual(simOrder);
  }, 90_000);
});
