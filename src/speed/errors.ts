import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';
import { BttRejectCode } from '../wire/btt-speed.js';

/**
 * The codes of {@link SpeedError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `SPEED_BAD_OPTION` | an option out of range (a share outside [0, 1], a negative price) |
 * | `SPEED_BAD_CHANNEL` | a peer's payment channel is unknown, not from it to us, or expires too soon |
 * | `SPEED_BAD_VOUCHER` | a voucher that does not verify or does not increase |
 * | `SPEED_GRANT_ABOVE_BID` | a provider granted a slot at a price above our bid (ignored) |
 * | `SPEED_CHANNEL_FAILED` | we could not open a channel to a provider (see `cause`) |
 * | `SPEED_PAY_FAILED` | signing or sending a payment failed (see `cause`) |
 * | `SPEED_REDEEM_FAILED` | redeeming a voucher at the ledger failed (see `cause`) |
 * | `SPEED_COLLECT_ABANDONED` | a final collect is given up: a permanent error, out of attempts, or the torrent closed (`details`: `channelId`, `attempts`, `permanent`; see `cause`) |
 * | `SPEED_PEER_DROPPED` | the `bittorrent-protocol` adapter dropped a peer (malformed `btt_speed` messages; see `cause`) |
 * | `SPEED_SEND_FAILED` | a `btt_speed` message could not be sent (the peer turned the extension off, the wire closed; see `cause`) |
 *
 * All but `SPEED_BAD_OPTION` reach the application as the plug-in's `warning` event.
 */
export const SPEED_ERROR_CODES = [
  'SPEED_BAD_OPTION',
  'SPEED_BAD_CHANNEL',
  'SPEED_BAD_VOUCHER',
  'SPEED_GRANT_ABOVE_BID',
  'SPEED_CHANNEL_FAILED',
  'SPEED_PAY_FAILED',
  'SPEED_REDEEM_FAILED',
  'SPEED_COLLECT_ABANDONED',
  'SPEED_PEER_DROPPED',
  'SPEED_SEND_FAILED',
] as const;
/** One of {@link SPEED_ERROR_CODES}. */
export type SpeedErrorCode = (typeof SPEED_ERROR_CODES)[number];

/** The `details` of a {@link SpeedError} (for `SPEED_COLLECT_ABANDONED`: `channelId`, `attempts`, `permanent`). */
export type SpeedErrorDetails = Readonly<Record<string, string | number | boolean>>;

/** A payment problem the torrent survives (surfaced as a `warning`). `code` is a {@link SpeedErrorCode}. */
export class SpeedError extends BttkitError {
  declare readonly code: SpeedErrorCode;

  constructor(code: SpeedErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/**
 * The `reject` code for a voucher the rail refused (docs/btt-extension.md, "Error codes"): above
 * the channel's deposit 7, another ledger 8, otherwise (not above the last one) 6.
 */
export function refusalCode(err: unknown): number {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code !== 'string') return BttRejectCode.NOT_INCREASING;
  if (code.endsWith('_EXCEEDS_LOCKED') || code.endsWith('_EXCEEDS_DEPOSIT'))
    return BttRejectCode.INSUFFICIENT_FUNDS;
  if (code.endsWith('_WRONG_LEDGER')) return BttRejectCode.WRONG_LEDGER;
  return BttRejectCode.NOT_INCREASING;
}
