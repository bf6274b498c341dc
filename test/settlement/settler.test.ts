import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, Ledger, TronKey, toHexAddress } from '../../src/ledger/index.js';
import { BTT, SettlementJournal, Settler, TronSettlement } from '../../src/settlement/index.js';
import { TronNodeEmulator } from '../../src/settlement/testing/index.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');
const UNIT = 10n ** 18n;

interface World {
  dir: string;
  node: TronNodeEmulator;
  hot: TronKey;
  user: TronKey;
  dest: string;
}

async function openAll(w: World) {
  const ledger = await Ledger.open({ store: new FileStore(join(w.dir, 'ledger')), ledgerId: 'crash-ledger' });
  const journal = await SettlementJournal.open(join(w.dir, 'settlement'));
  const adapter = await TronSettlement.connect({
    key: w.hot,
    token: BTT,
    fullNode: w.node.url,
    pollMs: 10,
    depositStartBlock: 1000,
  });
  const settler = new Settler({ ledger, adapter, journal, pollMs: 10 });
  return {
    ledger,
    journal,
    adapter,
    settler,
    close: async () => {
      await journal.close();
      await ledger.close();
    },
  };
}

function runChild(w: World, id: string, crashAt: string, onReady: () => void) {
  return new Promise<{ signal: string | null; code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, w.dir, w.node.url, w.hot.exportPrivateKey(), id, crashAt],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      if (!out.includes('READY') && (out + c).includes('READY')) onReady();
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0)
        reject(new Error(`child exited ${code}: ${err.slice(0, 2000)}`));
      else resolve({ signal, code, out });
    });
  });
}

describe('Settler: ledger integration against the real tronweb client and the emulator', () => {
  let w: World;
  beforeEach(async () => {
    const node = await TronNodeEmulator.start({ solidityLag: 2 });
    w = {
      dir: await mkdtemp(join(tmpdir(), 'bttkit-settle-')),
      node,
      hot: TronKey.generate(),
      user: TronKey.generate(),
      dest: TronKey.generate().address,
    };
    node.mint(w.user.address, BTT, 1000n * UNIT);
    node.mint(w.hot.address, BTT, 5n * UNIT);
    node.mine(3);
  });
  afterEach(async () => {
    await w.node.close();
    await rm(w.dir, { recursive: true, force: true });
  });

  /** The user deposits 100 BTT on chain; the settler credits it; returns a pending withdrawal of 40 BTT. */
  async function depositAndRequest(): Promise<string> {
    const a = await openAll(w);
    const userSide = await TronSettlement.connect({
      key: w.user,
      token: BTT,
      fullNode: w.node.url,
      pollMs: 10,
    });
    const { txid } = await userSide.transfer(w.hot.address, 100n * UNIT, 'dep-1');
    w.node.mine(3);
    await a.settler.syncDeposits();
    const { withdrawalId } = await a.ledger.requestWithdrawal({
      account: w.user.address,
      amount: 40n * UNIT,
      to: w.dest,
      idempotencyKey: 'wd-1',
    });
    expect((await a.ledger.getAccount(w.user.address)).balance).toBe(60n * UNIT);
    expect(txid).toMatch(/^[0-9a-f]{64}$/);
    await a.close();
    return withdrawalId;
  }

  async function expectPaidOnce(id: string): Promise<string> {
    const toDest = w.node.transfers().filter((t) => t.success && t.to === toHexAddress(w.dest));
    expect(toDest).toHaveLength(1);
    expect(toDest[0]?.amount).toBe(40n * UNIT);
    expect(w.node.balanceOf(w.dest, BTT)).toBe(40n * UNIT);
    const a = await openAll(w);
    const view = await a.ledger.getWithdrawal(id);
    expect(view?.status).toBe('sent');
    expect(view?.txid).toBe(toDest[0]?.txid);
    expect(a.ledger.state.checkInvariants()).toEqual([]);
    expect(await a.ledger.totals()).toMatchObject({ deposits: 100n * UNIT, withdrawals: 40n * UNIT });
    await a.close();
    return toDest[0]?.txid ?? '';
  }

  it('credits a deposit once even when the adapter reports it twice', async () => {
    const a = await openAll(w);
    const userSide = await TronSettlement.connect({
      key: w.user,
      token: BTT,
      fullNode: w.node.url,
      pollMs: 10,
    });
    const { txid } = await userSide.transfer(w.hot.address, 7n * UNIT, 'dep-twice');
    w.node.mine(3);
    const first = await a.settler.syncDeposits();
    expect(first.deposits.map((d) => d.txid)).toEqual([txid]);
    // Report it again: replay from the start (as after a crash before the cursor was journaled).
    const again = await a.adapter.depositsSince(undefined);
    expect(again.deposits.map((d) => d.txid)).toEqual([txid]);
    await a.journal.setCursor('1000');
    const second = await a.settler.syncDeposits();
    expect(second.deposits.length + second.refused.length).toBe(1);
    expect((await a.ledger.getAccount(w.user.address)).balance).toBe(7n * UNIT);
    expect((await a.ledger.totals()).deposits).toBe(7n * UNIT);
    await a.close();
  });

  it('pays a withdrawal in-process and records it once', async () => {
    const id = await depositAndRequest();
    const a = await openAll(w);
    w.node.startMining(15);
    const out = await a.settler.payWithdrawal(id, { timeoutMs: 20_000 });
    w.node.stopMining();
    expect(out.outcome).toBe('sent');
    expect(await a.settler.payWithdrawal(id)).toEqual(out);
    await a.close();
    await expectPaidOnce(id);
  });

  it('SIGKILL between signing and broadcast: the journaled transaction is broadcast on restart, paid once', async () => {
    const id = await depositAndRequest();
    const crashed = await runChild(w, id, 'journaled', () => undefined);
    expect(crashed.signal).toBe('SIGKILL');
    const journaledTxid = /PHASE journaled \S+ ([0-9a-f]{64})/.exec(crashed.out)?.[1];
    expect(w.node.pending).toBe(0);
    const done = await runChild(w, id, 'none', () => w.node.startMining(40));
    w.node.stopMining();
    expect(done.out).toContain('DONE');
    expect(await expectPaidOnce(id)).toBe(journaledTxid);
  });

  it('SIGKILL between signing and broadcast, then the transaction expires: a new one is made, paid once', async () => {
    const id = await depositAndRequest();
    const crashed = await runChild(w, id, 'journaled', () => undefined);
    const journaledTxid = /PHASE journaled \S+ ([0-9a-f]{64})/.exec(crashed.out)?.[1];
    w.node.mine(30);
    const done = await runChild(w, id, 'none', () => w.node.startMining(40));
    w.node.stopMining();
    expect(done.out).toContain('DONE');
    const txid = await expectPaidOnce(id);
    expect(txid).not.toBe(journaledTxid);
  });

  it('SIGKILL between broadcast and journaling its result: paid once', async () => {
    const id = await depositAndRequest();
    const crashed = await runChild(w, id, 'broadcast', () => undefined);
    expect(crashed.signal).toBe('SIGKILL');
    expect(w.node.pending).toBe(1);
    const done = await runChild(w, id, 'none', () => w.node.startMining(40));
    w.node.stopMining();
    expect(done.out).toContain('DONE');
    await expectPaidOnce(id);
  });

  it('SIGKILL after confirmation, before the ledger knows: paid once, recorded on restart', async () => {
    const id = await depositAndRequest();
    const crashed = await runChild(w, id, 'confirmed', () => w.node.startMining(40));
    w.node.stopMining();
    expect(crashed.signal).toBe('SIGKILL');
    const a = await openAll(w);
    expect((await a.ledger.getWithdrawal(id))?.status).toBe('pending');
    expect(a.settler.unsettled()).toEqual([id]);
    const outs = await a.settler.recover({ timeoutMs: 20_000 });
    expect(outs.map((o) => o.outcome)).toEqual(['sent']);
    await a.close();
    await expectPaidOnce(id);
  });

  it('refunds a withdrawal no transaction can carry, and leaves one above the hot-wallet limit pending', async () => {
    const a = await openAll(w);
    const userSide = await TronSettlement.connect({
      key: w.user,
      token: BTT,
      fullNode: w.node.url,
      pollMs: 10,
    });
    await userSide.transfer(w.hot.address, 10n * UNIT, 'dep-x');
    w.node.mine(3);
    await a.settler.syncDeposits();
    const self = await a.ledger.requestWithdrawal({
      account: w.user.address,
      amount: UNIT,
      to: w.hot.address,
      idempotencyKey: 'w-self',
    });
    expect((await a.settler.payWithdrawal(self.withdrawalId)).outcome).toBe('failed');
    expect((await a.ledger.getAccount(w.user.address)).balance).toBe(10n * UNIT);
    const limited = new Settler({
      ledger: a.ledger,
      adapter: a.adapter,
      journal: a.journal,
      maxWithdrawal: UNIT,
    });
    const big = await a.ledger.requestWithdrawal({
      account: w.user.address,
      amount: 2n * UNIT,
      to: w.dest,
      idempotencyKey: 'w-big',
    });
    await expect(limited.payWithdrawal(big.withdrawalId)).rejects.toMatchObject({
      code: 'SETTLEMENT_OVER_LIMIT',
    });
    expect((await a.ledger.getWithdrawal(big.withdrawalId))?.status).toBe('pending');
    await a.close();
  });
});
