/**
 * A fixed-size bit set in BitTorrent order: bit 0 is the high bit of byte 0 (BEP 3).
 */
export class Bitfield {
  /** The bytes, `ceil(length / 8)` of them; spare bits at the end are zero. */
  readonly bytes: Uint8Array;
  readonly length: number;
  #count = 0;

  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isInteger(length) || length < 0)
      throw new RangeError('Bitfield length must be a natural number');
    this.length = length;
    this.bytes = new Uint8Array(Math.ceil(length / 8));
    if (bytes) {
      this.bytes.set(bytes.subarray(0, this.bytes.length));
      const spare = this.bytes.length * 8 - length;
      if (spare > 0)
        this.bytes[this.bytes.length - 1] = (this.bytes[this.bytes.length - 1] as number) & (0xff << spare);
      for (const b of this.bytes) this.#count += popcount(b);
    }
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  /** True when every bit is set. */
  get full(): boolean {
    return this.#count === this.length;
  }

  get(i: number): boolean {
    return i >= 0 && i < this.length && (((this.bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1;
  }

  /** Sets or clears bit `i`; returns true if it changed. */
  set(i: number, value = true): boolean {
    if (i < 0 || i >= this.length) throw new RangeError(`bit ${i} outside [0, ${this.length})`);
    const mask = 1 << (7 - (i & 7));
    const byte = this.bytes[i >> 3] as number;
    const was = (byte & mask) !== 0;
    if (was === value) return false;
    this.bytes[i >> 3] = value ? byte | mask : byte & ~mask;
    this.#count += value ? 1 : -1;
    return true;
  }

  /** Sets every bit. */
  setAll(): void {
    this.bytes.fill(0xff);
    const spare = this.bytes.length * 8 - this.length;
    if (spare > 0) this.bytes[this.bytes.length - 1] = 0xff << spare;
    this.#count = this.length;
  }
}

function popcount(b: number): number {
  let n = b - ((b >> 1) & 0x55);
  n = (n & 0x33) + ((n >> 2) & 0x33);
  return (n + (n >> 4)) & 0x0f;
}
