/**
 * Re-orgs on a real local EVM node: hardhat's `evm_snapshot` / `evm_revert` drop the newest
 * blocks, and new ones are mined in their place — what a short re-org does to a node's view.
 * BttcSettlement counts only blocks `confirmations` deep, so a deposit or a withdrawal seen in a
 * block that is re-orged away before it is that deep is never reported: no credit, no
 * "confirmed", and the same transfer can be broadcast again safely.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BTT_NATIVE, BTTC_MAINNET, BttcSettlement } from '../../../src/settlement/index.js';
import { Procs } from '../../helpers/procs.js';
import { type EvmNode, type Key, newKey, nodeDir, sendRaw, startEvmNode } from './harness.js';

const CONFIRMATIONS = 3;
const procs = new Procs();
const dir = nodeDir();
let node: EvmNode;
let hot: Key;
let user: Key;
let adapter: BttcSettlement;

beforeAll(async () => {
  [hot, user] = [newKey(), newKey()];
  node = await startEvmNode(procs, dir, {
    automine: false,
    accounts: [
      { privateKey: hot.privateKey, balance: 10n ** 24n },
      { privateKey: user.privateKey, balance: 10n ** 24n },
    ],
  });
  await node.mine(CONFIRMATIONS);
  adapter = await BttcSettlement.connect({
    privateKey: hot.privateKey,
    rpcUrl: node.url,
    chain: BTTC_MAINNET,
    token: BTT_NATIVE,
    confirmations: CONFIRMATIONS,
    pollMs: 10,
    confirmTimeoutMs: 5_000,
    depositStartBlock: 0,
  });
}, 60_000);
afterAll(() => {
  procs.killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('BttcSettlement across a re-org', () => {
  it('a deposit re-orged away before it was deep enough is never reported; one that stays is, once', async () => {
    const first = await adapter.depositsSince(undefined);
    expect(first.deposits).toEqual([]);
    const snapshot = await node.rpc<string>('evm_snapshot');
    const lost = await sendRaw(node, user, {
      to: hot.address as `0x${string}`,
      value: 7n * 10n ** 18n,
      gas: 21_000n,
    });
    await node.mine(CONFIRMATIONS - 1); // in a block, not yet deep enough
    expect((await adapter.depositsSince(first.cursor)).deposits).toEqual([]);
    expect(await adapter.balance(hot.address)).toBe(10n ** 24n);
    // The re-org: those blocks go, longer chain without the deposit comes.
    expect(await node.rpc<boolean>('evm_revert', [snapshot])).toBe(true);
    await node.rpc('hardhat_dropTransaction', [lost]);
    await node.mine(CONFIRMATIONS + 2);
    const after = await adapter.depositsSince(first.cursor);
    expect(after.deposits).toEqual([]);
    expect(await adapter.balance(hot.address)).toBe(10n ** 24n);
    // A deposit that stays is reported once it is deep enough, and only once.
    const kept = await sendRaw(node, user, {
      to: hot.address as `0x${string}`,
      value: 5n * 10n ** 18n,
      gas: 21_000n,
    });
    await node.mine(CONFIRMATIONS);
    const page = await adapter.depositsSince(after.cursor);
    expect(page.deposits.map((d) => [d.txid, d.amount])).toEqual([[kept.slice(2), 5n * 10n ** 18n]]);
    expect((await adapter.depositsSince(page.cursor)).deposits).toEqual([]);
  });

  it('a withdrawal re-orged away is not confirmed: its status goes back to unknown, and it can be broadcast again', async () => {
    const to = newKey().address;
    const tx = await adapter.prepare(to, 3n * 10n ** 18n);
    const snapshot = await node.rpc<string>('evm_snapshot');
    await adapter.broadcast(tx);
    await node.mine(1);
    expect((await adapter.status(tx.txid)).state).toBe('pending');
    await node.mine(CONFIRMATIONS - 2);
    expect((await adapter.status(tx.txid)).state).toBe('pending'); // one block short of solid
    expect(await node.rpc<boolean>('evm_revert', [snapshot])).toBe(true);
    await node.rpc('hardhat_dropTransaction', [`0x${tx.txid}`]);
    await node.mine(CONFIRMATIONS + 1);
    expect((await adapter.status(tx.txid)).state).toBe('unknown');
    expect(await adapter.balance(to)).toBe(0n);
    // Not dead: nothing took its nonce. Broadcast again, it confirms exactly once.
    expect(await adapter.provablyDead(tx)).toBe(false);
    await adapter.broadcast(tx);
    await node.mine(CONFIRMATIONS);
    expect((await adapter.confirm(tx.txid)).state).toBe('confirmed');
    expect(await adapter.balance(to)).toBe(3n * 10n ** 18n);
  });
});
