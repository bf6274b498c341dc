import { WASM_CHUNK, WASM_DATA, wasmRc4 } from './rc4-wasm.js';

/**
 * RC4, for MSE/PE: Node ≥ 17's OpenSSL 3 offers RC4 only with the legacy provider (a process
 * flag), so bttkit carries its own.
 *
 * Two engines (bench/crypto.bench.ts has the figures): a WebAssembly loop (rc4-wasm.ts, ~800
 * MB/s here), used wherever WebAssembly exists, and a JavaScript loop (~500 MB/s) otherwise.
 * RC4 is a serial byte generator (each swap depends on the previous one), so what is left to
 * gain is keeping the state in registers and XOR-ing several keystream bytes into the data as
 * one word. Inputs under 32 bytes skip the WebAssembly call (loading a stream's state costs more
 * than they do).
 */

/** Which engine new {@link Rc4} streams use. */
export type Rc4Backend = 'wasm' | 'js';

let useWasm = true;

/** The engine new streams use: `wasm` unless unavailable or turned off. */
export function rc4Backend(): Rc4Backend {
  return useWasm && wasmRc4() ? 'wasm' : 'js';
}

/** Chooses the engine of streams created from now on (tests, benchmarks). @returns the engine in use. */
export function setRc4Backend(backend: Rc4Backend): Rc4Backend {
  useWasm = backend === 'wasm';
  return rc4Backend();
}

/** Below this many bytes, the WebAssembly engine's streams run the JavaScript loop. */
const SMALL = 32;

/** An RC4 keystream: {@link apply} XORs it into data (encrypts or decrypts). */
export class Rc4 {
  /** The permutation: bytes for the JavaScript engine, i32 words for the WebAssembly one. */
  readonly #s: Uint8Array | Int32Array;
  readonly #wasm: boolean;
  #i = 0;
  #j = 0;

  /** Schedules `key` (1–256 bytes), then discards the first `discard` bytes of keystream. */
  constructor(key: Uint8Array, discard = 0) {
    this.#wasm = rc4Backend() === 'wasm';
    const s = this.#wasm ? new Int32Array(256) : new Uint8Array(256);
    const n = key.length;
    for (let i = 0; i < 256; i++) s[i] = i;
    let j = 0;
    for (let i = 0; i < 256; i++) {
      const si = s[i] as number;
      j = (j + si + (key[i % n] as number)) & 255;
      s[i] = s[j] as number;
      s[j] = si;
    }
    this.#s = s;
    if (discard > 0) this.apply(new Uint8Array(discard));
  }

  /** XORs the keystream into `data`, in place. */
  apply(data: Uint8Array): void {
    this.applyTo(data, data);
  }

  /** XORs the keystream into `src`, writing to `dst` (same length; may be `src` itself). */
  applyTo(src: Uint8Array, dst: Uint8Array): void {
    const n = src.length;
    const engine = this.#wasm && n >= SMALL ? wasmRc4() : undefined;
    if (engine) {
      engine.state.set(this.#s);
      engine.ij[0] = this.#i * 4;
      engine.ij[1] = this.#j * 4;
      const mem = engine.bytes;
      for (let off = 0; off < n; off += WASM_CHUNK) {
        const len = Math.min(WASM_CHUNK, n - off);
        mem.set(src.subarray(off, off + len), WASM_DATA);
        engine.rc4(WASM_DATA, len);
        dst.set(mem.subarray(WASM_DATA, WASM_DATA + len), off);
      }
      this.#s.set(engine.state);
      this.#i = (engine.ij[0] as number) >>> 2;
      this.#j = (engine.ij[1] as number) >>> 2;
      return;
    }
    if (dst !== src) dst.set(src);
    if (this.#s instanceof Uint8Array) this.#jsWords(dst, this.#s);
    else this.#jsBytes(dst, this.#s);
  }

  /** The byte loop (small inputs of a WebAssembly stream, whose state is i32 words). */
  #jsBytes(data: Uint8Array, s: Int32Array): void {
    let i = this.#i;
    let j = this.#j;
    for (let k = 0; k < data.length; k++) {
      i = (i + 1) & 255;
      const si = s[i] as number;
      j = (j + si) & 255;
      const sj = s[j] as number;
      s[i] = sj;
      s[j] = si;
      data[k] = (data[k] as number) ^ (s[(si + sj) & 255] as number);
    }
    this.#i = i;
    this.#j = j;
  }

  /**
   * The JavaScript engine: state in locals, a byte table, four keystream bytes XOR-ed into the
   * data as one 32-bit word (a quarter of the loads and stores on the data).
   */
  #jsWords(data: Uint8Array, s: Uint8Array): void {
    let i = this.#i;
    let j = this.#j;
    const n = data.length;
    let k = 0;
    // Bytes up to a 4-byte boundary of the underlying buffer, then whole words, then the tail.
    const head = Math.min(n, (4 - (data.byteOffset & 3)) & 3);
    for (; k < head; k++) {
      i = (i + 1) & 255;
      const si = s[i] as number;
      j = (j + si) & 255;
      const sj = s[j] as number;
      s[i] = sj;
      s[j] = si;
      data[k] = (data[k] as number) ^ (s[(si + sj) & 255] as number);
    }
    const words = (n - k) >>> 2;
    if (words > 0) {
      const w = new Int32Array(data.buffer, data.byteOffset + k, words);
      const le = LITTLE_ENDIAN;
      for (let m = 0; m < words; m++) {
        i = (i + 1) & 255;
        let si = s[i] as number;
        j = (j + si) & 255;
        let sj = s[j] as number;
        s[i] = sj;
        s[j] = si;
        const b0 = s[(si + sj) & 255] as number;
        i = (i + 1) & 255;
        si = s[i] as number;
        j = (j + si) & 255;
        sj = s[j] as number;
        s[i] = sj;
        s[j] = si;
        const b1 = s[(si + sj) & 255] as number;
        i = (i + 1) & 255;
        si = s[i] as number;
        j = (j + si) & 255;
        sj = s[j] as number;
        s[i] = sj;
        s[j] = si;
        const b2 = s[(si + sj) & 255] as number;
        i = (i + 1) & 255;
        si = s[i] as number;
        j = (j + si) & 255;
        sj = s[j] as number;
        s[i] = sj;
        s[j] = si;
        const b3 = s[(si + sj) & 255] as number;
        // The word's bytes, in memory order, meet keystream bytes 0..3 on either endianness.
        w[m] =
          (w[m] as number) ^
          (le ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3);
      }
      k += words * 4;
    }
    for (; k < n; k++) {
      i = (i + 1) & 255;
      const si = s[i] as number;
      j = (j + si) & 255;
      const sj = s[j] as number;
      s[i] = sj;
      s[j] = si;
      data[k] = (data[k] as number) ^ (s[(si + sj) & 255] as number);
    }
    this.#i = i;
    this.#j = j;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
