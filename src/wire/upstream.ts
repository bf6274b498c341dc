/**
 * The adapter to `bittorrent-protocol`: the one file that imports it, and the one place that
 * touches its private members. The package is pinned to exactly {@link UPSTREAM_VERSION}
 * (package.json); test/wire/upstream.test.ts fails when the installed version or the shape and
 * behaviour of a seam below differ, and {@link UpstreamWire}'s constructor refuses a `Wire` that
 * lacks one (`WIRE_UPSTREAM_MISMATCH`).
 *
 * `Wire` is used as the protocol's state machine and encoder: choke/interest state, the request
 * queues and their BEP 6 rules, the peer's pieces, the message encoders. Its parser is not used:
 * the framing guard (guard.ts) is the only parser, and hands each message it decoded to
 * {@link UpstreamWire.onMessage} & co., which call `Wire`'s handler for it.
 *
 * The seams (private in 5.0.9, all named in {@link UPSTREAM_SEAMS}):
 * - `_push(data)`: every outgoing message goes through it; overridden to hand it to our writer.
 * - `_pull(requests, piece, offset, length)`: overridden to search from a hint, and to match an
 *   answer to the very request it answers (see `PinnedWire._pull`).
 * - `_callback(request, err, block)`: runs one request's callback (what `Wire._onPiece` does).
 * - `_onHandshake`, `_onChoke`, `_onUnchoke`, `_onInterested`, `_onUninterested`, `_onHave`,
 *   `_onBitField`, `_onRequest`, `_onCancel`, `_onHaveAll`, `_onHaveNone`, `_onReject`,
 *   `_onAllowedFast`: the handlers `Wire`'s own parser calls for each message.
 * @module
 */
import Wire, { type WireRequest } from 'bittorrent-protocol';
import { WireError, type WireErrorCode } from './errors.js';

/** The `bittorrent-protocol` version this adapter is written and tested against. */
export const UPSTREAM_VERSION = '5.0.9';

/** The private methods of `Wire` the adapter relies on, with their number of declared parameters. */
export const UPSTREAM_SEAMS: Readonly<Record<string, number>> = Object.freeze({
  _push: 1,
  _pull: 4,
  _callback: 3,
  _onHandshake: 3,
  _onChoke: 0,
  _onUnchoke: 0,
  _onInterested: 0,
  _onUninterested: 0,
  _onHave: 1,
  _onBitField: 1,
  _onRequest: 3,
  _onCancel: 3,
  _onHaveAll: 0,
  _onHaveNone: 0,
  _onReject: 3,
  _onAllowedFast: 1,
});

/** What `Wire` keeps per request besides the public fields. */
interface UpstreamRequest extends WireRequest {
  callback: (err: Error | null, block: Uint8Array | null) => void;
}

/** The private members of `Wire` 5.0.9 used here. */
interface WireInternals {
  requests: UpstreamRequest[];
  _pull(requests: UpstreamRequest[], piece: number, offset: number, length: number): UpstreamRequest | null;
  _callback(request: UpstreamRequest | null, err: Error | null, block: Uint8Array | null): void;
  _onHandshake(infoHash: Uint8Array, peerId: Uint8Array, flags: UpstreamFlags): void;
  _onChoke(): void;
  _onUnchoke(): void;
  _onInterested(): void;
  _onUninterested(): void;
  _onHave(index: number): void;
  _onBitField(bits: Uint8Array): void;
  _onRequest(index: number, offset: number, length: number): void;
  _onCancel(index: number, offset: number, length: number): void;
  _onHaveAll(): void;
  _onHaveNone(): void;
  _onReject(index: number, offset: number, length: number): void;
  _onAllowedFast(index: number): void;
}

interface UpstreamFlags {
  dht: boolean;
  fast: boolean;
  extended: boolean;
}

/** Checks `proto` (a `Wire.prototype`) for every seam; returns what is missing or changed. */
export function upstreamMismatches(proto: object): string[] {
  const bad: string[] = [];
  const p = proto as Record<string, unknown>;
  for (const [name, arity] of Object.entries(UPSTREAM_SEAMS)) {
    const fn = p[name];
    if (typeof fn !== 'function') bad.push(`${name} is missing`);
    else if (fn.length !== arity) bad.push(`${name} takes ${fn.length} parameters, not ${arity}`);
  }
  return bad;
}

let shapeChecked = false;

function checkShape(): void {
  if (shapeChecked) return;
  const bad = upstreamMismatches(Wire.prototype);
  if (bad.length > 0) {
    throw new WireError(
      'WIRE_UPSTREAM_MISMATCH',
      `bittorrent-protocol is not the ${UPSTREAM_VERSION} bttkit was built for: ${bad.join('; ')}`,
    );
  }
  shapeChecked = true;
}

/** How one of our requests ended without a block. */
export type RequestFailure = Extract<
  WireErrorCode,
  'WIRE_CLOSED' | 'WIRE_REQUEST_CHOKED' | 'WIRE_REQUEST_REJECTED' | 'WIRE_REQUEST_CANCELLED'
>;

/** The end of one of our requests: the block, or a {@link WireError} with a {@link RequestFailure} code. */
export type UpstreamRequestCallback = (error: WireError | null, block?: Uint8Array) => void;

const FAILURE_MESSAGES: Readonly<Record<RequestFailure, string>> = {
  WIRE_CLOSED: 'the wire is closed',
  WIRE_REQUEST_CHOKED: 'the peer is choking us',
  WIRE_REQUEST_REJECTED: 'the peer rejected the request',
  WIRE_REQUEST_CANCELLED: 'the request was cancelled',
};

function requestError(failure: RequestFailure): WireError {
  return new WireError(failure, FAILURE_MESSAGES[failure]);
}

const EMPTY = new Uint8Array(0);

/** Answers a peer's request: `null` and the block, or an error (a reject under BEP 6). */
export type UpstreamRespond = (err: Error | null, block?: Uint8Array) => void;

/** What the state machine reports. Not called once {@link UpstreamWire.destroy} ran. */
export interface UpstreamHandlers {
  /** One outgoing message (or part of one: a block follows its header). */
  output(data: Uint8Array): void;
  choke(): void;
  unchoke(): void;
  interested(): void;
  uninterested(): void;
  /** The peer has a piece it did not have (repeats are not reported). */
  have(index: number): void;
  bitfield(bits: Uint8Array): void;
  haveAll(): void;
  haveNone(): void;
  /** A request from the peer to answer (not reported while we choke it, unless allowed-fast). */
  request(index: number, offset: number, length: number, respond: UpstreamRespond): void;
  cancel(index: number, offset: number, length: number): void;
  reject(index: number, offset: number, length: number): void;
  allowedFast(index: number): void;
}

class PinnedWire extends Wire {
  /** Where `_push` sends (names unlikely to meet a future upstream field). */
  bttOutput: (data: Uint8Array) => void = () => {};
  bttStopped = false;
  /**
   * While one of the peer's requests is being answered: that request (the only one `_pull` may
   * take from `peerRequests`), or `null` once taken or found gone. `undefined` otherwise.
   */
  bttAnswering: WireRequest | null | undefined = undefined;

  // Overrides Wire._push: every outgoing message, to our writer (no streamx readable side).
  _push(data: Uint8Array): boolean {
    if (this.bttStopped) return false;
    this.bttOutput(data);
    return true;
  }

  /**
   * Overrides Wire._pull (a match, removed by moving the last entry into its hole, or null). That
   * removal scrambles the order, so answers arriving in request order were found after about
   * half the queue's entries each (hundreds of compares per block with a deep queue). Here the
   * order is kept: the search runs oldest first and the match is taken out in place (`shift` for
   * the oldest, the usual case: one compare per block). While a request is answered
   * ({@link bttAnswering}), only that very request matches in `peerRequests`: `Wire` matches
   * answers by (index, offset, length), so a late answer to a request the peer cancelled (or a
   * choke rejected) would take a newer request for the same block, which then is never answered
   * and the peer waits for its timeout. Such an answer now finds nothing and sends nothing.
   */
  _pull(requests: WireRequest[], piece: number, offset: number, length: number): WireRequest | null {
    const n = requests.length;
    const want = requests === this.peerRequests ? this.bttAnswering : undefined;
    if (want === null) return null;
    for (let i = 0; i < n; i++) {
      const r = requests[i] as WireRequest;
      if (want !== undefined ? r === want : r.piece === piece && r.offset === offset && r.length === length) {
        if (i === 0) requests.shift();
        else requests.splice(i, 1);
        if (want !== undefined) this.bttAnswering = null;
        return r;
      }
    }
    if (want !== undefined) this.bttAnswering = null;
    return null;
  }
}

const noop = () => {};

/**
 * `bittorrent-protocol`'s `Wire` as the peer wire's state machine: decoded messages in, events
 * and encoded messages out (through {@link UpstreamHandlers}), typed request outcomes.
 */
export class UpstreamWire {
  readonly #w: PinnedWire;
  readonly #in: WireInternals;
  #downloaded = 0;
  /**
   * Why a request callback that runs now fails: set around each call into `Wire` that can fail
   * requests (one reason per entry point), so no error is classified by its message.
   */
  #failure: RequestFailure = 'WIRE_CLOSED';

  constructor(handlers: UpstreamHandlers) {
    checkShape();
    const w = new PinnedWire();
    this.#w = w;
    this.#in = w as unknown as WireInternals;
    w.bttOutput = handlers.output;
    const on = (event: string, fn: (...args: never[]) => void) => {
      w.on(event, (...args: never[]) => {
        if (!w.bttStopped) fn(...args);
      });
    };
    on('choke', () => handlers.choke());
    on('unchoke', () => handlers.unchoke());
    on('interested', () => handlers.interested());
    on('uninterested', () => handlers.uninterested());
    on('have', (index: number) => handlers.have(index));
    on('bitfield', () => handlers.bitfield(w.peerPieces.buffer));
    on('have-all', () => handlers.haveAll());
    on('have-none', () => handlers.haveNone());
    on('request', (index: number, offset: number, length: number, respond: UpstreamRespond) => {
      // `Wire._onRequest` pushed the request just before emitting: its answer must answer it alone.
      const last = w.peerRequests[w.peerRequests.length - 1];
      const req =
        last && last.piece === index && last.offset === offset && last.length === length ? last : undefined;
      handlers.request(index, offset, length, (err, block) => {
        w.bttAnswering = req;
        try {
          respond(err, block);
        } finally {
          w.bttAnswering = undefined;
        }
      });
    });
    on('cancel', (index: number, offset: number, length: number) => handlers.cancel(index, offset, length));
    on('reject', (index: number, offset: number, length: number) => handlers.reject(index, offset, length));
    on('allowed-fast', (index: number) => handlers.allowedFast(index));
    // Wire emits 'error' only from streamx internals; keep it from becoming an uncaught exception.
    w.on('error', noop);
  }

  /* -------------------------------------------------------------- state */

  get hasFast(): boolean {
    return this.#w.hasFast;
  }
  get amChoking(): boolean {
    return this.#w.amChoking;
  }
  get amInterested(): boolean {
    return this.#w.amInterested;
  }
  get peerChoking(): boolean {
    return this.#w.peerChoking;
  }
  get peerInterested(): boolean {
    return this.#w.peerInterested;
  }
  peerHas(index: number): boolean {
    return this.#w.peerPieces.get(index);
  }
  /** Our requests not answered yet. */
  get requests(): number {
    return this.#w.requests.length;
  }
  /** The peer's requests not answered yet. */
  get peerRequests(): number {
    return this.#w.peerRequests.length;
  }
  get peerAllowedFast(): readonly number[] {
    return this.#w.peerAllowedFastSet;
  }
  get uploaded(): number {
    return this.#w.uploaded;
  }
  /** Block bytes received: counted here, as blocks never go through `Wire`'s parser. */
  get downloaded(): number {
    return this.#downloaded;
  }

  /* -------------------------------------------------------------- incoming (decoded by the guard) */

  /** The peer's handshake. */
  onHandshake(infoHash: Uint8Array, peerId: Uint8Array, flags: UpstreamFlags): void {
    this.#in._onHandshake(infoHash, peerId, flags);
  }

  /**
   * A fixed-size core message, its fields decoded (unused ones 0): choke, unchoke, interested,
   * uninterested, have, request, cancel, have-all, have-none, reject, allowed-fast. Other ids
   * (port, suggest, …) carry no state and are ignored here.
   */
  onMessage(id: number, a: number, b: number, c: number): void {
    const w = this.#in;
    switch (id) {
      case 0: {
        const prev = this.#failure;
        this.#failure = 'WIRE_REQUEST_CHOKED';
        try {
          w._onChoke();
        } finally {
          this.#failure = prev;
        }
        break;
      }
      case 1:
        w._onUnchoke();
        break;
      case 2:
        w._onInterested();
        break;
      case 3:
        w._onUninterested();
        break;
      case 4:
        w._onHave(a);
        break;
      case 6:
        w._onRequest(a, b, c);
        break;
      case 8:
        w._onCancel(a, b, c);
        break;
      case 0x0e:
        w._onHaveAll();
        break;
      case 0x0f:
        w._onHaveNone();
        break;
      case 0x10: {
        const prev = this.#failure;
        this.#failure = 'WIRE_REQUEST_REJECTED';
        try {
          w._onReject(a, b, c);
        } finally {
          this.#failure = prev;
        }
        break;
      }
      case 0x11:
        w._onAllowedFast(a);
        break;
    }
  }

  /** The peer's bitfield (kept: not a lent view). */
  onBitfield(bits: Uint8Array): void {
    this.#in._onBitField(bits);
  }

  /**
   * A block: what `Wire._onPiece` does — answer the matching request, count the bytes — without
   * its debug log, speed meter and two events per block. Reports nothing: the caller emits.
   */
  onPiece(index: number, offset: number, block: Uint8Array): void {
    const w = this.#in;
    w._callback(w._pull(w.requests, index, offset, block.length), null, block);
    this.#downloaded += block.length;
  }

  /* -------------------------------------------------------------- outgoing */

  /**
   * Sends our handshake and — now if the peer's came first, else when it comes — our extended
   * handshake: `fields` plus `m` from `extensions` (id i + 1 for `extensions[i]`). `flags.v2`
   * sets the BEP 52 bit (reserved byte 7, 0x10), which `Wire` does not know: its handshake is
   * one fresh 68-byte array through `_push` (the first), patched on its way out.
   */
  handshake(
    infoHash: Uint8Array,
    peerId: Uint8Array,
    flags: { dht: boolean; fast: boolean; v2?: boolean },
    fields: Record<string, unknown>,
    extensions: readonly string[],
  ): void {
    const w = this.#w;
    extensions.forEach((name, i) => {
      w.extendedMapping[i + 1] = name;
    });
    w.extendedHandshake = fields;
    const out = w.bttOutput;
    if (flags.v2) {
      w.bttOutput = (data) => {
        w.bttOutput = out;
        if (data.length === 68 && data[0] === 19) data[27] = (data[27] as number) | 0x10;
        out(data);
      };
    }
    try {
      w.handshake(infoHash, peerId, { dht: flags.dht, fast: flags.fast });
    } finally {
      w.bttOutput = out;
    }
  }

  /** Sends one whole message we encoded ourselves (BEP 52's, which `Wire` does not know). */
  send(message: Uint8Array): void {
    this.#w._push(message);
  }

  /** Requests a block; `callback` runs once, with the block or why not. */
  request(index: number, offset: number, length: number, callback: UpstreamRequestCallback): void {
    const w = this.#w;
    if (w.bttStopped) {
      callback(requestError('WIRE_CLOSED'));
      return;
    }
    const prev = this.#failure;
    // The only way `Wire.request` fails at once (we are not closed): the peer chokes us.
    this.#failure = 'WIRE_REQUEST_CHOKED';
    try {
      w.request(index, offset, length, (err, block) => {
        if (err) callback(requestError(w.bttStopped ? 'WIRE_CLOSED' : this.#failure));
        else callback(null, block ?? EMPTY);
      });
    } finally {
      this.#failure = prev;
    }
  }

  /** Cancels one of our requests: its callback gets `WIRE_REQUEST_CANCELLED`. */
  cancel(index: number, offset: number, length: number): void {
    const prev = this.#failure;
    this.#failure = 'WIRE_REQUEST_CANCELLED';
    try {
      this.#w.cancel(index, offset, length);
    } finally {
      this.#failure = prev;
    }
  }

  keepAlive(): void {
    this.#w.keepAlive();
  }
  choke(): void {
    this.#w.choke();
  }
  unchoke(): void {
    this.#w.unchoke();
  }
  interested(): void {
    this.#w.interested();
  }
  uninterested(): void {
    this.#w.uninterested();
  }
  have(index: number): void {
    this.#w.have(index);
  }
  bitfield(bits: Uint8Array): void {
    this.#w.bitfield(bits);
  }
  haveAll(): void {
    this.#w.haveAll();
  }
  haveNone(): void {
    this.#w.haveNone();
  }
  suggest(index: number): void {
    this.#w.suggest(index);
  }
  allowedFast(index: number): void {
    this.#w.allowedFast(index);
  }
  reject(index: number, offset: number, length: number): void {
    this.#w.reject(index, offset, length);
  }
  port(port: number): void {
    this.#w.port(port);
  }
  piece(index: number, offset: number, block: Uint8Array): void {
    this.#w.piece(index, offset, block);
  }
  extended(id: number, payload: Uint8Array): void {
    this.#w.extended(id, payload);
  }

  /**
   * Stops: nothing more is sent or reported; our outstanding requests fail with `WIRE_CLOSED`
   * (some at once, the rest when `Wire` finishes, a moment later).
   */
  destroy(): void {
    const w = this.#w;
    if (w.bttStopped) return;
    w.bttStopped = true;
    const prev = this.#failure;
    this.#failure = 'WIRE_CLOSED';
    try {
      w.destroy();
    } finally {
      this.#failure = prev;
    }
  }
}
