import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTorrent,
  formatMagnet,
  type InfoDictionary,
  type Metainfo,
  parseTorrent,
} from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { FsChunkStore } from '../../src/storage/index.js';
import { corrupting } from '../helpers/corrupt-store.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-v2s-');
afterAll(tmp.cleanup);

const PIECE = 64 * 1024;
/** Nested folders, a file under a block, one of exactly a piece, an empty one, multi-piece ones. */
const FILES: [string, number, number][] = [
  ['album/cd1/track.bin', 20 * PIECE + 777, 1],
  ['album/tiny.txt', 300, 2],
  ['one-piece.bin', PIECE, 3],
  ['empty.txt', 0, 4],
  ['z/last.bin', 3 * PIECE + 5, 5],
];

let src = '';
const made: Record<'v2' | 'hybrid', { torrent: Uint8Array; metainfo: Metainfo }> = {} as never;

beforeAll(async () => {
  src = join(tmp.path, 'src', 'set');
  for (const [p, n, seed] of FILES) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), pseudoRandomBytes(n, seed));
  }
  made.v2 = await createTorrent(src, { version: 2, pieceLength: PIECE });
  made.hybrid = await createTorrent(src, { version: 'hybrid', pieceLength: PIECE });
});

function done(t: Torrent, ms = 60_000): Promise<void> {
  return Promise.race([
    new Promise<void>((r) => (t.done ? r() : t.once('done', r))),
    new Promise<void>((_, rej) => setTimeout(() => rej(new Error(`not done in ${ms} ms`)), ms).unref()),
  ]);
}

function sameFiles(dir: string): void {
  for (const [p] of FILES) {
    expect(Buffer.compare(readFileSync(join(dir, 'set', p)), readFileSync(join(src, p))), p).toBe(0);
  }
}

describe('BitTorrent v2 between two bttkit clients (BEP 52)', () => {
  for (const version of ['v2', 'hybrid'] as const) {
    it(`downloads a ${version} torrent from its .torrent, padding never requested`, async () => {
      const seeder = new Client();
      const leecher = new Client();
      try {
        const addr = await seeder.listen(0, '127.0.0.1');
        const st = seeder.add(made[version].torrent, { path: join(tmp.path, 'src') });
        await new Promise<void>((r) => st.once('ready', r));
        expect(st.state).toBe('seeding');
        const out = join(tmp.path, `out-${version}`);
        const t = leecher.add(made[version].torrent, { path: out, peers: [addr] });
        const seen: boolean[] = [];
        t.on('wire', (w) => w.once('handshake', (hs) => seen.push(hs.v2)));
        await done(t);
        await t.store?.flush();
        sameFiles(out);
        // Both set the BEP 52 bit; no byte of padding went over the wire.
        expect(seen).toEqual([true]);
        expect(t.stats().downloaded).toBe(FILES.reduce((n, f) => n + f[1], 0));
        expect(t.stats().hashFailures).toBe(0);
      } finally {
        await Promise.all([seeder.destroy(), leecher.destroy()]);
      }
    });
  }

  it('a hybrid is reached by its truncated v2 hash too, and answers with the hash it was asked for', async () => {
    const seeder = new Client();
    const leecher = new Client();
    try {
      const addr = await seeder.listen(0, '127.0.0.1');
      const st = seeder.add(made.hybrid.torrent, { path: join(tmp.path, 'src') });
      await new Promise<void>((r) => st.once('ready', r));
      const m = made.hybrid.metainfo;
      const v2 = m.infoHashV2Bytes as Uint8Array;
      expect(seeder.get(v2.subarray(0, 20))).toBe(st);
      // A leecher that knows only the v2 hash: its swarm id is the truncated v2 hash.
      const t = leecher.add(formatMagnet({ infoHashV2: v2 }), {
        path: join(tmp.path, 'out-hy2'),
        peers: [addr],
      });
      await done(t);
      await t.store?.flush();
      sameFiles(join(tmp.path, 'out-hy2'));
      expect(t.info?.version).toBe('hybrid');
    } finally {
      await Promise.all([seeder.destroy(), leecher.destroy()]);
    }
  });

  it('a magnet with only urn:btmh: fetches the metadata, then the piece layers, with proofs', async () => {
    const seeder = new Client();
    const leecher = new Client();
    try {
      const addr = await seeder.listen(0, '127.0.0.1');
      const st = seeder.add(made.v2.torrent, { path: join(tmp.path, 'src') });
      await new Promise<void>((r) => st.once('ready', r));
      const v2 = made.v2.metainfo.infoHashV2Bytes as Uint8Array;
      const magnet = formatMagnet({ infoHashV2: v2, name: 'set' });
      expect(st.magnetURI.startsWith(`magnet:?xt=urn:btmh:1220${made.v2.metainfo.infoHashV2}`)).toBe(true);
      const out = join(tmp.path, 'out-btmh');
      const t = leecher.add(magnet, { path: out, peers: [addr] });
      expect(t.infoHashV2).toEqual(v2);
      const warnings: string[] = [];
      t.on('warning', (w) => warnings.push(w.code));
      await done(t);
      await t.store?.flush();
      sameFiles(out);
      expect(warnings.filter((c) => c === 'SESSION_BAD_HASHES')).toEqual([]);
      // The fetched layers are the .torrent's, and go into the .torrent it rebuilds.
      const rebuilt = parseTorrent(t.torrentFile ?? new Uint8Array(0));
      expect(rebuilt.infoHashV2).toBe(made.v2.metainfo.infoHashV2);
      expect(rebuilt.pieceLayers).toEqual(made.v2.metainfo.pieceLayers);
    } finally {
      await Promise.all([seeder.destroy(), leecher.destroy()]);
    }
  });

  it('names the sender of a bad block from a Merkle proof and bans it at the first failure', async () => {
    const good = new Client();
    const bad = new Client();
    const leecher = new Client({ settings: { uploadSlots: 4, banAfterHashFailures: 1000 } });
    try {
      const goodAddr = await good.listen(0, '127.0.0.1');
      const badAddr = await bad.listen(0, '127.0.0.2');
      const gt = good.add(made.v2.torrent, { path: join(tmp.path, 'src') });
      const bt = bad.add(made.v2.torrent, {
        store: (info: InfoDictionary) => corrupting(new FsChunkStore(info, { path: join(tmp.path, 'src') })),
      });
      await Promise.all([
        new Promise<void>((r) => gt.once('ready', r)),
        new Promise<void>((r) => bt.once('ready', r)),
      ]);
      const t = leecher.add(made.v2.torrent, { path: join(tmp.path, 'out-ban'), peers: [badAddr, goodAddr] });
      const bans: string[] = [];
      t.on('warning', (w) => {
        if (w.code === 'SESSION_PEER_BANNED') bans.push(w.message);
      });
      await done(t);
      await t.store?.flush();
      sameFiles(join(tmp.path, 'out-ban'));
      // banAfterHashFailures is out of reach: only the proof can have named it.
      expect(t.stats().bannedPeers).toBe(1);
      expect(bans.some((m) => m.includes('127.0.0.2') && m.includes('Merkle proof'))).toBe(true);
    } finally {
      await Promise.all([good.destroy(), bad.destroy(), leecher.destroy()]);
    }
  });
});
