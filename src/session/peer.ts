import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import type { CryptoMethod } from '../wire/mse/index.js';
import type { PeerWire } from '../wire/peer-wire.js';
import type { UtMetadataExtension } from '../wire/ut-metadata.js';
import type { UtPexExtension } from '../wire/ut-pex.js';
import type { LinkInfo, TransportKind } from './links.js';
import { RateMeter } from './rate.js';

/** What a torrent exposes about one connected peer. */
export interface PeerInfo {
  /** `host:port` as connected (outgoing) or as seen (incoming). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly incoming: boolean;
  /** The peer id from its handshake (hex), once known. */
  readonly peerId: string | undefined;
  /** Client name from the extended handshake, if sent. */
  readonly client: string | undefined;
  /** Bytes/s received from / sent to the peer. */
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly downloaded: number;
  readonly uploaded: number;
  /** Our view of the choke state both ways. */
  readonly amChoking: boolean;
  readonly peerChoking: boolean;
  /** Outstanding requests we sent. */
  readonly requests: number;
  /** The transport carrying the connection: `tcp` or `utp`. */
  readonly transport: TransportKind;
  /** `rc4` (MSE, every byte encrypted), `plaintext` (MSE handshake, then plaintext) or `none`. */
  readonly encryption: CryptoMethod | 'none';
}

/** Engine-side state of one connection. */
export class PeerConn {
  readonly down: RateMeter;
  readonly up: RateMeter;
  readonly connectedAt: number;
  /**
   * Since when the peer owes us a block: the time of its last block, or of the first request
   * sent while none was outstanding. The downloader times a silent peer's requests out from it.
   * (The requests themselves are the picker's: which blocks are asked of whom.)
   */
  waitingSince = 0;
  /** Pieces whose hash failed with this peer as the only source. */
  soleFailures = 0;
  unchoked = false;
  /** Whether we told the peer we are interested. */
  interestedSent = false;
  /** We sent the peer a bitfield, have-all or have-none. */
  stated = false;
  /** The BEP 11 extension of this wire (absent for private torrents). */
  pex: UtPexExtension | undefined;
  /** Peers we told this peer about through PEX (`host:port`). */
  readonly pexSent = new Set<string>();
  /** The BEP 9 extension of this wire. */
  metadata: UtMetadataExtension | undefined;
  /** Target number of outstanding requests (grows with the rate). */
  queueTarget: number;

  constructor(
    readonly id: string,
    readonly wire: PeerWire,
    readonly incoming: boolean,
    clock: Clock,
    initialQueue: number,
    readonly link: LinkInfo,
  ) {
    this.down = new RateMeter(clock, 5_000, 250);
    this.up = new RateMeter(clock, 5_000, 250);
    this.connectedAt = clock.now();
    this.queueTarget = initialQueue;
  }

  info(): PeerInfo {
    const remote = this.wire.remote;
    return {
      id: this.id,
      host: remote.host,
      port: remote.port,
      incoming: this.incoming,
      peerId: this.wire.peerHandshake ? toHex(this.wire.peerHandshake.peerId) : undefined,
      client: this.wire.peerExtendedHandshake?.client,
      downloadRate: this.down.rate(),
      uploadRate: this.up.rate(),
      downloaded: this.down.total,
      uploaded: this.up.total,
      amChoking: this.wire.amChoking,
      peerChoking: this.wire.peerChoking,
      requests: this.wire.outstandingRequests,
      transport: this.link.transport,
      encryption: this.link.encryption,
    };
  }
}
