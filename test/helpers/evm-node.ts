/**
 * A real local EVM node for BTTC tests — src/cli/evm-node.ts (the `hardhat` 2.x node from npm, its EDR engine shipped
 * inside the package) killed with the test's other processes, plus JSON-RPC helpers — on
 * 127.0.0.1 only, with BTTC's chain id by default, the accounts asked for (private keys and
 * balances), and no contracts of its own (an empty sources folder: nothing is compiled).
 * Blocks are mined on each transaction (automine) and on demand with {@link EvmNode.mine};
 * chain time moves with {@link EvmNode.increaseTime}.
 */
import type { ChildProcess } from 'node:child_process';
import { type LocalEvmAccount, startLocalEvmNode } from '../../src/cli/evm-node.js';
import type { Procs } from './procs.js';

/** An account the node starts with. */
export type EvmAccount = LocalEvmAccount;

export interface EvmNodeOptions {
  /** Default 199 (BTTC mainnet's id). */
  chainId?: number;
  accounts: EvmAccount[];
  /** Mine a block per transaction (default true); false: only {@link EvmNode.mine} makes blocks. */
  automine?: boolean;
}

export interface EvmNode {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly chainId: number;
  /** One JSON-RPC call; throws the node's error message. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** Mines `n` empty blocks. */
  mine(n: number): Promise<void>;
  /** Moves the chain's clock `seconds` ahead (takes effect with the next block). */
  increaseTime(seconds: number): Promise<void>;
  /** Turns automine on or off. */
  setAutomine(on: boolean): Promise<void>;
  /** Stops the node (SIGKILL: the node's state is in memory only). */
  stop(): void;
}

/** Starts a hardhat node in `dir` (its config, cache and empty sources go there); killed by `procs.killAll()`. */
export async function startEvmNode(procs: Procs, dir: string, opts: EvmNodeOptions): Promise<EvmNode> {
  const node = await startLocalEvmNode({
    dir,
    accounts: opts.accounts,
    ...(opts.chainId !== undefined ? { chainId: opts.chainId } : {}),
    ...(opts.automine !== undefined ? { automine: opts.automine } : {}),
  });
  procs.adopt(node.child);
  const { child, url, chainId } = node;
  let id = 0;
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { result?: T; error?: { message?: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message ?? 'error'}`);
    return body.result as T;
  };
  return {
    child,
    url,
    chainId,
    rpc,
    mine: async (n) => {
      if (n > 0) await rpc('hardhat_mine', [`0x${n.toString(16)}`]);
    },
    increaseTime: async (seconds) => {
      await rpc('evm_increaseTime', [seconds]);
    },
    setAutomine: async (on) => {
      await rpc('evm_setAutomine', [on]);
    },
    stop: () => node.stop(),
  };
}
