/**
 * Raw uTP `Connection` throughput on 127.0.0.1 against TCP (`TcpTransport`) in the same run:
 * the sender in this process, the receiver in a child process (each end has its own event loop,
 * as two peers do). `SIZE_MB` (default 1024) bytes per run, `RUNS` (default 3) runs of each;
 * prints MB/s and CPU seconds per GiB (sender + receiver), the median of the runs.
 *
 *   node --import tsx bench/utp.bench.ts          # SIZE_MB=256 RUNS=5 to taste
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Connection, TcpTransport, type Transport } from '../src/util/transport.js';
import { UtpTransport } from '../src/utp/index.js';

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
  process.exit(0);
}

void main();
