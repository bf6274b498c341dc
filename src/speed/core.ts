import { equalBytes, toHex } from '../util/bytes.js';
import { type Clock, realClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { BTT_SCHEME_ED25519 } from '../wire/btt-schemes.js';
import { type BttHandshake, BttRejectCode, type BttSpeedExtension } from '../wire/btt-speed.js';
import { SpeedChoker } from './choker.js';
import { Collects } from './collects.js';
import type { ProviderState, RequesterState, SpeedSwarm, SpeedSwarmHost } from './core-types.js';
import { creditRules, DebtBook, higher, overdrawn } from './credit.js';
import { refusalCode, SpeedError, type SpeedErrorCode, type SpeedErrorDetails } from './errors.js';
import { ChannelFunds } from './funds.js';
import {
  checkSpeedOptions,
  type SpeedEvents,
  type SpeedLedgerOptions,
  type SpeedOptions,
} from './options.js';
import { LedgerRail, type PaymentRail } from './rail.js';
import { AutoBid, type BidStrategy, MIB } from './strategy.js';
import { takenOverRefused, takeOver } from './take-over.js';
import { depositRefresher, takeVoucher, type VoucherDesk } from './vouchers.js';

/**
 * The rules of BitTorrent Speed for one account, shared by the session's {@link SpeedPlugin} and
 * the `bittorrent-protocol` adapter ({@link WireSpeed}): per peer, the payer's state machine
 * (open a channel, bid, accept a grant, pay per verified piece) and the payee's (check the
 * channel, auction paid slots, grant, extend credit, verify the newest voucher, ack, collect).
 * A host — a bttkit `Torrent` or another client's wires — feeds it through a {@link SpeedSwarm}.
 * @module
 */

export type { SpeedSwarm, SpeedSwarmHost } from './core-types.js';

export type {
  SpeedCommonOptions,
  SpeedEvents,
  SpeedLedgerOptions,
  SpeedOptions,
  SpeedRailOptions,
} from './options.js';

/**
 * One account's BitTorrent Speed: its payment rail, budget and totals over every torrent, and
 * the per-peer rules (see the module documentation). Subclassed by {@link SpeedPlugin} (bttkit's
 * session) and {@link WireSpeed} (any `bittorrent-protocol` wire); not used directly.
 */
export class SpeedCore extends TypedEmitter<SpeedEvents> {
  readonly options: Readonly<SpeedOptions>;
  readonly #clock: Clock;
  readonly #strategy: BidStrategy;
  #spent = 0n;
  #acked = 0n;
  #earned = 0n;
  /** Channels (hex) accepted as a provider, by the connection using them — over every torrent. */
  readonly #inUse = new Map<string, RequesterState>();
  #redeemed = 0n;
  /** What payers left owing when their connections closed (a reconnect resumes it). */
  readonly #debts = new DebtBook();
  readonly #handshake: BttHandshake;
  /** How we pay and are paid. */
  readonly rail: PaymentRail;
  /** Our money in our channels (opened small and topped up where the rail can). */
  readonly #funds: ChannelFunds;
  /** Our collects of what payers promised us. */
  readonly #collects: Collects;

  constructor(options: SpeedOptions) {
    super();
    this.options = options;
    checkSpeedOptions(options);
    this.#clock = options.clock ?? realClock;
    this.#strategy = options.strategy ?? new AutoBid();
    this.rail = options.rail ?? new LedgerRail(options as SpeedLedgerOptions);
    const { channelAmount, channelAheadBytes: aheadBytes } = options;
    this.#funds = new ChannelFunds(
      this.rail,
      {
        budget: this.budget,
        ...(channelAmount === undefined ? {} : { channelAmount }),
        ...(aheadBytes === undefined ? {} : { aheadBytes }),
      },
      () => this.#spent,
    );
    this.#collects = new Collects({
      rail: this.rail,
      clock: this.#clock,
      options,
      settle: (peer, r) => this.#settleNewest(peer, r),
      released: (payee) => this.#inUse.delete(toHex(payee.channel)),
      credited: (payee, credited) => {
        this.#redeemed += credited;
        this.emit('redeemed', { channelId: toHex(payee.channel), credited });
      },
      warn: (code, message, cause, details) => this.#warn(code, message, cause, details),
    });
    this.#handshake = {
      v: 1,
      addr: this.rail.address,
      ledger: this.rail.id,
      token: this.rail.token,
      reserve: options.reservePrice ?? 0n,
      ...this.rail.hello,
    };
  }

  /** Our `btt` handshake (what every `btt_speed` extension of this account advertises). */
  get handshake(): BttHandshake {
    return this.#handshake;
  }

  /** Total promised in vouchers over every torrent, base units. */
  get spent(): bigint {
    return this.#spent;
  }

  /**
   * Of {@link spent}, what providers acknowledged (an `ack`: they verified the voucher). Before
   * leaving a swarm, wait (bounded) until this equals `spent`: a voucher still in flight when the
   * connection closes never reaches the provider.
   */
  get acknowledged(): bigint {
    return this.#acked;
  }

  /** Total of the vouchers we accepted as a provider (the `earned` events), base units. */
  get earned(): bigint {
    return this.#earned;
  }

  /** Total credited to us at the ledger by redeeming vouchers (the `redeemed` events), base units. */
  get redeemed(): bigint {
    return this.#redeemed;
  }

  /** The most this account promises over every torrent, base units (the `budget` option; 0: never pays). */
  get budget(): bigint {
    return this.options.budget ?? 0n;
  }

  /** The rules for one more torrent, fed by `host`; its bid and redeem timers run until {@link SpeedSwarm.close}. */
  protected openSwarm(host: SpeedSwarmHost): SpeedSwarm {
    const o = this.options;
    const providers = new Map<string, ProviderState>();
    const requesters = new Map<string, RequesterState>();
    const rules = creditRules(o, this.rail, () => host.pieceLength?.());
    const { window, funding, owes, backed, debtorOf, cutNow } = rules;
    const reserve = funding.reserve;

    // Provider side: the bid-aware choker, fed by standing bids in good standing.
    const choker = new SpeedChoker(
      {
        bidOf: (peer) => {
          const r = requesters.get(peer);
          if (!r?.bid || !r.verifier?.usable) return undefined;
          if (!this.#settleNewest(peer, r)) return undefined;
          // A bid without funds wins no slot (nor counts as a loser above what its deposit backs);
          // once granted, a payer is held to the credit window only (its deposit was checked).
          const price = r.granted === undefined ? backed(r) : r.bid.price;
          if (price === undefined) return undefined;
          // Lagging beyond the window: not bidding. A debt that fits at today's price is weighed at it.
          r.overdrawn = owes(r, r.granted ?? r.bid.price);
          if (!overdrawn(window(), r.served, r.verifier.cumulative, r.granted ?? r.bid.price))
            r.lastGranted = r.granted;
          return r.overdrawn ? undefined : price;
        },
        owes: (peer) => !o.debtorsInFreeSlots && debtorOf(requesters.get(peer)),
      },
      {
        reserve,
        ...(o.allocator ? { allocator: o.allocator } : {}),
        ...(o.paidShare !== undefined ? { paidShare: o.paidShare } : {}),
        onAllocation: (allocation) => {
          const credit = window().fullBytes; // a grant announces the credit
          const winners = new Set<string>();
          for (const award of allocation.awards) {
            winners.add(award.peer);
            const r = requesters.get(award.peer);
            if (!r?.bid) continue;
            if (r.granted !== award.price || r.grantedSeq !== r.bid.seq) {
              const seq = r.bid.seq;
              r.granted = award.price;
              r.lastGranted = higher(r.lastGranted, award.price);
              r.grantedSeq = seq;
              this.#send(award.peer, () => r.ext.grant(seq, award.price, credit));
              this.emit('grant', { peer: award.peer, price: award.price, credit, role: 'provider' });
            }
          }
          for (const [peer, r] of requesters) {
            if (winners.has(peer) || r.granted === undefined) continue;
            const price = r.granted;
            r.granted = undefined;
            r.grantedSeq = undefined;
            const due = r.served / MIB;
            const paid = r.verifier?.cumulative ?? 0n;
            // The grant's price holds until a reject (docs/btt-extension.md): say so, or the
            // requester would go on paying for bytes no longer sold to it.
            this.#send(peer, () =>
              owes(r, price)
                ? r.ext.reject(BttRejectCode.PAYMENT_REQUIRED, 'paid slot withdrawn: payments lag')
                : r.ext.reject(BttRejectCode.BID_TOO_LOW, 'paid slot withdrawn: outbid'),
            );
            this.emit('revoked', { peer, due, paid });
          }
        },
      },
    );

    // Final collects that fail are retried with backoff, never after close (collect-retry.ts).
    const finals = this.#collects.finals();

    let closed = false;
    let roundAsked = false;
    /** A choke round once this moment's events are handled (one for all of them). */
    const round = (): void => {
      if (roundAsked) return;
      roundAsked = true;
      queueMicrotask(() => {
        roundAsked = false;
        if (!closed) host.rechoke();
      });
    };
    /** Providers whose connection closed with a voucher it never acked (or owed unsigned), by address. */
    const parked = new Map<string, ProviderState>();
    const refresher = depositRefresher(this.rail, this.#clock, (err) =>
      this.#warn('SPEED_BAD_CHANNEL', 'reading a channel deposit again failed', err),
    );
    const refresh = refresher.refresh;
    const desk: VoucherDesk = {
      rail: this.rail,
      refresh,
      reject: (r, code, reason) => r.ext.reject(code, reason),
      refused: (r, err) => {
        this.#warn('SPEED_BAD_VOUCHER', 'voucher refused', err);
        if (!closed) this.#send(r.addr, () => r.ext.reject(refusalCode(err), 'voucher refused'));
      },
    };
    const closePeer = (id: string): void => {
      if (closed) return;
      const r = requesters.get(id);
      if (r?.verifier) this.#debts.leave(r.addr, r.served, r.verifier.cumulative, r.lastGranted);
      if (r) void this.#collects.redeem(r, id, finals);
      const p = providers.get(id);
      if (p) p.closed = true; // nothing more is bid, paid or topped up on it
      // A channel with a voucher never acked waits for the next connection (not on a rail whose final collect ends it).
      const park = !this.rail.finalCollectCloses && p?.signer !== undefined;
      if (park && p.signer && (p.signer.cumulative > p.acked || p.owed / MIB > p.signer.cumulative)) {
        this.#funds.retire(parked.get(p.addr)?.signer);
        parked.set(p.addr, p);
      } else this.#funds.retire(p?.signer);
      providers.delete(id);
      requesters.delete(id);
    };

    const addPeer = (id: string, ext: BttSpeedExtension): void => {
      ext.on('handshake', (hs) => {
        if (closed) return;
        const addr = this.rail.peerAddress(hs);
        if (addr === undefined || hs.addr === this.rail.address) return;
        // BEP 10 allows the extended handshake again: the same identity keeps its state (a fresh
        // one would drop vouchers not yet collected and open another channel); another identity
        // is a new peer, after the old one's final collect.
        const known = providers.get(id);
        if (known) {
          if (known.addr === addr && known.hs.ledger === hs.ledger && known.hs.token === hs.token) {
            known.hs = hs;
            const r = requesters.get(id);
            if (r) r.hs = hs;
            return;
          }
          closePeer(id);
        }
        const p: ProviderState = { ext, hs, addr, seq: 0, owed: 0n, bytes: 0n, unpaid: 0, acked: 0n };
        // A voucher signed for a connection that died may never have arrived (vouchers are
        // cumulative: never paid twice). A new connection to the same payee takes over its
        // channel and what it owes, and sends that voucher (or a newer one) once granted.
        const old = parked.get(addr);
        takeOver(p, old);
        if (old?.signer !== p.signer) this.#funds.retire(old?.signer);
        parked.delete(addr);
        providers.set(id, p);
        requesters.set(id, { ext, hs, addr, served: 0n });
        this.#rebid(host, providers);
      });
      // Provider side.
      ext.on('bid', (b) => {
        const r = requesters.get(id);
        if (!r || closed) return;
        if ((b.vs ?? BTT_SCHEME_ED25519) !== this.rail.scheme) {
          r.ext.reject(BttRejectCode.UNSUPPORTED_SCHEME, 'not the voucher scheme of our channels');
          return;
        }
        // Recorded all the same (it replaces the previous bid): the auction gives it no slot.
        if (b.price < reserve) r.ext.reject(BttRejectCode.BID_TOO_LOW, 'bid below the reserve price');
        const channel = b.ch;
        // One channel per connection: a switch would strand the vouchers of the first one.
        if (r.verifier && !equalBytes(r.verifier.channel, channel)) {
          r.ext.reject(BttRejectCode.UNKNOWN_CHANNEL, 'one channel per connection');
          return;
        }
        // A channel serves one connection at a time (else each would credit the same vouchers).
        const holder = this.#inUse.get(toHex(channel));
        if (holder !== undefined && holder !== r) {
          r.ext.reject(BttRejectCode.UNKNOWN_CHANNEL, 'channel in use by another connection');
          return;
        }
        // Checked once: a new bid must not replace the verifier and its uncollected best voucher.
        if (!r.verifier) {
          r.checking = this.#checkChannel(r, channel).catch((err: unknown) => {
            if (!closed)
              this.#send(id, () => r.ext.reject(BttRejectCode.UNKNOWN_CHANNEL, 'channel not usable'));
            this.#warn('SPEED_BAD_CHANNEL', `channel ${toHex(channel)} from ${id}`, err);
          });
        }
        const bid = { price: b.price, seq: b.seq, channel };
        r.bid = bid;
        this.emit('bid', { peer: id, price: b.price, role: 'provider' });
        // A bid its deposit as we know it does not back: the payer may have topped it up.
        const ready =
          r.verifier && r.granted === undefined && backed(r) !== b.price ? refresh(r) : r.checking;
        void ready?.then(() => {
          if (closed) return; // checked after the torrent closed: no message, no round
          // (A granted payer is held to its window only: its bid after a top-up needs no backing.)
          const unbacked = r.granted === undefined && backed(r) === undefined;
          if (r.bid === bid && r.verifier && b.price >= reserve && unbacked)
            this.#send(id, () => r.ext.reject(BttRejectCode.INSUFFICIENT_FUNDS, 'deposit too small'));
          host.rechoke();
        });
      });
      ext.on('pay', (p) => {
        const r = requesters.get(id);
        if (closed) return;
        takeVoucher(desk, r, p);
      });
      // Requester side.
      ext.on('grant', (g) => {
        const p = providers.get(id);
        // Only the answer to our newest bid: a grant before any bid (seq 0) or for an older one
        // would set a price we never offered.
        if (!p || closed || p.bid === undefined || p.seq < 1 || g.seq !== p.seq) return;
        if (g.price > p.bid) {
          this.#warn('SPEED_GRANT_ABOVE_BID', `grant from ${id} above our bid`);
          return;
        }
        if (!p.grant) p.lastDelivery = this.#clock.now();
        p.grant = { price: g.price, credit: g.credit };
        this.emit('grant', { peer: id, price: g.price, credit: g.credit, role: 'requester' });
        if (p.reused === undefined) return;
        // A channel taken over from a closed connection: what is due goes out now (a newer
        // voucher), or the newest one it never acked again.
        p.reused = undefined;
        const before = p.signer?.cumulative;
        this.#pay(id, p, host);
        const last = p.last;
        if (last && p.signer?.cumulative === before && last.cumulative > p.acked)
          this.#send(id, () => p.ext.pay(last.channel, last.cumulative, last.signature, this.rail.scheme));
      });
      ext.on('reject', (m) => {
        const p = providers.get(id);
        const signer = p?.signer;
        if (p && m.code === BttRejectCode.UNKNOWN_CHANNEL) takenOverRefused(p);
        if (p && !p.signer) this.#funds.retire(signer);
      });
      ext.on('ack', (a) => {
        const p = providers.get(id);
        const signer = p?.signer;
        if (!p || !signer || !equalBytes(a.ch, signer.channel)) return;
        let upTo = a.amt;
        if (upTo > signer.cumulative) upTo = signer.cumulative; // never above what we signed
        if (upTo <= p.acked) return;
        this.#acked += upTo - p.acked;
        p.acked = upTo;
        this.emit('acked', { peer: id, cumulative: upTo });
      });
    };

    // A batching rail's vouchers also go out on each bid round (the bytes it let accrue).
    const flush = () => {
      for (const [peer, p] of providers) if (p.unpaid > 0) this.#pay(peer, p, host);
    };
    const bidTimer = this.#clock.setInterval(() => {
      flush();
      this.#rebid(host, providers);
    }, o.bidIntervalMs ?? 2000);
    const redeemTimer = this.#clock.setInterval(() => {
      for (const [peer, r] of requesters) void this.#collects.redeem(r, peer);
    }, o.redeemIntervalMs ?? 10_000);

    return {
      choker,
      addPeer,
      uploaded: (peer, bytes) => {
        const r = closed ? undefined : requesters.get(peer);
        if (r?.granted === undefined) return;
        r.served += BigInt(bytes) * r.granted;
        // Past its window (judged once a round, vouchers offered since the last one checked
        // first): a stingy payer's slot ends now, a round at once; one that pays, at the next.
        if (r.overdrawn || !owes(r, r.granted)) return;
        r.overdrawn = true;
        if (!this.#settleNewest(peer, r) || cutNow(r, r.granted)) round();
      },
      // Pay for every verified piece, to each provider holding a grant, for the bytes it sent.
      verified: (sources) => {
        if (closed) return;
        for (const [peer, bytes] of sources) {
          const p = providers.get(peer);
          if (p && bytes > 0) {
            p.lastDelivery = this.#clock.now();
            p.stalled = false;
          }
          if (!p?.grant || !p.signer) continue;
          p.owed += BigInt(bytes) * p.grant.price;
          p.bytes += BigInt(bytes);
          p.unpaid += bytes;
          if (p.unpaid >= this.rail.payEveryBytes) this.#pay(peer, p, host);
        }
      },
      isPaid: (peer) => requesters.get(peer)?.granted !== undefined,
      peerClosed: closePeer,
      done: () => {
        if (closed) return;
        flush();
        this.#rebid(host, providers);
      },
      // Then no timer, no send, no rail call but the final collects (acks are still counted).
      close: () => {
        if (closed) return;
        flush(); // a batching rail's vouchers for verified bytes, where the wire is open
        closed = true;
        bidTimer.cancel();
        redeemTimer.cancel();
        for (const [peer, r] of requesters) void this.#collects.redeem(r, peer, finals);
        finals.close();
        requesters.clear();
        for (const p of [...parked.values(), ...providers.values()]) {
          this.#funds.retire(p.signer);
          p.closed = true;
        }
        parked.clear();
        refresher.close();
      },
    };
  }

  async #checkChannel(r: RequesterState, channel: Uint8Array): Promise<void> {
    const key = toHex(channel);
    const holder = this.#inUse.get(key);
    if (holder !== undefined && holder !== r) throw new SpeedError('SPEED_BAD_CHANNEL', 'channel in use');
    this.#inUse.set(key, r);
    try {
      r.verifier = await this.rail.accept(channel, r.addr);
      ({ served: r.served, top: r.lastGranted } = this.#debts.resume(r.addr, r.verifier.cumulative));
    } catch (err) {
      if (this.#inUse.get(key) === r) this.#inUse.delete(key);
      throw err;
    }
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
      this.#send(peer, () => r.ext.reject(BttRejectCode.BAD_SIGNATURE, 'voucher signature does not verify'));
      r.bid = undefined;
      return false;
    }
    const now = verifier.cumulative;
    if (now > before) {
      this.#send(peer, () => r.ext.ack(verifier.channel, now, this.rail.scheme));
      this.#earned += now - before;
      const best = verifier.best;
      if (this.listenerCount('earned') > 0 && best) {
        this.emit('earned', {
          peer,
          amount: now - before,
          cumulative: now,
          channelId: toHex(best.channel),
          signature: best.signature,
        });
      }
    }
    return true;
  }

  #rebid(host: SpeedSwarmHost, providers: Map<string, ProviderState>): void {
    const remainingBytes = host.remainingBytes();
    if (remainingBytes === undefined) return;
    const remainingBalance = this.budget - this.#spent;
    const rates = host.downloadRates();
    const timeout = this.options.grantTimeoutMs ?? DEFAULT_GRANT_TIMEOUT_MS;
    const now = this.#clock.now();
    for (const p of providers.values()) {
      if (timeout > 0 && p.grant && p.lastDelivery !== undefined && now - p.lastDelivery >= timeout)
        p.stalled = true;
    }
    const views = [...providers]
      .filter(([, p]) => !p.stalled)
      .map(([peer, p]) => ({
        peer,
        reserve: p.hs.reserve,
        rate: rates.get(peer) ?? 0,
      }));
    const bids = this.#strategy.bids({ remainingBalance, remainingBytes, providers: views });
    for (const [peer, price] of bids) {
      const p = providers.get(peer);
      if (!p || p.bid === price) continue;
      const alive = () => !p.closed && providers.get(peer) === p;
      void this.#funds.ensure(p, price, alive, host.pieceLength?.()).then(
        () => {
          // A bid started before the torrent closed (or the peer left) is not sent after.
          if (!p.signer || p.closed || providers.get(peer) !== p) return;
          p.bid = price;
          this.#sendBid(peer, p);
          this.#fund(peer, p, host);
        },
        (err: unknown) => this.#warn('SPEED_CHANNEL_FAILED', `cannot open a channel to ${peer}`, err),
      );
    }
  }

  #sendBid(peer: string, p: ProviderState): void {
    const [signer, price] = [p.signer, p.bid];
    if (!signer || price === undefined) return;
    const seq = ++p.seq;
    this.#send(peer, () => p.ext.bid(seq, price, signer.channel, this.rail.scheme));
    this.emit('bid', { peer, price, role: 'requester' });
  }

  /**
   * Tops up the channel to a provider running low at the price of its grant (or our bid); once
   * done, bids again (the provider reads the new deposit) and pays what waited for the funds.
   */
  #fund(peer: string, p: ProviderState, host: SpeedSwarmHost): void {
    const price = p.bid ?? p.grant?.price; // the bid (≥ the grant's price) must stay backed
    if (price === undefined || p.closed) return;
    this.#funds.topUp(p, price, host.pieceLength?.()).then(
      (added) => {
        if (!added || p.closed || host.connected?.(peer) === false) return;
        this.#sendBid(peer, p);
        this.#pay(peer, p, host);
      },
      (err: unknown) => this.#warn('SPEED_CHANNEL_FAILED', `cannot top up the channel to ${peer}`, err),
    );
  }

  /** Signs and sends what is due to a provider — not on a connection the host knows is closed (it stays owed). */
  #pay(peer: string, p: ProviderState, host: SpeedSwarmHost): void {
    const signer = p.signer;
    if (!signer || p.closed || host.connected?.(peer) === false) return;
    let cumulative = p.owed / MIB;
    if (cumulative > signer.locked) cumulative = signer.locked;
    const amount = cumulative - signer.cumulative;
    if (amount <= 0n || this.#spent + amount > this.budget) {
      this.#fund(peer, p, host);
      return;
    }
    try {
      const v = signer.pay(amount);
      this.#spent += amount;
      p.unpaid = 0;
      p.last = v;
      p.ext.pay(v.channel, v.cumulative, v.signature, this.rail.scheme);
      this.emit('paid', { peer, amount, cumulative: v.cumulative, bytes: p.bytes });
    } catch (err) {
      this.#warn('SPEED_PAY_FAILED', `payment to ${peer} failed`, err);
    }
    this.#fund(peer, p, host);
  }

  /** Sends one message; a send that throws (the peer turned `btt_speed` off, the wire closed) is a warning, never an exception out of a timer or a promise. */
  #send(peer: string, send: () => void): void {
    try {
      send();
    } catch (err) {
      this.#warn('SPEED_SEND_FAILED', `a btt_speed message to ${peer} could not be sent`, err);
    }
  }

  #warn(code: SpeedErrorCode, message: string, cause?: unknown, details?: SpeedErrorDetails): void {
    if (this.listenerCount('warning') === 0) return;
    const options = { ...(cause === undefined ? {} : { cause }), ...(details ? { details } : {}) };
    this.emit('warning', new SpeedError(code, message, options));
  }
}

/** Default {@link SpeedCommonOptions.grantTimeoutMs}: 30 s. */
export const DEFAULT_GRANT_TIMEOUT_MS = 30_000;
