/**
 * EVM addresses for the BTTC channel: EIP-55 checksums, parsing, and the address of a secp256k1 key.
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { fromHex, toHex, utf8 } from '../../util/bytes.js';
import { SettlementError } from '../errors.js';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * The EIP-55 checksummed form of a 0x address (any case in, mixed case out).
 * @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS`
 */
export function toChecksumAddress(address: string): string {
  if (typeof address !== 'string' || !ADDRESS.test(address)) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', 'an EVM address is 0x and 40 hex digits');
  }
  const lower = address.slice(2).toLowerCase();
  const hash = toHex(keccak_256(utf8(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i] as string;
    out += Number.parseInt(hash[i] as string, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/**
 * Parses a 0x address: all lower case, all upper case, or a valid EIP-55 checksum (mixed case
 * with a wrong checksum is refused, as it is likely a typo). Returns the checksummed form.
 * @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS`
 */
export function parseAddress(address: unknown): string {
  if (typeof address !== 'string' || !ADDRESS.test(address)) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', 'an EVM address is 0x and 40 hex digits');
  }
  const body = address.slice(2);
  const sum = toChecksumAddress(address);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && sum !== address) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', 'EVM address with a wrong EIP-55 checksum');
  }
  return sum;
}

/** True if {@link parseAddress} accepts `address`. Never throws. */
export function isAddress(address: unknown): address is string {
  try {
    parseAddress(address);
    return true;
  } catch {
    return false;
  }
}

/** The 20 raw bytes of a 0x address. @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS` */
export function addressToBytes(address: string): Uint8Array {
  return fromHex(parseAddress(address).slice(2).toLowerCase());
}

/** The checksummed 0x address of 20 raw bytes. @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS` */
export function addressFromBytes(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 20) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', 'an EVM address is 20 bytes');
  }
  return toChecksumAddress(`0x${toHex(bytes)}`);
}

/** The address of an uncompressed (65-byte) secp256k1 public key: last 20 bytes of keccak256(x ‖ y). @internal */
export function addressOfUncompressed(pub: Uint8Array): string {
  return toChecksumAddress(`0x${toHex(keccak_256(pub.subarray(1)).subarray(12))}`);
}

/** The checksummed address of a secp256k1 private key (32 bytes). @throws {SettlementError} `SETTLEMENT_BAD_KEY` */
export function addressOfPrivateKey(privateKey: Uint8Array): string {
  return addressOfUncompressed(secp256k1.getPublicKey(checkPrivateKey(privateKey), false));
}

/** `privateKey` if it is a valid secp256k1 private key. @throws {SettlementError} `SETTLEMENT_BAD_KEY` @internal */
export function checkPrivateKey(privateKey: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || !secp256k1.utils.isValidSecretKey(privateKey)) {
    throw new SettlementError('SETTLEMENT_BAD_KEY', 'a secp256k1 private key is 32 bytes in 1 .. n-1');
  }
  return privateKey;
}
