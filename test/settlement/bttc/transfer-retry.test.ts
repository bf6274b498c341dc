/**
 * `transfer` retried with its idempotency key after the node took the transaction but the answer
 * was lost (a proxy's 502): the retry broadcasts the same signed transaction again — the
 * recipient is paid once. A real hardhat node behind a loopback proxy that drops one answer.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BTT_NATIVE, BTTC_MAINNET, BttcSettlement, SettlementError } from '../../../src/settlement/index.js';
import { Procs } from '../../helpers/procs.js';
import { type EvmNode, newKey, nodeDir, startEvmNode } from './harness.js';

const procs = new Procs();
let node: EvmNode;
let server: Server;
let proxyUrl = '';
let dropNextSend = false;
const hot = newKey();

beforeAll(async () => {
  node = await startEvmNode(procs, nodeDir(), {
    accounts: [{ privateKey: hot.privateKey, balance: 10n ** 21n }],
  });
  // Forwards every request; answers the first send after `dropNextSend` with a 502 once the node took it.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString();
      const r = await fetch(node.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await r.text();
      if (dropNextSend && body.includes('eth_sendRawTransaction')) {
        dropNextSend = false;
        res.writeHead(502).end('bad gateway');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  proxyUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}, 120_000);
afterAll(() => {
  server?.close();
  procs.killAll();
});

it('a transfer retried with its key after a lost answer pays once (the same transaction again)', async () => {
  const s = await BttcSettlement.connect({
    privateKey: hot.privateKey,
    rpcUrl: proxyUrl,
    chain: BTTC_MAINNET,
    token: BTT_NATIVE,
    confirmations: 1,
  });
  const to = newKey().address;
  dropNextSend = true;
  const first = await s.transfer(to, 10n ** 18n, 'withdrawal-42').catch((e: unknown) => e);
  expect(first).toBeInstanceOf(SettlementError);
  expect((first as SettlementError).code).toBe('SETTLEMENT_HTTP_ERROR');
  const again = await s.transfer(to, 10n ** 18n, 'withdrawal-42');
  await node.mine(2);
  expect((await s.confirm(again.txid)).state).toBe('confirmed');
  expect(BigInt(await node.rpc<string>('eth_getBalance', [to, 'latest']))).toBe(10n ** 18n);
}, 60_000);
