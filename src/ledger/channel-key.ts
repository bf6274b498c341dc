import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, fromHex, toHex } from '../util/bytes.js';
import { LruCache, nodeCrypto, randomBytes } from './crypto-backend.js';
import { LedgerError } from './errors.js';

const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
const SPKI_PREFIX = fromHex('302a300506032b6570032100');

/** Length of an ed25519 signature (a voucher signature). */
export const ED25519_SIGNATURE_LENGTH = 64;

/**
 * A per-channel ed25519 key (the whitepaper's K1). The payer makes a fresh one for every
 * channel, authorizes its public key once with the TRON key, then signs vouchers with it.
 *
 * @example
 * ```ts
 * const ck = ChannelKey.generate();
 * const sig = ck.sign(message);
 * verifyEd25519(ck.publicKey, message, sig); // true
 * ```
 */
export class ChannelKey {
  readonly #seed: Uint8Array;
  #nodeKey: unknown;
  /** The 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
    this.publicKey = ed25519.getPublicKey(seed);
  }

  /** A fresh random channel key. */
  static generate(): ChannelKey {
    return new ChannelKey(randomBytes(32));
  }

  /** A channel key from its 32-byte seed (bytes or 64 hex digits). @throws {LedgerError} `LEDGER_BAD_KEY` */
  static fromSeed(seed: Uint8Array | string): ChannelKey {
    let bytes: Uint8Array;
    try {
      bytes = typeof seed === 'string' ? fromHex(seed) : Uint8Array.from(seed);
    } catch (cause) {
      throw new LedgerError('LEDGER_BAD_KEY', 'channel key seed is not hex', { cause });
    }
    if (bytes.length !== 32) throw new LedgerError('LEDGER_BAD_KEY', 'channel key seed must be 32 bytes');
    return new ChannelKey(bytes);
  }

  /** The 32-byte seed as hex. Handle with care. */
  exportSeed(): string {
    return toHex(this.#seed);
  }

  /** The ed25519 signature (64 bytes) of `message`. */
  sign(message: Uint8Array): Uint8Array {
    const nc = nodeCrypto();
    if (nc) {
      if (this.#nodeKey === undefined) {
        this.#nodeKey = nc.createPrivateKey({
          key: Buffer.from(concatBytes([PKCS8_PREFIX, this.#seed])),
          format: 'der',
          type: 'pkcs8',
        });
      }
      const s = nc.sign(null, message, this.#nodeKey);
      return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
    }
    return ed25519.sign(message, this.#seed);
  }

  toString(): string {
    return `ChannelKey(${toHex(this.publicKey)})`;
  }

  toJSON(): string {
    return toHex(this.publicKey);
  }
}

const nodePublicCache = new LruCache<string, unknown>(8192);

/** True if `publicKey` is a valid ed25519 public key (32 bytes, a point on the curve). */
export function isEd25519PublicKey(publicKey: unknown): publicKey is Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  try {
    return ed25519.utils.isValidPublicKey(publicKey, false);
  } catch {
    return false;
  }
}

/**
 * Verifies an ed25519 signature (RFC 8032, strict encodings), through `node:crypto` where present
 * and `@noble/curves` otherwise. Never throws on malformed input (returns false).
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  const nc = nodeCrypto();
  if (nc) {
    try {
      const id = toHex(publicKey);
      let key = nodePublicCache.get(id);
      if (key === undefined) {
        key = nc.createPublicKey({
          key: Buffer.from(concatBytes([SPKI_PREFIX, publicKey])),
          format: 'der',
          type: 'spki',
        });
        nodePublicCache.set(id, key);
      }
      return nc.verify(null, message, key, signature);
    } catch {
      return false;
    }
  }
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
