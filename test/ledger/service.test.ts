import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizeChannel,
  ChannelKey,
  errorFromResponse,
  LEDGER_ERROR_CODES,
  LEDGER_ERROR_STATUS,
  Ledger,
  type LedgerApi,
  LedgerClient,
  LedgerService,
  MemoryStore,
  requestMessage,
  SIGNATURE_HEADER,
  type TronKey,
} from '../../src/ledger/index.js';
import { toHex, utf8 } from '../../src/util/bytes.js';
import { ledgerApiSuite } from './api-suite.js';
import { codeOf } from './helpers.js';
import { account, LEDGER_ID, T0, txid } from './world.js';

const operatorKey = account(1000);

async function startService() {
  let now = T0;
  const clock = { now: () => now };
  const ledger = await Ledger.open({ store: new MemoryStore(), ledgerId: LEDGER_ID, wallClock: clock });
  const service = new LedgerService(ledger, { operators: [operatorKey.address], wallClock: clock });
  const url = await service.listen(0);
  const clients = new Map<string, LedgerApi>();
  const as = (key: TronKey): LedgerApi => {
    let c = clients.get(key.address);
    if (!c) {
      c = new LedgerClient({ url, key, wallClock: clock });
      clients.set(key.address, c);
    }
    return c;
  };
  return {
    ledger,
    service,
    url,
    as,
    clock,
    advance: (ms: number) => {
      now += ms;
    },
    close: async () => {
      await service.close();
      await ledger.close();
    },
  };
}

ledgerApiSuite('LedgerClient → LedgerService (HTTP)', async () => {
  const s = await startService();
  return {
    ledgerId: LEDGER_ID,
    as: s.as,
    operator: s.as(operatorKey),
    state: () => s.ledger.state,
    advance: s.advance,
    now: s.clock.now,
    close: s.close,
  };
});

describe('LedgerService: signed requests', () => {
  let s: Awaited<ReturnType<typeof startService>>;
  const alice = account(20);
  const mallory = account(21);
  beforeAll(async () => {
    s = await startService();
  });
  afterAll(async () => {
    await s.close();
  });

  /** Builds a signed request exactly like the client does, so tests can tamper with it. */
  function signed(key: TronKey, type: string, params: unknown, over: Record<string, unknown> = {}) {
    const envelope = {
      v: 1,
      ledger: LEDGER_ID,
      signer: key.address,
      nonce: toHex(crypto.getRandomValues(new Uint8Array(16))),
      expires: s.clock.now() + 30_000,
      params,
      ...over,
    };
    const path = `/v1/${type}`;
    const body = utf8(JSON.stringify(envelope));
    return { path, body, signature: toHex(key.sign(requestMessage('POST', path, body))) };
  }

  async function send(
    r: { path: string; body: Uint8Array; signature: string },
    headers: Record<string, string> = {},
  ) {
    const res = await fetch(`${s.url}${r.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: r.signature, ...headers },
      body: r.body,
    });
    const json = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: json.error?.code, json };
  }

  const depositParams = (label: string, who = alice) => ({
    account: who.address,
    amount: '1000',
    txid: txid(label),
    idempotencyKey: label,
  });

  it('accepts a correctly signed operator request', async () => {
    const r = await send(signed(operatorKey, 'deposit', depositParams('ok-1')));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ account: alice.address, amount: '1000' });
  });

  it('refuses a mutating request signed by someone else (403)', async () => {
    await send(signed(operatorKey, 'deposit', depositParams('fund-a')));
    const params = { account: alice.address, amount: '10', idempotencyKey: 'steal' };
    const r = await send(signed(mallory, 'withdraw', params));
    expect(r).toMatchObject({ status: 403, code: 'LEDGER_NOT_YOURS' });
    const client = new LedgerClient({ url: s.url, key: mallory, wallClock: s.clock });
    expect(
      await codeOf(() =>
        client.requestWithdrawal({ account: alice.address, amount: 10n, idempotencyKey: 'steal-2' }),
      ),
    ).toBe('LEDGER_NOT_YOURS');
    expect(
      await codeOf(() =>
        client.deposit({ account: mallory.address, amount: 10n, txid: txid('fake'), idempotencyKey: 'f' }),
      ),
    ).toBe('LEDGER_NOT_OPERATOR');
    expect((await s.ledger.getAccount(alice.address)).balance).toBeGreaterThanOrEqual(1000n);
    expect((await s.ledger.getAccount(mallory.address)).balance).toBe(0n);
  });

  it('takes a top-up only signed by the payer (POST /v1/topup)', async () => {
    await send(signed(operatorKey, 'deposit', depositParams('fund-topup')));
    const ck = ChannelKey.generate();
    const terms = {
      ledgerId: LEDGER_ID,
      payer: alice.address,
      payee: mallory.address,
      channelKey: ck.publicKey,
      amount: 100n,
      expiresAt: s.clock.now() + 60_000,
    };
    const { channelId } = await s.ledger.openChannel({
      ...terms,
      authorization: authorizeChannel(alice, terms),
      idempotencyKey: 'topup-open',
    });
    const before = await s.ledger.getAccount(alice.address);
    const params = { by: alice.address, channelId, amount: '40', idempotencyKey: 'topup-1' };
    expect(await send(signed(mallory, 'topup', params))).toMatchObject({
      status: 403,
      code: 'LEDGER_NOT_YOURS',
    });
    const asPayee = { ...params, by: mallory.address, idempotencyKey: 'topup-2' };
    expect(await send(signed(mallory, 'topup', asPayee))).toMatchObject({
      status: 403,
      code: 'LEDGER_NOT_YOURS',
    });
    expect(await send(signed(alice, 'topup', { ...params, extra: 1 }))).toMatchObject({
      status: 400,
      code: 'LEDGER_BAD_REQUEST',
    });
    expect(await send(signed(alice, 'topup', { ...params, amount: 40 }))).toMatchObject({
      status: 400,
      code: 'LEDGER_BAD_AMOUNT',
    });
    expect(await s.ledger.getAccount(alice.address)).toEqual(before);
    const r = await send(signed(alice, 'topup', params));
    expect(r).toMatchObject({ status: 200, json: { channelId, added: '40', amount: '140' } });
    expect(await s.ledger.getAccount(alice.address)).toEqual({
      ...before,
      balance: before.balance - 40n,
      locked: before.locked + 40n,
    });
  });

  it('refuses a replayed signed request (401)', async () => {
    const req = signed(alice, 'withdraw', {
      account: alice.address,
      amount: '1',
      idempotencyKey: 'replay-w',
    });
    await send(signed(operatorKey, 'deposit', depositParams('fund-r')));
    expect((await send(req)).status).toBe(200);
    const again = await send(req);
    expect(again).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_REPLAYED' });
  });

  it('refuses an expired request (401), and one valid too far ahead (400)', async () => {
    const expired = signed(
      alice,
      'withdraw',
      { account: alice.address, amount: '1', idempotencyKey: 'exp' },
      { expires: s.clock.now() - 1 },
    );
    expect(await send(expired)).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_EXPIRED' });
    const late = signed(alice, 'withdraw', { account: alice.address, amount: '1', idempotencyKey: 'exp2' });
    s.advance(31_000);
    expect(await send(late)).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_EXPIRED' });
    const far = signed(
      alice,
      'withdraw',
      { account: alice.address, amount: '1', idempotencyKey: 'far' },
      { expires: s.clock.now() + 3_600_000 },
    );
    expect(await send(far)).toMatchObject({ status: 400, code: 'LEDGER_BAD_EXPIRY' });
  });

  it('refuses a forged or tampered signature (401)', async () => {
    const req = signed(operatorKey, 'deposit', depositParams('forge'));
    const tampered = { ...req, body: utf8(new TextDecoder().decode(req.body).replace('"1000"', '"9000"')) };
    expect(await send(tampered)).toMatchObject({ status: 401, code: 'LEDGER_BAD_SIGNATURE' });
    const otherPath = { ...req, path: '/v1/withdraw' };
    expect((await send(otherPath)).status).toBe(401);
    const claimed = signed(mallory, 'deposit', depositParams('forge2'), { signer: operatorKey.address });
    expect(await send(claimed)).toMatchObject({ status: 401, code: 'LEDGER_BAD_SIGNATURE' });
    expect(await send({ ...req, signature: 'zz' })).toMatchObject({
      status: 401,
      code: 'LEDGER_BAD_SIGNATURE',
    });
    expect(
      await send(signed(operatorKey, 'deposit', depositParams('wrong-ledger'), { ledger: 'other' })),
    ).toMatchObject({
      status: 409,
      code: 'LEDGER_ID_MISMATCH',
    });
  });

  it('caps the body size (413) and refuses malformed bodies (400)', async () => {
    const big = signed(operatorKey, 'deposit', { ...depositParams('big'), pad: 'x'.repeat(70_000) });
    expect(await send(big)).toMatchObject({ status: 413, code: 'LEDGER_BODY_TOO_LARGE' });
    const notJson = { path: '/v1/deposit', body: utf8('{nope'), signature: '00'.repeat(97) };
    expect(await send(notJson)).toMatchObject({ status: 400, code: 'LEDGER_BAD_REQUEST' });
    const extra = signed(operatorKey, 'deposit', { ...depositParams('extra'), extra: 1 });
    expect(await send(extra)).toMatchObject({ status: 400, code: 'LEDGER_BAD_REQUEST' });
    const badAmount = signed(operatorKey, 'deposit', { ...depositParams('amt'), amount: 1000 });
    expect(await send(badAmount)).toMatchObject({ status: 400, code: 'LEDGER_BAD_AMOUNT' });
    const res = await fetch(`${s.url}/v1/nothing`);
    expect(res.status).toBe(404);
  });

  it('never answers 500 or hangs on random bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.string(), fc.uint8Array({ maxLength: 200 })), async (junk) => {
        const body = typeof junk === 'string' ? utf8(junk) : junk;
        const r = await fetch(`${s.url}/v1/redeem`, {
          method: 'POST',
          headers: { [SIGNATURE_HEADER]: toHex(alice.sign(requestMessage('POST', '/v1/redeem', body))) },
          body,
        });
        expect([400, 401, 403, 404, 409]).toContain(r.status);
        const j = (await r.json()) as { error: { code: string } };
        expect(typeof j.error.code).toBe('string');
      }),
      { numRuns: 150 },
    );
  });
});

describe('error codes on the HTTP API', () => {
  it('are listed once each, LEDGER_-prefixed, each with an HTTP status', () => {
    expect(new Set(LEDGER_ERROR_CODES).size).toBe(LEDGER_ERROR_CODES.length);
    for (const c of LEDGER_ERROR_CODES) expect(c).toMatch(/^LEDGER_[A-Z0-9_]+$/);
    expect(Object.keys(LEDGER_ERROR_STATUS).sort()).toEqual([...LEDGER_ERROR_CODES].sort());
  });

  it('map back to the same code on the client, also the unprefixed codes of an older service', () => {
    const reply = (code: unknown) => ({ error: { code, message: 'm' } });
    expect(errorFromResponse(409, reply('LEDGER_INSUFFICIENT_FUNDS')).code).toBe('LEDGER_INSUFFICIENT_FUNDS');
    expect(errorFromResponse(409, reply('INSUFFICIENT_FUNDS')).code).toBe('LEDGER_INSUFFICIENT_FUNDS');
    expect(errorFromResponse(503, reply('LEDGER_CLOSED')).code).toBe('LEDGER_CLOSED');
    for (const unknown of ['NOPE', 'LEDGER_NOPE', 42, undefined, 'x'.repeat(100)]) {
      expect(errorFromResponse(500, reply(unknown)).code).toBe('LEDGER_HTTP_ERROR');
    }
  });
});
