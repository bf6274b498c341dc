/**
 * uTP and MSE/PE encryption against libtorrent 2.0 (Debian's python3-libtorrent) on loopback,
 * both directions, each payload compared byte for byte: the `bttkit` command as built, with
 * `--no-tcp`, `--no-utp` and `--encryption`, against test/fixtures/lt_peer.py configured to match.
 * libtorrent reports each connection's flags (`utp_socket`, `rc4_encrypted`): the tests assert
 * that the transfer really ran over the transport and encryption asked for, not a silent TCP or
 * plaintext fallback. bttkit ↔ bttkit over uTP with forced encryption closes the file, its seeder
 * shown to refuse TCP and plaintext handshakes by libtorrent peers that offer only those.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { freePort, Procs, waitForExit } from '../helpers/procs.js';
import { CLI, pseudoRandomBytes, ROOT, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const LT_PEER = join(ROOT, 'test/fixtures/lt_peer.py');
const tmp = tempDir('bttkit-transport-lt-');
const procs = new Procs();
const seedParent = join(tmp.path, 'seed');
let torrentFile = '';
let meta: Metainfo;
let dirs = 0;

/** libtorrent caps both directions at this (bytes/s): a transfer takes ~1 s, long enough for
 *  lt_peer.py (polling every 50 ms) to see the connection, and gentle on a shared machine. */
const LT_RATE = String(4_000_000);

afterAll(() => {
  procs.killAll();
  tmp.cleanup();
});

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  // Several files of odd sizes (pieces and blocks straddle file ends), nested, one empty.
  const content = join(seedParent, 'content');
  mkdirSync(join(content, 'nested'), { recursive: true });
  writeFileSync(join(content, 'a.bin'), pseudoRandomBytes(2_500_001, 171));
  writeFileSync(join(content, 'nested', 'b.bin'), pseudoRandomBytes(1_048_583, 172));
  writeFileSync(join(content, 'nested', 'c.txt'), 'uTP and MSE/PE\n'.repeat(7001));
  writeFileSync(join(content, 'empty.txt'), '');
  const created = await createTorrent(content, { pieceLength: 65536 });
  meta = created.metainfo;
  torrentFile = join(tmp.path, 'content.torrent');
  writeFileSync(torrentFile, created.torrent);
});

/** A JSON line of lt_peer.py about one connection. */
interface LtConnection {
  event: 'peer';
  ip: string;
  port: number;
  utp: boolean;
  rc4: boolean;
  obfuscated: boolean;
  outgoing: boolean;
  client: string;
  downloaded: number;
  uploaded: number;
}

interface Running {
  child: ChildProcess;
  /** Every stdout line parsed, in order. */
  events: Array<Record<string, unknown>>;
}

function collect(child: ChildProcess): Running {
  const events: Array<Record<string, unknown>> = [];
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        events.push({ text: line });
      }
    });
  }
  return { child, events };
}

function stderrOf(child: ChildProcess): string {
  return (child as ChildProcess & { stderrText?: () => string }).stderrText?.() ?? '';
}

async function waitEvent(
  r: Running,
  test: (e: Record<string, unknown>) => boolean,
  ms: number,
  what: string,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(
    () => {
      found = r.events.find(test);
      if (found) return true;
      if (r.child.exitCode !== null || r.child.signalCode !== null)
        throw new Error(`${what}: exited (${r.child.exitCode ?? r.child.signalCode})\n${stderrOf(r.child)}`);
      return false;
    },
    ms,
    what,
  );
  return found as Record<string, unknown>;
}

/** Starts lt_peer.py; resolves once it listens, with its port. */
async function startLt(
  mode: 'seed' | 'leech',
  dir: string,
  flags: readonly string[],
  peerPort?: number,
  maxSeconds = 90,
): Promise<Running & { port: number }> {
  const args = [LT_PEER, mode, torrentFile, dir, '--port', String(await freePort()), '--rate', LT_RATE];
  args.push('--max-seconds', String(maxSeconds), ...flags);
  if (peerPort !== undefined) args.push('--peer', `127.0.0.1:${peerPort}`);
  const r = collect(procs.start(SYSTEM_PYTHON, args));
  const l = await waitEvent(r, (e) => e.event === 'listening', 20_000, `libtorrent ${mode}`);
  return { ...r, port: Number(l.port) };
}

function ltConnections(r: Running): LtConnection[] {
  return r.events.filter((e): e is LtConnection & Record<string, unknown> => e.event === 'peer');
}

/** Every connection libtorrent had with bttkit ran over `utp`/`rc4` as asked, and one carried
 *  at least a MiB of payload (lt_peer.py reports a connection again each MiB). */
function expectConnections(r: Running, want: { utp: boolean; rc4?: boolean }): void {
  const conns = ltConnections(r);
  expect(conns.length, 'libtorrent saw no connection').toBeGreaterThan(0);
  for (const c of conns) {
    expect({ utp: c.utp, ...(want.rc4 !== undefined ? { rc4: c.rc4 } : {}) }, JSON.stringify(c)).toEqual(
      want,
    );
    expect(c.client).not.toMatch(/libtorrent/i);
  }
  expect(Math.max(...conns.map((c) => c.downloaded + c.uploaded))).toBeGreaterThanOrEqual(1 << 20);
}

function expectSameFiles(dir: string): void {
  for (const f of meta.files) {
    const a = readFileSync(join(seedParent, 'content', ...f.segments));
    const b = readFileSync(join(dir, 'content', ...f.segments));
    expect(Buffer.compare(a, b), f.path).toBe(0);
  }
}

function newDir(name: string): string {
  dirs++;
  return join(tmp.path, `${dirs}-${name}`);
}

/** `bttkit seed` of the fixture; resolves once it listens, with its port. */
async function bttkitSeed(flags: readonly string[]): Promise<Running & { port: number }> {
  const port = await freePort();
  const args = [CLI, 'seed', torrentFile, seedParent, '--port', String(port), '--json', '--no-dht', ...flags];
  const r = collect(procs.start(process.execPath, args));
  const l = await waitEvent(r, (e) => e.seeding === true, 20_000, 'bttkit seed');
  return { ...r, port: Number(l.port ?? port) };
}

/** `bttkit download` of the fixture from one peer; resolves when it exited 0. */
async function bttkitDownload(dir: string, peerPort: number, flags: readonly string[]): Promise<void> {
  const args = [CLI, 'download', torrentFile, '-o', dir, '--peer', `127.0.0.1:${peerPort}`, '--json'];
  args.push('--no-dht', '--port', String(await freePort()), '--timeout', '60', ...flags);
  const child = procs.start(process.execPath, args);
  const r = collect(child);
  const code = await waitForExit(child, 90_000, 'bttkit download');
  expect(code, `bttkit download exited ${code}\n${JSON.stringify(r.events)}\n${stderrOf(child)}`).toBe(0);
  expect(r.events.at(-1)).toMatchObject({ complete: true });
}

interface Case {
  name: string;
  lt: string[];
  bttkit: string[];
  want: { utp: boolean; rc4?: boolean };
}

const CASES: Case[] = [
  {
    // Defaults on both sides: both listen on TCP and uTP, and the side that dials tries uTP first.
    name: 'defaults: uTP is tried first',
    lt: [],
    bttkit: [],
    want: { utp: true },
  },
  {
    name: 'uTP only (libtorrent without TCP, bttkit --no-tcp)',
    lt: ['--utp-only'],
    bttkit: ['--no-tcp'],
    want: { utp: true },
  },
  {
    name: 'encryption forced over TCP (RC4 only)',
    lt: ['--tcp-only', '--enc', 'forced'],
    bttkit: ['--no-utp', '--encryption', 'forced'],
    want: { utp: false, rc4: true },
  },
  {
    name: 'uTP only and encryption forced',
    lt: ['--utp-only', '--enc', 'forced'],
    bttkit: ['--no-tcp', '--encryption', 'forced'],
    want: { utp: true, rc4: true },
  },
];

describe.each(CASES)('bttkit ↔ libtorrent: $name', (c) => {
  it('libtorrent seeds, bttkit downloads', async () => {
    const lt = await startLt('seed', seedParent, c.lt);
    try {
      const dir = newDir('bttkit-leech');
      await bttkitDownload(dir, lt.port, c.bttkit);
      expectSameFiles(dir);
      expectConnections(lt, c.want);
    } finally {
      lt.child.kill('SIGKILL');
    }
  });

  it('bttkit seeds, libtorrent downloads', async () => {
    const seeder = await bttkitSeed(c.bttkit);
    try {
      const dir = newDir('lt-leech');
      const lt = await startLt('leech', dir, c.lt, seeder.port);
      const end = await waitEvent(
        lt,
        (e) => e.event === 'done' || e.event === 'timeout',
        100_000,
        'libtorrent',
      );
      expect(end.event, stderrOf(lt.child)).toBe('done');
      expect(await waitForExit(lt.child, 10_000, 'libtorrent leecher')).toBe(0);
      expectSameFiles(dir);
      expectConnections(lt, c.want);
    } finally {
      seeder.child.kill('SIGKILL');
    }
  });
});

describe('bttkit ↔ bttkit over uTP with encryption forced', () => {
  it('transfers the payload; the seeder refuses TCP and plaintext handshakes', async () => {
    const flags = ['--no-tcp', '--encryption', 'forced'];
    const seeder = await bttkitSeed(flags);
    try {
      // What the seeder refuses, shown with libtorrent peers that offer only that (in parallel):
      // a TCP-only peer, and a uTP peer that speaks plaintext only.
      const tcpOnly = await startLt('leech', newDir('lt-tcp'), ['--tcp-only'], seeder.port, 8);
      const plain = await startLt(
        'leech',
        newDir('lt-plain'),
        ['--utp-only', '--enc', 'disabled'],
        seeder.port,
        8,
      );
      const dir = newDir('bttkit-bttkit');
      await bttkitDownload(dir, seeder.port, flags);
      expectSameFiles(dir);
      for (const [lt, what] of [
        [tcpOnly, 'a TCP-only libtorrent'],
        [plain, 'a plaintext-only libtorrent over uTP'],
      ] as const) {
        const end = await waitEvent(lt, (e) => e.event === 'done' || e.event === 'timeout', 20_000, what);
        expect(end, `${what} got data from a --no-tcp --encryption forced seeder`).toMatchObject({
          event: 'timeout',
          progress: 0,
        });
        expect(ltConnections(lt), what).toEqual([]);
      }
    } finally {
      seeder.child.kill('SIGKILL');
    }
  });
});
