/**
 * metainfo: decoding a large torrent-like document with our bounded decoder vs the `bencode`
 * package (baseline), and SHA-1 through node:crypto vs @noble/hashes, in the same run.
 */
import bencodeRef from 'bencode';
import { decode, encode, parseTorrent } from '../src/metainfo/index.js';
import { createSha1, setHashBackend } from '../src/util/index.js';

function best(fn: () => void, runs = 7): number {
  fn();
  let t = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

// A multi-file torrent with 50,000 files and 20,000 pieces (~3.6 MB).
const files = Array.from({ length: 50_000 }, (_, i) => ({
  length: 1000 + (i % 97),
  path: ['dir', `f${i}.bin`],
}));
const total = files.reduce((n, f) => n + f.length, 0);
const pieceLength = 16384;
const pieces = new Uint8Array(Math.ceil(total / pieceLength) * 20);
const torrent = encode({
  announce: 'udp://127.0.0.1:6969',
  info: { name: 'big', 'piece length': pieceLength, pieces, files },
});

const ours = best(() => decode(torrent));
const theirs = best(() => bencodeRef.decode(torrent));
const parse = best(() => parseTorrent(torrent));
const mb = torrent.length / 1e6;
console.log(`torrent: ${mb.toFixed(1)} MB, ${files.length} files`);
console.log('| decoder | ms | MB/s | vs bencode pkg |');
console.log('|---|---|---|---|');
console.log(
  `| bencode package (baseline) | ${theirs.toFixed(1)} | ${(mb / (theirs / 1000)).toFixed(0)} | 1.00× |`,
);
console.log(
  `| bttkit decode | ${ours.toFixed(1)} | ${(mb / (ours / 1000)).toFixed(0)} | ${(theirs / ours).toFixed(2)}× |`,
);
console.log(
  `| bttkit parseTorrent (decode + validate + info-hash) | ${parse.toFixed(1)} | ${(mb / (parse / 1000)).toFixed(0)} | ${(theirs / parse).toFixed(2)}× |`,
);

const data = new Uint8Array(64 * 1024 * 1024).map((_, i) => i & 0xff);
const hashRate = (backend: 'node' | 'noble') => {
  setHashBackend(backend);
  const ms = best(() => createSha1().update(data).digest(), 3);
  return data.length / 1e6 / (ms / 1000);
};
const node = hashRate('node');
const noble = hashRate('noble');
setHashBackend('node');
console.log('\n| SHA-1 | MB/s | vs noble |');
console.log('|---|---|---|');
console.log(`| @noble/hashes (baseline) | ${noble.toFixed(0)} | 1.00× |`);
console.log(`| node:crypto | ${node.toFixed(0)} | ${(node / noble).toFixed(2)}× |`);
