/**
 * An independent encoder of TRON's `Transaction.raw` protobuf for the two contracts bttkit sends
 * (TransferAssetContract, TriggerSmartContract), and a strict reader of their JSON form. Written
 * from the .proto field numbers, not from tronweb, so the two can be checked against each other.
 */
import { concatBytes, fromHex, toHex, utf8 } from '../util/bytes.js';
import { sha256 } from '../util/hash.js';
import { SettlementError, type SettlementErrorCode } from './errors.js';
import {
  type JsonObject,
  type JsonValue,
  readArray,
  readObject,
  readOptBig,
  readOptInt,
  readOptString,
  readString,
} from './json.js';

/** `protocol.TransferAssetContract` (TRC-10 transfer). */
export interface TransferAssetContract {
  readonly type: 'TransferAssetContract';
  /** The asset id's UTF-8 bytes (`"1002000"`). */
  readonly assetName: Uint8Array;
  /** 21 bytes, 0x41 first. */
  readonly owner: Uint8Array;
  readonly to: Uint8Array;
  readonly amount: bigint;
}

/** `protocol.TriggerSmartContract` (a TRC-20 call). */
export interface TriggerSmartContract {
  readonly type: 'TriggerSmartContract';
  readonly owner: Uint8Array;
  readonly contract: Uint8Array;
  readonly callValue: bigint;
  readonly data: Uint8Array;
  readonly callTokenValue: bigint;
  readonly tokenId: bigint;
}

/** The contracts this codec knows. */
export type TronContract = TransferAssetContract | TriggerSmartContract;

/** `protocol.Transaction.raw`, one contract. Integers are int64 in protobuf. */
export interface RawTransaction {
  readonly refBlockBytes: Uint8Array;
  readonly refBlockHash: Uint8Array;
  readonly expiration: number;
  /** The memo (`data`), often empty. */
  readonly data: Uint8Array;
  readonly timestamp: number;
  readonly feeLimit: number;
  readonly contract: TronContract;
  readonly permissionId: number;
}

const CONTRACT_TYPE = { TransferAssetContract: 2, TriggerSmartContract: 31 } as const;
const TYPE_URL = 'type.googleapis.com/protocol.';
const INT64_MAX = (1n << 63n) - 1n;

// ---- wire primitives ----

function varint(v: bigint): Uint8Array {
  // int64: negatives are 10-byte two's complement.
  let x = v < 0n ? v + (1n << 64n) : v;
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

const key = (field: number, wire: number) => varint(BigInt((field << 3) | wire));

function intField(field: number, v: bigint | number): Uint8Array[] {
  const b = BigInt(v);
  return b === 0n ? [] : [key(field, 0), varint(b)];
}

function bytesField(field: number, v: Uint8Array): Uint8Array[] {
  return v.length === 0 ? [] : [key(field, 2), varint(BigInt(v.length)), v];
}

/** Encodes the contract's own message (the `Any.value`). */
export function encodeContractValue(c: TronContract): Uint8Array {
  if (c.type === 'TransferAssetContract') {
    return concatBytes([
      ...bytesField(1, c.assetName),
      ...bytesField(2, c.owner),
      ...bytesField(3, c.to),
      ...intField(4, c.amount),
    ]);
  }
  return concatBytes([
    ...bytesField(1, c.owner),
    ...bytesField(2, c.contract),
    ...intField(3, c.callValue),
    ...bytesField(4, c.data),
    ...intField(5, c.callTokenValue),
    ...intField(6, c.tokenId),
  ]);
}

/** Encodes `Transaction.raw` (the bytes whose SHA-256 is the txID). */
export function encodeRawTransaction(raw: RawTransaction): Uint8Array {
  const any = concatBytes([
    ...bytesField(1, utf8(TYPE_URL + raw.contract.type)),
    ...bytesField(2, encodeContractValue(raw.contract)),
  ]);
  const contract = concatBytes([
    ...intField(1, CONTRACT_TYPE[raw.contract.type]),
    ...bytesField(2, any),
    ...intField(5, raw.permissionId),
  ]);
  return concatBytes([
    ...bytesField(1, raw.refBlockBytes),
    ...bytesField(4, raw.refBlockHash),
    ...intField(8, raw.expiration),
    ...bytesField(10, raw.data),
    ...bytesField(11, contract),
    ...intField(14, raw.timestamp),
    ...intField(18, raw.feeLimit),
  ]);
}

/** The txID (64 lower-case hex digits) of encoded raw bytes. */
export function txidOf(rawBytes: Uint8Array): string {
  return toHex(sha256(rawBytes));
}

// ---- JSON form (visible: false: addresses and bytes as hex) ----

/** The JSON `raw_data` of `raw`, as a TRON node writes it with `visible: false`. */
export function rawTransactionToJson(raw: RawTransaction): JsonObject {
  const c = raw.contract;
  const value: JsonObject =
    c.type === 'TransferAssetContract'
      ? {
          amount: c.amount,
          asset_name: toHex(c.assetName),
          owner_address: toHex(c.owner),
          to_address: toHex(c.to),
        }
      : { data: toHex(c.data), owner_address: toHex(c.owner), contract_address: toHex(c.contract) };
  if (c.type === 'TriggerSmartContract') {
    if (c.data.length === 0) delete value.data;
    if (c.callValue !== 0n) value.call_value = c.callValue;
    if (c.callTokenValue !== 0n) value.call_token_value = c.callTokenValue;
    if (c.tokenId !== 0n) value.token_id = c.tokenId;
  }
  const contract: JsonObject = { parameter: { value, type_url: TYPE_URL + c.type }, type: c.type };
  if (raw.permissionId !== 0) contract.Permission_id = raw.permissionId;
  const out: JsonObject = {
    contract: [contract],
    ref_block_bytes: toHex(raw.refBlockBytes),
    ref_block_hash: toHex(raw.refBlockHash),
    expiration: raw.expiration,
  };
  if (raw.data.length > 0) out.data = toHex(raw.data);
  if (raw.feeLimit !== 0) out.fee_limit = raw.feeLimit;
  if (raw.timestamp !== 0) out.timestamp = raw.timestamp;
  return out;
}

function hexBytes(
  o: JsonObject,
  k: string,
  code: SettlementErrorCode,
  maxBytes: number,
  exact?: number,
): Uint8Array {
  const s = readOptString(o, k, maxBytes * 2, code) ?? '';
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new SettlementError(code, `${k}: not hex`);
  const b = fromHex(s);
  if (exact !== undefined && b.length !== exact) throw new SettlementError(code, `${k}: want ${exact} bytes`);
  return b;
}

function address(o: JsonObject, k: string, code: SettlementErrorCode): Uint8Array {
  const b = hexBytes(o, k, code, 21, 21);
  if (b[0] !== 0x41) throw new SettlementError(code, `${k}: not a TRON address`);
  return b;
}

function int64(o: JsonObject, k: string, code: SettlementErrorCode): bigint {
  const v = readOptBig(o, k, code);
  if (v > INT64_MAX) throw new SettlementError(code, `${k}: above int64`);
  return v;
}

/**
 * Reads a JSON `raw_data` (visible: false) strictly: one contract of a known type, hex fields,
 * 21-byte addresses, int64 integers.
 * @throws {SettlementError} with `code`.
 */
export function rawTransactionFromJson(v: JsonValue | undefined, code: SettlementErrorCode): RawTransaction {
  const o = readObject(v, 'raw_data', code);
  const contracts = readArray(o.contract, 'raw_data.contract', 1, code);
  if (contracts.length !== 1) throw new SettlementError(code, 'raw_data.contract: want exactly one contract');
  const c = readObject(contracts[0], 'contract', code);
  const type = readString(c, 'type', 64, code);
  const param = readObject(c.parameter, 'contract.parameter', code);
  const value = readObject(param.value, 'contract.parameter.value', code);
  if (readString(param, 'type_url', 128, code) !== TYPE_URL + type) {
    throw new SettlementError(code, 'type_url does not match the contract type');
  }
  let contract: TronContract;
  if (type === 'TransferAssetContract') {
    contract = {
      type,
      assetName: hexBytes(value, 'asset_name', code, 64),
      owner: address(value, 'owner_address', code),
      to: address(value, 'to_address', code),
      amount: int64(value, 'amount', code),
    };
  } else if (type === 'TriggerSmartContract') {
    contract = {
      type,
      owner: address(value, 'owner_address', code),
      contract: address(value, 'contract_address', code),
      callValue: int64(value, 'call_value', code),
      data: hexBytes(value, 'data', code, 64 * 1024),
      callTokenValue: int64(value, 'call_token_value', code),
      tokenId: int64(value, 'token_id', code),
    };
  } else {
    throw new SettlementError(code, `unsupported contract type ${type.slice(0, 64)}`);
  }
  return {
    refBlockBytes: hexBytes(o, 'ref_block_bytes', code, 8),
    refBlockHash: hexBytes(o, 'ref_block_hash', code, 32),
    expiration: readOptInt(o, 'expiration', 0, code),
    data: hexBytes(o, 'data', code, 512),
    timestamp: readOptInt(o, 'timestamp', 0, code),
    feeLimit: readOptInt(o, 'fee_limit', 0, code),
    contract,
    permissionId: readOptInt(c, 'Permission_id', 0, code),
  };
}

/** ABI-decodes `transfer(address,uint256)` call data: recipient (21 bytes) and value, or undefined. */
export function decodeTransferCall(data: Uint8Array): { to: Uint8Array; value: bigint } | undefined {
  if (data.length !== 68 || toHex(data.subarray(0, 4)) !== 'a9059cbb') return undefined;
  for (let i = 4; i < 16; i++) if (data[i] !== 0) return undefined;
  const to = new Uint8Array(21);
  to[0] = 0x41;
  to.set(data.subarray(16, 36), 1);
  let value = 0n;
  for (let i = 36; i < 68; i++) value = (value << 8n) | BigInt(data[i] as number);
  return { to, value };
}

/** 32 big-endian bytes of `v` as hex. */
export function word(v: bigint): string {
  return v.toString(16).padStart(64, '0');
}
