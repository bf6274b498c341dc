import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { fromHex, toHex } from '../util/bytes.js';
import { fromBase58Check, toBase58Check } from './base58.js';
import { LruCache, nodeCrypto, randomBytes } from './crypto-backend.js';
import { LedgerError } from './errors.js';

/** The first byte of every TRON mainnet address. */
export const TRON_ADDRESS_PREFIX = 0x41;

/** Length of an {@link AccountSignature}: 33-byte compressed public key ‖ 64-byte r‖s. */
export const ACCOUNT_SIGNATURE_LENGTH = 97;

const HALF_N = secp256k1.Point.CURVE().n >> 1n;

/**
 * The 21 address bytes (0x41 ‖ last 20 bytes of keccak256(x ‖ y)) of a secp256k1 public key,
 * compressed (33 bytes) or uncompressed (65 bytes).
 * @throws {LedgerError} `LEDGER_BAD_KEY`
 */
export function addressBytesFromPublicKey(publicKey: Uint8Array): Uint8Array {
  let full: Uint8Array;
  try {
    full = publicKey.length === 65 ? publicKey : secp256k1.Point.fromBytes(publicKey).toBytes(false);
    if (full.length !== 65 || full[0] !== 4) throw new Error('not an uncompressed point'); // internal: caught below
  } catch (cause) {
    throw new LedgerError('LEDGER_BAD_KEY', 'not a secp256k1 public key', { cause });
  }
  const h = keccak_256(full.subarray(1));
  const out = new Uint8Array(21);
  out[0] = TRON_ADDRESS_PREFIX;
  out.set(h.subarray(12), 1);
  return out;
}

/** The base58check TRON address (`T…`) of a secp256k1 public key. */
export function addressFromPublicKey(publicKey: Uint8Array): string {
  return toBase58Check(addressBytesFromPublicKey(publicKey));
}

/**
 * The 21 bytes of an address given as base58check (`T…`) or hex (`41…`, 42 hex digits).
 * Checks the checksum and the 0x41 prefix.
 * @throws {LedgerError} `LEDGER_BAD_ADDRESS`
 */
export function addressBytes(address: string): Uint8Array {
  if (typeof address !== 'string' || address.length > 64) {
    throw new LedgerError('LEDGER_BAD_ADDRESS', 'not a TRON address');
  }
  let bytes: Uint8Array;
  if (/^41[0-9a-fA-F]{40}$/.test(address)) bytes = fromHex(address);
  else bytes = fromBase58Check(address);
  if (bytes.length !== 21 || bytes[0] !== TRON_ADDRESS_PREFIX) {
    throw new LedgerError('LEDGER_BAD_ADDRESS', 'not a TRON address (want 21 bytes starting with 0x41)');
  }
  return bytes;
}

/**
 * The canonical base58check form (`T…`) of an address given as base58check or hex.
 * @throws {LedgerError} `LEDGER_BAD_ADDRESS`
 */
export function normalizeAddress(address: string): string {
  return toBase58Check(addressBytes(address));
}

/** The hex form (`41…`, lower case) of an address. @throws {LedgerError} `LEDGER_BAD_ADDRESS` */
export function toHexAddress(address: string): string {
  return toHex(addressBytes(address));
}

/** The base58check form of a hex address (`41…`). @throws {LedgerError} `LEDGER_BAD_ADDRESS` */
export function fromHexAddress(hex: string): string {
  return normalizeAddress(hex);
}

/** True if `address` is a valid TRON address (base58check with a good checksum, or hex `41…`). */
export function isAddress(address: unknown): address is string {
  if (typeof address !== 'string') return false;
  try {
    addressBytes(address);
    return true;
  } catch {
    return false;
  }
}

/**
 * A TRON account key (secp256k1). Its private key is never printed: `toString()` and `toJSON()`
 * give the address.
 *
 * @example
 * ```ts
 * const key = TronKey.generate();
 * key.address;          // 'T…'
 * const again = TronKey.fromPrivateKey(key.exportPrivateKey());
 * ```
 */
export class TronKey {
  readonly #secret: Uint8Array;
  /** Compressed public key (33 bytes). */
  readonly publicKey: Uint8Array;
  /** Base58check address (`T…`). */
  readonly address: string;
  /** Hex address (`41…`). */
  readonly hexAddress: string;

  private constructor(secret: Uint8Array) {
    this.#secret = secret;
    this.publicKey = secp256k1.getPublicKey(secret, true);
    const bytes = addressBytesFromPublicKey(this.publicKey);
    this.address = toBase58Check(bytes);
    this.hexAddress = toHex(bytes);
  }

  /** A fresh random key. */
  static generate(): TronKey {
    for (;;) {
      const secret = randomBytes(32);
      if (secp256k1.utils.isValidSecretKey(secret)) return new TronKey(secret);
    }
  }

  /**
   * Imports a 32-byte private key (bytes, or 64 hex digits with an optional `0x`).
   * @throws {LedgerError} `LEDGER_BAD_KEY`
   */
  static fromPrivateKey(key: Uint8Array | string): TronKey {
    let bytes: Uint8Array;
    try {
      bytes = typeof key === 'string' ? fromHex(key.replace(/^0x/, '')) : Uint8Array.from(key);
    } catch (cause) {
      throw new LedgerError('LEDGER_BAD_KEY', 'private key is not hex', { cause });
    }
    if (bytes.length !== 32 || !secp256k1.utils.isValidSecretKey(bytes)) {
      throw new LedgerError('LEDGER_BAD_KEY', 'not a secp256k1 private key');
    }
    return new TronKey(bytes);
  }

  /** The private key as 64 lower-case hex digits (tronweb's format). Handle with care. */
  exportPrivateKey(): string {
    return toHex(this.#secret);
  }

  /**
   * Signs `message` (ECDSA over SHA-256(message), low-S, deterministic nonce per RFC 6979: the
   * same message always gives the same bytes) and returns an {@link AccountSignature}: compressed
   * public key (33) ‖ r (32) ‖ s (32).
   */
  sign(message: Uint8Array): Uint8Array {
    const sig = secp256k1.sign(message, this.#secret, { prehash: true, lowS: true });
    const out = new Uint8Array(ACCOUNT_SIGNATURE_LENGTH);
    out.set(this.publicKey);
    out.set(sig, 33);
    return out;
  }

  toString(): string {
    return this.address;
  }

  toJSON(): string {
    return this.address;
  }
}

interface ParsedPublic {
  address: string;
  uncompressed: Uint8Array;
  nodeKey: unknown;
}

const publicCache = new LruCache<string, ParsedPublic>(4096);

function parsePublic(compressed: Uint8Array): ParsedPublic | undefined {
  const id = toHex(compressed);
  const hit = publicCache.get(id);
  if (hit) return hit;
  let uncompressed: Uint8Array;
  try {
    uncompressed = secp256k1.Point.fromBytes(compressed).toBytes(false);
  } catch {
    return undefined;
  }
  const parsed: ParsedPublic = {
    address: addressFromPublicKey(uncompressed),
    uncompressed,
    nodeKey: undefined,
  };
  publicCache.set(id, parsed);
  return parsed;
}

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/**
 * An account signature: the signer's compressed secp256k1 public key (33 bytes) followed by a
 * 64-byte ECDSA signature r‖s (low-S) over SHA-256 of the message. Carrying the public key lets
 * the verifier use a plain verify (fast through OpenSSL) rather than a public-key recovery.
 */
export type AccountSignature = Uint8Array;

/**
 * True if `signature` is an {@link AccountSignature} over `message` by the key of `address`.
 * Never throws on malformed input (returns false).
 */
export function verifyAccountSignature(address: string, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ACCOUNT_SIGNATURE_LENGTH) return false;
  const pub = parsePublic(signature.subarray(0, 33));
  if (!pub || pub.address !== address) return false;
  const sig = signature.subarray(33);
  let s = 0n;
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(sig[i] as number);
  if (s === 0n || s > HALF_N) return false;
  const nc = nodeCrypto();
  if (nc) {
    try {
      if (pub.nodeKey === undefined) {
        pub.nodeKey = nc.createPublicKey({
          key: {
            kty: 'EC',
            crv: 'secp256k1',
            x: b64url(pub.uncompressed.subarray(1, 33)),
            y: b64url(pub.uncompressed.subarray(33)),
          },
          format: 'jwk',
        });
      }
      return nc.verify('sha256', message, { key: pub.nodeKey, dsaEncoding: 'ieee-p1363' }, sig);
    } catch {
      return false;
    }
  }
  try {
    return secp256k1.verify(sig, message, pub.uncompressed, { prehash: true, lowS: true });
  } catch {
    return false;
  }
}
