/**
 * Where signatures are computed: `node:crypto` (OpenSSL, several times faster) when present,
 * `@noble/curves` otherwise (browsers) or when forced for tests and benchmarks.
 */

/** The part of `node:crypto` the ledger uses. */
export interface NodeCryptoLike {
  createPublicKey(key: unknown): unknown;
  createPrivateKey(key: unknown): unknown;
  sign(algorithm: string | null, data: Uint8Array, key: unknown): Uint8Array;
  verify(algorithm: string | null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
  randomBytes(n: number): Uint8Array;
}

/** Which implementation signatures use. */
export type SignatureBackend = 'node' | 'noble';

function load(): NodeCryptoLike | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCryptoLike | undefined;
  return typeof mod?.verify === 'function' && typeof mod.createPublicKey === 'function' ? mod : undefined;
}

let current: NodeCryptoLike | undefined = load();

/** `node:crypto`, or `undefined` when the noble backend is in use. */
export function nodeCrypto(): NodeCryptoLike | undefined {
  return current;
}

/** The signature backend in use. */
export function signatureBackend(): SignatureBackend {
  return current ? 'node' : 'noble';
}

/**
 * Forces a signature backend (tests, benchmarks). `node` is refused where `node:crypto` is absent.
 * @returns the backend now in use.
 */
export function setSignatureBackend(backend: SignatureBackend): SignatureBackend {
  current = backend === 'node' ? load() : undefined;
  return signatureBackend();
}

/** `n` cryptographically random bytes (Web Crypto, present in Node ≥ 19 and browsers). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/** A small least-recently-used cache (bounded; for parsed public keys). */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const first = this.#map.keys().next();
      if (!first.done) this.#map.delete(first.value);
    }
  }
}
