/**
 * Bitfields as in BEP 3: piece `i` is bit `0x80 >> (i % 8)` of byte `i >> 3`; spare bits are 0.
 */

/** A zeroed bitfield for `pieceCount` pieces. */
export function createBitfield(pieceCount: number): Uint8Array {
  return new Uint8Array(Math.ceil(pieceCount / 8));
}

/** True when bit `index` is set. */
export function bitfieldGet(bits: Uint8Array, index: number): boolean {
  return (((bits[index >> 3] ?? 0) >> (7 - (index & 7))) & 1) === 1;
}

/** Sets or clears bit `index`. */
export function bitfieldSet(bits: Uint8Array, index: number, value: boolean): void {
  const i = index >> 3;
  const mask = 0x80 >> (index & 7);
  const b = bits[i] ?? 0;
  bits[i] = value ? b | mask : b & ~mask;
}

/** Number of set bits. */
export function bitfieldCount(bits: Uint8Array): number {
  let n = 0;
  for (const b of bits) {
    let x = b;
    while (x !== 0) {
      x &= x - 1;
      n++;
    }
  }
  return n;
}
