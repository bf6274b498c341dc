import type { TronKey } from '../ledger/keys.js';
import { addressBytes } from '../ledger/keys.js';
import { fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import {
  checkAddress,
  checkTransferAmount,
  checkTxid,
  IdempotentTransfers,
  pollConfirm,
  provablyDeadByExpiry,
} from './_common.js';
import { DEFAULT_FEE_LIMIT, MAX_FEE_LIMIT, type TokenProfile, TRANSFER_TOPIC } from './constants.js';
import { SettlementError, type SettlementErrorCode } from './errors.js';
import {
  type JsonObject,
  parseJson,
  readArray,
  readBig,
  readInt,
  readObject,
  readOptString,
  readString,
} from './json.js';
import {
  decodeTransferCall,
  encodeRawTransaction,
  type RawTransaction,
  rawTransactionFromJson,
  txidOf,
} from './protobuf.js';
import { nodeMessage, TronHttp } from './tron-http.js';
import { asJson, BROADCAST_CODES, callTronweb, loadTronWeb, type TronWebLike } from './tronweb.js';
import type {
  AbortOptions,
  ChainTime,
  ConfirmOptions,
  Deposit,
  DepositPage,
  PreparedTransfer,
  SettlementAdapter,
  TransferResult,
  TxStatus,
} from './types.js';

/** Options of {@link TronSettlement.connect}. */
export interface TronSettlementOptions {
  /** The wallet's key: signs every transfer, offline. */
  key: TronKey;
  /** The token to move: `BTT` (TRC-20) or `BTTOLD` (TRC-10). */
  token: TokenProfile;
  /** Full node HTTP endpoint, e.g. `https://api.trongrid.io` or a `TronNodeEmulator`'s `url`. */
  fullNode: string;
  /** Solidity node HTTP endpoint. Default: `fullNode` (TronGrid serves both). */
  solidityNode?: string;
  /** Extra HTTP headers, e.g. `{ 'TRON-PRO-API-KEY': '…' }`. */
  headers?: Readonly<Record<string, string>>;
  /** TRC-20 fee limit in sun (energy the transfer may burn). Default 50 TRX; at most 15,000 TRX. */
  feeLimit?: number;
  /** How often `confirm` polls, in clock ms. Default 3,000. */
  pollMs?: number;
  /** Default `confirm` timeout in clock ms. Default 180,000 (the solid view trails ~60 s on mainnet). */
  confirmTimeoutMs?: number;
  /** Timeout of one HTTP request in ms. Default 30,000. */
  requestTimeoutMs?: number;
  /** Largest node response accepted, in bytes. Default 16 MiB. */
  maxResponseBytes?: number;
  /** Injected clock for polling. Default: the real clock. */
  clock?: Clock;
  /** Where `depositsSince(undefined)` starts. Default: the block after the solid block at connect time. */
  depositStartBlock?: number;
  /** Most blocks one `depositsSince` page scans (one request each). Default 100. */
  maxBlocksPerPage?: number;
}

/**
 * A {@link SettlementAdapter} for one TRON wallet on a real node (or a `TronNodeEmulator`), through
 * tronweb 6.5.1 for building, signing (offline, with the wallet's {@link TronKey}) and broadcasting,
 * and exact HTTP reads of its own (tronweb parses int64 JSON numbers into doubles). Each built
 * transaction is decoded and re-encoded by bttkit's own protobuf code before it is signed: it must
 * be exactly the transfer asked for. TRC-10 amounts above 2⁵³ − 1 are refused
 * (`SETTLEMENT_AMOUNT_OUT_OF_RANGE`) before tronweb sees them.
 */
export class TronSettlement implements SettlementAdapter {
  readonly token: TokenProfile;
  readonly address: string;
  readonly #hex: string;
  readonly #key: TronKey;
  readonly #tw: TronWebLike;
  readonly #full: string;
  readonly #solid: string;
  readonly #feeLimit: number;
  readonly #pollMs: number;
  readonly #confirmTimeout: number;
  readonly #http: TronHttp;
  readonly #clock: Clock;
  readonly #maxBlocks: number;
  readonly #contractHex: string;
  #startBlock = 0;
  readonly #transfers: IdempotentTransfers;

  private constructor(options: TronSettlementOptions, tw: TronWebLike) {
    this.token = options.token;
    this.#transfers = new IdempotentTransfers(
      this.token,
      (to, amount, opts) => this.prepare(to, amount, opts),
      (tx, opts) => this.broadcast(tx, opts),
    );
    this.#key = options.key;
    this.address = options.key.address;
    this.#hex = options.key.hexAddress;
    this.#tw = tw;
    this.#full = options.fullNode.replace(/\/+$/, '');
    this.#solid = (options.solidityNode ?? options.fullNode).replace(/\/+$/, '');
    this.#feeLimit = options.feeLimit ?? DEFAULT_FEE_LIMIT;
    this.#pollMs = options.pollMs ?? 3000;
    this.#confirmTimeout = options.confirmTimeoutMs ?? 180_000;
    this.#http = new TronHttp({
      headers: options.headers,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      maxResponseBytes: options.maxResponseBytes ?? 16 * 1024 * 1024,
    });
    this.#clock = options.clock ?? realClock;
    this.#maxBlocks = options.maxBlocksPerPage ?? 100;
    this.#contractHex = this.token.standard === 'trc20' ? toHex(addressBytes(this.token.contract ?? '')) : '';
  }

  /** Loads tronweb, checks the options, and reads the node's solid block (the default deposit start). */
  static async connect(options: TronSettlementOptions, opts?: AbortOptions): Promise<TronSettlement> {
    const fee = options.feeLimit ?? DEFAULT_FEE_LIMIT;
    if (!Number.isSafeInteger(fee) || fee <= 0 || fee > MAX_FEE_LIMIT) {
      throw new SettlementError(
        'SETTLEMENT_BAD_OPTIONS',
        `feeLimit must be an integer in [1, ${MAX_FEE_LIMIT}] sun`,
      );
    }
    const t = options.token;
    if (t.standard !== 'trc20' && t.standard !== 'trc10')
      throw new SettlementError(
        'SETTLEMENT_BAD_OPTIONS',
        `TronSettlement moves TRC-20 or TRC-10 tokens, not ${t.standard}`,
      );
    if (t.standard === 'trc20' ? !t.contract : !(t.tokenId && /^[0-9]{1,19}$/.test(t.tokenId))) {
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'token profile lacks its contract or token id');
    }
    for (const url of [options.fullNode, options.solidityNode ?? options.fullNode]) {
      if (!/^https?:\/\/[^\s]+$/.test(url))
        throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'node endpoints must be http(s) URLs');
    }
    const mod = await loadTronWeb();
    const tw = new mod.TronWeb({
      fullNode: options.fullNode,
      solidityNode: options.solidityNode ?? options.fullNode,
      ...(options.headers ? { headers: { ...options.headers } } : {}),
    }) as TronWebLike;
    const s = new TronSettlement(options, tw);
    s.#startBlock = options.depositStartBlock ?? (await s.chainTime(opts)).solid.number + 1;
    return s;
  }

  async chainTime(opts?: AbortOptions): Promise<ChainTime> {
    const head = await this.#http.block(this.#full, '/wallet/getnowblock', opts?.signal);
    const solid = await this.#http.block(this.#solid, '/walletsolidity/getnowblock', opts?.signal);
    return { head, solid };
  }

  /** TRON's rule: the solid block is at or past `tx.expiration` and `tx` is in no block. */
  provablyDead(tx: PreparedTransfer, opts?: AbortOptions): Promise<boolean> {
    return provablyDeadByExpiry(this, tx, opts);
  }

  /** Decodes `tx` with bttkit's own codec and checks it is exactly the transfer asked for. */
  #verifyBuilt(tx: JsonObject, to: string, amount: bigint): RawTransaction {
    const raw = rawTransactionFromJson(tx.raw_data, 'SETTLEMENT_TX_MISMATCH');
    const bytes = encodeRawTransaction(raw);
    const hex = readOptString(tx, 'raw_data_hex', 1 << 20, 'SETTLEMENT_TX_MISMATCH');
    const txid = readString(tx, 'txID', 64, 'SETTLEMENT_TX_MISMATCH').toLowerCase();
    if ((hex !== undefined && hex.toLowerCase() !== toHex(bytes)) || txid !== txidOf(bytes)) {
      throw new SettlementError('SETTLEMENT_TX_MISMATCH', 'transaction bytes do not match its JSON');
    }
    const c = raw.contract;
    const toHexAddr = toHex(addressBytes(to));
    let ok = toHex(c.owner) === this.#hex && raw.permissionId === 0;
    if (c.type === 'TransferAssetContract') {
      ok &&= this.token.standard === 'trc10' && fromUtf8(c.assetName) === this.token.tokenId;
      ok &&= toHex(c.to) === toHexAddr && c.amount === amount;
    } else {
      const call = decodeTransferCall(c.data);
      ok &&= this.token.standard === 'trc20' && toHex(c.contract) === this.#contractHex;
      ok &&= call !== undefined && toHex(call.to) === toHexAddr && call.value === amount;
      ok &&=
        c.callValue === 0n && c.callTokenValue === 0n && c.tokenId === 0n && raw.feeLimit === this.#feeLimit;
    }
    if (!ok)
      throw new SettlementError(
        'SETTLEMENT_TX_MISMATCH',
        'the built transaction is not the transfer asked for',
      );
    return raw;
  }

  async prepare(to: string, amount: bigint, opts?: AbortOptions): Promise<PreparedTransfer> {
    const dest = checkAddress(to, 'to');
    const value = checkTransferAmount(amount, this.token);
    if (dest === this.address)
      throw new SettlementError('SETTLEMENT_SAME_ACCOUNT', 'cannot transfer to the same account');
    const destHex = toHex(addressBytes(dest));
    const signal = opts?.signal;
    let built: unknown;
    if (this.token.standard === 'trc10') {
      // value ≤ 2^53 − 1 (checked above), so the Number is exact and tronweb's parseInt keeps it.
      built = await callTronweb(
        'sendToken',
        () =>
          this.#tw.transactionBuilder.sendToken(destHex, Number(value), this.token.tokenId ?? '', this.#hex),
        signal,
      );
    } else {
      const res = await callTronweb(
        'triggerSmartContract',
        () =>
          this.#tw.transactionBuilder.triggerSmartContract(
            this.#contractHex,
            'transfer(address,uint256)',
            { feeLimit: this.#feeLimit, callValue: 0 },
            [
              { type: 'address', value: destHex },
              { type: 'uint256', value: value.toString() },
            ],
            this.#hex,
          ),
        signal,
      );
      built = asJson(res, 'triggerSmartContract result').transaction;
    }
    const tx = asJson(built, 'transaction');
    const raw = this.#verifyBuilt(tx, dest, value);
    const signed = asJson(
      await callTronweb(
        'sign',
        () => this.#tw.trx.sign(JSON.parse(JSON.stringify(tx)), this.#key.exportPrivateKey()),
        signal,
      ),
      'signed transaction',
    );
    const payload = JSON.stringify(signed);
    return {
      txid: txidOf(encodeRawTransaction(raw)),
      from: this.address,
      to: dest,
      amount: value,
      expiration: raw.expiration,
      payload,
    };
  }

  async broadcast(tx: PreparedTransfer, opts?: AbortOptions): Promise<void> {
    if (typeof tx.payload !== 'string' || tx.payload.length > 1 << 20) {
      throw new SettlementError('SETTLEMENT_TX_MISMATCH', 'not a prepared TRON transaction');
    }
    const signed = readObject(
      parseJson(tx.payload, { code: 'SETTLEMENT_TX_MISMATCH' }),
      'payload',
      'SETTLEMENT_TX_MISMATCH',
    );
    const raw = this.#verifyBuilt(signed, tx.to, tx.amount);
    if (txidOf(encodeRawTransaction(raw)) !== checkTxid(tx.txid)) {
      throw new SettlementError('SETTLEMENT_TX_MISMATCH', 'txid does not match the payload');
    }
    const res = asJson(
      await callTronweb(
        'sendRawTransaction',
        () => this.#tw.trx.sendRawTransaction(JSON.parse(tx.payload)),
        opts?.signal,
      ),
      'broadcast result',
    );
    if (res.result === true) return;
    if (res.Error !== undefined)
      throw new SettlementError(
        'SETTLEMENT_NODE_ERROR',
        `broadcast: ${nodeMessage(res.Error)}`.slice(0, 300),
      );
    const nodeCode = typeof res.code === 'string' ? res.code.slice(0, 64) : 'UNKNOWN';
    if (nodeCode === 'DUP_TRANSACTION_ERROR') return;
    const message = nodeMessage(res.message);
    let code: SettlementErrorCode = BROADCAST_CODES[nodeCode] ?? 'SETTLEMENT_NODE_ERROR';
    if (code === 'SETTLEMENT_TX_REJECTED' && /balance is not sufficient/i.test(message))
      code = 'SETTLEMENT_INSUFFICIENT_BALANCE';
    throw new SettlementError(code, `broadcast refused: ${nodeCode} ${message}`.slice(0, 300), {
      details: { txid: tx.txid, nodeCode },
    });
  }

  async transfer(
    to: string,
    amount: bigint,
    idempotencyKey: string,
    opts?: AbortOptions,
  ): Promise<TransferResult> {
    return this.#transfers.transfer(to, amount, idempotencyKey, opts);
  }

  async status(txid: string, opts?: AbortOptions): Promise<TxStatus> {
    const id = checkTxid(txid);
    const signal = opts?.signal;
    const info = readObject(
      await this.#http.post(this.#solid, '/walletsolidity/gettransactioninfobyid', { value: id }, signal),
      'info',
    );
    if (info.id === undefined) {
      const head = readObject(
        await this.#http.post(this.#full, '/wallet/gettransactioninfobyid', { value: id }, signal),
        'info',
      );
      if (head.id === undefined) return { state: 'unknown', txid: id };
      return { state: 'pending', txid: id, blockNumber: readInt(head, 'blockNumber') };
    }
    const blockNumber = readInt(info, 'blockNumber');
    const blockTimestamp = readInt(info, 'blockTimeStamp');
    let reason: string | undefined;
    if (info.result === 'FAILED') reason = 'FAILED';
    if (this.token.standard === 'trc20') {
      const receipt = info.receipt === undefined ? {} : readObject(info.receipt, 'receipt');
      const r = typeof receipt.result === 'string' ? receipt.result.slice(0, 64) : 'UNKNOWN';
      const logs = info.log === undefined ? [] : readArray(info.log, 'log', 1024);
      const hasTransfer = logs.some((l) => {
        const o = readObject(l, 'log');
        const topics = readArray(o.topics, 'topics', 8);
        return (
          typeof o.address === 'string' &&
          o.address.toLowerCase() === this.#contractHex.slice(2) &&
          typeof topics[0] === 'string' &&
          topics[0].toLowerCase() === TRANSFER_TOPIC
        );
      });
      if (r !== 'SUCCESS') reason = r;
      else if (!hasTransfer) reason = 'NO_TRANSFER_LOG';
    } else if (reason === undefined) {
      const tx = readObject(
        await this.#http.post(this.#solid, '/walletsolidity/gettransactionbyid', { value: id }, signal),
        'tx',
      );
      const ret = tx.ret === undefined ? [] : readArray(tx.ret, 'ret', 16);
      const first = ret[0] === undefined ? {} : readObject(ret[0], 'ret[0]');
      const cr = typeof first.contractRet === 'string' ? first.contractRet.slice(0, 64) : 'UNKNOWN';
      if (cr !== 'SUCCESS') reason = cr;
    }
    if (reason !== undefined) return { state: 'failed', txid: id, blockNumber, blockTimestamp, reason };
    return { state: 'confirmed', txid: id, blockNumber, blockTimestamp };
  }

  confirm(txid: string, opts?: ConfirmOptions): Promise<TxStatus & { state: 'confirmed' }> {
    return pollConfirm(
      (t, o) => this.status(t, o),
      checkTxid(txid),
      this.#clock,
      this.#pollMs,
      this.#confirmTimeout,
      opts,
    );
  }

  async balance(address: string, opts?: AbortOptions): Promise<bigint> {
    const hex = toHex(addressBytes(checkAddress(address)));
    if (this.token.standard === 'trc10') {
      const acct = readObject(
        await this.#http.post(this.#solid, '/walletsolidity/getaccount', { address: hex }, opts?.signal),
        'account',
      );
      if (acct.assetV2 === undefined) return 0n;
      for (const e of readArray(acct.assetV2, 'assetV2', 100_000)) {
        const o = readObject(e, 'assetV2 entry');
        if (o.key === this.token.tokenId) return readBig(o, 'value');
      }
      return 0n;
    }
    const res = asJson(
      await callTronweb(
        'balanceOf',
        () =>
          this.#tw.transactionBuilder.triggerConfirmedConstantContract(
            this.#contractHex,
            'balanceOf(address)',
            {},
            [{ type: 'address', value: hex }],
            this.#hex,
          ),
        opts?.signal,
      ),
      'balanceOf result',
    );
    const out = readArray(res.constant_result, 'constant_result', 4);
    if (typeof out[0] !== 'string' || !/^[0-9a-fA-F]{64}$/.test(out[0])) {
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'balanceOf: not a uint256');
    }
    return BigInt(`0x${out[0]}`);
  }

  async depositsSince(cursor: string | undefined, opts?: AbortOptions): Promise<DepositPage> {
    let from = this.#startBlock;
    if (cursor !== undefined) {
      if (!/^[0-9]{1,15}$/.test(cursor))
        throw new SettlementError('SETTLEMENT_BAD_CURSOR', 'cursor must be a block number');
      from = Number(cursor);
    }
    const signal = opts?.signal;
    const solid = (await this.#http.block(this.#solid, '/walletsolidity/getnowblock', signal)).number;
    const last = Math.min(solid, from + this.#maxBlocks - 1);
    const deposits: Deposit[] = [];
    let n = from;
    for (; n <= last; n++) {
      const found =
        this.token.standard === 'trc20'
          ? await this.#trc20Deposits(n, signal)
          : await this.#trc10Deposits(n, signal);
      if (found === undefined) break;
      deposits.push(...found);
    }
    return { deposits, cursor: String(n), caughtUp: n > solid };
  }

  async #trc20Deposits(num: number, signal?: AbortSignal): Promise<Deposit[] | undefined> {
    const infos = readArray(
      await this.#http.post(this.#solid, '/walletsolidity/gettransactioninfobyblocknum', { num }, signal),
      'infos',
    );
    const sums = new Map<string, Deposit>();
    const me = this.#hex.slice(2);
    for (const i of infos) {
      const info = readObject(i, 'info');
      const receipt = info.receipt === undefined ? {} : readObject(info.receipt, 'receipt');
      if (receipt.result !== 'SUCCESS' || info.log === undefined) continue;
      const txid = checkTxid(readString(info, 'id', 64));
      for (const l of readArray(info.log, 'log', 4096)) {
        const log = readObject(l, 'log');
        const topics = readArray(log.topics, 'topics', 8);
        const [t0, t1, t2] = topics;
        if (
          typeof log.address !== 'string' ||
          log.address.toLowerCase() !== this.#contractHex.slice(2) ||
          topics.length !== 3 ||
          typeof t0 !== 'string' ||
          t0.toLowerCase() !== TRANSFER_TOPIC ||
          typeof t1 !== 'string' ||
          typeof t2 !== 'string' ||
          !/^[0-9a-fA-F]{64}$/.test(t1) ||
          !/^[0-9a-fA-F]{64}$/.test(t2) ||
          t2.slice(24).toLowerCase() !== me
        ) {
          continue;
        }
        const data = readString(log, 'data', 64);
        if (!/^[0-9a-fA-F]{64}$/.test(data))
          throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'Transfer log data is not a uint256');
        const from = checkAddress(`41${t1.slice(24).toLowerCase()}`);
        const k = `${txid}:${from}`;
        const prev = sums.get(k);
        const amount = BigInt(`0x${data}`) + (prev?.amount ?? 0n);
        sums.set(k, {
          txid,
          from,
          to: this.address,
          amount,
          blockNumber: readInt(info, 'blockNumber'),
          blockTimestamp: readInt(info, 'blockTimeStamp'),
        });
      }
    }
    if (infos.length === 0) {
      // An empty answer is also what a node says for a block it does not have: make sure it exists.
      const b = readObject(
        await this.#http.post(this.#solid, '/walletsolidity/getblockbynum', { num }, signal),
        'block',
      );
      if (b.blockID === undefined) return undefined;
    }
    return [...sums.values()].filter((d) => d.amount > 0n);
  }

  async #trc10Deposits(num: number, signal?: AbortSignal): Promise<Deposit[] | undefined> {
    const b = readObject(
      await this.#http.post(this.#solid, '/walletsolidity/getblockbynum', { num }, signal),
      'block',
    );
    if (b.blockID === undefined) return undefined;
    const raw = readObject(readObject(b.block_header, 'block_header').raw_data, 'block_header.raw_data');
    const blockTimestamp = readInt(raw, 'timestamp');
    const asset = toHex(utf8(this.token.tokenId ?? ''));
    const out: Deposit[] = [];
    for (const t of b.transactions === undefined ? [] : readArray(b.transactions, 'transactions')) {
      const tx = readObject(t, 'transaction');
      const rd = readObject(tx.raw_data, 'raw_data');
      const contracts = readArray(rd.contract, 'contract', 16);
      const c = contracts.length === 1 ? readObject(contracts[0], 'contract') : undefined;
      if (c?.type !== 'TransferAssetContract') continue;
      const ret = tx.ret === undefined ? [] : readArray(tx.ret, 'ret', 16);
      const r0 = ret[0] === undefined ? {} : readObject(ret[0], 'ret');
      if (r0.contractRet !== 'SUCCESS') continue;
      const parsed = rawTransactionFromJson(rd, 'SETTLEMENT_NODE_BAD_RESPONSE');
      const pc = parsed.contract;
      if (pc.type !== 'TransferAssetContract' || toHex(pc.assetName) !== asset || toHex(pc.to) !== this.#hex)
        continue;
      out.push({
        txid: txidOf(encodeRawTransaction(parsed)),
        from: checkAddress(toHex(pc.owner)),
        to: this.address,
        amount: pc.amount,
        blockNumber: num,
        blockTimestamp,
      });
    }
    return out;
  }
}
