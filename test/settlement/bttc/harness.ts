/**
 * Test support for BttcSettlement: a hardhat node (automine off: blocks only when the test mines),
 * funded keys, and the ERC-20 fixture `test/fixtures/TestToken.sol` compiled here with solc-js
 * 0.8.37 (standard JSON, evmVersion paris) and deployed by a minter key.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeDeployData, keccak256 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { type EvmNode, startEvmNode } from '../../helpers/evm-node.js';
import type { Procs } from '../../helpers/procs.js';

const require = createRequire(import.meta.url);
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'TestToken.sol');

export interface Compiled {
  abi: readonly unknown[];
  bytecode: `0x${string}`;
}

let compiled: Compiled | undefined;

/** Compiles TestToken.sol with solc-js (standard JSON, paris, optimizer 200 runs). */
export function compileTestToken(): Compiled {
  if (compiled) return compiled;
  const solc = require('solc') as { compile(input: string): string; version(): string };
  const input = {
    language: 'Solidity',
    sources: { 'TestToken.sol': { content: readFileSync(FIXTURE, 'utf8') } },
    settings: {
      evmVersion: 'paris',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts?.['TestToken.sol']?.TestToken;
  if (!c) throw new Error('TestToken not in the compiler output');
  compiled = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
  return compiled;
}

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

/** Deploys TestToken from `minter` with `holders` funded; mines it; returns the token address. */
export async function deployTestToken(
  node: EvmNode,
  minter: Key,
  holders: readonly { address: `0x${string}`; amount: bigint }[],
): Promise<`0x${string}`> {
  const { abi, bytecode } = compileTestToken();
  const data = encodeDeployData({
    abi,
    bytecode,
    args: ['Test Token', 'TTK', 18, holders.map((h) => h.address), holders.map((h) => h.amount)],
  });
  const hash = await sendRaw(node, minter, { data });
  await node.mine(1);
  const r = await node.rpc<{ status: string; contractAddress: `0x${string}` } | null>(
    'eth_getTransactionReceipt',
    [hash],
  );
  if (!r) throw new Error('TestToken deployment: no receipt');
  if (r.status !== '0x1') throw new Error('TestToken deployment failed');
  return r.contractAddress;
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
