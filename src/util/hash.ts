import { sha1 as nobleSha1 } from '@noble/hashes/legacy.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** The part of `node:crypto` bttkit uses; absent outside Node. */
interface NodeCryptoLike {
  createHash(algorithm: string): { update(data: Uint8Array): unknown; digest(): Uint8Array };
}

/** A streaming hash: feed it chunks, then take the digest once. */
export interface Hasher {
  update(data: Uint8Array): Hasher;
  digest(): Uint8Array;
}

/** Which implementation the hash functions use: `node` (OpenSSL, ~9× faster) or `noble`. */
export type HashBackend = 'node' | 'noble';

function loadNodeCrypto(): NodeCryptoLike | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCryptoLike | undefined;
  return typeof mod?.createHash === 'function' ? mod : undefined;
}

let nodeCrypto: NodeCryptoLike | undefined = loadNodeCrypto();

/** The implementation currently in use. */
export function hashBackend(): HashBackend {
  return nodeCrypto ? 'node' : 'noble';
}

/**
 * Forces a backend (for tests and benchmarks). `node` is refused where `node:crypto` is absent.
 * @returns the backend now in use.
 */
export function setHashBackend(backend: HashBackend): HashBackend {
  nodeCrypto = backend === 'node' ? loadNodeCrypto() : undefined;
  return hashBackend();
}

function nodeHasher(c: NodeCryptoLike, algorithm: string): Hasher {
  const h = c.createHash(algorithm);
  const self: Hasher = {
    update(data) {
      h.update(data);
      return self;
    },
    digest() {
      const d = h.digest();
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    },
  };
  return self;
}

function nobleHasher(fn: typeof nobleSha1 | typeof nobleSha256): Hasher {
  const h = fn.create();
  const self: Hasher = {
    update(data) {
      h.update(data);
      return self;
    },
    digest: () => h.digest(),
  };
  return self;
}

/** A streaming SHA-1 hasher. */
export function createSha1(): Hasher {
  return nodeCrypto ? nodeHasher(nodeCrypto, 'sha1') : nobleHasher(nobleSha1);
}

/** A streaming SHA-256 hasher. */
export function createSha256(): Hasher {
  return nodeCrypto ? nodeHasher(nodeCrypto, 'sha256') : nobleHasher(nobleSha256);
}

/** SHA-1 of `data` (20 bytes). */
export function sha1(data: Uint8Array): Uint8Array {
  return createSha1().update(data).digest();
}

/** SHA-256 of `data` (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array {
  return createSha256().update(data).digest();
}
