import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SETTLEMENT_ERROR_CODES, SettlementError, SettlementJournal } from '../../src/settlement/index.js';
import type { PreparedTransfer } from '../../src/settlement/types.js';

const TX: PreparedTransfer = {
  txid: 'ab'.repeat(32),
  from: 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8',
  to: 'TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf',
  amount: 10n ** 24n,
  expiration: 1_700_000_060_000,
  payload: '{"signed":true}',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bttkit-setjournal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SettlementError) return err.code;
    throw err;
  }
  throw new Error('expected a SettlementError');
}

async function populated(): Promise<void> {
  const j = await SettlementJournal.open(dir);
  await j.setCursor('1234');
  await j.recordAttempt('w1', TX);
  await j.recordBroadcast('w1', TX.txid, 'ok');
  await j.recordAttempt('w2', { ...TX, txid: 'cd'.repeat(32) });
  await j.recordSettled('w1', 'sent', TX.txid);
  await j.close();
}

describe('SettlementJournal', () => {
  it('keeps an EVM attempt (nonce, no expiration) exactly; refuses an attempt with neither', async () => {
    const evm: PreparedTransfer = {
      txid: 'ef'.repeat(32),
      from: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      to: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
      amount: 2n ** 200n,
      nonce: 7,
      payload: `0x02${'00'.repeat(100)}`,
    };
    const j = await SettlementJournal.open(dir);
    await j.recordAttempt('w-evm', evm);
    await j.close();
    const k = await SettlementJournal.open(dir);
    expect(k.withdrawal('w-evm')?.attempts).toEqual([evm]);
    expect(k.withdrawal('w-evm')?.attempts[0]).not.toHaveProperty('expiration');
    expect(await codeOf(k.recordAttempt('w-bad', { ...TX, expiration: undefined }))).toBe(
      'SETTLEMENT_TX_MISMATCH',
    );
    await k.close();
    const again = await SettlementJournal.open(dir);
    expect(again.withdrawal('w-bad')).toBeUndefined();
    await again.close();
  });

  it('replays cursor, attempts, broadcasts and settlements', async () => {
    await populated();
    const j = await SettlementJournal.open(dir);
    expect(j.cursor).toBe('1234');
    expect(j.withdrawal('w1')).toMatchObject({ attempts: [TX], settled: { outcome: 'sent', txid: TX.txid } });
    expect(j.withdrawal('w1')?.broadcasts.get(TX.txid)).toBe('ok');
    expect(j.unsettled()).toEqual(['w2']);
    expect(j.truncatedBytes).toBe(0);
    await j.close();
    expect(await codeOf(j.setCursor('9'))).toBe('SETTLEMENT_CLOSED');
  });

  it('cuts a torn tail and keeps every complete record', async () => {
    await populated();
    const path = join(dir, 'settlement.log');
    const full = await readFile(path);
    await writeFile(path, full.subarray(0, full.length - 3));
    const j = await SettlementJournal.open(dir);
    expect(j.truncatedBytes).toBeGreaterThan(0);
    expect(j.withdrawal('w1')?.settled).toBeUndefined(); // the last record was the one cut
    expect(j.unsettled()).toEqual(['w1', 'w2']);
    await j.close();
  });

  it('refuses a damaged record followed by good ones (SETTLEMENT_JOURNAL_CORRUPT), and releases its lock', async () => {
    await populated();
    const path = join(dir, 'settlement.log');
    const data = new Uint8Array(await readFile(path));
    (data[8 + 8 + 3] as number) ^= 0x01; // inside the first record's payload
    await writeFile(path, data);
    expect(await codeOf(SettlementJournal.open(dir))).toBe('SETTLEMENT_JOURNAL_CORRUPT');
    expect(await codeOf(SettlementJournal.open(dir))).toBe('SETTLEMENT_JOURNAL_CORRUPT'); // not LOCKED
  });

  it('refuses a second opener (SETTLEMENT_JOURNAL_LOCKED) and takes over a stale lock of its own pid', async () => {
    const j = await SettlementJournal.open(dir);
    expect(await codeOf(SettlementJournal.open(dir))).toBe('SETTLEMENT_JOURNAL_LOCKED');
    await j.close();
    // Left by an earlier process that had this pid (it used to block the journal for good).
    await writeFile(join(dir, 'LOCK'), String(process.pid));
    const again = await SettlementJournal.open(dir);
    await again.close();
  });

  it('lists every code it can carry, each SETTLEMENT_-prefixed and unique', () => {
    expect(new Set(SETTLEMENT_ERROR_CODES).size).toBe(SETTLEMENT_ERROR_CODES.length);
    for (const c of SETTLEMENT_ERROR_CODES) expect(c).toMatch(/^SETTLEMENT_[A-Z0-9_]+$/);
  });
});
