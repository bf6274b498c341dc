import type { BttSpeedExtension } from '../wire/btt-speed.js';
import type { SpeedChoker } from './choker.js';

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
