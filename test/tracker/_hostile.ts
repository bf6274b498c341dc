/**
 * A real tracker that misbehaves on purpose, on 127.0.0.1 (and ::1 for UDP over IPv6): each path
 * or UDP mode is one kind of hostile or odd answer. Not a mock: the client talks to it over
 * sockets exactly as to any tracker.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encode } from '../../src/metainfo/bencode.js';
import { encodeCompactPeers } from '../../src/tracker/index.js';

export interface HostileHttp {
  base: string;
  /** Bytes the `/huge` handlers handed to the socket before the client went away. */
  hugeWritten: () => number;
  /** Request paths seen, in order. */
  paths: string[];
  close(): Promise<void>;
}

const OK_PEERS = encodeCompactPeers(
  [
    { host: '10.0.0.1', port: 6881 },
    { host: '10.0.0.2', port: 0 },
    { host: '10.0.0.1', port: 6881 },
  ],
  4,
);

function bencoded(res: ServerResponse, value: Parameters<typeof encode>[0], status = 200): void {
  const body = encode(value);
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}

export async function startHostileHttp(): Promise<HostileHttp> {
  let huge = 0;
  const paths: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const kind = url.pathname.split('/')[1] ?? '';
    paths.push(url.pathname);
    switch (kind) {
      case 'ok':
        if (url.pathname.endsWith('/scrape')) {
          const raw = /[?&]info_hash=([^&]*)/.exec(req.url ?? '')?.[1] ?? '';
          const ih = raw.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) =>
            String.fromCharCode(Number.parseInt(h, 16)),
          );
          bencoded(res, { files: new Map([[ih, { complete: 3, incomplete: 4, downloaded: 5 }]]) });
          return;
        }
        bencoded(res, { interval: 900, 'min interval': 60, complete: 1, incomplete: 2, peers: OK_PEERS });
        return;
      case 'garbage':
        res.end('<html><body>502 Bad Gateway</body></html>');
        return;
      case 'notdict':
        res.end('li1ei2ee');
        return;
      case 'badtype':
        bencoded(res, { interval: 'soon', peers: new Uint8Array(0) });
        return;
      case 'truncated':
        bencoded(res, { interval: 60, peers: OK_PEERS.subarray(0, 7) });
        return;
      case 'truncated6':
        bencoded(res, { interval: 60, peers: new Uint8Array(0), peers6: new Uint8Array(17) });
        return;
      case 'failure':
        bencoded(res, { 'failure reason': 'torrent not registered\n\u0007' });
        return;
      case 'warning':
        bencoded(res, { interval: 60, 'warning message': 'be nice', peers: OK_PEERS, 'tracker id': 'T1' });
        return;
      case 'peers6': {
        const peers6 = encodeCompactPeers(
          [
            { host: '::1', port: 7001 },
            { host: '2001:db8::1:0:0:1', port: 7002 },
            { host: 'fe80::1', port: 0 },
          ],
          6,
        );
        bencoded(res, { interval: 60, peers: OK_PEERS, peers6 });
        return;
      }
      case 'dict':
        bencoded(res, {
          interval: 60,
          peers: [
            { ip: '10.1.2.3', port: 51413, 'peer id': 'x'.repeat(20) },
            { ip: '2001:DB8:0:0::7', port: 6881 },
            { ip: 'evil.example', port: 6881 },
            { ip: '10.1.2.4', port: 0 },
            { ip: '10.1.2.5', port: 70000 },
            'not a dict',
          ],
        });
        return;
      case 'status':
        res.writeHead(503);
        res.end('overloaded');
        return;
      case 'status-failure':
        bencoded(res, { 'failure reason': 'banned client' }, 403);
        return;
      case 'loop':
        res.writeHead(302, {
          location: url.pathname.endsWith('/a/announce') ? '/loop/b/announce' : '/loop/a/announce',
        });
        res.end();
        return;
      case 'chain': {
        const n = Number(url.pathname.split('/')[2] ?? '0');
        res.writeHead(301, { location: n > 0 ? `/chain/${n - 1}/announce` : '/ok/announce' });
        res.end();
        return;
      }
      case 'scheme':
        res.writeHead(302, { location: 'file:///etc/passwd' });
        res.end();
        return;
      case 'huge-declared':
      case 'huge': {
        const total = 50 * 1024 * 1024;
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        res.writeHead(200, kind === 'huge-declared' ? { 'content-length': total } : {});
        let sent = 0;
        const pump = () => {
          while (sent < total && !res.destroyed) {
            sent += chunk.length;
            huge += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        pump();
        return;
      }
      case 'endless': {
        res.writeHead(200);
        res.write('d8:intervali60e5:peers');
        const t = setInterval(() => res.write('9'), 20);
        timers.add(t);
        res.on('close', () => {
          clearInterval(t);
          timers.delete(t);
        });
        return;
      }
      case 'hang':
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  };
  const server: Server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hugeWritten: () => huge,
    paths,
    async close() {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** How a hostile UDP tracker answers. */
export type UdpMode =
  | 'ok'
  | 'silent'
  | 'wrong-tx'
  | 'wrong-action'
  | 'error'
  | 'truncated-peers'
  | 'short'
  | 'junk-then-ok';

export interface HostileUdp {
  url: string;
  /** Clock (performance.now) times of each datagram received. */
  received: number[];
  close(): Promise<void>;
}

export async function startHostileUdp(mode: UdpMode, host = '127.0.0.1'): Promise<HostileUdp> {
  const family6 = host.includes(':');
  const socket: Socket = createSocket(family6 ? 'udp6' : 'udp4');
  const received: number[] = [];
  const conn = Buffer.from('0123abcd', 'latin1');
  socket.on('message', (msg, rinfo) => {
    received.push(performance.now());
    if (msg.length < 16) return;
    const action = msg.readUInt32BE(8);
    const tx = msg.readUInt32BE(12);
    const send = (b: Buffer) => socket.send(b, rinfo.port, rinfo.address);
    const head = (a: number, t: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(a, 0);
      b.writeUInt32BE(t, 4);
      return b;
    };
    if (mode === 'silent') return;
    if (mode === 'wrong-tx') {
      send(Buffer.concat([head(0, (tx + 1) >>> 0), conn]));
      return;
    }
    if (mode === 'wrong-action') {
      send(Buffer.concat([head(action === 0 ? 2 : 0, tx), conn, Buffer.alloc(12)]));
      return;
    }
    if (mode === 'error') {
      send(Buffer.concat([head(3, tx), Buffer.from('info hash not registered')]));
      return;
    }
    if (mode === 'short') {
      send(head(action, tx));
      return;
    }
    if (action === 0) {
      if (mode === 'junk-then-ok') {
        send(Buffer.from('x'));
        send(Buffer.concat([head(0, (tx ^ 0xffff) >>> 0), Buffer.alloc(8)]));
      }
      send(Buffer.concat([head(0, tx), conn]));
      return;
    }
    if (action === 1) {
      const stats = Buffer.alloc(12);
      stats.writeUInt32BE(120, 0);
      stats.writeUInt32BE(2, 4);
      stats.writeUInt32BE(1, 8);
      const peers =
        mode === 'truncated-peers'
          ? Buffer.alloc(7)
          : family6
            ? Buffer.from(
                encodeCompactPeers(
                  [
                    { host: '::1', port: 7101 },
                    { host: '2001:db8::2', port: 7102 },
                  ],
                  6,
                ),
              )
            : Buffer.from(OK_PEERS);
      send(Buffer.concat([head(1, tx), stats, peers]));
      return;
    }
    if (action === 2) {
      const n = (msg.length - 16) / 20;
      const body = Buffer.alloc(12 * n);
      for (let i = 0; i < n; i++) {
        body.writeUInt32BE(5, 12 * i);
        body.writeUInt32BE(6, 12 * i + 4);
        body.writeUInt32BE(7, 12 * i + 8);
      }
      send(Buffer.concat([head(2, tx), body]));
    }
  });
  await new Promise<void>((r) => socket.bind(0, host, r));
  const { port } = socket.address();
  return {
    url: family6 ? `udp://[${host}]:${port}` : `udp://${host}:${port}`,
    received,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
