/**
 * A WebTorrent leecher pays a bttkit seeder in BTT per verified piece, through the embedded ledger.
 * Run (after `npm ci`): `node --import ./bench/peers/no-webrtc.mjs --import tsx examples/webtorrent-speed/demo.ts`
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebTorrent from 'webtorrent';
import { Ledger, TronKey } from '../../src/ledger/index.js'; // your project: 'bttkit/ledger'
import { createTorrent } from '../../src/metainfo/index.js'; // 'bttkit/metainfo'
import { SpeedClient, WireSpeed } from '../../src/speed/index.js'; // 'bttkit/speed'
import { addSpeed } from './glue.js';

const BTT = 10n ** 18n;
const dir = mkdtempSync(join(tmpdir(), 'wt-speed-'));
writeFileSync(
  join(dir, 'file.bin'),
  new Uint8Array(8 * 1024 * 1024).map((_, i) => i * 7),
);
const { torrent } = await createTorrent(join(dir, 'file.bin'), { pieceLength: 256 * 1024 });

const ledger = await Ledger.open({ ledgerId: 'demo' });
const [seedKey, payKey] = [TronKey.generate(), TronKey.generate()];
await ledger.deposit({
  account: payKey.address,
  amount: 50n * BTT,
  txid: 'f'.repeat(64),
  idempotencyKey: 'd',
});

// The bttkit seeder sells its upload slots (reserve: 0.1 BTT per MiB).
const seeder = new SpeedClient({
  speed: { wallet: seedKey, ledger, ledgerId: 'demo', reservePrice: BTT / 10n, redeemIntervalMs: 1000 },
});
const { port } = await seeder.listen(0, '127.0.0.1');
seeder.add(torrent, { path: dir });

// The WebTorrent leecher carries the adapter: it bids, and pays per verified piece.
const speed = new WireSpeed({ wallet: payKey, ledger, ledgerId: 'demo', budget: 10n * BTT });
speed.on('grant', (g) => console.log(`granted a paid slot at ${g.price} base units/MiB`));
speed.on('paid', (p) =>
  console.log(`paid ${p.amount} (total ${p.cumulative}) for ${p.bytes} verified bytes`),
);
const client = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, webSeeds: false });
const wt = client.add(torrent, { path: join(dir, 'download'), announce: [] });
addSpeed(wt, speed);
wt.on('ready', () => wt.addPeer(`127.0.0.1:${port}`));
await new Promise<void>((r) => wt.once('done', r));
// Leave once the seeder acknowledged the last voucher (a voucher in flight at close is lost).
for (let i = 0; i < 100 && speed.acknowledged < speed.spent; i++) await new Promise((r) => setTimeout(r, 50));
client.destroy(); // the leecher leaves: the seeder redeems its last vouchers at the ledger
for (let i = 0; i < 200 && (seeder.speed?.redeemed ?? 0n) < speed.spent; i++)
  await new Promise((r) => setTimeout(r, 50));
console.log(
  `spent ${speed.spent}; the seeder's ledger balance: ${(await ledger.getAccount(seedKey.address)).balance}`,
);
await seeder.destroy();
