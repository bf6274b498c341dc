/**
 * A real local EVM node for BTTC tests: the `hardhat` 2.x node from npm (its EDR engine ships
 * inside the package; nothing is downloaded), one child process per call, JSON-RPC on
 * 127.0.0.1 only, with BTTC's chain id by default, the accounts asked for (private keys and
 * balances), and no contracts of its own (an empty sources folder: nothing is compiled).
 * Blocks are mined on each transaction (automine) and on demand with {@link EvmNode.mine};
 * chain time moves with {@link EvmNode.increaseTime}.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, type Procs, waitForLine } from './procs.js';

/** An account the node starts with. */
export interface EvmAccount {
  /** 0x-prefixed 32-byte hex. */
  privateKey: `0x${string}`;
  /** Balance in wei. */
  balance: bigint;
}

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

const require = createRequire(import.meta.url);

/** The hardhat CLI of node_modules. */
export function hardhatCli(): string {
  return join(require.resolve('hardhat/package.json'), '..', 'internal', 'cli', 'cli.js');
}

/** Starts a hardhat node in `dir` (its config, cache and empty sources go there). */
export async function startEvmNode(procs: Procs, dir: string, opts: EvmNodeOptions): Promise<EvmNode> {
  const chainId = opts.chainId ?? 199;
  mkdirSync(join(dir, 'sources'), { recursive: true });
  const config = {
    paths: { sources: join(dir, 'sources'), cache: join(dir, 'cache'), artifacts: join(dir, 'artifacts') },
    networks: {
      hardhat: {
        chainId,
        hardfork: 'cancun',
        accounts: opts.accounts.map((a) => ({ privateKey: a.privateKey, balance: a.balance.toString() })),
        mining: { auto: opts.automine ?? true, interval: 0 },
      },
    },
  };
  const configFile = join(dir, 'hardhat.config.cjs');
  writeFileSync(configFile, `module.exports = ${JSON.stringify(config, null, 2)};\n`);
  const port = await freePort();
  const child = procs.start(
    process.execPath,
    [hardhatCli(), '--config', configFile, 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    { HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', NO_COLOR: '1' },
  );
  await waitForLine(child, (l) => l.includes('JSON-RPC server at'), 60_000, 'the hardhat node');
  const url = `http://127.0.0.1:${port}`;
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
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
