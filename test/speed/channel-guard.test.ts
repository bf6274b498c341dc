/**
 * A provider's guards against a payer reusing one channel: the same channel bid from two
 * connections at once (each would credit the same vouchers: served twice, paid once), and a
 * connection switching to another channel after paying on the first (the first's vouchers would
 * be stranded, the payer taking its deposit back). A real provider (SpeedPlugin on the ledger
 * rail) on 127.0.0.1; the attacker speaks `btt_speed` by hand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { LedgerRail, type RailPayer, speed } from '../../src/speed/index.js';
import { type BttReject, BttRejectCode, type BttSpeedExtension, bttSpeed } from '../../src/wire/index.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const BTT = 10n ** 18n;
const LEDGER_ID = 'bttkit:guard';
const tmp = tempDir('bttkit-guard-');
const src = join(tmp.path, 'seed');
const clients: Client[] = [];
let torrent: Uint8Array;

beforeAll(async () => {
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.bin'), pseudoRandomBytes(8 * 1024 * 1024, 5));
  ({ torrent } = await createTorrent(join(src, 'a.bin'), { pieceLength: 256 * 1024 }));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  tmp.cleanup();
});

/** A client whose only btt_speed behaviour is what the test does with the extension it hands out. */
function attacker(payer: TronKey): { client: Client; ext: Promise<BttSpeedExtension> } {
  let got: (e: BttSpeedExtension) => void = () => {};
  const ext = new Promise<BttSpeedExtension>((r) => {
    got = r;
  });
  const client = new Client({
    plugins: [
      {
        name: 'attacker',
        attach(t: Torrent) {
          t.on('wire', (wire) => {
            const e = wire.use(
              bttSpeed({
                handshake: { v: 1, addr: payer.address, ledger: LEDGER_ID, token: 'BTT', reserve: 0n },
              }),
            );
            e.on('handshake', () => got(e));
          });
        },
      },
    ],
  });
  clients.push(client);
  return { client, ext };
}

function next(ext: BttSpeedExtension): Promise<{ grant?: number; reject?: BttReject }> {
  return waitFor(
    new Promise((resolve) => {
      ext.once('grant', (g) => resolve({ grant: g.seq }));
      ext.once('reject', (r) => resolve({ reject: r }));
    }),
    10_000,
    'an answer to the bid',
  );
}

describe('a provider guards its channels', () => {
  it('one channel bid from two connections: the second is refused; a switch to another channel is refused', async () => {
    const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
    const provider = TronKey.generate();
    const payer = TronKey.generate();
    await ledger.deposit({
      account: payer.address,
      amount: 100n * BTT,
      txid: 'c'.repeat(64),
      idempotencyKey: 'd1',
    });
    const seeder = new Client({
      plugins: [
        speed({ wallet: provider, ledger, ledgerId: LEDGER_ID, reservePrice: 0n, redeemIntervalMs: 200 }),
      ],
      settings: { rechokeIntervalMs: 200, uploadRateLimit: 256 * 1024 },
    });
    clients.push(seeder);
    const addr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', () => r())), 10_000, 'the seeder');
    const rail = new LedgerRail({ wallet: payer, ledger, ledgerId: LEDGER_ID });
    const channel: RailPayer = await rail.open(provider.address, 10n * BTT);
    const other: RailPayer = await rail.open(provider.address, 10n * BTT);

    const a = attacker(payer);
    a.client.add(torrent, { path: join(tmp.path, 'a'), peers: [addr] });
    const extA = await waitFor(a.ext, 10_000, 'A connected');
    const answerA = next(extA);
    extA.bid(1, BTT, channel.channel);
    expect((await answerA).grant).toBe(1);

    // The same channel from a second connection while the first holds it.
    const b = attacker(payer);
    b.client.add(torrent, { path: join(tmp.path, 'b'), peers: [addr] });
    const extB = await waitFor(b.ext, 10_000, 'B connected');
    const answerB = next(extB);
    extB.bid(1, BTT, channel.channel);
    expect((await answerB).reject?.code).toBe(BttRejectCode.UNKNOWN_CHANNEL);

    // A pays on its channel, then tries to move to another one.
    const v = channel.pay(BTT / 2n);
    extA.pay(v.channel, v.cumulative, v.signature);
    const switched = next(extA);
    extA.bid(2, BTT, other.channel);
    expect((await switched).reject?.code).toBe(BttRejectCode.UNKNOWN_CHANNEL);
  }, 60_000);
});
