import { mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { encode } from '../metainfo/bencode.js';
import { type CreateTorrentOptions, choosePieceLength, createTorrent } from '../metainfo/create.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import { assertSafePath } from '../metainfo/paths.js';
import { encodeTorrent, type Metainfo, type MetainfoVersion, parseTorrent } from '../metainfo/torrent.js';
import { MemoryChunkStore } from '../storage/memory-store.js';
import type { ChunkStore } from '../storage/types.js';
import { createSha1 } from '../util/hash.js';
import { VERSION } from '../version.js';
import { SessionError } from './errors.js';
import type { Torrent } from './torrent.js';

/** One file of an in-memory seed: `name` may hold `/`-separated folders (`'img/a.png'`). */
export interface SeedFile {
  name: string;
  data: Uint8Array;
}

/**
 * What {@link Client.seed} shares: a path (a file, or a folder: a multi-file torrent), one buffer
 * (a single-file torrent named `options.name`), or a list of named buffers (a multi-file torrent
 * whose folder is `options.name`, files in the order given).
 */
export type SeedSource = string | Uint8Array | readonly SeedFile[];

/** Options of {@link Client.seed}. */
export interface SeedOptions {
  /**
   * The torrent's name. For buffers: default `data` (one buffer) or `files` (a list). For a path
   * it is the path's base name and cannot be changed (the data is seeded where it is).
   */
  name?: string;
  /** Bytes per piece, a power of two from 16 KiB. Default: about 2,048 pieces (as `bttkit create`). */
  pieceLength?: number;
  /**
   * `1` (default), `2` (v2-only) or `'hybrid'` (BEP 52). v2 and hybrid torrents are made from a
   * path source only (`SESSION_BAD_SEED` for buffers: write them to a folder first).
   */
  version?: MetainfoVersion;
  /** Trackers written into the .torrent: each URL its own tier, or a list of tiers. */
  announce?: readonly (string | readonly string[])[];
  /** BEP 19 web seeds written into the .torrent. */
  urlList?: readonly string[];
  /** BEP 27 private flag (no DHT, no peer exchange). */
  private?: boolean;
  comment?: string;
  /** Default `bttkit/<version>`; `null` leaves it out. */
  createdBy?: string | null;
  /** Seconds since the Unix epoch, or a `Date`. Left out by default (deterministic output). */
  creationDate?: number | Date;
  /**
   * For buffers: a folder where the files are written (never overwriting an existing file) and
   * seeded from. Default: kept in memory. Ignored for a path source.
   */
  path?: string;
  /** Peers to connect to. */
  peers?: readonly PeerAddress[];
  /** Cancels the hashing. */
  signal?: AbortSignal;
}

/** What the client adds for a seed: the .torrent and where its data is. */
export interface PreparedSeed {
  torrent: Uint8Array;
  metainfo: Metainfo;
  /** Download folder for a file store, or a ready store (in-memory buffers). */
  path?: string;
  store?: ChunkStore;
}

const MIN_PIECE = 16 * 1024;
const MAX_PIECE = 256 * 1024 * 1024;

function bad(message: string): never {
  throw new SessionError('SESSION_BAD_SEED', message);
}

function creatorOptions(o: SeedOptions): CreateTorrentOptions {
  return {
    ...(o.pieceLength !== undefined ? { pieceLength: o.pieceLength } : {}),
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.announce ? { announce: o.announce } : {}),
    ...(o.urlList ? { urlList: o.urlList } : {}),
    ...(o.private !== undefined ? { private: o.private } : {}),
    ...(o.comment !== undefined ? { comment: o.comment } : {}),
    ...(o.createdBy !== undefined ? { createdBy: o.createdBy } : {}),
    ...(o.creationDate !== undefined ? { creationDate: o.creationDate } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

/**
 * Creates the torrent of a seed and says where its data is (see {@link Client.seed}).
 * @throws {SessionError} `SESSION_BAD_SEED` (nothing to seed or a missing path, a bad piece length, duplicate
 *   names, a name for a path); `MetainfoError` from the creator (unsafe names, an empty folder).
 */
export async function prepareSeed(source: SeedSource, o: SeedOptions = {}): Promise<PreparedSeed> {
  if (typeof source === 'string') {
    const abs = resolve(source);
    if (o.name !== undefined && o.name !== basename(abs))
      bad('a path is seeded where it is, under its own name: `name` cannot change it');
    const st = await stat(abs).catch(() => undefined);
    if (!st) bad(`nothing to seed: ${source} does not exist`);
    const { torrent, metainfo } = await createTorrent(abs, creatorOptions(o));
    return { torrent, metainfo, path: dirname(abs) };
  }
  if ((o.version ?? 1) !== 1)
    bad('v2 and hybrid torrents are seeded from a path (write the buffers to a folder)');
  const single = source instanceof Uint8Array;
  const files: SeedFile[] = single ? [{ name: o.name ?? 'data', data: source }] : [...source];
  const name = single ? (files[0]?.name ?? 'data') : (o.name ?? 'files');
  if (files.length === 0) bad('nothing to seed: the list of files is empty');
  assertSafePath([name], 'name');
  const seen = new Set<string>();
  const segments = files.map((f) => {
    if (typeof f?.name !== 'string' || !(f.data instanceof Uint8Array))
      bad('each file must be { name: string, data: Uint8Array }');
    const segs = single ? [name] : f.name.split('/');
    assertSafePath(segs, f.name);
    const key = segs.join('/');
    if (seen.has(key)) bad(`two files named ${key}`);
    seen.add(key);
    return segs;
  });
  const total = files.reduce((n, f) => n + f.data.length, 0);
  if (total === 0) bad('nothing to seed: 0 bytes');
  const pieceLength = o.pieceLength ?? choosePieceLength(total);
  if (
    !Number.isInteger(pieceLength) ||
    pieceLength < MIN_PIECE ||
    pieceLength > MAX_PIECE ||
    (pieceLength & (pieceLength - 1)) !== 0
  )
    bad('piece length must be a power of two from 16 KiB to 256 MiB');
  const info = new Map<string, unknown>([
    ['name', name],
    ['piece length', pieceLength],
    ['pieces', hashBuffers(files, pieceLength, total)],
  ]);
  if (single) info.set('length', total);
  else
    info.set(
      'files',
      files.map((f, i) => ({ length: f.data.length, path: segments[i] })),
    );
  if (o.private) info.set('private', 1);
  const infoBytes = encode(info as Parameters<typeof encode>[0]);
  const announce = (o.announce ?? []).map((t) => (typeof t === 'string' ? [t] : [...t]));
  const createdBy = o.createdBy === undefined ? `bttkit/${VERSION}` : o.createdBy;
  const creationDate =
    o.creationDate instanceof Date ? Math.floor(o.creationDate.getTime() / 1000) : o.creationDate;
  const torrent = encodeTorrent(infoBytes, {
    announce,
    ...(o.urlList ? { urlList: o.urlList } : {}),
    ...(o.comment !== undefined ? { comment: o.comment } : {}),
    ...(createdBy !== null ? { createdBy } : {}),
    ...(creationDate !== undefined ? { creationDate } : {}),
  });
  const metainfo = parseTorrent(torrent);
  if (o.path !== undefined) {
    await writeNew(resolve(o.path), metainfo, files);
    return { torrent, metainfo, path: resolve(o.path) };
  }
  const store = new MemoryChunkStore(metainfo);
  let at = 0;
  for (const f of files) {
    await putBytes(store, pieceLength, at, f.data);
    at += f.data.length;
  }
  return { torrent, metainfo, store };
}

function hashBuffers(files: readonly SeedFile[], pieceLength: number, total: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(total / pieceLength) * 20);
  let hasher = createSha1();
  let inPiece = 0;
  let done = 0;
  for (const { data } of files) {
    let off = 0;
    while (off < data.length) {
      const take = Math.min(pieceLength - inPiece, data.length - off);
      hasher.update(data.subarray(off, off + take));
      off += take;
      inPiece += take;
      if (inPiece === pieceLength) {
        out.set(hasher.digest(), 20 * done++);
        hasher = createSha1();
        inPiece = 0;
      }
    }
  }
  if (inPiece > 0) out.set(hasher.digest(), 20 * done);
  return out;
}

/** Puts `data`, which starts at byte `at` of the torrent, into the store piece by piece. */
async function putBytes(store: ChunkStore, pieceLength: number, at: number, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const pos = at + off;
    const piece = Math.floor(pos / pieceLength);
    const inPiece = pos - piece * pieceLength;
    const take = Math.min(pieceLength - inPiece, data.length - off);
    await store.put(piece, inPiece, data.subarray(off, off + take));
    off += take;
  }
}

/** Writes the files under `root` (as the file store lays them out), never over an existing one. */
async function writeNew(root: string, meta: Metainfo, files: readonly SeedFile[]): Promise<void> {
  const base = meta.multiFile ? join(root, meta.name) : root;
  for (let i = 0; i < files.length; i++) {
    const tf = meta.files[i];
    const f = files[i];
    if (!tf || !f) continue;
    const target = resolve(base, ...tf.segments);
    await mkdir(dirname(target), { recursive: true });
    const existing = await stat(target).catch(() => undefined);
    // An existing file is left alone: the check after adding says whether it holds the data.
    if (existing) continue;
    await writeFile(target, f.data, { flag: 'wx' });
  }
}

/**
 * Resolves once a torrent just added by `seed()` is checked and seeding.
 * @throws {SessionError} `SESSION_SEED_FAILED` when its data does not verify (the torrent is
 *   destroyed); the torrent's own error when it stopped on one.
 */
export async function whenSeeding(t: Torrent): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (t.state !== 'checking' && t.state !== 'metadata') return resolve();
    const onError = (err: Error) => reject(err);
    t.once('error', onError);
    t.once('ready', () => {
      t.off('error', onError);
      resolve();
    });
  });
  if (t.done) return;
  await t.destroy();
  throw new SessionError(
    'SESSION_SEED_FAILED',
    `the data of ${t.name} does not match the torrent made from it`,
    {
      details: { progress: t.progress },
    },
  );
}
