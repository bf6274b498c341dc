import type { Clock } from '../util/clock.js';
import type { SlotAllocator } from './auction.js';
import { SpeedError } from './errors.js';
import type { LedgerRailOptions, PaymentRail } from './rail.js';
import type { BidStrategy } from './strategy.js';

/**
 * The options and events of BitTorrent Speed ({@link SpeedPlugin}, {@link WireSpeed}): what an
 * account sets, and what it reports.
 * @module
 */
/** Options of {@link speed} common to every payment rail. */
export interface SpeedCommonOptions {
  /** Most this client spends over all torrents, base units. 0 (default): never pays. */
  budget?: bigint;
  /** As a provider: the lowest price accepted, base units per MiB. Default 0. */
  reservePrice?: bigint;
  /** How we bid. Default {@link AutoBid}. */
  strategy?: BidStrategy;
  /** How we sell paid slots. Default the uniform-price auction. */
  allocator?: SlotAllocator;
  /** Share of upload slots sold. Default 0.5. */
  paidShare?: number;
  /**
   * Bytes a provider serves ahead of payment at most (the credit window, once grown: see
   * {@link initialCreditBytes}): a requester whose payments lag by more than its window (at its
   * granted price) loses its paid slot and keeps only
   * what tit-for-tat and the optimistic slot give any peer — never banned (the non-payment
   * defense). Default: the rail's (4 MiB on the ledger, 64 MiB on a BTTC channel).
   */
  creditBytes?: number;
  /**
   * The credit window of a payer that has paid nothing yet: it grows by every byte's worth paid,
   * up to {@link creditBytes}. A payer past its window that has paid nothing (or owes more than
   * twice its window) is cut at once (the host is asked for a choke round, not left to the next one), so an
   * identity that never pays is served at most this much ahead of payment by each provider. Default: the rail's
   * `defaultInitialCreditBytes` (512 KiB on the ledger), else the whole {@link creditBytes} (a
   * BTTC channel: its payers sign a voucher per 32 MiB). Both bounds are at least two pieces of
   * the torrent (a payer pays only for verified pieces; the host's `pieceLength`).
   */
  initialCreditBytes?: number;
  /**
   * Whether a payer that owes more than its credit window having paid nothing (or more than twice
   * its window) still ranks
   * for the regular free slots by what we uploaded to it while seeding (true: the behaviour before
   * #23). Default false: a seeder ranks it as if it had uploaded nothing to it — its paid-slot
   * service would otherwise win it the free slot it did not pay for; it keeps its optimistic turns
   * and, as a leecher's peer, tit-for-tat by what it uploads to us (never banned for being poor).
   * A payer that has paid something (an auto-bidder whose channel ran dry) is not ranked down.
   */
  debtorsInFreeSlots?: boolean;
  /**
   * As a provider: until it is granted a slot, a bid counts for at most the price at which its
   * channel's unspent deposit (locked minus what was already paid) still pays for
   * {@link minFundedBytes} — so a bid the deposit cannot back neither wins a slot nor raises the
   * clearing price for others; when that is below our reserve (or nothing is left) the bid is
   * refused with `reject` code 7 (`INSUFFICIENT_FUNDS`) and gets no slot. Once granted, a payer is
   * held to {@link creditBytes} only. The defense against bids without funds. Default true; false:
   * any open channel to us backs any bid (the behaviour before #23; for measuring the attack).
   */
  fundedBids?: boolean;
  /**
   * With {@link fundedBids}: the bytes a bid's channel must still pay for at the price the bid
   * counts for. Default 262,144 (256 KiB, a typical piece); 0: a bid counts at its full price as
   * long as anything is left in the channel.
   */
  minFundedBytes?: number;
  /**
   * As a requester: a provider that granted us a paid slot but sent no byte of a verified piece
   * for this long is left out of our bids (the strategy no longer sees it, so the budget and the
   * bid go to other providers) until it delivers verified bytes again (through a free slot). It
   * costs nothing meanwhile — we pay only for verified bytes — but its channel's deposit stays
   * locked. The non-delivery defense. Default 30,000 ms; 0: never.
   */
  grantTimeoutMs?: number;
  /**
   * A fixed amount locked per channel (one channel per provider), never topped up. Default: on
   * a rail that can top up a channel (both of bttkit's), a channel opens holding what
   * {@link channelAheadBytes} cost at the bid's price (at most a quarter of the budget) and is
   * topped up as it is spent, from the budget no channel in use holds; on another rail, a
   * quarter of the budget.
   */
  channelAmount?: bigint;
  /**
   * Bytes a channel holds funds for at its price (see {@link channelAmount}), at least two pieces.
   * Default 1 MiB; at least 512 KiB, twice a provider's default `minFundedBytes`: a channel topped
   * up at half of it still backs the bid.
   */
  channelAheadBytes?: number;
  /** How often bids are recomputed and vouchers collected (redeemed). Default 2 s and 10 s. */
  bidIntervalMs?: number;
  redeemIntervalMs?: number;
  /**
   * As a provider: a final collect (the redeem of a peer's best voucher when it leaves or the
   * torrent closes) that fails with a transient error (a ledger or node that cannot serve, a
   * timeout) is tried again after this delay, doubled after each failure up to
   * {@link collectRetryMaxMs}, until {@link collectAttempts} attempts in all. An error the rail
   * says is permanent (bad signature, another ledger, unknown or closed channel, not ours) is not
   * retried. Giving up is a `warning` with code `SPEED_COLLECT_ABANDONED` (details: `channelId`,
   * `attempts`, `permanent`); the voucher stays valid — the `earned` event carried what
   * collecting it later needs. When the torrent closes, no retry timer is left: each pending
   * collect is tried once more at once and given up if that fails. Default 10,000 ms.
   */
  collectRetryMs?: number;
  /** The longest delay between two attempts of a final collect ({@link collectRetryMs}). Default 600,000 ms (10 min). */
  collectRetryMaxMs?: number;
  /** Attempts of a final collect in all, the first included ({@link collectRetryMs}). Default 8 (about 31 min with the default delays). */
  collectAttempts?: number;
  /** Timer source (bid and redeem rounds, collect retries). Default the wall clock. */
  clock?: Clock;
}

/** Paying through the off-chain ledger's channels (the {@link LedgerRail}, made from these options). */
export interface SpeedLedgerOptions extends SpeedCommonOptions, LedgerRailOptions {
  rail?: never;
}

/** Paying through any {@link PaymentRail} (for example `BttcChannelRail`: on-chain channels on BTTC). */
export interface SpeedRailOptions extends SpeedCommonOptions {
  rail: PaymentRail;
}

/** Options of {@link speed}: the ledger's channels, or another payment rail. */
export type SpeedOptions = SpeedLedgerOptions | SpeedRailOptions;

/** Events of a {@link SpeedPlugin} (and of a {@link WireSpeed}). */
export interface SpeedEvents {
  /** A bid: ours at a provider (`requester`), or a requester's at us (`provider`). */
  bid: [{ peer: string; price: bigint; role: 'requester' | 'provider' }];
  /** A provider granted us a slot (or we granted one): price per MiB and credit. */
  grant: [{ peer: string; price: bigint; credit: number; role: 'requester' | 'provider' }];
  /**
   * We sent a voucher: `amount` is this payment, `cumulative` the channel total, `bytes` the
   * verified bytes paid for on this channel so far (cumulative = Σ bytes × price / MiB, floored).
   */
  paid: [{ peer: string; amount: bigint; cumulative: bigint; bytes: bigint }];
  /** A voucher we accepted (`amount`: the increment) — redeemed at the ledger later. */
  earned: [
    {
      peer: string;
      amount: bigint;
      cumulative: bigint;
      /** The channel (hex) and the voucher's signature: what collecting it needs (persist it to survive a crash). */
      channelId: string;
      signature: Uint8Array;
    },
  ];
  /**
   * A requester lost its paid slot (outbid, stopped bidding, or its payments lagged beyond the
   * credit window): what it owed and had paid at that moment.
   */
  revoked: [{ peer: string; due: bigint; paid: bigint }];
  /** Redeemed at the ledger. */
  redeemed: [{ channelId: string; credited: bigint }];
  /** A provider acknowledged our vouchers up to `cumulative` on its channel (it verified them). */
  acked: [{ peer: string; cumulative: bigint }];
  warning: [SpeedError];
}

/** Throws `SPEED_BAD_OPTION` for an option out of range (the account's constructor calls it). */
export function checkSpeedOptions(options: SpeedCommonOptions): void {
  const { minFundedBytes: mf, grantTimeoutMs: gt } = options;
  if (mf !== undefined && !(Number.isSafeInteger(mf) && mf >= 0))
    throw new SpeedError('SPEED_BAD_OPTION', 'minFundedBytes must be an integer >= 0');
  if (gt !== undefined && !(Number.isFinite(gt) && gt >= 0))
    throw new SpeedError('SPEED_BAD_OPTION', 'grantTimeoutMs must be >= 0');
  for (const [name, v, least] of [
    ['initialCreditBytes', options.initialCreditBytes, 0],
    ['channelAheadBytes', options.channelAheadBytes, 524_288],
    ['collectRetryMs', options.collectRetryMs, 1],
    ['collectRetryMaxMs', options.collectRetryMaxMs, 1],
    ['collectAttempts', options.collectAttempts, 1],
  ] as const) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= least))
      throw new SpeedError('SPEED_BAD_OPTION', `${name} must be an integer >= ${least}`);
  }
}
