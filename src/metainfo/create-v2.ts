import { open } from 'node:fs/promises';
import { toBinaryString, toHex, utf8 } from '../util/bytes.js';
import { MetainfoError, throwIfAborted } from '../util/errors.js';
import { createSha1, type Hasher, sha256 } from '../util/hash.js';
import type { BEncodable } from './bencode.js';
import { MERKLE_BLOCK_SIZE, pieceLayerFromLeaves, rootFromLeaves } from './merkle.js';

/** A file to put in a torrent. */
export interface V2SourceFile {
  abs: string;
  segments: string[];
  length: number;
}

/** What {@link hashV2} reports after each piece. */
export interface V2Progress {
  bytesHashed: number;
  totalBytes: number;
  piecesHashed: number;
  pieceCount: number;
}

/** The v2 (and for hybrids, v1) parts of an info dictionary being created. */
export interface V2Parts {
  /** Info-dictionary entries: `file tree`, `meta version`, and for hybrids `pieces` and `files`/`length`. */
  info: Map<string, BEncodable>;
  /** `piece layers`, keyed by lower-case hex pieces root. */
  pieceLayers: Map<string, Uint8Array>;
}

const key = (s: string): string => toBinaryString(utf8(s));

/**
 * Hashes `files` (already sorted in byte order of their paths) for a v2-only or hybrid torrent:
 * SHA-256 leaves per 16 KiB block of each file, pieces roots and piece layers; for a hybrid also
 * SHA-1 pieces over the v1 byte stream with a BEP 47 padding file after every file that does not
 * end on a piece boundary (the last too, when there are several files — as libtorrent does).
 */
export async function hashV2(
  files: readonly V2SourceFile[],
  pieceLength: number,
  multiFile: boolean,
  hybrid: boolean,
  onProgress: ((p: V2Progress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<V2Parts> {
  const totalBytes = files.reduce((n, f) => n + f.length, 0);
  const pieceCount = files.reduce((n, f) => n + Math.ceil(f.length / pieceLength), 0);
  const tree = new Map<string, BEncodable>();
  const pieceLayers = new Map<string, Uint8Array>();
  const v1Files: Map<string, BEncodable>[] = [];
  const sha1Pieces: Uint8Array[] = [];
  const readSize = Math.max(pieceLength, 1024 * 1024);
  const buf = new Uint8Array(readSize);
  let bytesHashed = 0;
  let piecesHashed = 0;

  for (let fi = 0; fi < files.length; fi++) {
    const f = files[fi] as V2SourceFile;
    const leaves = new Uint8Array(Math.ceil(f.length / MERKLE_BLOCK_SIZE) * 32);
    let sha1: Hasher | undefined;
    let inPiece = 0;
    if (f.length > 0) {
      const fh = await open(f.abs, 'r');
      try {
        let done = 0;
        while (done < f.length) {
          throwIfAborted(signal);
          // Fill the buffer fully, so every read but the file's last ends on a block boundary.
          const want = Math.min(readSize, f.length - done);
          let bytesRead = 0;
          while (bytesRead < want) {
            const r = await fh.read(buf, bytesRead, want - bytesRead, null);
            if (r.bytesRead === 0)
              throw new MetainfoError(
                'METAINFO_CREATE_FILE_CHANGED',
                `${f.abs} shrank while it was being hashed`,
              );
            bytesRead += r.bytesRead;
          }
          const chunk = buf.subarray(0, bytesRead);
          for (let o = 0; o < bytesRead; o += MERKLE_BLOCK_SIZE) {
            const block = chunk.subarray(o, o + MERKLE_BLOCK_SIZE);
            leaves.set(sha256(block), ((done + o) / MERKLE_BLOCK_SIZE) * 32);
          }
          let o = 0;
          while (o < bytesRead) {
            const take = Math.min(pieceLength - inPiece, bytesRead - o);
            if (hybrid) {
              sha1 ??= createSha1();
              sha1.update(chunk.subarray(o, o + take));
            }
            o += take;
            inPiece += take;
            bytesHashed += take;
            if (inPiece === pieceLength) {
              if (sha1) sha1Pieces.push(sha1.digest());
              sha1 = undefined;
              inPiece = 0;
              piecesHashed++;
              onProgress?.({ bytesHashed, totalBytes, piecesHashed, pieceCount });
            }
          }
          done += bytesRead;
        }
        const tail = await fh.read(buf, 0, 1, null);
        if (tail.bytesRead !== 0)
          throw new MetainfoError('METAINFO_CREATE_FILE_CHANGED', `${f.abs} grew while it was being hashed`);
      } finally {
        await fh.close();
      }
    }
    const pad = inPiece > 0 ? pieceLength - inPiece : 0;
    if (inPiece > 0) {
      if (hybrid && sha1) {
        if (multiFile) sha1.update(new Uint8Array(pad));
        sha1Pieces.push(sha1.digest());
      }
      piecesHashed++;
      onProgress?.({ bytesHashed, totalBytes, piecesHashed, pieceCount });
    }

    // The file tree entry.
    const leaf = new Map<string, BEncodable>([[key('length'), f.length]]);
    if (f.length > 0) {
      const root = rootFromLeaves(leaves);
      leaf.set(key('pieces root'), root);
      const layer = pieceLayerFromLeaves(leaves, pieceLength);
      if (layer.length > 0) pieceLayers.set(toHex(root), layer);
    }
    let node = tree;
    const segs = multiFile ? f.segments : [f.segments[f.segments.length - 1] as string];
    for (const seg of segs) {
      let child = node.get(key(seg));
      if (!(child instanceof Map)) {
        child = new Map<string, BEncodable>();
        node.set(key(seg), child);
      }
      node = child as Map<string, BEncodable>;
    }
    node.set('', leaf);

    if (hybrid && multiFile) {
      v1Files.push(
        new Map<string, BEncodable>([
          [key('length'), f.length],
          [key('path'), f.segments],
        ]),
      );
      if (pad > 0) {
        v1Files.push(
          new Map<string, BEncodable>([
            [key('attr'), 'p'],
            [key('length'), pad],
            [key('path'), ['.pad', String(pad)]],
          ]),
        );
      }
    }
  }

  const info = new Map<string, BEncodable>([
    [key('file tree'), tree],
    [key('meta version'), 2],
  ]);
  if (hybrid) {
    const pieces = new Uint8Array(sha1Pieces.length * 20);
    sha1Pieces.forEach((h, i) => {
      pieces.set(h, i * 20);
    });
    info.set(key('pieces'), pieces);
    if (multiFile) info.set(key('files'), v1Files);
    else info.set(key('length'), totalBytes);
  }
  return { info, pieceLayers };
}
