import { readFile, stat } from 'node:fs/promises';
import { formatMagnet, formatPeerAddress, parseMagnet } from '../metainfo/magnet.js';
import { type Metainfo, parseTorrent } from '../metainfo/torrent.js';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';

const MAX_TORRENT_FILE = 64 * 1024 * 1024;

/** The JSON printed by `bttkit info --json` for a .torrent. */
export function metainfoJson(m: Metainfo): Record<string, unknown> {
  return {
    infoHash: m.infoHash,
    name: m.name,
    pieceLength: m.pieceLength,
    pieces: m.pieceCount,
    length: m.length,
    private: m.private,
    multiFile: m.multiFile,
    files: m.files.map((f) => ({ path: f.path, length: f.length, ...(f.padding ? { padding: true } : {}) })),
    announce: m.announce,
    urlList: m.urlList,
    comment: m.comment ?? null,
    createdBy: m.createdBy ?? null,
    creationDate: m.creationDate ?? null,
    magnet: magnetOf(m),
  };
}

/** The magnet link of a .torrent: info-hash, name and every tracker. */
export function magnetOf(m: Metainfo): string {
  return formatMagnet({ infoHash: m.infoHash, name: m.name, trackers: m.announce.flat() });
}

export async function readTorrentFile(path: string): Promise<Uint8Array> {
  const st = await stat(path);
  if (!st.isFile()) throw new CliError('CLI_NOT_A_FILE', `${path} is not a file`);
  if (st.size > MAX_TORRENT_FILE) {
    throw new CliError('CLI_FILE_TOO_LARGE', `${path} is larger than ${MAX_TORRENT_FILE} bytes`);
  }
  return new Uint8Array(await readFile(path));
}

export async function infoCommand(input: string, json: boolean, out: (line: string) => void): Promise<void> {
  if (/^magnet:/i.test(input)) {
    const m = parseMagnet(input);
    if (json) {
      out(
        JSON.stringify({
          infoHash: m.infoHash,
          name: m.name ?? null,
          announce: m.trackers.map((t) => [t]),
          peers: m.peers.map(formatPeerAddress),
          webSeeds: m.webSeeds,
        }),
      );
      return;
    }
    out(`info-hash  ${m.infoHash}`);
    if (m.name !== undefined) out(`name       ${m.name}`);
    for (const t of m.trackers) out(`tracker    ${t}`);
    for (const p of m.peers) out(`peer       ${formatPeerAddress(p)}`);
    for (const w of m.webSeeds) out(`web seed   ${w}`);
    return;
  }
  const meta = parseTorrent(await readTorrentFile(input));
  if (json) {
    out(JSON.stringify(metainfoJson(meta)));
    return;
  }
  out(`name          ${meta.name}`);
  out(`info-hash     ${meta.infoHash}`);
  out(`size          ${formatBytes(meta.length)} (${meta.length} bytes)`);
  out(`pieces        ${meta.pieceCount} × ${formatBytes(meta.pieceLength)}`);
  out(`private       ${meta.private ? 'yes' : 'no'}`);
  if (meta.createdBy !== undefined) out(`created by    ${meta.createdBy}`);
  if (meta.creationDate !== undefined)
    out(`created on    ${new Date(meta.creationDate * 1000).toISOString()}`);
  if (meta.comment !== undefined) out(`comment       ${meta.comment}`);
  meta.announce.forEach((tier, i) => {
    out(`tier ${String(i).padEnd(9)}${tier.join(' ')}`);
  });
  for (const u of meta.urlList) out(`web seed      ${u}`);
  out(`magnet        ${magnetOf(meta)}`);
  out(`files (${meta.files.length}):`);
  const width = String(meta.files.length - 1).length;
  meta.files.forEach((f, i) => {
    out(
      `  ${String(i).padStart(width)}  ${formatBytes(f.length).padStart(10)}  ${f.path}${f.padding ? ' (padding)' : ''}`,
    );
  });
}
