/**
 * RC4 in TypeScript: Node ≥ 17's OpenSSL 3 offers RC4 only with the legacy provider (a process
 * flag), and MSE/PE needs nothing else from it.
 *
 * Speed (bench/crypto.bench.ts): RC4 is a serial byte generator (each byte's swap depends on the
 * previous), so what is left to a JavaScript implementation is keeping the state in locals,
 * the table as a `Uint8Array` (faster than an `Int32Array` here: smaller, and no sign
 * handling), and XOR-ing four keystream bytes into the data as one 32-bit word — a quarter of
 * the loads and stores on the data.
 */
export class Rc4 {
  readonly #s = new Uint8Array(256);
  #i = 0;
  #j = 0;

  /** Schedules `key` (1–256 bytes), then discards the first `discard` bytes of keystream. */
  constructor(key: Uint8Array, discard = 0) {
    const s = this.#s;
    const n = key.length;
    for (let i = 0; i < 256; i++) s[i] = i;
    let j = 0;
    for (let i = 0; i < 256; i++) {
      const si = s[i] as number;
      j = (j + si + (key[i % n] as number)) & 255;
      s[i] = s[j] as number;
      s[j] = si;
    }
    if (discard > 0) this.skip(discard);
  }

  /** Advances the keystream by `n` bytes. */
  skip(n: number): void {
    const s = this.#s;
    let i = this.#i;
    let j = this.#j;
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 255;
      const si = s[i] as number;
      j = (j + si) & 255;
      s[i] = s[j] as number;
      s[j] = si;
    }
    this.#i = i;
    this.#j = j;
  }

  /** XORs the keystream into `data`, in place (encrypts or decrypts). */
  apply(data: Uint8Array): void {
    const s = this.#s;
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
      // Little- or big-endian, the word's bytes are XOR-ed with keystream bytes in memory order.
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
