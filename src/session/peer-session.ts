import { formatPeerAddress, type PeerAddress } from '../metainfo/magnet.js';
import type { InfoDictionary } from '../metainfo/torrent.js';
import { toHex } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import type { BttkitError } from '../util/errors.js';
import type { WireError } from '../wire/errors.js';
import type { ExtensionFactory, WireExtension } from '../wire/extension.js';
import type { BlockRequest, PeerWire, RespondFn } from '../wire/peer-wire.js';
import { utMetadata } from '../wire/ut-metadata.js';
import { PexFlags, utPex } from '../wire/ut-pex.js';
import type { ChokeScheduler } from './choke-scheduler.js';
import type { Downloader } from './downloader.js';
import { SessionError } from './errors.js';
import type { LinkHints, LinkInfo } from './links.js';
import { PeerConn } from './peer.js';
import type { PeerBook } from './peer-book.js';
import { listenAddress, PEX_MAX_PEERS, type PexGossip } from './pex.js';
import type { Settings } from './settings.js';
import type { V2Torrent } from './v2.js';

/** Delay of the first PEX message after the extended handshake, ms (then once a minute). */
const FIRST_PEX_MS = 500;

/** What a peer's session needs from its torrent. */
export interface PeerSessionHost {
  readonly infoHash: Uint8Array;
  /** The 32-byte v2 info-hash, when known (fetched metadata is then checked against it). */
  infoHashV2(): Uint8Array | undefined;
  readonly clock: Clock;
  readonly settings: Readonly<Settings>;
  readonly book: PeerBook;
  readonly choke: ChokeScheduler;
  readonly pex: PexGossip;
  /** Extensions to register on a new wire, made for this torrent. */
  extensions(): readonly ExtensionFactory<WireExtension>[];
  info(): InfoDictionary | undefined;
  /** The downloader, once metadata and store exist. */
  downloader(): Downloader | undefined;
  /** The BEP 52 side (hash requests and answers), for a v2 or hybrid torrent. */
  v2(): V2Torrent | undefined;
  /** Metadata fetched from a peer (BEP 9). */
  metadata(info: InfoDictionary): void;
  /** A peer told us of an address (PEX). */
  addPeer(addr: PeerAddress, hints?: LinkHints): void;
  /** A peer told its DHT port (BEP 5 `port` message). */
  dhtNode(host: string, port: number): void;
  /** A request to answer (the uploader's job). */
  request(peer: PeerConn, req: BlockRequest, respond: RespondFn): void;
  /** A new connection, for the client's features (`TorrentFeature.attach`). */
  onAttach(peer: PeerConn): void;
  /** The torrent's events. */
  onWire(wire: PeerWire, meta: { id: string; incoming: boolean }): void;
  onPeer(peer: PeerConn): void;
  /** The connection closed (the client's count, the book, back-off and events). */
  onClosed(peer: PeerConn, err: WireError | undefined): void;
  warn(err: BttkitError): void;
}

/**
 * Joins one connection to its torrent: registers the extensions (BEP 9 metadata on every wire,
 * BEP 11 PEX unless the torrent is private, then the client's), admits the peer into the book
 * once its handshake arrives, and routes the wire's events to the parts that own them — pieces
 * and unchoke to the downloader, interest to the choke scheduler, requests to the uploader.
 */
export function attachPeer(
  host: PeerSessionHost,
  wire: PeerWire,
  id: string,
  incoming: boolean,
  link: LinkInfo,
): PeerConn {
  const s = host.settings;
  const peer = new PeerConn(id, wire, incoming, host.clock, s.minRequestQueue, link);
  const info = host.info();
  const v2Hash = host.infoHashV2();
  const meta = wire.use(
    utMetadata({
      infoHash: host.infoHash,
      ...(v2Hash ? { infoHashV2: v2Hash } : {}),
      ...(info ? { info } : {}),
    }),
  );
  peer.metadata = meta;
  meta.on('metadata', (i) => host.metadata(i));
  meta.on('failed', (err) =>
    host.warn(
      new SessionError('SESSION_METADATA_FAILED', `metadata from ${id}: ${err.message}`, { cause: err }),
    ),
  );
  if (!info?.private) {
    const pex = wire.use(utPex());
    peer.pex = pex;
    pex.on('peers', (m) => {
      if (host.info()?.private) return;
      for (const a of m.added.slice(0, PEX_MAX_PEERS))
        host.addPeer(
          { host: a.host, port: a.port },
          {
            ...((a.flags & PexFlags.utp) !== 0 ? { utp: true } : {}),
            ...((a.flags & PexFlags.encryption) !== 0 ? { encryption: true } : {}),
          },
        );
    });
  }
  host.onAttach(peer);
  for (const ext of host.extensions()) wire.use(ext);
  host.onWire(wire, { id, incoming });
  if (info) wire.setTorrent(info);
  let registered = false;

  const register = () => {
    const remoteId = wire.peerHandshake ? toHex(wire.peerHandshake.peerId) : undefined;
    if (!host.book.admit(peer, remoteId)) return;
    registered = true;
    const d = host.downloader();
    if (d) d.addPeer(peer);
    else if (wire.fast) {
      wire.haveNone();
      peer.stated = true;
    }
  };
  // An incoming wire has its peer's handshake already: register now; else on arrival.
  if (wire.peerHandshake) queueMicrotask(register);
  else wire.on('handshake', register);
  wire.on('extended-handshake', () => {
    if (incoming && !wire.closed) {
      // (Often before `register`: the handshake and this message can arrive in one read.)
      const a = listenAddress(peer);
      if (a) host.book.listensAt(formatPeerAddress(a), peer);
    }
    if (registered) host.onPeer(peer);
    host.v2()?.pump();
    if (peer.pex?.active)
      host.clock.setTimeout(() => {
        if (!host.info()?.private) host.pex.send(peer, host.book.connected);
      }, FIRST_PEX_MS);
  });
  wire.on('port', (port) => {
    if (!host.info()?.private) host.dhtNode(wire.remote.host, port);
  });
  // Before the metadata the wire keeps the peer's pieces; the downloader replays them.
  wire.on('bitfield', (bits) => host.downloader()?.peerPieces(peer, (p) => p.peerBitfield(id, bits)));
  wire.on('have', (i) => host.downloader()?.peerPieces(peer, (p) => p.peerHave(id, i)));
  wire.on('have-all', () => host.downloader()?.peerPieces(peer, (p) => p.peerHaveAll(id)));
  wire.on('have-none', () => host.downloader()?.peerPieces(peer, (p) => p.peerHaveNone(id)));
  wire.on('unchoke', () => host.downloader()?.fill(peer));
  // Requests outstanding at a choke go back to the picker (and off the wire: downloader.ts).
  wire.on('choke', () => host.downloader()?.peerChoked(peer));
  wire.on('interested', () => host.choke.peerInterested());
  wire.on('uninterested', () => host.choke.slotFreed(peer));
  wire.on('request', (req, respond) => host.request(peer, req, respond));
  // BEP 52 (v2): hash requests are answered or rejected, answers go to whoever asked.
  wire.on('hash-request', (req) => {
    const v2 = host.v2();
    if (v2) v2.onRequest(peer, req);
    else wire.hashReject(req);
  });
  wire.on('hashes', (m) => host.v2()?.onHashes(peer, m));
  wire.on('hash-reject', (req) => host.v2()?.onReject(peer, req));
  wire.on('close', (err) => {
    // (Only a registered peer: a duplicate shares its address id with the one kept.)
    if (registered) host.downloader()?.removePeer(peer);
    host.v2()?.peerClosed(peer);
    host.onClosed(peer, err);
  });
  return peer;
}
