// Several bttkit Clients in one process, each on its own port, for the many-peers benchmark
// (bench/many-peers.bench.ts): hosting them together keeps the two cores usable with 20 peers.
//   seed  <torrent> <dir> <port,port,...>               every client seeds <dir>'s data
//   leech <torrent> <id,id,...> <seeder-host:port>      every client downloads from the seeder
// Public API only (dist/session, dist/metainfo). TCP only, no DHT, LSD, port mapping, hole punch.
// Seeders print {"event":"seeding"} once every client verified its data; a line "stats" on stdin
// prints {"event":"stats","uploaded":{port:bytes}}. Leechers keep nothing: a store that holds a
// piece until it is verified (SHA-1 on the main thread: with the shared hash pool the copies sent
// to its workers piled up, 15 GiB of RSS with 20 leechers) and then drops it,
// so 20 leechers of 1 GiB need no 20 GiB of tmpfs; each prints {"event":"done","port","seconds"}
// when its torrent completes, then {"event":"all-done"} and the process exits.
// BTTKIT_DIST: another build's dist/ (default ../../dist). LEECH_MAX_SECONDS bounds a leech run.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const dist = resolve(process.env.BTTKIT_DIST ?? join(import.meta.dirname, '../../dist'));
const { Client } = await import(join(dist, 'session/index.js'));
const { parseTorrent } = await import(join(dist, 'metainfo/index.js'));

const [mode, torrentPath, ...rest] = process.argv.slice(2);
if (mode !== 'seed' && mode !== 'leech') {
  console.error('usage: seed <torrent> <dir> <ports> | leech <torrent> <ports> <seeder-host:port>');
  process.exit(2);
}
const settings = {
  enableUtp: false,
  lsd: false,
  portMapping: false,
  holepunch: false,
  encryption: 'disabled',
};
const meta = parseTorrent(readFileSync(torrentPath));
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

/**
 * A ChunkStore that keeps a piece only until it is verified: pieces are assembled in memory,
 * hashed in the shared pool, then dropped (`has` stays true). Nothing to serve from: a leecher
 * with it uploads nothing (the benchmark measures one seeder's upload).
 */
class DiscardStore {
  meta;
  closed = false;
  pendingBytes = 0;
  copiesOnPut = true;
  #pieces = new Map();
  #have;
  constructor(info) {
    this.meta = info;
    this.#have = new Uint8Array(Math.ceil(info.pieceCount / 8));
  }
  #length(i) {
    return i === this.meta.pieceCount - 1 ? this.meta.lastPieceLength : this.meta.pieceLength;
  }
  async put(piece, offset, bytes) {
    if (this.has(piece)) return;
    let buf = this.#pieces.get(piece);
    if (!buf) {
      buf = new Uint8Array(this.#length(piece));
      this.#pieces.set(piece, buf);
    }
    buf.set(bytes, offset);
  }
  async get(piece, offset, length) {
    return (this.#pieces.get(piece) ?? new Uint8Array(this.#length(piece))).slice(offset, offset + length);
  }
  async verify(piece) {
    const buf = this.#pieces.get(piece);
    if (!buf) return false;
    const digest = createHash('sha1').update(buf).digest();
    const want = this.meta.pieceHashes.subarray(piece * 20, piece * 20 + 20);
    const ok = Buffer.compare(digest, Buffer.from(want)) === 0;
    if (ok) {
      this.#have[piece >> 3] |= 0x80 >> (piece & 7);
      this.#pieces.delete(piece);
    }
    return ok;
  }
  has(piece) {
    return (this.#have[piece >> 3] & (0x80 >> (piece & 7))) !== 0;
  }
  bitfield() {
    return this.#have.slice();
  }
  async recheck() {
    return this.#have.slice();
  }
  async setFileSkipped() {}
  isFileSkipped() {
    return false;
  }
  async flush() {}
  async close() {
    this.closed = true;
    this.#pieces.clear();
  }
  async destroy() {
    await this.close();
  }
  onDrain() {
    return () => {};
  }
}

const clients = [];
if (mode === 'seed') {
  const [dir, ports] = rest;
  const torrents = new Map();
  await Promise.all(
    ports.split(',').map(async (p) => {
      const client = new Client({ settings });
      clients.push(client);
      await client.listen(Number(p));
      const t = client.add(meta, { path: resolve(dir) });
      t.on('error', (e) => {
        console.error(`seeder ${p}: ${e.message}`);
        process.exit(1);
      });
      await new Promise((res) => t.once('ready', res));
      if (!t.done) {
        console.error(`seeder ${p}: the data in ${dir} does not match the torrent`);
        process.exit(1);
      }
      torrents.set(p, t);
    }),
  );
  out({ event: 'seeding' });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    const uploaded = {};
    for (const [p, t] of torrents) uploaded[p] = t.stats().uploaded;
    out({ event: 'stats', uploaded });
  });
  rl.on('close', () => void Promise.all(clients.map((c) => c.destroy())).then(() => process.exit(0)));
} else {
  const [ports, seeder] = rest;
  const cut = seeder.lastIndexOf(':');
  const [host, sport] = [seeder.slice(0, cut), seeder.slice(cut + 1)];
  const started = performance.now();
  const list = ports.split(',');
  let left = list.length;
  const timer = setTimeout(
    () => {
      console.error(`leechers: ${left} not done in time`);
      process.exit(1);
    },
    Number(process.env.LEECH_MAX_SECONDS ?? 600) * 1000,
  );
  await Promise.all(
    list.map(async (p) => {
      // Unchokes no one: the store has nothing to serve once a piece is verified.
      const client = new Client({ settings, choker: () => ({ rechoke: () => new Set() }) });
      clients.push(client);
      // Any free port: nobody dials a leecher here, and a fixed one may be some connection's
      // ephemeral port on a busy machine (`p` only names the leecher).
      await client.listen(0);
      const t = client.add(meta, {
        store: (info) => new DiscardStore(info),
        peers: [{ host, port: Number(sport) }],
      });
      t.on('error', (e) => {
        console.error(`leecher ${p}: ${e.message}`);
        process.exit(1);
      });
      t.once('done', () => {
        const s = t.stats();
        out({
          event: 'done',
          port: Number(p),
          seconds: (performance.now() - started) / 1000,
          downloaded: s.downloaded,
          wasted: s.wasted,
        });
        // Leave the swarm once done: what a finished leecher that does not seed does.
        void client.destroy().then(() => {
          if (--left === 0) {
            clearTimeout(timer);
            out({ event: 'all-done' });
            process.exit(0);
          }
        });
      });
    }),
  );
}
