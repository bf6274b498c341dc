import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { CliError } from './errors.js';

/**
 * A real local EVM node for `bttkit demo --chain bttc` (and the tests): the `hardhat` 2.x node
 * from npm — its EDR engine ships inside the package, nothing is downloaded — run as a child
 * process answering JSON-RPC on 127.0.0.1 only, with the chain id and funded accounts asked for
 * and no contracts of its own (an empty sources folder: nothing is compiled). hardhat is not a
 * dependency of bttkit: the demo asks for it when it is missing.
 * @module
 */

/** An account the node starts with. */
export interface LocalEvmAccount {
  /** 0x-prefixed 32-byte hex. */
  privateKey: `0x${string}`;
  /** Balance in wei. */
  balance: bigint;
}

/** Options of {@link startLocalEvmNode}. */
export interface LocalEvmNodeOptions {
  /** A folder for the node's config and caches (created). */
  dir: string;
  /** Default 199 (BTTC mainnet's id). */
  chainId?: number;
  accounts: LocalEvmAccount[];
  /** Mine a block per transaction (default true); false: only `hardhat_mine` makes blocks. */
  automine?: boolean;
  /** How long to wait for the node to answer. Default 60 s. */
  startTimeoutMs?: number;
}

/** A running node. */
export interface LocalEvmNode {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly chainId: number;
  /** Stops the node (its state is in memory only). */
  stop(): void;
}

/** Where the hardhat CLI is, or undefined when the package is not installed. */
export function findHardhat(from: string = import.meta.url): string | undefined {
  try {
    return join(dirname(createRequire(from).resolve('hardhat/package.json')), 'internal', 'cli', 'cli.js');
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() =>
        a && typeof a === 'object'
          ? resolve(a.port)
          : reject(new CliError('CLI_EVM_NODE_FAILED', 'no free port on 127.0.0.1')),
      );
    });
  });
}

/**
 * Starts a hardhat node. @throws {CliError} `CLI_EVM_NODE_MISSING` (hardhat not installed),
 * `CLI_EVM_NODE_FAILED` (it exited or did not answer in time).
 */
export async function startLocalEvmNode(options: LocalEvmNodeOptions): Promise<LocalEvmNode> {
  const cli = findHardhat();
  if (!cli) {
    throw new CliError(
      'CLI_EVM_NODE_MISSING',
      'a local EVM node needs the npm package hardhat 2.x: npm install --save-dev hardhat@2.29.1',
    );
  }
  const chainId = options.chainId ?? 199;
  const dir = options.dir;
  mkdirSync(join(dir, 'sources'), { recursive: true });
  const config = {
    paths: { sources: join(dir, 'sources'), cache: join(dir, 'cache'), artifacts: join(dir, 'artifacts') },
    networks: {
      hardhat: {
        chainId,
        hardfork: 'cancun',
        accounts: options.accounts.map((a) => ({ privateKey: a.privateKey, balance: a.balance.toString() })),
        mining: { auto: options.automine ?? true, interval: 0 },
      },
    },
  };
  const configFile = join(dir, 'hardhat.config.cjs');
  writeFileSync(configFile, `module.exports = ${JSON.stringify(config, null, 2)};\n`);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [cli, '--config', configFile, 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    {
      // hardhat refuses to run unless it resolves itself from its working directory (HH12): the
      // node_modules folder it is installed in, whatever folder the user runs bttkit from.
      cwd: dirname(dirname(dirname(dirname(cli)))),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', NO_COLOR: '1' },
    },
  );
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new CliError('CLI_EVM_NODE_FAILED', `the hardhat node did not start: ${stderr.trim()}`)),
        options.startTimeoutMs ?? 60_000,
      );
      const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      rl.on('line', (line) => {
        if (!line.includes('JSON-RPC server at')) return;
        clearTimeout(timer);
        // Keep draining its output (its per-request log) so the pipe never fills.
        child.stdout?.resume();
        resolve();
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new CliError('CLI_EVM_NODE_FAILED', `the hardhat node did not start: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new CliError(
            'CLI_EVM_NODE_FAILED',
            `the hardhat node exited (${code ?? signal}): ${stderr.trim()}`,
          ),
        );
      });
    });
  } catch (err) {
    stop();
    throw err;
  }
  return { child, url: `http://127.0.0.1:${port}`, chainId, stop };
}
