import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TronKey } from '../ledger/keys.js';
import { Ledger } from '../ledger/ledger.js';
import { LedgerService } from '../ledger/service.js';
import { createTorrent } from '../metainfo/create.js';
import { parsePeerAddress } from '../metainfo/magnet.js';
import { fromHex } from '../util/bytes.js';
import { type Connection, TcpTransport } from '../util/transport.js';
import { CliError } from './errors.js';
import { type LogFn, RefLink } from './speed-peer-link.js';
import { SCENARIOS, type Scenario, type ScenarioContext, ScenarioFailure } from './speed-scenarios.js';

const BTT = 10n ** 18n;
/** The scenario played without `--scenario`. */
const BASIC = { payer: 'pay-ack', payee: 'grant-pay' } as const;

function usage(message: string): CliError {
  return new CliError('CLI_USAGE', message);
}

function parseInt10(text: string | undefined, what: string, min: number, max: number, def: number): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!(text.trim() !== '' && Number.isInteger(n) && n >= min && n <= max))
    throw usage(`bad ${what}: ${text}`);
  return n;
}

/** Deterministic content (the same for every run with the same size). */
function contentOf(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0, i = 0; off < size; i++) {
    const block = createHash('sha256').update(`bttkit conformance ${i}`).digest();
    out.set(block.subarray(0, Math.min(32, size - off)), off);
    off += 32;
  }
  return out;
}

/** Runs `bttkit speed-peer` with its arguments; resolves with the exit status. */
export async function speedPeerCommand(args: string[], stop: Promise<string>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string' },
      peer: { type: 'string' },
      port: { type: 'string' },
      scenario: { type: 'string' },
      list: { type: 'boolean' },
      fund: { type: 'string', multiple: true },
      dir: { type: 'string' },
      'ledger-port': { type: 'string' },
      'ledger-id': { type: 'string' },
      reserve: { type: 'string' },
      size: { type: 'string' },
      'piece-length': { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const role = values.role;
  if (role !== 'payer' && role !== 'payee') throw usage('--role takes payer or payee');
  const log: LogFn = (line) =>
    process.stdout.write(
      `${JSON.stringify(line, (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v))}\n`,
    );
  const all = SCENARIOS[role];
  if (values.list) {
    for (const s of all) log({ scenario: s.name, role: s.role, summary: s.summary });
    return 0;
  }
  let chosen: readonly Scenario[];
  if (values.scenario === undefined) chosen = all.filter((s) => s.name === BASIC[role]);
  else if (values.scenario === 'all') chosen = all;
  else {
    chosen = all.filter((s) => s.name === values.scenario);
    if (chosen.length === 0) throw usage(`no ${role} scenario ${values.scenario} (see --list)`);
  }
  const target = values.peer === undefined ? undefined : parsePeerAddress(values.peer);
  if (values.scenario !== undefined && target === undefined) throw usage('--scenario needs --peer host:port');
  if (values['ledger-id'] !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(values['ledger-id']))
    throw usage('bad --ledger-id');
  if (values.reserve !== undefined && !/^(0|[1-9][0-9]{0,77})$/.test(values.reserve))
    throw usage('--reserve takes a decimal number of base units');
  for (const f of values.fund ?? [])
    if (!/^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(f)) throw usage(`bad --fund address: ${f}`);
  const size = parseInt10(values.size, '--size', 1, 64 * 1024 * 1024, 1024 * 1024);
  const pieceLength = parseInt10(
    values['piece-length'],
    '--piece-length',
    16 * 1024,
    4 * 1024 * 1024,
    16 * 1024,
  );
  if (!Number.isInteger(Math.log2(pieceLength))) throw usage('--piece-length must be a power of two');
  const timeoutMs = parseInt10(values.timeout, '--timeout', 1, 3600, 30) * 1000;
  const listenPort = parseInt10(values.port, '--port', 0, 65535, 0);
  const ledgerPort = parseInt10(values['ledger-port'], '--ledger-port', 0, 65535, 0);
  const ledgerId = values['ledger-id'] ?? 'bttkit:conformance';
  const reserve = values.reserve === undefined ? BTT : BigInt(values.reserve);

  // The torrent.
  const ownDir = values.dir === undefined;
  const dir = ownDir ? mkdtempSync(join(tmpdir(), 'bttkit-speed-peer-')) : resolve(values.dir as string);
  mkdirSync(dir, { recursive: true });
  const content = contentOf(size);
  const contentPath = join(dir, 'conformance.bin');
  writeFileSync(contentPath, content);
  const { torrent, metainfo } = await createTorrent(contentPath, { pieceLength });
  const torrentPath = join(dir, 'conformance.torrent');
  writeFileSync(torrentPath, torrent);
  const infoHash = fromHex(metainfo.infoHash);

  // The embedded ledger, served for the peer under test; our account and theirs funded.
  const key = TronKey.generate();
  const ledger = await Ledger.open({ ledgerId });
  const service = new LedgerService(ledger, { operators: [key.address] });
  const transport = new TcpTransport();
  const cleanups: Array<() => Promise<void> | void> = [
    () => service.close(),
    () => ledger.close(),
    () => {
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  ];
  try {
    const url = await service.listen(ledgerPort, '127.0.0.1');
    for (const account of [key.address, ...(values.fund ?? [])]) {
      await ledger.deposit({
        account,
        amount: 1000n * BTT,
        txid: createHash('sha256').update(`fund:${account}`).digest('hex'),
        idempotencyKey: `fund:${account}`,
      });
    }
    const handshake = {
      v: 1,
      addr: key.address,
      ledger: ledgerId,
      token: 'BTT',
      reserve: role === 'payee' ? reserve : 0n,
    };
    let conn = 0;
    const incoming: Connection[] = [];
    let wake: (() => void) | undefined;
    let listenAt: number | undefined;
    if (target === undefined) {
      const listener = await transport.listen({ host: '127.0.0.1', port: listenPort }, (c) => {
        incoming.push(c);
        wake?.();
      });
      listenAt = listener.address.port;
      cleanups.unshift(() => listener.close());
    }
    const nextConnection = async (): Promise<Connection> => {
      if (target === undefined) {
        while (incoming.length === 0) await new Promise<void>((r) => (wake = r));
        return incoming.shift() as Connection;
      }
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          return await transport.connect({ host: target.host, port: target.port });
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    const links: RefLink[] = [];
    const ctx: ScenarioContext = {
      async connect() {
        // A peer may accept connections before it knows the torrent (and close them): retried.
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const c = await nextConnection();
          const link = new RefLink(c, {
            handshake,
            infoHash,
            content,
            pieceLength,
            conn: ++conn,
            log,
            outgoing: target !== undefined,
          });
          links.push(link);
          link.log({ event: 'connected', remote: `${c.remote.host}:${c.remote.port}` });
          try {
            await link.ready();
            return link;
          } catch (err) {
            if (target === undefined || link.peer !== undefined || Date.now() > deadline) throw err;
            if (!link.wire.closed) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      },
      ledger,
      ledgerId,
      token: 'BTT',
      key,
      reserve,
      channelAmount: 10n * BTT,
      content,
      pieceLength,
      timeoutMs,
    };
    log({
      event: 'ready',
      role,
      addr: key.address,
      ledger: { url, id: ledgerId, token: 'BTT' },
      reserve: handshake.reserve,
      torrent: torrentPath,
      content: contentPath,
      infoHash: metainfo.infoHash,
      ...(listenAt !== undefined ? { port: listenAt } : {}),
      funded: values.fund ?? [],
      scenarios: chosen.map((s) => s.name),
    });

    const counts = { pass: 0, fail: 0, skip: 0 };
    const play = async (s: Scenario): Promise<void> => {
      let link: RefLink | undefined;
      try {
        link = await ctx.connect();
        const r = await s.run(ctx, link);
        counts[r.status]++;
        log({ scenario: s.name, status: r.status, ...(r.detail ? { detail: r.detail } : {}) });
      } catch (err) {
        counts.fail++;
        const why = err instanceof Error ? err.message : String(err);
        log({
          scenario: s.name,
          status: 'fail',
          reason: err instanceof ScenarioFailure ? why : `error: ${why}`,
        });
      } finally {
        link?.close();
      }
    };
    const stopped = stop.then(() => 'stopped' as const);
    if (target === undefined && values.scenario === undefined) {
      // Listening: the basic exchange with every peer that connects, until interrupted.
      const basic = chosen[0] as Scenario;
      const loop = (async () => {
        for (;;) await play(basic);
      })();
      await Promise.race([loop, stopped]);
    } else {
      for (const s of chosen) {
        if ((await Promise.race([play(s), stopped])) === 'stopped') break;
      }
    }
    log({ event: 'summary', passed: counts.pass, failed: counts.fail, skipped: counts.skip });
    for (const l of links) l.close();
    return counts.fail > 0 ? 1 : 0;
  } finally {
    for (const c of cleanups) await c();
  }
}
