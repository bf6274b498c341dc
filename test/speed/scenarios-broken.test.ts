/**
 * The strengthened conformance scenarios of the reference peer (src/cli/speed-scenarios*.ts),
 * played in-process as the payee against a bttkit requester (a Client with the Speed plug-in)
 * over an in-memory transport and an embedded ledger: each passes against bttkit, and fails
 * against a requester with the bug it names, re-introduced by a plug-in that tampers with the
 * `btt_speed` extension of each wire (the same bugs passed the scenarios before they were
 * strengthened).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefLink } from '../../src/cli/speed-peer-link.js';
import { SCENARIOS, type ScenarioContext } from '../../src/cli/speed-scenarios.js';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { Client, type Torrent, type TorrentPlugin } from '../../src/session/index.js';
import { speed } from '../../src/speed/index.js';
import { fromHex } from '../../src/util/bytes.js';
import { MemoryTransport } from '../../src/util/index.js';
import { BttRejectCode, BttSpeedExtension, decodeBttMessage } from '../../src/wire/btt-speed.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const BTT = 10n ** 18n;
const LEDGER_ID = 'bttkit:scenarios';
const PIECE = 16 * 1024;

const tmp = tempDir('bttkit-scenarios-');
const clients: Client[] = [];
let ledger: Ledger;
let torrent: Uint8Array;
let infoHash: Uint8Array;
const content = pseudoRandomBytes(32 * PIECE, 11);
const refKey = TronKey.generate();
const transport = new MemoryTransport();

beforeAll(async () => {
  writeFileSync(join(tmp.path, 'c.bin'), content);
  const created = await createTorrent(join(tmp.path, 'c.bin'), { pieceLength: PIECE });
  torrent = created.torrent;
  infoHash = fromHex(created.metainfo.infoHash);
  ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  await ledger.deposit({
    account: refKey.address,
    amount: 1000n * BTT,
    txid: 'a'.repeat(64),
    idempotencyKey: 'a',
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  tmp.cleanup();
});

/** A plug-in, attached before the Speed plug-in, that tampers with each wire's `btt_speed` extension. */
function bug(tamper: (ext: BttSpeedExtension) => void): TorrentPlugin {
  return {
    name: 'bug',
    attach(t: Torrent) {
      t.on('wire', (wire) => {
        const use = wire.use.bind(wire);
        wire.use = ((factory) => {
          const ext = use(factory);
          if (ext instanceof BttSpeedExtension) tamper(ext);
          return ext;
        }) as typeof wire.use;
      });
    },
  };
}

/**
 * A bttkit peer under test listening on the in-memory transport, with `plugins` before its Speed
 * plug-in: a requester (we play the payee), or a seeding provider (we play the payer).
 */
async function peerUnderTest(role: 'payer' | 'payee', plugins: TorrentPlugin[]): Promise<ScenarioContext> {
  const key = TronKey.generate();
  await ledger.deposit({
    account: key.address,
    amount: 1000n * BTT,
    txid: key.hexAddress.padEnd(64, '0'),
    idempotencyKey: key.address,
  });
  const c = new Client({
    transport,
    plugins: [
      ...plugins,
      role === 'payee'
        ? speed({ wallet: key, ledger, ledgerId: LEDGER_ID, budget: 100n * BTT, channelAmount: 5n * BTT })
        : speed({ wallet: key, ledger, ledgerId: LEDGER_ID, reservePrice: BTT / 10n, redeemIntervalMs: 500 }),
    ],
    settings: { rechokeIntervalMs: 200 },
  });
  clients.push(c);
  const { port } = await c.listen(0, '127.0.0.1');
  const t = c.add(torrent, role === 'payer' ? { path: tmp.path } : {});
  if (role === 'payer') await new Promise<void>((r) => t.once('ready', () => r()));
  let conn = 0;
  return {
    async connect() {
      const link = new RefLink(await transport.connect({ host: '127.0.0.1', port }), {
        handshake: {
          v: 1,
          addr: refKey.address,
          ledger: LEDGER_ID,
          token: 'BTT',
          reserve: role === 'payee' ? BTT : 0n,
        },
        infoHash,
        content,
        pieceLength: PIECE,
        conn: ++conn,
        log: () => {},
        outgoing: true,
      });
      await link.ready();
      return link;
    },
    ledger,
    ledgerId: LEDGER_ID,
    token: 'BTT',
    key: refKey,
    reserve: BTT,
    channelAmount: 10n * BTT,
    content,
    pieceLength: PIECE,
    timeoutMs: 10_000,
  };
}

/** Plays one scenario of `role` (payee by default) on a fresh connection: `pass`, or why it failed. */
async function play(ctx: ScenarioContext, name: string, role: 'payer' | 'payee' = 'payee'): Promise<string> {
  const s = SCENARIOS[role].find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  const link = await ctx.connect();
  try {
    const r = await s.run(ctx, link);
    return r.status;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    link.close();
  }
}

const STRENGTHENED = [
  'unknown-type-ignored',
  'reject-not-answered',
  'grant-above-bid-ignored',
  'grant-before-bid',
];

describe('the strengthened conformance scenarios (payee role)', () => {
  it('pass against bttkit', async () => {
    const ctx = await peerUnderTest('payee', []);
    for (const name of STRENGTHENED) expect([name, await play(ctx, name)]).toEqual([name, 'pass']);
  });

  it('unknown-type-ignored fails against a requester that answers an unknown type with reject 1', async () => {
    const ctx = await peerUnderTest('payee', [
      bug((ext) => {
        const onMessage = ext.onMessage.bind(ext);
        ext.onMessage = (payload) => {
          const r = decodeBttMessage(payload);
          if (r.ok && !r.message) ext.reject(BttRejectCode.MALFORMED, 'unknown type');
          onMessage(payload);
        };
      }),
    ]);
    expect(await play(ctx, 'unknown-type-ignored')).toMatch(/the unknown type was answered: reject 1/);
  });

  it('reject-not-answered fails against a requester that answers a reject with reject 1', async () => {
    const ctx = await peerUnderTest('payee', [
      bug((ext) => ext.on('reject', () => ext.reject(BttRejectCode.MALFORMED, 'a reject of a reject'))),
    ]);
    expect(await play(ctx, 'reject-not-answered')).toMatch(/our reject was answered: reject 1/);
  });

  it('grant-above-bid-ignored fails against a requester that takes a grant above the bid it sent', async () => {
    // Its rules think it bid 4× what the wire carries: a grant of twice the sent bid is taken.
    const ctx = await peerUnderTest('payee', [
      bug((ext) => {
        const bid = ext.bid.bind(ext);
        ext.bid = (seq, price, ch, vs) => bid(seq, price / 4n, ch, vs);
      }),
    ]);
    expect(await play(ctx, 'grant-above-bid-ignored')).toMatch(
      /for a piece served under a grant of \d+ above its bid/,
    );
  });

  it('grant-before-bid fails against a requester that takes any grant as answering its newest bid', async () => {
    const ctx = await peerUnderTest('payee', [
      bug((ext) => {
        // Grants go to the rules with the seq of our newest bid (held until there is one).
        let seq: number | undefined;
        let held: unknown[] | undefined;
        const target = ext as unknown as { emit(event: string, ...args: unknown[]): boolean };
        const emit = target.emit.bind(ext);
        target.emit = (event, ...args) => {
          if (event !== 'grant') return emit(event, ...args);
          const g = args[0] as { seq: number };
          if (seq === undefined) {
            held = args;
            return true;
          }
          return emit('grant', { ...g, seq });
        };
        const bid = ext.bid.bind(ext);
        ext.bid = (s, price, ch, vs) => {
          bid(s, price, ch, vs);
          seq = s;
          const h = held;
          held = undefined;
          if (h) emit('grant', { ...(h[0] as object), seq: s });
        };
      }),
    ]);
    expect(await play(ctx, 'grant-before-bid')).toMatch(
      /paid for a piece served under a grant that answered no bid/,
    );
  });

  it('as the payer: unknown-type-ignored and reject-not-answered pass against a bttkit provider', async () => {
    const ctx = await peerUnderTest('payer', []);
    for (const name of ['unknown-type-ignored', 'reject-not-answered'])
      expect([name, await play(ctx, name, 'payer')]).toEqual([name, 'pass']);
  });

  it('as the payer: reject-not-answered fails against a provider that answers a reject with reject 1', async () => {
    const ctx = await peerUnderTest('payer', [
      bug((ext) => ext.on('reject', () => ext.reject(BttRejectCode.MALFORMED, 'a reject of a reject'))),
    ]);
    expect(await play(ctx, 'reject-not-answered', 'payer')).toMatch(/our reject was answered: reject 1/);
  });
});
