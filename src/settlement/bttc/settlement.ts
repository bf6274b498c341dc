import { keccak_256 } from '@noble/hashes/sha3.js';
import { fromHex, toHex } from '../../util/bytes.js';
import { type Clock, realClock } from '../../util/clock.js';
import { throwIfAborted } from '../../util/errors.js';
import { checkTransferAmount, checkTxid, IdempotentTransfers, pollConfirm } from '../_common.js';
import { type TokenProfile, TRANSFER_SELECTOR, TRANSFER_TOPIC } from '../constants.js';
import { SettlementError, type SettlementErrorCode } from '../errors.js';
import type { JsonObject } from '../json.js';
import type {
  AbortOptions,
  ChainTime,
  ConfirmOptions,
  DepositPage,
  PreparedTransfer,
  SettlementAdapter,
  TransferResult,
  TxStatus,
} from '../types.js';
import { checkEvmAddress } from './address.js';
import { BTT_NATIVE, type EvmChain } from './chains.js';
import { type BlockReader, blockRef, erc20Deposits, nativeDeposits } from './deposits.js';
import { arr, data, EvmRpc, hash32, hexQty, num, obj, qty } from './rpc.js';
import { loadViem, type ViemLike } from './viem.js';

/** Options of {@link BttcSettlement.connect}. */
export interface BttcSettlementOptions {
  /** The wallet's secp256k1 private key, `0x` + 64 hex digits. Signs offline; never sent anywhere. */
  privateKey: string;
  /** The node's JSON-RPC URL (http or https), e.g. your own BTTC node or `chain.rpcUrls[0]`. */
  rpcUrl: string;
  /** The chain: `BTTC_MAINNET`, `BTTC_DONAU`, or your own {@link EvmChain}. The node must report its id. */
  chain: EvmChain;
  /** What to move: `BTT_NATIVE` (default) or an `erc20Token({ address, decimals, symbol })`. */
  token?: TokenProfile;
  /** Blocks deep a block must be to count (the solid view). Default `chain.confirmations`. At least 1. */
  confirmations?: number;
  /** How often `confirm` polls, in clock ms. Default 2,000. */
  pollMs?: number;
  /** Default `confirm` timeout in clock ms. Default 600,000. */
  confirmTimeoutMs?: number;
  /** Where `depositsSince(undefined)` starts. Default: the block after the solid block at connect time. */
  depositStartBlock?: number;
  /** Most blocks one `depositsSince` page covers. Default 100 (native: one request per block). */
  maxBlocksPerPage?: number;
  /** Cap on `maxFeePerGas` in wei: `prepare` refuses (`SETTLEMENT_FEE_TOO_HIGH`) when the base fee is above it. Default 10¹⁶ wei. */
  maxFeePerGas?: bigint;
  /** A fixed priority fee (tip) in wei. Default: the node's `eth_maxPriorityFeePerGas`, capped. */
  maxPriorityFeePerGas?: bigint;
  /** A fixed gas limit. Default: 21,000 for native BTT; the node's estimate + 25 % for an ERC-20. */
  gasLimit?: bigint;
  /** Largest gas estimate accepted for an ERC-20 transfer (`SETTLEMENT_FEE_TOO_HIGH` above). Default 200,000. */
  maxGas?: bigint;
  /** Extra HTTP headers (an API key). */
  headers?: Readonly<Record<string, string>>;
  /** Timeout of one JSON-RPC request in ms. Default 30,000. */
  requestTimeoutMs?: number;
  /** Largest JSON-RPC answer accepted, in bytes. Default 32 MiB (a full block with its transactions). */
  maxResponseBytes?: number;
  /** Injected clock for polling. Default: the real clock. */
  clock?: Clock;
}

const BALANCE_OF_SELECTOR = '70a08231';

/** `transfer(address,uint256)` call data. */
function transferData(to: string, amount: bigint): `0x${string}` {
  return `0x${TRANSFER_SELECTOR}${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`;
}

/** A node's refusal of `eth_sendRawTransaction`, by its message (nodes have no common codes). */
function refusal(message: string): SettlementErrorCode | 'known' | 'nonce-used' {
  const m = message.toLowerCase();
  if (/already known|known transaction|already imported|already exists|already in (the )?(tx)?pool/.test(m))
    return 'known';
  if (
    /nonce too low|nonce is too low|nonce has already been used|already been used|nonce.*(lower|less) than/.test(
      m,
    )
  )
    return 'nonce-used';
  if (/insufficient funds|enough funds|insufficient balance/.test(m))
    return 'SETTLEMENT_INSUFFICIENT_BALANCE';
  if (/invalid sender|invalid signature|chain ?id/.test(m)) return 'SETTLEMENT_TX_BAD_SIGNATURE';
  if (/underpriced|fee too low|fee cap|base fee|intrinsic gas|gas limit|exceeds block gas|oversized/.test(m))
    return 'SETTLEMENT_TX_REJECTED';
  return 'SETTLEMENT_NODE_ERROR';
}

/**
 * A {@link SettlementAdapter} for one wallet on BTTC (or any EVM chain described as an
 * {@link EvmChain}), moving native BTT or one ERC-20 token. viem (optional peer dependency, loaded
 * by `connect`) signs EIP-1559 transactions offline; every read is bttkit's own bounded JSON-RPC.
 *
 * - **Solid view**: a block counts once it is `confirmations` deep (`head − confirmations + 1` and
 *   below). `status`, `balance`, `depositsSince` and `provablyDead` read only that view, so a
 *   re-org shallower than `confirmations` changes nothing they reported.
 * - **Nonces**: `prepare` takes `max(pending nonce of the node, highest nonce this adapter
 *   prepared + 1)` (prepares are serialized). The transaction carries its nonce; the `Settler`
 *   journals it before broadcast. Across a restart the adapter forgets what it prepared: a journaled
 *   transaction never broadcast may then share its nonce with a new one. Only one of two
 *   transactions with one nonce can ever be included, and the loser is then {@link provablyDead},
 *   so the `Settler` re-signs its withdrawal: never paid twice, at worst paid later.
 * - **Deposits**: ERC-20 from `Transfer` logs to the address (also transfers made by contracts);
 *   native BTT from the transactions of each block whose `to` is the address and whose receipt
 *   succeeded. Native BTT sent by a contract's internal call (a multisig, an exchange's batch
 *   contract) is **not** seen.
 */
export class BttcSettlement implements SettlementAdapter {
  readonly token: TokenProfile;
  readonly address: string;
  /** The chain this adapter settles on. */
  readonly chain: EvmChain;
  /** Blocks deep a block must be to count. */
  readonly confirmations: number;
  readonly #viem: ViemLike;
  readonly #account: ReturnType<ViemLike['privateKeyToAccount']>;
  readonly #rpc: EvmRpc;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #confirmTimeout: number;
  readonly #maxBlocks: number;
  readonly #feeCap: bigint;
  readonly #tip: bigint | undefined;
  readonly #gasLimit: bigint | undefined;
  readonly #maxGas: bigint;
  readonly #contract: `0x${string}` | undefined;
  readonly #transfers: IdempotentTransfers;
  #startBlock = 0;
  /** The nonce after the highest this adapter prepared (0: none yet). */
  #next = 0;
  /** Serializes nonce allocation. */
  #nonceLock: Promise<unknown> = Promise.resolve();

  private constructor(options: BttcSettlementOptions, viem: ViemLike, token: TokenProfile) {
    this.#viem = viem;
    this.#account = viem.privateKeyToAccount(options.privateKey as `0x${string}`);
    this.address = checkEvmAddress(this.#account.address);
    this.token = token;
    this.chain = options.chain;
    this.confirmations = options.confirmations ?? options.chain.confirmations;
    this.#rpc = new EvmRpc({
      url: options.rpcUrl,
      headers: options.headers,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      maxResponseBytes: options.maxResponseBytes ?? 32 * 1024 * 1024,
    });
    this.#clock = options.clock ?? realClock;
    this.#pollMs = options.pollMs ?? 2000;
    this.#confirmTimeout = options.confirmTimeoutMs ?? 600_000;
    this.#maxBlocks = options.maxBlocksPerPage ?? 100;
    this.#feeCap = options.maxFeePerGas ?? 10n ** 16n;
    this.#tip = options.maxPriorityFeePerGas;
    this.#gasLimit = options.gasLimit;
    this.#maxGas = options.maxGas ?? 200_000n;
    this.#contract =
      token.standard === 'erc20' ? checkEvmAddress(token.contract, 'token.contract') : undefined;
    this.#transfers = new IdempotentTransfers(
      token,
      (to, amount, opts) => this.prepare(to, amount, opts),
      (tx, opts) => this.broadcast(tx, opts),
      checkEvmAddress,
    );
  }

  /**
   * Checks the options, loads viem, checks that the node serves `chain.id`, and reads the solid
   * block (the default deposit start).
   * @throws {SettlementError} `SETTLEMENT_BAD_OPTIONS`, `SETTLEMENT_VIEM_MISSING`, `SETTLEMENT_WRONG_CHAIN`, node codes
   */
  static async connect(options: BttcSettlementOptions, opts?: AbortOptions): Promise<BttcSettlement> {
    const fail = (m: string): never => {
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', m);
    };
    if (typeof options.privateKey !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(options.privateKey))
      fail('privateKey must be 0x + 64 hex digits');
    if (typeof options.rpcUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(options.rpcUrl))
      fail('rpcUrl must be an http(s) URL');
    const c = options.chain;
    if (!c || !Number.isSafeInteger(c.id) || c.id <= 0) fail('chain.id must be a positive integer');
    const token = options.token ?? BTT_NATIVE;
    if (token.standard !== 'native' && token.standard !== 'erc20')
      fail(`BttcSettlement moves native coins or ERC-20 tokens, not ${token.standard}`);
    const positive = (v: number | undefined, what: string, max: number) => {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1 || v > max))
        fail(`${what} must be an integer in [1, ${max}]`);
    };
    positive(options.confirmations ?? c.confirmations, 'confirmations', 10_000);
    positive(options.maxBlocksPerPage, 'maxBlocksPerPage', 10_000);
    positive(options.pollMs, 'pollMs', 3_600_000);
    if (
      options.depositStartBlock !== undefined &&
      (!Number.isSafeInteger(options.depositStartBlock) || options.depositStartBlock < 0)
    )
      fail('depositStartBlock must be a natural number');
    for (const [k, v] of [
      ['maxFeePerGas', options.maxFeePerGas],
      ['maxPriorityFeePerGas', options.maxPriorityFeePerGas],
      ['gasLimit', options.gasLimit],
      ['maxGas', options.maxGas],
    ] as const) {
      if (v !== undefined && (typeof v !== 'bigint' || v < 0n || v >= 2n ** 64n))
        fail(`${k} must be a bigint in [0, 2^64)`);
    }
    const viem = await loadViem();
    const s = new BttcSettlement(options, viem, token);
    const id = num(await s.#rpc.call('eth_chainId', [], opts?.signal), 'eth_chainId');
    if (id !== c.id) {
      throw new SettlementError(
        'SETTLEMENT_WRONG_CHAIN',
        `the node serves chain ${id}, not ${c.id} (${c.name})`,
        {
          details: { expected: c.id, actual: id },
        },
      );
    }
    s.#startBlock = options.depositStartBlock ?? (await s.#solidNumber(opts?.signal)) + 1;
    return s;
  }

  // ---- reads ----

  async #headNumber(signal?: AbortSignal): Promise<number> {
    return num(await this.#rpc.call('eth_blockNumber', [], signal), 'eth_blockNumber');
  }

  /** The solid block's number, or −1 while the chain is shorter than the confirmation depth. */
  async #solidNumber(signal?: AbortSignal): Promise<number> {
    return (await this.#headNumber(signal)) - this.confirmations + 1;
  }

  /** A block header (`full`: with its transactions), or undefined when the node has none. */
  async #block(tag: string, full: boolean, signal?: AbortSignal): Promise<JsonObject | undefined> {
    const b = await this.#rpc.call('eth_getBlockByNumber', [tag, full], signal);
    if (b === null) return undefined;
    return obj(b, 'block');
  }

  async chainTime(opts?: AbortOptions): Promise<ChainTime> {
    const signal = opts?.signal;
    const headBlock = await this.#block('latest', false, signal);
    if (!headBlock) throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'no latest block');
    const head = blockRef(headBlock);
    const solidNumber = Math.max(0, head.number - this.confirmations + 1);
    const solidBlock = await this.#block(hexQty(solidNumber), false, signal);
    if (!solidBlock) throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'no solid block');
    return { head, solid: blockRef(solidBlock) };
  }

  async #receipt(txid: string, signal?: AbortSignal): Promise<JsonObject | undefined> {
    const r = await this.#rpc.call('eth_getTransactionReceipt', [`0x${txid}`], signal);
    if (r === null) return undefined;
    const o = obj(r, 'receipt');
    if (hash32(o.transactionHash, 'receipt.transactionHash') !== txid)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'receipt of another transaction');
    return o;
  }

  /** True if `receipt` holds a `Transfer` log of the token contract. */
  #hasTransferLog(receipt: JsonObject): boolean {
    const logs = receipt.logs === undefined ? [] : arr(receipt.logs, 'receipt.logs', 4096);
    return logs.some((l) => {
      const log = obj(l, 'log');
      const topics = log.topics === undefined ? [] : arr(log.topics, 'log.topics', 8);
      return (
        typeof log.address === 'string' &&
        log.address.toLowerCase() === this.#contract?.toLowerCase() &&
        typeof topics[0] === 'string' &&
        topics[0].toLowerCase() === `0x${TRANSFER_TOPIC}`
      );
    });
  }

  async status(txid: string, opts?: AbortOptions): Promise<TxStatus> {
    const id = checkTxid(txid);
    const signal = opts?.signal;
    const receipt = await this.#receipt(id, signal);
    if (!receipt) return { state: 'unknown', txid: id };
    const blockNumber = num(receipt.blockNumber, 'receipt.blockNumber');
    const solid = await this.#solidNumber(signal);
    if (blockNumber > solid) return { state: 'pending', txid: id, blockNumber };
    const block = await this.#block(hexQty(blockNumber), false, signal);
    // The canonical block at that height must be the receipt's; else the node is mid re-org: not solid yet.
    if (!block || hash32(block.hash, 'block.hash') !== hash32(receipt.blockHash, 'receipt.blockHash'))
      return { state: 'pending', txid: id, blockNumber };
    const blockTimestamp = num(block.timestamp, 'block.timestamp') * 1000;
    const ok = qty(receipt.status, 'receipt.status');
    let reason: string | undefined;
    if (ok !== 1n) reason = 'REVERT';
    else if (this.#contract && !this.#hasTransferLog(receipt)) reason = 'NO_TRANSFER_LOG';
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

  async #erc20Balance(who: string, tag: string, signal?: AbortSignal): Promise<bigint> {
    const call = {
      to: this.#contract,
      data: `0x${BALANCE_OF_SELECTOR}${who.slice(2).toLowerCase().padStart(64, '0')}`,
    };
    const out = data(await this.#rpc.call('eth_call', [call, tag], signal), 'balanceOf', 32);
    if (out.length !== 66)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'balanceOf: not a uint256');
    return BigInt(out);
  }

  async balance(address: string, opts?: AbortOptions): Promise<bigint> {
    const who = checkEvmAddress(address);
    const signal = opts?.signal;
    const tag = hexQty(Math.max(0, await this.#solidNumber(signal)));
    if (this.#contract) return this.#erc20Balance(who, tag, signal);
    return qty(await this.#rpc.call('eth_getBalance', [who, tag], signal), 'eth_getBalance');
  }

  // ---- deposits ----

  async depositsSince(cursor: string | undefined, opts?: AbortOptions): Promise<DepositPage> {
    let from = this.#startBlock;
    if (cursor !== undefined) {
      if (typeof cursor !== 'string' || !/^[0-9]{1,15}$/.test(cursor))
        throw new SettlementError('SETTLEMENT_BAD_CURSOR', 'cursor must be a block number');
      from = Number(cursor);
    }
    const signal = opts?.signal;
    const solid = await this.#solidNumber(signal);
    // Never past the solid head: a page ends at it, and a cursor beyond it waits there.
    const last = Math.min(solid, from + this.#maxBlocks - 1);
    if (last < from) return { deposits: [], cursor: String(from), caughtUp: true };
    const reader: BlockReader = {
      block: (tag, full, sig) => this.#block(tag, full, sig),
      receipt: (txid, sig) => this.#receipt(txid, sig),
      call: (method, params, sig) => this.#rpc.call(method, params, sig),
    };
    const page = this.#contract
      ? await erc20Deposits(reader, this.address, this.#contract, from, last, signal)
      : await nativeDeposits(reader, this.address, from, last, signal);
    return { deposits: page.deposits, cursor: String(page.next), caughtUp: page.next > solid };
  }

  // ---- transfers ----

  async transfer(
    to: string,
    amount: bigint,
    idempotencyKey: string,
    opts?: AbortOptions,
  ): Promise<TransferResult> {
    return this.#transfers.transfer(to, amount, idempotencyKey, opts);
  }

  async #fees(signal?: AbortSignal): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const latest = await this.#block('latest', false, signal);
    if (!latest) throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'no latest block');
    if (latest.baseFeePerGas === undefined)
      throw new SettlementError(
        'SETTLEMENT_NODE_BAD_RESPONSE',
        'no baseFeePerGas: the chain does not speak EIP-1559',
      );
    const base = qty(latest.baseFeePerGas, 'baseFeePerGas');
    if (base > this.#feeCap) {
      throw new SettlementError('SETTLEMENT_FEE_TOO_HIGH', 'the base fee is above maxFeePerGas', {
        details: { baseFeePerGas: base, maxFeePerGas: this.#feeCap },
      });
    }
    const tip =
      this.#tip ??
      qty(await this.#rpc.call('eth_maxPriorityFeePerGas', [], signal), 'eth_maxPriorityFeePerGas');
    let maxFee = 2n * base + tip;
    if (maxFee > this.#feeCap) maxFee = this.#feeCap;
    // The tip never exceeds what the cap leaves above the base fee.
    let maxPriorityFeePerGas = tip;
    if (maxPriorityFeePerGas > maxFee - base) maxPriorityFeePerGas = maxFee - base;
    return { maxFeePerGas: maxFee, maxPriorityFeePerGas };
  }

  async #gas(
    target: string,
    callData: `0x${string}`,
    to: string,
    amount: bigint,
    signal?: AbortSignal,
  ): Promise<bigint> {
    if (this.#gasLimit !== undefined) return this.#gasLimit;
    if (!this.#contract) return 21_000n;
    let est: bigint;
    try {
      est = qty(
        await this.#rpc.call(
          'eth_estimateGas',
          [{ from: this.address, to: target, data: callData }, 'pending'],
          signal,
        ),
        'eth_estimateGas',
      );
    } catch (err) {
      if (!(err instanceof SettlementError) || err.code !== 'SETTLEMENT_NODE_ERROR') throw err;
      // The call would revert: an overdraft, or a token that refuses the transfer.
      const have = await this.#erc20Balance(this.address, 'pending', signal);
      if (have < amount) {
        throw new SettlementError(
          'SETTLEMENT_INSUFFICIENT_BALANCE',
          `${this.token.symbol} balance is not sufficient`,
          {
            details: { balance: have, amount, to },
          },
        );
      }
      throw new SettlementError(
        'SETTLEMENT_TX_REJECTED',
        `the token refuses the transfer: ${err.message}`.slice(0, 300),
        {
          cause: err,
        },
      );
    }
    if (est > this.#maxGas) {
      throw new SettlementError('SETTLEMENT_FEE_TOO_HIGH', 'the gas estimate is above maxGas', {
        details: { estimate: est, maxGas: this.#maxGas },
      });
    }
    return (est * 5n) / 4n;
  }

  /** Runs `f` with the next nonce, one allocation at a time. */
  #withNonce<T>(signal: AbortSignal | undefined, f: (nonce: number) => Promise<T>): Promise<T> {
    const run = this.#nonceLock.then(async () => {
      const pending = num(
        await this.#rpc.call('eth_getTransactionCount', [this.address, 'pending'], signal),
        'eth_getTransactionCount',
      );
      // The last point an abort may stop it: past here the nonce is taken and the signed
      // transaction returned (signing is local), so an abort never leaves a nonce gap behind.
      throwIfAborted(signal);
      const nonce = Math.max(pending, this.#next);
      this.#next = nonce + 1;
      try {
        return await f(nonce);
      } catch (err) {
        if (this.#next === nonce + 1) this.#next = nonce; // nothing signed: the nonce is free again
        throw err;
      }
    });
    this.#nonceLock = run.catch(() => undefined);
    return run;
  }

  async prepare(to: string, amount: bigint, opts?: AbortOptions): Promise<PreparedTransfer> {
    const signal = opts?.signal;
    throwIfAborted(signal);
    const dest = checkEvmAddress(to, 'to');
    const value = checkTransferAmount(amount, this.token);
    if (dest === this.address)
      throw new SettlementError('SETTLEMENT_SAME_ACCOUNT', 'cannot transfer to the same account');
    const target = this.#contract ?? dest;
    const callData = this.#contract ? transferData(dest, value) : '0x';
    const gas = await this.#gas(target, callData, dest, value, signal);
    const fees = await this.#fees(signal);
    return this.#withNonce(signal, async (nonce) => {
      const payload = await this.#account.signTransaction({
        type: 'eip1559',
        chainId: this.chain.id,
        nonce,
        to: target,
        value: this.#contract ? 0n : value,
        ...(this.#contract ? { data: callData } : {}),
        gas,
        ...fees,
      });
      return {
        txid: toHex(keccak_256(fromHex(payload.slice(2)))),
        from: this.address,
        to: dest,
        amount: value,
        nonce,
        payload,
      };
    });
  }

  /**
   * Decodes `tx.payload` and checks it is exactly the transfer `tx` describes, signed by this
   * wallet for this chain (a journal is outside input too). Returns its nonce.
   * @throws {SettlementError} `SETTLEMENT_TX_MISMATCH`
   */
  async #verify(tx: PreparedTransfer): Promise<number> {
    const mismatch = (m: string): never => {
      throw new SettlementError('SETTLEMENT_TX_MISMATCH', m);
    };
    if (
      typeof tx.payload !== 'string' ||
      tx.payload.length > 4096 ||
      !/^0x02(?:[0-9a-f]{2})+$/.test(tx.payload)
    )
      mismatch('not a signed EIP-1559 transaction');
    const payload = tx.payload as `0x${string}`;
    if (toHex(keccak_256(fromHex(payload.slice(2)))) !== checkTxid(tx.txid))
      mismatch('txid does not match the payload');
    let p: ReturnType<ViemLike['parseTransaction']>;
    let signer: string;
    try {
      p = this.#viem.parseTransaction(payload);
      signer = await this.#viem.recoverTransactionAddress({ serializedTransaction: payload });
    } catch (cause) {
      throw new SettlementError('SETTLEMENT_TX_MISMATCH', 'payload does not decode', { cause });
    }
    const dest = checkEvmAddress(tx.to, 'to');
    const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : '');
    let ok =
      p.type === 'eip1559' && p.chainId === this.chain.id && lower(signer) === this.address.toLowerCase();
    ok &&=
      tx.from === this.address &&
      typeof p.nonce === 'number' &&
      (tx.nonce === undefined || tx.nonce === p.nonce);
    if (this.#contract) {
      ok &&= lower(p.to) === this.#contract.toLowerCase() && (p.value ?? 0n) === 0n;
      ok &&= lower(p.data) === transferData(dest, tx.amount);
    } else {
      ok &&=
        lower(p.to) === dest.toLowerCase() &&
        p.value === tx.amount &&
        (p.data === undefined || p.data === '0x');
    }
    if (!ok || typeof p.nonce !== 'number') return mismatch('the payload is not the transfer described');
    return p.nonce;
  }

  async broadcast(tx: PreparedTransfer, opts?: AbortOptions): Promise<void> {
    const signal = opts?.signal;
    throwIfAborted(signal);
    const nonce = await this.#verify(tx);
    try {
      await this.#rpc.call('eth_sendRawTransaction', [tx.payload], signal);
      return;
    } catch (err) {
      if (!(err instanceof SettlementError) || err.code !== 'SETTLEMENT_NODE_ERROR') throw err;
      const message = typeof err.details?.message === 'string' ? err.details.message : err.message;
      const kind = refusal(message);
      if (kind === 'known') return;
      if (kind === 'nonce-used') {
        // Its nonce is taken: by this very transaction (then all is well) or by another one.
        if (await this.#receipt(checkTxid(tx.txid), signal)) return;
        throw new SettlementError('SETTLEMENT_TX_SUPERSEDED', 'another transaction took its nonce', {
          cause: err,
          details: { txid: tx.txid, nonce },
        });
      }
      // Surely not taken by the node: free its nonce if it is the newest, so no gap is left behind.
      if (kind !== 'SETTLEMENT_NODE_ERROR' && this.#next === nonce + 1) this.#next = nonce;
      throw new SettlementError(kind, `broadcast refused: ${message}`.slice(0, 300), {
        cause: err,
        details: { txid: tx.txid, nonce },
      });
    }
  }

  /**
   * True when another transaction took `tx`'s nonce for good: the sender's nonce at the solid block
   * is past `tx`'s nonce (a solid block holds a transaction with that nonce), and `tx` itself has no
   * receipt (were it that transaction, it would). Reads the solid view first, then the receipt.
   * Needs a node that indexes transactions at least back to `tx`'s time (geth prunes its index
   * after `--history.transactions` blocks: use a node that keeps it).
   */
  async provablyDead(tx: PreparedTransfer, opts?: AbortOptions): Promise<boolean> {
    const signal = opts?.signal;
    const nonce = await this.#verify(tx);
    const solid = await this.#solidNumber(signal);
    if (solid < 0) return false;
    const count = num(
      await this.#rpc.call('eth_getTransactionCount', [this.address, hexQty(solid)], signal),
      'eth_getTransactionCount',
    );
    if (count <= nonce) return false;
    return (await this.#receipt(checkTxid(tx.txid), signal)) === undefined;
  }
}
