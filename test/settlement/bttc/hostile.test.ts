/**
 * BttcSettlement against a hostile JSON-RPC node (a loopback HTTP server answering what each test
 * scripts): every bad answer ends in a typed, bounded SettlementError — never a crash, a hang or a
 * wrong number.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BTTC_MAINNET, BttcSettlement, erc20Token, SettlementError } from '../../../src/settlement/index.js';
import { newKey } from './harness.js';

type Handler = (params: unknown[]) => unknown;
/** Per method: a result, or a control `{ ctl: { raw } }` (the whole HTTP body), `{ ctl: { status } }`, `{ ctl: { hang: true } }`. */
let handlers: Record<string, Handler> = {};
const key = newKey();
const me = key.address.toLowerCase();
const H = (n: number) => `0x${n.toString(16)}`;
const HASH = `0x${'ab'.repeat(32)}`;

function sane(): Record<string, Handler> {
  const block = (n: number, full = false) => ({
    number: H(n),
    timestamp: H(1_700_000_000 + n),
    hash: `0x${n.toString(16).padStart(64, '0')}`,
    baseFeePerGas: H(1000),
    transactions: full ? [] : [],
  });
  return {
    eth_chainId: () => H(199),
    eth_blockNumber: () => H(100),
    eth_getBlockByNumber: (p) => block(p[0] === 'latest' ? 100 : Number(BigInt(String(p[0]))), p[1] === true),
    eth_getTransactionReceipt: () => null,
    eth_getBalance: () => H(5),
    eth_getTransactionCount: () => H(0),
    eth_maxPriorityFeePerGas: () => H(1),
    eth_estimateGas: () => H(50_000),
    eth_call: () => `0x${'0'.repeat(63)}7`,
    eth_getLogs: () => [],
    eth_sendRawTransaction: () => HASH,
  };
}

let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const r = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      const out = (handlers[r.method] ?? (() => ({ ctl: { status: 404 } })))(r.params);
      const ctl = (typeof out === 'object' && out !== null && 'ctl' in out ? out.ctl : {}) as {
        raw?: string;
        status?: number;
        hang?: boolean;
      };
      const o = ctl;
      if (o.hang) return; // never answers
      if (o.status) {
        res.writeHead(o.status).end('busy');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        o.raw?.replace('__ID__', String(r.id)) ?? JSON.stringify({ jsonrpc: '2.0', id: r.id, result: out }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  handlers = sane();
});

const connect = (extra: Partial<Parameters<typeof BttcSettlement.connect>[0]> = {}) =>
  BttcSettlement.connect({
    privateKey: key.privateKey,
    rpcUrl: url,
    chain: BTTC_MAINNET,
    confirmations: 3,
    requestTimeoutMs: 500,
    maxResponseBytes: 64 * 1024,
    ...extra,
  });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SettlementError);
    return (err as SettlementError).code;
  }
  return 'resolved';
}

describe('BttcSettlement: hostile node answers are typed errors', () => {
  it('the sane script works (control)', async () => {
    const a = await connect();
    expect(await a.balance(a.address)).toBe(5n);
    expect((await a.chainTime()).solid.number).toBe(98);
    expect(await a.status('ab'.repeat(32))).toEqual({ state: 'unknown', txid: 'ab'.repeat(32) });
  });

  it('transport: HTTP 500, silence, a body above the bound, not JSON, too deep, another id', async () => {
    handlers.eth_chainId = () => ({ ctl: { status: 500 } });
    expect(await code(connect())).toBe('SETTLEMENT_HTTP_ERROR');
    handlers.eth_chainId = () => ({ ctl: { hang: true } });
    expect(await code(connect())).toBe('SETTLEMENT_TIMEOUT');
    handlers.eth_chainId = () => ({
      ctl: { raw: `{"jsonrpc":"2.0","id":__ID__,"result":"${'0'.repeat(100_000)}"}` },
    });
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_chainId = () => ({ ctl: { raw: '<html>hello</html>' } });
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_chainId = () => ({ ctl: { raw: `${'['.repeat(5000)}${']'.repeat(5000)}` } });
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_chainId = () => ({ ctl: { raw: '{"jsonrpc":"2.0","id":424242,"result":"0xc7"}' } });
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
  });

  it('values: not a quantity, a block number above 2^53, the wrong chain, a JSON-RPC error', async () => {
    handlers.eth_chainId = () => '0xZZ';
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_chainId = () => 199;
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_chainId = () => H(1);
    expect(await code(connect())).toBe('SETTLEMENT_WRONG_CHAIN');
    handlers = sane();
    handlers.eth_blockNumber = () => `0x${'f'.repeat(20)}`;
    expect(await code(connect())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers = sane();
    const a = await connect();
    handlers.eth_getBalance = () => ({
      ctl: { raw: '{"jsonrpc":"2.0","id":__ID__,"error":{"code":-32000,"message":"boom"}}' },
    });
    expect(await code(a.balance(a.address))).toBe('SETTLEMENT_NODE_ERROR');
    handlers.eth_getBalance = () => ({ ctl: { raw: '{"jsonrpc":"2.0","id":__ID__}' } });
    expect(await code(a.balance(a.address))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getBalance = () => `0x${'1'.repeat(65)}`;
    expect(await code(a.balance(a.address))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
  });

  it('receipts and blocks that lie: another transaction, a bad status, a bad block', async () => {
    const a = await connect();
    const txid = 'cd'.repeat(32);
    handlers.eth_getTransactionReceipt = () => ({ transactionHash: HASH, blockNumber: H(1), status: '0x1' });
    expect(await code(a.status(txid))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getTransactionReceipt = () => ({
      transactionHash: `0x${txid}`,
      blockNumber: H(1),
      status: 'yes',
    });
    handlers.eth_getBlockByNumber = () => ({ number: H(1), timestamp: H(1), hash: HASH });
    handlers.eth_blockNumber = () => H(100);
    expect(await code(a.status(txid))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getBlockByNumber = () => ({ number: H(1), timestamp: '0x', hash: HASH });
    expect(await code(a.chainTime())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getBlockByNumber = () => [1, 2];
    expect(await code(a.chainTime())).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
  });

  it('deposits: a bad value, too many transactions, a block of another height, logs out of range', async () => {
    const a = await connect({ depositStartBlock: 10 });
    const tx = { hash: HASH, from: `0x${'11'.repeat(20)}`, to: me, value: 'lots' };
    handlers.eth_getBlockByNumber = (p) => ({
      number: p[0],
      timestamp: H(1),
      hash: HASH,
      transactions: [tx],
    });
    expect(await code(a.depositsSince(undefined))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getBlockByNumber = () => ({ number: H(11), timestamp: H(1), hash: HASH, transactions: [] });
    expect(await code(a.depositsSince('10'))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getBlockByNumber = (p) => ({
      number: p[0],
      timestamp: H(1),
      hash: HASH,
      transactions: new Array(100_001).fill(0),
    });
    expect(await code(a.depositsSince('10'))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers = sane();
    const t = await connect({
      depositStartBlock: 10,
      token: erc20Token({ address: `0x${'22'.repeat(20)}`, decimals: 18, symbol: 'X' }),
    });
    const topic = (a20: string) => `0x${a20.slice(2).padStart(64, '0')}`;
    handlers.eth_getLogs = () => [
      {
        address: `0x${'22'.repeat(20)}`,
        topics: [
          '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef',
          topic(`0x${'11'.repeat(20)}`),
          topic(me),
        ],
        data: `0x${'0'.repeat(63)}1`,
        blockNumber: H(5000),
        blockHash: HASH,
        transactionHash: HASH,
        logIndex: '0x0',
      },
    ];
    expect(await code(t.depositsSince('10'))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
    handlers.eth_getLogs = () => new Array(10_001).fill({});
    expect(await code(t.depositsSince('10'))).toBe('SETTLEMENT_NODE_BAD_RESPONSE');
  });

  it('fees: a base fee above the cap, a gas estimate above maxGas', async () => {
    const a = await connect({ maxFeePerGas: 999n });
    expect(await code(a.prepare(`0x${'33'.repeat(20)}`, 1n))).toBe('SETTLEMENT_FEE_TOO_HIGH');
    const t = await connect({
      token: erc20Token({ address: `0x${'22'.repeat(20)}`, decimals: 18, symbol: 'X' }),
    });
    handlers.eth_estimateGas = () => H(30_000_000);
    expect(await code(t.prepare(`0x${'33'.repeat(20)}`, 1n))).toBe('SETTLEMENT_FEE_TOO_HIGH');
  });

  it('a cursor beyond the solid head waits there; never passes it', async () => {
    const a = await connect();
    const page = await a.depositsSince('500');
    expect(page).toEqual({ deposits: [], cursor: '500', caughtUp: true });
    const p2 = await a.depositsSince('97');
    expect(p2.cursor).toBe('99'); // solid = 100 − 3 + 1 = 98
  });
});
