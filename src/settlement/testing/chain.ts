import { secp256k1 } from '@noble/curves/secp256k1.js';
import { addressBytes, addressBytesFromPublicKey } from '../../ledger/keys.js';
import { concatBytes, equalBytes, fromHex, toHex, utf8 } from '../../util/bytes.js';
import { sha256 } from '../../util/hash.js';
import { MAX_FEE_LIMIT, type TokenProfile, TRANSFER_TOPIC } from '../constants.js';
import { type JsonObject, type JsonValue, readArray, readObject } from '../json.js';
import {
  decodeTransferCall,
  encodeRawTransaction,
  type RawTransaction,
  rawTransactionFromJson,
  rawTransactionToJson,
  txidOf,
  word,
} from '../protobuf.js';
import type { BlockRef } from '../types.js';

/**
 * The chain behind `TronNodeEmulator`: blocks, balances (head and per block), the transaction
 * pool, broadcast checks as a node makes them, and block production. No HTTP here.
 * @module
 */

/** One transaction in an emulator block, decoded. */
export interface EmulatedTransfer {
  readonly txid: string;
  readonly kind: 'trc10' | 'trc20';
  /** The TRC-10 asset id or the TRC-20 contract (`T…`-less hex `41…`). */
  readonly token: string;
  /** Hex addresses (`41…`). */
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  readonly success: boolean;
  readonly blockNumber: number;
}

export interface Included {
  txid: string;
  tx: JsonObject;
  info: JsonObject;
  transfer: EmulatedTransfer | undefined;
}

export interface Block {
  number: number;
  timestamp: number;
  blockID: string;
  parentHash: string;
  txs: Included[];
  /** Balances after this block. */
  state: Map<string, bigint>;
}

export interface Pooled {
  txid: string;
  raw: RawTransaction;
  tx: JsonObject;
}

/** A TRON-shaped broadcast refusal. */
// internal: turned into the emulated node's JSON answer, never thrown to a caller
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const TRX = 'trx';
export const ZERO32 = '0'.repeat(64);
const MAX_REF_DISTANCE = 65_536;
const MAX_EXPIRATION_AHEAD = 24 * 3600 * 1000;

/** Balance key: `<kind>:<token>:<hex address>`. */
export const bkey = (kind: string, token: string, hex: string) => `${kind}:${token}:${hex}`;

/** The emulated chain's state and rules; `TronNodeEmulator` serves it over HTTP. */
export class EmulatedChain {
  readonly blockIntervalMs: number;
  readonly trc20: Set<string>;
  readonly trc10: Set<string>;
  solidityLag: number;
  readonly blocks: Block[] = [];
  readonly pool: Pooled[] = [];
  /** Included transactions by txid, and the number of the block holding each. */
  readonly index = new Map<string, Included>();
  readonly blockOf = new Map<string, number>();
  /** Head-state balances by {@link bkey}. */
  readonly state = new Map<string, bigint>();
  /** Hex addresses that exist. */
  readonly accounts = new Set<string>();

  constructor(options: {
    blockIntervalMs: number;
    solidityLag: number;
    trc20: Set<string>;
    trc10: Set<string>;
    genesisNumber: number;
    genesisTimestamp: number;
  }) {
    this.blockIntervalMs = options.blockIntervalMs;
    this.solidityLag = options.solidityLag;
    this.trc20 = options.trc20;
    this.trc10 = options.trc10;
    this.blocks.push(this.#makeBlock(options.genesisNumber, options.genesisTimestamp, ZERO32, [], new Map()));
  }

  /** Credits `amount` of `token` (a profile, or `'TRX'` in sun) to `address` out of nothing, at once (head and solid). */
  mint(address: string, token: TokenProfile | 'TRX', amount: bigint): void {
    const hex = toHex(addressBytes(address));
    const k = this.tokenKey(token, hex);
    this.state.set(k, (this.state.get(k) ?? 0n) + amount);
    this.accounts.add(hex);
    for (const b of this.blocks) b.state.set(k, (b.state.get(k) ?? 0n) + amount);
  }

  /** Head-state balance. */
  balanceOf(address: string, token: TokenProfile | 'TRX'): bigint {
    return this.state.get(this.tokenKey(token, toHex(addressBytes(address)))) ?? 0n;
  }

  /** Every transfer included in a block so far, oldest first. */
  transfers(): EmulatedTransfer[] {
    return this.blocks.flatMap((b) => b.txs.flatMap((t) => (t.transfer ? [t.transfer] : [])));
  }

  /** Mines `count` blocks; the first takes the pool's still-valid transactions. */
  mine(count = 1): BlockRef[] {
    const out: BlockRef[] = [];
    for (let i = 0; i < count; i++) {
      const parent = this.head();
      const number = parent.number + 1;
      const timestamp = parent.timestamp + this.blockIntervalMs;
      const txs: Included[] = [];
      for (const p of this.pool.splice(0)) {
        if (p.raw.expiration <= parent.timestamp) continue;
        const inc = this.#execute(p, number, timestamp);
        if (inc) txs.push(inc);
      }
      const block = this.#makeBlock(number, timestamp, parent.blockID, txs, new Map(this.state));
      this.blocks.push(block);
      for (const t of txs) {
        this.index.set(t.txid, t);
        this.blockOf.set(t.txid, number);
      }
      // Keep balance snapshots only as far back as the solidity node may look.
      const old = this.blocks[this.blocks.length - 1 - (this.solidityLag + 64)];
      if (old) old.state = new Map();
      out.push({ number, timestamp });
    }
    return out;
  }

  /** The newest block. */
  head(): Block {
    return this.blocks[this.blocks.length - 1] as Block;
  }

  /** The newest block the solidity node serves. */
  solid(): Block {
    return this.blocks[Math.max(0, this.blocks.length - 1 - this.solidityLag)] as Block;
  }

  /** Block `num`, if it exists (and, for `solid`, is solid). */
  block(num: number, solid: boolean): Block | undefined {
    const first = (this.blocks[0] as Block).number;
    const b = this.blocks[num - first];
    if (!b || (solid && b.number > this.solid().number)) return undefined;
    return b;
  }

  /** The balance key of `token` for hex address `hex`. */
  tokenKey(token: TokenProfile | 'TRX', hex: string): string {
    if (token === 'TRX') return bkey(TRX, '', hex);
    if (token.standard === 'trc10') return bkey('trc10', token.tokenId ?? '', hex);
    return bkey('trc20', toHex(addressBytes(token.contract ?? '')), hex);
  }

  #makeBlock(
    number: number,
    timestamp: number,
    parentHash: string,
    txs: Included[],
    state: Map<string, bigint>,
  ): Block {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigUint64(0, BigInt(number));
    const h = sha256(
      concatBytes([fromHex(parentHash), n, utf8(String(timestamp)), ...txs.map((t) => fromHex(t.txid))]),
    );
    const blockID = toHex(n) + toHex(h.subarray(8));
    return { number, timestamp, blockID, parentHash, txs, state };
  }

  #move(kind: string, token: string, from: string, to: string, amount: bigint): boolean {
    const fk = bkey(kind, token, from);
    const bal = this.state.get(fk) ?? 0n;
    if (bal < amount) return false;
    this.state.set(fk, bal - amount);
    const tk = bkey(kind, token, to);
    this.state.set(tk, (this.state.get(tk) ?? 0n) + amount);
    this.accounts.add(to);
    return true;
  }

  #execute(p: Pooled, blockNumber: number, blockTimeStamp: number): Included | undefined {
    const c = p.raw.contract;
    const owner = toHex(c.owner);
    const base: JsonObject = { id: p.txid, blockNumber, blockTimeStamp, contractResult: [''] };
    if (c.type === 'TransferAssetContract') {
      const id = new TextDecoder().decode(c.assetName);
      const to = toHex(c.to);
      if (!this.#move('trc10', id, owner, to, c.amount)) return undefined;
      return {
        txid: p.txid,
        tx: { ...p.tx, ret: [{ contractRet: 'SUCCESS' }] },
        info: { ...base, receipt: { net_usage: 283 } },
        transfer: {
          txid: p.txid,
          kind: 'trc10',
          token: id,
          from: owner,
          to,
          amount: c.amount,
          success: true,
          blockNumber,
        },
      };
    }
    const contract = toHex(c.contract);
    const call = decodeTransferCall(c.data);
    let ok = call !== undefined && c.callValue === 0n && c.callTokenValue === 0n;
    if (call && ok) ok = this.#move('trc20', contract, owner, toHex(call.to), call.value);
    const transfer: EmulatedTransfer | undefined = call
      ? {
          txid: p.txid,
          kind: 'trc20',
          token: contract,
          from: owner,
          to: toHex(call.to),
          amount: call.value,
          success: ok,
          blockNumber,
        }
      : undefined;
    const info: JsonObject = ok
      ? {
          ...base,
          contractResult: [word(1n)],
          contract_address: contract,
          receipt: { energy_usage_total: 13_045, net_usage: 345, result: 'SUCCESS' },
          log: [
            {
              address: contract.slice(2),
              topics: [
                TRANSFER_TOPIC,
                word(BigInt(`0x${owner.slice(2)}`)),
                word(BigInt(`0x${toHex(call?.to ?? new Uint8Array(21)).slice(2)}`)),
              ],
              data: word(call?.value ?? 0n),
            },
          ],
        }
      : {
          ...base,
          contract_address: contract,
          receipt: { energy_usage_total: 1_000, net_usage: 345, result: 'REVERT' },
          result: 'FAILED',
          resMessage: toHex(utf8('REVERT opcode executed')),
        };
    return {
      txid: p.txid,
      tx: { ...p.tx, ret: [{ contractRet: ok ? 'SUCCESS' : 'REVERT' }] },
      info,
      transfer,
    };
  }

  /** Validates a transaction's contract against the head state and the pool (broadcast and build). */
  validate(raw: RawTransaction): void {
    const c = raw.contract;
    const owner = toHex(c.owner);
    if (c.type === 'TransferAssetContract') {
      const id = new TextDecoder().decode(c.assetName);
      if (!this.trc10.has(id))
        throw new Refusal('CONTRACT_VALIDATE_ERROR', 'Contract validate error : No asset!');
      if (c.amount <= 0n)
        throw new Refusal(
          'CONTRACT_VALIDATE_ERROR',
          'Contract validate error : Amount must be greater than 0.',
        );
      if (equalBytes(c.owner, c.to)) {
        throw new Refusal(
          'CONTRACT_VALIDATE_ERROR',
          'Contract validate error : Cannot transfer asset to yourself.',
        );
      }
      if (!this.accounts.has(owner))
        throw new Refusal('CONTRACT_VALIDATE_ERROR', 'Contract validate error : No owner account!');
      let committed = 0n;
      for (const p of this.pool) {
        const pc = p.raw.contract;
        if (
          pc.type === 'TransferAssetContract' &&
          equalBytes(pc.owner, c.owner) &&
          equalBytes(pc.assetName, c.assetName)
        ) {
          committed += pc.amount;
        }
      }
      if ((this.state.get(bkey('trc10', id, owner)) ?? 0n) - committed < c.amount) {
        throw new Refusal(
          'CONTRACT_VALIDATE_ERROR',
          'Contract validate error : assetBalance is not sufficient.',
        );
      }
      return;
    }
    if (!this.trc20.has(toHex(c.contract))) {
      throw new Refusal(
        'CONTRACT_VALIDATE_ERROR',
        'Contract validate error : No contract or not a smart contract',
      );
    }
    if (raw.feeLimit < 0 || raw.feeLimit > MAX_FEE_LIMIT) {
      throw new Refusal(
        'CONTRACT_VALIDATE_ERROR',
        'Contract validate error : feeLimit must be >= 0 and <= 15000000000',
      );
    }
  }

  /** Checks a signed transaction as a node does and pools it; answers as a node answers. */
  broadcast(body: JsonValue): JsonObject {
    const o = readObject(body, 'transaction', 'SETTLEMENT_BAD_OPTIONS');
    const raw = rawTransactionFromJson(o.raw_data, 'SETTLEMENT_BAD_OPTIONS');
    const bytes = encodeRawTransaction(raw);
    const txid = txidOf(bytes);
    try {
      const rawHex = o.raw_data_hex;
      if (rawHex !== undefined && (typeof rawHex !== 'string' || rawHex.toLowerCase() !== toHex(bytes))) {
        throw new Refusal('OTHER_ERROR', 'raw_data_hex does not match raw_data');
      }
      const given = o.txID;
      if (given !== undefined && (typeof given !== 'string' || given.toLowerCase() !== txid)) {
        throw new Refusal('OTHER_ERROR', 'txID does not match raw_data');
      }
      if (this.index.has(txid) || this.pool.some((p) => p.txid === txid)) {
        throw new Refusal('DUP_TRANSACTION_ERROR', 'Dup transaction.');
      }
      const sigs = readArray(o.signature, 'signature', 5, 'SETTLEMENT_BAD_OPTIONS');
      if (sigs.length !== 1)
        throw new Refusal('SIGERROR', 'Validate signature error: want exactly one signature');
      const sig =
        typeof sigs[0] === 'string' && /^[0-9a-fA-F]{130}$/.test(sigs[0]) ? fromHex(sigs[0]) : undefined;
      const v = sig?.[64] ?? -1;
      const rec = v >= 27 ? v - 27 : v;
      let signer: Uint8Array | undefined;
      if (sig && (rec === 0 || rec === 1)) {
        try {
          const recovered = concatBytes([Uint8Array.of(rec), sig.subarray(0, 64)]);
          signer = addressBytesFromPublicKey(
            secp256k1.recoverPublicKey(recovered, fromHex(txid), { prehash: false }),
          );
        } catch {
          signer = undefined;
        }
      }
      if (!signer || !equalBytes(signer, raw.contract.owner)) {
        throw new Refusal(
          'SIGERROR',
          `Validate signature error: ${txid} is signed by ${signer ? toHex(signer) : 'nobody'} but it is not contained of permission.`,
        );
      }
      const head = this.head();
      const refNum =
        raw.refBlockBytes.length === 2
          ? ((raw.refBlockBytes[0] as number) << 8) | (raw.refBlockBytes[1] as number)
          : -1;
      let refBlock: Block | undefined;
      if (refNum >= 0) {
        let n = head.number - ((head.number - refNum) & 0xffff);
        if (n > head.number) n -= 0x10000;
        refBlock = head.number - n < MAX_REF_DISTANCE ? this.block(n, false) : undefined;
      }
      if (!refBlock || refBlock.blockID.slice(16, 32) !== toHex(raw.refBlockHash)) {
        throw new Refusal(
          'TAPOS_ERROR',
          `Tapos check error: ref block ${toHex(raw.refBlockBytes)} not found`,
        );
      }
      if (raw.expiration <= head.timestamp) {
        throw new Refusal(
          'TRANSACTION_EXPIRATION_ERROR',
          `Transaction expiration, transaction expiration time is ${raw.expiration}, but latest block time is ${head.timestamp}`,
        );
      }
      if (raw.expiration > head.timestamp + MAX_EXPIRATION_AHEAD) {
        throw new Refusal('TRANSACTION_EXPIRATION_ERROR', 'Transaction expiration time is too far ahead');
      }
      this.validate(raw);
    } catch (err) {
      if (err instanceof Refusal) return { code: err.code, txid, message: toHex(utf8(err.message)) };
      throw err;
    }
    const tx: JsonObject = {
      visible: false,
      txID: txid,
      raw_data: rawTransactionToJson(raw),
      raw_data_hex: toHex(bytes),
      signature: [...(o.signature as JsonValue[])],
    };
    this.pool.push({ txid, raw, tx });
    return { result: true, txid };
  }
}
