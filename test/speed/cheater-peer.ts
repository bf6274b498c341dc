/**
 * A cheating BitTorrent Speed peer, built from bttkit's public API only, run as its own process
 * by test/speed/cheaters.test.ts (`node --import tsx cheater-peer.ts <mode> <json>`):
 * - `no-pay`: a requester whose payment rail signs nothing (a `PaymentRail` wrapper whose
 *   channels never pay): it bids, takes the data and never sends a voucher;
 * - `no-serve`: a provider that takes bids and grants slots but never unchokes anyone (a
 *   plug-in that wraps the choker the Speed plug-in installs: grants go out, data never does).
 * Prints JSON lines on stdout: `ready` (with its port), `grant`, `done`; exits after `done`
 * (no-pay) or when killed (no-serve).
 */
import { readFile } from 'node:fs/promises';
import { type Choker, Client, type Torrent } from '../../src/index.js';
import { LedgerClient, TronKey } from '../../src/ledger/index.js';
import { FixedBid, LedgerRail, type PaymentRail, type RailPayer, speed } from '../../src/speed/index.js';

interface Args {
  ledgerUrl: string;
  ledgerId: string;
  key: string;
  torrent: string;
  dir: string;
  peers?: { host: string; port: number }[];
  price: string;
}

const say = (event: string, more: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...more })}\n`);

/** The ledger rail, except that its channels never pay (every voucher refused to be signed). */
class NeverPays implements PaymentRail {
  readonly id: string;
  readonly token: string;
  readonly address: string;
  readonly scheme: PaymentRail['scheme'];
  readonly hello: PaymentRail['hello'];
  readonly payEveryBytes: number;
  readonly defaultCreditBytes: number;
  constructor(readonly inner: PaymentRail) {
    this.id = inner.id;
    this.token = inner.token;
    this.address = inner.address;
    this.scheme = inner.scheme;
    this.hello = inner.hello;
    this.payEveryBytes = inner.payEveryBytes;
    this.defaultCreditBytes = inner.defaultCreditBytes;
  }
  peerAddress: PaymentRail['peerAddress'] = (hs) => this.inner.peerAddress(hs);
  async open(payee: string, amount: bigint): Promise<RailPayer> {
    const real = await this.inner.open(payee, amount);
    return {
      channel: real.channel,
      locked: real.locked,
      cumulative: 0n,
      pay: () => {
        throw new Error('this peer never pays');
      },
    };
  }
  accept: PaymentRail['accept'] = (channel, payer) => this.inner.accept(channel, payer);
  collect: PaymentRail['collect'] = (payee, final) => this.inner.collect(payee, final);
}

/** A choker that runs the installed one (its grants go out) and unchokes nobody. */
function withholding(inner: Choker): Choker {
  return {
    rechoke: (peers, ctx) => {
      inner.rechoke(peers, ctx);
      return new Set<string>();
    },
  };
}

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  const a = JSON.parse(json ?? '{}') as Args;
  const wallet = TronKey.fromPrivateKey(a.key);
  const ledger = new LedgerClient({ url: a.ledgerUrl, key: wallet, ledgerId: a.ledgerId });
  const torrentFile = new Uint8Array(await readFile(a.torrent));
  const price = BigInt(a.price);
  if (mode === 'no-pay') {
    const rail = new NeverPays(new LedgerRail({ wallet, ledger, ledgerId: a.ledgerId }));
    const plugin = speed({
      rail,
      budget: 100n * price,
      channelAmount: 50n * price,
      strategy: new FixedBid(price),
      bidIntervalMs: 200,
    });
    plugin.on('grant', (g) => say('grant', { peer: g.peer, price: String(g.price) }));
    const client = new Client({ plugins: [plugin] });
    const port = (await client.listen(0, '127.0.0.1')).port;
    say('ready', { port });
    const t = client.add(torrentFile, { path: a.dir, peers: a.peers ?? [] });
    await new Promise<void>((r) => t.once('done', () => r()));
    say('done', { spent: String(plugin.spent) });
    await client.destroy();
    return;
  }
  if (mode === 'no-serve') {
    const plugin = speed({
      wallet,
      ledger,
      ledgerId: a.ledgerId,
      reservePrice: price,
      redeemIntervalMs: 500,
    });
    plugin.on('grant', (g) => say('grant', { peer: g.peer, price: String(g.price) }));
    // Attached before the Speed plug-in: every choker set on the torrent is wrapped.
    const withhold = {
      name: 'withhold',
      attach(t: Torrent) {
        const set = t.setChoker.bind(t);
        t.setChoker = (c: Choker) => set(withholding(c));
      },
    };
    const client = new Client({ plugins: [withhold, plugin], settings: { rechokeIntervalMs: 250 } });
    const port = (await client.listen(0, '127.0.0.1')).port;
    const t = client.add(torrentFile, { path: a.dir });
    await new Promise<void>((r) => t.once('ready', () => r()));
    say('ready', { port });
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
