/**
 * A signed request the service refused must stay refused after a restart while it is valid: its
 * nonce is journaled (issue: a refused `withdraw` executed once the account was funded and the
 * service restarted, because nonces lived in memory only).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FileStore,
  Ledger,
  LedgerService,
  type LedgerStore,
  MemoryStore,
  requestMessage,
  SIGNATURE_HEADER,
  type TronKey,
} from '../../src/ledger/index.js';
import { toHex, utf8 } from '../../src/util/bytes.js';
import { account, LEDGER_ID, T0, txid } from './world.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const operator = account(1000);
const alice = account(31);

let now = T0;
const clock = { now: () => now };

async function serve(store: LedgerStore) {
  const ledger = await Ledger.open({ store, ledgerId: LEDGER_ID, wallClock: clock, snapshotEvery: 0 });
  const service = new LedgerService(ledger, { operators: [operator.address], wallClock: clock });
  const url = await service.listen(0);
  return {
    ledger,
    url,
    close: async () => {
      await service.close();
      await ledger.close();
    },
  };
}

function signed(key: TronKey, type: string, params: unknown) {
  const envelope = {
    v: 1,
    ledger: LEDGER_ID,
    signer: key.address,
    nonce: toHex(crypto.getRandomValues(new Uint8Array(16))),
    expires: now + 60_000,
    params,
  };
  const path = `/v1/${type}`;
  const body = utf8(JSON.stringify(envelope));
  return { path, body, signature: toHex(key.sign(requestMessage('POST', path, body))) };
}

async function send(url: string, r: ReturnType<typeof signed>) {
  const res = await fetch(`${url}${r.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: r.signature },
    body: r.body,
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code };
}

const stores: [string, () => () => LedgerStore][] = [
  [
    'FileStore',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'bttkit-replay-'));
      dirs.push(dir);
      return () => new FileStore(dir);
    },
  ],
  [
    'MemoryStore',
    () => {
      const m = new MemoryStore();
      return () => m;
    },
  ],
];

describe.each(stores)('a refused request after a restart (%s)', (_name, make) => {
  it('is refused as a replay, even once it would pass, until it expires', async () => {
    const open = make();
    let s = await serve(open());
    const withdraw = signed(alice, 'withdraw', {
      account: alice.address,
      amount: '50',
      idempotencyKey: 'w-1',
    });
    expect(await send(s.url, withdraw)).toMatchObject({ status: 409, code: 'LEDGER_INSUFFICIENT_FUNDS' });
    const fund = { account: alice.address, amount: '100', txid: txid('fund-1'), idempotencyKey: 'fund-1' };
    expect((await send(s.url, signed(operator, 'deposit', fund))).status).toBe(200);
    expect(await send(s.url, withdraw)).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_REPLAYED' });

    // Restart: the nonce comes back from the journal.
    await s.close();
    s = await serve(open());
    expect(await send(s.url, withdraw)).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_REPLAYED' });

    // A snapshot keeps it too (compaction while it is valid), and the balance never moved.
    await s.ledger.compact();
    await s.close();
    s = await serve(open());
    expect(await send(s.url, withdraw)).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_REPLAYED' });
    expect((await s.ledger.getAccount(alice.address)).balance).toBe(100n);

    // Expired, the request is refused as expired; a compaction then forgets the nonce.
    now += 61_000;
    expect(await send(s.url, withdraw)).toMatchObject({ status: 401, code: 'LEDGER_REQUEST_EXPIRED' });
    await s.ledger.compact();
    expect(s.ledger.state.data.nonces.size).toBe(0);
    await s.close();
  });
});
