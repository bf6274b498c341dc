/**
 * A payer's channels open small and are topped up as they are spent (src/speed/funds.ts), on two
 * real `bittorrent-protocol` wires piped in memory and the embedded ledger: the budget is not
 * locked up front in a quarter per provider, the provider reads the larger deposit when the payer
 * bids again or pays beyond what it knew, and a hostile peer cannot make it read the ledger at
 * will.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, type LedgerApi, TronKey } from '../../src/ledger/index.js';
import {
  DEPOSIT_REFRESH_MS,
  FixedBid,
  type SpeedCommonOptions,
  WireSpeed,
  type WireSpeedTorrent,
} from '../../src/speed/index.js';
import { fromHex } from '../../src/util/bytes.js';
import { BttRejectCode, encodeBttMessage } from '../../src/wire/index.js';
import { waitFor } from '../helpers/wait.js';
import { pipedWires, rejectsOn } from './piped-wires.js';

const BTT = 10n ** 18n;
const LEDGER_ID = 'bttkit:top-up';
const PIECE = 1024 * 1024;
/** The payer bids 1 BTT/MiB; alone, it is granted the provider's reserve. */
const GRANT = BTT / 2n;
const open: { close(): void }[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

/** A gate: `wait` is pending until `open()`. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

/**
 * The embedded ledger as one peer sees it: channel reads (`getChannel`) and opens counted; while a
 * gate is set, that call waits for it — a channel read answers with what it read before waiting
 * (a slow answer), an open or a top-up is made once the gate opens.
 */
class GatedLedger {
  reads = 0;
  opens = 0;
  gates: { getChannel?: Promise<void>; openChannel?: Promise<void>; topUpChannel?: Promise<void> } = {};
  constructor(readonly inner: Ledger) {}
  api(): LedgerApi {
    const gates = this.gates;
    return new Proxy(this.inner, {
      get: (target, key, receiver) => {
        if (key === 'getChannel') {
          return async (...args: Parameters<Ledger['getChannel']>) => {
            this.reads++;
            const read = await target.getChannel(...args);
            await gates.getChannel;
            return read;
          };
        }
        if (key === 'openChannel') {
          return async (...args: Parameters<Ledger['openChannel']>) => {
            this.opens++;
            await gates.openChannel;
            return target.openChannel(...args);
          };
        }
        if (key === 'topUpChannel') {
          return async (...args: Parameters<Ledger['topUpChannel']>) => {
            await gates.topUpChannel;
            return target.topUpChannel(...args);
          };
        }
        const v = Reflect.get(target, key, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as LedgerApi;
  }
}

async function accounts(payerOptions: Partial<SpeedCommonOptions> = {}) {
  const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  const counting = new GatedLedger(ledger);
  const paying = new GatedLedger(ledger);
  const payKey = TronKey.generate();
  const seedKey = TronKey.generate();
  await ledger.deposit({
    account: payKey.address,
    amount: 100n * BTT,
    txid: 'c'.repeat(64),
    idempotencyKey: 'c',
  });
  const payer = new WireSpeed({
    wallet: payKey,
    ledger: paying.api(),
    ledgerId: LEDGER_ID,
    budget: 40n * BTT,
    strategy: new FixedBid(BTT),
    bidIntervalMs: 3_600_000, // the first bid goes out on the handshake; no bid round after
    ...payerOptions,
  });
  const provider = new WireSpeed({
    wallet: seedKey,
    ledger: counting.api(),
    ledgerId: LEDGER_ID,
    reservePrice: BTT / 2n,
    redeemIntervalMs: 3_600_000,
  });
  const ta = payer.torrent({
    remainingBytes: () => 1 << 26,
    countFromWire: false,
    rechokeIntervalMs: 3_600_000,
  });
  // 1 MiB pieces: the provider's window for a payer that has paid nothing is two of them (the
  // ledger's 512 KiB would cut it before its first piece verifies).
  const tb = provider.torrent({
    remainingBytes: () => 0,
    pieceLength: () => PIECE,
    countFromWire: false,
    rechokeIntervalMs: 3_600_000,
  });
  open.push(ta, tb);
  const { wa, wb } = pipedWires(ta.Extension, tb.Extension);
  const rejects = rejectsOn(wa);
  return { ledger, counting, paying, payer, provider, payKey, ta, tb, wa, wb, rejects };
}

/** Runs the provider's rounds until the payer holds a grant. */
async function granted(payer: WireSpeed, tb: WireSpeedTorrent): Promise<void> {
  let grants = 0;
  const count = () => grants++;
  payer.on('grant', count);
  await waitFor(
    () => {
      tb.rechoke();
      return grants > 0;
    },
    10_000,
    'a grant',
  );
  payer.off('grant', count);
}

/** Downloads `pieces` pieces of 1 MiB from the provider, each verified, paid and accepted before the next. */
async function download(
  s: Awaited<ReturnType<typeof accounts>>,
  from: number,
  pieces: number,
): Promise<void> {
  for (let i = from; i < from + pieces; i++) {
    piece(s, i);
    await waitFor(
      () => {
        s.tb.rechoke();
        return s.provider.earned === s.payer.spent && s.payer.spent === BigInt(i + 1) * GRANT;
      },
      10_000,
      `piece ${i} paid for and accepted`,
    );
  }
}

describe('channel top-ups (the payer side)', () => {
  it('a channel opens holding 1 MiB at the bid price, not a quarter of the budget, and is topped up as it is spent', async () => {
    const s = await accounts();
    await granted(s.payer, s.tb);
    const account = await s.ledger.getAccount(s.payKey.address);
    // 1 BTT/MiB × 1 MiB locked; the rest of the budget (40 BTT) stays in the balance.
    expect(account.locked).toBe(BTT);
    expect(account.balance).toBe(99n * BTT);
    await download(s, 0, 24);
    const after = await s.ledger.getAccount(s.payKey.address);
    // 12 BTT paid (24 MiB at 0.5) over one channel whose deposit grew with it: never more than 1 MiB ahead.
    expect(s.payer.spent).toBe(12n * BTT);
    expect(s.provider.earned).toBe(12n * BTT);
    expect(after.locked).toBeGreaterThanOrEqual(12n * BTT);
    expect(after.locked).toBeLessThanOrEqual(13n * BTT);
    expect(s.rejects).toEqual([]);
  });

  it('the budget bounds what is locked: the last top-up stops at it, and so do the payments', async () => {
    const s = await accounts({ budget: 5n * BTT });
    await granted(s.payer, s.tb);
    await download(s, 0, 10);
    const account = await s.ledger.getAccount(s.payKey.address);
    expect(account.locked).toBe(5n * BTT);
    // One more piece is verified: nothing left to lock nor to spend.
    piece(s, 10);
    await new Promise<void>((r) => setTimeout(r, 50));
    expect(s.payer.spent).toBe(5n * BTT);
    expect((await s.ledger.getAccount(s.payKey.address)).locked).toBe(5n * BTT);
  });

  it('with channelAmount set, a channel locks that and is never topped up (the payer stalls at its deposit)', async () => {
    const s = await accounts({ channelAmount: 3n * BTT });
    await granted(s.payer, s.tb);
    await download(s, 0, 6);
    piece(s, 6);
    await new Promise<void>((r) => setTimeout(r, 50));
    expect(s.payer.spent).toBe(3n * BTT);
    expect((await s.ledger.getAccount(s.payKey.address)).locked).toBe(3n * BTT);
  });
});

describe('channel top-ups (the provider side)', () => {
  it('a voucher beyond the deposit the provider first read is accepted once it read the topped-up deposit', async () => {
    const s = await accounts();
    await granted(s.payer, s.tb);
    const readsBefore = s.counting.reads;
    await download(s, 0, 12);
    // Each top-up cost the provider one channel read, no more.
    const topUps = s.counting.reads - readsBefore;
    expect(topUps).toBeGreaterThan(0);
    expect(topUps).toBeLessThanOrEqual(12);
    expect(s.provider.earned).toBe(6n * BTT);
  });

  it('a hostile peer sending bids and vouchers beyond its deposit gets them refused, with a bounded number of ledger reads', async () => {
    const s = await accounts();
    await granted(s.payer, s.tb);
    let channelId = '';
    s.provider.on('earned', (e) => {
      channelId = e.channelId;
    });
    await download(s, 0, 1);
    const reads = s.counting.reads;
    // Raw `pay` messages on the payer's wire promising far beyond the deposit.
    const channel = fromHex(channelId);
    const raw = s.wa as unknown as { extended(ext: string, buf: Uint8Array): void };
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      raw.extended(
        'btt_speed',
        encodeBttMessage({ t: 'pay', ch: channel, amt: 1000n * BTT + BigInt(i), sig: new Uint8Array(64) }),
      );
    }
    await waitFor(() => s.rejects.length > 0, 10_000, 'a refusal');
    const elapsed = Date.now() - started;
    // One read in flight at a time, at most one per DEPOSIT_REFRESH_MS.
    expect(s.counting.reads - reads).toBeLessThanOrEqual(2 + Math.ceil(elapsed / DEPOSIT_REFRESH_MS));
    expect(s.provider.earned).toBe(GRANT);
  });
});

describe('channel top-ups and the final collect', () => {
  it('a voucher waiting for the deposit to be read again when the payer leaves is still collected', async () => {
    const s = await accounts();
    await granted(s.payer, s.tb);
    // Two pieces: 1 BTT paid, the 1 BTT channel is empty and topped up to 2 BTT.
    await download(s, 0, 2);
    await waitFor(
      async () => (await s.ledger.getAccount(s.payKey.address)).locked === 2n * BTT,
      10_000,
      'the top-up',
    );
    // The provider's next read of the deposit hangs; the third voucher (1.5 BTT > the 1 BTT it
    // knows) waits for it, and the payer leaves.
    const g = gate();
    s.counting.gates.getChannel = g.wait;
    const reads = s.counting.reads;
    piece(s, 2);
    expect(s.payer.spent).toBe(3n * GRANT);
    await waitFor(() => s.counting.reads > reads, 10_000, 'the read of the deposit');
    s.wa.destroy();
    await new Promise<void>((r) => setTimeout(r, 20));
    g.open();
    await waitFor(
      () => s.provider.redeemed === 3n * GRANT,
      10_000,
      'the final collect of all three vouchers',
    );
    const seller = await s.ledger.getAccount(
      (s.provider as unknown as { rail: { address: string } }).rail.address,
    );
    expect(seller.balance).toBe(3n * GRANT);
  });
});

/** Piece `i` (1 MiB) sent by the provider and verified by the payer. */
function piece(s: Awaited<ReturnType<typeof accounts>>, i: number): void {
  s.tb.uploaded(s.wb, PIECE);
  s.ta.received(s.wa, i, 0, PIECE);
  s.ta.verified(i);
}

describe('channel top-ups: races found by review', () => {
  it('channels that open after their connection closed leave the budget: the next connection still opens one', async () => {
    // A quarter of a 4 BTT budget per channel at most: the first connection's channel and three
    // lost to connections closed while they opened would hold it all.
    const s = await accounts({ budget: 4n * BTT });
    await waitFor(() => s.paying.opens > 0, 10_000, 'the first open');
    const g = gate();
    s.paying.gates.openChannel = g.wait;
    for (let n = 0; n < 3; n++) {
      const { wa } = pipedWires(s.ta.Extension, s.tb.Extension, { peerIds: [20 + n, 2] });
      await waitFor(() => s.paying.opens > n + 1, 10_000, `open ${n + 2}`);
      wa.destroy();
    }
    await new Promise<void>((r) => setTimeout(r, 20));
    g.open();
    await new Promise<void>((r) => setTimeout(r, 50));
    const opens = s.paying.opens;
    pipedWires(s.ta.Extension, s.tb.Extension, { peerIds: [30, 2] });
    await waitFor(() => s.paying.opens > opens, 10_000, 'an open for the new connection');
  });

  it('a granted payer that bids again after a top-up is not refused as unbacked (reject 7)', async () => {
    const s = await accounts();
    await granted(s.payer, s.tb);
    const g = gate();
    s.paying.gates.topUpChannel = g.wait;
    await download(s, 0, 2); // 1 BTT paid: the 1 BTT channel is empty, its top-up held
    s.tb.rechoke(); // the provider settles the voucher: nothing left unspent as it knows it
    let bids = 0;
    s.provider.on('bid', () => bids++);
    g.open();
    await waitFor(() => bids > 0, 10_000, 'the bid after the top-up');
    await new Promise<void>((r) => setTimeout(r, 20));
    s.tb.rechoke();
    expect(s.rejects).not.toContain(BttRejectCode.INSUFFICIENT_FUNDS);
    expect(s.tb.isPaid(s.wb)).toBe(true);
  });

  it('a voucher beyond a deposit read just before the top-up committed is read again, not refused', async () => {
    const s = await accounts();
    await granted(s.payer, s.tb);
    await download(s, 0, 2); // topped up to 2 BTT
    const locked = async () => (await s.ledger.getAccount(s.payKey.address)).locked;
    await waitFor(async () => (await locked()) === 2n * BTT, 10_000, 'top-up 1');
    // The provider's next read answers late with what it read at once (2 BTT).
    const g = gate();
    s.counting.gates.getChannel = g.wait;
    const reads = s.counting.reads;
    piece(s, 2); // 1.5 BTT: above the 1 BTT the provider knows, a read starts
    await waitFor(() => s.counting.reads > reads, 10_000, 'the read');
    piece(s, 3); // 2 BTT: the channel is empty, topped up to 3 BTT
    await waitFor(async () => (await locked()) === 3n * BTT, 10_000, 'top-up 2');
    piece(s, 4); // 2.5 BTT: above the 2 BTT the late read will say
    expect(s.payer.spent).toBe(5n * GRANT);
    s.counting.gates.getChannel = undefined;
    g.open();
    await waitFor(
      () => {
        s.tb.rechoke();
        return s.provider.earned === 5n * GRANT;
      },
      10_000,
      'every voucher accepted',
    );
    expect(s.rejects).toEqual([]);
  });
});
