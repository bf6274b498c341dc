import { MemoryChunkStore } from '../../src/storage/index.js';
import { chunkStoreCompliance } from './compliance.js';

chunkStoreCompliance({
  name: 'MemoryChunkStore',
  open: (meta) => new MemoryChunkStore(meta),
  persistent: false,
  makesFiles: false,
});
