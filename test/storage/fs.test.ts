import { FsChunkStore } from '../../src/storage/index.js';
import { chunkStoreCompliance } from './compliance.js';

chunkStoreCompliance({
  name: 'FsChunkStore',
  open: (meta, dir, options) => new FsChunkStore(meta, { path: dir, ...options }),
  persistent: true,
  makesFiles: true,
});
