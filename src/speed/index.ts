/**
 * BitTorrent Speed: bids, the provider's auction or PropShare allocation, the bid-aware choker,
 * and the payment plug-in that pays per verified piece through payment channels: the ledger's
 * ({@link LedgerRail}) or any other {@link PaymentRail}. {@link WireSpeed} brings the same rules
 * to any client built on `bittorrent-protocol` (WebTorrent): `wire.use(torrent.Extension)`.
 * @module speed
 */
export {
  type ProtocolExtension,
  type ProtocolExtensionClass,
  type ProtocolWire,
  WireSpeed,
  WireSpeedTorrent,
  type WireSpeedTorrentOptions,
} from './adapter.js';
export {
  type Allocation,
  type Award,
  type Bid,
  PropShareAllocator,
  type SlotAllocator,
  UniformPriceAuction,
} from './auction.js';
export {
  BTTC_CREDIT_BYTES,
  BTTC_PAY_EVERY_BYTES,
  BttcChannelRail,
  type BttcChannelRailOptions,
} from './bttc-rail.js';
export { type BidBook, SpeedChoker, type SpeedChokerOptions } from './choker.js';
export { SpeedClient, type SpeedClientOptions } from './client.js';
export {
  DEFAULT_COLLECT_ATTEMPTS,
  DEFAULT_COLLECT_RETRY_MAX_MS,
  DEFAULT_COLLECT_RETRY_MS,
  isPermanentCollectError,
} from './collect-retry.js';
export {
  DEFAULT_GRANT_TIMEOUT_MS,
  SpeedCore,
  type SpeedSwarm,
  type SpeedSwarmHost,
} from './core.js';
export {
  allowance,
  backedPrice,
  type CreditWindow,
  creditRules,
  DEFAULT_MIN_FUNDED_BYTES,
  DebtBook,
  debtor,
  type Funding,
  higher,
  overdrawn,
  pieceWindow,
  stingy,
} from './credit.js';
export { SPEED_ERROR_CODES, SpeedError, type SpeedErrorCode } from './errors.js';
export { ChannelFunds, type ChannelFundsOptions, DEFAULT_CHANNEL_AHEAD_BYTES } from './funds.js';
export {
  type SpeedCommonOptions,
  type SpeedEvents,
  type SpeedLedgerOptions,
  type SpeedOptions,
  SpeedPlugin,
  type SpeedRailOptions,
  speed,
} from './plugin.js';
export {
  LedgerRail,
  type LedgerRailOptions,
  type PaymentRail,
  type RailPayee,
  type RailPayer,
  type RailVoucher,
} from './rail.js';
export {
  AutoBid,
  type AutoBidOptions,
  type BidContext,
  type BidStrategy,
  FixedBid,
  MIB,
  NoBid,
  type ProviderView,
} from './strategy.js';
export { DEPOSIT_REFRESH_MS, depositRefresher, takeVoucher, type VoucherDesk } from './vouchers.js';
