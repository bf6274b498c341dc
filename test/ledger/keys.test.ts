import { describe, expect, it } from 'vitest';
import {
  addressBytes,
  addressFromPublicKey,
  fromBase58Check,
  fromHexAddress,
  isAddress,
  LedgerError,
  normalizeAddress,
  setSignatureBackend,
  TronKey,
  toBase58Check,
  toHexAddress,
  verifyAccountSignature,
} from '../../src/ledger/index.js';
import { toHex, utf8 } from '../../src/util/bytes.js';

describe('TRON keys and addresses', () => {
  it('derive the same addresses as tronweb 6.5.1 for 40 random keys', async () => {
    const { TronWeb } = await import('tronweb');
    for (let i = 0; i < 40; i++) {
      const key = TronKey.generate();
      const pk = key.exportPrivateKey();
      expect(key.address).toBe(TronWeb.address.fromPrivateKey(pk));
      expect(key.hexAddress).toBe(TronWeb.address.toHex(key.address).toLowerCase());
      expect(fromHexAddress(key.hexAddress)).toBe(TronWeb.address.fromHex(key.hexAddress));
      expect(TronWeb.isAddress(key.address)).toBe(true);
    }
  });

  it('matches a known vector (private key 1 → TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC)', () => {
    const key = TronKey.fromPrivateKey(`${'0'.repeat(63)}1`);
    expect(key.address).toBe('TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC');
    expect(key.hexAddress).toBe('417e5f4552091a69125d5dfcb7b8c2659029395bdf');
  });

  it('converts between base58check and hex', () => {
    const key = TronKey.generate();
    expect(toHexAddress(key.address)).toBe(key.hexAddress);
    expect(normalizeAddress(key.hexAddress)).toBe(key.address);
    expect(normalizeAddress(key.hexAddress.toUpperCase().replace(/^41/, '41'))).toBe(key.address);
    expect(addressFromPublicKey(key.publicKey)).toBe(key.address);
  });

  it('refuses a bad checksum, a wrong prefix, a wrong length and junk', () => {
    const key = TronKey.generate();
    const a = key.address;
    const last = a[a.length - 1] === 'a' ? 'b' : 'a';
    const tampered = a.slice(0, -1) + last;
    expect(isAddress(tampered)).toBe(false);
    expect(() => addressBytes(tampered)).toThrow(LedgerError);
    const wrongPrefix = toBase58Check(Uint8Array.of(0x42, ...addressBytes(a).subarray(1)));
    expect(isAddress(wrongPrefix)).toBe(false);
    expect(isAddress(toBase58Check(addressBytes(a).subarray(0, 20)))).toBe(false);
    expect(isAddress('0OIl')).toBe(false);
    expect(isAddress('')).toBe(false);
    expect(isAddress('T'.repeat(500))).toBe(false);
    expect(isAddress(42)).toBe(false);
    expect(() => fromBase58Check('1111')).toThrow(LedgerError);
  });

  it('imports and exports private keys, refusing invalid ones', () => {
    const key = TronKey.generate();
    expect(TronKey.fromPrivateKey(key.exportPrivateKey()).address).toBe(key.address);
    expect(TronKey.fromPrivateKey(`0x${key.exportPrivateKey()}`).address).toBe(key.address);
    expect(() => TronKey.fromPrivateKey('00'.repeat(32))).toThrow(LedgerError);
    expect(() => TronKey.fromPrivateKey('ff'.repeat(32))).toThrow(LedgerError);
    expect(() => TronKey.fromPrivateKey('zz')).toThrow(LedgerError);
    expect(() => TronKey.fromPrivateKey(new Uint8Array(31))).toThrow(LedgerError);
    expect(JSON.stringify({ key })).toBe(JSON.stringify({ key: key.address }));
    expect(String(key)).toBe(key.address);
  });

  for (const backend of ['node', 'noble'] as const) {
    it(`account signatures verify, and forgeries do not (${backend})`, () => {
      setSignatureBackend(backend);
      try {
        const key = TronKey.generate();
        const other = TronKey.generate();
        const msg = utf8('hello ledger');
        const sig = key.sign(msg);
        expect(sig.length).toBe(97);
        expect(verifyAccountSignature(key.address, msg, sig)).toBe(true);
        expect(verifyAccountSignature(other.address, msg, sig)).toBe(false);
        expect(verifyAccountSignature(key.address, utf8('hello ledgeR'), sig)).toBe(false);
        const flipped = sig.slice();
        flipped[50] = (flipped[50] as number) ^ 1;
        expect(verifyAccountSignature(key.address, msg, flipped)).toBe(false);
        // someone else's signature with our public key in front
        const spliced = other.sign(msg);
        spliced.set(key.publicKey, 0);
        expect(verifyAccountSignature(key.address, msg, spliced)).toBe(false);
        expect(verifyAccountSignature(key.address, msg, sig.subarray(0, 96))).toBe(false);
        expect(verifyAccountSignature(key.address, msg, new Uint8Array(97))).toBe(false);
      } finally {
        setSignatureBackend('node');
      }
    });
  }

  it('signatures are deterministic (RFC 6979) and verify on both backends', () => {
    const key = TronKey.generate();
    for (let i = 0; i < 64; i++) {
      const msg = utf8(`message ${i}`);
      setSignatureBackend('node');
      const a = key.sign(msg);
      setSignatureBackend('noble');
      const b = key.sign(msg);
      expect(toHex(a)).toBe(toHex(b));
      expect(verifyAccountSignature(key.address, msg, a)).toBe(true);
      setSignatureBackend('node');
      expect(verifyAccountSignature(key.address, msg, b)).toBe(true);
    }
    setSignatureBackend('node');
  });

  it('refuses the high-S twin of a valid signature on both backends', async () => {
    const { secp256k1 } = await import('@noble/curves/secp256k1.js');
    const n = secp256k1.Point.CURVE().n;
    const key = TronKey.generate();
    const msg = utf8('malleable?');
    const sig = key.sign(msg);
    let s = BigInt(`0x${toHex(sig.subarray(65))}`);
    s = n - s;
    const high = sig.slice();
    high.set(Uint8Array.from(Buffer.from(s.toString(16).padStart(64, '0'), 'hex')), 65);
    for (const backend of ['node', 'noble'] as const) {
      setSignatureBackend(backend);
      expect(verifyAccountSignature(key.address, msg, high)).toBe(false);
    }
    setSignatureBackend('node');
  });
});
