import { randomBytes } from 'node:crypto';
import type { BDict } from '../metainfo/bencode.js';
import { toHex } from '../util/bytes.js';
import type { Connection } from '../util/transport.js';
import {
  BTT_EXTENSION,
  BTT_MAX_MALFORMED,
  BTT_MAX_MESSAGE,
  type BttHandshake,
  type BttMessage,
  bttHandshakeFields,
  decodeBttMessage,
  encodeBttMessage,
  parseBttHandshake,
} from '../wire/btt-speed.js';
import { bttMessageToJson } from '../wire/btt-speed-json.js';
import { WireError } from '../wire/errors.js';
import type { ExtensionContext, HandshakeValue, WireExtension } from '../wire/extension.js';
import { PeerWire } from '../wire/peer-wire.js';
import { CliError } from './errors.js';

/**
 * One connection of the reference peer (`bttkit speed-peer`): a BitTorrent wire whose
 * `btt_speed` extension is driven by hand — every message it sends and receives is logged as a
 * JSON line, received ones are kept in order for the scenarios to wait on, and raw (even
 * deliberately malformed) payloads can be sent.
 * @module
 */

/** What a {@link RefLink} records, in arrival order. */
export type LinkEvent =
  | { k: 'msg'; m: BttMessage }
  | { k: 'malformed'; code: number; reason: string }
  | { k: 'ignored'; type: string }
  | { k: 'unchoke' }
  | { k: 'choke' }
  | { k: 'interested' }
  | { k: 'uninterested' }
  | { k: 'piece'; index: number; offset: number; length: number }
  | { k: 'close'; code: string | undefined };

/** A JSON line writer (one object a line on stdout). */
export type LogFn = (line: Record<string, unknown>) => void;

/** Options of {@link RefLink}. */
export interface RefLinkOptions {
  /** Our `btt` handshake. */
  handshake: BttHandshake;
  /** The torrent's info-hash. */
  infoHash: Uint8Array;
  /** Its content (served to the peer while it is unchoked; checked against when downloading). */
  content: Uint8Array;
  pieceLength: number;
  /** Connection number, in the log lines. */
  conn: number;
  log: LogFn;
  /** Opened by us (we send the BitTorrent handshake first) or accepted. */
  outgoing: boolean;
}

/** Thrown by {@link RefLink.wait} when the peer closes, or nothing matching arrives in time. */
export class LinkWaitError extends CliError {
  constructor(message: string) {
    super('CLI_PEER_WAIT', message);
  }
}

/** The handshake fields of a `btt` dictionary, in the JSON form of the log. */
function handshakeJson(h: BttHandshake): Record<string, unknown> {
  return { ...h, reserve: h.reserve.toString(10) };
}

/** See the module documentation. */
export class RefLink {
  readonly wire: PeerWire;
  readonly events: LinkEvent[] = [];
  /** The peer's `btt` handshake, once valid. */
  peer: BttHandshake | undefined;
  /** Bytes served to the peer (blocks answered). */
  served = 0;
  /** Requests answered only up to this many bytes (more are left unanswered). */
  serveLimit = 0;
  readonly #o: RefLinkOptions;
  #ctx: ExtensionContext | undefined;
  #malformed = 0;
  readonly #waiters = new Set<() => void>();
  readonly #ready: Promise<void>;

  constructor(connection: Connection, options: RefLinkOptions) {
    this.#o = options;
    const { pieceLength, content } = options;
    const pieceCount = Math.ceil(content.length / pieceLength);
    this.wire = new PeerWire(connection, {
      peerId: new Uint8Array(randomBytes(20)),
      ...(options.outgoing ? { infoHash: options.infoHash } : {}),
      torrent: { pieceLength, pieceCount, length: content.length },
      client: 'bttkit speed-peer',
    });
    this.wire.use((ctx) => {
      this.#ctx = ctx;
      const ext: WireExtension = {
        name: BTT_EXTENSION,
        maxPayload: BTT_MAX_MESSAGE,
        handshakeFields: (): Readonly<Record<string, HandshakeValue>> => ({
          btt: bttHandshakeFields(options.handshake),
        }),
        onExtendedHandshake: (h: BDict) => this.#onHandshake(h),
        onMessage: (payload: Uint8Array) => this.#onMessage(payload),
      };
      return ext;
    });
    const w = this.wire;
    this.#ready = new Promise<void>((resolve, reject) => {
      w.once('extended-handshake', () => resolve());
      w.once('close', (err) =>
        reject(new LinkWaitError(`closed before the extended handshake: ${err?.code}`)),
      );
    });
    this.#ready.catch(() => {});
    w.on('unchoke', () => this.#push({ k: 'unchoke' }));
    w.on('choke', () => this.#push({ k: 'choke' }));
    w.on('interested', () => this.#push({ k: 'interested' }));
    w.on('uninterested', () => this.#push({ k: 'uninterested' }));
    w.on('piece', (index, offset, block) => this.#push({ k: 'piece', index, offset, length: block.length }));
    w.on('request', (req, respond) => {
      const start = req.index * pieceLength + req.offset;
      if (w.amChoking || this.served + req.length > this.serveLimit || start + req.length > content.length) {
        respond(new WireError('WIRE_NOT_SUPPORTED', 'not served'));
        return;
      }
      this.served += req.length;
      respond(content.slice(start, start + req.length));
    });
    w.on('close', (err) => {
      this.log({ dir: 'in', close: err?.code ?? null });
      this.#push({ k: 'close', code: err?.code });
    });
    w.on('handshake', (h) => {
      if (!options.outgoing) w.handshake(options.infoHash);
      void h;
    });
    if (options.outgoing) w.handshake();
  }

  /** A log line about this connection. */
  log(line: Record<string, unknown>): void {
    this.#o.log({ conn: this.#o.conn, ...line });
  }

  /** Resolves once both handshakes are done; throws if the peer does not speak `btt_speed` v1. */
  async ready(): Promise<BttHandshake> {
    await this.#ready;
    if (!this.peer)
      throw new LinkWaitError('the peer does not speak btt_speed version 1 (no valid btt handshake)');
    return this.peer;
  }

  #onHandshake(h: BDict): void {
    const parsed = parseBttHandshake(h);
    if (parsed === undefined || 'error' in parsed) {
      this.log({ dir: 'in', handshake: null, error: parsed?.error ?? 'no btt dictionary' });
      return;
    }
    if (!this.#ctx?.peerSupports) {
      this.log({ dir: 'in', handshake: null, error: 'btt_speed not in m' });
      return;
    }
    this.peer = parsed;
    this.log({ dir: 'in', handshake: handshakeJson(parsed) });
  }

  #onMessage(payload: Uint8Array): void {
    const r = decodeBttMessage(payload);
    if (!r.ok) {
      this.log({ dir: 'in', malformed: { code: r.code, reason: r.reason, hex: toHex(payload) } });
      this.#push({ k: 'malformed', code: r.code, reason: r.reason });
      if (++this.#malformed >= BTT_MAX_MALFORMED) {
        this.wire.close(new WireError('WIRE_BTT_MALFORMED', 'too many malformed btt_speed messages'));
        return;
      }
      this.send({ t: 'reject', code: r.code, reason: r.reason.slice(0, 100) });
      return;
    }
    if (!r.message) {
      this.log({ dir: 'in', ignored: r.type });
      this.#push({ k: 'ignored', type: r.type });
      return;
    }
    this.log({ dir: 'in', msg: bttMessageToJson(r.message) });
    this.#push({ k: 'msg', m: r.message });
  }

  #push(e: LinkEvent): void {
    this.events.push(e);
    for (const w of [...this.#waiters]) w();
  }

  /** Sends a message (logged). */
  send(m: BttMessage): void {
    if (this.wire.closed) return;
    this.log({ dir: 'out', msg: bttMessageToJson(m) });
    this.#ctx?.send(encodeBttMessage(m));
  }

  /** Sends a raw payload as a `btt_speed` message (logged as hex with a label). */
  sendRaw(payload: Uint8Array, label: string): void {
    if (this.wire.closed) return;
    this.log({ dir: 'out', raw: toHex(payload), label });
    this.#ctx?.send(payload);
  }

  /**
   * Waits for the first event at or after index `from` for which `test` returns a value; resolves
   * with it and the index after it. Rejects when the connection closes first (unless `test` takes
   * the close) or after `timeoutMs`.
   */
  wait<T>(
    test: (e: LinkEvent) => T | undefined,
    what: string,
    timeoutMs: number,
    from = 0,
  ): Promise<{ value: T; next: number }> {
    return new Promise((resolve, reject) => {
      let i = from;
      const check = (): boolean => {
        for (; i < this.events.length; i++) {
          const e = this.events[i] as LinkEvent;
          const v = test(e);
          if (v !== undefined) {
            resolve({ value: v, next: i + 1 });
            return true;
          }
          if (e.k === 'close') {
            reject(new LinkWaitError(`the peer closed the connection (${e.code}) while waiting for ${what}`));
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.#waiters.delete(onEvent);
        reject(new LinkWaitError(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onEvent = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(onEvent);
      };
      this.#waiters.add(onEvent);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.wire.close();
  }
}
