import { TRANSFER_TOPIC } from '../constants.js';
import { SettlementError } from '../errors.js';
import type { JsonObject, JsonValue } from '../json.js';
import type { BlockRef, Deposit } from '../types.js';
import { addr, arr, data, hash32, hexQty, num, obj, qty } from './rpc.js';

/**
 * Deposit scans of `BttcSettlement` over blocks already known to be solid: native BTT from block
 * transactions, ERC-20 from `Transfer` logs. Every node answer is checked; bounds are explicit.
 * @module
 */

/** Most transactions read from one block. */
export const MAX_TXS_PER_BLOCK = 100_000;
/** Most logs one `eth_getLogs` page may return (lower `maxBlocksPerPage` for a busy token). */
export const MAX_LOGS_PER_PAGE = 10_000;

/** The reads a deposit scan needs (the adapter's own, bounded and checked). */
export interface BlockReader {
  block(tag: string, full: boolean, signal?: AbortSignal): Promise<JsonObject | undefined>;
  receipt(txid: string, signal?: AbortSignal): Promise<JsonObject | undefined>;
  call(method: string, params: readonly unknown[], signal?: AbortSignal): Promise<JsonValue>;
}

/** A block header's number and time (ms). */
export function blockRef(b: JsonObject): BlockRef {
  return { number: num(b.number, 'block.number'), timestamp: num(b.timestamp, 'block.timestamp') * 1000 };
}

/** Native BTT deposits to `address` in blocks `from`..`last` (solid): transactions to it with a successful receipt. */
export async function nativeDeposits(
  r: BlockReader,
  address: string,
  from: number,
  last: number,
  signal?: AbortSignal,
): Promise<{ deposits: Deposit[]; next: number }> {
  const deposits: Deposit[] = [];
  const me = address.toLowerCase();
  let n = from;
  for (; n <= last; n++) {
    const b = await r.block(hexQty(n), true, signal);
    if (!b) break; // a block the node does not have stops the page; it is never skipped
    const ref = blockRef(b);
    if (ref.number !== n)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'block of another height');
    for (const t of arr(b.transactions, 'block.transactions', MAX_TXS_PER_BLOCK)) {
      const tx = obj(t, 'transaction');
      if (typeof tx.to !== 'string' || tx.to.toLowerCase() !== me) continue;
      const value = qty(tx.value, 'transaction.value');
      if (value === 0n) continue;
      const txid = hash32(tx.hash, 'transaction.hash');
      const receipt = await r.receipt(txid, signal);
      if (!receipt || qty(receipt.status, 'receipt.status') !== 1n) continue;
      if (num(receipt.blockNumber, 'receipt.blockNumber') !== n) continue;
      deposits.push({
        txid,
        from: addr(tx.from, 'transaction.from'),
        to: address,
        amount: value,
        blockNumber: n,
        blockTimestamp: ref.timestamp,
      });
    }
  }
  return { deposits, next: n };
}

/** ERC-20 deposits to `address` in blocks `from`..`last` (solid): the token's `Transfer` logs to it. */
export async function erc20Deposits(
  r: BlockReader,
  address: string,
  contract: string,
  from: number,
  last: number,
  signal?: AbortSignal,
): Promise<{ deposits: Deposit[]; next: number }> {
  const me = `0x${address.slice(2).toLowerCase().padStart(64, '0')}`;
  const filter = {
    fromBlock: hexQty(from),
    toBlock: hexQty(last),
    address: contract,
    topics: [`0x${TRANSFER_TOPIC}`, null, me],
  };
  const logs = arr(await r.call('eth_getLogs', [filter], signal), 'eth_getLogs', MAX_LOGS_PER_PAGE);
  const sums = new Map<string, Deposit & { logIndex: number }>();
  const times = new Map<number, { hash: string; timestamp: number }>();
  for (const l of logs) {
    const log = obj(l, 'log');
    if (log.removed === true) continue;
    const topics = arr(log.topics, 'log.topics', 8);
    if (
      typeof log.address !== 'string' ||
      log.address.toLowerCase() !== contract.toLowerCase() ||
      topics.length !== 3 ||
      hash32(topics[0], 'topic0') !== TRANSFER_TOPIC ||
      hash32(topics[2], 'topic2') !== me.slice(2)
    )
      continue;
    const fromWord = hash32(topics[1], 'topic1');
    if (!fromWord.startsWith('000000000000000000000000')) continue;
    const value = data(log.data, 'log.data', 32);
    if (value.length !== 66)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'Transfer data is not a uint256');
    const blockNumber = num(log.blockNumber, 'log.blockNumber');
    if (blockNumber < from || blockNumber > last)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'log outside the range asked for');
    const blockHash = hash32(log.blockHash, 'log.blockHash');
    let t = times.get(blockNumber);
    if (!t) {
      const b = await r.block(hexQty(blockNumber), false, signal);
      if (!b)
        throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'log of a block the node does not have');
      t = { hash: hash32(b.hash, 'block.hash'), timestamp: num(b.timestamp, 'block.timestamp') * 1000 };
      times.set(blockNumber, t);
    }
    if (t.hash !== blockHash)
      throw new SettlementError('SETTLEMENT_NODE_BAD_RESPONSE', 'log of a block not in the chain');
    const txid = hash32(log.transactionHash, 'log.transactionHash');
    const sender = addr(`0x${fromWord.slice(24)}`, 'Transfer from');
    const k = `${txid}:${sender}`;
    const prev = sums.get(k);
    const amount = BigInt(value) + (prev?.amount ?? 0n);
    sums.set(k, {
      txid,
      from: sender,
      to: address,
      amount,
      blockNumber,
      blockTimestamp: t.timestamp,
      logIndex: prev?.logIndex ?? num(log.logIndex, 'log.logIndex'),
    });
  }
  const deposits = [...sums.values()]
    .filter((d) => d.amount > 0n)
    .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex)
    .map(({ logIndex: _, ...d }) => d);
  return { deposits, next: last + 1 };
}
