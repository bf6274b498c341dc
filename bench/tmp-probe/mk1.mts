import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { encode } from '../../src/metainfo/index.js';

const PIECE = 4 * 1024 * 1024,
  COUNT = 262144;
const h = createHash('sha1').update(new Uint8Array(PIECE)).digest();
const pieces = new Uint8Array(COUNT * 20);
for (let i = 0; i < COUNT; i++) pieces.set(h, i * 20);
writeFileSync(
  '/dev/shm/huge-single.torrent',
  encode({
    announce: 'http://127.0.0.1:9/announce',
    info: { name: 'zeros.bin', 'piece length': PIECE, pieces, length: PIECE * COUNT },
  }),
);
