import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createTorrent } from '../metainfo/create.js';
import type { MetainfoVersion } from '../metainfo/torrent.js';
import { formatBytes } from './format.js';

/** What `bttkit create` was asked for (parsed by main.ts). */
export interface CreateCommandOptions {
  output?: string;
  trackers: string[];
  pieceLength?: number;
  private: boolean;
  comment?: string;
  webSeeds: string[];
  json: boolean;
  /** `1` (default), `2` (`--v2`: v2-only, BEP 52) or `'hybrid'` (`--hybrid`: v1 and v2). */
  version?: MetainfoVersion;
}

export async function createCommand(
  path: string,
  o: CreateCommandOptions,
  out: (line: string) => void,
  progress: (text: string | undefined) => void,
): Promise<void> {
  const version = o.version ?? 1;
  const { torrent, metainfo } = await createTorrent(path, {
    announce: o.trackers,
    private: o.private,
    urlList: o.webSeeds,
    ...(version !== 1 ? { version } : {}),
    ...(o.pieceLength !== undefined ? { pieceLength: o.pieceLength } : {}),
    ...(o.comment !== undefined ? { comment: o.comment } : {}),
    onProgress: (p) => progress(`hashing ${((100 * p.bytesHashed) / p.totalBytes).toFixed(1)}%`),
  });
  progress(undefined);
  const output = resolve(o.output ?? `${basename(resolve(path))}.torrent`);
  await writeFile(output, torrent);
  if (o.json) {
    out(
      JSON.stringify({
        infoHash: metainfo.infoHash,
        ...(metainfo.infoHashV2 !== undefined ? { infoHashV2: metainfo.infoHashV2 } : {}),
        version: metainfo.version ?? 1,
        name: metainfo.name,
        output,
        pieceLength: metainfo.pieceLength,
        pieces: metainfo.pieceCount,
        length: metainfo.length,
      }),
    );
    return;
  }
  out(`created ${output}`);
  const size = `${formatBytes(metainfo.length)} in ${metainfo.pieceCount} pieces of ${formatBytes(metainfo.pieceLength)}`;
  if (metainfo.infoHashV2 === undefined) {
    out(`info-hash ${metainfo.infoHash}, ${size}`);
    return;
  }
  out(metainfo.version === 2 ? 'BitTorrent v2 only (BEP 52)' : 'hybrid: BitTorrent v1 and v2 (BEP 52)');
  if (metainfo.version !== 2) out(`info-hash v1 ${metainfo.infoHash}`);
  out(`info-hash v2 ${metainfo.infoHashV2}`);
  out(size);
}
