import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BTT_NATIVE,
  BTTC_MAINNET,
  BttcSettlement,
  erc20Token,
  type TokenProfile,
} from '../../../src/settlement/index.js';
import { Procs } from '../../helpers/procs.js';
import { POOR_FUNDING, settlementSuite } from '../suite.js';
import { deployTestToken, gasPaid, newKey, nodeDir, sendRaw, startEvmNode } from './harness.js';

const CONFIRMATIONS = 3;
const procs = new Procs();
const dirs: string[] = [];
afterAll(() => {
  procs.killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const kind of ['native', 'erc20'] as const) {
  settlementSuite(
    `BttcSettlement + hardhat node (${kind === 'native' ? 'native BTT' : 'ERC-20'})`,
    async () => {
      const [hot, user, poor, minter] = [newKey(), newKey(), newKey(), newKey()];
      const funding = 2n ** 80n;
      const gasMoney = 10n ** 21n;
      const dir = nodeDir();
      dirs.push(dir);
      const node = await startEvmNode(procs, dir, {
        automine: false,
        accounts: [
          { privateKey: hot.privateKey, balance: kind === 'native' ? funding : gasMoney },
          { privateKey: user.privateKey, balance: kind === 'native' ? funding : gasMoney },
          { privateKey: poor.privateKey, balance: kind === 'native' ? POOR_FUNDING : gasMoney },
          { privateKey: minter.privateKey, balance: gasMoney },
        ],
      });
      let token: TokenProfile = BTT_NATIVE;
      if (kind === 'erc20') {
        const address = await deployTestToken(node, minter, [
          { address: hot.address, amount: funding },
          { address: user.address, amount: funding },
          { address: poor.address, amount: POOR_FUNDING },
        ]);
        token = erc20Token({ address, decimals: 18, symbol: 'TTK' });
      }
      await node.mine(CONFIRMATIONS);
      const head = Number(BigInt(await node.rpc<string>('eth_blockNumber')));
      const connect = (privateKey: string) =>
        BttcSettlement.connect({
          privateKey,
          rpcUrl: node.url,
          chain: BTTC_MAINNET,
          token,
          confirmations: CONFIRMATIONS,
          pollMs: 10,
          confirmTimeoutMs: 20_000,
          depositStartBlock: head,
        });
      return {
        token,
        hot: await connect(hot.privateKey),
        user: await connect(user.privateKey),
        poor: await connect(poor.privateKey),
        funding,
        newAddress: () => newKey().address,
        mine: (n) => node.mine(n),
        confirmBlocks: CONFIRMATIONS,
        feePaid: async (txid) => (kind === 'native' ? gasPaid(node, txid) : 0n),
        // EVM: another transaction of the hot key takes the nonce (a 0-value transfer to itself).
        kill: async (tx) => {
          await sendRaw(node, hot, { to: hot.address, nonce: tx.nonce, gas: 21_000n });
          await node.mine(CONFIRMATIONS);
          return 'SETTLEMENT_TX_SUPERSEDED';
        },
        close: async () => node.stop(),
      };
    },
  );
}

describe('BttcSettlement: a transfer that reverts on chain', () => {
  it('is failed (REVERT) once solid, confirm throws TX_FAILED, nothing moves; its nonce is used', async () => {
    const dir = nodeDir();
    dirs.push(dir);
    const [poor, minter] = [newKey(), newKey()];
    const node = await startEvmNode(procs, dir, {
      automine: false,
      accounts: [
        { privateKey: poor.privateKey, balance: 10n ** 20n },
        { privateKey: minter.privateKey, balance: 10n ** 20n },
      ],
    });
    const address = await deployTestToken(node, minter, [{ address: poor.address, amount: 10n }]);
    const token = erc20Token({ address, decimals: 18, symbol: 'TTK' });
    // A fixed gas limit skips the estimate, so the overdraft is signed, sent, mined — and reverts.
    const a = await BttcSettlement.connect({
      privateKey: poor.privateKey,
      rpcUrl: node.url,
      chain: BTTC_MAINNET,
      token,
      confirmations: CONFIRMATIONS,
      gasLimit: 100_000n,
      pollMs: 10,
    });
    const to = newKey().address;
    const tx = await a.prepare(to, 11n);
    await a.broadcast(tx);
    await node.mine(1);
    expect((await a.status(tx.txid)).state).toBe('pending');
    await node.mine(CONFIRMATIONS);
    expect(await a.status(tx.txid)).toMatchObject({ state: 'failed', reason: 'REVERT' });
    await expect(a.confirm(tx.txid)).rejects.toMatchObject({ code: 'SETTLEMENT_TX_FAILED' });
    expect(await a.balance(to)).toBe(0n);
    expect(await a.balance(a.address)).toBe(10n);
    // Not "dead" by the nonce rule (it is in the chain): the Settler sees it as failed, not as live.
    expect(await a.provablyDead(tx)).toBe(false);
    node.stop();
  });
});

describe('BttcSettlement: options and the node', () => {
  it('refuses a node of another chain and bad options with typed errors', async () => {
    const dir = nodeDir();
    dirs.push(dir);
    const key = newKey();
    const node = await startEvmNode(procs, dir, {
      chainId: 1029,
      accounts: [{ privateKey: key.privateKey, balance: 10n ** 18n }],
    });
    const base = { privateKey: key.privateKey, rpcUrl: node.url, chain: BTTC_MAINNET };
    await expect(BttcSettlement.connect(base)).rejects.toMatchObject({ code: 'SETTLEMENT_WRONG_CHAIN' });
    await expect(BttcSettlement.connect({ ...base, privateKey: '0x12' })).rejects.toMatchObject({
      code: 'SETTLEMENT_BAD_OPTIONS',
    });
    await expect(BttcSettlement.connect({ ...base, rpcUrl: 'ftp://x' })).rejects.toMatchObject({
      code: 'SETTLEMENT_BAD_OPTIONS',
    });
    await expect(BttcSettlement.connect({ ...base, confirmations: 0 })).rejects.toMatchObject({
      code: 'SETTLEMENT_BAD_OPTIONS',
    });
    node.stop();
  });
});
