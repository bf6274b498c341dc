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

type LinkSettings = Pick<Settings, 'enableTcp' | 'enableUtp' | 'encryption' | 'preferRc4'>;

/**
 * How long a uTP dial runs alone before TCP is dialled next to it, ms (when both may be used).
 * Whichever connects first is kept and the other is cancelled, so a peer without uTP costs this
 * much rather than a whole uTP timeout (a host with no uTP never answers: no ICMP reaches an
 * unconnected UDP socket), and a peer with uTP on any path under this round trip is reached over
 * uTP. Browsers race IPv6 and IPv4 the same way (RFC 8305's 250 ms).
 */
export const UTP_HEAD_START_MS = 500;

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
 * not to speak it, TCP alongside once uTP has had {@link UTP_HEAD_START_MS} (the first to connect
 * wins; a uTP dial that failed is remembered), then the MSE
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
    let opened: { kind: TransportKind; connection: Connection };
    try {
      opened = await this.#open(order, addr, hints, signal);
    } catch (err) {
      throw new SessionError('SESSION_CONNECT_FAILED', `cannot connect to ${addr.host}:${addr.port}`, {
        cause: err,
      });
    }
    return this.#secure(opened.kind, opened.connection, addr, infoHash, hints, signal);
  }

  /** The MSE handshake per policy on a fresh connection (a plaintext retry under `enabled`). */
  async #secure(
    kind: TransportKind,
    conn: Connection,
    addr: PeerAddress,
    infoHash: Uint8Array,
    hints: LinkHints,
    signal: AbortSignal,
  ): Promise<Dialed> {
    const policy = this.#settings.encryption;
    const enc = this.#encryption;
    const encrypt =
      policy !== 'disabled' && enc !== undefined && (policy === 'forced' || hints.encryption !== false);
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
      if (policy === 'forced' || signal.aborted)
        throw new SessionError('SESSION_CONNECT_FAILED', `cannot connect to ${addr.host}:${addr.port}`, {
          cause: err,
        });
      // The peer may not speak MSE: once more in plaintext, on the transport that worked, and remember.
      hints.encryption = false;
      try {
        const plain = await this.#connectOne(kind, addr, signal);
        return { connection: plain, link: { transport: kind, encryption: 'none' } };
      } catch (err2) {
        throw new SessionError('SESSION_CONNECT_FAILED', `cannot connect to ${addr.host}:${addr.port}`, {
          cause: err2,
        });
      }
    }
  }

  /**
   * Opens a connection over the first transport of `order`, then (after
   * {@link UTP_HEAD_START_MS}, or at once when the first failed) over the next one alongside:
   * the first to connect wins, the others are cancelled or closed. A uTP dial that failed by
   * itself (not cancelled) marks the address, so the next dial goes straight to TCP.
   * Rejects with the last transport's error when every one failed.
   */
  #open(
    order: readonly TransportKind[],
    addr: PeerAddress,
    hints: LinkHints,
    signal: AbortSignal,
  ): Promise<{ kind: TransportKind; connection: Connection }> {
    return new Promise((resolve, reject) => {
      const attempts: AbortController[] = [];
      let next = 0;
      let failed = 0;
      let settled = false;
      let timer: { cancel(): void } | undefined;
      const finish = (winner?: AbortController) => {
        settled = true;
        timer?.cancel();
        signal.removeEventListener('abort', onAbort);
        for (const ac of attempts) if (ac !== winner) ac.abort();
      };
      const onAbort = () => {
        if (settled) return;
        finish();
        reject(signal.reason);
      };
      const start = () => {
        timer?.cancel();
        timer = undefined;
        const kind = order[next++];
        if (kind === undefined || settled) return;
        const ac = new AbortController();
        attempts.push(ac);
        this.#connectOne(kind, addr, ac.signal).then(
          (connection) => {
            if (settled) {
              connection.destroy();
              return;
            }
            if (kind === 'utp') hints.utp = true;
            finish(ac);
            resolve({ kind, connection });
          },
          (err: unknown) => {
            if (kind === 'utp' && !ac.signal.aborted) hints.utp = false;
            if (settled) return;
            if (++failed === order.length) {
              finish();
              reject(err);
            } else if (next === failed) start();
          },
        );
        if (next < order.length) timer = this.#clock.setTimeout(start, UTP_HEAD_START_MS);
      };
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      start();
    });
  }

  /** One transport's connect, cancelled by `signal`. */
  #connectOne(kind: TransportKind, addr: PeerAddress, signal: AbortSignal): Promise<Connection> {
    const t = kind === 'utp' ? this.#transports.utp : this.#transports.tcp;
    if (!t) return Promise.reject(new SessionError('SESSION_NO_TRANSPORT', `no ${kind} transport`));
    return t.connect(addr, { signal });
  }
}
