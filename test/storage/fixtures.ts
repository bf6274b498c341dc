import { createHash } from 'node:crypto';
import type { InfoDictionary, TorrentFile } from '../../src/metainfo/index.js';
import { pseudoRandomBytes } from '../helpers/run.js';

/** A file of a hand-made torrent. */
export interface FileSpec {
  length: number;
  path: readonly string[];
  padding?: boolean;
}

/** A hand-made torrent and its content (padding zeroed). */
export interface Fixture {
  meta: InfoDictionary;
  data: Uint8Array;
}

/**
 * Builds an {@link InfoDictionary} by hand (no metainfo parser: hostile layouts get through),
 * with piece hashes of deterministic pseudo-random content.
 */
export function makeTorrent(
  files: readonly FileSpec[],
  pieceLength: number,
  opts: { seed?: number; name?: string; multiFile?: boolean } = {},
): Fixture {
  const multiFile = opts.multiFile ?? true;
  const name = opts.name ?? 'tor';
  let offset = 0;
  const tf: TorrentFile[] = files.map((f) => {
    const t = {
      path: f.path.join('/'),
      segments: f.path,
      length: f.length,
      offset,
      padding: f.padding === true,
    };
    offset += f.length;
    return t;
  });
  const length = offset;
  const data = pseudoRandomBytes(length, opts.seed ?? 7);
  for (const f of tf) if (f.padding) data.fill(0, f.offset, f.offset + f.length);
  const pieceCount = Math.max(1, Math.ceil(length / pieceLength));
  const pieceHashes = new Uint8Array(pieceCount * 20);
  for (let i = 0; i < pieceCount; i++) {
    const piece = data.subarray(i * pieceLength, Math.min(length, (i + 1) * pieceLength));
    pieceHashes.set(createHash('sha1').update(piece).digest(), i * 20);
  }
  const infoHashBytes = createHash('sha1').update(pieceHashes).update(name).digest();
  return {
    data,
    meta: {
      infoHash: infoHashBytes.toString('hex'),
      infoHashBytes: new Uint8Array(infoHashBytes),
      infoBytes: new Uint8Array(0),
      info: new Map(),
      name,
      pieceLength,
      pieceCount,
      lastPieceLength: length - (pieceCount - 1) * pieceLength,
      length,
      pieceHashes,
      files: tf,
      multiFile,
      private: false,
    },
  };
}

/** A single-file torrent. */
export function singleFile(length: number, pieceLength: number, seed = 3): Fixture {
  return makeTorrent([{ length, path: ['single.bin'] }], pieceLength, {
    seed,
    name: 'single.bin',
    multiFile: false,
  });
}

/** Bytes of piece `i` of a fixture. */
export function pieceBytes(fx: Fixture, i: number): Uint8Array {
  const pl = fx.meta.pieceLength;
  return fx.data.subarray(i * pl, Math.min(fx.meta.length, (i + 1) * pl));
}
