/**
 * A hybrid torrent (BEP 52 + BEP 47 padding) made and seeded by bttkit, downloaded over a v1
 * connection — the peer knows only the v1 info-hash, sets no BEP 52 bit, and asks for pieces in
 * the v1 view (`files` with its padding files, checked with the SHA-1 `pieces`) — over TCP on
 * 127.0.0.1, the real files compared byte for byte:
 * - libtorrent 2.0.8 from a `urn:btih:`-only magnet: it dials with the v1 hash and no v2 bit
 *   (it knows nothing of v2 until the metadata arrives, and a connection keeps what its handshake
 *   settled), so the whole transfer runs v1 on bttkit's side (`wire.v2` false);
 * - one swarm of both kinds: that v1 libtorrent and a v2 one (from the .torrent) at once.
 * Debian's own v1-only clients cannot read a hybrid at all (pinned by the last tests, so that the
 * day Debian ships fixed ones they fail and can join): aria2 1.36 hashes the info dictionary
 * after dropping the entries with an empty key (the `""` leaves of BEP 52's `file tree`), so it
 * announces and handshakes a v1 info-hash nobody else has, for any hybrid — libtorrent's too
 * (aria2 issue 1903, fixed after 1.36); Transmission 3.00 refuses any hybrid as an "invalid or
 * corrupt torrent file".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, formatMagnet, type Metainfo } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import type { PeerWire } from '../../src/wire/index.js';
import { type JsonLines, jsonLines, stderrOf, tail, waitEvent } from '../helpers/json-lines.js';
import { freePort, Procs, waitForExit } from '../helpers/procs.js';
import { pseudoRandomBytes, ROOT, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';
import { startTransmission, type Transmission } from '../helpers/transmission.js';

const LT_PEER = join(ROOT, 'test/fixtures/lt_peer.py');
const PIECE = 64 * 1024;
/** Nested folders, a file under a block, one of exactly a piece, an empty one, multi-piece ones. */
const FILES: [string, number, number][] = [
  ['album/cd1/track.bin', 20 * PIECE + 777, 71],
  ['album/cd1/deeper/notes.txt', 9_000, 72],
  ['album/tiny.txt', 300, 73],
  ['one-piece.bin', PIECE, 74],
  ['empty.txt', 0, 75],
  ['z/last.bin', 7 * PIECE + 5, 76],
];
const TOTAL = FILES.reduce((n, f) => n + f[1], 0);

const tmp = tempDir('bttkit-hybrid-v1-');
const procs = new Procs();
const daemons: Transmission[] = [];
const srcParent = join(tmp.path, 'src');
const src = join(srcParent, 'set');
let torrent: Uint8Array;
let meta: Metainfo;
let torrentFile = '';
let dirs = 0;

beforeAll(async () => {
  for (const [p, n, seed] of FILES) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), pseudoRandomBytes(n, seed));
  }
  const made = await createTorrent(src, { version: 'hybrid', pieceLength: PIECE });
  torrent = made.torrent;
  meta = made.metainfo;
  expect(meta.version).toBe('hybrid');
  expect(meta.files.filter((f) => f.padding).length).toBeGreaterThan(2);
  torrentFile = join(tmp.path, 'hybrid.torrent');
  writeFileSync(torrentFile, torrent);
});

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  procs.killAll();
  tmp.cleanup();
});

function newDir(name: string): string {
  dirs++;
  return join(tmp.path, `${dirs}-${name}`);
}

function expectSameFiles(dir: string): void {
  for (const [p] of FILES) {
    expect(Buffer.compare(readFileSync(join(dir, 'set', p)), readFileSync(join(src, p))), p).toBe(0);
  }
}

async function transmission(downloadDir: string): Promise<Transmission> {
  const d = await startTransmission({ encryption: 'tolerated', utp: false, downloadDir });
  daemons.push(d);
  return d;
}

/** What bttkit's side of a connection settled: the peer's BEP 52 bit, and v2 negotiated. */
interface Settled {
  peerBit: boolean | undefined;
  v2: boolean;
}

/** A bttkit seeder of the hybrid, TCP only; what each connection settled, kept. */
async function bttkitSeed(): Promise<{ client: Client; port: number; torrent: Torrent; conns: Settled[] }> {
  const client = new Client({ utp: false });
  const { port } = await client.listen(0, '127.0.0.1');
  const t = client.add(torrent, { path: srcParent });
  const conns: Settled[] = [];
  // Read once both handshakes are in (a closed wire forgets its v2), i.e. by the extended
  // handshake, which libtorrent always sends.
  t.on('wire', (w: PeerWire) =>
    w.once('extended-handshake', () => conns.push({ peerBit: w.peerHandshake?.v2, v2: w.v2 })),
  );
  await new Promise<void>((r) => (t.state === 'seeding' ? r() : t.once('ready', r)));
  expect(t.done).toBe(true);
  return { client, port, torrent: t, conns };
}

/** lt_peer.py leeching `source` (a .torrent path or a magnet) from bttkit at `port`. */
async function ltLeech(source: string, port: number, dir: string, flags: string[] = []): Promise<JsonLines> {
  const args = [LT_PEER, 'leech', source, dir, '--port', String(await freePort()), '--tcp-only'];
  args.push('--alerts', '--max-seconds', '60', '--peer', `127.0.0.1:${port}`, ...flags);
  return jsonLines(procs.start(SYSTEM_PYTHON, args));
}

async function ltDone(r: JsonLines): Promise<void> {
  const end = await waitEvent(
    r,
    (e) => e.event === 'done' || e.event === 'timeout',
    80_000,
    'libtorrent leecher',
  );
  expect(end.event, `${stderrOf(r.child)}\n${tail(r)}`).toBe('done');
  expect(await waitForExit(r.child, 10_000, 'libtorrent leecher')).toBe(0);
}

/** The v1 view only: a magnet with the v1 info-hash and nothing else. */
function v1Magnet(): string {
  const m = formatMagnet({ infoHash: meta.infoHashBytes });
  expect(m).not.toContain('btmh');
  return m;
}

describe('a hybrid seeded by bttkit, downloaded over v1 connections', () => {
  it('libtorrent from a urn:btih:-only magnet: no BEP 52 bit, v1 pieces, the same files', async () => {
    const seeder = await bttkitSeed();
    try {
      const dir = newDir('lt-v1');
      const lt = await ltLeech(v1Magnet(), seeder.port, dir);
      await ltDone(lt);
      expectSameFiles(dir);
      const m = await waitEvent(lt, (e) => e.event === 'metadata', 1000, 'libtorrent metadata');
      expect(m.v1).toBe(meta.infoHash);
      const conns = seeder.conns;
      expect(conns.length).toBeGreaterThan(0);
      expect(conns).toEqual(conns.map(() => ({ peerBit: false, v2: false })));
      expect(seeder.torrent.stats().uploaded).toBeGreaterThanOrEqual(TOTAL);
      expect(lt.events.filter((e) => /hash_failed/.test(String(e.type)))).toEqual([]);
    } finally {
      await seeder.client.destroy();
    }
  });

  it('one swarm: bttkit seeds a v1 and a v2 libtorrent at once', async () => {
    const seeder = await bttkitSeed();
    try {
      const v1Dir = newDir('lt-v1-swarm');
      const v2Dir = newDir('lt-v2-swarm');
      // Capped (bytes/s) so that both transfers overlap.
      const rate = ['--rate', String(1_000_000)];
      const [v1, v2] = [
        await ltLeech(v1Magnet(), seeder.port, v1Dir, rate),
        await ltLeech(torrentFile, seeder.port, v2Dir, rate),
      ];
      await Promise.all([ltDone(v1), ltDone(v2)]);
      expectSameFiles(v1Dir);
      expectSameFiles(v2Dir);
      const conns = seeder.conns;
      expect(conns).toContainEqual({ peerBit: false, v2: false });
      expect(conns).toContainEqual({ peerBit: true, v2: true });
      // Every byte left bttkit at least once; the two libtorrents, which find each other through
      // our PEX, may trade the rest between them (so not 2 × TOTAL: that failed in CI).
      expect(seeder.torrent.stats().uploaded).toBeGreaterThanOrEqual(TOTAL);
    } finally {
      await seeder.client.destroy();
    }
  });
});

describe("Debian's v1-only clients and hybrids", () => {
  it('aria2 1.36 computes a v1 info-hash of its own (the file tree without its "" keys)', () => {
    const r = spawnSync('aria2c', ['-S', torrentFile], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const ih = /Info Hash: ([0-9a-f]{40})/.exec(r.stdout)?.[1];
    expect(ih).toMatch(/^[0-9a-f]{40}$/);
    // The day this fails, Debian's aria2 hashes hybrids right: make it a leecher above.
    expect(ih).not.toBe(meta.infoHash);
  });

  it('Transmission 3.00 refuses a hybrid as an invalid torrent', async () => {
    const tr = await transmission(newDir('transmission'));
    try {
      // The day this fails, Debian's Transmission reads hybrids: make it a leecher above.
      await expect(tr.add(torrent)).rejects.toThrow(/invalid or corrupt torrent/);
    } finally {
      await tr.stop();
    }
  });
});
