import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createTorrent } from '../metainfo/create.js';
import { formatBytes } from './format.js';

export interface CreateCommandOptions {
  output?: string;
  trackers: string[];
  pieceLength?: number;
  private: boolean;
  comment?: string;
  webSeeds: string[];
  json: boolean;
}

export async function createCommand(
  path: string,
  o: CreateCommandOptions,
  out: (line: string) => void,
  progress: (text: string | undefined) => void,
): Promise<void> {
  const { torrent, metainfo } = await createTorrent(path, {
    announce: o.trackers,
    private: o.private,
    urlList: o.webSeeds,
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
        name: metainfo.name,
        output,
        pieceLength: metainfo.pieceLength,
        pieces: metainfo.pieceCount,
        length: metainfo.length,
      }),
    );
  } else {
    out(`created ${output}`);
    out(
      `info-hash ${metainfo.infoHash}, ${formatBytes(metainfo.length)} in ${metainfo.pieceCount} pieces of ${formatBytes(metainfo.pieceLength)}`,
    );
  }
}
