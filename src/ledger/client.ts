import { toHex, utf8 } from '../util/bytes.js';
import { AbortError, throwIfAborted } from '../util/errors.js';
import type { LedgerCommand } from './core.js';
import { randomBytes } from './crypto-backend.js';
import { LedgerError } from './errors.js';
import type { TronKey } from './keys.js';
import { systemClock, type WallClock } from './ledger.js';
import { errorFromResponse, requestMessage, SIGNATURE_HEADER } from './service.js';
import type {
  AbortOptions,
  AccountView,
  ChannelView,
  CloseChannelParams,
  CloseChannelResult,
  DepositParams,
  DepositResult,
  LedgerApi,
  LedgerInfo,
  LedgerTotals,
  OpenChannelParams,
  OpenChannelResult,
  RedeemParams,
  RedeemResult,
  SettleWithdrawalParams,
  SettleWithdrawalResult,
  TopUpChannelParams,
  TopUpChannelResult,
  WithdrawalView,
  WithdrawParams,
  WithdrawResult,
} from './types.js';
import { checkChannelId } from './voucher.js';
import {
  COMMAND_SPECS,
  type Json,
  parseResult,
  type RESULT_SPECS,
  type RequestEnvelope,
  toJson,
} from './wire.js';

/** Options of {@link LedgerClient}. */
export interface LedgerClientOptions {
  /** Base URL of `bttkit ledger serve`, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** The account key that signs every mutating request. */
  key: TronKey;
  /** Epoch-ms wall clock for request expiries. Default: the system clock. */
  wallClock?: WallClock;
  /** How long a signed request stays valid. Default 60 s (the service accepts up to 5 min). */
  validityMs?: number;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** The ledger id, if known (saves one `GET /v1/info`). */
  ledgerId?: string;
}

const MAX_RESPONSE = 1024 * 1024;

/**
 * {@link LedgerApi} over HTTP. Every mutating request is signed with `key` (see
 * `docs/ledger.md`); errors come back as {@link LedgerError}s with the service's code. Safe to
 * retry a mutation after a network error: the idempotency key makes the retry a no-op if the
 * first attempt went through.
 *
 * @example
 * ```ts
 * const client = new LedgerClient({ url: 'http://127.0.0.1:7070', key });
 * await client.getAccount(key.address);
 * ```
 */
export class LedgerClient implements LedgerApi {
  readonly #url: string;
  readonly #key: TronKey;
  readonly #wallClock: WallClock;
  readonly #validity: number;
  readonly #timeout: number;
  #ledgerId: string | undefined;

  constructor(options: LedgerClientOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#key = options.key;
    this.#wallClock = options.wallClock ?? systemClock;
    this.#validity = options.validityMs ?? 60_000;
    this.#timeout = options.timeoutMs ?? 30_000;
    this.#ledgerId = options.ledgerId;
  }

  /** The signing account's address. */
  get address(): string {
    return this.#key.address;
  }

  async #fetch(path: string, init: RequestInit, opts: AbortOptions | undefined): Promise<unknown> {
    throwIfAborted(opts?.signal);
    const timeout = AbortSignal.timeout(this.#timeout);
    const signal = opts?.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.#url}${path}`, { ...init, signal });
      const len = Number(res.headers.get('content-length') ?? '0');
      if (len > MAX_RESPONSE) throw new LedgerError('LEDGER_HTTP_ERROR', 'response too large');
      text = await res.text();
    } catch (err) {
      if (opts?.signal?.aborted) throw new AbortError(undefined, { cause: opts.signal.reason });
      if (err instanceof LedgerError) throw err;
      throw new LedgerError('LEDGER_HTTP_ERROR', `ledger service unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (text.length > MAX_RESPONSE) throw new LedgerError('LEDGER_HTTP_ERROR', 'response too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new LedgerError('LEDGER_HTTP_ERROR', `non-JSON response (HTTP ${res.status})`, {
        details: { status: res.status },
      });
    }
    if (res.status !== 200) throw errorFromResponse(res.status, body);
    return body;
  }

  async #get(path: string, opts: AbortOptions | undefined): Promise<unknown> {
    return this.#fetch(path, { method: 'GET' }, opts);
  }

  async #ledger(opts: AbortOptions | undefined): Promise<string> {
    this.#ledgerId ??= (await this.info(opts)).ledgerId;
    return this.#ledgerId;
  }

  async #post<K extends keyof typeof RESULT_SPECS>(
    command: LedgerCommand,
    kind: K,
    opts: AbortOptions | undefined,
  ): Promise<Record<string, unknown>> {
    const { type } = command;
    // Only the operation's own fields travel (callers may pass a wider object, e.g. channel terms).
    const params: Record<string, unknown> = {};
    for (const k of Object.keys(COMMAND_SPECS[type]))
      params[k] = (command as unknown as Record<string, unknown>)[k];
    const envelope: RequestEnvelope = {
      v: 1,
      ledger: await this.#ledger(opts),
      signer: this.#key.address,
      nonce: toHex(randomBytes(16)),
      expires: Math.floor(this.#wallClock.now()) + this.#validity,
      params: toJson(params) as Json,
    };
    const path = `/v1/${type}`;
    const body = utf8(JSON.stringify(envelope));
    const signature = this.#key.sign(requestMessage('POST', path, body));
    const res = await this.#fetch(
      path,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: toHex(signature) },
        body,
      },
      opts,
    );
    return this.#parse(kind, res);
  }

  #parse(kind: keyof typeof RESULT_SPECS, body: unknown): Record<string, unknown> {
    try {
      return parseResult(kind, body);
    } catch (cause) {
      throw new LedgerError('LEDGER_HTTP_ERROR', `malformed ${kind} response`, { cause });
    }
  }

  async info(opts?: AbortOptions): Promise<LedgerInfo> {
    return this.#parse('info', await this.#get('/v1/info', opts)) as unknown as LedgerInfo;
  }

  async deposit(params: DepositParams, opts?: AbortOptions): Promise<DepositResult> {
    return (await this.#post({ ...params, type: 'deposit' }, 'deposit', opts)) as unknown as DepositResult;
  }

  async openChannel(params: OpenChannelParams, opts?: AbortOptions): Promise<OpenChannelResult> {
    return (await this.#post({ ...params, type: 'open' }, 'open', opts)) as unknown as OpenChannelResult;
  }

  async redeem(params: RedeemParams, opts?: AbortOptions): Promise<RedeemResult> {
    return (await this.#post({ ...params, type: 'redeem' }, 'redeem', opts)) as unknown as RedeemResult;
  }

  async closeChannel(params: CloseChannelParams, opts?: AbortOptions): Promise<CloseChannelResult> {
    return (await this.#post({ ...params, type: 'close' }, 'close', opts)) as unknown as CloseChannelResult;
  }

  async topUpChannel(params: TopUpChannelParams, opts?: AbortOptions): Promise<TopUpChannelResult> {
    return (await this.#post({ ...params, type: 'topup' }, 'topup', opts)) as unknown as TopUpChannelResult;
  }

  async requestWithdrawal(params: WithdrawParams, opts?: AbortOptions): Promise<WithdrawResult> {
    return (await this.#post({ ...params, type: 'withdraw' }, 'withdraw', opts)) as unknown as WithdrawResult;
  }

  async settleWithdrawal(
    params: SettleWithdrawalParams,
    opts?: AbortOptions,
  ): Promise<SettleWithdrawalResult> {
    return (await this.#post(
      { ...params, type: 'settle' },
      'settle',
      opts,
    )) as unknown as SettleWithdrawalResult;
  }

  async getAccount(address: string, opts?: AbortOptions): Promise<AccountView> {
    return this.#parse(
      'account',
      await this.#get(`/v1/accounts/${encodeURIComponent(address)}`, opts),
    ) as unknown as AccountView;
  }

  async getChannel(channelId: string, opts?: AbortOptions): Promise<ChannelView | undefined> {
    checkChannelId(channelId);
    try {
      return this.#parse(
        'channel',
        await this.#get(`/v1/channels/${channelId}`, opts),
      ) as unknown as ChannelView;
    } catch (err) {
      if (err instanceof LedgerError && err.code === 'LEDGER_CHANNEL_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async getWithdrawal(withdrawalId: string, opts?: AbortOptions): Promise<WithdrawalView | undefined> {
    try {
      return this.#parse(
        'withdrawal',
        await this.#get(`/v1/withdrawals/${encodeURIComponent(withdrawalId)}`, opts),
      ) as unknown as WithdrawalView;
    } catch (err) {
      if (err instanceof LedgerError && err.code === 'LEDGER_WITHDRAWAL_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async totals(opts?: AbortOptions): Promise<LedgerTotals> {
    return this.#parse('totals', await this.#get('/v1/totals', opts)) as unknown as LedgerTotals;
  }
}
