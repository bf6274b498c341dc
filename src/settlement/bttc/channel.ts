import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type * as Viem from 'viem';
import { SettlementError } from '../errors.js';
import {
  address,
  amountOf,
  bytes32,
  type Clients,
  erc20LikeAbi,
  HEX_SIG,
  makeClients,
  STATUS,
  toSettlementError,
} from './_evm.js';
import { bttkitChannelAbi, bttkitChannelBytecode } from './artifacts.js';
import {
  type BttcChannelParams,
  type BttcChannelState,
  type BttcChannelsOptions,
  type BttcCloseResult,
  type BttcDeployOptions,
  type BttcOpenArgs,
  type BttcOpenResult,
  type BttcTxResult,
  type BttcVoucher,
  type BttcVoucherDomain,
  type Hex,
  MAX_CHANNEL_DEPOSIT,
  NATIVE_TOKEN,
} from './channel-types.js';

/**
 * `BttcChannels`: a typed client of the BttkitChannel payment-channel contract on BTTC (or any EVM
 * chain), on viem (an optional peer dependency, loaded on first use). See docs/bttc-channel.md.
 * @module
 */

/**
 * The channel id the contract gives `params` — `keccak256(abi.encode(payer, payee, token, signer,
 * salt))` — computed locally (no node), so the payer knows it before opening.
 */
export function bttcChannelId(params: BttcChannelParams): Hex {
  const buf = new Uint8Array(160);
  const words = [
    address(params.payer, 'payer'),
    address(params.payee, 'payee'),
    address(params.token ?? NATIVE_TOKEN, 'token'),
    address(params.signer, 'signer'),
  ];
  words.forEach((a, i) => {
    buf.set(hexToBytes(a.slice(2)), i * 32 + 12);
  });
  buf.set(hexToBytes(bytes32(params.salt, 'salt').slice(2)), 128);
  return `0x${bytesToHex(keccak_256(buf))}`;
}

/**
 * A client of one deployed BttkitChannel contract, acting as one account (the private key given).
 * Every write waits for its receipt and returns the tx hash and gas used; a revert becomes a
 * {@link SettlementError} whose code names the contract's custom error (`details.contractError`).
 *
 * @example
 * ```ts
 * const payer = await BttcChannels.connect({ rpcUrl, privateKey, address: contract });
 * const { id } = await payer.open({ payee, amount: 10n ** 18n });
 * // … the payee later: await payeeClient.close({ channelId: id, amount, signature });
 * ```
 */
export class BttcChannels {
  /** The contract's address. */
  readonly address: Hex;
  /** This client's account (sender of every transaction). */
  readonly account: Hex;
  /** The chain id the node reports. */
  readonly chainId: number;
  /** The deployment transaction, when this client deployed the contract. */
  readonly deployTx: BttcTxResult | undefined;
  /** The opens and top-ups of this account, one at a time ({@link #spending}). */
  #spendQueue: Promise<void> = Promise.resolve();
  readonly #c: Clients;
  readonly #confirmations: number;
  readonly #receiptTimeoutMs: number;
  /** The last send of this account: sends go one after another (each takes the next nonce). */
  #sending: Promise<unknown> = Promise.resolve();

  private constructor(c: Clients, address: Hex, opts: BttcChannelsOptions, deployTx?: BttcTxResult) {
    this.#c = c;
    this.address = address;
    this.account = c.walletClient.account.address.toLowerCase() as Hex;
    this.chainId = c.chain.id;
    this.deployTx = deployTx;
    this.#confirmations = opts.confirmations ?? 1;
    this.#receiptTimeoutMs = opts.receiptTimeoutMs ?? 120_000;
  }

  /** A client of the contract at `address` (checked to hold code). */
  static async connect(opts: BttcChannelsOptions & { address: Hex }): Promise<BttcChannels> {
    const addr = address(opts.address, 'address');
    const c = await makeClients(opts);
    let code: Hex | undefined;
    try {
      code = await c.publicClient.getCode({ address: addr });
    } catch (err) {
      throw toSettlementError(c.viem, err, 'eth_getCode');
    }
    if (code === undefined || code === '0x') {
      throw new SettlementError('SETTLEMENT_BAD_ADDRESS', `no contract at ${addr}`);
    }
    return new BttcChannels(c, addr, opts);
  }

  /** Deploys a new BttkitChannel contract (from this package's compiled artifacts) and connects. */
  static async deploy(opts: BttcDeployOptions): Promise<BttcChannels> {
    const period = opts.challengePeriod ?? 86_400;
    if (!Number.isSafeInteger(period) || period < 1 || period > 365 * 86_400) {
      throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'challengePeriod must be 1 … 31,536,000 seconds');
    }
    const c = await makeClients(opts);
    let hash: Hex;
    try {
      hash = await c.walletClient.deployContract({
        abi: bttkitChannelAbi,
        bytecode: bttkitChannelBytecode,
        args: [BigInt(period)],
      });
    } catch (err) {
      throw toSettlementError(c.viem, err, 'deploy');
    }
    const receipt = await waitReceipt(
      c,
      hash,
      opts.confirmations ?? 1,
      opts.receiptTimeoutMs ?? 120_000,
      'deploy',
    );
    if (!receipt.contractAddress) {
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'deploy: the receipt names no contract');
    }
    const tx = { txHash: hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber };
    return new BttcChannels(c, receipt.contractAddress.toLowerCase() as Hex, opts, tx);
  }

  /** The id `open` gives `params` (pure, local). */
  static channelId(params: BttcChannelParams): Hex {
    return bttcChannelId(params);
  }

  /** The id `open` gives `params` (pure, local). */
  channelId(params: BttcChannelParams): Hex {
    return bttcChannelId(params);
  }

  /** This contract's EIP-712 domain (for voucher signers). */
  get voucherDomain(): BttcVoucherDomain {
    return { name: 'BttkitChannel', version: '1', chainId: this.chainId, verifyingContract: this.address };
  }

  /**
   * Opens a channel from this account. For an ERC-20 channel the contract is approved for the
   * deposit first when the allowance is short (that `approve` is returned too).
   */
  async open(args: BttcOpenArgs): Promise<BttcOpenResult> {
    const payee = address(args.payee, 'payee');
    const token = address(args.token ?? NATIVE_TOKEN, 'token');
    const signer = address(args.signer ?? this.account, 'signer');
    const salt = args.salt === undefined ? randomSalt() : bytes32(args.salt, 'salt');
    const amount = amountOf(args.amount, 'amount');
    if (amount > MAX_CHANNEL_DEPOSIT) {
      throw new SettlementError('SETTLEMENT_AMOUNT_OUT_OF_RANGE', 'a deposit above 2^128 - 1');
    }
    const id = bttcChannelId({ payer: this.account, payee, token, signer, salt });
    return this.#spending(async () => {
      const approve = token === NATIVE_TOKEN ? undefined : await this.#ensureAllowance(token, amount);
      const tx = await this.#write(
        'open',
        [payee, token, signer, salt, amount],
        token === NATIVE_TOKEN ? amount : 0n,
      );
      return { ...tx, id, salt, ...(approve ? { approve } : {}) };
    });
  }

  /** Adds `amount` to an open channel (payer only; approves the token first when needed). */
  async topUp(channelId: Hex, amount: bigint): Promise<BttcTxResult & { approve?: BttcTxResult }> {
    const id = bytes32(channelId, 'channelId');
    const value = amountOf(amount, 'amount');
    const state = await this.channel(id);
    const native = state.token === NATIVE_TOKEN;
    return this.#spending(async () => {
      const approve =
        native || state.status === 'none' ? undefined : await this.#ensureAllowance(state.token, value);
      const tx = await this.#write('topUp', [id, value], native ? value : 0n);
      return { ...tx, ...(approve ? { approve } : {}) };
    });
  }

  /**
   * Runs the opens and top-ups of this account one after another: each approves exactly what it
   * spends, so two at once would overwrite each other's allowance and one `transferFrom` revert.
   */
  #spending<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#spendQueue.then(run, run);
    this.#spendQueue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** The payee closes with `voucher` (the newest): final settlement. Amount 0 needs no signature. */
  async close(voucher: BttcVoucher): Promise<BttcCloseResult> {
    const v = checkVoucher(voucher, true);
    return this.#closing(await this.#write('close', [v.channelId, v.amount, v.signature]));
  }

  /** The payer starts a unilateral close; returns when it may be finished (unix seconds). */
  async startClose(channelId: Hex): Promise<BttcTxResult & { closesAt: bigint }> {
    const id = bytes32(channelId, 'channelId');
    const tx = await this.#write('startClose', [id]);
    const logs = this.#c.viem.parseEventLogs({
      abi: bttkitChannelAbi,
      logs: tx.logs,
      eventName: 'CloseStarted',
    });
    const closesAt = logs[0]?.args.closesAt;
    if (closesAt === undefined)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'no CloseStarted event');
    return { txHash: tx.txHash, gasUsed: tx.gasUsed, blockNumber: tx.blockNumber, closesAt };
  }

  /** Records a voucher on chain (anyone; must beat the recorded one): the challenge during a close. */
  async submitVoucher(voucher: BttcVoucher): Promise<BttcTxResult> {
    const v = checkVoucher(voucher, false);
    const tx = await this.#write('submitVoucher', [v.channelId, v.amount, v.signature]);
    return { txHash: tx.txHash, gasUsed: tx.gasUsed, blockNumber: tx.blockNumber };
  }

  /** Finishes a payer's close after the challenge period (anyone may call it). */
  async finishClose(channelId: Hex): Promise<BttcCloseResult> {
    return this.#closing(await this.#write('finishClose', [bytes32(channelId, 'channelId')]));
  }

  /** Pulls this account's deferred payouts of `token` (default native) to `to` (default itself). */
  async withdraw(token: Hex = NATIVE_TOKEN, to?: Hex): Promise<BttcTxResult> {
    const tx = await this.#write('withdraw', [address(token, 'token'), address(to ?? this.account, 'to')]);
    return { txHash: tx.txHash, gasUsed: tx.gasUsed, blockNumber: tx.blockNumber };
  }

  /** Deferred payouts waiting for `recipient` in `token` (default native). */
  async pending(recipient: Hex, token: Hex = NATIVE_TOKEN): Promise<bigint> {
    return this.#read('pending', [address(recipient, 'recipient'), address(token, 'token')]);
  }

  /** The challenge period in seconds. */
  async challengePeriod(): Promise<bigint> {
    return this.#read('challengePeriod', []);
  }

  /** A channel's state as stored on chain (status `none` for an id never opened). */
  async channel(channelId: Hex): Promise<BttcChannelState> {
    const id = bytes32(channelId, 'channelId');
    const [payer, payee, token, signer, deposit, claimed, closesAt, status] = await this.#read('channel', [
      id,
    ]);
    const s = STATUS[status];
    if (s === undefined)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', `unknown channel status ${status}`);
    return {
      id,
      status: s,
      payer: payer.toLowerCase() as Hex,
      payee: payee.toLowerCase() as Hex,
      token: token.toLowerCase() as Hex,
      signer: signer.toLowerCase() as Hex,
      deposit,
      claimed,
      closesAt,
    };
  }

  async #read<N extends Viem.ContractFunctionName<typeof bttkitChannelAbi, 'view' | 'pure'>>(
    functionName: N,
    args: Viem.ContractFunctionArgs<typeof bttkitChannelAbi, 'view' | 'pure', N>,
  ): Promise<Viem.ContractFunctionReturnType<typeof bttkitChannelAbi, 'view' | 'pure', N>> {
    try {
      return await this.#c.publicClient.readContract({
        address: this.address,
        abi: bttkitChannelAbi,
        functionName,
        args,
      } as Viem.ReadContractParameters<typeof bttkitChannelAbi, N>);
    } catch (err) {
      throw toSettlementError(this.#c.viem, err, String(functionName));
    }
  }

  async #write(
    functionName: Viem.ContractFunctionName<typeof bttkitChannelAbi, 'nonpayable' | 'payable'>,
    args: readonly unknown[],
    value = 0n,
  ): Promise<BttcTxResult & { logs: Viem.Log[] }> {
    const { simulator, walletClient, viem } = this.#c;
    const hash = await this.#send(async () => {
      try {
        // Simulate first: a revert is reported by its custom error name, nothing is sent.
        const { request } = await simulator.simulateContract({
          address: this.address,
          abi: bttkitChannelAbi,
          functionName,
          args,
          account: walletClient.account,
          ...(value > 0n ? { value } : {}),
        } as unknown as Viem.SimulateContractParameters);
        return await walletClient.writeContract(request as unknown as Viem.WriteContractParameters);
      } catch (err) {
        throw toSettlementError(viem, err, functionName);
      }
    });
    const receipt = await waitReceipt(
      this.#c,
      hash,
      this.#confirmations,
      this.#receiptTimeoutMs,
      functionName,
    );
    return { txHash: hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber, logs: receipt.logs };
  }

  /**
   * Runs `send` (simulate, sign, send) after this client's previous send has reached the node:
   * concurrent writes from one account would otherwise take the same pending nonce and all but
   * one be refused. Receipts are awaited outside, in parallel.
   */
  #send(send: () => Promise<Hex>): Promise<Hex> {
    const run = this.#sending.then(send, send);
    this.#sending = run.catch(() => undefined);
    return run;
  }

  #closing(tx: BttcTxResult & { logs: Viem.Log[] }): BttcCloseResult {
    const { viem } = this.#c;
    const mine = tx.logs.filter((l) => l.address.toLowerCase() === this.address);
    const closed = viem.parseEventLogs({ abi: bttkitChannelAbi, logs: mine, eventName: 'Closed' })[0];
    if (!closed) throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'no Closed event in the receipt');
    const deferred = viem
      .parseEventLogs({ abi: bttkitChannelAbi, logs: mine, eventName: 'PaymentDeferred' })
      .map((l) => ({
        to: l.args.to.toLowerCase() as Hex,
        token: l.args.token.toLowerCase() as Hex,
        amount: l.args.amount,
      }));
    return {
      txHash: tx.txHash,
      gasUsed: tx.gasUsed,
      blockNumber: tx.blockNumber,
      toPayee: closed.args.toPayee,
      toPayer: closed.args.toPayer,
      deferred,
    };
  }

  async #ensureAllowance(token: Hex, amount: bigint): Promise<BttcTxResult | undefined> {
    const { publicClient, walletClient, viem } = this.#c;
    let allowance: bigint;
    try {
      allowance = await publicClient.readContract({
        address: token,
        abi: erc20LikeAbi,
        functionName: 'allowance',
        args: [this.account, this.address],
      });
    } catch (err) {
      throw toSettlementError(viem, err, 'allowance');
    }
    if (allowance >= amount) return undefined;
    const hash = await this.#send(async () => {
      try {
        return await walletClient.writeContract({
          address: token,
          abi: erc20LikeAbi,
          functionName: 'approve',
          args: [this.address, amount],
        });
      } catch (err) {
        throw toSettlementError(viem, err, 'approve');
      }
    });
    const receipt = await waitReceipt(this.#c, hash, this.#confirmations, this.#receiptTimeoutMs, 'approve');
    return { txHash: hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber };
  }
}

async function waitReceipt(
  c: Clients,
  hash: Hex,
  confirmations: number,
  timeout: number,
  what: string,
): Promise<Viem.TransactionReceipt> {
  let receipt: Viem.TransactionReceipt;
  try {
    receipt = await c.publicClient.waitForTransactionReceipt({ hash, confirmations, timeout });
  } catch (err) {
    throw toSettlementError(c.viem, err, `${what}: receipt`);
  }
  if (receipt.status !== 'success') {
    throw new SettlementError('SETTLEMENT_TX_FAILED', `${what}: the transaction reverted on chain`, {
      details: { txHash: hash },
    });
  }
  return receipt;
}

function checkVoucher(
  v: BttcVoucher,
  zeroAllowed: boolean,
): { channelId: Hex; amount: bigint; signature: Hex } {
  if (typeof v !== 'object' || v === null)
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'a voucher object');
  const channelId = bytes32(v.channelId, 'channelId');
  const amount = amountOf(v.amount, 'amount', zeroAllowed ? 0n : 1n);
  let signature: Hex;
  if (amount === 0n && (v.signature === undefined || v.signature === '0x')) signature = '0x';
  else if (typeof v.signature === 'string' && HEX_SIG.test(v.signature))
    signature = v.signature.toLowerCase() as Hex;
  else
    throw new SettlementError('SETTLEMENT_VOUCHER_BAD_SIGNATURE', 'a voucher signature is 65 bytes of hex');
  return { channelId, amount, signature };
}

function randomSalt(): Hex {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return `0x${bytesToHex(b)}`;
}
