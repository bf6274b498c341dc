/**
 * Two `bttkit ledger serve --pg URL` processes on one PostgreSQL database (a throwaway cluster of
 * Debian's PostgreSQL), driven over HTTP by LedgerClients (issue #21):
 * - 1,000-way races across both instances on one balance and on one channel settle exactly once;
 * - 64 concurrent clients doing deposits, opens, redeems, closes and withdrawals while one
 *   instance is SIGKILLed at ≥ 100 random moments (and restarted) and PostgreSQL itself is
 *   stopped in immediate mode once mid-stream: no acknowledged operation is lost, none is applied
 *   twice (every call is retried with its idempotency key until answered, so the books must equal
 *   the acknowledged results exactly), and Σ balances + Σ locked = Σ deposits − Σ withdrawals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizeChannel,
  ChannelKey,
  channelIdFor,
  Ledger,
  LedgerClient,
  LedgerError,
  PgStore,
  signVoucher,
  type TronKey,
} from '../../src/ledger/index.js';
import { utf8 } from '../../src/util/bytes.js';
import { sha256 } from '../../src/util/hash.js';
import { type PgCluster, startPostgres } from '../helpers/postgres.js';
import { account, prng, txid } from './world.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const LEDGER = 'pg-service-ledger';
const KILLS = Number(process.env.LEDGER_PG_KILLS ?? 104);
const CLIENTS = 64;
const operator = account(1000);

/** A free loopback port (each instance keeps its port across restarts, so clients keep their URL). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `node --import tsx src/cli/main.ts`; when esbuild is importable the CLI is bundled once into
 * plain JavaScript first (packages stay external, resolved from the repository's node_modules):
 * the same code, but each of the 100+ restarts then skips tsx's start-up and transpiling.
 */
async function cliCommand(): Promise<string[]> {
  try {
    const esbuild = await import('esbuild');
    const dir = join(ROOT, 'node_modules/.cache/bttkit-pg-service');
    await mkdir(dir, { recursive: true });
    const outfile = join(dir, `main-${process.pid}.mjs`);
    await esbuild.build({
      entryPoints: [MAIN],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile,
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', MAIN];
  }
}

/** One `bttkit ledger serve --pg` instance on a fixed port, killed and restarted at will. */
class Instance {
  child: ChildProcess | undefined;
  up = false;
  starts = 0;
  failedStarts = 0;
  #err = '';
  constructor(
    readonly cmd: string[],
    readonly pgUrl: string,
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Spawns once; resolves true when listening, false if it exited (or was killed) first. */
  spawnOnce(onSpawn?: (c: ChildProcess) => void): Promise<boolean> {
    this.starts++;
    const child = spawn(
      process.execPath,
      [
        ...this.cmd,
        'ledger',
        'serve',
        '--pg',
        this.pgUrl,
        '--port',
        String(this.port),
        '--data',
        this.dir,
        '--ledger-id',
        LEDGER,
        '--operator',
        operator.address,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    onSpawn?.(child);
    return new Promise((resolve) => {
      let out = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        if (!this.up && child === this.child && /listening on http/.test(out)) {
          this.up = true;
          resolve(true);
        }
      });
      child.stderr?.on('data', (c: Buffer) => {
        this.#err = (this.#err + c.toString()).slice(-4000);
      });
      child.on('exit', () => {
        if (child === this.child) this.up = false;
        resolve(false);
      });
    });
  }

  /** Starts, retrying (PostgreSQL may be down) until it listens. */
  async start(): Promise<void> {
    for (let i = 0; ; i++) {
      if (await this.spawnOnce()) return;
      this.failedStarts++;
      if (i > 200) throw new Error(`instance on ${this.port} does not start: ${this.#err}`);
      await sleep(100);
    }
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Outcomes where the client got no answer (or the service could not decide): retry, same key. */
const RETRYABLE = new Set(['LEDGER_HTTP_ERROR', 'LEDGER_JOURNAL_FAILED', 'LEDGER_CLOSED']);

let pg: PgCluster;
let pgUrl: string;
let cmd: string[];
const instances: Instance[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  pgUrl = await pg.newDatabase('service');
  cmd = await cliCommand();
  for (let i = 0; i < 2; i++) {
    const dir = await mkdtemp(join(tmpdir(), `bttkit-pgsvc-${i}-`));
    dirs.push(dir);
    instances.push(new Instance(cmd, pgUrl, await freePort(), dir));
  }
  // The first start names the ledger; the second then joins it.
  await instances[0]?.start();
  await instances[1]?.start();
}, 120_000);

afterAll(async () => {
  for (const inst of instances) await inst.stop().catch(() => undefined);
  await pg?.destroy();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  if (cmd?.length === 1 && cmd[0]) await rm(cmd[0], { force: true });
});

const clientFor = (inst: Instance, key: TronKey, timeoutMs = 15_000) =>
  new LedgerClient({ url: inst.url, key, ledgerId: LEDGER, timeoutMs });

function codes(res: PromiseSettledResult<unknown>[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of res) {
    const c = r.status === 'fulfilled' ? 'ok' : String((r.reason as { code?: string }).code ?? r.reason);
    m.set(c, (m.get(c) ?? 0) + 1);
  }
  return m;
}

describe('two `bttkit ledger serve --pg` instances on one database', () => {
  it('1,000-way races through both instances on one balance and on one channel settle exactly once', async () => {
    const [a, b] = instances as [Instance, Instance];
    const payer = account(2001);
    const payee = account(2002);
    const op = clientFor(a, operator);
    await op.deposit({
      account: payer.address,
      amount: 1000n,
      txid: txid('race-fund'),
      idempotencyKey: 'rf',
    });
    // 1,000 withdrawals of 7 from a balance of 1,000 (after locking 100 below: 900) through both: 128 pass.
    const ck = ChannelKey.fromSeed(sha256(utf8('pg-service-race-channel')));
    const terms = {
      ledgerId: LEDGER,
      payer: payer.address,
      payee: payee.address,
      channelKey: ck.publicKey,
      amount: 100n,
      expiresAt: Date.now() + 3_600_000,
    };
    const opened = await clientFor(b, payer).openChannel({
      ...terms,
      idempotencyKey: 'race-open',
      authorization: authorizeChannel(payer, terms),
    });
    expect(opened.channelId).toBe(channelIdFor(LEDGER, ck.publicKey));
    const payers = [clientFor(a, payer, 110_000), clientFor(b, payer, 110_000)];
    const pick = <T>(xs: T[], i: number): T => xs[i % xs.length] as T;
    const w = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        pick(payers, i).requestWithdrawal({
          account: payer.address,
          amount: 7n,
          idempotencyKey: `race-w${i}`,
        }),
      ),
    );
    expect(codes(w)).toEqual(
      new Map([
        ['ok', 128],
        ['LEDGER_INSUFFICIENT_FUNDS', 872],
      ]),
    );
    expect(new Set(w.flatMap((r) => (r.status === 'fulfilled' ? [r.value.withdrawalId] : []))).size).toBe(
      128,
    );

    // One voucher redeemed 1,000 times (distinct keys) through both: credited once.
    const payees = [clientFor(a, payee, 110_000), clientFor(b, payee, 110_000)];
    const voucher = signVoucher(ck, LEDGER, opened.channelId, 60n);
    const r = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        pick(payees, i).redeem({ by: payee.address, voucher, idempotencyKey: `race-r${i}` }),
      ),
    );
    expect(codes(r)).toEqual(
      new Map([
        ['ok', 1],
        ['LEDGER_VOUCHER_NOT_INCREASING', 999],
      ]),
    );
    // The next voucher under one idempotency key 1,000 times through both: applied once, one answer.
    const v2 = signVoucher(ck, LEDGER, opened.channelId, 70n);
    const same = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        pick(payees, i).redeem({ by: payee.address, voucher: v2, idempotencyKey: 'race-same' }),
      ),
    );
    expect(new Set(same.map((x) => `${x.cumulative}/${x.credited}`))).toEqual(new Set(['70/10']));
    // 1,000 closes of the channel (distinct keys) through both: closed once, 30 refunded once.
    const c = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        pick(payees, i).closeChannel({
          by: payee.address,
          channelId: opened.channelId,
          idempotencyKey: `race-c${i}`,
        }),
      ),
    );
    expect(codes(c)).toEqual(
      new Map([
        ['ok', 1],
        ['LEDGER_CHANNEL_CLOSED', 999],
      ]),
    );
    const closed = c.find((x) => x.status === 'fulfilled');
    expect(closed?.status === 'fulfilled' && closed.value).toMatchObject({ paid: 70n, refunded: 30n });

    for (const inst of [a, b]) {
      const cl = clientFor(inst, operator);
      expect(await cl.getAccount(payer.address)).toMatchObject({
        balance: 1000n - 100n - 896n + 30n,
        locked: 0n,
      });
      expect(await cl.getAccount(payee.address)).toMatchObject({ balance: 70n, locked: 0n });
      expect(await cl.getChannel(opened.channelId)).toMatchObject({ status: 'closed', redeemed: 70n });
    }
  }, 120_000);

  it(`64 clients, ${KILLS} SIGKILLs of an instance and an immediate stop of PostgreSQL lose no acknowledged operation`, async () => {
    const rnd = prng(21);
    const insts = instances as [Instance, Instance];
    let stopping = false;
    let retries = 0;
    const refused: string[] = [];
    let workerError: unknown;

    /** Sends one operation until it is answered: a failure without an answer is retried, same key. */
    async function call<T>(label: string, keyOf: TronKey, f: (c: LedgerClient) => Promise<T>): Promise<T> {
      let pref = Math.floor(rnd() * 2);
      const deadline = Date.now() + 120_000;
      for (let attempt = 0; ; attempt++) {
        if (workerError !== undefined) throw new Error(`${label}: abandoned (another client failed)`);
        const up = insts.filter((x) => x.up);
        const inst = up.length > 0 ? (up[pref % up.length] as Instance) : (insts[pref % 2] as Instance);
        try {
          return await f(clientFor(inst, keyOf));
        } catch (err) {
          if (!(err instanceof LedgerError) || !RETRYABLE.has(err.code)) {
            refused.push(`${label}: ${(err as Error).message}`);
            throw err;
          }
          if (Date.now() > deadline) {
            refused.push(`${label}: no answer after ${attempt + 1} attempts (${err.message})`);
            throw err;
          }
          retries++;
          pref++;
          await sleep(100 + Math.floor(rnd() * 200));
        }
      }
    }

    // What the clients were told (every call ends acknowledged: the books must equal this).
    const acked = {
      deposits: new Map<string, bigint>(), // txid → amount
      channels: new Map<string, bigint>(), // channel id → amount
      redeemed: new Map<string, bigint>(), // channel id → highest acknowledged cumulative
      closed: new Map<string, bigint>(), // channel id → refunded
      withdrawals: new Map<string, bigint>(), // withdrawal id → amount
      balance: new Map<string, bigint>(), // expected balance by address
      ops: 0,
    };
    const add = (addr: string, v: bigint) => acked.balance.set(addr, (acked.balance.get(addr) ?? 0n) + v);

    async function worker(w: number): Promise<void> {
      const payer = account(3000 + w);
      const payee = account(4000 + w);
      for (let round = 0; !stopping; round++) {
        const tag = `w${w}-r${round}`;
        const tx = txid(`${tag}-deposit`);
        const d = await call(`${tag} deposit`, operator, (c) =>
          c.deposit({ account: payer.address, amount: 1000n, txid: tx, idempotencyKey: `${tag}-d` }),
        );
        acked.deposits.set(tx, d.amount);
        add(payer.address, d.amount);
        acked.ops++;

        const ck = ChannelKey.fromSeed(sha256(utf8(`pg-service-${tag}`)));
        const terms = {
          ledgerId: LEDGER,
          payer: payer.address,
          payee: payee.address,
          channelKey: ck.publicKey,
          amount: 600n,
          expiresAt: Date.now() + 3_600_000,
        };
        const authorization = authorizeChannel(payer, terms);
        const o = await call(`${tag} open`, payer, (c) =>
          c.openChannel({ ...terms, authorization, idempotencyKey: `${tag}-o` }),
        );
        acked.channels.set(o.channelId, o.amount);
        add(payer.address, -o.amount);
        acked.ops++;

        // A top-up, so the last voucher (660) is above the opening deposit (600).
        const t = await call(`${tag} topup`, payer, (c) =>
          c.topUpChannel({
            by: payer.address,
            channelId: o.channelId,
            amount: 100n,
            idempotencyKey: `${tag}-t`,
          }),
        );
        expect(t).toEqual({ channelId: o.channelId, added: 100n, amount: 700n });
        acked.channels.set(o.channelId, t.amount);
        add(payer.address, -t.added);
        acked.ops++;

        let redeemed = 0n;
        for (let k = 1; k <= 3; k++) {
          const voucher = signVoucher(ck, LEDGER, o.channelId, BigInt(k) * 220n);
          const r = await call(`${tag} redeem ${k}`, payee, (c) =>
            c.redeem({ by: payee.address, voucher, idempotencyKey: `${tag}-v${k}` }),
          );
          expect(r.cumulative - r.credited).toBe(redeemed);
          redeemed = r.cumulative;
          acked.redeemed.set(o.channelId, r.cumulative);
          add(payee.address, r.credited);
          acked.ops++;
        }
        if (round % 2 === 0) {
          const cl = await call(`${tag} close`, payee, (c) =>
            c.closeChannel({ by: payee.address, channelId: o.channelId, idempotencyKey: `${tag}-c` }),
          );
          expect(cl).toMatchObject({ paid: redeemed, refunded: 700n - redeemed });
          acked.closed.set(o.channelId, cl.refunded);
          add(payer.address, cl.refunded);
          acked.ops++;
        }
        for (const [who, amount] of [
          [payer, 250n],
          [payee, 200n],
        ] as const) {
          const wr = await call(`${tag} withdraw ${who === payer ? 'payer' : 'payee'}`, who, (c) =>
            c.requestWithdrawal({ account: who.address, amount, idempotencyKey: `${tag}-w-${who.address}` }),
          );
          expect(acked.withdrawals.has(wr.withdrawalId)).toBe(false);
          acked.withdrawals.set(wr.withdrawalId, wr.amount);
          add(who.address, -wr.amount);
          acked.ops++;
        }
      }
    }

    const before = await clientFor(insts[0], operator).totals();
    let kills = 0;
    let startupKills = 0;
    let pgCrashed = false;
    const t0 = Date.now();
    const workers = Array.from({ length: CLIENTS }, (_, w) => worker(w));
    const failure = Promise.all(workers).then(
      () => undefined,
      (err: unknown) => err,
    );
    void failure.then((e) => {
      workerError ??= e;
    });

    // One killer per instance: each SIGKILLs its instance at a random moment after it listens and
    // restarts it (so at times both are down); one of them stops PostgreSQL itself once, mid-stream.
    const killer = async (inst: Instance, other: Instance, crashesPg: boolean) => {
      while (kills < KILLS && workerError === undefined) {
        await sleep(100 + Math.floor(rnd() * 400));
        // Mostly one instance down at a time: on a loaded 2-core CI machine a restart takes
        // seconds, and with both down most of the time clients starved (bounded wait).
        const waitForOther = rnd() < 0.9;
        for (let w = 0; waitForOther && w < 150 && !other.up; w++) await sleep(20);
        if (crashesPg && !pgCrashed && kills >= KILLS / 2) {
          // An immediate-mode stop: no checkpoint, WAL replay on the next start.
          pgCrashed = true;
          await pg.crash();
          await sleep(300);
          await pg.restart();
        }
        await inst.kill();
        kills++;
        if (process.env.LEDGER_PG_DEBUG)
          process.stderr.write(
            `kill ${kills} at ${Date.now() - t0} ms, ${acked.ops} ops, ${retries} retries\n`,
          );
        // Sometimes kill it again while it opens the store (during Ledger.open).
        if (rnd() < 0.15) {
          const listening = inst.spawnOnce((c) => {
            setTimeout(() => c.kill('SIGKILL'), Math.floor(rnd() * 150));
          });
          if (!(await listening)) startupKills++;
          else await inst.kill();
        }
        await inst.start();
      }
    };
    await Promise.all([killer(insts[0], insts[1], true), killer(insts[1], insts[0], false)]);
    const streamMs = Date.now() - t0;
    stopping = true;
    await failure;

    // Stop both instances; a fresh Ledger on the database must hold everything acknowledged.
    for (const inst of insts) await inst.stop();
    const ledger = await Ledger.open({ store: new PgStore({ connectionString: pgUrl }), ledgerId: LEDGER });
    try {
      const s = ledger.state;
      // First, nothing acknowledged is missing (checked even when a client failed: the likely cause).
      const lost = [
        ...[...acked.deposits.keys()].filter((t) => !s.data.deposits.has(t)).map((t) => `deposit ${t}`),
        ...[...acked.channels.keys()].filter((id) => !s.channel(id)).map((id) => `channel ${id}`),
        ...[...acked.redeemed]
          .filter(([id, cum]) => (s.channel(id)?.redeemed ?? 0n) < cum)
          .map(([id, cum]) => `voucher ${cum} of ${id}`),
        ...[...acked.closed.keys()]
          .filter((id) => s.channel(id)?.status !== 'closed')
          .map((id) => `close ${id}`),
        ...[...acked.withdrawals.keys()].filter((id) => !s.withdrawal(id)).map((id) => `withdrawal ${id}`),
      ];
      expect(lost, 'acknowledged but not in the database').toEqual([]);
      expect(workerError, String(workerError)).toBeUndefined();
      expect(refused).toEqual([]);
      for (const [id, amount] of acked.channels) {
        const ch = s.channel(id);
        expect(ch?.amount, `channel ${id}`).toBe(amount);
        expect(ch?.redeemed, `channel ${id} redeemed`).toBe(acked.redeemed.get(id) ?? 0n);
        expect(ch?.status, `channel ${id} status`).toBe(acked.closed.has(id) ? 'closed' : 'open');
      }
      for (const [id, amount] of acked.withdrawals)
        expect(s.withdrawal(id)?.amount, `withdrawal ${id}`).toBe(amount);
      for (const [addr, balance] of acked.balance)
        expect(s.account(addr).balance, `balance of ${addr}`).toBe(balance);

      // Exactly once: the books equal what was acknowledged (plus what was there before).
      const sum = (m: Map<string, bigint>) => [...m.values()].reduce((x, y) => x + y, 0n);
      const t = await ledger.totals();
      expect(t.deposits).toBe(sum(acked.deposits) + before.deposits);
      expect(t.withdrawals).toBe(sum(acked.withdrawals) + before.withdrawals);
      expect(t.balances + t.locked).toBe(t.deposits - t.withdrawals);
      expect(s.checkInvariants()).toEqual([]);
      console.log(
        `pg-service: ${kills} SIGKILLs of a listening instance (+${startupKills} during start-up), 1 PostgreSQL immediate stop, ` +
          `${acked.ops} acknowledged ops by ${CLIENTS} clients in ${(streamMs / 1000).toFixed(1)} s, ${retries} retries, ` +
          `${insts[0].starts + insts[1].starts} starts (${insts[0].failedStarts + insts[1].failedStarts} failed), ${s.seq} events`,
      );
      expect(kills).toBeGreaterThanOrEqual(100);
      expect(pgCrashed).toBe(true);
      expect(acked.ops).toBeGreaterThan(kills * 2);
    } finally {
      await ledger.close();
    }
  }, 240_000);
});
