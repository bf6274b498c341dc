/**
 * One process of the huge-torrent benchmark (bench/huge.bench.ts), run as
 * `node --expose-gc --import tsx bench/peers/huge-peer.ts <mode> …`; prints one JSON line per event.
 *
 *   parse <torrent>                     parse time and the parsed object's RSS (fresh process)
 *   add   <torrent> <dir>               a Client adds it for download into <dir>: time, extra RSS
 *   seed  <torrent> <dir> <port>        a Client seeds it from <dir> (sparse files of zeros, made
 *                                       here with ftruncate: recheck finds them all holes)
 *   leech <torrent> <dir> <seeder-port> <pieces> [listen-port]
 *                                       a Client downloads (sequential) until <pieces> are verified
 *   magnet <infohash> <dir> <seeder-port>
 *                                       a Client adds it by info-hash: metadata (BEP 9), ready
 *   recheck <dir> <gib> <written-mib|all>
 *                                       FsChunkStore recheck of a sparse file partly written
 *   wire  <port> <infohash> <pieces>    a PeerWire peer: the client's bitfield, then ours
 *
 * RSS is measured after `gc()` before and after (the process must run with --expose-gc).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseTorrent } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/index.js';
import { bitfieldCount, FsChunkStore, HashPool } from '../../src/storage/index.js';
import { TcpTransport } from '../../src/util/transport.js';
import { PeerWire } from '../../src/wire/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const collect = gc;
const mib = (n: number) => n / 1024 / 1024;
function mem(): { rss: number; heap: number; external: number } {
  collect();
  collect();
  const m = process.memoryUsage();
  return { rss: mib(m.rss), heap: mib(m.heapUsed), external: mib(m.external) };
}
const out = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const settings = { portMapping: false, lsd: false };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** Files under `dir`, counted (bounded walk: the torrents here have at most ~10,000). */
function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  }
  return n;
}

const [mode, ...args] = process.argv.slice(2);

if (mode === 'parse') {
  const bytes = new Uint8Array(readFileSync(args[0] as string));
  await new Promise((r) => setTimeout(r, 50));
  const m0 = mem();
  const t0 = performance.now();
  const meta = parseTorrent(bytes);
  const ms = performance.now() - t0;
  const m1 = mem();
  out({
    event: 'parsed',
    ms,
    rssMiB: m1.rss - m0.rss,
    heapMiB: m1.heap - m0.heap,
    externalMiB: m1.external - m0.external,
    pieces: meta.pieceCount,
    files: meta.files.length,
  });
} else if (mode === 'add') {
  const [torrent, dir] = args as [string, string];
  const bytes = new Uint8Array(readFileSync(torrent));
  const client = new Client({ settings, utp: false });
  const m0 = mem();
  const c0 = cpu();
  const t0 = performance.now();
  const t = client.add(bytes, { path: dir });
  const addMs = performance.now() - t0;
  await new Promise<void>((resolve, reject) => {
    t.once('ready', () => resolve());
    t.once('error', reject);
  });
  const readyMs = performance.now() - t0;
  const cpuS = cpu() - c0;
  const m1 = mem();
  out({
    event: 'added',
    addMs,
    readyMs,
    cpuS,
    rssMiB: m1.rss - m0.rss,
    heapMiB: m1.heap - m0.heap,
    externalMiB: m1.external - m0.external,
    state: t.state,
    progress: t.stats().progress,
    filesCreated: countFiles(dir),
  });
  await client.destroy();
} else if (mode === 'seed') {
  const [torrent, dir, port] = args as [string, string, string];
  const bytes = new Uint8Array(readFileSync(torrent));
  const meta = parseTorrent(bytes);
  const base = meta.multiFile ? join(dir, meta.name) : dir;
  for (const f of meta.files) {
    const path = join(base, ...f.segments);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    ftruncateSync(fd, f.length);
    closeSync(fd);
  }
  const client = new Client({ settings, utp: false });
  await client.listen(Number(port), '127.0.0.1');
  const t0 = performance.now();
  const t = client.add(bytes, { path: dir });
  await new Promise<void>((resolve, reject) => {
    t.once('ready', () => resolve());
    t.once('error', reject);
  });
  out({ event: 'seeding', readyMs: performance.now() - t0, state: t.state, progress: t.stats().progress });
  process.on('SIGTERM', () => void client.destroy().then(() => process.exit(0)));
} else if (mode === 'leech') {
  const [torrent, dir, seederPort, count, listenPort] = args as [string, string, string, string, string?];
  const pieces = Number(count);
  const bytes = new Uint8Array(readFileSync(torrent));
  const client = new Client({ settings, utp: false });
  const at = await client.listen(Number(listenPort ?? 0), '127.0.0.1');
  out({ event: 'listening', port: at.port });
  const c0 = cpu();
  const t0 = performance.now();
  const t = client.add(bytes, { path: dir, peers: [{ host: '127.0.0.1', port: Number(seederPort) }] });
  t.sequential = true;
  let verified = 0;
  const limit = setTimeout(
    () => {
      out({ event: 'timeout', verified });
      process.exit(1);
    },
    Number(process.env.HUGE_MAX_SECONDS ?? 300) * 1000,
  );
  await new Promise<void>((resolve, reject) => {
    t.on('piece', () => {
      if (++verified === pieces) resolve();
    });
    t.once('error', reject);
  });
  clearTimeout(limit);
  const seconds = (performance.now() - t0) / 1000;
  out({
    event: 'done',
    seconds,
    bytes: pieces * (t.info?.pieceLength ?? 0),
    cpuS: cpu() - c0,
    rssMiB: mib(process.memoryUsage().rss),
  });
  await client.destroy();
} else if (mode === 'magnet') {
  // Added by info-hash: the info dictionary (5 MiB for 262,144 pieces) comes over BEP 9.
  const [infoHash, dir, seederPort] = args as [string, string, string];
  const client = new Client({ settings, utp: false });
  await client.listen(0, '127.0.0.1');
  const m0 = mem();
  const t0 = performance.now();
  const t = client.add(infoHash, { path: dir, peers: [{ host: '127.0.0.1', port: Number(seederPort) }] });
  const limit = setTimeout(() => {
    out({ event: 'timeout', state: t.state });
    process.exit(1);
  }, 60_000);
  const metadataMs = await new Promise<number>((resolve, reject) => {
    t.once('metadata', () => resolve(performance.now() - t0));
    t.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    if (t.state !== 'metadata' && t.state !== 'checking') resolve();
    t.once('ready', () => resolve());
    t.once('error', reject);
  });
  clearTimeout(limit);
  const readyMs = performance.now() - t0;
  const m1 = mem();
  out({
    event: 'ready',
    metadataMs,
    readyMs,
    rssMiB: m1.rss - m0.rss,
    pieces: t.info?.pieceCount,
    state: t.state,
  });
  await client.destroy();
} else if (mode === 'recheck') {
  // A file of <gib> GiB in 4 MiB pieces with <written-mib> MiB of data at its start (random: a
  // piece of it fails; the rest is holes, or all data with <written-mib> = all): recheck time.
  const [dir, gib, writtenMib] = args as [string, string, string];
  const pieceLength = 4 * 1024 * 1024;
  const count = (Number(gib) * 1024 * 1024 * 1024) / pieceLength;
  const zero = createHash('sha1').update(new Uint8Array(pieceLength)).digest();
  const pieceHashes = new Uint8Array(count * 20);
  for (let i = 0; i < count; i++) pieceHashes.set(zero, i * 20);
  const length = count * pieceLength;
  const meta = {
    infoHash: 'ab'.repeat(20),
    infoHashBytes: new Uint8Array(20).fill(0xab),
    infoBytes: new Uint8Array(0),
    info: new Map(),
    name: 'z.bin',
    pieceLength,
    pieceCount: count,
    lastPieceLength: pieceLength,
    length,
    pieceHashes,
    files: [{ path: 'z.bin', segments: ['z.bin'], length, offset: 0, padding: false }],
    multiFile: false,
    private: false,
  };
  const fd = openSync(join(dir, 'z.bin'), 'w');
  const written = writtenMib === 'all' ? length : Number(writtenMib) * 1024 * 1024;
  const chunk = new Uint8Array(randomBytes(pieceLength));
  for (let at = 0; at < written; at += pieceLength) writeSync(fd, chunk, 0, pieceLength, at);
  ftruncateSync(fd, length);
  closeSync(fd);
  const pool = new HashPool({ size: 2 });
  const store = new FsChunkStore(meta, { path: dir, hashPool: pool });
  const c0 = cpu();
  const t0 = performance.now();
  const bits = await store.recheck();
  const seconds = (performance.now() - t0) / 1000;
  out({ event: 'rechecked', seconds, cpuS: cpu() - c0, bytes: length, valid: bitfieldCount(bits) });
  await store.close();
  await pool.close();
} else if (mode === 'wire') {
  // A bare wire peer. Without BEP 6 (fast: false) a client with pieces must send a bitfield;
  // then ours: every even piece (the client becomes interested), timed to its `interested`.
  const [port, infoHashHex, count] = args as [string, string, string];
  const pieceCount = Number(count);
  const infoHash = Uint8Array.from(Buffer.from(infoHashHex, 'hex'));
  const conn = await new TcpTransport().connect({ host: '127.0.0.1', port: Number(port) });
  const wire = new PeerWire(conn, {
    peerId: new Uint8Array(randomBytes(20)),
    infoHash,
    torrent: { pieceCount, pieceLength: 4 * 1024 * 1024, length: pieceCount * 4 * 1024 * 1024 },
    fast: process.env.HUGE_WIRE_FAST === '1',
  });
  const t0 = performance.now();
  const first = await new Promise<{ kind: string; bytes: number; ms: number }>((resolve, reject) => {
    const at = () => performance.now() - t0;
    wire.once('bitfield', (bits) => resolve({ kind: 'bitfield', bytes: bits.length, ms: at() }));
    wire.once('have-all', () => resolve({ kind: 'have-all', bytes: 0, ms: at() }));
    wire.once('have-none', () => resolve({ kind: 'have-none', bytes: 0, ms: at() }));
    wire.once('close', (e) => reject(e ?? new Error('closed')));
    setTimeout(() => resolve({ kind: 'none', bytes: 0, ms: at() }), 2000).unref();
    wire.handshake();
  });
  const ours = new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xaa);
  const t1 = performance.now();
  const interested = await new Promise<number>((resolve) => {
    wire.once('interested', () => resolve(performance.now() - t1));
    setTimeout(() => resolve(-1), 5000).unref();
    wire.bitfield(ours);
  });
  out({ event: 'wire', received: first, sentBitfieldBytes: ours.length, interestedMs: interested });
  wire.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
