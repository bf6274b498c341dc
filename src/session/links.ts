import type { PeerAddress } from '../metainfo/magnet.js';
import type { Clock } from '../util/clock.js';
import type { Connection, Transport } from '../util/transport.js';
import type {
  CryptoMethod,
  EncryptionPolicy,
  MseAcceptOptions,
  MseAcceptResult,
  MseConnectOptions,
  MseConnectResult,
} from '../wire/mse/index.js';
import { SessionError } from './errors.js';
import type { Settings } from './settings.js';

/** Which transport carries a connection. */
export type TransportKind = 'tcp' | 'utp';

/** How a connection reached us or we reached the peer: its transport and its encryption. */
export interface LinkInfo {
  readonly transport: TransportKind;
  /** `rc4`: every byte RC4-encrypted (MSE); `plaintext`: an MSE handshake, then plaintext; `none`: no MSE. */
  readonly encryption: CryptoMethod | 'none';
}

/** What a connection made without the client's dialer or listeners is taken for. */
export const NO_LINK: LinkInfo = Object.freeze({ transport: 'tcp', encryption: 'none' });

/** The client's transports: TCP (or any stream transport) and uTP; either may be absent. */
export interface PeerTransports {
  readonly tcp?: Transport | undefined;
  readonly utp?: Transport | undefined;
}

/**
 * Message stream encryption (MSE/PE) as the session uses it: the functions of `bttkit/wire`'s
 * `mseConnect` / `mseAccept`, injectable so tests (and the swarm lab) can replace them.
 */
export interface StreamEncryption {
  connect(conn: Connection, options: MseConnectOptions): Promise<MseConnectResult>;
  accept(conn: Connection, options: MseAcceptOptions): Promise<MseAcceptResult>;
  /** SHA-1('req2' ‖ infoHash): how an incoming MSE handshake names its torrent. */
  req2Hash(infoHash: Uint8Array): Uint8Array;
}

/** What the dialer remembers about an address between attempts (on the book's `KnownPeer`). */
export interface LinkHints {
  /** False once a uTP dial failed (or PEX said nothing): TCP then. Undefined: unknown, try uTP. */
  utp?: boolean | undefined;
  /** False once an MSE handshake failed under `enabled`: plaintext then. True: the peer prefers it. */
  encryption?: boolean | undefined;
}

type LinkSettings = Pick<
  Settings,
  'enableTcp' | 'enableUtp' | 'encryption' | 'preferRc4' | 'connectTimeoutMs'
>;

/** How long a uTP dial may take before TCP is tried instead, ms. */
export const UTP_FALLBACK_MS = 3_000;

/** A dialled connection, its handshake (if any) done, ready for the BitTorrent handshake. */
export interface Dialed {
  readonly connection: Connection;
  readonly link: LinkInfo;
}

/** The crypto methods we offer (outgoing) or accept (incoming) under `policy`. */
export function cryptoMethods(policy: EncryptionPolicy): CryptoMethod[] {
  return policy === 'forced' ? ['rc4'] : ['plaintext', 'rc4'];
}

/**
 * Opens outgoing peer connections the way libtorrent does: uTP first unless the peer is known
 * not to speak it (a failed uTP dial falls back to TCP at once and is remembered), then the MSE
 * handshake unless encryption is disabled; under `enabled` a failed MSE handshake is retried
 * once in plaintext (and remembered), under `forced` it is the end.
 */
export class Dialer {
  readonly #transports: PeerTransports;
  readonly #encryption: StreamEncryption | undefined;
  readonly #settings: Readonly<LinkSettings>;
  readonly #clock: Clock;

  constructor(
    transports: PeerTransports,
    encryption: StreamEncryption | undefined,
    settings: Readonly<LinkSettings>,
    clock: Clock,
  ) {
    this.#transports = transports;
    this.#encryption = encryption;
    this.#settings = settings;
    this.#clock = clock;
  }

  /** The transports to try for a peer, in order. */
  order(hints: LinkHints): TransportKind[] {
    const s = this.#settings;
    const out: TransportKind[] = [];
    const utp = s.enableUtp && this.#transports.utp !== undefined;
    const tcp = s.enableTcp && this.#transports.tcp !== undefined;
    if (utp && hints.utp !== false) out.push('utp');
    if (tcp) out.push('tcp');
    // Known not to speak uTP, but uTP is all we have: try it anyway.
    if (out.length === 0 && utp) out.push('utp');
    return out;
  }

  /**
   * Connects to `addr` for the torrent `infoHash`. Updates `hints` with what it learned.
   * @throws {SessionError} `SESSION_CONNECT_FAILED` when every way failed (the last error as
   *   cause), `SESSION_NO_TRANSPORT` when no transport is enabled.
   */
  async dial(
    addr: PeerAddress,
    infoHash: Uint8Array,
    hints: LinkHints,
    signal: AbortSignal,
  ): Promise<Dialed> {
    const order = this.order(hints);
    if (order.length === 0)
      throw new SessionError(
        'SESSION_NO_TRANSPORT',
        'no transport enabled (enableTcp and enableUtp are both off)',
      );
    let last: unknown;
    for (const kind of order) {
      if (signal.aborted) break;
      try {
        return await this.#dialOn(kind, addr, infoHash, hints, signal, order.length > 1 && kind === 'utp');
      } catch (err) {
        last = err;
        if (kind === 'utp' && !signal.aborted) hints.utp = false;
      }
    }
    throw new SessionError('SESSION_CONNECT_FAILED', `cannot connect to ${addr.host}:${addr.port}`, {
      cause: last ?? signal.reason,
    });
  }

  async #dialOn(
    kind: TransportKind,
    addr: PeerAddress,
    infoHash: Uint8Array,
    hints: LinkHints,
    signal: AbortSignal,
    shortTimeout: boolean,
  ): Promise<Dialed> {
    const policy = this.#settings.encryption;
    const enc = this.#encryption;
    const encrypt =
      policy !== 'disabled' && enc !== undefined && (policy === 'forced' || hints.encryption !== false);
    const conn = await this.#connect(kind, addr, signal, shortTimeout);
    if (!encrypt) return { connection: conn, link: { transport: kind, encryption: 'none' } };
    try {
      const provide = cryptoMethods(policy);
      const r = await enc.connect(conn, {
        infoHash,
        provide,
        prefer: this.#settings.preferRc4 || policy === 'forced' ? 'rc4' : 'plaintext',
        clock: this.#clock,
        signal,
      });
      hints.encryption = true;
      return { connection: r.connection, link: { transport: kind, encryption: r.method } };
    } catch (err) {
      conn.destroy();
      if (policy === 'forced' || signal.aborted) throw err;
      // The peer may not speak MSE: once more in plaintext, and remember.
      hints.encryption = false;
      const plain = await this.#connect(kind, addr, signal, shortTimeout);
      return { connection: plain, link: { transport: kind, encryption: 'none' } };
    }
  }

  /**
   * One transport's connect. A uTP attempt that may fall back gets {@link UTP_FALLBACK_MS} (at
   * most half the connect timeout): a host with no uTP never answers (no ICMP reaches an
   * unconnected UDP socket), and waiting the whole timeout before TCP would cost every such peer
   * that long (libtorrent's `utp_connect_timeout` is 3 s too).
   */
  async #connect(
    kind: TransportKind,
    addr: PeerAddress,
    signal: AbortSignal,
    short: boolean,
  ): Promise<Connection> {
    const t = kind === 'utp' ? this.#transports.utp : this.#transports.tcp;
    if (!t) throw new SessionError('SESSION_NO_TRANSPORT', `no ${kind} transport`);
    if (!short) return t.connect(addr, { signal });
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const ms = Math.max(1, Math.min(UTP_FALLBACK_MS, this.#settings.connectTimeoutMs / 2));
    const timer = this.#clock.setTimeout(() => ac.abort(), ms);
    try {
      return await t.connect(addr, { signal: ac.signal });
    } finally {
      timer.cancel();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
