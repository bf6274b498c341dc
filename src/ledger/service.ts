import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { concatBytes, fromHex, utf8 } from '../util/bytes.js';
import { BttkitError } from '../util/errors.js';
import { commandActor, type LedgerCommand, normalizeCommand } from './core.js';
import { LedgerError, ledgerErrorCodeOf } from './errors.js';
import { ACCOUNT_SIGNATURE_LENGTH, isAddress, normalizeAddress, verifyAccountSignature } from './keys.js';
import { type Ledger, systemClock, type WallClock } from './ledger.js';
import { isCommandType, type Json, parseCommand, parseEnvelope, toJson } from './wire.js';

/** Domain tag of a signed request. */
export const REQUEST_DOMAIN = 'bttkit/request/v1';
/** HTTP header carrying the request signature (hex of an {@link AccountSignature}). */
export const SIGNATURE_HEADER = 'x-bttkit-signature';

const REQUEST_TAG = concatBytes([utf8(REQUEST_DOMAIN), new Uint8Array(1)]);
const NUL = new Uint8Array(1);

/**
 * The bytes a request signature covers: `"bttkit/request/v1\0"` ‖ method ‖ `\0` ‖ path ‖ `\0` ‖
 * the exact body bytes.
 */
export function requestMessage(method: string, path: string, body: Uint8Array): Uint8Array {
  return concatBytes([REQUEST_TAG, utf8(method), NUL, utf8(path), NUL, body]);
}

/** Options of {@link LedgerService}. */
export interface LedgerServiceOptions {
  /** Addresses allowed to credit deposits and settle withdrawals. */
  operators: readonly string[];
  /** Epoch-ms wall clock for request expiry. Default: the system clock. */
  wallClock?: WallClock;
  /** Largest request body accepted. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Longest a request may be valid for (expiry − now). Default 5 minutes. */
  maxValidityMs?: number;
  /** Most nonces remembered at once (requests beyond are refused until some expire). Default 1,000,000. */
  maxNonces?: number;
}

interface Reply {
  status: number;
  body: Json;
}

const errorReply = (e: LedgerError): Reply => ({
  status: e.status,
  body: { error: { code: e.code, message: e.message } },
});

/**
 * The ledger over HTTP (`node:http`, no framework), on 127.0.0.1 unless told otherwise.
 * Reads are `GET`s; every mutation is a `POST` of a signed {@link RequestEnvelope}: the signer
 * must be the account the operation acts for (or an operator, for deposits and settlements),
 * the nonce is never accepted twice, the expiry is in the near future. Errors come back as
 * `{ "error": { "code", "message" } }` with the status of {@link LEDGER_ERROR_STATUS}.
 */
export class LedgerService {
  readonly #ledger: Ledger;
  readonly #operators: Set<string>;
  readonly #wallClock: WallClock;
  readonly #maxBody: number;
  readonly #maxValidity: number;
  readonly #maxNonces: number;
  readonly #nonces = new Map<string, number>();
  #lastSweep = 0;
  #server: Server | undefined;

  constructor(ledger: Ledger, options: LedgerServiceOptions) {
    this.#ledger = ledger;
    this.#operators = new Set(options.operators.map((a) => normalizeAddress(a)));
    this.#wallClock = options.wallClock ?? systemClock;
    this.#maxBody = options.maxBodyBytes ?? 64 * 1024;
    this.#maxValidity = options.maxValidityMs ?? 5 * 60_000;
    this.#maxNonces = options.maxNonces ?? 1_000_000;
  }

  /** Starts listening; resolves with the base URL (`http://127.0.0.1:<port>`). */
  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.maxHeadersCount = 64;
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      });
    });
  }

  /** Stops accepting connections and closes idle ones; resolves when the server is closed. */
  close(): Promise<void> {
    const server = this.#server;
    if (!server) return Promise.resolve();
    this.#server = undefined;
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.#route(req);
    } catch (err) {
      reply = errorReply(
        err instanceof LedgerError
          ? err
          : err instanceof BttkitError && err.code === 'ABORTED'
            ? new LedgerError('LEDGER_BAD_REQUEST', 'aborted')
            : new LedgerError('LEDGER_INTERNAL', 'internal error'),
      );
    }
    const body = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(body);
  }

  async #route(req: IncomingMessage): Promise<Reply> {
    const url = req.url ?? '/';
    if (url.length > 512) throw new LedgerError('LEDGER_BAD_REQUEST', 'URL too long');
    const path = url.split('?')[0] ?? '/';
    const parts = path.split('/').filter((p) => p !== '');
    if (parts[0] !== 'v1') throw new LedgerError('LEDGER_NOT_FOUND', 'no such endpoint');
    const ledger = this.#ledger;
    if (req.method === 'GET') {
      req.resume();
      const [, what, id] = parts;
      if (parts.length === 2 && what === 'info') return ok(await ledger.info());
      if (parts.length === 2 && what === 'totals') return ok(await ledger.totals());
      if (parts.length === 3 && id !== undefined) {
        if (what === 'accounts') return ok(await ledger.getAccount(id));
        if (what === 'channels') {
          const ch = await ledger.getChannel(id);
          if (!ch) throw new LedgerError('LEDGER_CHANNEL_NOT_FOUND', 'no such channel');
          return ok(ch);
        }
        if (what === 'withdrawals') {
          const w = await ledger.getWithdrawal(id);
          if (!w) throw new LedgerError('LEDGER_WITHDRAWAL_NOT_FOUND', 'no such withdrawal');
          return ok(w);
        }
      }
      throw new LedgerError('LEDGER_NOT_FOUND', 'no such endpoint');
    }
    const type = parts[1];
    if (req.method !== 'POST' || parts.length !== 2 || type === undefined || !isCommandType(type)) {
      req.resume();
      throw new LedgerError('LEDGER_NOT_FOUND', 'no such endpoint');
    }
    const body = await this.#readBody(req);
    const { command, nonceKey, expires } = this.#authenticate(req, path, body, type);
    try {
      return ok(stripType(await ledger.execute(command, { nonce: nonceKey })));
    } catch (err) {
      // Refused: spend its nonce durably, so the same bytes are refused after a restart too
      // (once the state changed they might pass). An applied one has its idempotency record.
      const code = err instanceof LedgerError ? err.code : undefined;
      if (code !== undefined && code !== 'LEDGER_JOURNAL_FAILED' && code !== 'LEDGER_CLOSED')
        await ledger.spendNonce(nonceKey, expires);
      throw err;
    }
  }

  #authenticate(
    req: IncomingMessage,
    path: string,
    body: Uint8Array,
    type: LedgerCommand['type'],
  ): { command: LedgerCommand; nonceKey: string; expires: number } {
    const sigHex = req.headers[SIGNATURE_HEADER];
    if (
      typeof sigHex !== 'string' ||
      !/^[0-9a-f]+$/.test(sigHex) ||
      sigHex.length !== ACCOUNT_SIGNATURE_LENGTH * 2
    ) {
      throw new LedgerError('LEDGER_BAD_SIGNATURE', `missing or malformed ${SIGNATURE_HEADER} header`);
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch {
      throw new LedgerError('LEDGER_BAD_REQUEST', 'body is not JSON');
    }
    const env = parseEnvelope(json);
    if (!isAddress(env.signer)) throw new LedgerError('LEDGER_BAD_ADDRESS', 'signer is not an address');
    const signer = normalizeAddress(env.signer);
    if (!verifyAccountSignature(signer, requestMessage('POST', path, body), fromHex(sigHex))) {
      throw new LedgerError('LEDGER_BAD_SIGNATURE', 'request signature does not verify');
    }
    if (env.ledger !== this.#ledger.ledgerId)
      throw new LedgerError('LEDGER_ID_MISMATCH', 'request is for another ledger');
    const now = this.#wallClock.now();
    if (env.expires <= now) throw new LedgerError('LEDGER_REQUEST_EXPIRED', 'request expired');
    if (env.expires > now + this.#maxValidity) {
      throw new LedgerError('LEDGER_BAD_EXPIRY', `request expiry more than ${this.#maxValidity} ms ahead`);
    }
    this.#sweep(now);
    const nonceKey = `${signer}:${env.nonce}`;
    if (this.#nonces.has(nonceKey) || this.#ledger.nonceSpent(nonceKey))
      throw new LedgerError('LEDGER_REQUEST_REPLAYED', 'request already seen');
    if (this.#nonces.size >= this.#maxNonces)
      throw new LedgerError('LEDGER_JOURNAL_FAILED', 'too many requests in flight');
    this.#nonces.set(nonceKey, env.expires);
    const command = normalizeCommand(parseCommand(type, env.params));
    const actor = commandActor(command);
    if (actor === '@operator') {
      if (!this.#operators.has(signer))
        throw new LedgerError('LEDGER_NOT_OPERATOR', 'only an operator may do this');
    } else if (actor !== signer) {
      throw new LedgerError('LEDGER_NOT_YOURS', 'the signer is not the account this request acts for');
    }
    return { command, nonceKey, expires: env.expires };
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < 1000 && this.#nonces.size < this.#maxNonces) return;
    this.#lastSweep = now;
    for (const [k, exp] of this.#nonces) if (exp <= now) this.#nonces.delete(k);
  }

  #readBody(req: IncomingMessage): Promise<Uint8Array> {
    const max = this.#maxBody;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) {
      req.resume();
      return Promise.reject(new LedgerError('LEDGER_BODY_TOO_LARGE', `body larger than ${max} bytes`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > max) {
          done = true;
          reject(new LedgerError('LEDGER_BODY_TOO_LARGE', `body larger than ${max} bytes`));
          req.resume();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        resolve(new Uint8Array(Buffer.concat(chunks)));
      });
      req.on('error', (err) => {
        if (done) return;
        done = true;
        reject(new LedgerError('LEDGER_BAD_REQUEST', 'request body failed', { cause: err }));
      });
    });
  }
}

function ok(value: unknown): Reply {
  return { status: 200, body: toJson(value) };
}

function stripType(r: { type: string }): Record<string, unknown> {
  const { type: _type, ...rest } = r;
  return rest;
}

/** Maps an error body and status back to a {@link LedgerError} (used by the client). */
export function errorFromResponse(status: number, body: unknown): LedgerError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = e?.code;
  const message = typeof e?.message === 'string' ? e.message.slice(0, 500) : `HTTP ${status}`;
  const known = ledgerErrorCodeOf(code);
  if (known !== undefined) return new LedgerError(known, message, { details: { status } });
  return new LedgerError('LEDGER_HTTP_ERROR', message, { details: { status } });
}
