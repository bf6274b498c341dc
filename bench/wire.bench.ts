/**
 * PeerWire ↔ PeerWire throughput over TCP on 127.0.0.1, against a raw-socket baseline measured in
 * the same run. Both ends live in this one process (so they share its event loop and a core):
 * compare ratios, not absolute numbers, with PERF.md's two-process figures.
 * 16 KiB blocks, 500 requests outstanding, no hashing.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { type Connection, TcpTransport } from '../src/util/transport.js';
import { PeerWire } from '../src/wire/index.js';

const TOTAL = Number(process.env.BENCH_MIB ?? 512) * 1024 * 1024;
const BLOCK = 16384;
const PIECE = 1024 * 1024;
const torrent = { pieceLength: PIECE, pieceCount: TOTAL / PIECE, length: TOTAL };

async function raw(): Promise<number> {
  const chunk = new Uint8Array(64 * 1024);
  return new Promise((resolve) => {
    const server = net.createServer((s) => {
      let got = 0;
      const t0 = performance.now();
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= TOTAL) {
          resolve(TOTAL / 1e6 / ((performance.now() - t0) / 1000));
          s.destroy();
          server.close();
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const c = net.connect(typeof a === 'object' && a ? a.port : 0, '127.0.0.1');
      let sent = 0;
      const pump = () => {
        while (sent < TOTAL) {
          sent += chunk.length;
          if (!c.write(chunk)) return void c.once('drain', pump);
        }
      };
      c.on('connect', pump);
      c.on('error', () => {});
    });
  });
}

async function wire(batchWrites: boolean): Promise<number> {
  const t = new TcpTransport();
  const infoHash = new Uint8Array(randomBytes(20));
  const block = new Uint8Array(randomBytes(BLOCK));
  let accepted: (c: Connection) => void = () => {};
  const got = new Promise<Connection>((r) => {
    accepted = r;
  });
  const listener = await t.listen({ host: '127.0.0.1', port: 0 }, (c) => accepted(c));
  const leecher = new PeerWire(await t.connect(listener.address), {
    peerId: new Uint8Array(randomBytes(20)),
    infoHash,
    torrent,
    batchWrites,
  });
  const seeder = new PeerWire(await got, {
    peerId: new Uint8Array(randomBytes(20)),
    infoHash,
    torrent,
    batchWrites,
  });
  seeder.on('request', (_r, respond) => respond(block));
  seeder.on('handshake', () => {
    seeder.handshake();
    seeder.unchoke();
  });
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const blocks = TOTAL / BLOCK;
    let t0 = 0;
    const ask = () => {
      while (next < blocks && leecher.outstandingRequests < 500) {
        const b = next++;
        leecher.request(Math.floor((b * BLOCK) / PIECE), (b * BLOCK) % PIECE, BLOCK, (err) => {
          if (err) return reject(err);
          if (++done === blocks) {
            resolve(TOTAL / 1e6 / ((performance.now() - t0) / 1000));
            leecher.close();
            seeder.close();
            void listener.close();
          } else ask();
        });
      }
    };
    leecher.on('unchoke', () => {
      t0 = performance.now();
      ask();
    });
    leecher.handshake();
    leecher.interested();
  });
}

const results: [string, number][] = [];
results.push(['raw TCP, 64 KiB writes', await raw()]);
results.push(['PeerWire, writes batched per turn', await wire(true)]);
results.push(['PeerWire, one write per message', await wire(false)]);
const base = results[0]?.[1] ?? 1;
console.log(`${TOTAL / 1024 / 1024} MiB, 16 KiB blocks, 500 outstanding, one process`);
for (const [name, mbps] of results) {
  console.log(`${name.padEnd(36)} ${mbps.toFixed(0).padStart(6)} MB/s  ${(mbps / base).toFixed(2)}× raw`);
}
