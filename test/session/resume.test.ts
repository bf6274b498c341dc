/**
 * Fast resume through the client, without sockets: a torrent's record saved under `resumeDir`
 * on destroy lets the next client seed it without hashing a piece; a file whose mtime or size
 * changed has its pieces hashed again; a corrupt or foreign record means a full recheck and a
 * warning, never a crash; apps may keep the bytes themselves (`resumeData()` / `resumeData`).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { seedCommand } from '../../src/cli/transfer.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type ClientOptions, type Torrent } from '../../src/session/index.js';
import { sharedHashPool } from '../../src/storage/index.js';
import type { BttkitError } from '../../src/util/errors.js';
import { MemoryTransport } from '../../src/util/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const tmp = tempDir('bttkit-resume-');
afterAll(tmp.cleanup);
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
});
function client(options: ClientOptions = {}): Client {
  const c = new Client({ utp: false, settings: { lsd: false, portMapping: false }, ...options });
  clients.push(c);
  return c;
}

const PIECE = 16384;
let n = 0;
/** A fresh three-file torrent (sizes not multiples of the piece: pieces straddle files). */
async function fixture(): Promise<{ root: string; torrent: Uint8Array; pieces: number; resumeDir: string }> {
  const root = join(tmp.path, `case${++n}`);
  mkdirSync(join(root, 'album'), { recursive: true });
  writeFileSync(join(root, 'album', 'a.bin'), pseudoRandomBytes(300_000, n * 3 + 1));
  writeFileSync(join(root, 'album', 'b.bin'), pseudoRandomBytes(200_000, n * 3 + 2));
  writeFileSync(join(root, 'album', 'c.bin'), pseudoRandomBytes(50_000, n * 3 + 3));
  const { torrent, metainfo } = await createTorrent(join(root, 'album'), { pieceLength: PIECE });
  return { root, torrent, pieces: metainfo.pieceCount, resumeDir: join(root, 'resume') };
}

/** Adds, waits until the data is checked (bounded), returns the torrent, pieces hashed and warnings. */
async function addChecked(
  c: Client,
  torrent: Uint8Array,
  opts: Parameters<Client['add']>[1],
): Promise<{ t: Torrent; hashed: number; warnings: BttkitError[] }> {
  const before = sharedHashPool().hashed;
  const t = c.add(torrent, opts);
  const warnings: BttkitError[] = [];
  t.on('warning', (w) => warnings.push(w));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not ready in 10 s')), 10_000);
    t.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { t, hashed: sharedHashPool().hashed - before, warnings };
}

describe('fast resume', () => {
  it('saves on destroy under resumeDir; the next client seeds without hashing a piece', async () => {
    const f = await fixture();
    const first = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    expect(first.hashed).toBe(f.pieces); // no record yet: a full recheck
    expect(first.t.state).toBe('seeding');
    await clients.splice(0)[0]?.destroy();
    const file = join(f.resumeDir, `${first.t.infoHashHex}.resume`);
    expect(existsSync(file)).toBe(true);
    expect(readdirTmp(f.resumeDir)).toEqual([]); // renamed into place, no temporary left

    const again = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    expect(again.hashed).toBe(0);
    expect(again.t.state).toBe('seeding');
    expect(again.t.progress).toBe(1);
    expect(again.warnings).toEqual([]);
  });

  it('hashes again the pieces of a file whose mtime changed, and finds a truncated file short', async () => {
    const f = await fixture();
    await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    await clients.splice(0)[0]?.destroy();

    // b.bin's bytes 300,000…499,999 touch pieces 18…30 (16 KiB pieces): 13 pieces.
    utimesSync(join(f.root, 'album', 'b.bin'), new Date(), new Date(Date.now() + 5000));
    const touched = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    expect(touched.hashed).toBe(Math.floor(499_999 / PIECE) - Math.floor(300_000 / PIECE) + 1);
    expect(touched.t.state).toBe('seeding'); // same bytes: they verify
    await clients.splice(0)[0]?.destroy();

    truncateSync(join(f.root, 'album', 'c.bin'), 10_000);
    const cut = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    expect(cut.hashed).toBeGreaterThan(0);
    expect(cut.hashed).toBeLessThan(f.pieces);
    expect(cut.t.state).toBe('downloading'); // c.bin's missing end: its last pieces are missing
    expect(cut.t.progress).toBeLessThan(1);
    expect(cut.t.progress).toBeGreaterThan(0.8);
  });

  it('a corrupt or foreign resume file: a warning and a full recheck, no crash', async () => {
    const f = await fixture();
    const { t } = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    const hex = t.infoHashHex;
    await clients.splice(0)[0]?.destroy();
    const file = join(f.resumeDir, `${hex}.resume`);
    const good = readFileSync(file);

    for (const bad of [
      new TextEncoder().encode('this is not bencode'),
      good.subarray(0, good.length - 7), // torn
      new Uint8Array(good).map((b, i) => (i === good.indexOf(0x3a, 40) + 3 ? b ^ 0xff : b)), // a flipped byte
    ]) {
      writeFileSync(file, bad);
      const r = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
      expect(r.t.state).toBe('seeding');
      if (r.hashed === f.pieces) expect(r.warnings.map((w) => w.code)).toContain('SESSION_BAD_RESUME');
      else expect(r.hashed).toBeLessThan(f.pieces); // a flip inside a bitfield or stat still decodes
      await clients.splice(0)[0]?.destroy();
    }
    // Another torrent's record under this name.
    const other = await fixture();
    const o = await addChecked(client({ resumeDir: other.resumeDir }), other.torrent, { path: other.root });
    await clients.splice(0)[0]?.destroy();
    writeFileSync(file, readFileSync(join(other.resumeDir, `${o.t.infoHashHex}.resume`)));
    const r = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    expect(r.hashed).toBe(f.pieces);
    expect(r.warnings.map((w) => w.code)).toEqual(['SESSION_BAD_RESUME']);
    expect(r.t.state).toBe('seeding');
  });

  it('apps keep the bytes themselves: torrent.resumeData() → add({ resumeData })', async () => {
    const f = await fixture();
    const c = client();
    const { t } = await addChecked(c, f.torrent, { path: f.root });
    const data = await t.resumeData();
    expect(data).toBeInstanceOf(Uint8Array);
    await c.remove(t);
    const r = await addChecked(client(), f.torrent, { path: f.root, resumeData: data });
    expect(r.hashed).toBe(0);
    expect(r.t.state).toBe('seeding');
    expect(existsSync(join(f.root, 'resume'))).toBe(false); // no resumeDir: nothing written
  });

  it('a download saves its record batched (one timer, not a write per piece), and resumes from it', async () => {
    const f = await fixture();
    const transport = new MemoryTransport();
    const seeder = client({ transport });
    const addr = await seeder.listen(0, '127.0.0.1');
    await addChecked(seeder, f.torrent, { path: f.root });
    const dest = join(f.root, 'dest');
    const leecher = client({ transport, resumeDir: f.resumeDir, settings: { resumeSaveIntervalMs: 150 } });
    const t = leecher.add(f.torrent, { path: dest, peers: [{ host: '127.0.0.1', port: addr.port }] });
    const file = join(f.resumeDir, `${t.infoHashHex}.resume`);
    let pieces = 0;
    t.on('piece', () => pieces++);
    const saves = new Set<number>();
    for (let i = 0; i < 1000 && !(t.done && saves.size > 0 && existsSync(file)); i++) {
      await new Promise((r) => setTimeout(r, 5));
      if (existsSync(file)) saves.add(statSync(file).mtimeMs);
    }
    expect(t.done).toBe(true);
    expect(pieces).toBe(f.pieces);
    expect(saves.size).toBeGreaterThan(0); // saved by the timer, before any pause or destroy
    expect(saves.size).toBeLessThan(f.pieces / 4);
    await leecher.destroy();
    const r = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: dest });
    expect(r.hashed).toBe(0);
    expect(r.t.state).toBe('seeding');
  });

  it('saves on pause', async () => {
    const f = await fixture();
    const { t } = await addChecked(client({ resumeDir: f.resumeDir }), f.torrent, { path: f.root });
    const file = join(f.resumeDir, `${t.infoHashHex}.resume`);
    expect(existsSync(file)).toBe(false);
    t.pause();
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(file)).toBe(true);
  });
});

function readdirTmp(dir: string): string[] {
  return readdirSync(dir).filter((x) => x.endsWith('.tmp'));
}

describe('bttkit seed --resume-dir', () => {
  it('saves resume data when stopped; the next run checks nothing again', async () => {
    const f = await fixture();
    const torrentFile = join(f.root, 'album.torrent');
    writeFileSync(torrentFile, f.torrent);
    const once = async (): Promise<number> => {
      const before = sharedHashPool().hashed;
      let stop: (why: string) => void = () => {};
      const lines: string[] = [];
      const io = {
        out: (l: string) => {
          lines.push(l);
          if (l.includes('"seeding":true')) stop('SIGTERM');
        },
        status: () => {},
        warn: () => {},
        stopSignal: new Promise<string>((r) => {
          stop = r;
        }),
        progress: 'plain' as const,
        progressIntervalMs: 60_000,
      };
      const opts = {
        peers: [],
        json: true,
        dht: false,
        dhtBootstrap: [],
        trackers: [],
        resumeDir: f.resumeDir,
        links: { lsd: false, portMapping: false, enableUtp: false },
      };
      const code = await seedCommand(torrentFile, f.root, opts, io);
      expect(code).toBe(0);
      return sharedHashPool().hashed - before;
    };
    expect(await once()).toBe(f.pieces);
    expect(await once()).toBe(0);
  });
});
