import { ChannelKey } from '../ledger/channel-key.js';
import type { TronKey } from '../ledger/keys.js';
import type { WallClock } from '../ledger/ledger.js';
import type { LedgerApi } from '../ledger/types.js';
import { authorizeChannel, VoucherSigner, VoucherVerifier } from '../ledger/voucher.js';
import type { TorrentPlugin } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import { fromHex, toHex } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { type BttHandshake, BttRejectCode, type BttSpeedExtension, bttSpeed } from '../wire/btt-speed.js';
import type { SlotAllocator } from './auction.js';
import { SpeedChoker } from './choker.js';
import { SpeedError, type SpeedErrorCode } from './errors.js';
import { AutoBid, type BidStrategy, MIB } from './strategy.js';

export { SPEED_ERROR_CODES, SpeedError, type SpeedErrorCode } from './errors.js';

/** Options of {@link speed}. */
export interface SpeedOptions {
  /** Our TRON account: we pay from it and are paid into it. */
  wallet: TronKey;
  /** The ledger both sides use (embedded or a `LedgerClient`). */
  ledger: LedgerApi;
  /** Its id (from `ledger.info()`). */
  ledgerId: string;
  /** Token profile advertised. Default `BTT`. */
  token?: string;
  /** Most this client spends over all torrents, base units. 0 (default): never pays. */
  budget?: bigint;
  /** As a provider: the lowest price accepted, base units per MiB. Default 0. */
  reservePrice?: bigint;
  /** How we bid. Default {@link AutoBid}. */
  strategy?: BidStrategy;
  /** How we sell paid slots. Default the uniform-price auction. */
  allocator?: SlotAllocator;
  /** Share of upload slots sold. Default 0.5. */
  paidShare?: number;
  /** Bytes a provider serves ahead of payment (the credit window). Default 4 MiB. */
  creditBytes?: number;
  /** Locked per channel (one channel per provider). Default a quarter of the budget. */
  channelAmount?: bigint;
  /** Channel lifetime. Default 1 hour. */
  channelTtlMs?: number;
  /** How often bids are recomputed and vouchers redeemed. Default 2 s and 10 s. */
  bidIntervalMs?: number;
  redeemIntervalMs?: number;
  /** Timer source (bid and redeem rounds). Default the wall clock. */
  clock?: Clock;
  /**
   * Wall time in ms since the Unix epoch, for channel expiry (it must agree with the ledger's
   * clock). Default `Date.now`. The swarm lab passes its virtual time.
   */
  wallClock?: WallClock;
  /**
   * Random bytes for channel keys. Default the system CSPRNG. Only a simulation may pass a
   * seeded source (a predictable channel key lets anyone sign vouchers).
   */
  randomBytes?: (length: number) => Uint8Array;
}

/** Events of a {@link SpeedPlugin}. */
export interface SpeedEvents {
  /** A bid: ours at a provider (`requester`), or a requester's at us (`provider`). */
  bid: [{ peer: string; price: bigint; role: 'requester' | 'provider' }];
  /** A provider granted us a slot (or we granted one): price per MiB and credit. */
  grant: [{ peer: string; price: bigint; credit: number; role: 'requester' | 'provider' }];
  /**
   * We sent a voucher: `amount` is this payment, `cumulative` the channel total, `bytes` the
   * verified bytes paid for on this channel so far (cumulative = Σ bytes × price / MiB, floored).
   */
  paid: [{ peer: string; amount: bigint; cumulative: bigint; bytes: bigint }];
  /** A voucher we accepted (`amount`: the increment) — redeemed at the ledger later. */
  earned: [{ peer: string; amount: bigint; cumulative: bigint }];
  /**
   * A requester lost its paid slot (outbid, stopped bidding, or its payments lagged beyond the
   * credit window): what it owed and had paid at that moment.
   */
  revoked: [{ peer: string; due: bigint; paid: bigint }];
  /** Redeemed at the ledger. */
  redeemed: [{ channelId: string; credited: bigint }];
  warning: [SpeedError];
}

interface ProviderState {
  ext: BttSpeedExtension;
  hs: BttHandshake;
  signer?: VoucherSigner;
  opening?: Promise<void>;
  seq: number;
  bid?: bigint;
  grant?: { price: bigint; credit: number };
  /** Σ verified bytes × price (exact); the voucher is this / MiB. */
  owed: bigint;
  /** Verified bytes counted towards payment. */
  bytes: bigint;
}

interface RequesterState {
  ext: BttSpeedExtension;
  hs: BttHandshake;
  bid?: { price: bigint; seq: number; channelId: string };
  verifier?: VoucherVerifier;
  checking?: Promise<void>;
  granted?: bigint;
  /** Σ bytes uploaded while granted × price (exact); expected payment is this / MiB. */
  served: bigint;
  redeemedTo: bigint;
}

/**
 * BitTorrent Speed for a {@link Client}: `new Client({ plugins: [plugin] })` with
 * `const plugin = speed({ wallet, ledger, ledgerId, budget, reservePrice })`.
 *
 * As a **requester** it opens one payment channel per provider, bids by its strategy, and after
 * every verified piece pays each provider that sent bytes of it — `bytes × granted price / MiB`,
 * as a cumulative voucher. Never for a piece that failed its hash check.
 *
 * As a **provider** it replaces the torrent's choker with a {@link SpeedChoker}: bids are checked
 * against the ledger (channel open, payer and payee right), paid slots are auctioned every round
 * and winners get a `grant` (clearing price, credit window); a winner whose payments lag more
 * than the credit window loses its bid standing; vouchers are verified (only the newest), acked,
 * and redeemed periodically and when the peer leaves. Peers without `btt_speed` are plain peers.
 */
export class SpeedPlugin extends TypedEmitter<SpeedEvents> implements TorrentPlugin {
  readonly name = 'btt_speed';
  readonly options: Readonly<SpeedOptions>;
  readonly #clock: Clock;
  readonly #strategy: BidStrategy;
  #spent = 0n;
  #earned = 0n;
  #redeemed = 0n;
  readonly #handshake: BttHandshake;

  constructor(options: SpeedOptions) {
    super();
    this.options = options;
    this.#clock = options.clock ?? realClock;
    this.#strategy = options.strategy ?? new AutoBid();
    this.#handshake = {
      v: 1,
      addr: options.wallet.address,
      ledger: options.ledgerId,
      token: options.token ?? 'BTT',
      reserve: options.reservePrice ?? 0n,
    };
  }

  /** Total promised in vouchers over every torrent, base units. */
  get spent(): bigint {
    return this.#spent;
  }

  /** Total of the vouchers we accepted as a provider (the `earned` events), base units. */
  get earned(): bigint {
    return this.#earned;
  }

  /** Total credited to us at the ledger by redeeming vouchers (the `redeemed` events), base units. */
  get redeemed(): bigint {
    return this.#redeemed;
  }

  get budget(): bigint {
    return this.options.budget ?? 0n;
  }

  attach(torrent: Torrent): void {
    const o = this.options;
    const providers = new Map<string, ProviderState>();
    const requesters = new Map<string, RequesterState>();
    const credit = o.creditBytes ?? 4 * 1024 * 1024;
    const reserve = o.reservePrice ?? 0n;

    // Provider side: the bid-aware choker, fed by standing bids in good standing.
    const choker = new SpeedChoker(
      {
        bidOf: (peer) => {
          const r = requesters.get(peer);
          if (!r?.bid || !r.verifier) return undefined;
          if (!this.#settleNewest(peer, r)) return undefined;
          // Lagging beyond the credit window: treated as not bidding.
          const due = r.served / MIB;
          const paid = r.verifier.cumulative;
          const allowance = (BigInt(credit) * (r.granted ?? r.bid.price)) / MIB;
          if (due - paid > allowance) return undefined;
          return r.bid.price;
        },
      },
      {
        reserve,
        ...(o.allocator ? { allocator: o.allocator } : {}),
        ...(o.paidShare !== undefined ? { paidShare: o.paidShare } : {}),
        onAllocation: (allocation) => {
          const winners = new Set<string>();
          for (const award of allocation.awards) {
            winners.add(award.peer);
            const r = requesters.get(award.peer);
            if (!r?.bid) continue;
            if (r.granted !== award.price) {
              r.granted = award.price;
              r.ext.grant(r.bid.seq, award.price, credit);
              this.emit('grant', { peer: award.peer, price: award.price, credit, role: 'provider' });
            }
          }
          for (const [peer, r] of requesters) {
            if (winners.has(peer) || r.granted === undefined) continue;
            r.granted = undefined;
            const due = r.served / MIB;
            const paid = r.verifier?.cumulative ?? 0n;
            this.emit('revoked', { peer, due, paid });
          }
        },
      },
    );
    torrent.setChoker(choker);

    torrent.on('wire', (wire, { id }) => {
      const ext = wire.use(bttSpeed({ handshake: this.#handshake }));
      ext.on('handshake', (hs) => {
        if (hs.ledger !== o.ledgerId || hs.token !== this.#handshake.token || hs.addr === o.wallet.address)
          return;
        providers.set(id, { ext, hs, seq: 0, owed: 0n, bytes: 0n });
        requesters.set(id, { ext, hs, served: 0n, redeemedTo: 0n });
        this.#rebid(torrent, providers);
      });
      // Provider side.
      ext.on('bid', (b) => {
        const r = requesters.get(id);
        if (!r) return;
        const channelId = toHex(b.ch);
        if (r.bid?.channelId !== channelId || !r.verifier) {
          r.checking = this.#checkChannel(r, channelId).catch((err: unknown) => {
            r.ext.reject(BttRejectCode.UNKNOWN_CHANNEL, 'channel not usable');
            this.#warn('SPEED_BAD_CHANNEL', `channel ${channelId} from ${id}`, err);
          });
        }
        r.bid = { price: b.price, seq: b.seq, channelId };
        this.emit('bid', { peer: id, price: b.price, role: 'provider' });
        void r.checking?.then(() => torrent.rechoke());
      });
      ext.on('pay', (p) => {
        const r = requesters.get(id);
        if (!r?.verifier || toHex(p.ch) !== r.bid?.channelId) return;
        try {
          // Cheap field checks now; the signature of only the newest voucher is verified when
          // more credit is about to be extended (see bidOf) or at redeem time.
          r.verifier.offer({
            ledgerId: o.ledgerId,
            channelId: toHex(p.ch),
            cumulative: p.amt,
            signature: p.sig,
          });
        } catch (err) {
          this.#warn('SPEED_BAD_VOUCHER', `voucher from ${id} refused`, err);
          r.ext.reject(BttRejectCode.NOT_INCREASING, 'voucher refused');
        }
      });
      // Requester side.
      ext.on('grant', (g) => {
        const p = providers.get(id);
        if (!p || g.seq !== p.seq) return;
        if (p.bid !== undefined && g.price > p.bid) {
          this.#warn('SPEED_GRANT_ABOVE_BID', `grant from ${id} above our bid`);
          return;
        }
        p.grant = { price: g.price, credit: g.credit };
        this.emit('grant', { peer: id, price: g.price, credit: g.credit, role: 'requester' });
      });
    });

    torrent.on('uploaded', (peer, bytes) => {
      const r = requesters.get(peer);
      if (r?.granted !== undefined) r.served += BigInt(bytes) * r.granted;
    });

    // Pay for every verified piece, to each provider holding a grant, for the bytes it sent.
    torrent.on('verified', (_index, sources) => {
      for (const [peer, bytes] of sources) {
        const p = providers.get(peer);
        if (!p?.grant || !p.signer) continue;
        p.owed += BigInt(bytes) * p.grant.price;
        p.bytes += BigInt(bytes);
        this.#pay(peer, p);
      }
    });

    torrent.on('peer-closed', (id) => {
      const r = requesters.get(id);
      if (r) void this.#redeem(r, id);
      providers.delete(id);
      requesters.delete(id);
    });

    const bidTimer = this.#clock.setInterval(() => this.#rebid(torrent, providers), o.bidIntervalMs ?? 2000);
    const redeemTimer = this.#clock.setInterval(() => {
      for (const [peer, r] of requesters) void this.#redeem(r, peer);
    }, o.redeemIntervalMs ?? 10_000);
    torrent.once('close', () => {
      bidTimer.cancel();
      redeemTimer.cancel();
      for (const [peer, r] of requesters) void this.#redeem(r, peer);
    });
    torrent.on('done', () => this.#rebid(torrent, providers));
  }

  async #checkChannel(r: RequesterState, channelId: string): Promise<void> {
    const o = this.options;
    const ch = await o.ledger.getChannel(channelId);
    if (ch?.status !== 'open') throw new SpeedError('SPEED_BAD_CHANNEL', 'no such open channel');
    if (ch.payee !== o.wallet.address || ch.payer !== r.hs.addr) {
      throw new SpeedError('SPEED_BAD_CHANNEL', 'channel is not from this peer to us');
    }
    if (ch.expiresAt <= this.#now() + 60_000)
      throw new SpeedError('SPEED_BAD_CHANNEL', 'channel expires too soon');
    r.verifier = new VoucherVerifier(fromHex(ch.channelKey), o.ledgerId, channelId, ch.amount, ch.redeemed);
    r.redeemedTo = ch.redeemed;
  }

  /**
   * Verifies the newest voucher offered by a requester (one signature check however many
   * vouchers arrived), acks it and reports the earning. False if it does not verify: the peer
   * then loses its bid standing.
   */
  #settleNewest(peer: string, r: RequesterState): boolean {
    const verifier = r.verifier;
    if (!verifier) return false;
    const before = verifier.cumulative;
    try {
      verifier.verifyNewest();
    } catch (err) {
      this.#warn('SPEED_BAD_VOUCHER', `voucher from ${peer} does not verify`, err);
      r.ext.reject(BttRejectCode.BAD_SIGNATURE, 'voucher signature does not verify');
      r.bid = undefined;
      return false;
    }
    const now = verifier.cumulative;
    if (now > before) {
      r.ext.ack(fromHex(verifier.channelId), now);
      this.#earned += now - before;
      this.emit('earned', { peer, amount: now - before, cumulative: now });
    }
    return true;
  }

  async #redeem(r: RequesterState, peer = ''): Promise<void> {
    this.#settleNewest(peer, r);
    const v = r.verifier?.best;
    if (!v || v.cumulative <= r.redeemedTo) return;
    const target = v.cumulative;
    try {
      const res = await this.options.ledger.redeem({
        by: this.options.wallet.address,
        voucher: v,
        idempotencyKey: `redeem:${v.channelId}:${v.cumulative}`,
      });
      if (target > r.redeemedTo) r.redeemedTo = target;
      this.#redeemed += res.credited;
      this.emit('redeemed', { channelId: v.channelId, credited: res.credited });
    } catch (err) {
      this.#warn('SPEED_REDEEM_FAILED', `redeem of channel ${v.channelId} failed`, err);
    }
  }

  #rebid(torrent: Torrent, providers: Map<string, ProviderState>): void {
    const stats = torrent.stats();
    const info = torrent.info;
    if (!info) return;
    const remainingBytes = BigInt(Math.max(0, (stats.length ?? 0) - stats.verified));
    const remainingBalance = this.budget - this.#spent;
    const peers = new Map(torrent.peers().map((p) => [p.id, p]));
    const views = [...providers].map(([peer, p]) => ({
      peer,
      reserve: p.hs.reserve,
      rate: peers.get(peer)?.downloadRate ?? 0,
    }));
    const bids = this.#strategy.bids({ remainingBalance, remainingBytes, providers: views });
    for (const [peer, price] of bids) {
      const p = providers.get(peer);
      if (!p || p.bid === price) continue;
      void this.#ensureChannel(peer, p).then(
        () => {
          if (!p.signer) return;
          p.seq++;
          p.bid = price;
          p.ext.bid(p.seq, price, fromHex(p.signer.channelId));
          this.emit('bid', { peer, price, role: 'requester' });
        },
        (err: unknown) => this.#warn('SPEED_CHANNEL_FAILED', `cannot open a channel to ${peer}`, err),
      );
    }
  }

  #ensureChannel(peer: string, p: ProviderState): Promise<void> {
    if (p.signer) return Promise.resolve();
    if (p.opening) return p.opening;
    const o = this.options;
    const amount = o.channelAmount ?? this.budget / 4n;
    const key = o.randomBytes ? ChannelKey.fromSeed(o.randomBytes(32)) : ChannelKey.generate();
    const expiresAt = this.#now() + (o.channelTtlMs ?? 3_600_000);
    const terms = {
      ledgerId: o.ledgerId,
      payer: o.wallet.address,
      payee: p.hs.addr,
      channelKey: key.publicKey,
      amount,
      expiresAt,
    };
    p.opening = o.ledger
      .openChannel({
        payer: terms.payer,
        payee: terms.payee,
        amount,
        expiresAt,
        channelKey: key.publicKey,
        authorization: authorizeChannel(o.wallet, terms),
        idempotencyKey: `open:${toHex(key.publicKey)}`,
      })
      .then((res) => {
        p.signer = new VoucherSigner(key, o.ledgerId, res.channelId, amount);
      })
      .finally(() => {
        p.opening = undefined;
        void peer;
      });
    return p.opening;
  }

  #pay(peer: string, p: ProviderState): void {
    const signer = p.signer;
    if (!signer) return;
    let cumulative = p.owed / MIB;
    if (cumulative > signer.locked) cumulative = signer.locked;
    const amount = cumulative - signer.cumulative;
    if (amount <= 0n) return;
    if (this.#spent + amount > this.budget) return;
    try {
      const v = signer.pay(amount);
      this.#spent += amount;
      p.ext.pay(fromHex(v.channelId), v.cumulative, v.signature);
      this.emit('paid', { peer, amount, cumulative: v.cumulative, bytes: p.bytes });
    } catch (err) {
      this.#warn('SPEED_PAY_FAILED', `payment to ${peer} failed`, err);
    }
  }

  #now(): number {
    return this.options.wallClock ? this.options.wallClock.now() : Date.now();
  }

  #warn(code: SpeedErrorCode, message: string, cause?: unknown): void {
    if (this.listenerCount('warning') > 0)
      this.emit('warning', new SpeedError(code, message, cause === undefined ? {} : { cause }));
  }
}

/** The BitTorrent Speed plug-in for `new Client({ plugins: [speed(options)] })`. */
export function speed(options: SpeedOptions): SpeedPlugin {
  return new SpeedPlugin(options);
}
