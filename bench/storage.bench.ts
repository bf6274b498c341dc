/**
 * storage: a download-shaped write + verify of a torrent (default 512 MiB, 1 MiB pieces, 16 KiB
 * blocks) into tmpfs through FsChunkStore, with SHA-1 in the worker pool vs on the main thread
 * (baseline, same run); then recheck (resume) of the same data both ways.
 *
 * Env: BTTKIT_BENCH_STORAGE_MB (size, default 512), BTTKIT_BENCH_DIR (default /dev/shm or tmpdir).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InfoDictionary, TorrentFile } from '../src/metainfo/index.js';
import { bitfieldCount, FsChunkStore, HashPool } from '../src/storage/index.js';

const MiB = 1024 * 1024;
const sizeMb = Number(process.env.BTTKIT_BENCH_STORAGE_MB ?? 512);
const base = process.env.BTTKIT_BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const pieceLength = MiB;
const block = 16 * 1024;
const length = sizeMb * MiB;
const pieceCount = Math.ceil(length / pieceLength);

// Content: a 64 MiB pseudo-random pattern, each piece stamped with its index so no two are equal.
const pattern = new Uint8Array(64 * MiB);
for (let i = 0, x = 1; i < pattern.length; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  pattern[i] = x & 0xff;
}
function pieceData(i: number): Uint8Array {
  const n = Math.min(pieceLength, length - i * pieceLength);
  const start = (i * pieceLength) % pattern.length;
  const out = pattern.slice(start, start + n);
  new DataView(out.buffer).setUint32(0, i);
  return out;
}
const pieceHashes = new Uint8Array(pieceCount * 20);
for (let i = 0; i < pieceCount; i++)
  pieceHashes.set(createHash('sha1').update(pieceData(i)).digest(), i * 20);

// Four files so pieces cross file boundaries.
const files: TorrentFile[] = [];
for (let k = 0, off = 0; k < 4; k++) {
  const len = k < 3 ? Math.floor(length / 4) + 12345 * (k + 1) : length - off;
  files.push({ path: `f${k}.bin`, segments: [`f${k}.bin`], length: len, offset: off, padding: false });
  off += len;
}
const meta: InfoDictionary = {
  infoHash: createHash('sha1').update(pieceHashes).digest('hex'),
  infoHashBytes: new Uint8Array(20),
  infoBytes: new Uint8Array(0),
  info: new Map(),
  name: 'bench',
  pieceLength,
  pieceCount,
  lastPieceLength: length - (pieceCount - 1) * pieceLength,
  length,
  pieceHashes,
  files,
  multiFile: true,
  private: false,
};

interface Result {
  seconds: number;
  cpu: number;
  elu: number;
  ok: number;
}

async function measure(fn: () => Promise<number>): Promise<Result> {
  const c0 = process.cpuUsage();
  const e0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const ok = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const elu = performance.eventLoopUtilization(e0).utilization;
  return { seconds, cpu: (c.user + c.system) / 1e6, elu, ok };
}

async function writeAndVerify(dir: string, pool: HashPool): Promise<Result> {
  const store = new FsChunkStore(meta, { path: dir, hashPool: pool });
  const r = await measure(async () => {
    const verifies: Promise<boolean>[] = [];
    for (let i = 0; i < pieceCount; i++) {
      // Each block a fresh buffer, as from the network: one copy, like a socket read.
      const n = Math.min(pieceLength, length - i * pieceLength);
      const start = (i * pieceLength) % pattern.length;
      for (let o = 0; o < n; o += block) {
        const b = pattern.slice(start + o, start + Math.min(n, o + block));
        if (o === 0) new DataView(b.buffer).setUint32(0, i);
        await store.put(i, o, b);
      }
      verifies.push(store.verify(i));
    }
    const results = await Promise.all(verifies);
    await store.flush();
    return results.filter(Boolean).length;
  });
  await store.close();
  return r;
}

async function recheck(dir: string, pool: HashPool): Promise<Result> {
  const store = new FsChunkStore(meta, { path: dir, hashPool: pool });
  const r = await measure(async () => bitfieldCount(await store.recheck()));
  await store.close();
  return r;
}

const workers = new HashPool();
const inline = new HashPool({ size: 0 });
const dir = mkdtempSync(join(base, 'bttkit-storage-bench-'));
try {
  // Warm-up (workers started, code paths compiled) on a small prefix is implicit in the first run;
  // run each mode twice and keep the faster.
  const best = async (fn: () => Promise<Result>) => {
    const a = await fn();
    const b = await fn();
    return a.seconds <= b.seconds ? a : b;
  };
  const fresh = (name: string) => {
    rmSync(join(dir, name), { recursive: true, force: true });
    return join(dir, name);
  };
  const wMain = await best(() => writeAndVerify(fresh('main'), inline));
  const wPool = await best(() => writeAndVerify(fresh('pool'), workers));
  const rMain = await best(() => recheck(join(dir, 'pool'), inline));
  const rPool = await best(() => recheck(join(dir, 'pool'), workers));
  for (const r of [wMain, wPool, rMain, rPool]) {
    if (r.ok !== pieceCount) throw new Error(`only ${r.ok} of ${pieceCount} pieces verified`);
  }
  const mbps = (r: Result) => length / 1e6 / r.seconds;
  const gib = length / (1024 * MiB);
  console.log(
    `${sizeMb} MiB, ${pieceCount} pieces of 1 MiB, 16 KiB blocks, 4 files, into ${base}; ` +
      `${cpus().length} cores, hash pool of ${workers.size} workers, Node ${process.version}`,
  );
  console.log(
    '| operation | SHA-1 on | s | MB/s | CPU-s/GiB (all threads) | main-thread busy | vs main thread |',
  );
  console.log('|---|---|---|---|---|---|---|');
  const row = (op: string, on: string, r: Result, baseline: Result) =>
    console.log(
      `| ${op} | ${on} | ${r.seconds.toFixed(2)} | ${mbps(r).toFixed(0)} | ${(r.cpu / gib).toFixed(2)} | ` +
        `${(r.elu * 100).toFixed(0)} % | ${(mbps(r) / mbps(baseline)).toFixed(2)}× |`,
    );
  row('write + verify', 'main thread (baseline)', wMain, wMain);
  row('write + verify', `worker pool (${workers.size})`, wPool, wMain);
  row('recheck', 'main thread (baseline)', rMain, rMain);
  row('recheck', `worker pool (${workers.size})`, rPool, rMain);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await workers.close();
}
