/**
 * MSE's primitives: RC4 against RFC 6229's known-answer vectors (through every path of the
 * word-wise implementation: unaligned heads, whole words, tails, any chunking), and the
 * Diffie-Hellman agreement over the spec's prime.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/util/bytes.js';
import {
  bigintToBytes,
  bytesToBigint,
  DH_LENGTH,
  dhKeyPair,
  dhSecret,
  MSE_PRIME,
} from '../../../src/wire/mse/dh.js';
import { Rc4 } from '../../../src/wire/mse/rc4.js';

/** RFC 6229 section 2: key → (offset → 16 keystream bytes); a selection of its rows. */
const VECTORS: { key: string; rows: [number, string][] }[] = [
  {
    key: '0102030405',
    rows: [
      [0x0000, 'b2396305f03dc027ccc3524a0a1118a8'],
      [0x0010, '6982944f18fc82d589c403a47a0d0919'],
      [0x00f0, '28cb1132c96ce286421dcaadb8b69eae'],
      [0x03f0, '45129048e6a0ed0b56b490338f078da5'],
      [0x0400, '30abbcc7c20b01609f23ee2d5f6bb7df'],
      [0x0ff0, '068326a2118416d21f9d04b2cd1ca050'],
      [0x1000, 'ff25b58995996707e51fbdf08b34d875'],
    ],
  },
  {
    key: '0102030405060708090a0b0c0d0e0f10',
    rows: [
      [0x0000, '9ac7cc9a609d1ef7b2932899cde41b97'],
      [0x0010, '5248c4959014126a6e8a84f11d1a9e1c'],
      [0x0400, 'bdf0324e6083dcc6d3cedd3ca8c53c16'],
      [0x0c00, 'c05d88abd50357f935a63c59ee537623'],
      [0x1000, 'a36a4c301ae8ac13610ccbc12256cacc'],
    ],
  },
  {
    key: '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20',
    rows: [
      [0x0000, 'eaa6bd25880bf93d3f5d1e4ca2611d91'],
      [0x0400, '7fec5bfd9f9b89ce6548309092d7e958'],
      [0x1000, 'f3e4c0a2e02d1d01f7f0a74618af2b48'],
    ],
  },
];

/** The keystream: RC4 of zeros, fed in pieces of the given sizes at the given buffer offset. */
function keystream(
  key: Uint8Array,
  length: number,
  piece: number,
  misalign: number,
  discard = 0,
): Uint8Array {
  const rc4 = new Rc4(key, discard);
  const backing = new Uint8Array(length + 8);
  const out = backing.subarray(misalign, misalign + length);
  for (let off = 0; off < length; off += piece) rc4.apply(out.subarray(off, Math.min(length, off + piece)));
  return out;
}

describe('RC4', () => {
  it.each(VECTORS.map((v) => [v.key, v] as const))('matches RFC 6229 for key %s, any chunking', (_k, v) => {
    const key = fromHex(v.key);
    for (const [piece, misalign] of [
      [0x1010, 0],
      [0x1010, 1],
      [1, 0],
      [3, 2],
      [7, 3],
      [64, 1],
      [1000, 0],
    ] as const) {
      const ks = keystream(key, 0x1010, piece, misalign);
      for (const [offset, hex] of v.rows) {
        expect(
          toHex(ks.subarray(offset, offset + 16)),
          `piece ${piece}, misalign ${misalign}, @${offset}`,
        ).toBe(hex);
      }
    }
  });

  it('discard skips exactly that much keystream (RFC 6229 row 0x400 as the first bytes after 1,024)', () => {
    const v = VECTORS[0];
    if (!v) throw new Error('no vector');
    const ks = keystream(fromHex(v.key), 16, 16, 0, 1024);
    expect(toHex(ks)).toBe('30abbcc7c20b01609f23ee2d5f6bb7df');
  });

  it('encrypts and decrypts back (the same stream twice)', () => {
    const key = new TextEncoder().encode('some key');
    const data = new Uint8Array(100_003).map((_, i) => (i * 7) & 255);
    const enc = data.slice();
    new Rc4(key, 1024).apply(enc);
    expect(toHex(enc.subarray(0, 32))).not.toBe(toHex(data.subarray(0, 32)));
    const dec = enc.slice();
    const r = new Rc4(key, 1024);
    r.apply(dec.subarray(0, 5));
    r.apply(dec.subarray(5, 70_001));
    r.apply(dec.subarray(70_001));
    expect(Buffer.from(dec).equals(Buffer.from(data))).toBe(true);
  });
});

describe('Diffie-Hellman over the MSE prime', () => {
  it('the prime is the spec’s 768-bit one', () => {
    expect(MSE_PRIME.toString(2).length).toBe(768);
    expect(bigintToBytes(MSE_PRIME, 96)[0]).toBe(0xff);
  });

  it('both sides agree on S; public keys and S are 96 bytes', () => {
    for (let n = 0; n < 5; n++) {
      const a = dhKeyPair();
      const b = dhKeyPair();
      expect(a.publicKey.length).toBe(DH_LENGTH);
      const sa = dhSecret(a, b.publicKey);
      const sb = dhSecret(b, a.publicKey);
      expect(sa).toBeDefined();
      expect(sa?.length).toBe(DH_LENGTH);
      expect(toHex(sa ?? new Uint8Array())).toBe(toHex(sb ?? new Uint8Array(1)));
    }
  });

  it('agrees with node:crypto’s Diffie-Hellman on the same keys', async () => {
    const { createDiffieHellman } = await import('node:crypto');
    const priv = fromHex('0102030405060708090a0b0c0d0e0f1011121314');
    const ours = dhKeyPair(priv);
    const node = createDiffieHellman(Buffer.from(bigintToBytes(MSE_PRIME, 96)), Buffer.from([2]));
    node.setPrivateKey(Buffer.from(priv));
    node.generateKeys();
    expect(toHex(ours.publicKey)).toBe(toHex(bigintToBytes(bytesToBigint(node.getPublicKey()), 96)));
    const other = dhKeyPair();
    const s = node.computeSecret(Buffer.from(other.publicKey));
    expect(toHex(dhSecret(ours, other.publicKey) ?? new Uint8Array())).toBe(
      toHex(bigintToBytes(bytesToBigint(s), 96)),
    );
    // A keyed derivation as MSE uses it works on the padded secret.
    expect(
      createHash('sha1')
        .update(dhSecret(ours, other.publicKey) ?? new Uint8Array())
        .digest().length,
    ).toBe(20);
  });

  it('refuses degenerate public values (0, 1, P − 1)', () => {
    const a = dhKeyPair();
    expect(dhSecret(a, new Uint8Array(96))).toBeUndefined();
    expect(dhSecret(a, bigintToBytes(1n, 96))).toBeUndefined();
    expect(dhSecret(a, bigintToBytes(MSE_PRIME - 1n, 96))).toBeUndefined();
    expect(dhSecret(a, new Uint8Array(96).fill(0xff))).toBeUndefined();
  });
});
