import { addressOfPrivateKey, evmToTronAddress } from '../settlement/bttc/address.js';
import type { BttcChannels } from '../settlement/bttc/channel.js';
import { NATIVE_TOKEN } from '../settlement/bttc/channel-types.js';
import {
  type Eip712Voucher,
  Eip712VoucherSigner,
  Eip712VoucherVerifier,
  type VoucherDomain,
} from '../settlement/bttc/voucher.js';
import { fromHex, toHex } from '../util/bytes.js';
import { BTT_SCHEME_EIP712, type BttVoucherScheme, bttSchemesOf } from '../wire/btt-schemes.js';
import type { BttHandshake } from '../wire/btt-speed.js';
import { SpeedError } from './errors.js';
import type { PaymentRail, RailPayee, RailPayer, RailVoucher } from './rail.js';

const MIB = 1024 * 1024;
/** Default bytes between two vouchers on a BTTC channel (each costs a secp256k1 signature). */
export const BTTC_PAY_EVERY_BYTES: number = 32 * MIB;
/** Default credit window of a provider on a BTTC channel. */
export const BTTC_CREDIT_BYTES: number = 64 * MIB;

/** Options of {@link BttcChannelRail}. */
export interface BttcChannelRailOptions {
  /**
   * The channel contract, connected with our account's key (`BttcChannels.connect` or
   * `.deploy`): it opens our channels as a payer and closes channels to us as a payee.
   */
  channels: BttcChannels;
  /** An ERC-20 token for the channels (`0x…`), or omitted for native BTT. */
  token?: `0x${string}`;
  /** Token profile advertised in the handshake (peers must agree). Default `BTT`. */
  tokenSymbol?: string;
  /** Bytes between two vouchers (each costs a secp256k1 signature, ~1 ms). Default {@link BTTC_PAY_EVERY_BYTES} (32 MiB). */
  payEveryBytes?: number;
  /** Credit window a provider grants when the plug-in sets none. Default {@link BTTC_CREDIT_BYTES} (64 MiB). */
  creditBytes?: number;
  /** Random bytes for channel signing keys. Default the system CSPRNG. */
  randomBytes?: (length: number) => Uint8Array;
}

function hexOf(bytes: Uint8Array): `0x${string}` {
  return `0x${toHex(bytes)}`;
}

class ChainPayer implements RailPayer {
  readonly channel: Uint8Array;
  constructor(readonly signer: Eip712VoucherSigner) {
    this.channel = fromHex(signer.channelId.slice(2));
  }
  get locked(): bigint {
    return this.signer.deposit;
  }
  get cumulative(): bigint {
    return this.signer.cumulative;
  }
  pay(amount: bigint): RailVoucher {
    const v = this.signer.pay(amount);
    return { channel: this.channel, cumulative: v.amount, signature: v.signature };
  }
}

class ChainPayee implements RailPayee {
  readonly channel: Uint8Array;
  /** Closed on chain (by us): nothing more to collect. */
  closed = false;
  /** The payer started closing it (seen on chain), or we closed it. */
  stopped = false;
  constructor(readonly verifier: Eip712VoucherVerifier) {
    this.channel = fromHex(verifier.channelId.slice(2));
  }
  get cumulative(): bigint {
    return this.verifier.cumulative;
  }
  get locked(): bigint {
    return this.verifier.deposit;
  }
  get best(): RailVoucher | undefined {
    const v = this.verifier.best;
    return v && { channel: this.channel, cumulative: v.amount, signature: v.signature };
  }
  get usable(): boolean {
    return !this.stopped && !this.closed;
  }
  offer(v: RailVoucher): void {
    this.verifier.offer({ channelId: hexOf(v.channel), amount: v.cumulative, signature: v.signature });
  }
  verifyNewest(): bigint {
    return this.verifier.verifyNewest();
  }
}

/**
 * Speed over non-custodial payment channels on BTTC: a requester locks BTT (or an ERC-20) in the
 * `BttkitChannel` contract for each provider, with a fresh secp256k1 channel key that signs
 * cumulative EIP-712 vouchers; a provider checks the channel on chain (open, from that peer to
 * us, our token), verifies the newest voucher per round, and closes the channel with the best
 * voucher when the peer leaves or the torrent closes — the contract pays it, the rest goes back
 * to the payer. No operator holds anyone's money. A secp256k1 signature costs about ten times an
 * ed25519 one, so vouchers are batched ({@link BttcChannelRailOptions.payEveryBytes}).
 *
 * ```ts
 * const channels = await BttcChannels.connect({ rpcUrl, privateKey, address: contract });
 * const client = new SpeedClient({ speed: { rail: new BttcChannelRail({ channels }), budget } });
 * ```
 */
export class BttcChannelRail implements PaymentRail {
  readonly id: string;
  readonly token: string;
  readonly address: string;
  readonly scheme: BttVoucherScheme = BTT_SCHEME_EIP712;
  readonly hello: Pick<BttHandshake, 'vs' | 'evm'>;
  readonly payEveryBytes: number;
  /** The payee's final collect closes the channel on chain: never carried to a new connection. */
  readonly finalCollectCloses = true;
  readonly defaultCreditBytes: number;
  readonly #channels: BttcChannels;
  readonly #domain: VoucherDomain;
  readonly #tokenAddress: `0x${string}`;
  readonly #random: (length: number) => Uint8Array;

  constructor(options: BttcChannelRailOptions) {
    const c = options.channels;
    this.#channels = c;
    this.#domain = { chainId: c.chainId, verifyingContract: c.address };
    this.#tokenAddress = (options.token ?? NATIVE_TOKEN).toLowerCase() as `0x${string}`;
    this.id = `bttc:${c.chainId}:${c.address.toLowerCase()}`;
    this.token = options.tokenSymbol ?? 'BTT';
    this.address = evmToTronAddress(c.account);
    this.hello = {
      vs: [BTT_SCHEME_EIP712],
      evm: { chainId: c.chainId, contract: c.address.toLowerCase(), addr: c.account.toLowerCase() },
    };
    this.payEveryBytes = options.payEveryBytes ?? BTTC_PAY_EVERY_BYTES;
    this.defaultCreditBytes = options.creditBytes ?? BTTC_CREDIT_BYTES;
    this.#random = options.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
  }

  peerAddress(hs: BttHandshake): string | undefined {
    const e = hs.evm;
    if (hs.ledger !== this.id || hs.token !== this.token || !bttSchemesOf(hs).includes(BTT_SCHEME_EIP712))
      return undefined;
    if (e === undefined || e.chainId !== this.#domain.chainId) return undefined;
    if (e.contract.toLowerCase() !== this.#channels.address.toLowerCase()) return undefined;
    return e.addr.toLowerCase();
  }

  async open(payee: string, amount: bigint): Promise<RailPayer> {
    const key = this.#random(32);
    const signer = addressOfPrivateKey(key);
    const res = await this.#channels.open({
      payee: payee as `0x${string}`,
      token: this.#tokenAddress,
      signer: signer.toLowerCase() as `0x${string}`,
      amount,
    });
    return new ChainPayer(
      new Eip712VoucherSigner({ privateKey: key, domain: this.#domain, channelId: res.id, deposit: amount }),
    );
  }

  /** Tops the channel up on chain (approving the token first when needed). */
  async topUp(payer: RailPayer, amount: bigint): Promise<void> {
    if (!(payer instanceof ChainPayer))
      throw new SpeedError('SPEED_BAD_CHANNEL', 'not a channel of this rail');
    await this.#channels.topUp(payer.signer.channelId as `0x${string}`, amount);
    payer.signer.topUp(payer.signer.deposit + amount);
  }

  /** Reads the channel's deposit on chain again (it only grows while the channel is open). */
  async refresh(payee: RailPayee): Promise<void> {
    if (!(payee instanceof ChainPayee))
      throw new SpeedError('SPEED_BAD_CHANNEL', 'not a channel of this rail');
    const ch = await this.#channels.channel(hexOf(payee.channel));
    if (ch.status === 'open' && ch.deposit > payee.verifier.deposit) payee.verifier.topUp(ch.deposit);
  }

  async accept(channel: Uint8Array, payer: string): Promise<RailPayee> {
    if (channel.length !== 32) throw new SpeedError('SPEED_BAD_CHANNEL', 'a BTTC channel id is 32 bytes');
    const ch = await this.#channels.channel(hexOf(channel));
    if (ch.status !== 'open') throw new SpeedError('SPEED_BAD_CHANNEL', `channel is ${ch.status}, not open`);
    if (ch.payee !== this.#channels.account.toLowerCase() || ch.payer !== payer.toLowerCase()) {
      throw new SpeedError('SPEED_BAD_CHANNEL', 'channel is not from this peer to us');
    }
    if (ch.token !== this.#tokenAddress)
      throw new SpeedError('SPEED_BAD_CHANNEL', 'channel holds another token');
    return new ChainPayee(
      new Eip712VoucherVerifier({
        domain: this.#domain,
        channelId: ch.id,
        signer: ch.signer,
        deposit: ch.deposit,
        redeemed: ch.claimed,
      }),
    );
  }

  /**
   * Closes the channel on chain with the best voucher, once, when `final`. Before (the periodic
   * round), reads the channel: if the payer started closing it — to take the deposit back after
   * the challenge period — closes it at once with the best voucher and stops the credit.
   */
  async collect(payee: RailPayee, final: boolean): Promise<bigint> {
    if (!(payee instanceof ChainPayee))
      throw new SpeedError('SPEED_BAD_CHANNEL', 'not a channel of this rail');
    if (payee.closed) return 0n;
    if (!final) {
      const ch = await this.#channels.channel(hexOf(payee.channel));
      if (ch.status === 'open') return 0n;
      payee.stopped = true;
    }
    const best: Eip712Voucher | undefined = payee.verifier.best;
    if (!best) return 0n;
    payee.closed = true;
    try {
      const res = await this.#channels.close({
        channelId: best.channelId as `0x${string}`,
        amount: best.amount,
        signature: hexOf(best.signature),
      });
      return res.toPayee;
    } catch (err) {
      payee.closed = false;
      throw err;
    }
  }
}
