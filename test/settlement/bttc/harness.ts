/**
 * Test support for BttcSettlement: a hardhat node (automine off: blocks only when the test mines),
 * funded keys, and the ERC-20 test token of contracts/test/TestToken.sol (its committed artifact)
 * deployed by a minter key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeDeployData, encodeFunctionData, keccak256 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { testTokenAbi, testTokenBytecode } from '../../../src/settlement/bttc/artifacts.js';
import { type EvmNode, startEvmNode } from '../../helpers/evm-node.js';
import type { Procs } from '../../helpers/procs.js';

/** A key and its address. */
export interface Key {
  privateKey: `0x${string}`;
  address: `0x${string}`;
}

export function newKey(): Key {
  const privateKey = generatePrivateKey();
  return { privateKey, address: privateKeyToAccount(privateKey).address };
}

/** Signs and sends a raw EIP-1559 transaction from `key` (the test's own path, not the adapter's). */
export async function sendRaw(
  node: EvmNode,
  key: Key,
  tx: { to?: `0x${string}`; value?: bigint; data?: `0x${string}`; nonce?: number; gas?: bigint },
): Promise<`0x${string}`> {
  const nonce =
    tx.nonce ?? Number(BigInt(await node.rpc<string>('eth_getTransactionCount', [key.address, 'pending'])));
  const signed = await privateKeyToAccount(key.privateKey).signTransaction({
    type: 'eip1559',
    chainId: node.chainId,
    nonce,
    ...(tx.to ? { to: tx.to } : {}),
    value: tx.value ?? 0n,
    data: tx.data ?? '0x',
    gas: tx.gas ?? 3_000_000n,
    maxFeePerGas: 10n ** 11n,
    maxPriorityFeePerGas: 10n ** 9n,
  });
  await node.rpc('eth_sendRawTransaction', [signed]);
  return keccak256(signed);
}

/** Receipt of `hash` (mined), or throws. */
async function mined(node: EvmNode, hash: `0x${string}`, what: string): Promise<`0x${string}` | null> {
  const r = await node.rpc<{ status: string; contractAddress: `0x${string}` | null } | null>(
    'eth_getTransactionReceipt',
    [hash],
  );
  if (!r) throw new Error(`${what}: no receipt`);
  if (r.status !== '0x1') throw new Error(`${what} failed`);
  return r.contractAddress;
}

/** Deploys TestToken from `minter`, funds `holders` from it; mines it; returns the token address. */
export async function deployTestToken(
  node: EvmNode,
  minter: Key,
  holders: readonly { address: `0x${string}`; amount: bigint }[],
): Promise<`0x${string}`> {
  const supply = holders.reduce((a, h) => a + h.amount, 0n);
  const data = encodeDeployData({
    abi: testTokenAbi,
    bytecode: testTokenBytecode,
    args: ['Test Token', 'TTK', supply],
  });
  const deploy = await sendRaw(node, minter, { data });
  await node.mine(1);
  const token = await mined(node, deploy, 'TestToken deployment');
  if (!token) throw new Error('TestToken deployment: no contract address');
  for (const h of holders) {
    const transfer = encodeFunctionData({
      abi: testTokenAbi,
      functionName: 'transfer',
      args: [h.address, h.amount],
    });
    const hash = await sendRaw(node, minter, { to: token, data: transfer });
    await node.mine(1);
    await mined(node, hash, 'TestToken funding');
  }
  return token;
}

/** What the sender of `txid` paid for gas, in wei. */
export async function gasPaid(node: EvmNode, txid: string): Promise<bigint> {
  const r = await node.rpc<{ gasUsed: string; effectiveGasPrice: string } | null>(
    'eth_getTransactionReceipt',
    [`0x${txid}`],
  );
  if (!r) throw new Error(`no receipt for ${txid}`);
  return BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice);
}

/** A scratch directory for a hardhat node. */
export function nodeDir(): string {
  return mkdtempSync(join(tmpdir(), 'bttkit-evm-'));
}

export type { EvmNode, Procs };
export { startEvmNode };
