import { readFile, stat } from 'node:fs/promises';
import { formatMagnet, formatPeerAddress, parseMagnet } from '../metainfo/magnet.js';
import { type Metainfo, parseTorrent } from '../metainfo/torrent.js';
import { toHex } from '../util/bytes.js';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';

const MAX_TORRENT_FILE = 64 * 1024 * 1024;

/**
 * The JSON printed by `bttkit info --json` for a .torrent. `version` is `1`, `2` or `"hybrid"`;
 * v2 and hybrid torrents add `infoHashV2` (64 hex digits) and each real file's `piecesRoot`.
 * `files` keeps padding files (`padding: true`) so that a file's position is its index for
 * `download --select`.
 */
export function metainfoJson(m: Metainfo): Record<string, unknown> {
  return {
    infoHash: m.infoHash,
    ...(m.infoHashV2 !== undefined ? { infoHashV2: m.infoHashV2 } : {}),
    version: m.version ?? 1,
    name: m.name,
    pieceLength: m.pieceLength,
    pieces: m.pieceCount,
    length: m.length,
    private: m.private,
    multiFile: m.multiFile,
    files: m.files.map((f) => ({
      path: f.path,
      length: f.length,
      ...(f.padding ? { padding: true } : {}),
      ...(f.piecesRoot !== undefined ? { piecesRoot: toHex(f.piecesRoot) } : {}),
    })),
    announce: m.announce,
    urlList: m.urlList,
    comment: m.comment ?? null,
    createdBy: m.createdBy ?? null,
    creationDate: m.creationDate ?? null,
    magnet: magnetOf(m),
  };
}

/**
 * The magnet link of a .torrent: info-hash, name and every tracker. A hybrid gets both
 * `urn:btih:` and `urn:btmh:`, a v2-only torrent only `urn:btmh:` (BEP 52).
 */
export function magnetOf(m: Metainfo): string {
  return formatMagnet({
    ...(m.version !== 2 ? { infoHash: m.infoHash } : {}),
    ...(m.infoHashV2 !== undefined ? { infoHashV2: m.infoHashV2 } : {}),
    name: m.name,
    trackers: m.announce.flat(),
  });
}

/** The label column of the human output. */
const label = (name: string) => name.padEnd(14);

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
    // Only a `urn:btmh:` (a v2-only torrent): infoHash is the v2 hash's first 20 bytes.
    const v2Only = m.infoHashV2?.startsWith(m.infoHash) === true;
    if (json) {
      out(
        JSON.stringify({
          infoHash: m.infoHash,
          ...(m.infoHashV2 !== undefined ? { infoHashV2: m.infoHashV2 } : {}),
          name: m.name ?? null,
          announce: m.trackers.map((t) => [t]),
          peers: m.peers.map(formatPeerAddress),
          webSeeds: m.webSeeds,
        }),
      );
      return;
    }
    out(`info-hash  ${m.infoHash}${v2Only ? ' (the first 20 bytes of the v2 info-hash)' : ''}`);
    if (m.infoHashV2 !== undefined) out(`v2 hash    ${m.infoHashV2}`);
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
  out(`${label('name')}${meta.name}`);
  if (meta.infoHashV2 === undefined) out(`${label('info-hash')}${meta.infoHash}`);
  else {
    out(
      `${label('version')}${meta.version === 2 ? '2 (BitTorrent v2 only, BEP 52)' : 'hybrid (BitTorrent v1 and v2, BEP 52)'}`,
    );
    if (meta.version === 2)
      out(`${label('info-hash')}${meta.infoHash} (the first 20 bytes of the v2 info-hash)`);
    else out(`${label('info-hash v1')}${meta.infoHash}`);
    out(`${label('info-hash v2')}${meta.infoHashV2}`);
  }
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
  // BEP 47 padding files (hybrids; the alignment a v2-only torrent implies) are not listed; each
  // file keeps its index in the torrent, the one `download --select` takes.
  const real = meta.files.flatMap((f, i) => (f.padding ? [] : [{ f, i }]));
  const padding = meta.files.length - real.length;
  out(`files (${real.length}${padding > 0 ? `, and ${padding} padding files not listed` : ''}):`);
  const width = String(meta.files.length - 1).length;
  for (const { f, i } of real)
    out(`  ${String(i).padStart(width)}  ${formatBytes(f.length).padStart(10)}  ${f.path}`);
}
