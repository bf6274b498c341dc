import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import {
  FixedBid,
  MIB,
  type SpeedCommonOptions,
  WireSpeed,
  type WireSpeedTorrent,
} from '../../src/speed/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';
import { pipedWires } from './piped-wires.js';
import { WrappedRail, type WrappedRailOptions } from './wrapped-rail.js';

const BTT = 10n ** 18n;
const LEDGER_ID = 'bttkit:payer-lifecycle';
const PIECE = 262_144;
const open: { close(): void }[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

async function accounts(rail: WrappedRailOptions, payerOptions: Partial<SpeedCommonOptions> = {}) {
  const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  const payKey = TronKey.generate();
  const seedKey = TronKey.generate();
  await ledger.deposit({
    account: payKey.address,
    amount: 10n * BTT,
    txid: 'b'.repeat(64),
    idempotencyKey: 'b',
  });
  const payerRail = new WrappedRail({ wallet: payKey, ledger, ledgerId: LEDGER_ID }, rail);
  const payer = new WireSpeed({
    rail: payerRail,
    budget: 4n * BTT,
    strategy: new FixedBid(BTT),
    bidIntervalMs: 3_600_000, // no bid round (nor its flush) in these tests: only the hooks
    ...payerOptions,
  });
  const provider = new WireSpeed({
    wallet: seedKey,
    ledger,
    ledgerId: LEDGER_ID,
    reservePrice: BTT / 2n,
    redeemIntervalMs: 3_600_000,
  });
  const ta = payer.torrent({
    remainingBytes: () => 1 << 24,
    countFromWire: false,
    rechokeIntervalMs: 3_600_000,
  });
  const tb = provider.torrent({
    remainingBytes: () => 0,
    countFromWire: false,
    rechokeIntervalMs: 3_600_000,
  });
  open.push(ta, tb);
  return { ledger, payer, provider, payerRail, ta, tb };
}

/** A new connection between the two torrents (ids `wire-N` on each side). */
function connect(ta: WireSpeedTorrent, tb: WireSpeedTorrent) {
  const { wa, wb } = pipedWires(ta.Extension, tb.Extension, { infoHash: 3 });
  return { wa, wb, pa: wa, pb: wb };
}

/** Runs the provider's rounds until the payer holds a grant on a connection. */
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

describe('WireSpeedTorrent.close() on the payer side', () => {
  it('a batching rail pays what is due for verified bytes before closing; the provider gets it', async () => {
    const { payer, provider, ta, tb } = await accounts({ payEveryBytes: 64 * 1024 * 1024 });
    const { pa } = connect(ta, tb);
    await granted(payer, tb);
    ta.received(pa, 0, 0, PIECE);
    ta.verified(0);
    expect(payer.spent).toBe(0n); // batched: below payEveryBytes
    ta.close();
    expect(payer.spent).toBe((BigInt(PIECE) * (BTT / 2n)) / MIB);
    // The voucher went out on the open wire: the provider accepts it.
    await waitFor(
      () => {
        tb.rechoke();
        return provider.earned === payer.spent;
      },
      10_000,
      'the provider to accept the flushed voucher',
    );
  });

  it('a bid started by an extended handshake is not sent after close; then no rail call, no timer', async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const clock = new ManualClock();
    const { payer, payerRail, ta, tb } = await accounts({ openGate: gate }, { clock });
    let bids = 0;
    payer.on('bid', () => bids++);
    connect(ta, tb);
    // The provider's extended handshake started a bid: its channel is being opened.
    await waitFor(() => payerRail.calls.includes('open'), 10_000, 'the channel to open');
    ta.close();
    release();
    await waitFor(() => payerRail.opened === 1, 10_000, 'the channel to be open');
    await new Promise<void>((r) => setImmediate(r)); // what follows the open (a bid) has run
    expect(bids).toBe(0);
    expect(clock.pending).toBe(0);
    // A connection made after close: its extended handshake starts nothing.
    const { wa } = connect(ta, tb);
    let handshakes = 0;
    wa.on('extended', (ext: string) => {
      if (ext === 'handshake') handshakes++;
    });
    await waitFor(() => handshakes > 0, 10_000, "the provider's extended handshake");
    await new Promise<void>((r) => setImmediate(r));
    expect(payerRail.calls).toEqual(['open']);
    expect(bids).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('WireSpeedTorrent.close() on the provider side', () => {
  it('a bid whose channel check ends after close gets no answer and starts no round', async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
    const payKey = TronKey.generate();
    const seedKey = TronKey.generate();
    await ledger.deposit({
      account: payKey.address,
      amount: 10n * BTT,
      txid: 'f'.repeat(64),
      idempotencyKey: 'f',
    });
    const rail = new WrappedRail({ wallet: seedKey, ledger, ledgerId: LEDGER_ID }, { acceptGate: gate });
    // Its reserve is above the bid: once checked, the bid would be refused (reject 3 is sent at
    // once; the deposit check after the channel check would send reject 7 too).
    const provider = new WireSpeed({ rail, reservePrice: BTT, minFundedBytes: 1 << 30 });
    const payer = new WireSpeed({
      wallet: payKey,
      ledger,
      ledgerId: LEDGER_ID,
      budget: 4n * BTT,
      strategy: new FixedBid(BTT),
    });
    const ta = payer.torrent({
      remainingBytes: () => 1 << 24,
      countFromWire: false,
      rechokeIntervalMs: 3_600_000,
    });
    let rounds = 0;
    const tb = provider.torrent({
      remainingBytes: () => 0,
      countFromWire: false,
      rechokeIntervalMs: 3_600_000,
    });
    open.push(ta, tb);
    const rechoke = tb.rechoke.bind(tb);
    tb.rechoke = () => {
      rounds++;
      rechoke();
    };
    const { wb } = connect(ta, tb);
    const sent: string[] = [];
    const w = wb as unknown as { extended(ext: string, payload: Uint8Array): void };
    const send = w.extended.bind(w);
    w.extended = (ext, payload) => {
      if (ext === 'btt_speed') sent.push('btt_speed');
      send(ext, payload);
    };
    await waitFor(() => rail.calls.includes('accept'), 10_000, 'the channel check');
    tb.close();
    const before = sent.length;
    release();
    await waitFor(() => rail.accepted === 1, 10_000, 'the channel check to end');
    await new Promise<void>((r) => setImmediate(r)); // what follows the check (a reject, a round) has run
    expect(sent.length).toBe(before);
    expect(rounds).toBe(0);
    expect(rail.calls.filter((c) => c !== 'collect')).toEqual(['accept']);
  });
});

describe('a voucher signed for a connection that died', () => {
  it('is sent on the next connection to the same payee (same channel): the provider gets every amount', async () => {
    const { payer, provider, payerRail, ta, tb } = await accounts({}, { bidIntervalMs: 20 });
    const first = connect(ta, tb);
    await granted(payer, tb);
    ta.received(first.pa, 0, 0, PIECE);
    ta.verified(0);
    await waitFor(
      () => {
        tb.rechoke();
        return payer.acknowledged === payer.spent && payer.spent > 0n;
      },
      10_000,
      'the first voucher to be acked',
    );
    const paidFirst = payer.spent;
    // The connection dies with the next voucher in flight: it never arrives.
    const w = first.wa as unknown as { extended(ext: string, payload: Uint8Array): void };
    const send = w.extended.bind(w);
    w.extended = (ext, payload) => {
      if (ext !== 'btt_speed') send(ext, payload);
    };
    ta.received(first.pa, 1, 0, PIECE);
    ta.verified(1);
    expect(payer.spent).toBe(2n * paidFirst);
    first.wa.destroy();
    // The provider's final collect of the old connection (what it got: the first voucher).
    await waitFor(() => provider.redeemed === paidFirst, 10_000, 'the final collect');
    const opens = payerRail.calls.filter((c) => c === 'open').length;
    connect(ta, tb);
    await waitFor(
      () => {
        tb.rechoke();
        return provider.earned === payer.spent;
      },
      10_000,
      'the lost voucher on the new connection',
    );
    expect(payerRail.calls.filter((c) => c === 'open').length).toBe(opens); // the same channel
    expect(payer.spent).toBe(2n * paidFirst); // never paid twice
    tb.close();
    await waitFor(() => provider.redeemed === payer.spent, 10_000, 'the provider to collect it all');
  });

  it('a piece verified while its wire is destroyed is not signed for it; the next connection pays it', async () => {
    const { payer, provider, payerRail, ta, tb } = await accounts({}, { bidIntervalMs: 20 });
    const first = connect(ta, tb);
    await granted(payer, tb);
    // Destroyed, its close not yet seen by the host.
    Object.defineProperty(first.wa, 'destroyed', { value: true, configurable: true });
    ta.received(first.pa, 0, 0, PIECE);
    ta.verified(0);
    expect(payer.spent).toBe(0n);
    expect(payerRail.calls).not.toContain('pay');
    delete (first.wa as unknown as { destroyed?: boolean }).destroyed;
    first.wa.destroy();
    await waitFor(() => ta.peerOf(first.pa) === undefined, 10_000, 'the close');
    connect(ta, tb);
    await waitFor(
      () => {
        tb.rechoke();
        return provider.earned === (BigInt(PIECE) * (BTT / 2n)) / MIB;
      },
      10_000,
      'the piece to be paid on the new connection',
    );
    expect(payer.spent).toBe(provider.earned);
  });
});
