import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError, TronKey } from '../../src/ledger/index.js';
import {
  FixedBid,
  isPermanentCollectError,
  type ProtocolWire,
  type SpeedError,
  WireSpeed,
  type WireSpeedTorrent,
} from '../../src/speed/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';
import { pipedWires } from './piped-wires.js';
import { WrappedRail } from './wrapped-rail.js';

const BTT = 10n ** 18n;
const LEDGER_ID = 'bttkit:collect-retry';
const open: { close(): void }[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

const transient = () => new LedgerError('LEDGER_STORE_LOCKED', 'the ledger cannot serve');
const permanent = () => new LedgerError('LEDGER_CHANNEL_CLOSED', 'the channel is closed');

interface Setup {
  clock: ManualClock;
  rail: WrappedRail;
  provider: WireSpeed;
  payer: WireSpeed;
  ta: WireSpeedTorrent;
  tb: WireSpeedTorrent;
  wa: ProtocolWire;
  wb: ProtocolWire;
  warnings: SpeedError[];
  /** The provider's timers besides retries (its rounds). */
  base: number;
}

/** The payer has paid a voucher the provider accepted; the wire is still open. */
async function paid(failWith: (attempt: number) => Error | undefined): Promise<Setup> {
  const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  const payKey = TronKey.generate();
  const seedKey = TronKey.generate();
  await ledger.deposit({
    account: payKey.address,
    amount: 10n * BTT,
    txid: 'c'.repeat(64),
    idempotencyKey: 'c',
  });
  const clock = new ManualClock();
  const rail = new WrappedRail({ wallet: seedKey, ledger, ledgerId: LEDGER_ID }, { failCollect: failWith });
  const provider = new WireSpeed({
    rail,
    reservePrice: BTT / 2n,
    clock,
    collectRetryMs: 1000,
    collectRetryMaxMs: 3000,
    collectAttempts: 4,
    bidIntervalMs: 7_200_000,
    redeemIntervalMs: 7_200_000,
  });
  const warnings: SpeedError[] = [];
  provider.on('warning', (w) => warnings.push(w));
  const payer = new WireSpeed({
    wallet: payKey,
    ledger,
    ledgerId: LEDGER_ID,
    budget: 4n * BTT,
    strategy: new FixedBid(BTT),
    bidIntervalMs: 20,
  });
  const ta = payer.torrent({
    remainingBytes: () => 1 << 22,
    countFromWire: false,
    rechokeIntervalMs: 60_000,
  });
  const tb = provider.torrent({
    remainingBytes: () => 0,
    countFromWire: false,
    rechokeIntervalMs: 7_200_000,
  });
  open.push(ta, tb);
  const { wa: pw, wb: sw } = pipedWires(ta.Extension, tb.Extension, { infoHash: 5 });
  let granted = false;
  payer.on('grant', () => {
    granted = true;
  });
  await waitFor(
    () => {
      tb.rechoke();
      return granted;
    },
    10_000,
    'a grant',
  );
  ta.received(pw, 0, 0, 262_144);
  ta.verified(0);
  expect(payer.spent).toBeGreaterThan(0n);
  return { clock, rail, provider, payer, ta, tb, wa: pw, wb: sw, warnings, base: 0 };
}

/** The provider's connection closes: its final collect starts. */
async function leave(s: Setup): Promise<void> {
  // The voucher crossed the wire before the close (the ack is the provider's answer to it).
  await waitFor(
    () => {
      s.tb.rechoke();
      return s.payer.acknowledged === s.payer.spent;
    },
    10_000,
    'the voucher to be accepted',
  );
  s.base = s.clock.pending;
  s.wb.destroy();
  await waitFor(() => s.rail.collects >= 1, 10_000, 'the first final collect');
}

const abandoned = (s: Setup) => s.warnings.filter((w) => w.code === 'SPEED_COLLECT_ABANDONED');

describe('final collects that fail', () => {
  it('a transient error is retried with exponential backoff until the collect succeeds', async () => {
    const s = await paid((n) => (n <= 2 ? transient() : undefined));
    await leave(s);
    // Attempt 2 after 1 s, attempt 3 after 2 s more (doubled).
    await waitFor(() => s.clock.pending > s.base, 10_000, 'a retry timer');
    s.clock.advance(999);
    expect(s.rail.collects).toBe(1);
    s.clock.advance(1);
    await waitFor(() => s.rail.collects >= 2, 10_000, 'attempt 2');
    await waitFor(() => s.clock.pending > s.base, 10_000, 'the next retry timer');
    s.clock.advance(1999);
    expect(s.rail.collects).toBe(2);
    s.clock.advance(1);
    await waitFor(() => s.provider.redeemed === s.payer.spent, 10_000, 'attempt 3 to collect');
    expect(s.rail.collects).toBe(3);
    expect(abandoned(s)).toEqual([]);
    expect(s.clock.pending).toBe(s.base); // the provider's rounds only
  });

  it('out of attempts: given up with SPEED_COLLECT_ABANDONED, no timer left, never tried again', async () => {
    const s = await paid(() => transient());
    await leave(s);
    for (let n = 2; n <= 4; n++) {
      await waitFor(() => s.clock.pending > s.base, 10_000, `retry timer ${n}`);
      s.clock.advance(3000); // the cap: every delay is at most this
      await waitFor(() => s.rail.collects >= n, 10_000, `attempt ${n}`);
    }
    await waitFor(() => abandoned(s).length > 0, 10_000, 'the give-up warning');
    const w = abandoned(s)[0];
    expect(w?.details).toMatchObject({ attempts: 4, permanent: false });
    expect(s.clock.pending).toBe(s.base); // the provider's rounds only
    s.clock.advance(3_600_000);
    expect(s.rail.collects).toBe(4);
  });

  it('a permanent error (a closed channel) is not retried', async () => {
    const s = await paid(() => permanent());
    await leave(s);
    await waitFor(() => abandoned(s).length > 0, 10_000, 'the give-up warning');
    expect(abandoned(s)[0]?.details).toMatchObject({ attempts: 1, permanent: true });
    expect(s.clock.pending).toBe(s.base);
    s.clock.advance(3_600_000);
    expect(s.rail.collects).toBe(1);
  });

  it('closing the torrent tries a pending collect once more at once, then leaves no timer', async () => {
    const s = await paid(() => transient());
    await leave(s);
    await waitFor(() => s.clock.pending > s.base, 10_000, 'a retry timer');
    s.tb.close();
    await waitFor(() => abandoned(s).length > 0, 10_000, 'the give-up warning');
    expect(s.rail.collects).toBe(2);
    expect(s.clock.pending).toBe(0);
    s.clock.advance(3_600_000);
    expect(s.rail.collects).toBe(2);
  });

  it('the typed codes: a permanent error is one the rail says retrying cannot help', () => {
    expect(isPermanentCollectError(permanent())).toBe(true);
    expect(isPermanentCollectError(new LedgerError('LEDGER_VOUCHER_BAD_SIGNATURE', 'x'))).toBe(true);
    expect(isPermanentCollectError(new LedgerError('LEDGER_CHANNEL_NOT_FOUND', 'x'))).toBe(true);
    expect(isPermanentCollectError(transient())).toBe(false);
    expect(isPermanentCollectError(new Error('socket hang up'))).toBe(false);
    expect(isPermanentCollectError(new Error('wrapped', { cause: permanent() }))).toBe(true);
  });
});
