import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Client } from '../session/client.js';
import { addressOfPrivateKey } from '../settlement/bttc/address.js';
import { BttcChannels } from '../settlement/bttc/channel.js';
import type { BttcChannelStatus, Hex } from '../settlement/bttc/channel-types.js';
import { addr, arr, data, EvmRpc, hash32, hexQty, obj, qty } from '../settlement/bttc/rpc.js';
import { SettlementError } from '../settlement/errors.js';
import { formatBtt } from '../sim/scenario.js';
import { BttcChannelRail } from '../speed/bttc-rail.js';
import { speed } from '../speed/plugin.js';
import { fromHex, toHex, utf8 } from '../util/bytes.js';
import {
  BTT,
  btt,
  createDemoContent,
  type DemoOptions,
  type DemoPeer,
  demoCast,
  demoOut,
  demoSpeedOptions,
  endDemoSwarm,
  makeDemoPeers,
  payingFirstLine,
  printDemoTable,
  runDemoSwarm,
} from './demo-swarm.js';
import { type LocalEvmNode, startLocalEvmNode } from './evm-node.js';

/**
 * `bttkit demo --chain bttc`: the demo's swarm paying through non-custodial payment channels —
 * the `BttkitChannel` contract on a real local EVM node (hardhat, chain id 199) instead of the
 * embedded ledger. The seeder closes each channel on chain with the best voucher when the
 * torrents close; the summary reads the chain back (events, balances, gas).
 * @module
 */

const CHAIN_ID = 199;
/** Seconds a payer waits between `startClose` and `finishClose` (the payee's time to answer). */
const CHALLENGE_PERIOD = 3600;
/** Bounds on what the demo reads back from its own node. */
const MAX_LOGS = 10_000;
const MAX_BLOCKS = 10_000n;

const topic = (signature: string) => toHex(keccak_256(utf8(signature)));
const OPENED = topic('Opened(bytes32,address,address,address,address,uint256)');
const CLOSED = topic('Closed(bytes32,uint256,uint256)');

/** A channel as its events tell it. */
interface ChainChannel {
  id: Hex;
  payer: string;
  payee: string;
  deposit: bigint;
  toPayee?: bigint;
  toPayer?: bigint;
  status?: BttcChannelStatus;
}

function badLog(message: string): never {
  throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', message);
}

/** The 32-byte words of a log's data (hex, no 0x); exactly `count` of them. */
function words(hex: string, count: number): bigint[] {
  const d = hex.slice(2);
  if (d.length !== 64 * count) badLog(`log data: ${count} words expected`);
  return Array.from({ length: count }, (_, i) => BigInt(`0x${d.slice(64 * i, 64 * i + 64)}`));
}

/** Every channel the contract's `Opened` / `Closed` events since `fromBlock` tell of. */
async function readChannels(
  rpc: EvmRpc,
  contract: Hex,
  fromBlock: bigint,
): Promise<Map<string, ChainChannel>> {
  const filter = { address: contract, fromBlock: hexQty(fromBlock), toBlock: 'latest' };
  const logs = arr(await rpc.call('eth_getLogs', [filter], undefined), 'eth_getLogs', MAX_LOGS);
  const channels = new Map<string, ChainChannel>();
  for (const raw of logs) {
    const log = obj(raw, 'log');
    const topics = arr(log.topics, 'log topics', 4).map((t, i) => hash32(t, `log topic ${i}`));
    const [sig, id, payer, payee] = topics;
    if (sig === OPENED && id !== undefined && payer !== undefined && payee !== undefined) {
      const [, , deposit = 0n] = words(data(log.data, 'log data', 96), 3);
      channels.set(id, {
        id: `0x${id}`,
        payer: `0x${payer.slice(24)}`,
        payee: `0x${payee.slice(24)}`,
        deposit,
      });
    } else if (sig === CLOSED && id !== undefined) {
      const [toPayee = 0n, toPayer = 0n] = words(data(log.data, 'log data', 64), 2);
      const ch = channels.get(id) ?? badLog(`Closed event of a channel never opened: 0x${id}`);
      ch.toPayee = toPayee;
      ch.toPayer = toPayer;
    }
  }
  return channels;
}

/** Gas paid (gas used × effective price) per sender over blocks `from … to`. */
async function gasBySender(rpc: EvmRpc, from: bigint, to: bigint): Promise<Map<string, bigint>> {
  if (to - from > MAX_BLOCKS) badLog(`more than ${MAX_BLOCKS} blocks to read`);
  const gas = new Map<string, bigint>();
  for (let b = from; b <= to; b++) {
    const block = obj(await rpc.call('eth_getBlockByNumber', [hexQty(b), true], undefined), 'block');
    for (const raw of arr(block.transactions, 'block transactions', MAX_LOGS)) {
      const tx = obj(raw, 'transaction');
      const sender = addr(tx.from, 'transaction from').toLowerCase();
      const hash = hash32(tx.hash, 'transaction hash');
      const receipt = obj(
        await rpc.call('eth_getTransactionReceipt', [`0x${hash}`], undefined),
        'transaction receipt',
      );
      const fee = qty(receipt.gasUsed, 'gasUsed') * qty(receipt.effectiveGasPrice, 'effectiveGasPrice');
      gas.set(sender, (gas.get(sender) ?? 0n) + fee);
    }
  }
  return gas;
}

async function balanceOf(rpc: EvmRpc, account: string): Promise<bigint> {
  return qty(await rpc.call('eth_getBalance', [account, 'latest'], undefined), 'balance');
}

async function blockNumber(rpc: EvmRpc): Promise<bigint> {
  return qty(await rpc.call('eth_blockNumber', [], undefined), 'block number');
}

/** `+1.5` / `-0.25`: a signed exact BTT amount. */
function signedBtt(units: bigint): string {
  return units < 0n ? formatBtt(units) : `+${formatBtt(units)}`;
}

/**
 * The demo on a local EVM node: starts a hardhat node (chain id 199, one funded account per
 * peer), deploys `BttkitChannel`, runs the demo swarm with a {@link BttcChannelRail} per peer,
 * closes every channel on chain (the payees with their best vouchers; a payer reclaims a channel
 * nobody paid on, after the challenge period, which the local node skips), then prints the
 * summary and what the chain says. Returns true when every channel is finished and every BTT paid
 * in vouchers was collected on chain — each peer's balance moved by exactly earned − paid − gas.
 * Stops the node in every case. @throws {CliError} `CLI_EVM_NODE_MISSING` (no hardhat),
 * `CLI_EVM_NODE_FAILED`, `CLI_DEMO_TIMEOUT`.
 */
export async function runBttcDemo(options: DemoOptions = {}): Promise<boolean> {
  const out = demoOut(options);
  const dir = await mkdtemp(join(tmpdir(), 'bttkit-demo-bttc-'));
  const clients: Client[] = [];
  let node: LocalEvmNode | undefined;
  // Killed (Ctrl-C, a service manager): stop the node first, then die of the same signal.
  const onSignal = (signal: NodeJS.Signals) => {
    node?.stop();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // 1. Content.
    const { torrent } = await createDemoContent(dir, options, 'bttkit demo --chain bttc');

    // 2. Money: a local EVM node, an account per peer, the channel contract.
    const cast = demoCast(options);
    const keys = cast.map(() => `0x${toHex(secp256k1.utils.randomSecretKey())}` as Hex);
    const accounts = keys.map((k) => addressOfPrivateKey(fromHex(k.slice(2))).toLowerCase());
    node = await startLocalEvmNode({
      dir: join(dir, 'evm-node'),
      chainId: CHAIN_ID,
      accounts: keys.map((privateKey) => ({ privateKey, balance: 1000n * BTT })),
    });
    out(
      `local EVM node (hardhat, a test chain on this machine — not BTTC) at ${node.url}, chain id ${node.chainId}: ${keys.length} accounts funded with 1000 BTT each`,
    );
    const rpcUrl = node.url;
    const connect = { rpcUrl, chainId: CHAIN_ID, pollingIntervalMs: 50 };
    const [seederKey, ...others] = keys as [Hex, ...Hex[]];
    const deployed = await BttcChannels.deploy({
      ...connect,
      privateKey: seederKey,
      challengePeriod: CHALLENGE_PERIOD,
    });
    const contract = deployed.address;
    const channels = [
      deployed,
      ...(await Promise.all(
        others.map((privateKey) => BttcChannels.connect({ ...connect, privateKey, address: contract })),
      )),
    ];
    out(`BttkitChannel deployed by the seeder at ${contract} (challenge period ${CHALLENGE_PERIOD} s)`);

    // 3. The swarm, each peer paying / paid through its own channels on the contract.
    const { seeder, leechers } = makeDemoPeers(
      cast,
      (member, i) => {
        const ch = channels[i] as BttcChannels; // one per cast member, same order
        return speed({ ...demoSpeedOptions(member), rail: new BttcChannelRail({ channels: ch }) });
      },
      clients,
    );
    const peers: DemoPeer[] = [seeder, ...leechers];
    const warnings: string[] = [];
    for (const p of peers) {
      p.plugin.on('warning', (w) => {
        const cause = w.cause instanceof Error ? ` (${w.cause.message.split('\n')[0]})` : '';
        warnings.push(`${p.name}: ${w.code}: ${w.message}${cause}`);
      });
    }
    const rpc = new EvmRpc({ url: rpcUrl, requestTimeoutMs: 10_000, maxResponseBytes: 8 * 1024 * 1024 });
    const startBlock = await blockNumber(rpc);
    const before = await Promise.all(accounts.map((a) => balanceOf(rpc, a)));
    await runDemoSwarm(seeder, leechers, torrent, dir, options);

    // 4. Settle: every torrent closes; each payee closes its channels on chain with the best voucher.
    await endDemoSwarm(seeder, leechers, 30_000);
    printDemoTable(seeder, leechers, out);

    // A channel nobody paid on stays open: its payer takes the deposit back (startClose, the
    // challenge period, finishClose). The local node's clock skips the period.
    let chain = await readChannels(rpc, contract, startBlock + 1n);
    const unpaid = [...chain.values()].filter((c) => c.toPayee === undefined);
    for (const c of unpaid) {
      const payer = channels[accounts.indexOf(c.payer)];
      await payer?.startClose(c.id);
    }
    if (unpaid.length > 0) {
      await rpc.call('evm_increaseTime', [CHALLENGE_PERIOD + 1], undefined);
      await rpc.call('evm_mine', [], undefined);
      for (const c of unpaid) await channels[accounts.indexOf(c.payer)]?.finishClose(c.id);
    }
    chain = await readChannels(rpc, contract, startBlock + 1n);
    for (const c of chain.values()) c.status = (await deployed.channel(c.id)).status;
    const gas = await gasBySender(rpc, startBlock + 1n, await blockNumber(rpc));
    const after = await Promise.all(accounts.map((a) => balanceOf(rpc, a)));

    // 5. What the chain says.
    const name = (a: string) => peers[accounts.indexOf(a)]?.name ?? a;
    out('');
    out(`on chain — contract ${contract}, chain id ${CHAIN_ID} (the local node):`);
    out('| channel     | payer → payee   |  deposit | to payee | to payer | status   |');
    out('|-------------|-----------------|----------|----------|----------|----------|');
    for (const c of chain.values()) {
      out(
        `| ${c.id.slice(0, 10)}… | ${`${name(c.payer)} → ${name(c.payee)}`.padEnd(15)} | ${btt(c.deposit).padStart(8)} | ${btt(c.toPayee ?? 0n).padStart(8)} | ${btt(c.toPayer ?? 0n).padStart(8)} | ${(c.status ?? '?').padEnd(8)} |`,
      );
    }
    if (unpaid.length > 0) {
      out(
        `${unpaid.length} channel(s) without a voucher closed by their payer: startClose, then finishClose after the ${CHALLENGE_PERIOD} s challenge period (the local node's clock moved ahead) — the deposit back`,
      );
    }
    const moved = peers.map(
      (_p, i) => (after[i] ?? 0n) - (before[i] ?? 0n) + (gas.get(accounts[i] ?? '') ?? 0n),
    );
    const seederGas = gas.get(accounts[0] ?? '') ?? 0n;
    const seederMoved = moved[0] ?? 0n;
    out(
      `seeder on chain: balance ${signedBtt(seederMoved - seederGas)} BTT, gas ${formatBtt(seederGas)} BTT → ${formatBtt(seederMoved)} BTT collected; paid to it in vouchers: ${formatBtt(seeder.plugin.earned)} BTT → ${seederMoved === seeder.plugin.earned ? 'equal' : 'DIFFERENT'}`,
    );
    const balancesOk = peers.every((p, i) => moved[i] === p.plugin.earned - p.plugin.spent);
    out(`every peer's balance moved by exactly BTT earned − BTT paid − gas: ${balancesOk ? 'yes' : 'NO'}`);
    const paid = peers.reduce((a, p) => a + p.plugin.spent, 0n);
    const collected = [...chain.values()].reduce((a, c) => a + (c.toPayee ?? 0n), 0n);
    const finished = [...chain.values()].every((c) => c.status === 'finished');
    const ok = paid > 0n && collected === paid && finished && balancesOk;
    for (const w of warnings) out(`warning: ${w}`);
    out(
      `paid = collected on chain: ${formatBtt(paid)} BTT paid in vouchers, ${formatBtt(collected)} BTT collected; ${chain.size} channels ${finished ? 'all finished' : 'NOT all finished'} → ${ok ? 'yes' : 'NO'}`,
    );
    out(payingFirstLine(leechers));
    return ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all(clients.map((c) => c.destroy()));
    node?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
