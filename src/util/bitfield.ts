import { ArgumentError } from './errors.js';

/**
 * Bitfields in BitTorrent order (BEP 3): bit `i` is `0x80 >> (i % 8)` of byte `i >> 3`, and the
 * spare bits after the last one are zero. The one implementation in bttkit: the {@link Bitfield}
 * class (with a count, for the picker and the session) and free functions on plain bytes (for
 * the stores, which keep a `Uint8Array`).
 */

/** Bytes of a bitfield of `length` bits: `ceil(length / 8)`. */
export function bitfieldByteLength(length: number): number {
  return (length + 7) >>> 3;
}

/** A zeroed bitfield of `length` bits. */
export function createBitfield(length: number): Uint8Array {
  return new Uint8Array(bitfieldByteLength(length));
}

/** True when bit `index` is set (false beyond the bytes). */
export function bitfieldGet(bits: Uint8Array, index: number): boolean {
  return (((bits[index >> 3] ?? 0) >> (7 - (index & 7))) & 1) === 1;
}

/** Sets or clears bit `index` (the caller keeps `index` inside the bitfield). */
export function bitfieldSet(bits: Uint8Array, index: number, value: boolean): void {
  const i = index >> 3;
  const mask = 0x80 >> (index & 7);
  const b = bits[i] ?? 0;
  bits[i] = value ? b | mask : b & ~mask;
}

/** Number of set bits. */
export function bitfieldCount(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) n += popcount(bits[i] as number);
  return n;
}

/**
 * Index of the first set bit at or after `from` and below `length`, or −1. Skips zero bytes, so
 * `for (let i = nextSetBit(b, n, 0); i >= 0; i = nextSetBit(b, n, i + 1))` visits the set bits in
 * O(bytes + set bits) without allocating.
 */
export function nextSetBit(bits: Uint8Array, length: number, from: number): number {
  let i = Math.max(from, 0);
  while (i < length) {
    const byte = (bits[i >> 3] ?? 0) & (0xff >> (i & 7));
    if (byte === 0) {
      i = ((i >> 3) + 1) << 3;
      continue;
    }
    const at = ((i >> 3) << 3) + Math.clz32(byte) - 24;
    return at < length ? at : -1;
  }
  return -1;
}

/**
 * True when the spare bits of a bitfield of `length` bits are zero (a peer that sets them sent
 * a malformed bitfield). `bits` must already be `bitfieldByteLength(length)` bytes.
 */
export function bitfieldSpareBitsClear(bits: Uint8Array, length: number): boolean {
  const spare = bits.length * 8 - length;
  if (spare <= 0 || bits.length === 0) return true;
  return ((bits[bits.length - 1] as number) & ((1 << spare) - 1)) === 0;
}

/**
 * A fixed-size bit set in BitTorrent order: bit 0 is the high bit of byte 0 (BEP 3), with a
 * running count of the set bits.
 */
export class Bitfield {
  /** The bytes, `ceil(length / 8)` of them; spare bits at the end are zero. */
  readonly bytes: Uint8Array;
  readonly length: number;
  #count = 0;

  /**
   * A bitfield of `length` bits, copied from `bytes` if given (extra bytes ignored, spare bits
   * cleared).
   * @throws {ArgumentError} `UTIL_BITFIELD_BAD_LENGTH` unless `length` is a natural number.
   */
  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isInteger(length) || length < 0) {
      throw new ArgumentError('UTIL_BITFIELD_BAD_LENGTH', 'Bitfield length must be a natural number', {
        details: { length },
      });
    }
    this.length = length;
    this.bytes = createBitfield(length);
    if (bytes) {
      this.bytes.set(bytes.subarray(0, this.bytes.length));
      const spare = this.bytes.length * 8 - length;
      if (spare > 0)
        this.bytes[this.bytes.length - 1] = (this.bytes[this.bytes.length - 1] as number) & (0xff << spare);
      this.#count = bitfieldCount(this.bytes);
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

  /** True when bit `i` is set (false outside the bitfield). */
  get(i: number): boolean {
    return i >= 0 && i < this.length && (((this.bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1;
  }

  /**
   * Sets or clears bit `i`; returns true if it changed.
   * @throws {ArgumentError} `UTIL_BITFIELD_OUT_OF_RANGE` for `i` outside `[0, length)`.
   */
  set(i: number, value = true): boolean {
    if (!(i >= 0 && i < this.length)) {
      throw new ArgumentError('UTIL_BITFIELD_OUT_OF_RANGE', `bit ${i} outside [0, ${this.length})`, {
        details: { index: i, length: this.length },
      });
    }
    const mask = 0x80 >> (i & 7);
    const byte = this.bytes[i >> 3] as number;
    const was = (byte & mask) !== 0;
    if (was === value) return false;
    this.bytes[i >> 3] = value ? byte | mask : byte & ~mask;
    this.#count += value ? 1 : -1;
    return true;
  }

  /** Index of the first set bit at or after `from`, or −1 (see {@link nextSetBit}). */
  nextSet(from: number): number {
    return nextSetBit(this.bytes, this.length, from);
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
