import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { addressBytes, addressBytesFromPublicKey } from '../../ledger/keys.js';
import { concatBytes, equalBytes, fromHex, toHex, utf8 } from '../../util/bytes.js';
import { type Clock, realClock, type TimerHandle } from '../../util/clock.js';
import { sha256 } from '../../util/hash.js';
import {
  BALANCE_OF_SELECTOR,
  BLOCK_INTERVAL_MS,
  BTT,
  BTTOLD,
  MAX_FEE_LIMIT,
  type TokenProfile,
  TRANSFER_TOPIC,
  TX_LIFETIME_MS,
} from '../constants.js';
import { SettlementError } from '../errors.js';
import {
  type JsonObject,
  type JsonValue,
  parseJson,
  readArray,
  readObject,
  readOptBig,
  readString,
  toJson,
} from '../json.js';
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

/** Options of {@link TronNodeEmulator.start}. */
export interface TronNodeEmulatorOptions {
  /** TCP port on 127.0.0.1. Default 0 (any free port). */
  port?: number;
  /** Blocks the solidity node trails the head. Default 0 (mainnet: about 19). */
  solidityLag?: number;
  /** Chain time between blocks. Default 3,000 ms. */
  blockIntervalMs?: number;
  /** Timestamp of the first block (ms since the epoch). Default: now, rounded down to a block interval. */
  genesisTimestamp?: number;
  /** Number of the first block (above 0: proto3 JSON drops a zero and tronweb then fails). Default 1,000. */
  genesisNumber?: number;
  /** TRC-20 contracts that exist (base58check or hex). Default: the BTT contract. */
  trc20Contracts?: readonly string[];
  /** TRC-10 asset ids that exist. Default: `1002000`. */
  trc10Assets?: readonly string[];
  /** Largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
}

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

interface Included {
  txid: string;
  tx: JsonObject;
  info: JsonObject;
  transfer: EmulatedTransfer | undefined;
}

interface Block {
  number: number;
  timestamp: number;
  blockID: string;
  parentHash: string;
  txs: Included[];
  /** Balances after this block. */
  state: Map<string, bigint>;
}

interface Pooled {
  txid: string;
  raw: RawTransaction;
  tx: JsonObject;
}

/** A TRON-shaped broadcast refusal. */
class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TRX = 'trx';
const ZERO32 = '0'.repeat(64);
const MAX_REF_DISTANCE = 65_536;
const MAX_EXPIRATION_AHEAD = 24 * 3600 * 1000;

/** Balance key: `<kind>:<token>:<hex address>`. */
const bkey = (kind: string, token: string, hex: string) => `${kind}:${token}:${hex}`;

function selectorOf(signature: string): string {
  return toHex(keccak_256(utf8(signature.replace(/\s+/g, ''))).subarray(0, 4));
}

/**
 * A loopback TRON full node and solidity node in one, for tests (ours and users'): it speaks the
 * part of the HTTP API that tronweb 6.5.1 uses to move TRC-10 and TRC-20 tokens — `getblock`,
 * `getnowblock`, `getblockbynum`, `transferasset`, `triggersmartcontract`,
 * `triggerconstantcontract` (`balanceOf`, `decimals`), `broadcasttransaction`, `getaccount`,
 * `gettransactionbyid`, `gettransactioninfobyid`, `gettransactioninfobyblocknum`, under `/wallet/`
 * and `/walletsolidity/`. Transactions are built with this package's own protobuf encoder, so
 * tronweb's checks cross-check it. Broadcasts are refused as a node refuses them (HTTP 200 and
 * `{code, txid, message: <hex of UTF-8>}`): bad signature (`SIGERROR`), expired against the head
 * block (`TRANSACTION_EXPIRATION_ERROR`), unknown reference block (`TAPOS_ERROR`), duplicate
 * (`DUP_TRANSACTION_ERROR`), TRC-10 overdraft (`CONTRACT_VALIDATE_ERROR`). A TRC-20 overdraft is
 * accepted and reverts in its block (`receipt.result: REVERT`), as on TRON. Blocks come on demand
 * ({@link mine}) or on a timer ({@link startMining}); chain time moves by `blockIntervalMs` per
 * block, independent of the wall clock. See `docs/settlement.md` for what it does not emulate.
 *
 * @example
 * ```ts
 * const node = await TronNodeEmulator.start({ solidityLag: 2 });
 * node.mint(address, BTT, 10n ** 24n);
 * const tronWeb = new TronWeb({ fullHost: node.url });
 * // … transfer, then:
 * node.mine(3);
 * await node.close();
 * ```
 */
export class TronNodeEmulator {
  readonly blockIntervalMs: number;
  readonly #server: Server;
  readonly #maxBody: number;
  readonly #trc20: Set<string>;
  readonly #trc10: Set<string>;
  #solidityLag: number;
  #blocks: Block[] = [];
  #pool: Pooled[] = [];
  #index = new Map<string, Included>();
  #blockOf = new Map<string, number>();
  #state = new Map<string, bigint>();
  #accounts = new Set<string>();
  #timer: TimerHandle | undefined;
  #url = '';
  /** Requests served, by path. */
  readonly requests = new Map<string, number>();

  private constructor(options: TronNodeEmulatorOptions) {
    this.blockIntervalMs = options.blockIntervalMs ?? BLOCK_INTERVAL_MS;
    this.#solidityLag = options.solidityLag ?? 0;
    this.#maxBody = options.maxBodyBytes ?? 1024 * 1024;
    this.#trc20 = new Set(
      (options.trc20Contracts ?? [BTT.contract ?? '']).map((a) => toHex(addressBytes(a))),
    );
    this.#trc10 = new Set(options.trc10Assets ?? [BTTOLD.tokenId ?? '']);
    const genesisNumber = options.genesisNumber ?? 1000;
    if (!Number.isSafeInteger(genesisNumber) || genesisNumber < 1) {
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'genesisNumber must be a positive integer');
    }
    const ts =
      options.genesisTimestamp ?? Math.floor(Date.now() / this.blockIntervalMs) * this.blockIntervalMs;
    this.#blocks.push(this.#makeBlock(genesisNumber, ts, ZERO32, [], new Map()));
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  }

  /** Starts an emulator on 127.0.0.1. */
  static async start(options: TronNodeEmulatorOptions = {}): Promise<TronNodeEmulator> {
    const node = new TronNodeEmulator(options);
    await new Promise<void>((resolve, reject) => {
      node.#server.once('error', reject);
      node.#server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = node.#server.address() as AddressInfo;
    node.#url = `http://127.0.0.1:${port}`;
    return node;
  }

  /** `http://127.0.0.1:<port>`: the full node and the solidity node. */
  get url(): string {
    return this.#url;
  }

  /** Stops mining and the server. */
  async close(): Promise<void> {
    this.stopMining();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  get head(): BlockRef {
    const b = this.#head();
    return { number: b.number, timestamp: b.timestamp };
  }

  get solid(): BlockRef {
    const b = this.#solid();
    return { number: b.number, timestamp: b.timestamp };
  }

  /** Sets how many blocks the solidity node trails the head. */
  setSolidityLag(blocks: number): void {
    if (!Number.isInteger(blocks) || blocks < 0)
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'lag must be a natural number');
    this.#solidityLag = blocks;
  }

  /** Transactions waiting for a block. */
  get pending(): number {
    return this.#pool.length;
  }

  /** Credits `amount` of `token` (a profile, or `'TRX'` in sun) to `address` out of nothing, at once (head and solid). */
  mint(address: string, token: TokenProfile | 'TRX', amount: bigint): void {
    const hex = toHex(addressBytes(address));
    const k = this.#tokenKey(token, hex);
    this.#state.set(k, (this.#state.get(k) ?? 0n) + amount);
    this.#accounts.add(hex);
    for (const b of this.#blocks) b.state.set(k, (b.state.get(k) ?? 0n) + amount);
  }

  /** Head-state balance. */
  balanceOf(address: string, token: TokenProfile | 'TRX'): bigint {
    return this.#state.get(this.#tokenKey(token, toHex(addressBytes(address)))) ?? 0n;
  }

  /** Every transfer included in a block so far, oldest first. */
  transfers(): EmulatedTransfer[] {
    return this.#blocks.flatMap((b) => b.txs.flatMap((t) => (t.transfer ? [t.transfer] : [])));
  }

  /** Mines `count` blocks; the first takes the pool's still-valid transactions. */
  mine(count = 1): BlockRef[] {
    const out: BlockRef[] = [];
    for (let i = 0; i < count; i++) {
      const parent = this.#head();
      const number = parent.number + 1;
      const timestamp = parent.timestamp + this.blockIntervalMs;
      const txs: Included[] = [];
      for (const p of this.#pool.splice(0)) {
        if (p.raw.expiration <= parent.timestamp) continue;
        const inc = this.#execute(p, number, timestamp);
        if (inc) txs.push(inc);
      }
      const block = this.#makeBlock(number, timestamp, parent.blockID, txs, new Map(this.#state));
      this.#blocks.push(block);
      for (const t of txs) {
        this.#index.set(t.txid, t);
        this.#blockOf.set(t.txid, number);
      }
      // Keep balance snapshots only as far back as the solidity node may look.
      const old = this.#blocks[this.#blocks.length - 1 - (this.#solidityLag + 64)];
      if (old) old.state = new Map();
      out.push({ number, timestamp });
    }
    return out;
  }

  /** Mines a block every `everyMs` of `clock` until {@link stopMining}. */
  startMining(everyMs: number, clock: Clock = realClock): void {
    this.stopMining();
    this.#timer = clock.setInterval(() => this.mine(), everyMs);
  }

  stopMining(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  // ---- chain ----

  #tokenKey(token: TokenProfile | 'TRX', hex: string): string {
    if (token === 'TRX') return bkey(TRX, '', hex);
    if (token.standard === 'trc10') return bkey('trc10', token.tokenId ?? '', hex);
    return bkey('trc20', toHex(addressBytes(token.contract ?? '')), hex);
  }

  #head(): Block {
    return this.#blocks[this.#blocks.length - 1] as Block;
  }

  #solid(): Block {
    return this.#blocks[Math.max(0, this.#blocks.length - 1 - this.#solidityLag)] as Block;
  }

  #block(num: number, solid: boolean): Block | undefined {
    const first = (this.#blocks[0] as Block).number;
    const b = this.#blocks[num - first];
    if (!b || (solid && b.number > this.#solid().number)) return undefined;
    return b;
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
    const bal = this.#state.get(fk) ?? 0n;
    if (bal < amount) return false;
    this.#state.set(fk, bal - amount);
    const tk = bkey(kind, token, to);
    this.#state.set(tk, (this.#state.get(tk) ?? 0n) + amount);
    this.#accounts.add(to);
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

  // ---- transactions ----

  #refFields(): Pick<RawTransaction, 'refBlockBytes' | 'refBlockHash' | 'expiration' | 'timestamp'> {
    const h = this.#head();
    return {
      refBlockBytes: fromHex(h.blockID.slice(12, 16)),
      refBlockHash: fromHex(h.blockID.slice(16, 32)),
      expiration: h.timestamp + TX_LIFETIME_MS,
      timestamp: h.timestamp,
    };
  }

  #txJson(raw: RawTransaction): JsonObject {
    const bytes = encodeRawTransaction(raw);
    return {
      visible: false,
      txID: txidOf(bytes),
      raw_data: rawTransactionToJson(raw),
      raw_data_hex: toHex(bytes),
    };
  }

  /** Validates a transaction's contract against the head state and the pool (broadcast and build). */
  #validate(raw: RawTransaction): void {
    const c = raw.contract;
    const owner = toHex(c.owner);
    if (c.type === 'TransferAssetContract') {
      const id = new TextDecoder().decode(c.assetName);
      if (!this.#trc10.has(id))
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
      if (!this.#accounts.has(owner))
        throw new Refusal('CONTRACT_VALIDATE_ERROR', 'Contract validate error : No owner account!');
      let committed = 0n;
      for (const p of this.#pool) {
        const pc = p.raw.contract;
        if (
          pc.type === 'TransferAssetContract' &&
          equalBytes(pc.owner, c.owner) &&
          equalBytes(pc.assetName, c.assetName)
        ) {
          committed += pc.amount;
        }
      }
      if ((this.#state.get(bkey('trc10', id, owner)) ?? 0n) - committed < c.amount) {
        throw new Refusal(
          'CONTRACT_VALIDATE_ERROR',
          'Contract validate error : assetBalance is not sufficient.',
        );
      }
      return;
    }
    if (!this.#trc20.has(toHex(c.contract))) {
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

  #broadcast(body: JsonValue): JsonObject {
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
      if (this.#index.has(txid) || this.#pool.some((p) => p.txid === txid)) {
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
      const head = this.#head();
      const refNum =
        raw.refBlockBytes.length === 2
          ? ((raw.refBlockBytes[0] as number) << 8) | (raw.refBlockBytes[1] as number)
          : -1;
      let refBlock: Block | undefined;
      if (refNum >= 0) {
        let n = head.number - ((head.number - refNum) & 0xffff);
        if (n > head.number) n -= 0x10000;
        refBlock = head.number - n < MAX_REF_DISTANCE ? this.#block(n, false) : undefined;
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
      this.#validate(raw);
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
    this.#pool.push({ txid, raw, tx });
    return { result: true, txid };
  }

  #buildTrigger(body: JsonValue, constant: boolean, solidity = false): JsonObject {
    const o = readObject(body, 'request', 'SETTLEMENT_BAD_OPTIONS');
    const owner = addressBytes(readString(o, 'owner_address', 64, 'SETTLEMENT_BAD_OPTIONS'));
    const contract = addressBytes(readString(o, 'contract_address', 64, 'SETTLEMENT_BAD_OPTIONS'));
    let data: string;
    if (typeof o.data === 'string') data = o.data;
    else {
      const selector = readString(o, 'function_selector', 256, 'SETTLEMENT_BAD_OPTIONS');
      data = selectorOf(selector) + (typeof o.parameter === 'string' ? o.parameter : '');
    }
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(data) || data.length > 128 * 1024) {
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'data is not hex');
    }
    const feeLimit = constant ? 0 : Number(readOptBig(o, 'fee_limit', 'SETTLEMENT_BAD_OPTIONS'));
    const raw: RawTransaction = {
      ...this.#refFields(),
      data: new Uint8Array(0),
      feeLimit: Number.isSafeInteger(feeLimit) ? feeLimit : 0,
      permissionId: 0,
      contract: {
        type: 'TriggerSmartContract',
        owner,
        contract,
        callValue: readOptBig(o, 'call_value', 'SETTLEMENT_BAD_OPTIONS'),
        data: fromHex(data),
        callTokenValue: readOptBig(o, 'call_token_value', 'SETTLEMENT_BAD_OPTIONS'),
        tokenId: readOptBig(o, 'token_id', 'SETTLEMENT_BAD_OPTIONS'),
      },
    };
    const cHex = toHex(contract);
    if (!this.#trc20.has(cHex)) {
      return {
        result: {
          code: 'CONTRACT_VALIDATE_ERROR',
          message: toHex(utf8('No contract or not a smart contract')),
        },
      };
    }
    const transaction = this.#txJson(raw);
    if (!constant) return { result: { result: true }, transaction };
    const bytes = fromHex(data);
    const sel = toHex(bytes.subarray(0, 4));
    let out: string | undefined;
    if (sel === BALANCE_OF_SELECTOR && bytes.length === 36) {
      const who = `41${toHex(bytes.subarray(16, 36))}`;
      const state = solidity ? this.#solid().state : this.#state;
      out = word(state.get(bkey('trc20', cHex, who)) ?? 0n);
    } else if (sel === selectorOf('decimals()')) out = word(18n);
    if (out === undefined) {
      return {
        result: { code: 'CONTRACT_EXE_ERROR', message: toHex(utf8('REVERT opcode executed')) },
        energy_used: 200,
        transaction,
      };
    }
    return { result: { result: true }, energy_used: 534, constant_result: [out], transaction };
  }

  #buildTransferAsset(body: JsonValue): JsonObject {
    const o = readObject(body, 'request', 'SETTLEMENT_BAD_OPTIONS');
    const nameField = readString(o, 'asset_name', 64, 'SETTLEMENT_BAD_OPTIONS');
    const visible = o.visible === true;
    const assetName = visible
      ? utf8(nameField)
      : /^(?:[0-9a-fA-F]{2})+$/.test(nameField)
        ? fromHex(nameField)
        : utf8(nameField);
    const raw: RawTransaction = {
      ...this.#refFields(),
      data: new Uint8Array(0),
      feeLimit: 0,
      permissionId: 0,
      contract: {
        type: 'TransferAssetContract',
        assetName,
        owner: addressBytes(readString(o, 'owner_address', 64, 'SETTLEMENT_BAD_OPTIONS')),
        to: addressBytes(readString(o, 'to_address', 64, 'SETTLEMENT_BAD_OPTIONS')),
        amount: readOptBig(o, 'amount', 'SETTLEMENT_BAD_OPTIONS'),
      },
    };
    try {
      this.#validate(raw);
    } catch (err) {
      if (err instanceof Refusal)
        return { Error: `class org.tron.core.exception.ContractValidateException : ${err.message}` };
      throw err;
    }
    return this.#txJson(raw);
  }

  // ---- reads ----

  #blockJson(b: Block, detail: boolean): JsonObject {
    const out: JsonObject = {
      blockID: b.blockID,
      block_header: {
        raw_data: {
          number: b.number,
          txTrieRoot: ZERO32,
          witness_address: `41${'0'.repeat(40)}`,
          parentHash: b.parentHash,
          version: 30,
          timestamp: b.timestamp,
        },
        witness_signature: '',
      },
    };
    if (detail && b.txs.length > 0) out.transactions = b.txs.map((t) => t.tx);
    return out;
  }

  #account(address: string, solid: boolean): JsonObject {
    const hex = toHex(addressBytes(address));
    const state = solid ? this.#solid().state : this.#state;
    if (!this.#accounts.has(hex)) return {};
    const out: JsonObject = { address: hex };
    const trx = state.get(bkey(TRX, '', hex)) ?? 0n;
    if (trx > 0n) out.balance = trx;
    const assets: JsonObject[] = [];
    for (const id of this.#trc10) {
      const v = state.get(bkey('trc10', id, hex)) ?? 0n;
      if (v > 0n) assets.push({ key: id, value: v });
    }
    if (assets.length > 0) out.assetV2 = assets;
    return out;
  }

  #route(path: string, body: JsonValue): JsonValue {
    const solidity = path.startsWith('/walletsolidity/');
    const name = path.replace(/^\/wallet(solidity)?\//, '');
    const req = (): JsonObject => readObject(body, 'request', 'SETTLEMENT_BAD_OPTIONS');
    const txidArg = (): string => {
      const v = readString(req(), 'value', 64, 'SETTLEMENT_BAD_OPTIONS').toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(v))
        throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'value must be a txid');
      return v;
    };
    const numArg = (): number => {
      const v = req().num;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'num must be a natural number');
      return v;
    };
    const inView = (txid: string): Included | undefined => {
      const n = this.#blockOf.get(txid);
      if (n === undefined || (solidity && n > this.#solid().number)) return undefined;
      return this.#index.get(txid);
    };
    switch (name) {
      case 'getnowblock':
        return this.#blockJson(solidity ? this.#solid() : this.#head(), true);
      case 'getblock': {
        const detail =
          typeof body === 'object' &&
          body !== null &&
          !Array.isArray(body) &&
          (body as JsonObject).detail === true;
        return this.#blockJson(solidity ? this.#solid() : this.#head(), detail);
      }
      case 'getblockbynum': {
        const b = this.#block(numArg(), solidity);
        return b ? this.#blockJson(b, true) : {};
      }
      case 'gettransactioninfobyblocknum': {
        const b = this.#block(numArg(), solidity);
        return b ? b.txs.map((t) => t.info) : [];
      }
      case 'getaccount':
        return this.#account(readString(req(), 'address', 64, 'SETTLEMENT_BAD_OPTIONS'), solidity);
      case 'gettransactionbyid':
        return inView(txidArg())?.tx ?? {};
      case 'gettransactioninfobyid':
        return inView(txidArg())?.info ?? {};
      case 'broadcasttransaction':
        if (solidity) break;
        return this.#broadcast(body);
      case 'triggersmartcontract':
        if (solidity) break;
        return this.#buildTrigger(body, false);
      case 'triggerconstantcontract':
        return this.#buildTrigger(body, true, solidity);
      case 'transferasset':
        if (solidity) break;
        return this.#buildTransferAsset(body);
    }
    throw new Refusal('NOT_FOUND', 'no such endpoint');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.#maxBody) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(toJson({ Error: 'request body too large' }));
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const send = (status: number, v: JsonValue) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(toJson(v));
    };
    if (path === '/healthcheck' || path === '/wallet/healthcheck') return send(200, {});
    let body: JsonValue = {};
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim().length > 0)
        body = parseJson(text, { code: 'SETTLEMENT_BAD_OPTIONS', maxLength: this.#maxBody });
      send(200, this.#route(path, body));
    } catch (err) {
      if (err instanceof Refusal && err.code === 'NOT_FOUND') return send(404, { Error: 'not found' });
      const msg = err instanceof Error ? err.message : String(err);
      send(200, { Error: `class java.lang.IllegalArgumentException : ${msg}` });
    }
  }
}
