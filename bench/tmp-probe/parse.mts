import { readFileSync } from 'node:fs';
import { decode, parseTorrent } from '../../src/metainfo/index.js';

const bytes = new Uint8Array(readFileSync('/dev/shm/huge-multi.torrent'));
for (let r = 0; r < 6; r++) {
  let t0 = performance.now();
  decode(bytes);
  const d = performance.now() - t0;
  t0 = performance.now();
  parseTorrent(bytes);
  console.log('decode', d.toFixed(1), 'parse', (performance.now() - t0).toFixed(1));
}
