/**
 * BitTorrent Speed over on-chain channels: a seeder and a paying leecher, each with its own
 * account on a real local EVM node (hardhat 2.x, chain id 199), the BttkitChannel contract
 * deployed there, a real swarm on 127.0.0.1. The leecher opens a channel, pays with EIP-712
 * vouchers; the seeder closes the channel with the best one when the torrent closes. Checked on
 * chain: the seeder's balance grew by exactly what the vouchers promised (less its gas), the
 * channel is finished, the rest of the deposit went back to the leecher. A plain peer (no
 * btt_speed) and a ledger-rail peer in the same swarm are served as ordinary peers.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../../src/ledger/index.js';
import { createTorrent } from '../../../src/metainfo/index.js';
import { Client } from '../../../src/session/index.js';
import { BttcChannels } from '../../../src/settlement/index.js';
import { BttcChannelRail, FixedBid, SpeedClient, speed } from '../../../src/speed/index.js';
import { type EvmNode, startEvmNode } from '../../helpers/evm-node.js';
import { Procs } from '../../helpers/procs.js';
import { pseudoRandomBytes, tempDir } from '../../helpers/run.js';
import { waitFor } from '../../helpers/wait.js';

const BTT = 10n ** 18n;
const KEYS = { seeder: `0x${'a1'.repeat(32)}`, leecher: `0x${'b2'.repeat(32)}` } as const satisfies Record<
  string,
  Hex
>;
const ADDR = {
  seeder: privateKeyToAccount(KEYS.seeder).address.toLowerCase() as Hex,
  leecher: privateKeyToAccount(KEYS.leecher).address.toLowerCase() as Hex,
};
const procs = new Procs();
const tmp = tempDir('bttkit-bttc-speed-');
const clients: Client[] = [];
let node: EvmNode;
let contract: Hex;
let torrent: Uint8Array;
const src = join(tmp.path, 'seed');

beforeAll(async () => {
  node = await startEvmNode(procs, join(tmp.path, 'node'), {
    accounts: [
      { privateKey: KEYS.seeder, balance: 1000n * BTT },
      { privateKey: KEYS.leecher, balance: 1000n * BTT },
    ],
  });
  const deployer = await BttcChannels.deploy({
    rpcUrl: node.url,
    privateKey: KEYS.seeder,
    challengePeriod: 3600,
  });
  contract = deployer.address;
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'film.bin'), pseudoRandomBytes(6 * 1024 * 1024, 77));
  ({ torrent } = await createTorrent(join(src, 'film.bin'), { pieceLength: 256 * 1024 }));
}, 120_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  procs.killAll();
  tmp.cleanup();
});

/** The contract's clients of the seeder (payee) and the leecher (payer). */
async function channelClients(): Promise<{ payeeChannels: BttcChannels; payerChannels: BttcChannels }> {
  const connect = (privateKey: Hex) =>
    BttcChannels.connect({ rpcUrl: node.url, privateKey, address: contract });
  return { payeeChannels: await connect(KEYS.seeder), payerChannels: await connect(KEYS.leecher) };
}

describe('Speed over a BTTC channel', () => {
  it('the leecher pays by EIP-712 vouchers, the seeder closes the channel on chain and is paid exactly that', async () => {
    const chain = createPublicClient({ transport: http(node.url) });
    const { payeeChannels: seederChannels, payerChannels: leecherChannels } = await channelClients();
    const reserve = BTT / 10n; // 0.1 BTT per MiB
    const seeder = new SpeedClient({
      speed: { rail: new BttcChannelRail({ channels: seederChannels }), reservePrice: reserve },
      // Throttled, so that most of the bytes flow after the first auction round.
      settings: { uploadSlots: 2, rechokeIntervalMs: 300, uploadRateLimit: 2 * 1024 * 1024 },
    });
    // Small batches so that several vouchers go out for 6 MiB (the default is one per 32 MiB).
    const leecher = new SpeedClient({
      speed: {
        rail: new BttcChannelRail({ channels: leecherChannels, payEveryBytes: 1024 * 1024 }),
        budget: 40n * BTT,
        channelAmount: 10n * BTT,
        strategy: new FixedBid(BTT / 2n),
        bidIntervalMs: 100,
      },
      settings: { rechokeIntervalMs: 300 },
    });
    // Two ordinary peers: no btt_speed at all, and Speed on the ledger (another rail).
    const plain = new Client();
    const ledger = await Ledger.open({ ledgerId: 'bttkit:other' });
    const ledgerPeer = new Client({
      plugins: [speed({ wallet: TronKey.generate(), ledger, ledgerId: 'bttkit:other', budget: 0n })],
    });
    clients.push(seeder, leecher, plain, ledgerPeer);
    const seederSpeed = seeder.speed;
    const leecherSpeed = leecher.speed;
    if (!seederSpeed || !leecherSpeed) throw new Error('speed is on');
    const warnings: string[] = [];
    for (const p of [seederSpeed, leecherSpeed])
      p.on('warning', (w) => warnings.push(`${w.code}: ${w.message}`));
    let vouchers = 0;
    leecherSpeed.on('paid', () => vouchers++);
    const closes: { channelId: string; credited: bigint }[] = [];
    seederSpeed.on('redeemed', (r) => closes.push(r));
    let grantPrice = 0n;
    let paidBytes = 0n;
    leecherSpeed.on('grant', (g) => {
      grantPrice = g.price;
    });
    leecherSpeed.on('paid', (p) => {
      paidBytes = p.bytes;
    });

    const addr = await seeder.listen(0, '127.0.0.1');
    const st = seeder.add(torrent, { path: src });
    await waitFor(new Promise<void>((r) => st.once('ready', () => r())), 30_000, 'the seeder ready');
    const seederBefore = await chain.getBalance({ address: ADDR.seeder });
    const leecherBefore = await chain.getBalance({ address: ADDR.leecher });
    const startBlock = await chain.getBlockNumber();

    const downloads = [leecher, plain, ledgerPeer].map((c, i) => {
      const t = c.add(torrent, { path: join(tmp.path, `out${i}`), peers: [addr] });
      return waitFor(
        new Promise<void>((r) => (t.done ? r() : t.once('done', () => r()))),
        90_000,
        `download ${i}`,
      );
    });
    await Promise.all(downloads);
    for (const i of [0, 1, 2]) {
      expect(
        readFileSync(join(tmp.path, `out${i}`, 'film.bin')).equals(readFileSync(join(src, 'film.bin'))),
      ).toBe(true);
    }
    // Whatever the leecher owes for the last pieces goes out on the next bid round.
    await waitFor(
      () => leecherSpeed.spent > 0n && seederSpeed.earned === leecherSpeed.spent,
      10_000,
      'the last voucher',
    );
    expect(vouchers).toBeGreaterThan(1);
    const spent = leecherSpeed.spent;
    // Exactly the bytes the seeder sent it while granted, at the clearing price (the reserve:
    // one bidder), never above its bid.
    expect(grantPrice).toBe(reserve);
    expect(paidBytes).toBeGreaterThan(2n * 1024n * 1024n);
    expect(spent).toBe((paidBytes * grantPrice) / (1024n * 1024n));

    // The seeder closes the channel with the best voucher when the peer leaves (both are
    // seeds now) or at the latest when its torrent closes.
    await st.destroy();
    await waitFor(() => closes.length > 0, 30_000, 'the on-chain close');
    expect(closes).toHaveLength(1);
    const { channelId, credited } = closes[0] as { channelId: string; credited: bigint };
    expect(credited).toBe(spent);
    expect(seederSpeed.redeemed).toBe(spent);
    const state = await seederChannels.channel(
      channelId.startsWith('0x') ? (channelId as Hex) : `0x${channelId}`,
    );
    expect(state.status).toBe('finished');

    // On chain, over the run: the seeder got `spent` less the gas of its close; the leecher
    // paid `spent` plus the gas of its open (the rest of its 10 BTT deposit came back).
    const gasSince = async (who: Hex): Promise<bigint> => {
      let total = 0n;
      const head = await chain.getBlockNumber();
      for (let b = startBlock + 1n; b <= head; b++) {
        const block = await chain.getBlock({ blockNumber: b, includeTransactions: true });
        for (const tx of block.transactions) {
          if (typeof tx === 'string' || tx.from.toLowerCase() !== who) continue;
          const receipt = await chain.getTransactionReceipt({ hash: tx.hash });
          total += receipt.gasUsed * receipt.effectiveGasPrice;
        }
      }
      return total;
    };
    const seederAfter = await chain.getBalance({ address: ADDR.seeder });
    const leecherAfter = await chain.getBalance({ address: ADDR.leecher });
    expect(leecherBefore - leecherAfter).toBe(spent + (await gasSince(ADDR.leecher)));
    expect(seederAfter - seederBefore).toBe(spent - (await gasSince(ADDR.seeder)));
    expect(warnings).toEqual([]);
  }, 180_000);

  it('a channel topped up on chain: the payer signs beyond its first deposit once the payee read the new one', async () => {
    const { payeeChannels, payerChannels } = await channelClients();
    const payeeRail = new BttcChannelRail({ channels: payeeChannels });
    const payerRail = new BttcChannelRail({ channels: payerChannels });
    const payer = await payerRail.open(ADDR.seeder, BTT);
    const payee = await payeeRail.accept(payer.channel, ADDR.leecher);
    payee.offer(payer.pay(BTT));
    payee.verifyNewest();
    expect(() => payer.pay(1n)).toThrow(); // the deposit is spent
    await payerRail.topUp(payer, 2n * BTT);
    expect(payer.locked).toBe(3n * BTT);
    const v = payer.pay(BTT + BTT / 2n); // 2.5 BTT in all, above the 1 BTT the payee knows
    expect(() => payee.offer(v)).toThrow();
    await payeeRail.refresh(payee);
    expect(payee.locked).toBe(3n * BTT);
    payee.offer(v);
    expect(payee.verifyNewest()).toBe(2n * BTT + BTT / 2n);
    expect(await payeeRail.collect(payee, true)).toBe(2n * BTT + BTT / 2n);
  }, 60_000);

  it("a payer's unilateral close is noticed in the next round: the provider closes at once with the best voucher and stops the credit", async () => {
    const { payeeChannels, payerChannels } = await channelClients();
    const payeeRail = new BttcChannelRail({ channels: payeeChannels });
    const payer = await new BttcChannelRail({ channels: payerChannels }).open(ADDR.seeder, 10n * BTT);
    const id = `0x${Buffer.from(payer.channel).toString('hex')}` as Hex;
    const payee = await payeeRail.accept(payer.channel, ADDR.leecher);
    payee.offer(payer.pay(2n * BTT));
    payee.verifyNewest();
    expect(await payeeRail.collect(payee, false)).toBe(0n); // open: nothing to do
    expect(payee.usable).toBe(true);
    await payerChannels.startClose(id);
    payee.offer(payer.pay(3n * BTT));
    payee.verifyNewest();
    // The round after the payer's startClose: closed on chain with the best voucher (5 BTT).
    expect(await payeeRail.collect(payee, false)).toBe(5n * BTT);
    expect(payee.usable).toBe(false);
    expect((await payeeChannels.channel(id)).status).toBe('finished');
    await expect(payerChannels.finishClose(id)).rejects.toMatchObject({
      code: 'SETTLEMENT_CHANNEL_FINISHED',
    });
    // Collected for good: later rounds do nothing.
    expect(await payeeRail.collect(payee, true)).toBe(0n);
  }, 60_000);
});
