/**
 * The BttkitChannel contract and its BttcChannels client against a real local EVM node (hardhat
 * 2.x, chain id 199): native BTT and ERC-20 channels, every balance checked on chain
 * (eth_getBalance / balanceOf, with the gas each side paid). Vouchers are signed with viem's
 * `signTypedData` (an implementation independent of bttkit's own signer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  encodeErrorResult,
  encodeFunctionData,
  type Hex,
  http,
  type PublicClient,
  parseEther,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blockingTokenAbi,
  blockingTokenBytecode,
  feeTokenAbi,
  feeTokenBytecode,
  hostilePayeeAbi,
  hostilePayeeBytecode,
  noReturnTokenAbi,
  noReturnTokenBytecode,
  rejectingPayeeAbi,
  rejectingPayeeBytecode,
  testTokenAbi,
  testTokenBytecode,
} from '../../../src/settlement/bttc/artifacts.js';
import {
  BttcChannels,
  type BttcVoucher,
  bttcChannelId,
  bttkitChannelAbi,
  NATIVE_TOKEN,
  SettlementError,
} from '../../../src/settlement/index.js';
import { type EvmNode, startEvmNode } from '../../helpers/evm-node.js';
import { Procs } from '../../helpers/procs.js';

const KEYS = {
  payer: `0x${'11'.repeat(32)}`,
  payee: `0x${'22'.repeat(32)}`,
  signer: `0x${'33'.repeat(32)}`,
  other: `0x${'44'.repeat(32)}`,
} as const satisfies Record<string, Hex>;
const ADDR = {
  payer: privateKeyToAccount(KEYS.payer).address.toLowerCase() as Hex,
  payee: privateKeyToAccount(KEYS.payee).address.toLowerCase() as Hex,
  signer: privateKeyToAccount(KEYS.signer).address.toLowerCase() as Hex,
  other: privateKeyToAccount(KEYS.other).address.toLowerCase() as Hex,
};
const PERIOD = 3600;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const ETH = 10n ** 18n;

const procs = new Procs();
let dir: string;
let node: EvmNode;
let pub: PublicClient;
let payer: BttcChannels;
let payee: BttcChannels;
let other: BttcChannels;
let contract: Hex;
/** Gas used per operation, measured in this run (written to docs/bttc-channel.md by hand). */
const gas = new Map<string, bigint>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bttkit-bttc-channel-'));
  node = await startEvmNode(procs, dir, {
    accounts: Object.values(KEYS).map((privateKey) => ({ privateKey, balance: 1000n * ETH })),
  });
  pub = createPublicClient({ transport: http(node.url) });
  payer = await BttcChannels.deploy({
    rpcUrl: node.url,
    privateKey: KEYS.payer,
    challengePeriod: PERIOD,
    chainId: 199,
  });
  contract = payer.address;
  payee = await BttcChannels.connect({ rpcUrl: node.url, privateKey: KEYS.payee, address: contract });
  other = await BttcChannels.connect({ rpcUrl: node.url, privateKey: KEYS.other, address: contract });
  if (payer.deployTx) gas.set('deploy', payer.deployTx.gasUsed);
});

afterAll(() => {
  procs.killAll();
  rmSync(dir, { recursive: true, force: true });
  if (gas.size > 0) {
    const rows = [...gas].map(([op, g]) => `| ${op} | ${g} |`).join('\n');
    console.log(
      `gas used (hardhat node, cancun; solc 0.8.37, runs 1000, paris):\n| operation | gas |\n|---|---|\n${rows}`,
    );
  }
});

// ----------------------------------------------------------------------------------------------
// helpers

function salt(): Hex {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return `0x${Buffer.from(b).toString('hex')}`;
}

async function sign(
  channelId: Hex,
  amount: bigint,
  opts: { key?: Hex; chainId?: number; verifyingContract?: Hex } = {},
): Promise<BttcVoucher> {
  const signature = await privateKeyToAccount(opts.key ?? KEYS.signer).signTypedData({
    domain: {
      name: 'BttkitChannel',
      version: '1',
      chainId: opts.chainId ?? 199,
      verifyingContract: opts.verifyingContract ?? contract,
    },
    types: {
      Voucher: [
        { name: 'channelId', type: 'bytes32' },
        { name: 'amount', type: 'uint256' },
      ],
    },
    primaryType: 'Voucher',
    message: { channelId, amount },
  });
  return { channelId, amount, signature };
}

const balance = (address: Hex): Promise<bigint> => pub.getBalance({ address });

async function tokenBalance(token: Hex, address: Hex): Promise<bigint> {
  return pub.readContract({ address: token, abi: testTokenAbi, functionName: 'balanceOf', args: [address] });
}

/** Wei a transaction cost its sender. */
async function fee(tx: { txHash: Hex } | undefined): Promise<bigint> {
  if (!tx) return 0n;
  const r = await pub.getTransactionReceipt({ hash: tx.txHash });
  return r.gasUsed * r.effectiveGasPrice;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SettlementError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Deploys a contract from the payer's account (test tokens, the rejecting payee). */
async function deployRaw(abi: readonly unknown[], bytecode: Hex, args: readonly unknown[]): Promise<Hex> {
  const wallet = createWalletClient({ transport: http(node.url), account: privateKeyToAccount(KEYS.payer) });
  const hash = await wallet.deployContract({ abi, bytecode, args, chain: null } as Parameters<
    typeof wallet.deployContract
  >[0]);
  const r = await pub.waitForTransactionReceipt({ hash });
  if (!r.contractAddress) throw new Error('no contract address');
  return r.contractAddress.toLowerCase() as Hex;
}

async function passTime(seconds: number): Promise<void> {
  await node.increaseTime(seconds);
  await node.mine(1);
}

// ----------------------------------------------------------------------------------------------

describe('BttkitChannel: native BTT', () => {
  it('the channel id is computed locally exactly as the contract computes it', async () => {
    const params = {
      payer: ADDR.payer,
      payee: ADDR.payee,
      token: NATIVE_TOKEN,
      signer: ADDR.signer,
      salt: salt(),
    };
    const onChain = await pub.readContract({
      address: contract,
      abi: bttkitChannelAbi,
      functionName: 'channelId',
      args: [params.payer, params.payee, params.token, params.signer, params.salt],
    });
    expect(bttcChannelId(params)).toBe(onChain);
    expect(payer.channelId(params)).toBe(onChain);
    const opened = await payer.open({
      payee: ADDR.payee,
      signer: ADDR.signer,
      salt: params.salt,
      amount: 1n,
    });
    expect(opened.id).toBe(onChain);
  });

  it('open, pay with vouchers, the payee closes with the newest one: balances on chain', async () => {
    const deposit = parseEther('10');
    const payer0 = await balance(ADDR.payer);
    const payee0 = await balance(ADDR.payee);
    const contract0 = await balance(contract);

    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: deposit });
    gas.set('open (native)', opened.gasUsed);
    expect(await balance(contract)).toBe(contract0 + deposit);
    expect(await balance(ADDR.payer)).toBe(payer0 - deposit - (await fee(opened)));
    const state = await payer.channel(opened.id);
    expect(state).toMatchObject({
      status: 'open',
      payer: ADDR.payer,
      payee: ADDR.payee,
      signer: ADDR.signer,
    });
    expect(state.deposit).toBe(deposit);

    // Pay: three cumulative vouchers; the payee keeps the newest.
    const vouchers = [];
    for (const amount of [parseEther('1'), parseEther('2.5'), parseEther('4')])
      vouchers.push(await sign(opened.id, amount));
    const newest = vouchers[2];
    if (!newest) throw new Error('no voucher');

    const closed = await payee.close(newest);
    gas.set('close (payee, native)', closed.gasUsed);
    expect(closed.toPayee).toBe(parseEther('4'));
    expect(closed.toPayer).toBe(parseEther('6'));
    expect(closed.deferred).toEqual([]);
    expect(await balance(ADDR.payee)).toBe(payee0 + parseEther('4') - (await fee(closed)));
    expect(await balance(ADDR.payer)).toBe(payer0 - deposit - (await fee(opened)) + parseEther('6'));
    expect(await balance(contract)).toBe(contract0);
    const after = await payer.channel(opened.id);
    expect(after.status).toBe('finished');
    expect(after.deposit).toBe(0n);
  });

  it('an attempt to close twice is refused, and the id can never be opened again', async () => {
    const s = salt();
    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, salt: s, amount: ETH });
    const v = await sign(opened.id, ETH / 2n);
    await payee.close(v);
    const payee0 = await balance(ADDR.payee);
    const contract0 = await balance(contract);
    expect(await codeOf(payee.close(v))).toBe('SETTLEMENT_CHANNEL_FINISHED');
    expect(await codeOf(payee.close(await sign(opened.id, ETH)))).toBe('SETTLEMENT_CHANNEL_FINISHED');
    expect(await codeOf(payer.startClose(opened.id))).toBe('SETTLEMENT_CHANNEL_FINISHED');
    expect(await codeOf(payee.submitVoucher(await sign(opened.id, ETH)))).toBe('SETTLEMENT_CHANNEL_FINISHED');
    expect(await codeOf(payer.open({ payee: ADDR.payee, signer: ADDR.signer, salt: s, amount: ETH }))).toBe(
      'SETTLEMENT_CHANNEL_EXISTS',
    );
    expect(await balance(ADDR.payee)).toBe(payee0);
    expect(await balance(contract)).toBe(contract0);
  });

  it('top-up: payer only, adds to the deposit; a voucher above the deposit is capped', async () => {
    const contract0 = await balance(contract);
    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: ETH });
    const payer0 = await balance(ADDR.payer);
    const topped = await payer.topUp(opened.id, ETH / 2n);
    gas.set('topUp (native)', topped.gasUsed);
    expect((await payer.channel(opened.id)).deposit).toBe((3n * ETH) / 2n);
    expect(await balance(contract)).toBe(contract0 + (3n * ETH) / 2n);
    expect(await balance(ADDR.payer)).toBe(payer0 - ETH / 2n - (await fee(topped)));
    expect(await codeOf(other.topUp(opened.id, ETH))).toBe('SETTLEMENT_CHANNEL_FORBIDDEN');

    const payee0 = await balance(ADDR.payee);
    const closed = await payee.close(await sign(opened.id, 5n * ETH));
    expect(closed.toPayee).toBe((3n * ETH) / 2n);
    expect(closed.toPayer).toBe(0n);
    expect(await balance(ADDR.payee)).toBe(payee0 + (3n * ETH) / 2n - (await fee(closed)));
    expect(await balance(contract)).toBe(contract0);
  });

  it('a stale-voucher close is challenged and corrected: the payout uses the newest voucher', async () => {
    const deposit = 10n * ETH;
    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: deposit });
    const stale = await sign(opened.id, 3n * ETH);
    const newest = await sign(opened.id, 7n * ETH);
    const payer0 = await balance(ADDR.payer);
    const payee0 = await balance(ADDR.payee);
    const contract0 = await balance(contract);

    // The payer's side records the stale voucher and starts a unilateral close.
    const recorded = await payer.submitVoucher(stale);
    gas.set('submitVoucher (first)', recorded.gasUsed);
    const started = await payer.startClose(opened.id);
    gas.set('startClose', started.gasUsed);
    const block = await pub.getBlock({ blockNumber: started.blockNumber });
    expect(started.closesAt).toBe(block.timestamp + BigInt(PERIOD));
    expect((await payer.channel(opened.id)).status).toBe('closing');
    expect(await codeOf(payer.finishClose(opened.id))).toBe('SETTLEMENT_CHALLENGE_NOT_OVER');
    expect(await codeOf(payer.topUp(opened.id, ETH))).toBe('SETTLEMENT_CHANNEL_CLOSING');

    // The payee challenges within the period with the newer voucher: it replaces the stale one.
    const challenge = await payee.submitVoucher(newest);
    gas.set('submitVoucher (challenge)', challenge.gasUsed);
    expect((await payer.channel(opened.id)).claimed).toBe(7n * ETH);
    // The stale one cannot come back.
    expect(await codeOf(payer.submitVoucher(stale))).toBe('SETTLEMENT_VOUCHER_NOT_HIGHER');

    await passTime(PERIOD);
    expect(await codeOf(payee.submitVoucher(await sign(opened.id, 8n * ETH)))).toBe(
      'SETTLEMENT_CHANNEL_CLOSING',
    );
    const finished = await payer.finishClose(opened.id);
    gas.set('finishClose', finished.gasUsed);
    expect(finished.toPayee).toBe(7n * ETH);
    expect(finished.toPayer).toBe(3n * ETH);
    const payerFees = (await fee(recorded)) + (await fee(started)) + (await fee(finished));
    expect(await balance(ADDR.payer)).toBe(payer0 + 3n * ETH - payerFees);
    expect(await balance(ADDR.payee)).toBe(payee0 + 7n * ETH - (await fee(challenge)));
    expect(await balance(contract)).toBe(contract0 - deposit);
    expect(await codeOf(payer.finishClose(opened.id))).toBe('SETTLEMENT_CHANNEL_FINISHED');
  });

  it('during the challenge period the payee can also close with the newest voucher (full settlement)', async () => {
    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: 4n * ETH });
    await payer.startClose(opened.id);
    expect(await codeOf(payer.startClose(opened.id))).toBe('SETTLEMENT_CHANNEL_CLOSING');
    const payee0 = await balance(ADDR.payee);
    const closed = await payee.close(await sign(opened.id, 3n * ETH));
    gas.set('close (payee, during challenge)', closed.gasUsed);
    expect(closed.toPayee).toBe(3n * ETH);
    expect(closed.toPayer).toBe(ETH);
    expect(await balance(ADDR.payee)).toBe(payee0 + 3n * ETH - (await fee(closed)));
  });

  it('payer timeout close: the payee disappears, the payer gets everything back after the period', async () => {
    const deposit = 5n * ETH;
    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: deposit });
    const payer0 = await balance(ADDR.payer);
    const payee0 = await balance(ADDR.payee);
    const contract0 = await balance(contract);
    const started = await payer.startClose(opened.id);
    await passTime(PERIOD - 5);
    expect(await codeOf(payer.finishClose(opened.id))).toBe('SETTLEMENT_CHALLENGE_NOT_OVER');
    await passTime(10);
    // Anyone may finish it; the money goes to the channel's parties only.
    const finished = await other.finishClose(opened.id);
    expect(finished.toPayer).toBe(deposit);
    expect(finished.toPayee).toBe(0n);
    expect(await balance(ADDR.payer)).toBe(payer0 + deposit - (await fee(started)));
    expect(await balance(ADDR.payee)).toBe(payee0);
    expect(await balance(contract)).toBe(contract0 - deposit);
  });

  it('only the payee closes, only the payer starts a close; unknown ids are refused', async () => {
    const opened = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: ETH });
    const v = await sign(opened.id, ETH);
    expect(await codeOf(payer.close(v))).toBe('SETTLEMENT_CHANNEL_FORBIDDEN');
    expect(await codeOf(other.close(v))).toBe('SETTLEMENT_CHANNEL_FORBIDDEN');
    expect(await codeOf(payee.startClose(opened.id))).toBe('SETTLEMENT_CHANNEL_FORBIDDEN');
    expect(await codeOf(payer.finishClose(opened.id))).toBe('SETTLEMENT_CHANNEL_NOT_CLOSING');
    expect(await codeOf(payee.close({ ...v, channelId: salt() }))).toBe('SETTLEMENT_CHANNEL_NOT_FOUND');
    expect((await payer.channel(salt())).status).toBe('none');
    await payee.close(v);
  });

  it('concurrent writes of one client all go through (each send takes the next nonce)', async () => {
    // The Speed rail opens a channel per provider and closes a channel per requester at once.
    const opened = await Promise.all(
      [1n, 2n, 3n, 4n].map((n) => payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: n * ETH })),
    );
    expect(new Set(opened.map((o) => o.id)).size).toBe(4);
    for (const o of opened) expect((await payer.channel(o.id)).status).toBe('open');
    const vouchers = await Promise.all(opened.map((o, i) => sign(o.id, BigInt(i + 1) * (ETH / 10n))));
    const closed = await Promise.all(vouchers.map((v) => payee.close(v)));
    expect(closed.map((c) => c.toPayee)).toEqual([1n, 2n, 3n, 4n].map((n) => (n * ETH) / 10n));
    for (const o of opened) expect((await payer.channel(o.id)).status).toBe('finished');
  });
});

describe('BttkitChannel: vouchers that must be refused (balances unchanged)', () => {
  let id: Hex;
  let payee0: bigint;
  let contract0: bigint;

  beforeAll(async () => {
    id = (await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: 2n * ETH })).id;
    payee0 = await balance(ADDR.payee);
    contract0 = await balance(contract);
  });

  const refused = async (v: BttcVoucher, code: string) => {
    expect(await codeOf(payee.close(v))).toBe(code);
    expect(await codeOf(payee.submitVoucher(v))).toBe(code);
    expect(await balance(ADDR.payee)).toBe(payee0);
    expect(await balance(contract)).toBe(contract0);
    const s = await payee.channel(id);
    expect(s.status).toBe('open');
    expect(s.claimed).toBe(0n);
  };

  it('a voucher signed for another chain id', async () => {
    await refused(await sign(id, ETH, { chainId: 1029 }), 'SETTLEMENT_VOUCHER_WRONG_SIGNER');
  });

  it('replay across chains: the same contract address and channel on chain 1029 refuse a voucher for 199', async () => {
    // A second node (Donau's id): the payer's first deployment there lands at the same address as
    // here (same key, nonce 0), and the same salt gives the same channel id.
    const donauDir = mkdtempSync(join(tmpdir(), 'bttkit-bttc-donau-'));
    try {
      const donau = await startEvmNode(procs, donauDir, {
        chainId: 1029,
        accounts: Object.values(KEYS).map((privateKey) => ({ privateKey, balance: 1000n * ETH })),
      });
      const there = await BttcChannels.deploy({
        rpcUrl: donau.url,
        privateKey: KEYS.payer,
        challengePeriod: PERIOD,
      });
      expect(there.address).toBe(contract);
      expect(there.chainId).toBe(1029);
      const thereApayee = await BttcChannels.connect({
        rpcUrl: donau.url,
        privateKey: KEYS.payee,
        address: contract,
      });
      const s = salt();
      const here = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, salt: s, amount: ETH });
      const opened = await there.open({ payee: ADDR.payee, signer: ADDR.signer, salt: s, amount: ETH });
      expect(opened.id).toBe(here.id);
      const for199 = await sign(here.id, ETH);
      expect(await codeOf(thereApayee.close(for199))).toBe('SETTLEMENT_VOUCHER_WRONG_SIGNER');
      expect(await codeOf(thereApayee.submitVoucher(for199))).toBe('SETTLEMENT_VOUCHER_WRONG_SIGNER');
      expect((await thereApayee.channel(opened.id)).status).toBe('open');
      const closed = await thereApayee.close(await sign(opened.id, ETH, { chainId: 1029 }));
      expect(closed.toPayee).toBe(ETH);
      // Back here, the 199 voucher is good.
      const closedHere = await payee.close(for199);
      expect(closedHere.toPayee).toBe(ETH);
      payee0 = await balance(ADDR.payee);
      donau.stop();
    } finally {
      rmSync(donauDir, { recursive: true, force: true });
    }
  });

  it('a voucher signed for another contract (same channel id, also opened there)', async () => {
    const second = await BttcChannels.deploy({
      rpcUrl: node.url,
      privateKey: KEYS.payer,
      challengePeriod: PERIOD,
    });
    const secondPayee = await BttcChannels.connect({
      rpcUrl: node.url,
      privateKey: KEYS.payee,
      address: second.address,
    });
    const s = salt();
    const a = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, salt: s, amount: ETH });
    const b = await second.open({ payee: ADDR.payee, signer: ADDR.signer, salt: s, amount: ETH });
    expect(a.id).toBe(b.id);
    contract0 = await balance(contract);
    const forSecond = await sign(b.id, ETH, { verifyingContract: second.address });
    const p0 = await balance(ADDR.payee);
    expect(await codeOf(payee.close(forSecond))).toBe('SETTLEMENT_VOUCHER_WRONG_SIGNER');
    expect(await balance(ADDR.payee)).toBe(p0);
    // …while it is good where it was meant to go.
    const closed = await secondPayee.close(forSecond);
    expect(closed.toPayee).toBe(ETH);
    expect(await balance(ADDR.payee)).toBe(p0 + ETH - (await fee(closed)));
    payee0 = await balance(ADDR.payee);
    await refused(
      await sign(id, ETH, { verifyingContract: second.address }),
      'SETTLEMENT_VOUCHER_WRONG_SIGNER',
    );
  });

  it('a forged signature (a tampered amount, random bytes) and a wrong signer', async () => {
    const good = await sign(id, ETH / 10n);
    await refused({ ...good, amount: ETH }, 'SETTLEMENT_VOUCHER_WRONG_SIGNER');
    const random = `0x${'5a'.repeat(32)}${'3c'.repeat(32)}1b` as Hex;
    const code = await codeOf(payee.close({ channelId: id, amount: ETH, signature: random }));
    expect(['SETTLEMENT_VOUCHER_WRONG_SIGNER', 'SETTLEMENT_VOUCHER_BAD_SIGNATURE']).toContain(code);
    await refused(await sign(id, ETH, { key: KEYS.payer }), 'SETTLEMENT_VOUCHER_WRONG_SIGNER');
    await refused(await sign(id, ETH, { key: KEYS.payee }), 'SETTLEMENT_VOUCHER_WRONG_SIGNER');
    // A voucher of another channel with the same signer.
    const otherChannel = await payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: ETH });
    const v = await sign(otherChannel.id, ETH);
    contract0 = await balance(contract);
    await refused({ ...v, channelId: id }, 'SETTLEMENT_VOUCHER_WRONG_SIGNER');
    await payee.close(v);
    payee0 = await balance(ADDR.payee);
    contract0 = await balance(contract);
  });

  it('a high-s signature (the malleable twin of a valid one) and a bad v are refused', async () => {
    const good = await sign(id, ETH);
    const sig = good.signature.slice(2);
    const s = BigInt(`0x${sig.slice(64, 128)}`);
    const v = Number.parseInt(sig.slice(128, 130), 16);
    const highS =
      `0x${sig.slice(0, 64)}${(N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    await refused({ ...good, signature: highS }, 'SETTLEMENT_VOUCHER_BAD_SIGNATURE');
    await refused({ ...good, signature: `0x${sig.slice(0, 128)}1d` }, 'SETTLEMENT_VOUCHER_BAD_SIGNATURE');
    await refused({ ...good, signature: `0x${sig.slice(0, 128)}00` }, 'SETTLEMENT_VOUCHER_BAD_SIGNATURE');
    // The untouched one is good.
    const closed = await payee.close(good);
    expect(closed.toPayee).toBe(ETH);
    expect(await balance(ADDR.payee)).toBe(payee0 + ETH - (await fee(closed)));
  });
});

describe('BttkitChannel: ERC-20 channels', () => {
  let token: Hex;

  beforeAll(async () => {
    token = await deployRaw(testTokenAbi, testTokenBytecode, ['Test', 'TST', 10n ** 30n]);
  });

  it('open (approve first), top-up, vouchers, payee close: token balances on chain', async () => {
    const deposit = 1000n * ETH;
    const payer0 = await tokenBalance(token, ADDR.payer);
    const opened = await payer.open({ payee: ADDR.payee, token, signer: ADDR.signer, amount: deposit });
    expect(opened.approve).toBeDefined();
    if (opened.approve) gas.set('approve (TestToken, before an ERC-20 open)', opened.approve.gasUsed);
    gas.set('open (ERC-20, without approve)', opened.gasUsed);
    expect(await tokenBalance(token, contract)).toBe(deposit);
    expect(await tokenBalance(token, ADDR.payer)).toBe(payer0 - deposit);
    const topped = await payer.topUp(opened.id, 500n * ETH);
    gas.set('topUp (ERC-20, without approve)', topped.gasUsed);
    expect(await tokenBalance(token, contract)).toBe(1500n * ETH);

    const closed = await payee.close(await sign(opened.id, 600n * ETH));
    gas.set('close (payee, ERC-20)', closed.gasUsed);
    expect(await tokenBalance(token, ADDR.payee)).toBe(600n * ETH);
    expect(await tokenBalance(token, ADDR.payer)).toBe(payer0 - 600n * ETH);
    expect(await tokenBalance(token, contract)).toBe(0n);
  });

  it('a stale-voucher close challenged and corrected, then a payer timeout close, in tokens', async () => {
    const payer0 = await tokenBalance(token, ADDR.payer);
    const payee0 = await tokenBalance(token, ADDR.payee);
    const a = await payer.open({ payee: ADDR.payee, token, signer: ADDR.signer, amount: 100n });
    await payer.submitVoucher(await sign(a.id, 10n));
    await payer.startClose(a.id);
    await payee.submitVoucher(await sign(a.id, 40n));
    const b = await payer.open({ payee: ADDR.payee, token, signer: ADDR.signer, amount: 50n });
    await payer.startClose(b.id);
    await passTime(PERIOD);
    const fa = await payer.finishClose(a.id);
    gas.set('finishClose (ERC-20)', fa.gasUsed);
    expect([fa.toPayee, fa.toPayer]).toEqual([40n, 60n]);
    const fb = await payer.finishClose(b.id);
    expect([fb.toPayee, fb.toPayer]).toEqual([0n, 50n]);
    expect(await tokenBalance(token, ADDR.payee)).toBe(payee0 + 40n);
    expect(await tokenBalance(token, ADDR.payer)).toBe(payer0 - 40n);
    expect(await tokenBalance(token, contract)).toBe(0n);
  });

  it('a token that returns nothing (USDT-style) works', async () => {
    const usdt = await deployRaw(noReturnTokenAbi, noReturnTokenBytecode, [10n ** 12n]);
    const opened = await payer.open({
      payee: ADDR.payee,
      token: usdt,
      signer: ADDR.signer,
      amount: 1_000_000n,
    });
    expect(await tokenBalance(usdt, contract)).toBe(1_000_000n);
    await payee.close(await sign(opened.id, 250_000n));
    expect(await tokenBalance(usdt, ADDR.payee)).toBe(250_000n);
    expect(await tokenBalance(usdt, ADDR.payer)).toBe(10n ** 12n - 250_000n);
    expect(await tokenBalance(usdt, contract)).toBe(0n);
  });

  it('a token that refuses to pay the payee (a blocklist) defers its share; the payer is paid', async () => {
    const blocking = await deployRaw(blockingTokenAbi, blockingTokenBytecode, [10n ** 24n]);
    const wallet = createWalletClient({
      transport: http(node.url),
      account: privateKeyToAccount(KEYS.other),
    });
    const setBlocked = async (on: boolean) => {
      const hash = await wallet.writeContract({
        address: blocking,
        abi: blockingTokenAbi,
        functionName: 'setBlocked',
        args: [ADDR.payee, on],
        chain: null,
      });
      await pub.waitForTransactionReceipt({ hash });
    };
    const payer0 = await tokenBalance(blocking, ADDR.payer);
    const opened = await payer.open({
      payee: ADDR.payee,
      token: blocking,
      signer: ADDR.signer,
      amount: 900n,
    });
    await setBlocked(true);
    const closed = await payee.close(await sign(opened.id, 300n));
    expect(closed.deferred).toEqual([{ to: ADDR.payee, token: blocking, amount: 300n }]);
    expect(await tokenBalance(blocking, ADDR.payer)).toBe(payer0 - 300n);
    expect(await tokenBalance(blocking, ADDR.payee)).toBe(0n);
    expect(await payee.pending(ADDR.payee, blocking)).toBe(300n);
    expect(await codeOf(payee.withdraw(blocking))).toBe('SETTLEMENT_TOKEN_TRANSFER_FAILED');
    await setBlocked(false);
    await payee.withdraw(blocking);
    expect(await tokenBalance(blocking, ADDR.payee)).toBe(300n);
    expect(await tokenBalance(blocking, contract)).toBe(0n);
    expect(await payee.pending(ADDR.payee, blocking)).toBe(0n);
  });

  it('a fee-on-transfer token is refused at open (the deposit would be short)', async () => {
    const feeToken = await deployRaw(feeTokenAbi, feeTokenBytecode, [10n ** 24n]);
    const before = await tokenBalance(feeToken, ADDR.payer);
    expect(
      await codeOf(payer.open({ payee: ADDR.payee, token: feeToken, signer: ADDR.signer, amount: 1000n })),
    ).toBe('SETTLEMENT_TOKEN_TRANSFER_FAILED');
    expect(await tokenBalance(feeToken, ADDR.payer)).toBe(before);
    expect(await tokenBalance(feeToken, contract)).toBe(0n);
  });

  it('refused deposits: no allowance, value with a token, wrong value, a token without code, zero', async () => {
    const account = privateKeyToAccount(KEYS.payer);
    /** The contract's custom error for `open` sent raw (around the client's own checks). */
    const openError = async (tokenAddr: Hex, amount: bigint, value: bigint): Promise<string> => {
      try {
        await pub.simulateContract({
          address: contract,
          abi: bttkitChannelAbi,
          functionName: 'open',
          args: [ADDR.payee, tokenAddr, ADDR.signer, salt(), amount],
          value,
          account,
        });
      } catch (err) {
        const e = err as { walk?: (fn: (e: unknown) => boolean) => unknown };
        const reverted = e.walk?.((x) => x instanceof ContractFunctionRevertedError);
        if (reverted instanceof ContractFunctionRevertedError) return reverted.data?.errorName ?? 'revert';
        throw err;
      }
      return 'no error';
    };
    const fresh = await deployRaw(testTokenAbi, testTokenBytecode, ['Fresh', 'FRS', 10n ** 24n]);
    expect(await openError(fresh, 5n, 0n)).toBe('TokenTransferFailed'); // no allowance
    expect(await openError(fresh, 5n, 5n)).toBe('ValueMismatch');
    expect(await openError(NATIVE_TOKEN, 5n, 4n)).toBe('ValueMismatch');
    expect(await openError(ADDR.other, 5n, 0n)).toBe('NotAContract');
    expect(await openError(NATIVE_TOKEN, 0n, 0n)).toBe('AmountOutOfRange');
    expect(await openError(NATIVE_TOKEN, 1n << 128n, 0n)).toBe('AmountOutOfRange');
    // Through the client: a token address without code.
    expect(
      await codeOf(payer.open({ payee: ADDR.payee, token: ADDR.other, signer: ADDR.signer, amount: 1n })),
    ).toBe('SETTLEMENT_BAD_ADDRESS');
    expect(await codeOf(payer.open({ payee: ADDR.payee, signer: ADDR.signer, amount: 0n }))).toBe(
      'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
    );
  });
});

describe('BttkitChannel: no funds locked by a payee that rejects BTT', () => {
  it('payouts it refuses wait in pending; the payer exits; the payee pulls later', async () => {
    const rejecting = await deployRaw(rejectingPayeeAbi, rejectingPayeeBytecode, []);
    const wallet = createWalletClient({
      transport: http(node.url),
      account: privateKeyToAccount(KEYS.other),
    });
    const exec = async (data: Hex) => {
      const hash = await wallet.writeContract({
        address: rejecting,
        abi: rejectingPayeeAbi,
        functionName: 'exec',
        args: [contract, data],
        chain: null,
      });
      const r = await pub.waitForTransactionReceipt({ hash });
      expect(r.status).toBe('success');
    };

    // 1. The payer's unilateral close still pays the payer, the payee's share is deferred.
    const a = await payer.open({ payee: rejecting, signer: ADDR.signer, amount: 3n * ETH });
    await payer.submitVoucher(await sign(a.id, ETH));
    const payer0 = await balance(ADDR.payer);
    const started = await payer.startClose(a.id);
    await passTime(PERIOD);
    const finished = await payer.finishClose(a.id);
    expect(finished.deferred).toEqual([{ to: rejecting, token: NATIVE_TOKEN, amount: ETH }]);
    expect(await balance(ADDR.payer)).toBe(payer0 + 2n * ETH - (await fee(started)) - (await fee(finished)));
    expect(await payer.pending(rejecting)).toBe(ETH);

    // 2. Its own close works too (its share deferred).
    const b = await payer.open({ payee: rejecting, signer: ADDR.signer, amount: ETH });
    const v = await sign(b.id, ETH / 4n);
    await exec(
      encodeFunctionData({
        abi: bttkitChannelAbi,
        functionName: 'close',
        args: [b.id, v.amount, v.signature],
      }),
    );
    expect(await payer.pending(rejecting)).toBe(ETH + ETH / 4n);
    expect((await payer.channel(b.id)).status).toBe('finished');

    // 3. It pulls everything, once.
    const payee0 = await balance(ADDR.payee);
    const contract0 = await balance(contract);
    await exec(
      encodeFunctionData({
        abi: bttkitChannelAbi,
        functionName: 'withdraw',
        args: [NATIVE_TOKEN, ADDR.payee],
      }),
    );
    expect(await balance(ADDR.payee)).toBe(payee0 + ETH + ETH / 4n);
    expect(await balance(contract)).toBe(contract0 - ETH - ETH / 4n);
    expect(await payer.pending(rejecting)).toBe(0n);
    expect(await codeOf(payer.withdraw())).toBe('SETTLEMENT_NOTHING_TO_WITHDRAW');
  });
});

describe('BttkitChannel: hostile payee contracts', () => {
  let hostile: Hex;
  const wallet = () =>
    createWalletClient({ transport: http(node.url), account: privateKeyToAccount(KEYS.other) });
  const send = async (functionName: 'arm' | 'exec', args: readonly unknown[]) => {
    const hash = await wallet().writeContract({
      address: hostile,
      abi: hostilePayeeAbi,
      functionName,
      args,
      chain: null,
    } as Parameters<ReturnType<typeof wallet>['writeContract']>[0]);
    const r = await pub.waitForTransactionReceipt({ hash });
    expect(r.status).toBe('success');
    return r;
  };

  beforeAll(async () => {
    hostile = await deployRaw(hostilePayeeAbi, hostilePayeeBytecode, []);
  });

  it('a payee that burns all the gas it is sent cannot block the payer: its share is deferred', async () => {
    await send('arm', [1, NATIVE_TOKEN, '0x']);
    const opened = await payer.open({ payee: hostile, signer: ADDR.signer, amount: 2n * ETH });
    await payer.submitVoucher(await sign(opened.id, ETH));
    const payer0 = await balance(ADDR.payer);
    const started = await payer.startClose(opened.id);
    await passTime(PERIOD);
    const finished = await payer.finishClose(opened.id);
    expect(finished.deferred).toEqual([{ to: hostile, token: NATIVE_TOKEN, amount: ETH }]);
    expect(finished.gasUsed).toBeLessThan(250_000n); // PAYOUT_GAS bounds what the payee can burn
    expect(await balance(ADDR.payer)).toBe(payer0 + ETH - (await fee(started)) - (await fee(finished)));
    expect(await payer.pending(hostile)).toBe(ETH);
  });

  it('a payee that re-enters the contract while being paid is stopped by the lock', async () => {
    const opened = await payer.open({ payee: hostile, signer: ADDR.signer, amount: ETH });
    const reenter = encodeFunctionData({
      abi: bttkitChannelAbi,
      functionName: 'close',
      args: [opened.id, 0n, '0x'],
    });
    await send('arm', [2, contract, reenter]);
    const v = await sign(opened.id, ETH / 2n);
    const hostile0 = await balance(hostile);
    const contract0 = await balance(contract);
    await send('exec', [
      contract,
      encodeFunctionData({
        abi: bttkitChannelAbi,
        functionName: 'close',
        args: [opened.id, v.amount, v.signature],
      }),
    ]);
    const attempted = await pub.readContract({
      address: hostile,
      abi: hostilePayeeAbi,
      functionName: 'attempted',
    });
    const err = await pub.readContract({
      address: hostile,
      abi: hostilePayeeAbi,
      functionName: 'reentryError',
    });
    expect(attempted).toBe(true);
    expect(err).toBe(encodeErrorResult({ abi: bttkitChannelAbi, errorName: 'Reentrancy' }));
    expect(await balance(hostile)).toBe(hostile0 + ETH / 2n);
    expect(await balance(contract)).toBe(contract0 - ETH);
    expect((await payer.channel(opened.id)).status).toBe('finished');
  });
});
