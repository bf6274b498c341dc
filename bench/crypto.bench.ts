/**
 * crypto: MSE/PE's costs, each against a baseline of the same run (medians of 5).
 * 1. RC4 keystream XOR, MB/s over 64 KiB chunks: the straightforward JavaScript loop (one byte
 *    per iteration, state in locals) as the baseline; bttkit's JavaScript engine (four bytes per
 *    32-bit XOR); bttkit's WebAssembly engine (the default); native AES-128-CTR (OpenSSL, AES-NI)
 *    as the ceiling of a stream cipher in Node (its `update` allocates each output: on this
 *    loaded VM it swings from 0.2 to 3.4 GB/s run to run); and OpenSSL's own RC4, measured in a
 *    child process started with `--openssl-legacy-provider` (what bttkit avoids needing).
 * 2. Diffie-Hellman per handshake (a key pair + the shared secret): bigint (ours) against
 *    `node:crypto`'s `createDiffieHellman` with the same prime.
 * 3. A TCP stream over loopback, sender in a child process writing one 256 KiB batch per
 *    event-loop turn (as PeerWire does), receiver here: plaintext against MSE with RC4 (both
 *    ends encrypt/decrypt): MB/s and the receiver's CPU seconds per GiB.
 * `MSE_STREAM_MB` (default 256) sets the size of each stream run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createDiffieHellman, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Connection, TcpTransport } from '../src/util/transport.js';
import { bigintToBytes, dhKeyPair, dhSecret, MSE_PRIME } from '../src/wire/mse/dh.js';
import { mseAccept, mseConnect, req2Hash } from '../src/wire/mse/index.js';
import { Rc4, type Rc4Backend, setRc4Backend } from '../src/wire/mse/rc4.js';

const INFO_HASH = new Uint8Array(20).fill(0x42);
const STREAM_MB = Number(process.env.MSE_STREAM_MB ?? 256);
const CHUNK = 64 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * MB/s of each variant applied to every 64 KiB chunk of `data`: median of 5 rounds after a
 * warm-up, the variants interleaved round by round (the machine's load moves; the ratios hold).
 */
function rates(data: Uint8Array, variants: (() => (chunk: Uint8Array) => void)[]): number[] {
  const runs: number[][] = variants.map(() => []);
  for (let r = 0; r < 6; r++) {
    variants.forEach((make, v) => {
      const fn = make();
      const t0 = performance.now();
      for (let off = 0; off < data.length; off += CHUNK) fn(data.subarray(off, off + CHUNK));
      const s = (performance.now() - t0) / 1000;
      if (r > 0) runs[v]?.push(data.length / 1e6 / s);
    });
  }
  return runs.map(median);
}

/** The straightforward loop: the baseline. */
function naiveRc4(key: Uint8Array): (chunk: Uint8Array) => void {
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    const si = s[i] as number;
    j = (j + si + (key[i % key.length] as number)) & 255;
    s[i] = s[j] as number;
    s[j] = si;
  }
  let i = 0;
  let j = 0;
  return (d) => {
    for (let k = 0; k < d.length; k++) {
      i = (i + 1) & 255;
      const si = s[i] as number;
      j = (j + si) & 255;
      const sj = s[j] as number;
      s[i] = sj;
      s[j] = si;
      d[k] = (d[k] as number) ^ (s[(si + sj) & 255] as number);
    }
  };
}

async function sender(port: number, mode: string, bytes: number): Promise<void> {
  const conn = await new TcpTransport().connect({ host: '127.0.0.1', port });
  const c: Connection =
    mode === 'rc4' ? (await mseConnect(conn, { infoHash: INFO_HASH, provide: ['rc4'] })).connection : conn;
  const chunk = new Uint8Array(randomBytes(CHUNK));
  const batch = [chunk, chunk, chunk, chunk];
  let sent = 0;
  // As PeerWire writes: one batch per event-loop turn (its WriteBatcher), waiting for onDrain
  // when the connection is above its high-water mark.
  await new Promise<void>((resolve) => {
    const turn = () => {
      if (sent >= bytes) {
        c.close();
        resolve();
        return;
      }
      sent += CHUNK * batch.length;
      if (c.write(batch)) setImmediate(turn);
    };
    c.attach({ onData: () => {}, onDrain: () => setImmediate(turn), onClose: () => resolve() });
    turn();
  });
}

/** One stream run: MB/s and the receiver's CPU seconds per GiB. */
async function streamRun(mode: 'plain' | 'rc4'): Promise<{ mbs: number; cpuPerGiB: number }> {
  const bytes = STREAM_MB * 1024 * 1024;
  let received = 0;
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let done: (v: { mbs: number; cpuPerGiB: number }) => void = () => {};
  const result = new Promise<{ mbs: number; cpuPerGiB: number }>((r) => {
    done = r;
  });
  const transport = new TcpTransport();
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, async (conn) => {
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    const c =
      mode === 'rc4'
        ? (
            await mseAccept(conn, {
              policy: 'forced',
              allow: ['rc4'],
              lookup: (r) =>
                Buffer.from(r).equals(Buffer.from(req2Hash(INFO_HASH))) ? INFO_HASH : undefined,
            })
          ).connection
        : conn;
    c.attach({
      onData: (d) => {
        received += d.length;
      },
      onDrain: () => {},
      onClose: () => {
        const s = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        done({
          mbs: received / 1e6 / s,
          cpuPerGiB: (cpu.user + cpu.system) / 1e6 / (received / 2 ** 30),
        });
      },
    });
  });
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      'sender',
      String(listener.address.port),
      mode,
      String(bytes),
    ],
    { stdio: 'inherit' },
  );
  const r = await result;
  await listener.close();
  await new Promise((res) => child.once('exit', res));
  if (received < bytes) throw new Error(`stream run received ${received} of ${bytes} bytes`);
  return r;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'sender') {
    await sender(Number(process.argv[3]), String(process.argv[4]), Number(process.argv[5]));
    return;
  }
  if (process.argv[2] === 'native-rc4') {
    // Runs under --openssl-legacy-provider: OpenSSL's RC4, for comparison only.
    const data = new Uint8Array(randomBytes(32 * 1024 * 1024));
    const [v = 0] = rates(data, [
      () => {
        const c = createCipheriv('rc4', randomBytes(20), null);
        return (d) => {
          c.update(d).copy(d);
        };
      },
    ]);
    console.log(v.toFixed(0));
    return;
  }
  const data = new Uint8Array(randomBytes(32 * 1024 * 1024));
  const key = new Uint8Array(randomBytes(20));
  const engine = (backend: Rc4Backend) => () => {
    setRc4Backend(backend);
    const r = new Rc4(key, 1024);
    return (c: Uint8Array) => r.apply(c);
  };
  const [naive = 0, js = 0, wasm = 0, aes = 0] = rates(data, [
    () => naiveRc4(key),
    engine('js'),
    engine('wasm'),
    () => {
      const c = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
      return (d) => {
        c.update(d).copy(d);
      };
    },
  ]);
  setRc4Backend('wasm');
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; RC4, 32 MiB in 64 KiB chunks, in place, median of 5:`,
  );
  console.log('| cipher | MB/s | vs naive loop |');
  console.log('|---|---|---|');
  const row = (name: string, v: number) =>
    console.log(`| ${name} | ${v.toFixed(0)} | ${(v / naive).toFixed(2)}× |`);
  row('RC4, straightforward JS loop (baseline)', naive);
  row('RC4, bttkit JS engine (32-bit XOR)', js);
  row('RC4, bttkit WebAssembly engine (default)', wasm);
  row('AES-128-CTR, node:crypto (ceiling)', aes);
  const native = spawnSync(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', fileURLToPath(import.meta.url), 'native-rc4'],
    { encoding: 'utf8' },
  );
  const nativeRate = Number(native.stdout.trim());
  if (native.status === 0 && nativeRate > 0)
    row('RC4, OpenSSL (needs --openssl-legacy-provider; other process)', nativeRate);

  const handshakes = 50;
  const timeIt = (fn: () => void) => {
    const runs: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let k = 0; k < handshakes; k++) fn();
      runs.push((performance.now() - t0) / handshakes);
    }
    return median(runs);
  };
  const other = dhKeyPair().publicKey;
  const big = timeIt(() => {
    const k = dhKeyPair();
    dhSecret(k, other);
  });
  const prime = Buffer.from(bigintToBytes(MSE_PRIME, 96));
  const nativeDh = timeIt(() => {
    const d = createDiffieHellman(prime, Buffer.from([2]));
    d.setPrivateKey(randomBytes(20));
    d.generateKeys();
    d.computeSecret(Buffer.from(other));
  });
  console.log('\nDiffie-Hellman per handshake (key pair + secret), median of 5 × 50:');
  console.log('| implementation | ms |');
  console.log('|---|---|');
  console.log(`| bigint (bttkit) | ${big.toFixed(2)} |`);
  console.log(`| node:crypto createDiffieHellman (per connection) | ${nativeDh.toFixed(2)} |`);

  const plain: { mbs: number; cpuPerGiB: number }[] = [];
  const rc4: { mbs: number; cpuPerGiB: number }[] = [];
  for (let r = 0; r < 5; r++) {
    plain.push(await streamRun('plain'));
    rc4.push(await streamRun('rc4'));
  }
  const p = median(plain.map((x) => x.mbs));
  const e = median(rc4.map((x) => x.mbs));
  console.log(`\nTCP loopback, ${STREAM_MB} MiB per run, sender in a child process, median of 5:`);
  console.log('| stream | MB/s (runs) | receiver CPU s/GiB | vs plaintext |');
  console.log('|---|---|---|---|');
  const fmt = (xs: { mbs: number }[]) => xs.map((x) => x.mbs.toFixed(0)).join(', ');
  console.log(
    `| plaintext (baseline) | ${p.toFixed(0)} (${fmt(plain)}) | ${median(plain.map((x) => x.cpuPerGiB)).toFixed(2)} | 1.00× |`,
  );
  console.log(
    `| MSE, RC4 | ${e.toFixed(0)} (${fmt(rc4)}) | ${median(rc4.map((x) => x.cpuPerGiB)).toFixed(2)} | ${(e / p).toFixed(2)}× |`,
  );
}

await main();
