/**
 * Storage: where a torrent's pieces live. A {@link ChunkStore} interface with a memory store and
 * a file-system store (multi-file, sparse, safe paths, skipped files, bounded write queue), SHA-1
 * verification in a worker pool, resume by recheck or from fast-resume data.
 * @module storage
 */
export { bitfieldCount, bitfieldGet, bitfieldSet, createBitfield } from '../util/bitfield.js';
export { STORAGE_ERROR_CODES, StorageError, type StorageErrorCode } from './errors.js';
export { FdCache, type FdEntry } from './fd-cache.js';
export { FsChunkStore, type FsChunkStoreOptions } from './fs-store.js';
export {
  HashPool,
  type HashPoolOptions,
  type HashRange,
  type LentHashResult,
  type RangeHashResult,
  sharedHashPool,
} from './hash-pool.js';
export { MemoryChunkStore, type MemoryChunkStoreOptions } from './memory-store.js';
export {
  checkResumeFor,
  decodeResume,
  encodeResume,
  MAX_RESUME_BYTES,
  RESUME_VERSION,
  type ResumeFileStat,
  type ResumeRecord,
} from './resume.js';
export type {
  ChunkStore,
  RecheckOptions,
  RecheckProgress,
  RecheckResume,
  StorageAbortOptions,
  StorageGetOptions,
} from './types.js';
export {
  type PieceHashKind,
  type PieceLayers,
  type PieceVerifier,
  pieceDataLengths,
  pieceVerifier,
} from './verifier.js';
