/**
 * Raw uTP `Connection` throughput on 127.0.0.1 against TCP (`TcpTransport`) in the same run:
 * the sender in this process, the receiver in a child process (each end has its own event loop,
 * as two peers do). `SIZE_MB` (default 1024) bytes per run, `RUNS` (default 3) runs of each;
 * prints MB/s and CPU seconds per GiB (sender + receiver), the median of the runs.
 *
 *   node --import tsx bench/utp.bench.ts          # SIZE_MB=256 RUNS=5 to taste
 *
 * With `LIBTORRENT=1` it then measures the two mixed pairs over uTP against Debian's libtorrent
 * (python3-libtorrent, TCP disabled in it): libtorrent seeding to a bttkit `PeerWire` leecher,
 * and bttkit seeding to a libtorrent leecher (`LT_SIZE_MB`, default 128 MiB, 1 MiB pieces),
 * with bttkit's CPU per GiB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTorrent } from '../src/metainfo/index.js';
import { type Connection, TcpTransport, type Transport } from '../src/util/transport.js';
import { UtpTransport } from '../src/utp/index.js';
import { PeerWire } from '../src/wire/index.js';

const SIZE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 3);
const CHUNK = 64 * 1024;
type Kind = 'utp' | 'tcp';

function transportOf(kind: Kind): Transport {
  return kind === 'utp' ? new UtpTransport() : new TcpTransport();
}

/** The child: listens, counts bytes, reports `{ done, ms, cpu }` when `SIZE` arrived. */
async function receiver(kind: Kind): Promise<void> {
  const t = transportOf(kind);
  const l = await t.listen({ host: '127.0.0.1', port: 0 }, (c: Connection) => {
    let got = 0;
    let t0 = 0;
    let cpu0: NodeJS.CpuUsage | undefined;
    c.attach({
      onData: (d) => {
        if (got === 0) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
        }
        got += d.length;
        if (got >= SIZE) {
          const cpu = process.cpuUsage(cpu0);
          console.log(
            JSON.stringify({ done: got, ms: performance.now() - t0, cpu: (cpu.user + cpu.system) / 1e6 }),
          );
          setTimeout(() => process.exit(0), 50);
        }
      },
      onDrain: () => {},
      onClose: () => {},
    });
  });
  console.log(JSON.stringify({ port: l.address.port }));
}

function lines(child: ChildProcess, onLine: (o: Record<string, number>) => void): void {
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.startsWith('{')) onLine(JSON.parse(line) as Record<string, number>);
    }
  });
}

interface Result {
  mbps: number;
  cpuPerGiB: number;
}

async function run(kind: Kind): Promise<Result> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'recv', kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  let port = 0;
  let done: Record<string, number> | undefined;
  lines(child, (o) => {
    if (o.port) port = o.port;
    if (o.done) done = o;
  });
  while (port === 0) await new Promise((r) => setTimeout(r, 10));
  const t = transportOf(kind);
  const c = await t.connect({ host: '127.0.0.1', port });
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent < SIZE) {
        sent += CHUNK;
        if (!c.write([chunk])) return;
      }
      resolve();
    };
    c.attach({ onData: () => {}, onDrain: pump, onClose: () => resolve() });
    pump();
  });
  while (!done && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  c.destroy();
  if (t instanceof UtpTransport) await t.close();
  child.kill();
  const gib = SIZE / 2 ** 30;
  const total = (cpu.user + cpu.system) / 1e6 + (done?.cpu ?? 0);
  return { mbps: SIZE / 1e6 / (ms / 1000), cpuPerGiB: total / gib };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'recv') return receiver(process.argv[3] as Kind);
  console.log(
    `uTP vs TCP, ${SIZE / 2 ** 20} MiB per run on 127.0.0.1, ${RUNS} runs each (receiver in a child process)`,
  );
  const res: Record<Kind, Result[]> = { utp: [], tcp: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const kind of ['utp', 'tcp'] as const) {
      const r = await run(kind);
      res[kind].push(r);
      console.log(`  run ${i + 1} ${kind}: ${r.mbps.toFixed(0)} MB/s, ${r.cpuPerGiB.toFixed(2)} CPU s/GiB`);
    }
  }
  for (const kind of ['utp', 'tcp'] as const) {
    const m = median(res[kind].map((r) => r.mbps));
    const c = median(res[kind].map((r) => r.cpuPerGiB));
    console.log(`${kind}: median ${m.toFixed(0)} MB/s, ${c.toFixed(2)} CPU s/GiB (sender + receiver)`);
  }
  console.log(
    `uTP / TCP: ${(median(res.utp.map((r) => r.mbps)) / median(res.tcp.map((r) => r.mbps))).toFixed(2)}`,
  );
  if (process.env.LIBTORRENT === '1') await mixed();
  process.exit(0);
}

/** libtorrent over uTP only: seeds, or with `leech` downloads and prints `finished`; dials argv[3]. */
const LT_SCRIPT = `
import json, os, sys, time
import libtorrent as lt
torrent, save_path = sys.argv[1:3]
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
    "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_tcp": False,
    "enable_incoming_tcp": False, "enable_outgoing_utp": True, "enable_incoming_utp": True,
    "allow_multiple_connections_per_ip": True, "alert_mask": 0})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save_path
leech = len(sys.argv) > 4 and sys.argv[4] == "leech"
if not leech:
    atp.flags |= lt.torrent_flags.seed_mode
atp.flags &= ~lt.torrent_flags.auto_managed
atp.flags &= ~lt.torrent_flags.paused
h = ses.add_torrent(atp)
while ses.listen_port() == 0:
    time.sleep(0.02)
print(json.dumps({"port": ses.listen_port()}), flush=True)
if len(sys.argv) > 3 and sys.argv[3] != "0":
    h.connect_peer(("127.0.0.1", int(sys.argv[3])))
end = time.time() + 300
while time.time() < end:
    time.sleep(0.05)
    if leech and h.status().is_seeding:
        print(json.dumps({"finished": 1}), flush=True)
        break
`;

function libtorrent(dir: string, args: string[]): { child: ChildProcess; events: Record<string, number>[] } {
  const child = spawn('/usr/bin/python3', [join(dir, 'lt.py'), join(dir, 'f.torrent'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Record<string, number>[] = [];
  lines(child, (o) => events.push(o));
  return { child, events };
}

async function mixed(): Promise<void> {
  const size = Number(process.env.LT_SIZE_MB ?? 128) * 1024 * 1024;
  const PIECE = 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'bttkit-utp-bench-'));
  try {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) data[i] = (i >>> 12) & 0xff;
    writeFileSync(join(dir, 'f.bin'), data);
    const created = await createTorrent(join(dir, 'f.bin'), { pieceLength: PIECE });
    writeFileSync(join(dir, 'f.torrent'), created.torrent);
    writeFileSync(join(dir, 'lt.py'), LT_SCRIPT);
    const infoHash = created.metainfo.infoHashBytes;
    const torrent = { pieceLength: PIECE, pieceCount: size / PIECE, length: size };
    const peerId = new Uint8Array(20).fill(0x42);
    const gib = size / 2 ** 30;
    const report = (what: string, t0: number, cpu0: NodeJS.CpuUsage) => {
      const s = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const perGiB = (cpu.user + cpu.system) / 1e6 / gib;
      console.log(
        `${what} over uTP: ${(size / 1e6 / s).toFixed(1)} MB/s, bttkit ${perGiB.toFixed(2)} CPU s/GiB`,
      );
    };

    // libtorrent → bttkit: a PeerWire leecher with 250 requests outstanding.
    const seeder = libtorrent(dir, [dir, '0']);
    while (!seeder.events.some((e) => e.port)) await new Promise((r) => setTimeout(r, 10));
    const t1 = new UtpTransport();
    const port = seeder.events.find((e) => e.port)?.port ?? 0;
    const wire = new PeerWire(await t1.connect({ host: '127.0.0.1', port }), { peerId, infoHash, torrent });
    await new Promise<void>((r) => {
      wire.on('unchoke', () => r());
      wire.handshake();
      wire.interested();
    });
    const blocks = size / 16384;
    let next = 0;
    let done = 0;
    const cpu1 = process.cpuUsage();
    const start1 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const ask = () => {
        while (next < blocks && wire.outstandingRequests < 250) {
          const b = next++;
          wire.request(Math.floor((b * 16384) / PIECE), (b * 16384) % PIECE, 16384, (e) => {
            if (e) reject(e);
            else if (++done === blocks) resolve();
            else ask();
          });
        }
      };
      ask();
    });
    report('libtorrent → bttkit', start1, cpu1);
    wire.close();
    await t1.close();
    seeder.child.kill();

    // bttkit → libtorrent: a PeerWire seeder answering from memory.
    const t2 = new UtpTransport();
    let start2 = 0;
    const cpu2 = process.cpuUsage();
    const l = await t2.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
      const w = new PeerWire(conn, { peerId, infoHash, torrent });
      w.on('handshake', () => {
        w.handshake();
        w.bitfield(new Uint8Array(size / PIECE / 8).fill(0xff));
      });
      w.on('interested', () => {
        start2 = performance.now();
        w.unchoke();
      });
      w.on('request', (r, respond) => {
        const at = r.index * PIECE + r.offset;
        respond(data.subarray(at, at + r.length));
      });
    });
    const into = join(dir, 'leech');
    mkdirSync(into);
    const leecher = libtorrent(dir, [into, String(l.address.port), 'leech']);
    while (!leecher.events.some((e) => e.finished) && leecher.child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 10));
    }
    report('bttkit → libtorrent', start2, cpu2);
    leecher.child.kill();
    await t2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
