import { keccak_256 } from '@noble/hashes/sha3.js';
import { addressBytes, normalizeAddress } from '../../ledger/keys.js';
import { toHex, utf8 } from '../../util/bytes.js';
import { SettlementError } from '../errors.js';
import type { AddressMapping } from '../settler.js';

const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The EIP-55 checksummed form of 40 hex digits (any case). */
function checksum(hex40: string): string {
  const lower = hex40.toLowerCase();
  const hash = toHex(keccak_256(utf8(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i] ?? '';
    out += Number.parseInt(hash[i] ?? '0', 16) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/**
 * The EIP-55 checksummed form of an EVM address. Accepts `0x` + 40 hex digits, all lower case,
 * all upper case, or mixed case with a valid checksum (a mixed-case address with a bad checksum is
 * a typo: refused).
 * @throws {SettlementError} `SETTLEMENT_BAD_ADDRESS`
 */
export function checkEvmAddress(address: unknown, field = 'address'): `0x${string}` {
  if (typeof address === 'string' && HEX_ADDRESS.test(address)) {
    const body = address.slice(2);
    const sum = checksum(body);
    const uniform = body === body.toLowerCase() || body === body.toUpperCase();
    if (uniform || sum === address) return sum as `0x${string}`;
  }
  throw new SettlementError(
    'SETTLEMENT_BAD_ADDRESS',
    `${field} is not an EVM address (0x + 40 hex, EIP-55)`,
    {
      details: { field },
    },
  );
}

/** True if `address` passes {@link checkEvmAddress}. */
export function isEvmAddress(address: unknown): address is string {
  try {
    checkEvmAddress(address);
    return true;
  } catch {
    return false;
  }
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
