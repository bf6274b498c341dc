/**
 * EVM addresses on BTTC: EIP-55 checksums, parsing, the address of a secp256k1 key, and the
 * mapping between a TRON address and the EVM address with the same 20 bytes.
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { addressBytes, normalizeAddress } from '../../ledger/keys.js';
import { fromHex, toHex, utf8 } from '../../util/bytes.js';
import { SettlementError } from '../errors.js';
import type { AddressMapping } from '../settler.js';

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
 * The EIP-55 checksummed form of an EVM address. Accepts `0x` + 40 hex digits, all lower case,
 * all upper case, or mixed case with a valid checksum (a mixed-case address with a bad checksum is
 * a typo: refused).
 * @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS` (`details.field`: `field`)
 */
export function checkEvmAddress(address: unknown, field = 'address'): `0x${string}` {
  if (typeof address === 'string' && ADDRESS.test(address)) {
    const body = address.slice(2);
    const sum = toChecksumAddress(address);
    if (body === body.toLowerCase() || body === body.toUpperCase() || sum === address)
      return sum as `0x${string}`;
  }
  throw new SettlementError(
    'SETTLEMENT_BAD_ADDRESS',
    `${field} is not an EVM address (0x + 40 hex, EIP-55)`,
    {
      details: { field },
    },
  );
}

/** True if `address` passes {@link checkEvmAddress}. Never throws. */
export function isEvmAddress(address: unknown): address is string {
  try {
    checkEvmAddress(address);
    return true;
  } catch {
    return false;
  }
}

/** The 20 raw bytes of a 0x address. @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS` */
export function addressToBytes(address: string): Uint8Array {
  return fromHex(checkEvmAddress(address).slice(2).toLowerCase());
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

/**
 * The BTTC (EVM) address of a TRON address: the same 20 bytes, so the same secp256k1 key controls
 * both (TRON's address is `0x41 ‖ last 20 bytes of keccak256(public key)`, the EVM's those 20 bytes).
 * @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS`
 */
export function tronToEvmAddress(address: string): `0x${string}` {
  let bytes: Uint8Array;
  try {
    bytes = addressBytes(address);
  } catch (cause) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', 'not a TRON address', { cause });
  }
  return checkEvmAddress(`0x${toHex(bytes.subarray(1))}`);
}

/** The TRON address (`T…`) with the same 20 bytes as an EVM address. @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS` */
export function evmToTronAddress(address: string): string {
  const evm = checkEvmAddress(address);
  return normalizeAddress(`41${evm.slice(2).toLowerCase()}`);
}

/**
 * `Settler({ addresses: BTTC_LEDGER_ADDRESSES })`: the ledger keeps accounts by TRON address (`T…`);
 * a withdrawal is paid to the EVM address with the same 20 bytes, and a deposit from `0x…` is
 * credited to the `T…` account with the same 20 bytes (one key controls both).
 */
export const BTTC_LEDGER_ADDRESSES: AddressMapping = Object.freeze({
  toChain: (address: string) => tronToEvmAddress(address),
  toLedger: (address: string) => evmToTronAddress(address),
});
