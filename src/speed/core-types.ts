import type { Clock } from '../util/clock.js';
import type { BttSpeedExtension } from '../wire/btt-speed.js';
import type { SlotAllocator } from './auction.js';
import type { SpeedChoker } from './choker.js';
import type { SpeedError } from './errors.js';
import type { LedgerRailOptions, PaymentRail } from './rail.js';
import type { BidStrategy } from './strategy.js';

/**
 * The public types of {@link SpeedCore}: its options, events, and what a host of one torrent
 * gives it and gets from it.
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
  /** Bytes a provider serves ahead of payment (the credit window). Default: the rail's (4 MiB on the ledger, 64 MiB on a BTTC channel). */
  creditBytes?: number;
  /** Locked per channel (one channel per provider). Default a quarter of the budget. */
  channelAmount?: bigint;
  /** How often bids are recomputed and vouchers collected (redeemed). Default 2 s and 10 s. */
  bidIntervalMs?: number;
  redeemIntervalMs?: number;
  /** Timer source (bid and redeem rounds). Default the wall clock. */
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

/** What the rules need from the host of one torrent (a bttkit `Torrent`, or another client's). */
export interface SpeedSwarmHost {
  /** Bytes still to download and verify; `undefined` before the torrent's metadata is known (no bids then). */
  remainingBytes(): bigint | undefined;
  /** Bytes/s received lately from each peer, by id (the strategy bids at the fastest providers first). */
  downloadRates(): ReadonlyMap<string, number>;
  /** A bid was checked: the host may run a choke round now (optional to honour). */
  rechoke(): void;
}

/**
 * The rules for one torrent, fed by its host. Peer ids are the host's (any stable string per
 * connection). Made by the account ({@link SpeedCore}); both {@link SpeedPlugin} and
 * {@link WireSpeed} are thin glue around it.
 */
export interface SpeedSwarm {
  /** The provider's bid-aware choker: its paid slots are the auction's winners. */
  readonly choker: SpeedChoker;
  /** A connection carrying `btt_speed` (its extension's events are handled from now on). */
  addPeer(peer: string, ext: BttSpeedExtension): void;
  /** We uploaded `bytes` of payload to `peer` (counted towards what it owes while granted). */
  uploaded(peer: string, bytes: number): void;
  /** A piece passed its hash check: `sources` says who sent how many of its bytes. Pays each granted provider. */
  verified(sources: Iterable<readonly [peer: string, bytes: number]>): void;
  /** The peer is in a paid slot now (it won the last round and holds a grant). */
  isPaid(peer: string): boolean;
  /** The connection closed: what it paid us is collected (final). */
  peerClosed(peer: string): void;
  /** The download completed: accrued payments go out and bids stop. */
  done(): void;
  /** The torrent closed: timers stop, every payee is collected (final). */
  close(): void;
}
