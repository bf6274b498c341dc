import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, Ledger } from '../../../src/ledger/index.js';
import {
  BTT_NATIVE,
  BTTC_LEDGER_ADDRESSES,
  BTTC_MAINNET,
  BttcSettlement,
  erc20Token,
  evmToTronAddress,
  SettlementJournal,
  Settler,
  type TokenProfile,
} from '../../../src/settlement/index.js';
import { Procs } from '../../helpers/procs.js';
import {
  deployTestToken,
  type EvmNode,
  type Key,
  newKey,
  nodeDir,
  sendRaw,
  startEvmNode,
} from './harness.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');
const UNIT = 10n ** 18n;
const AMOUNT = 40n * UNIT;
const procs = new Procs();
afterAll(() => procs.killAll());

interface World {
  dir: string;
  nodeDir: string;
  node: EvmNode;
  hot: Key;
  user: Key;
  dest: Key;
  token: TokenProfile;
  /** `native` or the token's address, for the child. */
  tokenArg: string;
}

function connect(w: World, key: Key) {
  return BttcSettlement.connect({
    privateKey: key.privateKey,
    rpcUrl: w.node.url,
    chain: BTTC_MAINNET,
    token: w.token,
    confirmations: 2,
    pollMs: 10,
    depositStartBlock: 0,
  });
}

async function openAll(w: World) {
  const ledger = await Ledger.open({ store: new FileStore(join(w.dir, 'ledger')), ledgerId: 'crash-ledger' });
  const journal = await SettlementJournal.open(join(w.dir, 'settlement'));
  const adapter = await connect(w, w.hot);
  const settler = new Settler({ ledger, adapter, journal, pollMs: 10, addresses: BTTC_LEDGER_ADDRESSES });
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

/** Mines a block every 25 ms until stopped (the chain moves while a child waits for depth). */
function startMining(node: EvmNode): () => Promise<void> {
  let on = true;
  const loop = (async () => {
    for (let i = 0; on && i < 4000; i++) {
      await node.mine(1);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return async () => {
    on = false;
    await loop;
  };
}

function runChild(w: World, ids: string[], crashAt: string) {
  return new Promise<{ signal: string | null; code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CHILD,
        w.dir,
        w.node.url,
        w.hot.privateKey,
        ids.join(',') || '-',
        crashAt,
        w.tokenArg,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' && code !== 0)
        reject(new Error(`child exited ${code}: ${err.slice(0, 2000)}`));
      else resolve({ signal, code, out });
    });
  });
}

/** Runs the child with the chain mining; the child must finish. */
async function finish(w: World, ids: string[]): Promise<string> {
  const stop = startMining(w.node);
  try {
    const done = await runChild(w, ids, 'none');
    expect(done.signal).toBeNull();
    expect(done.out).toContain('DONE');
    return done.out;
  } finally {
    await stop();
  }
}

const journaledTxid = (out: string, phase: string) =>
  new RegExp(`PHASE ${phase} \\S+ ([0-9a-f]{64})`).exec(out)?.[1];

async function balanceOf(w: World, who: string): Promise<bigint> {
  const a = await connect(w, w.hot);
  return a.balance(who);
}

async function receipt(w: World, txid: string) {
  return w.node.rpc<{ status: string; to: string } | null>('eth_getTransactionReceipt', [`0x${txid}`]);
}

for (const kind of ['native', 'erc20'] as const) {
  describe(`Settler + BttcSettlement (${kind}): crashes, nonces, dropped transactions against a hardhat node`, () => {
    let w: World;
    beforeEach(async () => {
      const [hot, user, dest, minter] = [newKey(), newKey(), newKey(), newKey()];
      const nd = nodeDir();
      const node = await startEvmNode(procs, nd, {
        automine: false,
        accounts: [
          { privateKey: hot.privateKey, balance: 5n * UNIT },
          { privateKey: user.privateKey, balance: 1000n * UNIT },
          { privateKey: minter.privateKey, balance: 10n * UNIT },
        ],
      });
      let token: TokenProfile = BTT_NATIVE;
      let tokenArg = 'native';
      if (kind === 'erc20') {
        tokenArg = await deployTestToken(node, minter, [{ address: user.address, amount: 1000n * UNIT }]);
        token = erc20Token({ address: tokenArg, decimals: 18, symbol: 'TTK' });
      }
      w = {
        dir: await mkdtemp(join(tmpdir(), 'bttkit-bttc-settle-')),
        nodeDir: nd,
        node,
        hot,
        user,
        dest,
        token,
        tokenArg,
      };
    });
    afterEach(async () => {
      w.node.stop();
      await rm(w.dir, { recursive: true, force: true });
      await rm(w.nodeDir, { recursive: true, force: true });
    });

    /** The user deposits 100 on chain; the settler credits it; returns `n` pending withdrawals of 40 to dest. */
    async function depositAndRequest(n = 1): Promise<string[]> {
      const a = await openAll(w);
      const userSide = await connect(w, w.user);
      await userSide.transfer(w.hot.address, 100n * UNIT, 'dep-1');
      await w.node.mine(3);
      const sync = await a.settler.syncDeposits();
      expect(sync.deposits.map((d) => d.from)).toEqual([w.user.address]);
      const account = evmToTronAddress(w.user.address);
      expect((await a.ledger.getAccount(account)).balance).toBe(100n * UNIT);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const { withdrawalId } = await a.ledger.requestWithdrawal({
          account,
          amount: AMOUNT,
          to: evmToTronAddress(w.dest.address),
          idempotencyKey: `wd-${i}`,
        });
        ids.push(withdrawalId);
      }
      await a.close();
      return ids;
    }

    /** Each withdrawal paid once: dest holds exactly n × 40 on chain, the ledger says sent with a mined txid. */
    async function expectPaidOnce(ids: string[]): Promise<string[]> {
      await w.node.mine(3);
      expect(await balanceOf(w, w.dest.address)).toBe(BigInt(ids.length) * AMOUNT);
      const a = await openAll(w);
      const txids: string[] = [];
      for (const id of ids) {
        const view = await a.ledger.getWithdrawal(id);
        expect(view?.status).toBe('sent');
        const txid = view?.txid ?? '';
        expect((await receipt(w, txid))?.status).toBe('0x1');
        txids.push(txid);
      }
      expect(new Set(txids).size).toBe(ids.length);
      expect(a.settler.unsettled()).toEqual([]);
      expect(a.ledger.state.checkInvariants()).toEqual([]);
      expect(await a.ledger.totals()).toMatchObject({
        deposits: 100n * UNIT,
        withdrawals: BigInt(ids.length) * AMOUNT,
      });
      await a.close();
      return txids;
    }

    it('SIGKILL after journaling, before the send: the journaled transaction is sent on restart, paid once', async () => {
      const [id = ''] = await depositAndRequest();
      const crashed = await runChild(w, [id], 'journaled');
      expect(crashed.signal).toBe('SIGKILL');
      const txid = journaledTxid(crashed.out, 'journaled') ?? '';
      await w.node.mine(3);
      expect(await receipt(w, txid)).toBeNull(); // never sent
      await finish(w, [id]);
      expect(await expectPaidOnce([id])).toEqual([txid]);
    });

    it('SIGKILL after the send, before the receipt: paid once', async () => {
      const [id = ''] = await depositAndRequest();
      const crashed = await runChild(w, [id], 'broadcast');
      expect(crashed.signal).toBe('SIGKILL');
      const txid = journaledTxid(crashed.out, 'broadcast') ?? '';
      await finish(w, [id]);
      expect(await expectPaidOnce([id])).toEqual([txid]);
    });

    it('SIGKILL after the receipt, before the journal and the ledger: paid once, recorded on restart', async () => {
      const [id = ''] = await depositAndRequest();
      const stop = startMining(w.node);
      const crashed = await runChild(w, [id], 'confirmed').finally(stop);
      expect(crashed.signal).toBe('SIGKILL');
      const a = await openAll(w);
      expect((await a.ledger.getWithdrawal(id))?.status).toBe('pending');
      expect(a.settler.unsettled()).toEqual([id]);
      await a.close();
      await finish(w, []);
      expect(await expectPaidOnce([id])).toEqual([journaledTxid(crashed.out, 'confirmed')]);
    });

    it('two withdrawals at once take consecutive nonces; a crash between them loses neither', async () => {
      const ids = await depositAndRequest(2);
      const crashed = await runChild(w, ids, 'broadcast');
      expect(crashed.signal).toBe('SIGKILL');
      await finish(w, ids);
      const txids = await expectPaidOnce(ids);
      const nonces = await Promise.all(
        txids.map(async (t) =>
          Number(BigInt((await w.node.rpc<{ nonce: string }>('eth_getTransactionByHash', [`0x${t}`])).nonce)),
        ),
      );
      expect(nonces.sort()).toEqual([0, 1]);
    });

    it('a transaction the node dropped is sent again (same txid), paid once', async () => {
      const [id = ''] = await depositAndRequest();
      const crashed = await runChild(w, [id], 'broadcast');
      const txid = journaledTxid(crashed.out, 'broadcast') ?? '';
      expect(await w.node.rpc<boolean>('hardhat_dropTransaction', [`0x${txid}`])).toBe(true);
      await w.node.mine(3);
      expect(await receipt(w, txid)).toBeNull();
      await finish(w, [id]);
      expect(await expectPaidOnce([id])).toEqual([txid]);
    });

    it('a dropped transaction whose nonce another took is proven dead: a new one pays, once', async () => {
      const [id = ''] = await depositAndRequest();
      const crashed = await runChild(w, [id], 'broadcast');
      const txid = journaledTxid(crashed.out, 'broadcast') ?? '';
      const tx = await w.node.rpc<{ nonce: string }>('eth_getTransactionByHash', [`0x${txid}`]);
      expect(await w.node.rpc<boolean>('hardhat_dropTransaction', [`0x${txid}`])).toBe(true);
      // Another transaction of the hot key takes the nonce (as a second wallet process might).
      await sendRaw(w.node, w.hot, { to: w.hot.address, nonce: Number(BigInt(tx.nonce)), gas: 21_000n });
      await w.node.mine(3);
      const a = await openAll(w);
      const attempt = a.journal.withdrawal(id)?.attempts[0];
      expect(attempt?.txid).toBe(txid);
      if (attempt) expect(await a.adapter.provablyDead(attempt)).toBe(true);
      await a.close();
      await finish(w, [id]);
      const [paid] = await expectPaidOnce([id]);
      expect(paid).not.toBe(txid);
      expect(await receipt(w, txid)).toBeNull();
      const b = await openAll(w);
      expect(b.journal.withdrawal(id)?.attempts.map((t) => t.txid)).toEqual([txid, paid]);
      await b.close();
    });
  });
}
