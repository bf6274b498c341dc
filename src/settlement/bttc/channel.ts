import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type * as Viem from 'viem';
import { SettlementError, type SettlementErrorCode } from '../errors.js';
import { bttkitChannelAbi, bttkitChannelBytecode } from './artifacts.js';

/**
 * `BttcChannels`: a typed client of the BttkitChannel payment-channel contract on BTTC (or any EVM
 * chain), on viem (an optional peer dependency, loaded on first use). See docs/bttc-channel.md.
 * @module
 */

/** A 0x-prefixed hex string. */
export type Hex = `0x${string}`;

/** The zero address: the `token` of a native-BTT channel. */
export const NATIVE_TOKEN: Hex = '0x0000000000000000000000000000000000000000';

/** Largest deposit the contract stores (uint128). */
export const MAX_CHANNEL_DEPOSIT: bigint = (1n << 128n) - 1n;

/** What identifies a channel: its id is `keccak256(abi.encode(payer, payee, token, signer, salt))`. */
export interface BttcChannelParams {
  /** The account that opens and funds the channel. */
  payer: Hex;
  /** The account paid by vouchers. */
  payee: Hex;
  /** An ERC-20 contract, or {@link NATIVE_TOKEN} (the default) for native BTT. */
  token?: Hex;
  /** The address whose key signs the channel's vouchers (may differ from the payer). */
  signer: Hex;
  /** 32 bytes chosen by the payer (0x + 64 hex digits). */
  salt: Hex;
}

/** A signed cumulative voucher (EIP-712 `Voucher(bytes32 channelId,uint256 amount)`). */
export interface BttcVoucher {
  channelId: Hex;
  /** Cumulative amount promised on the channel, in base units. */
  amount: bigint;
  /** 65 bytes r‖s‖v, v ∈ {27, 28}, low s. */
  signature: Hex;
}

/** The EIP-712 domain of a deployed contract (what a voucher signer signs over). */
export interface BttcVoucherDomain {
  name: 'BttkitChannel';
  version: '1';
  chainId: number;
  verifyingContract: Hex;
}

/** A channel's life stage on chain. */
export type BttcChannelStatus = 'none' | 'open' | 'closing' | 'finished';

/** A channel as the contract stores it (a finished channel keeps only its status). */
export interface BttcChannelState {
  id: Hex;
  status: BttcChannelStatus;
  payer: Hex;
  payee: Hex;
  token: Hex;
  signer: Hex;
  /** Locked amount, base units. */
  deposit: bigint;
  /** The highest voucher recorded on chain (capped at the deposit). */
  claimed: bigint;
  /** Unix seconds when a payer's close may be finished (0 unless closing). */
  closesAt: bigint;
}

/** A mined transaction. */
export interface BttcTxResult {
  txHash: Hex;
  gasUsed: bigint;
  blockNumber: bigint;
}

/** The payouts of a close (from the `Closed` event). */
export interface BttcCloseResult extends BttcTxResult {
  toPayee: bigint;
  toPayer: bigint;
  /** Payouts that could not be pushed and wait in `pending` for `withdraw` (recipient, amount). */
  deferred: { to: Hex; token: Hex; amount: bigint }[];
}

/** Options of {@link BttcChannels.connect} and {@link BttcChannels.deploy}. */
export interface BttcChannelsOptions {
  /** JSON-RPC endpoint (http or https). */
  rpcUrl: string;
  /** The account's private key (0x + 64 hex digits): it sends every transaction. */
  privateKey: Hex;
  /** Expected chain id: refused if the node reports another (default: whatever the node says). */
  chainId?: number;
  /** Wait for this many confirmations per transaction (default 1). */
  confirmations?: number;
  /** Give up waiting for a receipt after this many ms (default 120,000). */
  receiptTimeoutMs?: number;
  /** Receipt polling interval in ms (default 250). */
  pollingIntervalMs?: number;
}

/** Options of {@link BttcChannels.deploy}. */
export interface BttcDeployOptions extends Omit<BttcChannelsOptions, 'chainId'> {
  chainId?: number;
  /** Seconds of the payer's challenge period (1 … 365 days; default 86,400). */
  challengePeriod?: number;
}

/** Arguments of {@link BttcChannels.open} (the payer is this client's account). */
export interface BttcOpenArgs {
  payee: Hex;
  /** ERC-20 address, or omitted / {@link NATIVE_TOKEN} for native BTT. */
  token?: Hex;
  /** Voucher signing address (default: this account). */
  signer?: Hex;
  /** 32 random bytes by default. */
  salt?: Hex;
  /** Deposit in base units (1 … 2¹²⁸−1). */
  amount: bigint;
}

/** What {@link BttcChannels.open} returns. */
export interface BttcOpenResult extends BttcTxResult {
  id: Hex;
  salt: Hex;
  /** The ERC-20 `approve` sent first when the allowance was short. */
  approve?: BttcTxResult;
}

/** The part of ERC-20 the client calls (approve before open / top-up). */
const erc20LikeAbi = [
  {
    type: 'function',
    name: 'allowance',
    stateMutability: 'view',
    inputs: [
      { name: 'owner', type: 'address' },
      { name: 'spender', type: 'address' },
    ],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'approve',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'spender', type: 'address' },
      { name: 'value', type: 'uint256' },
    ],
    outputs: [{ name: '', type: 'bool' }],
  },
] as const;

type ViemModule = typeof Viem;
let viemModule: Promise<ViemModule> | undefined;

/** Loads viem once, on first use (an optional peer dependency). */
function loadViem(): Promise<ViemModule> {
  viemModule ??= import('viem').then(
    (m) => m,
    (cause: unknown) => {
      viemModule = undefined;
      throw new SettlementError(
        'SETTLEMENT_VIEM_MISSING',
        'BTTC channels need viem 2.57.20: npm install viem@2.57.20',
        {
          cause,
        },
      );
    },
  );
  return viemModule;
}

const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX_32 = /^0x[0-9a-fA-F]{64}$/;
const HEX_SIG = /^0x[0-9a-fA-F]{130}$/;

function address(value: unknown, what: string): Hex {
  if (typeof value !== 'string' || !HEX_ADDRESS.test(value)) {
    throw new SettlementError('SETTLEMENT_BAD_ADDRESS', `${what} is not a 0x EVM address`);
  }
  return value.toLowerCase() as Hex;
}

function bytes32(value: unknown, what: string): Hex {
  if (typeof value !== 'string' || !HEX_32.test(value)) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', `${what} must be 0x + 64 hex digits`);
  }
  return value.toLowerCase() as Hex;
}

function amountOf(value: unknown, what: string, min = 1n): bigint {
  if (typeof value !== 'bigint')
    throw new SettlementError('SETTLEMENT_BAD_AMOUNT', `${what} must be a bigint`);
  if (value < min || value > (1n << 256n) - 1n) {
    throw new SettlementError('SETTLEMENT_AMOUNT_OUT_OF_RANGE', `${what} out of range`, {
      details: { amount: value.toString() },
    });
  }
  return value;
}

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

/** The contract's custom errors → settlement codes. */
const REVERT_CODES: Record<string, SettlementErrorCode> = {
  ZeroAddress: 'SETTLEMENT_BAD_ADDRESS',
  NotAContract: 'SETTLEMENT_BAD_ADDRESS',
  AmountOutOfRange: 'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
  ValueMismatch: 'SETTLEMENT_BAD_AMOUNT',
  ChannelExists: 'SETTLEMENT_CHANNEL_EXISTS',
  ChannelNotFound: 'SETTLEMENT_CHANNEL_NOT_FOUND',
  ChannelFinished: 'SETTLEMENT_CHANNEL_FINISHED',
  ChannelClosing: 'SETTLEMENT_CHANNEL_CLOSING',
  ChannelNotClosing: 'SETTLEMENT_CHANNEL_NOT_CLOSING',
  ChallengeNotOver: 'SETTLEMENT_CHALLENGE_NOT_OVER',
  NotPayer: 'SETTLEMENT_CHANNEL_FORBIDDEN',
  NotPayee: 'SETTLEMENT_CHANNEL_FORBIDDEN',
  BadSignature: 'SETTLEMENT_VOUCHER_BAD_SIGNATURE',
  WrongSigner: 'SETTLEMENT_VOUCHER_WRONG_SIGNER',
  VoucherNotHigher: 'SETTLEMENT_VOUCHER_NOT_HIGHER',
  TokenTransferFailed: 'SETTLEMENT_TOKEN_TRANSFER_FAILED',
  NothingToWithdraw: 'SETTLEMENT_NOTHING_TO_WITHDRAW',
  BadChallengePeriod: 'SETTLEMENT_BAD_OPTIONS',
  Reentrancy: 'SETTLEMENT_TX_REJECTED',
};

/** Turns whatever viem threw into a {@link SettlementError} (contract reverts by error name). */
function toSettlementError(viem: ViemModule, err: unknown, what: string): SettlementError {
  if (err instanceof SettlementError) return err;
  if (err instanceof viem.BaseError) {
    const reverted = err.walk((e) => e instanceof viem.ContractFunctionRevertedError);
    if (reverted instanceof viem.ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      const code = name === undefined ? undefined : REVERT_CODES[name];
      return new SettlementError(
        code ?? 'SETTLEMENT_TX_REJECTED',
        `${what}: the contract refused (${name ?? reverted.reason ?? 'revert'})`,
        {
          cause: err,
          details: { contractError: name ?? null },
        },
      );
    }
    if (err.walk((e) => e instanceof viem.ContractFunctionZeroDataError)) {
      return new SettlementError('SETTLEMENT_BAD_ADDRESS', `${what}: no contract answered at that address`, {
        cause: err,
      });
    }
    if (err.walk((e) => e instanceof viem.InsufficientFundsError)) {
      return new SettlementError('SETTLEMENT_INSUFFICIENT_BALANCE', `${what}: the account cannot pay`, {
        cause: err,
      });
    }
    if (
      err.walk(
        (e) => e instanceof viem.TimeoutError || e instanceof viem.WaitForTransactionReceiptTimeoutError,
      )
    ) {
      return new SettlementError('SETTLEMENT_TIMEOUT', `${what}: the node did not answer in time`, {
        cause: err,
      });
    }
    if (err.walk((e) => e instanceof viem.HttpRequestError)) {
      return new SettlementError('SETTLEMENT_HTTP_ERROR', `${what}: the node could not be reached`, {
        cause: err,
      });
    }
    return new SettlementError('SETTLEMENT_NODE_ERROR', `${what}: ${err.shortMessage}`, { cause: err });
  }
  return new SettlementError('SETTLEMENT_NODE_ERROR', `${what} failed`, { cause: err });
}

const STATUS: readonly BttcChannelStatus[] = ['none', 'open', 'closing', 'finished'];

interface Clients {
  viem: ViemModule;
  publicClient: Viem.PublicClient;
  /** For simulations: no retries (a revert is an answer, and hardhat reports it as -32603). */
  simulator: Viem.PublicClient;
  walletClient: Viem.WalletClient<Viem.Transport, Viem.Chain, Viem.Account>;
  chain: Viem.Chain;
}

async function makeClients(opts: BttcChannelsOptions): Promise<Clients> {
  const viem = await loadViem();
  const { privateKeyToAccount } = await import('viem/accounts');
  if (typeof opts.rpcUrl !== 'string' || !/^https?:\/\//.test(opts.rpcUrl)) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'rpcUrl must be an http(s) URL');
  }
  if (typeof opts.privateKey !== 'string' || !HEX_32.test(opts.privateKey)) {
    throw new SettlementError('SETTLEMENT_BAD_OPTIONS', 'privateKey must be 0x + 64 hex digits');
  }
  const transport = viem.http(opts.rpcUrl, { timeout: 30_000, retryCount: 2 });
  const probe = viem.createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (err) {
    throw toSettlementError(viem, err, 'eth_chainId');
  }
  if (opts.chainId !== undefined && opts.chainId !== chainId) {
    throw new SettlementError(
      'SETTLEMENT_BAD_OPTIONS',
      `the node is on chain ${chainId}, not ${opts.chainId}`,
      {
        details: { expected: opts.chainId, actual: chainId },
      },
    );
  }
  const chain = viem.defineChain({
    id: chainId,
    name: `EVM chain ${chainId}`,
    nativeCurrency: { name: 'BitTorrent', symbol: 'BTT', decimals: 18 },
    rpcUrls: { default: { http: [opts.rpcUrl] } },
  });
  const pollingInterval = opts.pollingIntervalMs ?? 250;
  const publicClient = viem.createPublicClient({ chain, transport, pollingInterval }) as Viem.PublicClient;
  const simulator = viem.createPublicClient({
    chain,
    transport: viem.http(opts.rpcUrl, { timeout: 30_000, retryCount: 0 }),
  }) as Viem.PublicClient;
  const walletClient = viem.createWalletClient({
    chain,
    transport,
    account: privateKeyToAccount(opts.privateKey),
    pollingInterval,
  });
  return { viem, publicClient, simulator, walletClient, chain };
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
  readonly #c: Clients;
  readonly #confirmations: number;
  readonly #receiptTimeoutMs: number;

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
    const approve = token === NATIVE_TOKEN ? undefined : await this.#ensureAllowance(token, amount);
    const tx = await this.#write(
      'open',
      [payee, token, signer, salt, amount],
      token === NATIVE_TOKEN ? amount : 0n,
    );
    return { ...tx, id, salt, ...(approve ? { approve } : {}) };
  }

  /** Adds `amount` to an open channel (payer only; approves the token first when needed). */
  async topUp(channelId: Hex, amount: bigint): Promise<BttcTxResult & { approve?: BttcTxResult }> {
    const id = bytes32(channelId, 'channelId');
    const value = amountOf(amount, 'amount');
    const state = await this.channel(id);
    const native = state.token === NATIVE_TOKEN;
    const approve =
      native || state.status === 'none' ? undefined : await this.#ensureAllowance(state.token, value);
    const tx = await this.#write('topUp', [id, value], native ? value : 0n);
    return { ...tx, ...(approve ? { approve } : {}) };
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
    let hash: Hex;
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
      hash = await walletClient.writeContract(request as unknown as Viem.WriteContractParameters);
    } catch (err) {
      throw toSettlementError(viem, err, functionName);
    }
    const receipt = await waitReceipt(
      this.#c,
      hash,
      this.#confirmations,
      this.#receiptTimeoutMs,
      functionName,
    );
    return { txHash: hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber, logs: receipt.logs };
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
    let hash: Hex;
    try {
      hash = await walletClient.writeContract({
        address: token,
        abi: erc20LikeAbi,
        functionName: 'approve',
        args: [this.address, amount],
      });
    } catch (err) {
      throw toSettlementError(viem, err, 'approve');
    }
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
