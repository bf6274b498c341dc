/**
 * Transmission 3.00 (Debian's transmission-daemon) as a second real peer for uTP and MSE/PE:
 * `encryption: 2` (required: Transmission offers and accepts RC4 only) against
 * `bttkit --encryption forced`, each direction, over TCP (`--no-utp`) and over uTP (`--no-tcp`:
 * Transmission has uTP on by default but no setting to turn TCP off, so bttkit refusing TCP is
 * what makes the transfer uTP-only). Transmission's own view of the connection (`isUTP`,
 * `isEncrypted` from its RPC) is asserted, and each payload compared byte for byte.
 *
 * What Transmission cannot do here, and how the tests go around it: its RPC has no call to
 * connect to a peer (it finds peers through trackers, DHT, PEX and LPD only, all off here), so
 * bttkit always dials it — `download --peer` when Transmission seeds, `seed --peer` when it
 * downloads.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { freePort, Procs, waitForExit } from '../helpers/procs.js';
import { CLI, pseudoRandomBytes, tempDir } from '../helpers/run.js';
import {
  startTransmission,
  type Transmission,
  type TransmissionEncryption,
  type TransmissionPeer,
} from '../helpers/transmission.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('bttkit-transmission-');
const procs = new Procs();
const seedParent = join(tmp.path, 'seed');
let torrentFile = '';
let torrentBytes: Uint8Array;
let meta: Metainfo;
let dirs = 0;
const daemons: Transmission[] = [];

/** Transmission's statuses (RPC `status`). */
const TR_SEEDING = 6;

afterAll(async () => {
  procs.killAll();
  await Promise.all(daemons.map((d) => d.stop()));
  tmp.cleanup();
});

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const content = join(seedParent, 'content');
  mkdirSync(join(content, 'nested'), { recursive: true });
  writeFileSync(join(content, 'a.bin'), pseudoRandomBytes(1_300_007, 181));
  writeFileSync(join(content, 'nested', 'b.bin'), pseudoRandomBytes(600_011, 182));
  writeFileSync(join(content, 'c.txt'), 'Transmission\n'.repeat(3001));
  const created = await createTorrent(content, { pieceLength: 32768 });
  meta = created.metainfo;
  torrentBytes = created.torrent;
  torrentFile = join(tmp.path, 'content.torrent');
  writeFileSync(torrentFile, torrentBytes);
});

function newDir(name: string): string {
  dirs++;
  const d = join(tmp.path, `${dirs}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function expectSameFiles(dir: string): void {
  for (const f of meta.files) {
    const a = readFileSync(join(seedParent, 'content', ...f.segments));
    const b = readFileSync(join(dir, 'content', ...f.segments));
    expect(Buffer.compare(a, b), f.path).toBe(0);
  }
}

function stderrOf(child: ChildProcess): string {
  return (child as ChildProcess & { stderrText?: () => string }).stderrText?.() ?? '';
}

function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (l) => out.push(l));
  return out;
}

async function daemon(encryption: TransmissionEncryption, downloadDir: string): Promise<Transmission> {
  const d = await startTransmission({ encryption, downloadDir });
  daemons.push(d);
  return d;
}

/**
 * Polls Transmission's peers of torrent `id` every 100 ms until `done()` resolves; returns
 * every peer seen with the state it had (connections can close before the end).
 */
async function watchPeers(tr: Transmission, id: number, done: Promise<unknown>): Promise<TransmissionPeer[]> {
  const seen = new Map<string, TransmissionPeer>();
  let finished = false;
  const settled = done.finally(() => {
    finished = true;
  });
  while (!finished) {
    for (const p of (await tr.torrent(id)).peers)
      seen.set(`${p.address}:${p.port}:${p.isUTP}:${p.isEncrypted}`, p);
    await Promise.race([settled.catch(() => {}), new Promise((r) => setTimeout(r, 100))]);
  }
  await settled;
  return [...seen.values()];
}

function expectPeers(peers: TransmissionPeer[], utp: boolean): void {
  expect(peers.length, 'Transmission listed no peer during the transfer').toBeGreaterThan(0);
  for (const p of peers) {
    expect({ isUTP: p.isUTP, isEncrypted: p.isEncrypted }, JSON.stringify(p)).toEqual({
      isUTP: utp,
      isEncrypted: true,
    });
  }
}

/** Transmission seeds the fixture; bttkit downloads it with `flags`. */
async function fromTransmission(flags: readonly string[]): Promise<TransmissionPeer[]> {
  const tr = await daemon('required', seedParent);
  try {
    const id = await tr.add(torrentBytes);
    await waitFor(async () => (await tr.torrent(id)).status === TR_SEEDING, 30_000, 'Transmission to seed');
    const dir = newDir('bttkit-leech');
    const args = [CLI, 'download', torrentFile, '-o', dir, '--peer', `127.0.0.1:${tr.peerPort}`, '--json'];
    args.push('--no-dht', '--port', String(await freePort()), '--timeout', '60', ...flags);
    const child = procs.start(process.execPath, args);
    const out = lines(child);
    const exited = waitForExit(child, 100_000, 'bttkit download');
    const peers = await watchPeers(tr, id, exited);
    expect(await exited, `bttkit download: ${out.join('\n')}\n${stderrOf(child)}`).toBe(0);
    expectSameFiles(dir);
    return peers;
  } finally {
    await tr.stop();
  }
}

/** bttkit seeds the fixture with `flags` and dials Transmission, which downloads it. */
async function toTransmission(flags: readonly string[]): Promise<TransmissionPeer[]> {
  const dir = newDir('transmission-leech');
  const tr = await daemon('required', dir);
  try {
    const id = await tr.add(torrentBytes);
    const args = [CLI, 'seed', torrentFile, seedParent, '--peer', `127.0.0.1:${tr.peerPort}`, '--json'];
    args.push('--no-dht', '--port', String(await freePort()), ...flags);
    const seeder = procs.start(process.execPath, args);
    const out = lines(seeder);
    try {
      const complete = waitFor(
        async () => {
          if (seeder.exitCode !== null)
            throw new Error(`bttkit seed exited: ${out.join('\n')}\n${stderrOf(seeder)}`);
          const t = await tr.torrent(id);
          if (t.error !== 0) throw new Error(`Transmission: ${t.errorString}`);
          return t.percentDone === 1 && t.leftUntilDone === 0;
        },
        100_000,
        'Transmission to complete the download',
      );
      const peers = await watchPeers(tr, id, complete);
      await waitFor(async () => (await tr.torrent(id)).status === TR_SEEDING, 20_000, 'Transmission to seed');
      expectSameFiles(dir);
      return peers;
    } finally {
      seeder.kill('SIGKILL');
    }
  } finally {
    await tr.stop();
  }
}

describe('bttkit ↔ Transmission, encryption required (RC4)', () => {
  it('over TCP: Transmission seeds, bttkit --no-utp --encryption forced downloads', async () => {
    expectPeers(await fromTransmission(['--no-utp', '--encryption', 'forced']), false);
  });

  it('over TCP: bttkit --no-utp --encryption forced seeds, Transmission downloads', async () => {
    expectPeers(await toTransmission(['--no-utp', '--encryption', 'forced']), false);
  });

  it('over uTP: Transmission seeds, bttkit --no-tcp --encryption forced downloads', async () => {
    expectPeers(await fromTransmission(['--no-tcp', '--encryption', 'forced']), true);
  });

  it('over uTP: bttkit --no-tcp --encryption forced seeds, Transmission downloads', async () => {
    expectPeers(await toTransmission(['--no-tcp', '--encryption', 'forced']), true);
  });

  it('refuses bttkit --encryption disabled: no byte moves', async () => {
    const tr = await daemon('required', seedParent);
    try {
      const id = await tr.add(torrentBytes);
      await waitFor(async () => (await tr.torrent(id)).status === TR_SEEDING, 30_000, 'Transmission to seed');
      const dir = newDir('bttkit-plaintext');
      const args = [CLI, 'download', torrentFile, '-o', dir, '--peer', `127.0.0.1:${tr.peerPort}`, '--json'];
      args.push('--no-dht', '--port', String(await freePort()), '--timeout', '6', '--encryption', 'disabled');
      const child = procs.start(process.execPath, args);
      const out = lines(child);
      const code = await waitForExit(child, 60_000, 'bttkit download');
      expect(code, out.join('\n')).not.toBe(0);
      expect((await tr.torrent(id)).uploadedEver).toBe(0);
    } finally {
      await tr.stop();
    }
  });
});
