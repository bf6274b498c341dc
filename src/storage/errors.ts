import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link StorageError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `STORAGE_OUT_OF_RANGE` | a piece index, offset or length outside the torrent (or a negative / empty block) |
 * | `STORAGE_UNSAFE_PATH` | a file would land outside the download folder, or a path element inside it is a symlink |
 * | `STORAGE_BAD_LAYOUT` | the info dictionary is inconsistent (offsets, lengths, piece count, duplicate paths) |
 * | `STORAGE_BAD_OPTIONS` | an option out of range (e.g. a hash pool size that is not a natural number) |
 * | `STORAGE_CLOSED` | the store was closed or destroyed |
 * | `STORAGE_IO` | the file system failed (see `cause`) |
 * | `STORAGE_HASH_FAILED` | the hash worker failed (see `cause`) |
 * | `STORAGE_BAD_RESUME` | fast-resume data that cannot be used: not a resume record, a version we do not read, another torrent's, out of bounds |
 */
export const STORAGE_ERROR_CODES = [
  'STORAGE_OUT_OF_RANGE',
  'STORAGE_UNSAFE_PATH',
  'STORAGE_BAD_LAYOUT',
  'STORAGE_BAD_OPTIONS',
  'STORAGE_CLOSED',
  'STORAGE_IO',
  'STORAGE_HASH_FAILED',
  'STORAGE_BAD_RESUME',
] as const;

/** One of {@link STORAGE_ERROR_CODES}. */
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** An error of a {@link ChunkStore} or of the hash pool. `code` is one of {@link StorageErrorCode}. */
export class StorageError extends BttkitError {
  declare readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/** Wraps a file-system error as `STORAGE_IO` (or `STORAGE_UNSAFE_PATH` for ELOOP from O_NOFOLLOW). */
export function ioError(what: string, cause: unknown): StorageError {
  if (cause instanceof StorageError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === 'ELOOP') {
    return new StorageError('STORAGE_UNSAFE_PATH', `${what}: a symlink inside the download folder`, {
      cause,
    });
  }
  return new StorageError(
    'STORAGE_IO',
    `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
    {
      cause,
      details: { errno: typeof code === 'string' ? code : null },
    },
  );
}

export function closedError(): StorageError {
  return new StorageError('STORAGE_CLOSED', 'the store is closed');
}
