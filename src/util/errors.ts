/** Options accepted by every {@link BttkitError}. */
export interface BttkitErrorOptions {
  /** The lower-level error that caused this one. */
  cause?: unknown;
  /** Machine-readable context (offsets, limits, field names). Never secrets. */
  details?: Readonly<Record<string, string | number | boolean | bigint | null>>;
}

/**
 * Base class of every error bttkit throws on purpose. `code` is stable and meant for programs;
 * `message` is short and meant for people.
 *
 * @example
 * ```ts
 * try { decode(bytes) } catch (e) {
 *   if (e instanceof BttkitError && e.code === 'BENCODE_TRUNCATED') { ... }
 * }
 * ```
 */
export class BttkitError extends Error {
  /** Stable identifier, `UPPER_SNAKE_CASE`, e.g. `BENCODE_DEPTH_LIMIT`. */
  readonly code: string;
  /** Machine-readable context. */
  readonly details: Readonly<Record<string, string | number | boolean | bigint | null>>;

  constructor(code: string, message: string, options: BttkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  /** Walks the `cause` chain, returning the first error for which `fn` is true. */
  walk(fn: (err: unknown) => boolean): unknown {
    let err: unknown = this;
    for (let i = 0; i < 32 && err !== undefined; i++) {
      if (fn(err)) return err;
      err = err instanceof Error ? err.cause : undefined;
    }
    return undefined;
  }
}

/**
 * The codes of util's own errors ({@link ArgumentError}, {@link AbortError}, the unhandled
 * `'error'` of a {@link TypedEmitter}). Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `UTIL_BAD_HEX` | `fromHex`: odd length or a non-hex digit |
 * | `UTIL_BAD_BASE32` | `fromBase32`: a character outside RFC 4648 base32, or non-zero trailing bits |
 * | `UTIL_BAD_BINARY_STRING` | `fromBinaryString`: a code unit above 0xff |
 * | `UTIL_OUT_OF_RANGE` | a number outside its allowed range (e.g. `ManualClock.advance` by a negative time) |
 * | `UTIL_BITFIELD_BAD_LENGTH` | a bitfield length that is not a natural number |
 * | `UTIL_BITFIELD_OUT_OF_RANGE` | a bit index outside the bitfield |
 * | `UTIL_UNHANDLED_ERROR` | an `'error'` event with no listener carried a value that is not an `Error` (rethrown wrapped) |
 * | `ABORTED` | an operation was aborted through its `AbortSignal` ({@link AbortError}; the one code without a module prefix, used package-wide) |
 */
export const UTIL_ERROR_CODES = [
  'UTIL_BAD_HEX',
  'UTIL_BAD_BASE32',
  'UTIL_BAD_BINARY_STRING',
  'UTIL_OUT_OF_RANGE',
  'UTIL_BITFIELD_BAD_LENGTH',
  'UTIL_BITFIELD_OUT_OF_RANGE',
  'UTIL_UNHANDLED_ERROR',
  'ABORTED',
] as const;
/** One of {@link UTIL_ERROR_CODES}. */
export type UtilErrorCode = (typeof UTIL_ERROR_CODES)[number];

/**
 * The codes of {@link BencodeError} (the bencode codec of `bttkit/metainfo`). Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `BENCODE_EMPTY` | no value at all |
 * | `BENCODE_TRUNCATED` | the input ends inside a value |
 * | `BENCODE_TRAILING_DATA` | bytes after the value |
 * | `BENCODE_TOO_LARGE` | the input (or a value) is larger than `maxBytes` |
 * | `BENCODE_DEPTH_LIMIT` | nesting deeper than `maxDepth` (decode) or a cycle (encode) |
 * | `BENCODE_ITEM_LIMIT` | more values than `maxItems` |
 * | `BENCODE_BAD_INTEGER` | an integer with no digits, a non-digit, a leading zero, `-0` or too many digits |
 * | `BENCODE_BAD_STRING_LENGTH` | a string length with a leading zero or not followed by `:` |
 * | `BENCODE_STRING_TOO_LONG` | a string longer than `maxStringLength` |
 * | `BENCODE_UNEXPECTED_BYTE` | a byte that starts no value (or a stray `e`) |
 * | `BENCODE_KEY_NOT_STRING` | a dictionary key that is not a byte string |
 * | `BENCODE_MISSING_VALUE` | a dictionary key without a value |
 * | `BENCODE_DUPLICATE_KEY` | two equal keys in one dictionary |
 * | `BENCODE_UNSORTED_KEYS` | dictionary keys out of order (strict mode) |
 * | `BENCODE_NOT_ENCODABLE` | `encode` was given a value bencode cannot hold (an unsafe number, a function…) |
 */
export const BENCODE_ERROR_CODES = [
  'BENCODE_EMPTY',
  'BENCODE_TRUNCATED',
  'BENCODE_TRAILING_DATA',
  'BENCODE_TOO_LARGE',
  'BENCODE_DEPTH_LIMIT',
  'BENCODE_ITEM_LIMIT',
  'BENCODE_BAD_INTEGER',
  'BENCODE_BAD_STRING_LENGTH',
  'BENCODE_STRING_TOO_LONG',
  'BENCODE_UNEXPECTED_BYTE',
  'BENCODE_KEY_NOT_STRING',
  'BENCODE_MISSING_VALUE',
  'BENCODE_DUPLICATE_KEY',
  'BENCODE_UNSORTED_KEYS',
  'BENCODE_NOT_ENCODABLE',
] as const;
/** One of {@link BENCODE_ERROR_CODES}. */
export type BencodeErrorCode = (typeof BENCODE_ERROR_CODES)[number];

/**
 * The codes of {@link MetainfoError} (parsing and creating torrents). Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `METAINFO_BAD_BENCODE` | the torrent is not valid bencode (see `cause`) |
 * | `METAINFO_NOT_A_DICT` | the torrent is not a dictionary |
 * | `METAINFO_NO_INFO` | no info dictionary |
 * | `METAINFO_NO_NAME` | the info dictionary has no name |
 * | `METAINFO_BAD_PIECE_LENGTH` | piece length missing, not an integer or out of bounds |
 * | `METAINFO_BAD_PIECES` | `pieces` missing or not a multiple of 20 bytes |
 * | `METAINFO_BAD_FILES` | `length`/`files` missing, both present, or malformed |
 * | `METAINFO_BAD_LENGTH` | a file length missing, negative or too large |
 * | `METAINFO_TOO_MANY_FILES` | more files than `maxFiles` |
 * | `METAINFO_TOO_MANY_TRACKERS` | more trackers than `maxTrackers` |
 * | `METAINFO_UNSAFE_PATH` | a file path that is empty, too deep, absolute, or leaves the folder |
 * | `METAINFO_DUPLICATE_PATH` | two files with one path, or a path that is both a file and a folder |
 * | `METAINFO_EMPTY` | total length 0 |
 * | `METAINFO_PIECE_COUNT_MISMATCH` | the number of piece hashes does not fit the total length |
 * | `METAINFO_BAD_PIECE_INDEX` | `pieceHash`: a piece index outside the torrent |
 * | `METAINFO_CREATE_NO_FILES` | `createTorrent`: a folder without files |
 * | `METAINFO_CREATE_NOT_A_FILE` | `createTorrent`: the path is neither a file nor a folder |
 * | `METAINFO_CREATE_EMPTY` | `createTorrent`: the files hold 0 bytes |
 * | `METAINFO_CREATE_BAD_PIECE_LENGTH` | `createTorrent`: a piece length that is not a power of two from 16 KiB to 256 MiB |
 * | `METAINFO_CREATE_FILE_CHANGED` | `createTorrent`: a file changed size while it was hashed |
 */
export const METAINFO_ERROR_CODES = [
  'METAINFO_BAD_BENCODE',
  'METAINFO_NOT_A_DICT',
  'METAINFO_NO_INFO',
  'METAINFO_NO_NAME',
  'METAINFO_BAD_PIECE_LENGTH',
  'METAINFO_BAD_PIECES',
  'METAINFO_BAD_FILES',
  'METAINFO_BAD_LENGTH',
  'METAINFO_TOO_MANY_FILES',
  'METAINFO_TOO_MANY_TRACKERS',
  'METAINFO_UNSAFE_PATH',
  'METAINFO_DUPLICATE_PATH',
  'METAINFO_EMPTY',
  'METAINFO_PIECE_COUNT_MISMATCH',
  'METAINFO_BAD_PIECE_INDEX',
  'METAINFO_CREATE_NO_FILES',
  'METAINFO_CREATE_NOT_A_FILE',
  'METAINFO_CREATE_EMPTY',
  'METAINFO_CREATE_BAD_PIECE_LENGTH',
  'METAINFO_CREATE_FILE_CHANGED',
] as const;
/** One of {@link METAINFO_ERROR_CODES}. */
export type MetainfoErrorCode = (typeof METAINFO_ERROR_CODES)[number];

/**
 * The codes of {@link MagnetError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `MAGNET_NOT_MAGNET` | the text does not start with `magnet:?` |
 * | `MAGNET_TOO_LONG` | the URI is longer than the limit |
 * | `MAGNET_TOO_MANY_ITEMS` | more parameters than the limit |
 * | `MAGNET_BAD_ENCODING` | bad percent-encoding |
 * | `MAGNET_NO_INFOHASH` | no `xt=urn:btih:` |
 * | `MAGNET_BAD_INFOHASH` | an info-hash that is neither 40 hex digits nor 32 base32 characters (or not 20 bytes) |
 * | `MAGNET_CONFLICTING_INFOHASH` | two different btih info-hashes |
 * | `MAGNET_BAD_PEER` | a `x.pe` peer that is not `host:port` |
 */
export const MAGNET_ERROR_CODES = [
  'MAGNET_NOT_MAGNET',
  'MAGNET_TOO_LONG',
  'MAGNET_TOO_MANY_ITEMS',
  'MAGNET_BAD_ENCODING',
  'MAGNET_NO_INFOHASH',
  'MAGNET_BAD_INFOHASH',
  'MAGNET_CONFLICTING_INFOHASH',
  'MAGNET_BAD_PEER',
] as const;
/** One of {@link MAGNET_ERROR_CODES}. */
export type MagnetErrorCode = (typeof MAGNET_ERROR_CODES)[number];

/**
 * Malformed bencoded data, or data beyond a configured limit. `code` is one of
 * {@link BencodeErrorCode}. (Defined here, beside the base class, for every module to reach.)
 */
export class BencodeError extends BttkitError {
  declare readonly code: BencodeErrorCode;

  constructor(code: BencodeErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/**
 * A .torrent file (or info dictionary) that is malformed, unsafe or inconsistent, or a torrent
 * that cannot be created. `code` is one of {@link MetainfoErrorCode}.
 */
export class MetainfoError extends BttkitError {
  declare readonly code: MetainfoErrorCode;

  constructor(code: MetainfoErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/** A malformed magnet URI. `code` is one of {@link MagnetErrorCode}. */
export class MagnetError extends BttkitError {
  declare readonly code: MagnetErrorCode;

  constructor(code: MagnetErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/**
 * A caller passed an argument that a util helper cannot use. `code` is one of
 * {@link UtilErrorCode}; other modules throw their own error class for their arguments.
 */
export class ArgumentError extends BttkitError {
  declare readonly code: UtilErrorCode;

  constructor(code: UtilErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/** An operation was aborted through its `AbortSignal`. `code` is always `ABORTED`. */
export class AbortError extends BttkitError {
  declare readonly code: 'ABORTED';

  constructor(message = 'The operation was aborted', options: BttkitErrorOptions = {}) {
    super('ABORTED', message, options);
  }
}

/**
 * The codes of {@link TransportError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `TRANSPORT_CONNECT_FAILED` | the dial failed: refused, unreachable, nothing listening (see `cause`) |
 * | `TRANSPORT_LISTEN_FAILED` | cannot listen on the address (in use, not ours; see `cause`) |
 * | `TRANSPORT_ERROR` | the socket failed after it was connected (see `cause` and its errno `code`) |
 * | `TRANSPORT_RESET` | the remote end reset the connection |
 *
 * A dial aborted through its signal rejects with a `TransportError` whose code is the
 * package-wide `ABORTED` (listed with util's codes, not here).
 */
export const TRANSPORT_ERROR_CODES = [
  'TRANSPORT_CONNECT_FAILED',
  'TRANSPORT_LISTEN_FAILED',
  'TRANSPORT_ERROR',
  'TRANSPORT_RESET',
] as const;
/** One of {@link TRANSPORT_ERROR_CODES}, or `ABORTED`. */
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number] | 'ABORTED';

/** A failure of the transport itself: refused, reset, unreachable. `code` is a {@link TransportErrorCode}. */
export class TransportError extends BttkitError {
  declare readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/** Throws {@link AbortError} if `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/** True when `err` is a {@link BttkitError}, optionally with the given code. */
export function isBttkitError(err: unknown, code?: string): err is BttkitError {
  return err instanceof BttkitError && (code === undefined || err.code === code);
}
