import type { Settings } from '../session/settings.js';
import { SimError } from './network.js';

/** How a group's peers share and buy upload. */
export type SimStrategy = 'tit-for-tat' | 'auction' | 'propshare' | 'free-rider';

/**
 * A cheat a group's peers run (docs/sim.md, "Attacks"), built in the lab from public pieces:
 * `non-payment` — a requester whose channel never signs a voucher (it bids, takes its grant and
 * the credit, and pays nothing); `unfunded-bids` — a requester whose channels lock one base unit
 * whatever it bids (its vouchers stop at that); `non-delivery` — a provider that bids out and
 * grants its paid slots but never unchokes anyone (uploads nothing); `shill` — a requester that
 * bids its fixed `bid` only at the peers of group `shillFor` (a provider's sybils raising its
 * clearing price); `under-report` — a peer that never tells anyone which pieces it has (no
 * bitfield, no `have`); `forged-vouchers` — a requester that pays with vouchers whose signature
 * is garbage.
 */
export type SimAttack =
  | 'non-payment'
  | 'unfunded-bids'
  | 'non-delivery'
  | 'shill'
  | 'under-report'
  | 'forged-vouchers';

/** When a group's peers join: all at once, or a Poisson process. Times in seconds. */
export type ArrivalSpec =
  | { kind: 'flash'; at?: number }
  | { kind: 'poisson'; ratePerSecond: number; start?: number };

/**
 * When a peer leaves: on completion; after staying `seconds` as a seed (omitted: never); or
 * churning — online for Exp(`meanOnlineSeconds`), offline for Exp(`meanOfflineSeconds`), keeping
 * its data, until it completes (then it stays `staySeconds`, default 0).
 */
export type DepartureSpec =
  | { kind: 'leave' }
  | { kind: 'stay'; seconds?: number }
  | { kind: 'churn'; meanOnlineSeconds: number; meanOfflineSeconds?: number; staySeconds?: number };

/** A size in bytes, or a string such as `"100 MiB"`, `"256KiB"`, `"1.5 GB"`. */
export type SizeInput = number | string;
/** A rate in bytes/s, or a string such as `"1 MiB/s"`, `"8 Mbit/s"`, `"500 KB/s"`. */
export type RateInput = number | string;

/** A group of alike peers. */
export interface PeerGroupInput {
  name: string;
  /** Peers in the group. */
  count: number;
  /** Start with the whole file. Default false. */
  seed?: boolean;
  upload: RateInput;
  download: RateInput;
  /** One-way access latency, ms. Default the network's. */
  latencyMs?: number;
  /** Segment loss probability. Default 0. */
  loss?: number;
  /** Default: flash at 0. */
  arrival?: ArrivalSpec;
  /** Default: leechers leave on completion; seeds stay. */
  departure?: DepartureSpec;
  /** Default `tit-for-tat`. */
  strategy?: SimStrategy;
  /** BTT a peer may spend (decimal string, e.g. `"20"`), `auction`/`propshare` only. Default 0. */
  budget?: string;
  /** Bid: `"auto"` (AutoBid, default when there is a budget) or a fixed price in BTT per MiB. */
  bid?: string;
  /** Lowest price a peer sells at, BTT per MiB (decimal string). Default the scenario's. */
  reservePrice?: string;
  /** Share of upload slots sold (auction/propshare). Default 0.5. */
  paidShare?: number;
  /** Bytes served ahead of payment as a provider (auction/propshare). Default the rail's (4 MiB). */
  creditBytes?: number;
  /** The credit window of a payer that has paid nothing yet (Speed's `initialCreditBytes`). Default the whole credit. */
  initialCreditBytes?: number;
  /** While seeding, rank payers past their credit for free slots by what we uploaded to them (Speed's `debtorsInFreeSlots`). Default false. */
  debtorsInFreeSlots?: boolean;
  /** As a provider: what an ungranted bid's channel must still pay for (Speed's `minFundedBytes`). Default 262,144. */
  minFundedBytes?: number;
  /** As a provider: bids count only as far as their channel's deposit backs them (Speed's `fundedBids`). Default true. */
  fundedBids?: boolean;
  /** As a requester: a provider that granted and delivered nothing verified for this long leaves our bids (Speed's `grantTimeoutMs`; 0 never). Default 30,000. */
  grantTimeoutMs?: number;
  /** The group cheats this way ({@link SimAttack}). */
  attack?: SimAttack;
  /** The group is an attacker: its gain over an honest peer in its place is measured. Default: true with `attack`. */
  attacker?: boolean;
  /** `shill` only: the group whose peers the shills bid at (the provider that profits). */
  shillFor?: string;
  /**
   * Fields that make this group honest for the gain's reference run (same seed). Default:
   * `attack` removed and a `free-rider` strategy made `tit-for-tat`.
   */
  honest?: Partial<Pick<PeerGroupInput, 'strategy' | 'budget' | 'bid' | 'count'>>;
}

/** A swarm lab scenario, as written in JSON or TypeScript. */
export interface ScenarioInput {
  name?: string;
  /** Random seed (the CLI's `--seed` overrides it). Default 1. */
  seed?: number;
  file: { size: SizeInput; pieceLength?: SizeInput };
  groups: PeerGroupInput[];
  network?: {
    /** Default one-way access latency, ms. Default 10. */
    latencyMs?: number;
    segmentBytes?: number;
    windowBytes?: number;
    retransmitMs?: number;
  };
  /** Peers a new peer gets from the simulated tracker, and how often it asks again (s). Defaults 50 and 60. */
  tracker?: { peers?: number; intervalSeconds?: number };
  /** Session settings for every peer (over the lab's defaults). */
  settings?: Partial<Settings>;
  /** Default reserve price, BTT per MiB. Default `"0"`. */
  reservePrice?: string;
  /** Sampling interval of the time series, s. Default 1. */
  sampleSeconds?: number;
  /** Virtual-time limit, s. Default 86,400. */
  maxSeconds?: number;
  /**
   * The tit-for-tat peers' optimistic unchoke (the session's {@link TitForTatChoker} options):
   * rounds it lasts (default 3) and how long a new peer weighs 3× in the draw (ms, default
   * 60,000; 0: no new-peer bonus). Omitted: the session's default choker.
   */
  choker?: { optimisticRounds?: number; newPeerMs?: number };
  /** Ignored by the run: what `--defense on|off` changes (a `DefenseSpec`; see `withDefense`, docs/sim.md "Attacks"). */
  defense?: unknown;
}

/** A validated group: sizes in bytes, rates in bytes/s, money in base units. */
export interface PeerGroup {
  name: string;
  count: number;
  seed: boolean;
  upload: number;
  download: number;
  latencyMs: number;
  loss: number;
  arrival: ArrivalSpec;
  departure: DepartureSpec;
  strategy: SimStrategy;
  budget: bigint;
  bid: 'auto' | bigint;
  reservePrice: bigint;
  paidShare: number;
  /** Undefined: the rail's default. */
  creditBytes?: number;
  /** Undefined: Speed's defaults. */
  initialCreditBytes?: number;
  debtorsInFreeSlots?: boolean;
  minFundedBytes?: number;
  fundedBids?: boolean;
  grantTimeoutMs?: number;
  attack?: SimAttack;
  attacker: boolean;
  shillFor?: string;
  honest?: Partial<Pick<PeerGroupInput, 'strategy' | 'budget' | 'bid' | 'count'>>;
}

/** A validated scenario ({@link normalizeScenario}). */
export interface Scenario {
  name: string;
  seed: number;
  fileSize: number;
  pieceLength: number;
  groups: PeerGroup[];
  network: { latencyMs: number; segmentBytes: number; windowBytes: number; retransmitMs: number };
  tracker: { peers: number; intervalSeconds: number };
  settings: Partial<Settings>;
  sampleSeconds: number;
  maxSeconds: number;
  choker?: { optimisticRounds?: number; newPeerMs?: number };
}

/** Base units per BTT (18 decimals, as TRC-20 BTT). */
export const BTT_UNITS = 10n ** 18n;

/**
 * Session settings the lab starts from (a scenario's `settings` override them): libtorrent-like
 * reconnect backoff (a full swarm refuses many dials), tit-for-tat's four regular slots plus one
 * optimistic, 16 requests (256 KiB) at least in flight per peer rather than the engine's 64 — at
 * swarm rates (hundreds of KiB/s per connection) a 1 MiB backlog per unchoke makes every rechoke
 * cost seconds of idle upload (measured: leecher uplinks 0.92 → 0.96 busy in a flash crowd) —
 * and no upload cap (the simulated link is the cap).
 */
export const SIM_DEFAULT_SETTINGS: Readonly<Partial<Settings>> = Object.freeze({
  uploadSlots: 5,
  reconnectBackoffMs: 30_000,
  minRequestQueue: 16,
});

const STRATEGIES: readonly SimStrategy[] = ['tit-for-tat', 'auction', 'propshare', 'free-rider'];
/** Every {@link SimAttack}. */
export const SIM_ATTACKS: readonly SimAttack[] = [
  'non-payment',
  'unfunded-bids',
  'non-delivery',
  'shill',
  'under-report',
  'forged-vouchers',
];
const PAYING_ATTACKS: readonly SimAttack[] = [
  'non-payment',
  'unfunded-bids',
  'non-delivery',
  'shill',
  'forged-vouchers',
];

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

function fail(path: string, message: string): never {
  throw new SimError('SIM_BAD_SCENARIO', `${path}: ${message}`, { details: { path } });
}

/** Parses `"100 MiB"`-style sizes. @throws {SimError} `SIM_BAD_SCENARIO` */
export function parseSize(value: unknown, path = 'size'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) fail(path, 'must be a positive integer of bytes');
    return value;
  }
  if (typeof value !== 'string') fail(path, 'must be a number of bytes or a string such as "100 MiB"');
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(value);
  const unit = SIZE_UNITS[(m?.[2] ?? 'b').toLowerCase()];
  if (!m || unit === undefined) fail(path, `cannot read size "${value}"`);
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) fail(path, `size "${value}" out of range`);
  return n;
}

/** Parses `"1 MiB/s"` / `"8 Mbit/s"`-style rates into bytes/s. @throws {SimError} `SIM_BAD_SCENARIO` */
export function parseRate(value: unknown, path = 'rate'): number {
  if (typeof value === 'number') {
    if (!(value > 0) || !Number.isFinite(value)) fail(path, 'must be a positive number of bytes/s');
    return value;
  }
  if (typeof value !== 'string') fail(path, 'must be bytes/s or a string such as "1 MiB/s"');
  const bits = /^\s*(\d+(?:\.\d+)?)\s*([kmg])?(bit|bps)(\/s)?\s*$/i.exec(value);
  if (bits) {
    const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(bits[2] ?? '').toLowerCase()] ?? 1;
    const n = (Number(bits[1]) * mult) / 8;
    if (!(n > 0)) fail(path, `rate "${value}" must be > 0`);
    return n;
  }
  const m = /^\s*(.+?)\s*\/\s*s\s*$/i.exec(value);
  if (!m?.[1]) fail(path, `cannot read rate "${value}"`);
  return parseSize(m[1], path);
}

/** Parses a decimal BTT amount (`"20"`, `"0.125"`) into base units, exactly. */
export function parseBtt(value: unknown, path = 'amount'): bigint {
  if (typeof value !== 'string' || !/^\d+(\.\d{1,18})?$/.test(value))
    fail(path, 'must be a decimal string of BTT such as "20" or "0.5"');
  const [whole = '0', frac = ''] = value.split('.');
  return BigInt(whole) * BTT_UNITS + BigInt(frac.padEnd(18, '0'));
}

/** Formats base units as a decimal BTT string (no trailing zeros). */
export function formatBtt(units: bigint): string {
  const neg = units < 0n;
  const u = neg ? -units : units;
  const whole = u / BTT_UNITS;
  const frac = (u % BTT_UNITS).toString().padStart(18, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

function num(v: unknown, path: string, min: number, max = Number.POSITIVE_INFINITY, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    fail(path, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be true or false');
  return v;
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  return v as Record<string, unknown>;
}

function arrival(v: unknown, path: string): ArrivalSpec {
  if (v === undefined) return { kind: 'flash', at: 0 };
  const o = obj(v, path);
  if (o.kind === 'flash') return { kind: 'flash', at: o.at === undefined ? 0 : num(o.at, `${path}.at`, 0) };
  if (o.kind === 'poisson')
    return {
      kind: 'poisson',
      ratePerSecond: num(o.ratePerSecond, `${path}.ratePerSecond`, Number.MIN_VALUE),
      start: o.start === undefined ? 0 : num(o.start, `${path}.start`, 0),
    };
  return fail(`${path}.kind`, 'must be "flash" or "poisson"');
}

function departure(v: unknown, path: string, seed: boolean): DepartureSpec {
  if (v === undefined) return seed ? { kind: 'stay' } : { kind: 'leave' };
  const o = obj(v, path);
  if (o.kind === 'leave') return { kind: 'leave' };
  if (o.kind === 'stay')
    return o.seconds === undefined
      ? { kind: 'stay' }
      : { kind: 'stay', seconds: num(o.seconds, `${path}.seconds`, 0) };
  if (o.kind === 'churn')
    return {
      kind: 'churn',
      meanOnlineSeconds: num(o.meanOnlineSeconds, `${path}.meanOnlineSeconds`, Number.MIN_VALUE),
      meanOfflineSeconds:
        o.meanOfflineSeconds === undefined ? 30 : num(o.meanOfflineSeconds, `${path}.meanOfflineSeconds`, 0),
      staySeconds: o.staySeconds === undefined ? 0 : num(o.staySeconds, `${path}.staySeconds`, 0),
    };
  return fail(`${path}.kind`, 'must be "leave", "stay" or "churn"');
}

/**
 * Validates a scenario and fills in defaults.
 * @throws {SimError} `SIM_BAD_SCENARIO` naming the bad field.
 */
export function normalizeScenario(input: unknown): Scenario {
  const s = obj(input, 'scenario');
  const file = obj(s.file, 'file');
  const fileSize = parseSize(file.size, 'file.size');
  const pieceLength =
    file.pieceLength === undefined ? 256 * 1024 : parseSize(file.pieceLength, 'file.pieceLength');
  if (pieceLength < 16 * 1024 || pieceLength % (16 * 1024) !== 0)
    fail('file.pieceLength', 'must be a multiple of 16 KiB');
  if (fileSize / pieceLength > 1_000_000) fail('file', 'more than 1,000,000 pieces');
  const net = s.network === undefined ? {} : obj(s.network, 'network');
  const latency = net.latencyMs === undefined ? 10 : num(net.latencyMs, 'network.latencyMs', 0, 10_000);
  const reserve = s.reservePrice === undefined ? 0n : parseBtt(s.reservePrice, 'reservePrice');
  if (!Array.isArray(s.groups) || s.groups.length === 0) fail('groups', 'must be a non-empty array');
  const names = new Set<string>();
  const groups = s.groups.map((g: unknown, i: number): PeerGroup => {
    const path = `groups[${i}]`;
    const o = obj(g, path);
    if (typeof o.name !== 'string' || !/^[\w.-]{1,40}$/.test(o.name))
      fail(`${path}.name`, 'must be 1–40 letters, digits, "_", "-" or "."');
    if (names.has(o.name)) fail(`${path}.name`, `"${o.name}" is used twice`);
    names.add(o.name);
    const seed = o.seed === undefined ? false : o.seed === true;
    if (o.seed !== undefined && typeof o.seed !== 'boolean') fail(`${path}.seed`, 'must be a boolean');
    const strategy = (o.strategy ?? 'tit-for-tat') as SimStrategy;
    if (!STRATEGIES.includes(strategy)) fail(`${path}.strategy`, `must be one of ${STRATEGIES.join(', ')}`);
    const budget = o.budget === undefined ? 0n : parseBtt(o.budget, `${path}.budget`);
    if (budget > 0n && strategy !== 'auction' && strategy !== 'propshare')
      fail(`${path}.budget`, 'only auction and propshare peers pay');
    let bid: 'auto' | bigint = 'auto';
    if (o.bid !== undefined && o.bid !== 'auto') bid = parseBtt(o.bid, `${path}.bid`);
    const attack = o.attack as SimAttack | undefined;
    if (attack !== undefined && !SIM_ATTACKS.includes(attack))
      fail(`${path}.attack`, `must be one of ${SIM_ATTACKS.join(', ')}`);
    if (
      attack !== undefined &&
      PAYING_ATTACKS.includes(attack) &&
      strategy !== 'auction' &&
      strategy !== 'propshare'
    )
      fail(`${path}.attack`, `"${attack}" needs an auction or propshare strategy`);
    if (attack === 'shill' && (typeof o.shillFor !== 'string' || bid === 'auto'))
      fail(`${path}.shillFor`, 'a shill needs shillFor (a group name) and a fixed bid');
    if (o.attacker !== undefined && typeof o.attacker !== 'boolean')
      fail(`${path}.attacker`, 'must be a boolean');
    const honest = o.honest === undefined ? undefined : obj(o.honest, `${path}.honest`);
    return {
      name: o.name,
      count: num(o.count, `${path}.count`, 1, 100_000, true),
      seed,
      upload: parseRate(o.upload, `${path}.upload`),
      download: parseRate(o.download, `${path}.download`),
      latencyMs: o.latencyMs === undefined ? latency : num(o.latencyMs, `${path}.latencyMs`, 0, 10_000),
      loss: o.loss === undefined ? 0 : num(o.loss, `${path}.loss`, 0, 0.5),
      arrival: arrival(o.arrival, `${path}.arrival`),
      departure: departure(o.departure, `${path}.departure`, seed),
      strategy,
      budget,
      bid,
      reservePrice: o.reservePrice === undefined ? reserve : parseBtt(o.reservePrice, `${path}.reservePrice`),
      paidShare: o.paidShare === undefined ? 0.5 : num(o.paidShare, `${path}.paidShare`, 0, 1),
      ...(o.creditBytes === undefined
        ? {}
        : { creditBytes: num(o.creditBytes, `${path}.creditBytes`, 0, 2 ** 40, true) }),
      ...(o.initialCreditBytes === undefined
        ? {}
        : { initialCreditBytes: num(o.initialCreditBytes, `${path}.initialCreditBytes`, 0, 2 ** 40, true) }),
      ...(o.debtorsInFreeSlots === undefined
        ? {}
        : { debtorsInFreeSlots: bool(o.debtorsInFreeSlots, `${path}.debtorsInFreeSlots`) }),
      ...(o.minFundedBytes === undefined
        ? {}
        : { minFundedBytes: num(o.minFundedBytes, `${path}.minFundedBytes`, 0, 2 ** 40, true) }),
      ...(o.fundedBids === undefined ? {} : { fundedBids: bool(o.fundedBids, `${path}.fundedBids`) }),
      ...(o.grantTimeoutMs === undefined
        ? {}
        : { grantTimeoutMs: num(o.grantTimeoutMs, `${path}.grantTimeoutMs`, 0, 2 ** 31, true) }),
      ...(attack === undefined ? {} : { attack }),
      attacker: o.attacker === undefined ? attack !== undefined : o.attacker === true,
      ...(attack === 'shill' ? { shillFor: o.shillFor as string } : {}),
      ...(honest === undefined ? {} : { honest: honest as PeerGroup['honest'] & object }),
    };
  });
  for (const [i, g] of groups.entries())
    if (g.shillFor !== undefined && !names.has(g.shillFor))
      fail(`groups[${i}].shillFor`, `no group "${g.shillFor}"`);
  const chk = s.choker === undefined ? undefined : obj(s.choker, 'choker');
  if (!groups.some((g) => g.seed)) fail('groups', 'at least one group must be seeds');
  if (!groups.some((g) => !g.seed)) fail('groups', 'at least one group must be leechers');
  const tracker = s.tracker === undefined ? {} : obj(s.tracker, 'tracker');
  const settings = s.settings === undefined ? {} : obj(s.settings, 'settings');
  for (const [k, v] of Object.entries(settings)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`settings.${k}`, 'must be a number >= 0');
  }
  const bs = settings.blockSize;
  if (
    bs !== undefined &&
    !(typeof bs === 'number' && bs >= 16384 && bs <= 4 * 1024 * 1024 && (bs & (bs - 1)) === 0)
  )
    fail('settings.blockSize', 'must be a power of two from 16 KiB to 4 MiB');
  return {
    name:
      s.name === undefined
        ? 'scenario'
        : typeof s.name === 'string'
          ? s.name
          : fail('name', 'must be a string'),
    seed: s.seed === undefined ? 1 : num(s.seed, 'seed', 0, 2 ** 32 - 1, true),
    fileSize,
    pieceLength,
    groups,
    network: {
      latencyMs: latency,
      segmentBytes:
        net.segmentBytes === undefined
          ? 16_397
          : num(net.segmentBytes, 'network.segmentBytes', 64, 2 ** 24, true),
      windowBytes:
        net.windowBytes === undefined
          ? 256 * 1024
          : num(net.windowBytes, 'network.windowBytes', 64, 2 ** 30, true),
      retransmitMs:
        net.retransmitMs === undefined ? 200 : num(net.retransmitMs, 'network.retransmitMs', 1, 60_000),
    },
    tracker: {
      peers: tracker.peers === undefined ? 50 : num(tracker.peers, 'tracker.peers', 1, 10_000, true),
      intervalSeconds:
        tracker.intervalSeconds === undefined
          ? 60
          : num(tracker.intervalSeconds, 'tracker.intervalSeconds', 1),
    },
    settings: { ...SIM_DEFAULT_SETTINGS, ...(settings as Partial<Settings>) },
    sampleSeconds: s.sampleSeconds === undefined ? 1 : num(s.sampleSeconds, 'sampleSeconds', 0.001),
    maxSeconds: s.maxSeconds === undefined ? 86_400 : num(s.maxSeconds, 'maxSeconds', 1),
    ...(chk === undefined
      ? {}
      : {
          choker: {
            ...(chk.optimisticRounds === undefined
              ? {}
              : { optimisticRounds: num(chk.optimisticRounds, 'choker.optimisticRounds', 1, 1000, true) }),
            ...(chk.newPeerMs === undefined ? {} : { newPeerMs: num(chk.newPeerMs, 'choker.newPeerMs', 0) }),
          },
        }),
  };
}
