import type { TronKey } from '../ledger/keys.js';
import type { Ledger } from '../ledger/ledger.js';
import type { ChokeContext, Choker, ChokerPeer } from '../session/choker.js';
import { TitForTatChoker } from '../session/choker.js';
import type { TorrentPlugin } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import { PropShareAllocator, UniformPriceAuction } from '../speed/auction.js';
import { type SpeedPlugin, speed } from '../speed/plugin.js';
import {
  LedgerRail,
  type PaymentRail,
  type RailPayee,
  type RailPayer,
  type RailVoucher,
} from '../speed/rail.js';
import { AutoBid, type BidContext, type BidStrategy, FixedBid, NoBid } from '../speed/strategy.js';
import type { Clock } from '../util/clock.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { SimError } from './errors.js';
import type { PeerGroup, Scenario } from './scenario.js';

/**
 * The lab's peers: the Speed plug-in a group's strategy asks for, and the cheats of
 * {@link SimAttack} built from public pieces (a {@link PaymentRail} wrapper, a choker wrapper, a
 * {@link BidStrategy} filter, a wire that hides its pieces). Honest groups get exactly what they
 * got before attacks existed.
 * @module
 */

/** What building one peer's plug-ins needs from the run. */
export interface LabPeerContext {
  group: PeerGroup;
  key: TronKey;
  ledger: Ledger;
  ledgerId: string;
  clock: Clock;
  wallClock: { now(): number };
  randomBytes: (n: number) => Uint8Array;
  /** The hosts of a group's peers (a shill's targets). */
  hostsOf: (group: string) => readonly string[];
}

/** A choker that never unchokes: the free-rider's. */
export class FreeRiderChoker implements Choker {
  rechoke(): ReadonlySet<string> {
    return new Set();
  }
}

/** Runs the inner choker (so a Speed provider still grants its paid slots) and unchokes nobody. */
class MuteChoker implements Choker {
  constructor(readonly inner: Choker) {}
  rechoke(peers: readonly ChokerPeer[], ctx: ChokeContext): ReadonlySet<string> {
    this.inner.rechoke(peers, ctx);
    return new Set();
  }
}

/** A payer whose `pay` always fails: the requester never signs a voucher (`non-payment`). */
class NeverPayer implements RailPayer {
  constructor(readonly inner: RailPayer) {}
  get channel(): Uint8Array {
    return this.inner.channel;
  }
  get locked(): bigint {
    return this.inner.locked;
  }
  get cumulative(): bigint {
    return this.inner.cumulative;
  }
  pay(): RailVoucher {
    throw new SimError('SIM_FAILED', 'this payer never pays (lab attack "non-payment")');
  }
}

/** A payer whose vouchers carry a garbage signature (`forged-vouchers`); `forged` counts what they promise. */
class ForgingPayer implements RailPayer {
  forged = 0n;
  constructor(readonly inner: RailPayer) {}
  get channel(): Uint8Array {
    return this.inner.channel;
  }
  get locked(): bigint {
    return this.inner.locked;
  }
  get cumulative(): bigint {
    return this.inner.cumulative;
  }
  pay(amount: bigint): RailVoucher {
    const v = this.inner.pay(amount);
    this.forged += amount;
    return { ...v, signature: v.signature.map((b) => b ^ 0x5a) };
  }
}

/**
 * A {@link PaymentRail} that cheats as a payer: `non-payment` opens real channels and never
 * signs; `unfunded-bids` opens every channel with one base unit locked, whatever it bids;
 * `forged-vouchers` signs every voucher with a garbage signature.
 */
export class CheatingRail implements PaymentRail {
  constructor(
    readonly inner: PaymentRail,
    readonly mode: 'non-payment' | 'unfunded-bids' | 'forged-vouchers',
  ) {}
  readonly #forgers: ForgingPayer[] = [];
  /** What the forged vouchers promised (base units): the plug-in counts it as spent, no payee can collect it. */
  get forged(): bigint {
    return this.#forgers.reduce((a, f) => a + f.forged, 0n);
  }
  get id() {
    return this.inner.id;
  }
  get token() {
    return this.inner.token;
  }
  get address() {
    return this.inner.address;
  }
  get scheme() {
    return this.inner.scheme;
  }
  get hello() {
    return this.inner.hello;
  }
  get payEveryBytes() {
    return this.inner.payEveryBytes;
  }
  get defaultCreditBytes() {
    return this.inner.defaultCreditBytes;
  }
  get defaultInitialCreditBytes() {
    return this.inner.defaultInitialCreditBytes;
  }
  get finalCollectCloses() {
    return this.inner.finalCollectCloses;
  }
  peerAddress(...args: Parameters<PaymentRail['peerAddress']>) {
    return this.inner.peerAddress(...args);
  }
  async open(payee: string, amount: bigint): Promise<RailPayer> {
    if (this.mode === 'unfunded-bids') return this.inner.open(payee, amount > 0n ? 1n : amount);
    if (this.mode === 'forged-vouchers') {
      const f = new ForgingPayer(await this.inner.open(payee, amount));
      this.#forgers.push(f);
      return f;
    }
    return new NeverPayer(await this.inner.open(payee, amount));
  }
  /** A top-up of the real channel (an unfunded bidder's channels stay at one base unit: none). */
  get topUp(): PaymentRail['topUp'] {
    const inner = this.inner;
    if (this.mode === 'unfunded-bids' || !inner.topUp) return undefined;
    return (payer, amount) =>
      inner.topUp?.(
        payer instanceof NeverPayer || payer instanceof ForgingPayer ? payer.inner : payer,
        amount,
      ) ?? Promise.resolve();
  }
  get refresh(): PaymentRail['refresh'] {
    return this.inner.refresh?.bind(this.inner);
  }
  accept(channel: Uint8Array, payer: string): Promise<RailPayee> {
    return this.inner.accept(channel, payer);
  }
  collect(payee: RailPayee, final: boolean): Promise<bigint> {
    return this.inner.collect(payee, final);
  }
}

/** Bids only at the peers on `hosts` (a shill's targets), by the inner strategy. */
class TargetedBid implements BidStrategy {
  readonly name = 'shill';
  constructor(
    readonly inner: BidStrategy,
    readonly hosts: () => readonly string[],
  ) {}
  bids(context: BidContext): Map<string, bigint> {
    const hosts = this.hosts();
    const providers = context.providers.filter((p) => hosts.some((h) => p.peer.startsWith(`${h}:`)));
    return this.inner.bids({ ...context, providers });
  }
}

/** A Speed plug-in whose choker is muted: it grants paid slots and uploads nothing (`non-delivery`). */
function nonDelivering(plugin: SpeedPlugin): SpeedPlugin {
  const attach = plugin.attach.bind(plugin);
  plugin.attach = (torrent: Torrent) => {
    const setChoker = torrent.setChoker.bind(torrent);
    const view = new Proxy(torrent, {
      get(target, prop) {
        if (prop === 'setChoker') return (c: Choker) => setChoker(new MuteChoker(c));
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    attach(view);
  };
  return plugin;
}

/** A peer that never says which pieces it has: no bitfield, no have-all, no `have` (`under-report`). */
export const underReport: TorrentPlugin = {
  name: 'lab-under-report',
  attach(torrent: Torrent): void {
    torrent.on('wire', (wire: PeerWire) => {
      const w = wire as { have(i: number): void; bitfield(b: Uint8Array): void; haveAll(): void };
      w.have = () => {};
      w.bitfield = () => {};
      w.haveAll = () => wire.haveNone();
    });
  },
};

/** The Speed plug-in of one paying peer (auction/propshare), with its group's cheat if any. */
export function labSpeed(ctx: LabPeerContext): SpeedPlugin {
  const g = ctx.group;
  const base = g.budget > 0n ? (g.bid === 'auto' ? new AutoBid() : new FixedBid(g.bid)) : new NoBid();
  const strategy =
    g.attack === 'shill' && g.shillFor !== undefined
      ? new TargetedBid(base, () => ctx.hostsOf(g.shillFor as string))
      : base;
  const railOptions = {
    wallet: ctx.key,
    ledger: ctx.ledger,
    ledgerId: ctx.ledgerId,
    wallClock: ctx.wallClock,
    randomBytes: ctx.randomBytes,
  };
  const common = {
    budget: g.budget,
    reservePrice: g.reservePrice,
    strategy,
    allocator: g.strategy === 'propshare' ? new PropShareAllocator() : new UniformPriceAuction(),
    paidShare: g.paidShare,
    clock: ctx.clock,
    ...(g.creditBytes === undefined ? {} : { creditBytes: g.creditBytes }),
    ...(g.initialCreditBytes === undefined ? {} : { initialCreditBytes: g.initialCreditBytes }),
    ...(g.debtorsInFreeSlots === undefined ? {} : { debtorsInFreeSlots: g.debtorsInFreeSlots }),
    ...(g.minFundedBytes === undefined ? {} : { minFundedBytes: g.minFundedBytes }),
    ...(g.fundedBids === undefined ? {} : { fundedBids: g.fundedBids }),
    ...(g.grantTimeoutMs === undefined ? {} : { grantTimeoutMs: g.grantTimeoutMs }),
  };
  const cheat =
    g.attack === 'non-payment' || g.attack === 'unfunded-bids' || g.attack === 'forged-vouchers'
      ? g.attack
      : undefined;
  const plugin =
    cheat === undefined
      ? speed({ ...railOptions, ...common })
      : speed({ rail: new CheatingRail(new LedgerRail(railOptions), cheat), ...common });
  return g.attack === 'non-delivery' ? nonDelivering(plugin) : plugin;
}

/** The `choker` option of a peer's `Client`: the free-rider's, a muted one, or the scenario's optimistic policy. */
export function labChoker(g: PeerGroup, sc: Scenario, random: () => number): { choker?: () => Choker } {
  if (g.strategy === 'free-rider') return { choker: () => new FreeRiderChoker() };
  if (sc.choker && g.strategy === 'tit-for-tat') {
    const o = sc.choker;
    return { choker: () => new TitForTatChoker({ ...o, random }) };
  }
  return {};
}

/** What a peer really paid: its plug-in's `spent` less what its forged vouchers promised. */
export function paidFor(plugin: SpeedPlugin | undefined): bigint {
  if (!plugin) return 0n;
  return plugin.rail instanceof CheatingRail ? plugin.spent - plugin.rail.forged : plugin.spent;
}
