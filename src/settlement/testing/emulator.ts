import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { addressBytes } from '../../ledger/keys.js';
import { fromHex, toHex, utf8 } from '../../util/bytes.js';
import { type Clock, realClock, type TimerHandle } from '../../util/clock.js';
import {
  BALANCE_OF_SELECTOR,
  BLOCK_INTERVAL_MS,
  BTT,
  BTTOLD,
  type TokenProfile,
  TX_LIFETIME_MS,
} from '../constants.js';
import { SettlementError } from '../errors.js';
import {
  type JsonObject,
  type JsonValue,
  parseJson,
  readObject,
  readOptBig,
  readString,
  toJson,
} from '../json.js';
import {
  encodeRawTransaction,
  type RawTransaction,
  rawTransactionToJson,
  txidOf,
  word,
} from '../protobuf.js';
import type { BlockRef } from '../types.js';
import {
  type Block,
  bkey,
  EmulatedChain,
  type EmulatedTransfer,
  type Included,
  Refusal,
  TRX,
  ZERO32,
} from './chain.js';

export type { EmulatedTransfer } from './chain.js';

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
  readonly #chain: EmulatedChain;
  #timer: TimerHandle | undefined;
  #url = '';
  /** Requests served, by path. */
  readonly requests = new Map<string, number>();

  private constructor(options: TronNodeEmulatorOptions) {
    this.blockIntervalMs = options.blockIntervalMs ?? BLOCK_INTERVAL_MS;
    this.#maxBody = options.maxBodyBytes ?? 1024 * 1024;
    const genesisNumber = options.genesisNumber ?? 1000;
    if (!Number.isSafeInteger(genesisNumber) || genesisNumber < 1) {
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'genesisNumber must be a positive integer');
    }
    this.#chain = new EmulatedChain({
      blockIntervalMs: this.blockIntervalMs,
      solidityLag: options.solidityLag ?? 0,
      trc20: new Set((options.trc20Contracts ?? [BTT.contract ?? '']).map((a) => toHex(addressBytes(a)))),
      trc10: new Set(options.trc10Assets ?? [BTTOLD.tokenId ?? '']),
      genesisNumber,
      genesisTimestamp:
        options.genesisTimestamp ?? Math.floor(Date.now() / this.blockIntervalMs) * this.blockIntervalMs,
    });
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
    const b = this.#chain.head();
    return { number: b.number, timestamp: b.timestamp };
  }

  get solid(): BlockRef {
    const b = this.#chain.solid();
    return { number: b.number, timestamp: b.timestamp };
  }

  /** Sets how many blocks the solidity node trails the head. */
  setSolidityLag(blocks: number): void {
    if (!Number.isInteger(blocks) || blocks < 0)
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'lag must be a natural number');
    this.#chain.solidityLag = blocks;
  }

  /** Transactions waiting for a block. */
  get pending(): number {
    return this.#chain.pool.length;
  }

  /** Credits `amount` of `token` (a profile, or `'TRX'` in sun) to `address` out of nothing, at once (head and solid). */
  mint(address: string, token: TokenProfile | 'TRX', amount: bigint): void {
    this.#chain.mint(address, token, amount);
  }

  /** Head-state balance. */
  balanceOf(address: string, token: TokenProfile | 'TRX'): bigint {
    return this.#chain.balanceOf(address, token);
  }

  /** Every transfer included in a block so far, oldest first. */
  transfers(): EmulatedTransfer[] {
    return this.#chain.transfers();
  }

  /** Mines `count` blocks; the first takes the pool's still-valid transactions. */
  mine(count = 1): BlockRef[] {
    return this.#chain.mine(count);
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

  // ---- transactions ----

  #refFields(): Pick<RawTransaction, 'refBlockBytes' | 'refBlockHash' | 'expiration' | 'timestamp'> {
    const h = this.#chain.head();
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
    if (!this.#chain.trc20.has(cHex)) {
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
      const state = solidity ? this.#chain.solid().state : this.#chain.state;
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
      this.#chain.validate(raw);
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
    const state = solid ? this.#chain.solid().state : this.#chain.state;
    if (!this.#chain.accounts.has(hex)) return {};
    const out: JsonObject = { address: hex };
    const trx = state.get(bkey(TRX, '', hex)) ?? 0n;
    if (trx > 0n) out.balance = trx;
    const assets: JsonObject[] = [];
    for (const id of this.#chain.trc10) {
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
      const n = this.#chain.blockOf.get(txid);
      if (n === undefined || (solidity && n > this.#chain.solid().number)) return undefined;
      return this.#chain.index.get(txid);
    };
    switch (name) {
      case 'getnowblock':
        return this.#blockJson(solidity ? this.#chain.solid() : this.#chain.head(), true);
      case 'getblock': {
        const detail =
          typeof body === 'object' &&
          body !== null &&
          !Array.isArray(body) &&
          (body as JsonObject).detail === true;
        return this.#blockJson(solidity ? this.#chain.solid() : this.#chain.head(), detail);
      }
      case 'getblockbynum': {
        const b = this.#chain.block(numArg(), solidity);
        return b ? this.#blockJson(b, true) : {};
      }
      case 'gettransactioninfobyblocknum': {
        const b = this.#chain.block(numArg(), solidity);
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
        return this.#chain.broadcast(body);
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
