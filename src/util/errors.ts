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

/** Malformed bencoded data, or data beyond a configured limit. */
export class BencodeError extends BttkitError {}

/** A .torrent file (or info dictionary) that is malformed, unsafe or inconsistent. */
export class MetainfoError extends BttkitError {}

/** A malformed magnet URI. */
export class MagnetError extends BttkitError {}

/** A caller passed an argument that cannot be used. */
export class ArgumentError extends BttkitError {}

/** An operation was aborted through its `AbortSignal`. */
export class AbortError extends BttkitError {
  constructor(message = 'The operation was aborted', options: BttkitErrorOptions = {}) {
    super('ABORTED', message, options);
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
