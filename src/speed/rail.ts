import { ChannelKey } from '../ledger/channel-key.js';
import type { TronKey } from '../ledger/keys.js';
import type { WallClock } from '../ledger/ledger.js';
import type { LedgerApi } from '../ledger/types.js';
import { authorizeChannel, VoucherSigner, VoucherVerifier } from '../ledger/voucher.js';
import { fromHex, toHex } from '../util/bytes.js';
import { BTT_SCHEME_ED25519, type BttVoucherScheme, bttSchemesOf } from '../wire/btt-schemes.js';
import type { BttHandshake } from '../wire/btt-speed.js';
import { SpeedError } from './errors.js';

/**
 * Payment rails: how a {@link SpeedPlugin} pays and is paid. A rail opens payment channels (the
 * payer locks an amount for one payee), signs cumulative vouchers, verifies them, and collects
 * what they promise. Two ship with bttkit: {@link LedgerRail} (the custodial off-chain ledger's
 * channels, ed25519 vouchers) and {@link BttcChannelRail} (the non-custodial channel contract on
 * BTTC, EIP-712 vouchers). Peers pay each other only on the same rail: its {@link PaymentRail.id}
 * is the `ledger` of the `btt_speed` handshake, and {@link PaymentRail.peerAddress} says whether a
 * peer's handshake can use it.
 * @module
 */

/** A voucher as the `btt_speed` `pay` message carries it. */
export interface RailVoucher {
  /** The channel's id (16 bytes on the ledger, 32 on a BTTC channel). */
  readonly channel: Uint8Array;
  /** Total promised on the channel so far, base units. */
  readonly cumulative: bigint;
  /** The rail's signature (64-byte ed25519 on the ledger, 65-byte secp256k1 on BTTC). */
  readonly signature: Uint8Array;
}

/** The payer's end of one channel. */
export interface RailPayer {
  readonly channel: Uint8Array;
  /** The amount locked in the channel: vouchers never promise more. */
  readonly locked: bigint;
  /** Total promised so far. */
  readonly cumulative: bigint;
  /** Signs a voucher promising `amount` more (throws beyond {@link locked}). */
  pay(amount: bigint): RailVoucher;
}

/** The payee's end of one channel: vouchers are offered cheaply and only the newest is verified. */
export interface RailPayee {
  readonly channel: Uint8Array;
  /** Cumulative amount of the best verified voucher (or what was collected before). */
  readonly cumulative: bigint;
  /** The channel's deposit: no voucher can promise more (what backs the payer's bids). */
  readonly locked: bigint;
  /** The best verified voucher (what a collect redeems; keep it to collect after a crash). */
  readonly best: RailVoucher | undefined;
  /**
   * False once the channel can take no more vouchers — the payer started closing it on chain, or
   * it was collected for good: the provider extends no more credit on it.
   */
  readonly usable: boolean;
  /** Records a voucher after field checks only (throws if it does not increase or exceeds the deposit). */
  offer(voucher: RailVoucher): void;
  /** Verifies the newest offered voucher; returns the verified cumulative. Throws on a bad signature. */
  verifyNewest(): bigint;
}

/** A way to pay and be paid; see the module documentation. */
export interface PaymentRail {
  /** Advertised as the handshake's `ledger`: 1–64 of `A–Z a–z 0–9 . _ : -`. */
  readonly id: string;
  /** Token profile advertised (`BTT`…). */
  readonly token: string;
  /** Our TRON-form address (the handshake's `addr`). */
  readonly address: string;
  /** The voucher scheme of this rail's channels (the `vs` of `bid`, `pay`, `ack`). */
  readonly scheme: BttVoucherScheme;
  /** Handshake fields besides `v`, `addr`, `ledger`, `token`, `reserve` (`vs`, `evm`). */
  readonly hello: Pick<BttHandshake, 'vs' | 'evm'>;
  /**
   * Bytes a requester lets accrue before it signs the next voucher (0: after every verified
   * piece). Each voucher costs a signature; a rail with a slow one batches.
   */
  readonly payEveryBytes: number;
  /**
   * A payee's final collect ends the channel (a rail that settles on chain): a payer must not
   * carry a channel over to a new connection to the same payee. Absent: false (the ledger's
   * channels stay redeemable until they expire).
   */
  readonly finalCollectCloses?: boolean;
  /** Bytes a provider serves ahead of payment when the plug-in's `creditBytes` is not set. */
  readonly defaultCreditBytes: number;
  /**
   * The credit window of a payer that has paid nothing yet, when the plug-in's
   * `initialCreditBytes` is not set (it grows with payment up to the credit). Optional: absent,
   * the window starts whole (a rail whose payers pay in batches needs it from the first byte).
   */
  readonly defaultInitialCreditBytes?: number;
  /**
   * The peer's address on this rail — the payee of channels to it, the payer of channels from
   * it — or undefined when its handshake cannot use this rail (another ledger, chain, contract,
   * token or scheme).
   */
  peerAddress(hs: BttHandshake): string | undefined;
  /** Opens a channel to `payee` locking `amount` (the requester side). */
  open(payee: string, amount: bigint): Promise<RailPayer>;
  /**
   * Locks `amount` more in a channel of ours (the requester side); once it resolves the payee
   * can see it and `payer.locked` includes it. Optional: a rail without it opens each channel
   * with a fixed amount (Speed's `channelAmount`).
   */
  topUp?(payer: RailPayer, amount: bigint): Promise<void>;
  /**
   * Reads the channel's deposit again (the payer may have topped it up); `payee.locked` then
   * shows it (the provider side). Optional, with {@link topUp}.
   */
  refresh?(payee: RailPayee): Promise<void>;
  /** Checks that `channel` is open, from `payer` to us, and usable; its payee end (the provider side). */
  accept(channel: Uint8Array, payer: string): Promise<RailPayee>;
  /**
   * Collects what `payee` has verified beyond what was collected before, returns the amount
   * credited to us (0 if nothing to do). `final`: the peer left or the torrent closed — a rail
   * that settles on chain closes the channel then; before (`final` false, every
   * `redeemIntervalMs`) it checks that the payer has not started taking the channel back, and if
   * it has, closes at once and marks the payee not {@link RailPayee.usable}.
   */
  collect(payee: RailPayee, final: boolean): Promise<bigint>;
}

/** Options of {@link LedgerRail}. */
export interface LedgerRailOptions {
  /** Our TRON account: we pay from it and are paid into it. */
  wallet: TronKey;
  /** The ledger both sides use (embedded or a `LedgerClient`). */
  ledger: LedgerApi;
  /** Its id (from `ledger.info()`). */
  ledgerId: string;
  /** Token profile advertised. Default `BTT`. */
  token?: string;
  /** Channel lifetime. Default 1 hour. */
  channelTtlMs?: number;
  /** Wall time for channel expiry (must agree with the ledger's clock). Default `Date.now`. */
  wallClock?: WallClock;
  /** Random bytes for channel keys. Default the system CSPRNG; only a simulation may seed it. */
  randomBytes?: (length: number) => Uint8Array;
}

class LedgerPayer implements RailPayer {
  readonly channel: Uint8Array;
  constructor(readonly signer: VoucherSigner) {
    this.channel = fromHex(signer.channelId);
  }
  get locked(): bigint {
    return this.signer.locked;
  }
  get cumulative(): bigint {
    return this.signer.cumulative;
  }
  pay(amount: bigint): RailVoucher {
    const v = this.signer.pay(amount);
    return { channel: this.channel, cumulative: v.cumulative, signature: v.signature };
  }
}

class LedgerPayee implements RailPayee {
  readonly channel: Uint8Array;
  /** Cumulative amount already redeemed at the ledger. */
  redeemedTo: bigint;
  constructor(readonly verifier: VoucherVerifier) {
    this.channel = fromHex(verifier.channelId);
    this.redeemedTo = verifier.redeemed;
  }
  get cumulative(): bigint {
    return this.verifier.cumulative;
  }
  get locked(): bigint {
    return this.verifier.locked;
  }
  get best(): RailVoucher | undefined {
    const v = this.verifier.best;
    return v && { channel: this.channel, cumulative: v.cumulative, signature: v.signature };
  }
  /** Ledger channels stay usable until they expire (checked when accepted). */
  readonly usable = true;
  offer(v: RailVoucher): void {
    this.verifier.offer({
      ledgerId: this.verifier.ledgerId,
      channelId: toHex(v.channel),
      cumulative: v.cumulative,
      signature: v.signature,
    });
  }
  verifyNewest(): bigint {
    return this.verifier.verifyNewest();
  }
}

/**
 * The ledger's payment channels: the payer's account authorizes a channel with its TRON key,
 * the ledger locks the amount, a fresh ed25519 channel key signs the vouchers, the payee redeems
 * them at the ledger (periodically and when the peer leaves).
 */
export class LedgerRail implements PaymentRail {
  readonly id: string;
  readonly token: string;
  readonly address: string;
  readonly scheme = BTT_SCHEME_ED25519;
  /** Nothing besides the classic fields: a ledger peer's handshake is the one of bttkit before schemes. */
  readonly hello: Pick<BttHandshake, 'vs' | 'evm'> = {};
  /** An ed25519 signature costs ~0.1 ms: a voucher per verified piece. */
  readonly payEveryBytes = 0;
  readonly defaultCreditBytes: number = 4 * 1024 * 1024;
  /** A payer that has paid nothing is served 512 KiB ahead (at least two pieces); its window grows as it pays. */
  readonly defaultInitialCreditBytes: number = 512 * 1024;
  readonly #o: LedgerRailOptions;

  constructor(options: LedgerRailOptions) {
    this.#o = options;
    this.id = options.ledgerId;
    this.token = options.token ?? 'BTT';
    this.address = options.wallet.address;
  }

  peerAddress(hs: BttHandshake): string | undefined {
    if (hs.ledger !== this.id || hs.token !== this.token) return undefined;
    return bttSchemesOf(hs).includes(BTT_SCHEME_ED25519) ? hs.addr : undefined;
  }

  async open(payee: string, amount: bigint): Promise<RailPayer> {
    const o = this.#o;
    const key = o.randomBytes ? ChannelKey.fromSeed(o.randomBytes(32)) : ChannelKey.generate();
    const expiresAt = this.#now() + (o.channelTtlMs ?? 3_600_000);
    const terms = {
      ledgerId: o.ledgerId,
      payer: o.wallet.address,
      payee,
      channelKey: key.publicKey,
      amount,
      expiresAt,
    };
    const res = await o.ledger.openChannel({
      payer: terms.payer,
      payee,
      amount,
      expiresAt,
      channelKey: key.publicKey,
      authorization: authorizeChannel(o.wallet, terms),
      idempotencyKey: `open:${toHex(key.publicKey)}`,
    });
    return new LedgerPayer(new VoucherSigner(key, o.ledgerId, res.channelId, amount));
  }

  async topUp(payer: RailPayer, amount: bigint): Promise<void> {
    if (!(payer instanceof LedgerPayer))
      throw new SpeedError('SPEED_BAD_CHANNEL', 'not a channel of this rail');
    const { channelId, locked } = payer.signer;
    const res = await this.#o.ledger.topUpChannel({
      by: this.address,
      channelId,
      amount,
      // The same top-up retried is one top-up; the next one starts from the larger deposit.
      idempotencyKey: `topup:${channelId}:${locked}:${amount}`,
    });
    payer.signer.raise(res.amount);
  }

  async refresh(payee: RailPayee): Promise<void> {
    if (!(payee instanceof LedgerPayee))
      throw new SpeedError('SPEED_BAD_CHANNEL', 'not a channel of this rail');
    const ch = await this.#o.ledger.getChannel(payee.verifier.channelId);
    if (ch?.status === 'open' && ch.amount > payee.verifier.locked) payee.verifier.raise(ch.amount);
  }

  async accept(channel: Uint8Array, payer: string): Promise<RailPayee> {
    const o = this.#o;
    const channelId = toHex(channel);
    const ch = await o.ledger.getChannel(channelId);
    if (ch?.status !== 'open') throw new SpeedError('SPEED_BAD_CHANNEL', 'no such open channel');
    if (ch.payee !== this.address || ch.payer !== payer) {
      throw new SpeedError('SPEED_BAD_CHANNEL', 'channel is not from this peer to us');
    }
    if (ch.expiresAt <= this.#now() + 60_000)
      throw new SpeedError('SPEED_BAD_CHANNEL', 'channel expires too soon');
    return new LedgerPayee(
      new VoucherVerifier(fromHex(ch.channelKey), o.ledgerId, channelId, ch.amount, ch.redeemed),
    );
  }

  async collect(payee: RailPayee): Promise<bigint> {
    if (!(payee instanceof LedgerPayee))
      throw new SpeedError('SPEED_BAD_CHANNEL', 'not a channel of this rail');
    const v = payee.verifier.best;
    if (!v || v.cumulative <= payee.redeemedTo) return 0n;
    const res = await this.#o.ledger.redeem({
      by: this.address,
      voucher: v,
      idempotencyKey: `redeem:${v.channelId}:${v.cumulative}`,
    });
    if (v.cumulative > payee.redeemedTo) payee.redeemedTo = v.cumulative;
    return res.credited;
  }

  #now(): number {
    return this.#o.wallClock ? this.#o.wallClock.now() : Date.now();
  }
}
