import type { BttHandshake, BttSpeedExtension } from '../wire/btt-speed.js';
import type { SpeedChoker } from './choker.js';
import type { RailPayee, RailPayer, RailVoucher } from './rail.js';

/**
 * What a host of one torrent gives {@link SpeedCore} and gets from it (the account's options and
 * events are in options.ts).
 * @module
 */

/** What the rules need from the host of one torrent (a bttkit `Torrent`, or another client's). */
export interface SpeedSwarmHost {
  /** Bytes still to download and verify; `undefined` before the torrent's metadata is known (no bids then). */
  remainingBytes(): bigint | undefined;
  /** Bytes/s received lately from each peer, by id (the strategy bids at the fastest providers first). */
  downloadRates(): ReadonlyMap<string, number>;
  /**
   * The torrent's piece length once known (optional): a payer's credit window holds at least two
   * pieces, as it pays only for verified ones.
   */
  pieceLength?(): number | undefined;
  /** A bid was checked: the host may run a choke round now (optional to honour). */
  rechoke(): void;
  /**
   * False when the connection to `peer` is known to be closed (a voucher sent on it would be
   * lost): no voucher is signed for it, what is due stays owed. Optional (default: open).
   */
  connected?(peer: string): boolean;
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
  /**
   * The connection closed: what it paid us is collected (final, retried with backoff); a channel
   * of ours to it with a voucher it never acked is kept for the next connection to the same payee.
   */
  peerClosed(peer: string): void;
  /** The download completed: accrued payments go out and bids stop. */
  done(): void;
  /**
   * The torrent closed: what is due for verified bytes is paid first (a batching rail's vouchers),
   * then every payee is collected (final) and nothing else runs — no timer, no bid, no message, no
   * rail call but those final collects (and the ack of the voucher each verifies).
   */
  close(): void;
}

/** @internal {@link SpeedCore}'s state of one provider (we are its requester). */
export interface ProviderState {
  ext: BttSpeedExtension;
  hs: BttHandshake;
  /** Its address on our rail (the payee of our channel). */
  addr: string;
  signer?: RailPayer;
  opening?: Promise<void>;
  /** A top-up of {@link signer}'s channel in flight (resolves true when funds were added). */
  topping?: Promise<boolean>;
  seq: number;
  bid?: bigint;
  grant?: { price: bigint; credit: number };
  /** Σ verified bytes × price (exact); the voucher is this / MiB. */
  owed: bigint;
  /** Verified bytes counted towards payment. */
  bytes: bigint;
  /** Verified bytes not yet covered by a voucher (the rail may batch: `payEveryBytes`). */
  unpaid: number;
  /** The highest cumulative amount the provider acknowledged (never above what we signed). */
  acked: bigint;
  /** When its grant came, or it last sent bytes of a verified piece (clock ms): {@link SpeedCommonOptions.grantTimeoutMs}. */
  lastDelivery?: number;
  /** Granted but delivered nothing verified for `grantTimeoutMs`: left out of our bids. */
  stalled?: boolean;
  /** The newest voucher we signed on {@link signer} (sent again on a new connection if never acked). */
  last?: RailVoucher;
  /** Its channel was taken over from a closed connection: the `reject`s (code 4) of it so far. */
  reused?: number;
  /** The torrent closed: nothing more is bid or paid. */
  closed?: boolean;
}

/** @internal {@link SpeedCore}'s state of one requester (we are its provider). */
export interface RequesterState {
  ext: BttSpeedExtension;
  hs: BttHandshake;
  /** Its address on our rail (the payer of its channel). */
  addr: string;
  bid?: { price: bigint; seq: number; channel: Uint8Array };
  verifier?: RailPayee;
  checking?: Promise<void>;
  /** A read of its channel's deposit in flight (it may have topped it up). */
  refreshing?: Promise<void>;
  /** When its deposit was last read again (clock ms). */
  refreshedAt?: number;
  /** Vouchers waiting for its deposit to be read again: the newest one's offer (a collect waits for it). */
  offering?: Promise<void>;
  granted?: bigint;
  /** The bid `seq` the last grant answered (a new bid at the same price is answered too). */
  grantedSeq?: number;
  /** Σ bytes uploaded while granted × price (exact); expected payment is this / MiB. */
  served: bigint;
  /** A collect in progress (one at a time per peer). */
  collecting?: Promise<void>;
  /** The highest price it was granted (its debt is weighed at it, also after the grant and bid are gone). */
  lastGranted?: bigint;
  /** Judged past its credit window since the last round (cut at once, or left to the round). */
  overdrawn?: boolean;
}
