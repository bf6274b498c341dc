import { secp256k1 } from '@noble/curves/secp256k1.js';
import { TronWeb } from 'tronweb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TronKey } from '../../src/ledger/keys.js';
import { BTT, BTTOLD, type PreparedTransfer, TronSettlement } from '../../src/settlement/index.js';
import { TronNodeEmulator } from '../../src/settlement/testing/index.js';
import { fromHex, fromUtf8, toHex } from '../../src/util/bytes.js';

const hexMessage = (m: unknown) => fromUtf8(fromHex(String(m)));

function resign(tx: PreparedTransfer, key: TronKey): PreparedTransfer {
  const signed = JSON.parse(tx.payload) as { signature: string[] };
  const sig = secp256k1.sign(fromHex(tx.txid), fromHex(key.exportPrivateKey()), {
    prehash: false,
    format: 'recovered',
  });
  const rs = toHex(sig.subarray(1));
  signed.signature = [`${rs}${((sig[0] as number) + 27).toString(16)}`];
  return { ...tx, payload: JSON.stringify(signed) };
}

describe('TronNodeEmulator refusals reach tronweb in TRON shape and the adapter as typed errors', () => {
  let node: TronNodeEmulator;
  const owner = TronKey.generate();
  const other = TronKey.generate();
  let tronWeb: TronWeb;
  beforeAll(async () => {
    node = await TronNodeEmulator.start({ solidityLag: 1 });
    node.mint(owner.address, BTT, 10n ** 24n);
    node.mint(owner.address, BTTOLD, 1_000_000n);
    node.mine(2);
    tronWeb = new TronWeb({ fullHost: node.url });
  });
  afterAll(() => node.close());

  for (const token of [BTT, BTTOLD]) {
    it(`${token.symbol}: a signature by another key: SIGERROR / TX_BAD_SIGNATURE`, async () => {
      const s = await TronSettlement.connect({ key: owner, token, fullNode: node.url });
      const tx = resign(await s.prepare(other.address, 5n), other);
      const raw = (await tronWeb.trx.sendRawTransaction(JSON.parse(tx.payload))) as unknown as Record<
        string,
        unknown
      >;
      expect(raw).toMatchObject({ code: 'SIGERROR', txid: tx.txid });
      expect(hexMessage(raw.message)).toMatch(/signature/);
      expect(raw.result).toBeUndefined();
      await expect(s.broadcast(tx)).rejects.toMatchObject({ code: 'SETTLEMENT_TX_BAD_SIGNATURE' });
      node.mine(3);
      expect((await s.status(tx.txid)).state).toBe('unknown');
    });

    it(`${token.symbol}: an expired transaction: TRANSACTION_EXPIRATION_ERROR / TX_EXPIRED`, async () => {
      const s = await TronSettlement.connect({ key: owner, token, fullNode: node.url });
      const tx = await s.prepare(other.address, 5n);
      node.mine(21);
      const raw = (await tronWeb.trx.sendRawTransaction(JSON.parse(tx.payload))) as unknown as Record<
        string,
        unknown
      >;
      expect(raw).toMatchObject({ code: 'TRANSACTION_EXPIRATION_ERROR', txid: tx.txid });
      await expect(s.broadcast(tx)).rejects.toMatchObject({ code: 'SETTLEMENT_TX_EXPIRED' });
    });
  }

  it('BTTOLD overdraft: CONTRACT_VALIDATE_ERROR / INSUFFICIENT_BALANCE', async () => {
    const s = await TronSettlement.connect({ key: owner, token: BTTOLD, fullNode: node.url });
    const tx = await s.prepare(other.address, 2_000_000n);
    const raw = (await tronWeb.trx.sendRawTransaction(JSON.parse(tx.payload))) as unknown as Record<
      string,
      unknown
    >;
    expect(raw).toMatchObject({ code: 'CONTRACT_VALIDATE_ERROR' });
    expect(hexMessage(raw.message)).toMatch(/balance is not sufficient/i);
    await expect(s.broadcast(tx)).rejects.toMatchObject({ code: 'SETTLEMENT_INSUFFICIENT_BALANCE' });
  });

  it('BTT overdraft: reverts in its block (receipt REVERT, result FAILED) / TX_FAILED', async () => {
    const s = await TronSettlement.connect({ key: owner, token: BTT, fullNode: node.url, pollMs: 5 });
    const { txid } = await s.transfer(other.address, 10n ** 25n, 'overdraw');
    node.mine(2);
    const info = (await tronWeb.trx.getTransactionInfo(txid)) as unknown as Record<string, unknown>;
    expect(info).toMatchObject({ result: 'FAILED', receipt: { result: 'REVERT' } });
    await expect(s.confirm(txid)).rejects.toMatchObject({
      code: 'SETTLEMENT_TX_FAILED',
      details: { reason: 'REVERT' },
    });
    expect(node.balanceOf(other.address, BTT)).toBe(0n);
  });

  it('a TRC-10 amount above 2^53-1 is refused before tronweb sees it', async () => {
    const s = await TronSettlement.connect({ key: owner, token: BTTOLD, fullNode: node.url });
    const before = new Map(node.requests);
    await expect(s.prepare(other.address, 2n ** 53n)).rejects.toMatchObject({
      code: 'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
    });
    await expect(s.transfer(other.address, 9007199254740993n, 'too-big')).rejects.toMatchObject({
      code: 'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
    });
    expect(node.requests).toEqual(before);
  });

  it('a TRC-20 amount above 2^53 round-trips exactly through tronweb, the node and back', async () => {
    const s = await TronSettlement.connect({ key: owner, token: BTT, fullNode: node.url, pollMs: 5 });
    const amount = 9007199254740993n * 10n ** 6n + 1n;
    const { txid } = await s.transfer(other.address, amount, 'big');
    node.mine(2);
    await s.confirm(txid);
    expect(await s.balance(other.address)).toBe(amount);
    expect(node.balanceOf(other.address, BTT)).toBe(amount);
    const back = await TronSettlement.connect({
      key: other,
      token: BTT,
      fullNode: node.url,
      depositStartBlock: 1000,
    });
    const page = await back.depositsSince(undefined);
    expect(page.deposits.filter((d) => d.txid === txid).map((d) => d.amount)).toEqual([amount]);
  });

  it('follows the solidity lag: pending until solid, balances from the solid view', async () => {
    node.setSolidityLag(4);
    const s = await TronSettlement.connect({ key: owner, token: BTTOLD, fullNode: node.url });
    const to = TronKey.generate().address;
    const { txid } = await s.transfer(to, 11n, 'lag');
    node.mine(1);
    expect((await s.status(txid)).state).toBe('pending');
    expect(await s.balance(to)).toBe(0n);
    node.mine(4);
    expect((await s.status(txid)).state).toBe('confirmed');
    expect(await s.balance(to)).toBe(11n);
    node.setSolidityLag(1);
  });

  it('answers a malformed request in TRON shape and a bad path with 404', async () => {
    const r = await fetch(`${node.url}/wallet/broadcasttransaction`, {
      method: 'POST',
      body: '{"raw_data":',
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toHaveProperty('Error');
    expect((await fetch(`${node.url}/wallet/nosuch`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
