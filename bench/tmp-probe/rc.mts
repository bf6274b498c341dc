import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { FsChunkStore } from '../../src/storage/index.js';

const count = 262144,
  pieceLength = 4 << 20;
const hash = createHash('sha1').update(new Uint8Array(pieceLength)).digest();
const pieceHashes = new Uint8Array(count * 20);
for (let i = 0; i < count; i++) pieceHashes.set(hash, i * 20);
const meta = {
  infoHash: 'ab'.repeat(20),
  infoHashBytes: new Uint8Array(20),
  infoBytes: new Uint8Array(0),
  info: new Map(),
  name: 'z.bin',
  pieceLength,
  pieceCount: count,
  lastPieceLength: pieceLength,
  length: count * pieceLength,
  pieceHashes,
  files: [{ path: 'z.bin', segments: ['z.bin'], length: count * pieceLength, offset: 0, padding: false }],
  multiFile: false,
  private: false,
};
for (let r = 0; r < 5; r++) {
  const dir = mkdtempSync('/dev/shm/rc-');
  const s = new FsChunkStore(meta, { path: dir });
  const t0 = performance.now();
  await s.recheck();
  console.log('recheck ms', (performance.now() - t0).toFixed(1));
  await s.close();
  rmSync(dir, { recursive: true });
}
