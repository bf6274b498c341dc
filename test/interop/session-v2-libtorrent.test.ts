/**
 * BitTorrent v2 (BEP 52) sessions against the real libtorrent 2.0.8 (Debian's python3-libtorrent)
 * over TCP on 127.0.0.1, both directions, for a v2-only and a hybrid multi-file torrent (nested
 * folders, a file under a 16 KiB block, one of exactly a piece, an empty one, multi-piece ones),
 * every payload compared byte for byte:
 * - libtorrent creates and seeds (test/fixtures/lt_seed_v2.py, data checked so it holds every
 *   Merkle tree); bttkit reads that .torrent with libtorrent's v2 info-hash and downloads it;
 * - bttkit creates (`createTorrent({ version })`) and seeds; libtorrent (test/fixtures/lt_peer.py)
 *   downloads it and reports the same v2 info-hash;
 * - a magnet with only `urn:btmh:`: bttkit fetches the metadata and then the piece layers (hash
 *   requests with proofs) from the libtorrent seeder, and libtorrent does the same from bttkit —
 *   from bttkit's own .torrent, and from what bttkit itself got from a magnet (relayed);
 * - a file of 701 pieces: its piece layer goes in several runs, each with its proof, both ways;
 * - a single-file v2 torrent (a padding file after its one file, as libtorrent lists it).
 * Every connection is checked to have negotiated BEP 52 (a hybrid's upgraded). uTP is off on
 * both sides (TCP only): the tests are about v2, not the transport.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, formatMagnet, type Metainfo, parseTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import type { PeerWire } from '../../src/wire/index.js';
import { type JsonLines, jsonLines, stderrOf, tail, waitEvent } from '../helpers/json-lines.js';
import { freePort, Procs, waitForExit } from '../helpers/procs.js';
import { pseudoRandomBytes, ROOT, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const LT_PEER = join(ROOT, 'test/fixtures/lt_peer.py');
const LT_SEED_V2 = join(ROOT, 'test/fixtures/lt_seed_v2.py');
const PIECE = 64 * 1024;
/** Nested folders, a file under a block, one of exactly a piece, an empty one, multi-piece ones. */
const FILES: [string, number, number][] = [
  ['album/cd1/track.bin', 20 * PIECE + 777, 61],
  ['album/cd1/deeper/notes.txt', 9_000, 62],
  ['album/tiny.txt', 300, 63],
  ['one-piece.bin', PIECE, 64],
  ['empty.txt', 0, 65],
  ['z/last.bin', 7 * PIECE + 5, 66],
];
const TOTAL = FILES.reduce((n, f) => n + f[1], 0);

const tmp = tempDir('bttkit-session-v2-lt-');
const procs = new Procs();
/** The folder holding `set/`, the content. */
const srcParent = join(tmp.path, 'src');
const src = join(srcParent, 'set');
let dirs = 0;

type Kind = 'v2' | 'hybrid';
/** The torrents bttkit made, bytes and a file libtorrent reads. */
const ours = {} as Record<Kind, { torrent: Uint8Array; meta: Metainfo; file: string }>;

beforeAll(async () => {
  for (const [p, n, seed] of FILES) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), pseudoRandomBytes(n, seed));
  }
  for (const kind of ['v2', 'hybrid'] as const) {
    const made = await createTorrent(src, { version: kind === 'v2' ? 2 : 'hybrid', pieceLength: PIECE });
    const file = join(tmp.path, `bttkit-${kind}.torrent`);
    writeFileSync(file, made.torrent);
    ours[kind] = { torrent: made.torrent, meta: made.metainfo, file };
  }
});

afterAll(() => {
  procs.killAll();
  tmp.cleanup();
});

function newDir(name: string): string {
  dirs++;
  return join(tmp.path, `${dirs}-${name}`);
}

/** Every real file of the set under `dir/set`, byte for byte (padding files are not looked at). */
function expectSameFiles(dir: string): void {
  for (const [p] of FILES) {
    const got = readFileSync(join(dir, 'set', p));
    expect(Buffer.compare(got, readFileSync(join(src, p))), p).toBe(0);
  }
}

function done(t: Torrent, ms: number, why: () => string): Promise<void> {
  return Promise.race([
    new Promise<void>((r) => (t.done ? r() : t.once('done', r))),
    new Promise<void>((_, rej) =>
      t.once('error', (e) => rej(new Error(`bttkit: ${e.code} ${e.message}\n${why()}`))),
    ),
    new Promise<void>((_, rej) =>
      setTimeout(() => rej(new Error(`bttkit not done in ${ms} ms\n${why()}`)), ms).unref(),
    ),
  ]);
}

/** A libtorrent seeder of a torrent libtorrent itself created from `set/`. */
interface LtSeeder extends JsonLines {
  port: number;
  v2: string;
  v1: string | null;
  torrent: Uint8Array;
  meta: Metainfo;
}

async function ltCreateAndSeed(kind: Kind, data = src, pieceLength = PIECE): Promise<LtSeeder> {
  const file = join(tmp.path, `libtorrent-${kind}-${pieceLength}.torrent`);
  const r = jsonLines(
    procs.start(SYSTEM_PYTHON, [LT_SEED_V2, data, file, String(pieceLength), kind], {
      LT_MAX_SECONDS: '300',
    }),
  );
  const s = await waitEvent(r, (e) => e.event === 'seeding', 60_000, `libtorrent ${kind} seeder`);
  const torrent = new Uint8Array(readFileSync(file));
  return {
    ...r,
    port: Number(s.port),
    v2: String(s.v2),
    v1: typeof s.v1 === 'string' ? s.v1 : null,
    torrent,
    meta: parseTorrent(torrent),
  };
}

/** bttkit downloads `source` from one peer, TCP only; returns the torrent once done and flushed. */
async function bttkitDownload(
  source: Uint8Array | string,
  port: number,
  dir: string,
  lt: JsonLines,
  listen = false,
): Promise<{ torrent: Torrent; warnings: string[]; client: Client; v2: boolean[] }> {
  const client = new Client({ utp: false });
  if (listen) await client.listen(0, '127.0.0.1');
  const t = client.add(source, { path: dir, peers: [{ host: '127.0.0.1', port }] });
  const warnings: string[] = [];
  t.on('warning', (w) => warnings.push(`${w.code}: ${w.message}`));
  const v2 = negotiated(t);
  try {
    await done(t, 60_000, () => `${warnings.join('\n')}\n${tail(lt)}`);
    await t.store?.flush();
  } catch (err) {
    await client.destroy();
    throw err;
  }
  return { torrent: t, warnings, client, v2 };
}

/**
 * Whether BEP 52 was negotiated on each connection of `t`, read once both handshakes are in (by
 * the extended handshake, which libtorrent always sends; a closed wire forgets it).
 */
function negotiated(t: Torrent): boolean[] {
  const v2: boolean[] = [];
  t.on('wire', (w: PeerWire) => w.once('extended-handshake', () => v2.push(w.v2)));
  return v2;
}

/** A bttkit seeder of one of our torrents, TCP only. */
async function bttkitSeed(
  kind: Kind,
): Promise<{ client: Client; port: number; torrent: Torrent; v2: boolean[] }> {
  const client = new Client({ utp: false });
  const { port } = await client.listen(0, '127.0.0.1');
  const t = client.add(ours[kind].torrent, { path: srcParent });
  const v2 = negotiated(t);
  await new Promise<void>((r) => (t.state === 'seeding' ? r() : t.once('ready', r)));
  expect(t.done).toBe(true);
  return { client, port, torrent: t, v2 };
}

/** lt_peer.py leeching `source` (a .torrent path or a magnet) from bttkit at `port`. */
async function ltLeech(source: string, port: number, dir: string): Promise<JsonLines> {
  const args = [LT_PEER, 'leech', source, dir, '--port', String(await freePort()), '--tcp-only'];
  args.push('--alerts', '--max-seconds', '60', '--peer', `127.0.0.1:${port}`);
  const r = jsonLines(procs.start(SYSTEM_PYTHON, args));
  const end = await waitEvent(
    r,
    (e) => e.event === 'done' || e.event === 'timeout',
    80_000,
    'libtorrent leecher',
  );
  expect(end.event, `${stderrOf(r.child)}\n${tail(r)}`).toBe('done');
  expect(await waitForExit(r.child, 10_000, 'libtorrent leecher')).toBe(0);
  return r;
}

/** libtorrent's alerts that say a piece failed its hash check or a peer was dropped for it. */
function hashFailures(r: JsonLines): string[] {
  return r.events
    .filter((e) => e.event === 'alert' && /hash_failed|peer_ban|hash.*fail/i.test(`${e.type} ${e.msg}`))
    .map((e) => `${e.type}: ${e.msg}`);
}

describe.each(['v2', 'hybrid'] as const)('%s torrent: bttkit ↔ libtorrent 2.0.8', (kind) => {
  let lt: LtSeeder | undefined;

  beforeAll(async () => {
    lt = await ltCreateAndSeed(kind);
  }, 90_000);

  afterAll(() => {
    lt?.child.kill('SIGKILL');
  });

  it('bttkit reads the .torrent libtorrent made, with libtorrent’s info-hashes', () => {
    const s = lt as LtSeeder;
    expect(s.meta.version).toBe(kind === 'v2' ? 2 : 'hybrid');
    expect(s.meta.infoHashV2).toBe(s.v2);
    if (kind === 'hybrid') expect(s.meta.infoHash).toBe(s.v1);
    expect(s.meta.name).toBe('set');
    expect(
      s.meta.files
        .filter((f) => !f.padding)
        .map((f) => f.path)
        .sort(),
    ).toEqual(FILES.map((f) => f[0]).sort());
    // The same content gives bttkit's own torrent the same v2 files (pieces roots).
    const roots = (m: Metainfo) =>
      m.files.filter((f) => f.piecesRoot).map((f) => `${f.path} ${toHex(f.piecesRoot as Uint8Array)}`);
    expect(roots(s.meta).sort()).toEqual(roots(ours[kind].meta).sort());
  });

  it('libtorrent seeds its .torrent, bttkit downloads it', async () => {
    const s = lt as LtSeeder;
    const dir = newDir(`bttkit-from-lt-${kind}`);
    const { torrent, warnings, client, v2 } = await bttkitDownload(s.torrent, s.port, dir, s);
    try {
      expectSameFiles(dir);
      expect(v2, 'a v2 connection (a hybrid upgraded)').toEqual([true]);
      expect(torrent.stats().hashFailures).toBe(0);
      expect(torrent.stats().downloaded).toBe(TOTAL);
      expect(warnings.filter((w) => w.startsWith('SESSION_BAD_HASHES'))).toEqual([]);
    } finally {
      await client.destroy();
    }
  });

  it('a magnet with only urn:btmh: gets the metadata and the piece layers from libtorrent', async () => {
    const s = lt as LtSeeder;
    const dir = newDir(`bttkit-btmh-from-lt-${kind}`);
    const magnet = formatMagnet({ infoHashV2: fromHex(s.v2) });
    expect(magnet).not.toContain('btih');
    const { torrent, warnings, client, v2 } = await bttkitDownload(magnet, s.port, dir, s);
    try {
      expectSameFiles(dir);
      expect(v2).toEqual([true]);
      expect(torrent.info?.version).toBe(kind === 'v2' ? 2 : 'hybrid');
      expect(warnings.filter((w) => w.startsWith('SESSION_BAD_HASHES'))).toEqual([]);
      expect(torrent.stats().hashFailures).toBe(0);
      // A hybrid is verified by its v1 hashes and fetches its layers alongside: until they are
      // in, it has no .torrent to give (bounded wait).
      for (let i = 0; i < 100 && torrent.torrentFile === undefined; i++)
        await new Promise((r) => setTimeout(r, 100));
      // The piece layers came from libtorrent's hash answers: the .torrent bttkit rebuilds carries
      // them, equal to those of libtorrent's .torrent.
      const rebuilt = parseTorrent(torrent.torrentFile ?? new Uint8Array(0));
      expect(rebuilt.infoHashV2).toBe(s.v2);
      expect(rebuilt.pieceLayers).toEqual(s.meta.pieceLayers);
    } finally {
      await client.destroy();
    }
  });

  if (kind === 'hybrid') {
    it('a magnet with only the urn:btih: of the hybrid: bttkit gets the metadata, and the data over v1', async () => {
      const s = lt as LtSeeder;
      const dir = newDir('bttkit-btih-from-lt');
      const magnet = formatMagnet({ infoHash: fromHex(s.v1 as string) });
      expect(magnet).not.toContain('btmh');
      const { torrent, warnings, client, v2 } = await bttkitDownload(magnet, s.port, dir, s);
      try {
        expectSameFiles(dir);
        // Dialled knowing only the v1 hash, so without the BEP 52 bit: the connection stays v1.
        expect(v2).toEqual([false]);
        expect(torrent.info?.version).toBe('hybrid');
        expect(torrent.info?.infoHashV2).toBe(s.v2);
        expect(torrent.stats().hashFailures).toBe(0);
        expect(warnings.filter((w) => w.startsWith('SESSION_BAD_HASHES'))).toEqual([]);
      } finally {
        await client.destroy();
      }
    });
  }

  it('bttkit passes on what it got from a urn:btmh: magnet: libtorrent fetches it from bttkit the same way', async () => {
    const s = lt as LtSeeder;
    const magnet = formatMagnet({ infoHashV2: fromHex(s.v2) });
    const got = await bttkitDownload(magnet, s.port, newDir(`bttkit-relay-${kind}`), s, true);
    try {
      const port = got.client.address?.port;
      expect(port).toBeGreaterThan(0);
      const dir = newDir(`lt-from-relay-${kind}`);
      const r = await ltLeech(magnet, port as number, dir);
      expectSameFiles(dir);
      expect(hashFailures(r)).toEqual([]);
    } finally {
      await got.client.destroy();
    }
  });

  it('bttkit seeds the .torrent it made, libtorrent downloads it with the same v2 info-hash', async () => {
    const seeder = await bttkitSeed(kind);
    try {
      const dir = newDir(`lt-from-bttkit-${kind}`);
      const r = await ltLeech(ours[kind].file, seeder.port, dir);
      expectSameFiles(dir);
      const m = await waitEvent(r, (e) => e.event === 'metadata', 1000, 'libtorrent metadata');
      expect(m.v2).toBe(ours[kind].meta.infoHashV2);
      expect(m.v1).toBe(kind === 'hybrid' ? ours[kind].meta.infoHash : null);
      expect(hashFailures(r)).toEqual([]);
      expect(seeder.v2).toEqual([true]);
    } finally {
      await seeder.client.destroy();
    }
  });

  it('libtorrent downloads from a urn:btmh: magnet, bttkit serving the metadata and the piece layers', async () => {
    const seeder = await bttkitSeed(kind);
    try {
      const dir = newDir(`lt-btmh-from-bttkit-${kind}`);
      const magnet = formatMagnet({ infoHashV2: ours[kind].meta.infoHashV2Bytes as Uint8Array });
      const r = await ltLeech(magnet, seeder.port, dir);
      expectSameFiles(dir);
      const m = await waitEvent(r, (e) => e.event === 'metadata', 1000, 'libtorrent metadata');
      expect(m.v2).toBe(ours[kind].meta.infoHashV2);
      expect(hashFailures(r)).toEqual([]);
      expect(seeder.v2).toEqual([true]);
    } finally {
      await seeder.client.destroy();
    }
  });
});

describe('a file of more than 512 pieces: its piece layer in several hash requests, each with a proof', () => {
  const SMALL = 16 * 1024;
  const LENGTH = 700 * SMALL + 123; // 701 pieces: runs of 512 hashes, then the rest
  let data: Uint8Array;
  let lt: LtSeeder | undefined;

  beforeAll(async () => {
    const dir = join(tmp.path, 'bigset', 'big');
    mkdirSync(dir, { recursive: true });
    data = pseudoRandomBytes(LENGTH, 67);
    writeFileSync(join(dir, 'big.bin'), data);
    writeFileSync(join(dir, 'small.txt'), 'small\n');
    lt = await ltCreateAndSeed('v2', dir, SMALL);
  }, 90_000);

  afterAll(() => {
    lt?.child.kill('SIGKILL');
  });

  function same(file: string): void {
    expect(Buffer.compare(readFileSync(file), data)).toBe(0);
  }

  it('bttkit fetches it from libtorrent after a urn:btmh: magnet, and passes it on to libtorrent', async () => {
    const s = lt as LtSeeder;
    expect(s.meta.pieceLayers?.size).toBe(1);
    const magnet = formatMagnet({ infoHashV2: fromHex(s.v2) });
    const out = newDir('bttkit-big');
    const got = await bttkitDownload(magnet, s.port, out, s, true);
    try {
      same(join(out, 'big', 'big.bin'));
      expect(got.warnings.filter((w) => w.startsWith('SESSION_BAD_HASHES'))).toEqual([]);
      const rebuilt = parseTorrent(got.torrent.torrentFile ?? new Uint8Array(0));
      expect(rebuilt.pieceLayers).toEqual(s.meta.pieceLayers);
      // libtorrent fetches the layer from bttkit the same way (bttkit's answers carry the proofs).
      const dir = newDir('lt-big');
      const r = await ltLeech(magnet, got.client.address?.port as number, dir);
      same(join(dir, 'big', 'big.bin'));
      expect(hashFailures(r)).toEqual([]);
    } finally {
      await got.client.destroy();
    }
  });
});

describe('a single-file v2 torrent', () => {
  let lt: LtSeeder | undefined;
  let data: Uint8Array;

  beforeAll(async () => {
    const dir = join(tmp.path, 'single');
    mkdirSync(dir, { recursive: true });
    data = pseudoRandomBytes(5 * PIECE + 99, 68);
    writeFileSync(join(dir, 'one.bin'), data);
    lt = await ltCreateAndSeed('v2', join(dir, 'one.bin'));
  }, 90_000);

  afterAll(() => {
    lt?.child.kill('SIGKILL');
  });

  // A v2 single-file torrent lists a padding file after its one file (libtorrent does too): the
  // file store's Layout takes it (it refused it as "a single-file torrent whose file is not its
  // name" before).
  it('libtorrent seeds it, bttkit downloads it into a folder', async () => {
    const s = lt as LtSeeder;
    expect(s.meta.multiFile).toBe(false);
    const out = newDir('bttkit-single');
    const got = await bttkitDownload(s.torrent, s.port, out, s);
    try {
      expect(Buffer.compare(readFileSync(join(out, 'one.bin')), data)).toBe(0);
    } finally {
      await got.client.destroy();
    }
  });
});
