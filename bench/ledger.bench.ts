/**
 * Ledger benchmark (`npm run bench -- ledger`):
 * 1. signatures per second on one core — the reason for per-channel ed25519 keys;
 * 2. CPU share of payment handling during a simulated 400 MB/s paid transfer (in-process), for
 *    both voucher schemes in the same run: the ledger's ed25519 vouchers and the BTTC channel's
 *    EIP-712 (secp256k1) vouchers (issue #20: under 2 % of one core);
 * 3. redeems per second through the file store (and the memory store as baseline);
 * 4. redeems per second through the HTTP service (`bttkit ledger serve` in its own process);
 * 5. redeems per second and p99 latency per redeem: file store vs PostgreSQL (`PgStore`) with one
 *    and with two ledger instances on one database (issue #21). These rows need Debian's
 *    `postgresql` package (`npm run test:deps`): a throwaway cluster is started from
 *    test/helpers/postgres.ts; without it the rows are skipped with a printed line.
 * Every ratio is against a baseline measured in the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  authorizeChannel,
  ChannelKey,
  channelIdFor,
  FileStore,
  Ledger,
  type LedgerApi,
  LedgerClient,
  type LedgerStore,
  MemoryStore,
  PgStore,
  setSignatureBackend,
  signVoucher,
  TronKey,
  type Voucher,
  VoucherSigner,
  VoucherVerifier,
  verifyAccountSignature,
  verifyVoucherSignature,
} from '../src/ledger/index.js';
import { addressOfPrivateKey } from '../src/settlement/bttc/address.js';
import {
  type Eip712Voucher,
  Eip712VoucherSigner,
  Eip712VoucherVerifier,
  recoverVoucherSigner,
  signEip712Voucher,
} from '../src/settlement/bttc/voucher.js';
import { BTTC_CREDIT_BYTES, BTTC_PAY_EVERY_BYTES } from '../src/speed/bttc-rail.js';
import { toHex, utf8 } from '../src/util/bytes.js';
import { sha256 } from '../src/util/hash.js';

const here = dirname(fileURLToPath(import.meta.url));
const rows: [string, string, string, string][] = [];
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

/** CPU milliseconds (user + system) of this process since `since`. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Operations per CPU-second of one core (CPU time, so other load on the machine does not count). */
function rate(fn: () => void, ms = 1000): number {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
  }
  return (n * 1000) / cpuMs(c0);
}

// ---- 1. signatures per second ----
const ck = ChannelKey.generate();
const LID = 'bench-ledger';
const chId = channelIdFor(LID, ck.publicKey);
const vouchers: Voucher[] = Array.from({ length: 256 }, (_, i) => signVoucher(ck, LID, chId, BigInt(i + 1)));
const tron = TronKey.generate();
const msg = utf8('x'.repeat(120));
const accSig = tron.sign(msg);
let vi = 0;
const nextVoucher = () => vouchers[vi++ & 255] as Voucher;

setSignatureBackend('noble');
const secpNoble = rate(() => verifyAccountSignature(tron.address, msg, accSig));
const edNoble = rate(() => verifyVoucherSignature(ck.publicKey, nextVoucher()));
setSignatureBackend('node');
const secpNode = rate(() => verifyAccountSignature(tron.address, msg, accSig));
const edNode = rate(() => verifyVoucherSignature(ck.publicKey, nextVoucher()));
let cum = 0n;
const edSign = rate(() => {
  cum++;
  signVoucher(ck, LID, chId, cum);
});
const secpSign = rate(() => tron.sign(msg));
const base = secpNoble;
rows.push([
  'secp256k1 verify, @noble/curves (baseline: vouchers signed by the TRON key)',
  fmt(secpNoble),
  '/s',
  '1.00×',
]);
rows.push(['secp256k1 verify, node:crypto', fmt(secpNode), '/s', `${(secpNode / base).toFixed(2)}×`]);
rows.push([
  'voucher verify (ed25519), @noble/curves fallback',
  fmt(edNoble),
  '/s',
  `${(edNoble / base).toFixed(2)}×`,
]);
rows.push([
  'voucher verify (ed25519), node:crypto  [target ≥ 5,000]',
  fmt(edNode),
  '/s',
  `${(edNode / base).toFixed(2)}×`,
]);
rows.push(['voucher sign (ed25519), node:crypto', fmt(edSign), '/s', '']);
rows.push(['request/authorization sign (secp256k1), @noble/curves', fmt(secpSign), '/s', '']);

// ---- 2. CPU share of payment handling at 400 MB/s ----
const RATE = 400e6; // bytes per second
const PIECE = 256 * 1024;
const WINDOW = 16; // provider's credit window: 16 pieces = 4 MiB served ahead of a verified payment
const SECONDS = 4;
const pieces = Math.round((RATE * SECONDS) / PIECE);
const pricePerPiece = 10n ** 14n; // base units (18 decimals)

function simulate(payEvery: number, verifyEvery: number): { payer: number; payee: number } {
  const k = ChannelKey.generate();
  const id = channelIdFor(LID, k.publicKey);
  const locked = pricePerPiece * BigInt(pieces + 1);
  const signer = new VoucherSigner(k, LID, id, locked);
  const verifier = new VoucherVerifier(k.publicKey, LID, id, locked);
  // Requester: one voucher per `payEvery` pieces. CPU time, measured over the whole loop.
  const sent: [number, Voucher][] = [];
  let owed = 0n;
  const c0 = process.cpuUsage();
  for (let p = 1; p <= pieces; p++) {
    owed += pricePerPiece;
    if (p % payEvery === 0) {
      sent.push([p, signer.pay(owed)]);
      owed = 0n;
    }
  }
  const payer = cpuMs(c0);
  // Provider: every voucher, or only the newest once per credit window.
  const c1 = process.cpuUsage();
  for (const [p, v] of sent) {
    if (verifyEvery === 1) verifier.accept(v);
    else {
      verifier.offer(v);
      if (p % verifyEvery === 0) verifier.verifyNewest();
    }
  }
  const payee = cpuMs(c1);
  // share of one core = CPU ms per simulated second / 1000 ms, in %
  return { payer: payer / SECONDS / 10, payee: payee / SECONDS / 10 };
}
simulate(1, 1); // warm-up
const everyPiece = simulate(1, 1);
const lazy = simulate(1, WINDOW);
const perMiB = simulate(4, WINDOW);
const pct = (x: number) => `${x.toFixed(2)} %`;
rows.push([
  `400 MB/s, 256 KiB pieces (${fmt(RATE / PIECE)} vouchers/s): provider verifies every voucher (baseline)`,
  pct(everyPiece.payee),
  'of a core',
  '1.00×',
]);
rows.push([
  '  provider verifies only the newest, once per 4 MiB credit window  [target < 2 %]',
  pct(lazy.payee),
  'of a core',
  `${(lazy.payee / everyPiece.payee).toFixed(2)}×`,
]);
rows.push(['  requester signs a voucher per piece', pct(lazy.payer), 'of a core', '']);
rows.push(['  requester signs a voucher per MiB (4 pieces)', pct(perMiB.payer), 'of a core', '']);
rows.push(['  provider + requester, paying per MiB', pct(perMiB.payer + perMiB.payee), 'of a core', '']);

// ---- 2b. the same at 400 MB/s with EIP-712 vouchers (BTTC channel, secp256k1) ----
const evmKey = sha256(utf8('bench-eip712-signer'));
const evmSigner = addressOfPrivateKey(evmKey);
const DOMAIN = { chainId: 199, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const EVM_CH = `0x${toHex(sha256(utf8('bench-eip712-channel')))}`;
const evmVouchers: Eip712Voucher[] = Array.from({ length: 64 }, (_, i) =>
  signEip712Voucher(evmKey, DOMAIN, EVM_CH, BigInt(i + 1)),
);
let ei = 0;
const nextEvm = () => evmVouchers[ei++ & 63] as Eip712Voucher;
const evmRecover = rate(() => recoverVoucherSigner(DOMAIN, nextEvm()));
// Fast path: one recovery per channel, then verification against the recovered key with
// precomputed tables. Timed over 600 presigned, increasing vouchers (signing not counted).
const fastVerifier = new Eip712VoucherVerifier({
  domain: DOMAIN,
  channelId: EVM_CH,
  signer: evmSigner,
  deposit: 1n << 200n,
});
const presigned = Array.from({ length: 600 }, (_, i) =>
  signEip712Voucher(evmKey, DOMAIN, EVM_CH, BigInt(i + 1)),
);
for (const v of presigned.slice(0, 100)) fastVerifier.accept(v); // first: recovery; then warm-up
const cFast = process.cpuUsage();
for (const v of presigned.slice(100)) fastVerifier.accept(v);
const evmFast = (500 * 1000) / cpuMs(cFast);
let evmCum = 0n;
const evmSign = rate(() => {
  evmCum++;
  signEip712Voucher(evmKey, DOMAIN, EVM_CH, evmCum);
});
rows.push([
  'voucher verify (EIP-712, secp256k1 recovery), @noble/curves',
  fmt(evmRecover),
  '/s',
  `${(evmRecover / base).toFixed(2)}×`,
]);
rows.push([
  'voucher verify (EIP-712), fast path: known signer key, precomputed tables',
  fmt(evmFast),
  '/s',
  `${(evmFast / base).toFixed(2)}×`,
]);
rows.push(['voucher sign (EIP-712, secp256k1), @noble/curves', fmt(evmSign), '/s', '']);
{
  const c = process.cpuUsage();
  for (let i = 0; i < 5; i++) {
    const id = `0x${toHex(sha256(utf8(`bench-evm-setup-${i}`)))}`;
    new Eip712VoucherVerifier({ domain: DOMAIN, channelId: id, signer: evmSigner, deposit: 10n }).accept(
      signEip712Voucher(evmKey, DOMAIN, id, 1n),
    );
  }
  rows.push([
    '  first voucher of a channel (recovery + the signer key’s tables), once per channel',
    `${(cpuMs(c) / 5).toFixed(1)} ms`,
    'CPU',
    '',
  ]);
}

function simulateEvm(payEvery: number, verifyEvery: number): { payer: number; payee: number } {
  const deposit = pricePerPiece * BigInt(pieces + 1);
  const channelId = `0x${toHex(sha256(utf8(`bench-evm-${payEvery}-${verifyEvery}-${Math.random()}`)))}`;
  const signer = new Eip712VoucherSigner({ privateKey: evmKey, domain: DOMAIN, channelId, deposit });
  const verifier = new Eip712VoucherVerifier({ domain: DOMAIN, channelId, signer: evmSigner, deposit });
  // Once per channel, not timed here (reported below): the first voucher is checked by recovery,
  // which also builds the signer key's tables.
  verifier.accept(signer.pay(1n));
  const sent: [number, Eip712Voucher][] = [];
  let owed = 0n;
  const c0 = process.cpuUsage();
  for (let p = 1; p <= pieces; p++) {
    owed += pricePerPiece;
    if (p % payEvery === 0) {
      sent.push([p, signer.pay(owed)]);
      owed = 0n;
    }
  }
  const payer = cpuMs(c0);
  const c1 = process.cpuUsage();
  for (const [p, v] of sent) {
    verifier.offer(v);
    if (p % verifyEvery === 0) verifier.verifyNewest();
  }
  const payee = cpuMs(c1);
  return { payer: payer / SECONDS / 10, payee: payee / SECONDS / 10 };
}
simulateEvm(4, WINDOW); // warm-up
const evmLazy = simulateEvm(4, WINDOW);
const evmLazy16 = simulateEvm(4, WINDOW * 4);
const evmPerWindow = simulateEvm(WINDOW, WINDOW);
rows.push([
  '400 MB/s, EIP-712: provider verifies only the newest per 4 MiB window  [target < 2 %]',
  pct(evmLazy.payee),
  'of a core',
  `${(evmLazy.payee / lazy.payee).toFixed(2)}× ed25519`,
]);
rows.push([
  '  provider verifies only the newest per 16 MiB window',
  pct(evmLazy16.payee),
  'of a core',
  `${(evmLazy16.payee / lazy.payee).toFixed(2)}× ed25519 @ 4 MiB`,
]);
rows.push([
  '  credit window at which EIP-712 verification alone is 2 % of a core (from the fast-path rate)',
  `${(RATE / (0.02 * evmFast) / 2 ** 20).toFixed(1)} MiB`,
  '',
  '',
]);
rows.push(['  requester signs a voucher per MiB (4 pieces)', pct(evmLazy.payer), 'of a core', '']);
rows.push(['  requester signs a voucher per 4 MiB window', pct(evmPerWindow.payer), 'of a core', '']);
rows.push([
  '  provider + requester, paying per MiB, verifying per 4 MiB',
  pct(evmLazy.payer + evmLazy.payee),
  'of a core',
  '',
]);

// The BTTC rail's defaults (src/speed/bttc-rail.ts): the requester signs a voucher per
// BTTC_PAY_EVERY_BYTES, the provider verifies the newest at least once per BTTC_CREDIT_BYTES.
{
  const payEvery = Math.round(BTTC_PAY_EVERY_BYTES / PIECE);
  const verifyEvery = Math.round(BTTC_CREDIT_BYTES / PIECE);
  const rail = simulateEvm(payEvery, verifyEvery);
  const label = `${BTTC_PAY_EVERY_BYTES / 2 ** 20} MiB vouchers, ${BTTC_CREDIT_BYTES / 2 ** 20} MiB window`;
  rows.push([
    `400 MB/s, EIP-712 at BttcChannelRail's defaults (${label}): provider  [target < 2 %]`,
    pct(rail.payee),
    'of a core',
    `${(rail.payee / lazy.payee).toFixed(2)}× ed25519 @ 4 MiB`,
  ]);
  rows.push(['  requester at the same defaults  [target < 2 %]', pct(rail.payer), 'of a core', '']);
}

// ---- 3. redeems per second through the stores ----
interface Setup {
  api: LedgerApi;
  work: { payee: TronKey; vouchers: Voucher[] }[];
}

async function setup(
  api: LedgerApi,
  opener: (k: TronKey) => LedgerApi,
  ledgerId: string,
  channels: number,
  perChannel: number,
): Promise<Setup> {
  const payee = TronKey.fromPrivateKey(sha256(utf8('bench-payee')));
  const work: Setup['work'] = [];
  for (let c = 0; c < channels; c++) {
    const payer = TronKey.fromPrivateKey(sha256(utf8(`bench-payer-${c}`)));
    const t = toHex(sha256(utf8(`bench-dep-${ledgerId}-${c}-${Math.random()}`)));
    await api.deposit({ account: payer.address, amount: 10n ** 24n, txid: t, idempotencyKey: t });
    const k = ChannelKey.generate();
    const terms = {
      ledgerId,
      payer: payer.address,
      payee: payee.address,
      channelKey: k.publicKey,
      amount: 10n ** 24n,
      expiresAt: Date.now() + 3_600_000,
    };
    const r = await opener(payer).openChannel({
      ...terms,
      authorization: authorizeChannel(payer, terms),
      idempotencyKey: `open-${c}`,
    });
    const vs = Array.from({ length: perChannel }, (_, i) =>
      signVoucher(k, ledgerId, r.channelId, BigInt(i + 1) * 1000n),
    );
    work.push({ payee, vouchers: vs });
  }
  return { api, work };
}

/** Redeems per second (wall clock) and the latency of every redeem call, in ms. */
interface RedeemRun {
  rate: number;
  latencies: number[];
}

/** `asPayee(key, lane)`: the API that lane `lane` (0 … concurrency − 1) redeems through. */
async function redeemRun(
  s: Setup,
  asPayee: (k: TronKey, lane: number) => LedgerApi,
  concurrency: number,
): Promise<RedeemRun> {
  let done = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    s.work.slice(0, concurrency).map(async (w, c) => {
      const api = asPayee(w.payee, c);
      for (const [i, v] of w.vouchers.entries()) {
        const t = performance.now();
        await api.redeem({ by: w.payee.address, voucher: v, idempotencyKey: `r-${c}-${i}` });
        latencies.push(performance.now() - t);
        done++;
      }
    }),
  );
  return { rate: (done * 1000) / (performance.now() - t0), latencies };
}

async function redeemRate(
  s: Setup,
  asPayee: (k: TronKey) => LedgerApi,
  concurrency: number,
): Promise<number> {
  return (await redeemRun(s, asPayee, concurrency)).rate;
}

/** The 99th percentile (nearest rank) of `xs`. */
function p99(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)] ?? Number.NaN;
}

/**
 * Redeems through `instances` ledgers on stores from `make` (one store each, opened on the same
 * place: a shared store for more than one), the lanes split evenly between them.
 */
async function storeRun(
  make: () => Promise<{ stores: LedgerStore[]; cleanup: () => Promise<void> }>,
  concurrency: number,
  per: number,
): Promise<RedeemRun> {
  const { stores, cleanup } = await make();
  try {
    const ledgers: Ledger[] = [];
    for (const store of stores) ledgers.push(await Ledger.open({ store, ledgerId: LID, snapshotEvery: 0 }));
    const first = ledgers[0] as Ledger;
    const s = await setup(first, () => first, LID, concurrency, per);
    const perLedger = Math.ceil(concurrency / ledgers.length);
    const r = await redeemRun(s, (_k, lane) => ledgers[Math.floor(lane / perLedger)] as Ledger, concurrency);
    for (const l of ledgers) await l.close();
    return r;
  } finally {
    await cleanup();
  }
}

async function storeRate(
  make: () => Promise<{ store: LedgerStore; cleanup: () => Promise<void> }>,
  concurrency: number,
  per: number,
) {
  return storeRun(
    async () => {
      const { store, cleanup } = await make();
      return { stores: [store], cleanup };
    },
    concurrency,
    per,
  );
}

const memory = async () => ({ store: new MemoryStore(), cleanup: async () => {} });
const file = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bttkit-bench-'));
  return { store: new FileStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
};
const memRate = (await storeRate(memory, 64, 100)).rate;
const file1 = (await storeRate(file, 1, 300)).rate;
const file64Run = await storeRate(file, 64, 60);
const file64 = file64Run.rate;
const ms = (x: number) => `${x.toFixed(1)} ms`;
rows.push(['redeems, embedded, memory store, 64 concurrent (baseline)', fmt(memRate), '/s', '1.00×']);
rows.push([
  'redeems, embedded, file store (fsync), 1 at a time',
  fmt(file1),
  '/s',
  `${(file1 / memRate).toFixed(2)}×`,
]);
rows.push([
  'redeems, embedded, file store (fsync, group commit), 64 concurrent',
  fmt(file64),
  '/s',
  `${(file64 / memRate).toFixed(2)}×`,
]);
rows.push(['  p99 latency per redeem (file store, 64 concurrent)', ms(p99(file64Run.latencies)), 'p99', '']);

// ---- 4. redeems per second through the HTTP service (its own process) ----
async function serve(dir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(here, '../src/cli/main.ts'),
        'ledger',
        'serve',
        '--port',
        '0',
        '--data',
        dir,
        '--ledger-id',
        LID,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`ledger serve exited ${code}`)));
  });
}
const dir = await mkdtemp(join(tmpdir(), 'bttkit-bench-http-'));
const { child, url } = await serve(dir);
const opKey = TronKey.fromPrivateKey((await readFile(join(dir, 'operator.key'), 'utf8')).trim());
const clients = new Map<string, LedgerClient>();
const asKey = (k: TronKey) => {
  let c = clients.get(k.address);
  if (!c) {
    c = new LedgerClient({ url, key: k, ledgerId: LID });
    clients.set(k.address, c);
  }
  return c;
};
const httpSetup = await setup(asKey(opKey), asKey, LID, 32, 40);
const http32 = await redeemRate(httpSetup, (k) => new LedgerClient({ url, key: k, ledgerId: LID }), 32);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await rm(dir, { recursive: true, force: true });
rows.push([
  'redeems, HTTP service (file store), 32 concurrent signed requests',
  fmt(http32),
  '/s',
  `${(http32 / file64).toFixed(2)}× file store`,
]);

// ---- 5. file store vs PostgreSQL (PgStore), one and two instances, redeems/s and p99 ----
// Same workload for all three: 64 channels, 60 redeems each, 64 concurrent; each store fresh.
const PG_CONC = 64;
const PG_PER = 60;
const pgFileRun = await storeRate(file, PG_CONC, PG_PER);
const pgFileP99 = p99(pgFileRun.latencies);
const vsFile = (r: RedeemRun) => [
  `${(r.rate / pgFileRun.rate).toFixed(2)}× file store`,
  `${(p99(r.latencies) / pgFileP99).toFixed(2)}× file store`,
];
rows.push([
  'redeems, embedded, file store (fsync, group commit), 64 concurrent (baseline of 5.)',
  fmt(pgFileRun.rate),
  '/s',
  '1.00×',
]);
rows.push(['  p99 latency per redeem', ms(pgFileP99), 'p99', '1.00×']);
let pgCluster: { url: string; newDatabase(): Promise<string>; destroy(): Promise<void> } | undefined;
try {
  const { startPostgres, PgHarnessError } = await import('../test/helpers/postgres.js');
  try {
    pgCluster = await startPostgres();
  } catch (err) {
    if (!(err instanceof PgHarnessError && (err.code === 'PG_NOT_INSTALLED' || err.code === 'PG_NO_USER')))
      throw err;
    console.log(`PostgreSQL rows skipped: ${err.message}`);
  }
  if (pgCluster) {
    const cluster = pgCluster;
    const pgStores = (instances: number) => async () => {
      const connectionString = await cluster.newDatabase();
      const stores = Array.from({ length: instances }, () => new PgStore({ connectionString }));
      return { stores, cleanup: async () => {} }; // the cluster is removed at the end
    };
    const pg1 = await storeRun(pgStores(1), PG_CONC, PG_PER);
    const pg2 = await storeRun(pgStores(2), PG_CONC, PG_PER);
    const [pg1Rate, pg1P99] = vsFile(pg1);
    const [pg2Rate, pg2P99] = vsFile(pg2);
    rows.push([
      'redeems, embedded, PgStore, 1 instance, 64 concurrent',
      fmt(pg1.rate),
      '/s',
      pg1Rate as string,
    ]);
    rows.push(['  p99 latency per redeem', ms(p99(pg1.latencies)), 'p99', pg1P99 as string]);
    rows.push([
      'redeems, embedded, PgStore, 2 instances on one database, 32 concurrent each',
      fmt(pg2.rate),
      '/s',
      pg2Rate as string,
    ]);
    rows.push(['  p99 latency per redeem', ms(p99(pg2.latencies)), 'p99', pg2P99 as string]);
  }
} catch (err) {
  console.error(`PostgreSQL rows failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await pgCluster?.destroy();
}

// ---- report ----
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(
  `ledger benchmark — node ${process.version}; sections 1–2 per CPU-second of one core, 3–5 wall-clock; ratios vs the baseline row above\n`,
);
for (const [a, b, c, d] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)} ${c.padEnd(9)} ${d}`);
