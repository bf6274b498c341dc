import { TronKey } from '../ledger/keys.js';
import { Ledger } from '../ledger/ledger.js';
import { Client, type TorrentPlugin } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import type { SpeedPlugin } from '../speed/plugin.js';
import type { TimerHandle } from '../util/clock.js';
import { type FluidBound, fluidBound } from './bound.js';
import { labChoker, labSpeed, paidFor, underReport } from './cheats.js';
import { SimError, SimNetwork, type SimNodeStats } from './network.js';
import { SimRandom } from './random.js';
import {
  formatBtt,
  normalizeScenario,
  type PeerGroup,
  type Scenario,
  type ScenarioInput,
} from './scenario.js';
import { VirtualClock } from './scheduler.js';
import { SimContent, SimPieces, SimStore } from './store.js';

/** Options of {@link runSwarm}. */
export interface SwarmOptions {
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Called every `progressEverySeconds` of virtual time. */
  onProgress?: (progress: SwarmProgress) => void;
  /** Default 10. */
  progressEverySeconds?: number;
}

/** A progress report of a running simulation. */
export interface SwarmProgress {
  /** Virtual seconds. */
  time: number;
  leechers: number;
  completed: number;
  online: number;
  /** Simulator events so far. */
  events: number;
}

/** One peer's outcome. Times are virtual seconds; money is BTT (decimal strings). */
export interface PeerResult {
  id: string;
  group: string;
  strategy: string;
  seed: boolean;
  host: string;
  /** Capacities, bytes/s. */
  upload: number;
  download: number;
  joinedAt: number | null;
  completedAt: number | null;
  /** `completedAt − joinedAt`. */
  downloadSeconds: number | null;
  leftAt: number | null;
  sessions: number;
  /** Payload bytes (duplicates included) received and sent. */
  downloaded: number;
  uploaded: number;
  /** Bytes on the simulated wire (protocol overhead and retransmissions included). */
  wireSent: number;
  wireReceived: number;
  bttPaid: string;
  bttEarned: string;
  bttRedeemed: string;
}

/** Summary of a group of peers. */
export interface GroupResult {
  name: string;
  strategy: string;
  count: number;
  completed: number;
  meanDownloadSeconds: number | null;
  medianDownloadSeconds: number | null;
  /** Payload bytes the group's peers received and sent (duplicates included), together. */
  downloaded: number;
  uploaded: number;
  bttPaid: string;
  bttEarned: string;
  /** The group's cheat (`attack` of its scenario group), if any. */
  attack?: string;
  /** The group is an attacker (its gain is measured by `runAttack`). */
  attacker?: boolean;
}

/** Everything a run produced. JSON-safe (money as decimal strings); identical for one scenario and seed. */
export interface SwarmResult {
  name: string;
  seed: number;
  fileBytes: number;
  pieceLength: number;
  bound: FluidBound;
  completion: {
    leechers: number;
    completed: number;
    /** First leecher arrival → last leecher completion, s (null unless all completed). */
    seconds: number | null;
    /** `seconds / bound.seconds`. */
    ratioToBound: number | null;
    meanDownloadSeconds: number | null;
    medianDownloadSeconds: number | null;
  };
  groups: GroupResult[];
  peers: PeerResult[];
  /** Cumulative payload bytes per peer at each sample time (s). */
  series: { seconds: number[]; downloaded: Record<string, number[]>; uploaded: Record<string, number[]> };
  ledger: {
    deposits: string;
    paid: string;
    earned: string;
    redeemed: string;
    invariantHolds: boolean;
  } | null;
  simulatedSeconds: number;
  events: number;
}

const EPOCH = Date.UTC(2026, 0, 1);
const PORT = 6881;

interface PeerState {
  index: number;
  id: string;
  host: string;
  group: PeerGroup;
  rng: SimRandom;
  peerId: Uint8Array;
  pieces: SimPieces;
  arriveAt: number;
  key?: TronKey;
  plugin?: SpeedPlugin;
  client?: Client;
  torrent?: Torrent;
  online: boolean;
  gone: boolean;
  timers: TimerHandle[];
  joinedAt?: number;
  completedAt?: number;
  leftAt?: number;
  sessions: number;
  baseDown: number;
  baseUp: number;
  wire: SimNodeStats[];
  down: number[];
  up: number[];
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function mean(xs: number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Runs a scenario on virtual time: every peer is a real {@link Client} (session, picker, choker,
 * BitTorrent Speed and the embedded ledger) on a {@link SimNetwork}. Deterministic: one scenario
 * and seed give the same result, byte for byte.
 *
 * @example
 * ```ts
 * const result = await runSwarm({
 *   file: { size: '16 MiB' },
 *   groups: [
 *     { name: 'seed', count: 1, seed: true, upload: '4 MiB/s', download: '4 MiB/s' },
 *     { name: 'leechers', count: 20, upload: '1 MiB/s', download: '4 MiB/s' },
 *   ],
 * });
 * console.log(result.completion.seconds, result.bound.seconds);
 * ```
 * @throws {SimError} `SIM_BAD_SCENARIO` for an invalid scenario.
 */
export async function runSwarm(
  input: ScenarioInput | Scenario,
  options: SwarmOptions = {},
): Promise<SwarmResult> {
  const sc: Scenario = isNormalized(input) ? input : normalizeScenario(input);
  const seed = options.seed ?? sc.seed;
  const rng = new SimRandom(seed);
  const clock = new VirtualClock();
  const net = new SimNetwork(clock, rng.fork(), {
    segmentBytes: sc.network.segmentBytes,
    windowBytes: sc.network.windowBytes,
    retransmitMs: sc.network.retransmitMs,
  });
  const content = new SimContent(sc.fileSize, sc.pieceLength, rng.fork());
  const paying = sc.groups.some((g) => g.strategy === 'auction' || g.strategy === 'propshare');
  const ledger = paying
    ? await Ledger.open({ ledgerId: 'bttkit:sim', wallClock: { now: () => EPOCH + Math.floor(clock.now()) } })
    : undefined;

  // Peers, their arrival times and identities, all drawn up front from the seed.
  const peers: PeerState[] = [];
  for (const group of sc.groups) {
    const grng = rng.fork();
    let t = group.arrival.kind === 'poisson' ? (group.arrival.start ?? 0) : (group.arrival.at ?? 0);
    for (let k = 0; k < group.count; k++) {
      if (group.arrival.kind === 'poisson') t += grng.exponential(1 / group.arrival.ratePerSecond);
      const index = peers.length;
      const n = index + 1;
      const prng = grng.fork();
      const peerId = new Uint8Array(20);
      peerId.set(new TextEncoder().encode('-BKSIM-'));
      peerId.set(prng.bytes(13), 7);
      peers.push({
        index,
        id: `${group.name}-${k + 1}`,
        host: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
        group,
        rng: prng,
        peerId,
        pieces: new SimPieces(content, group.seed),
        arriveAt: t,
        online: false,
        gone: false,
        timers: [],
        sessions: 0,
        baseDown: 0,
        baseUp: 0,
        wire: [],
        down: [],
        up: [],
      });
    }
  }
  const leechers = peers.filter((p) => !p.group.seed);
  const seedUpload = peers.filter((p) => p.group.seed).reduce((a, p) => a + p.group.upload, 0);
  const bound = fluidBound({
    fileBytes: sc.fileSize,
    seedUpload,
    leecherUploads: leechers.map((p) => (p.group.strategy === 'free-rider' ? 0 : p.group.upload)),
    leecherDownloads: leechers.map((p) => p.group.download),
  });

  // The simulated tracker: who is online, handing out a random sample.
  const online: PeerState[] = [];
  const sample = (p: PeerState, rngFor: SimRandom): { host: string; port: number }[] => {
    const others = online.filter((o) => o !== p);
    const want = Math.min(sc.tracker.peers, others.length);
    for (let i = 0; i < want; i++) {
      const j = i + rngFor.int(others.length - i);
      const tmp = others[i] as PeerState;
      others[i] = others[j] as PeerState;
      others[j] = tmp;
    }
    return others.slice(0, want).map((o) => ({ host: o.host, port: PORT }));
  };

  let pendingArrivals = peers.length;
  let completed = 0;
  let finished = 0; // leechers completed or gone for good
  let failure: unknown;
  const settings = sc.settings;

  const hosts = new Map<string, string[]>();
  for (const p of peers) hosts.set(p.group.name, [...(hosts.get(p.group.name) ?? []), p.host]);
  const plugins = (p: PeerState): TorrentPlugin[] => {
    const g = p.group;
    const extra = g.attack === 'under-report' ? [underReport] : [];
    if (!ledger || (g.strategy !== 'auction' && g.strategy !== 'propshare')) return extra;
    if (!p.plugin) {
      const key = tronKey(p.rng);
      p.key = key;
      p.plugin = labSpeed({
        group: g,
        key,
        ledger,
        ledgerId: 'bttkit:sim',
        clock,
        wallClock: { now: () => EPOCH + Math.floor(clock.now()) },
        randomBytes: (n) => p.rng.bytes(n),
        hostsOf: (name) => hosts.get(name) ?? [],
      });
    }
    return [p.plugin, ...extra];
  };

  const leave = (p: PeerState, final: boolean): void => {
    if (!p.online) return;
    p.online = false;
    const i = online.indexOf(p);
    if (i >= 0) online.splice(i, 1);
    for (const t of p.timers) t.cancel();
    p.timers = [];
    const s = p.torrent?.stats();
    p.baseDown += s?.downloaded ?? 0;
    p.baseUp += s?.uploaded ?? 0;
    const client = p.client;
    p.client = undefined;
    p.torrent = undefined;
    void client?.destroy();
    net.removeNode(p.host);
    if (final) {
      p.gone = true;
      p.leftAt = clock.now() / 1000;
      if (!p.group.seed && p.completedAt === undefined) finished++;
    }
  };

  const scheduleChurn = (p: PeerState): void => {
    const d = p.group.departure;
    if (d.kind !== 'churn' || p.completedAt !== undefined) return;
    const t = clock.setTimeout(
      () => {
        leave(p, false);
        const back = p.rng.exponential((d.meanOfflineSeconds ?? 30) * 1000);
        clock.setTimeout(() => void join(p), back);
      },
      p.rng.exponential(d.meanOnlineSeconds * 1000),
    );
    p.timers.push(t);
  };

  const onComplete = (p: PeerState): void => {
    if (p.completedAt !== undefined || p.group.seed) return;
    p.completedAt = clock.now() / 1000;
    completed++;
    finished++;
    const d = p.group.departure;
    const stay = d.kind === 'leave' ? 0 : d.kind === 'stay' ? d.seconds : d.staySeconds;
    for (const t of p.timers) t.cancel();
    p.timers = [];
    if (stay === undefined) return;
    if (stay === 0) clock.defer(() => leave(p, true));
    else p.timers.push(clock.setTimeout(() => leave(p, true), stay * 1000));
  };

  const join = async (p: PeerState): Promise<void> => {
    if (p.online || p.gone) return;
    const g = p.group;
    const transport = net.addNode({
      host: p.host,
      upload: g.upload,
      download: g.download,
      latencyMs: g.latencyMs,
      loss: g.loss,
    });
    const wire = net.stats(p.host);
    if (wire) p.wire.push(wire);
    const client = new Client({
      clock,
      transport,
      // The lab studies strategies: MSE's key exchange per connection would cost CPU, not insight.
      encryption: false,
      peerId: p.peerId,
      random: p.rng.source,
      settings,
      plugins: plugins(p),
      ...labChoker(g, sc, p.rng.source),
    });
    p.client = client;
    p.online = true;
    p.sessions++;
    p.joinedAt ??= clock.now() / 1000;
    await client.listen(PORT, p.host);
    if (p.client !== client) return;
    const torrent = client.add(content.info, {
      store: () => new SimStore(p.pieces),
      peers: sample(p, p.rng),
    });
    p.torrent = torrent;
    online.push(p);
    torrent.on('done', () => onComplete(p));
    torrent.on('error', (err) => {
      failure ??= err;
    });
    p.timers.push(
      clock.setInterval(() => {
        const t = p.torrent;
        if (t && t.stats().peers < (settings.maxConnectionsPerTorrent ?? 50) / 2)
          for (const a of sample(p, p.rng)) t.addPeer(a);
      }, sc.tracker.intervalSeconds * 1000),
    );
    scheduleChurn(p);
  };

  // Seeds first; leechers arriving at the same instant (a flash crowd) in a random order, so that
  // no group is favoured for being listed first (the first arrivals reach the seed first).
  const order = [...peers.filter((p) => p.group.seed)];
  const shuffled = peers.filter((p) => !p.group.seed);
  const orng = rng.fork();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = orng.int(i + 1);
    const t = shuffled[i] as PeerState;
    shuffled[i] = shuffled[j] as PeerState;
    shuffled[j] = t;
  }
  order.push(...shuffled);
  for (const p of order) {
    clock.setTimeout(() => {
      pendingArrivals--;
      void (async () => {
        if (ledger && p.group.budget > 0n) {
          plugins(p);
          await ledger.deposit({
            account: (p.key as TronKey).address,
            amount: p.group.budget,
            txid: (p.index + 1).toString(16).padStart(64, '0'),
            idempotencyKey: `sim-deposit-${p.index}`,
          });
        }
        await join(p);
      })().catch((err: unknown) => {
        failure ??= err;
      });
    }, p.arriveAt * 1000);
  }

  // Sampling.
  const times: number[] = [];
  const takeSample = (): void => {
    times.push(r3(clock.now() / 1000));
    for (const p of peers) {
      const s = p.online ? p.torrent?.stats() : undefined;
      p.down.push(p.baseDown + (s?.downloaded ?? 0));
      p.up.push(p.baseUp + (s?.uploaded ?? 0));
    }
  };
  const sampler = clock.setInterval(takeSample, sc.sampleSeconds * 1000);
  const every = (options.progressEverySeconds ?? 10) * 1000;
  let nextReport = every;
  const progress = options.onProgress;

  const done = () => failure !== undefined || (pendingArrivals === 0 && finished >= leechers.length);
  await clock.run({
    until: done,
    endAt: sc.maxSeconds * 1000,
    onBatch: (now) => {
      if (progress && now >= nextReport) {
        nextReport = (Math.floor(now / every) + 1) * every;
        progress({
          time: now / 1000,
          leechers: leechers.length,
          completed,
          online: online.length,
          events: clock.fired,
        });
      }
    },
  });
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new SimError('SIM_FAILED', String(failure));
  sampler.cancel();
  takeSample();
  const endedAt = clock.now() / 1000;

  // Close everyone (providers redeem their best vouchers), then let that settle.
  for (const p of peers) leave(p, false);
  await clock.run({ endAt: clock.now() + 30_000 });

  const results: PeerResult[] = peers.map((p) => ({
    id: p.id,
    group: p.group.name,
    strategy: p.group.strategy,
    seed: p.group.seed,
    host: p.host,
    upload: p.group.upload,
    download: p.group.download,
    joinedAt: p.joinedAt === undefined ? null : r3(p.joinedAt),
    completedAt: p.completedAt === undefined ? null : r3(p.completedAt),
    downloadSeconds:
      p.completedAt === undefined || p.joinedAt === undefined ? null : r3(p.completedAt - p.joinedAt),
    leftAt: p.leftAt === undefined ? null : r3(p.leftAt),
    sessions: p.sessions,
    downloaded: p.baseDown,
    uploaded: p.baseUp,
    wireSent: p.wire.reduce((a, w) => a + w.sent, 0),
    wireReceived: p.wire.reduce((a, w) => a + w.received, 0),
    bttPaid: formatBtt(paidBy(p)),
    bttEarned: formatBtt(earnedBy(p)),
    bttRedeemed: formatBtt(redeemedBy(p)),
  }));

  const firstArrival = Math.min(...leechers.map((p) => p.arriveAt));
  const allDone = leechers.every((p) => p.completedAt !== undefined);
  const lastDone = Math.max(...leechers.map((p) => p.completedAt ?? Number.NEGATIVE_INFINITY));
  const durations = leechers.flatMap((p) =>
    p.completedAt !== undefined && p.joinedAt !== undefined ? [p.completedAt - p.joinedAt] : [],
  );
  const seconds = allDone ? r3(lastDone - firstArrival) : null;

  const groups: GroupResult[] = sc.groups.map((g) => {
    const members = peers.filter((p) => p.group === g);
    const d = members.flatMap((p) =>
      p.completedAt !== undefined && p.joinedAt !== undefined ? [p.completedAt - p.joinedAt] : [],
    );
    const m = mean(d);
    const med = median(d);
    return {
      name: g.name,
      strategy: g.strategy,
      count: members.length,
      completed: members.filter((p) => p.completedAt !== undefined).length,
      meanDownloadSeconds: m === null ? null : r3(m),
      medianDownloadSeconds: med === null ? null : r3(med),
      downloaded: members.reduce((a, p) => a + p.baseDown, 0),
      uploaded: members.reduce((a, p) => a + p.baseUp, 0),
      bttPaid: formatBtt(members.reduce((a, p) => a + paidBy(p), 0n)),
      bttEarned: formatBtt(members.reduce((a, p) => a + earnedBy(p), 0n)),
      ...(g.attack === undefined ? {} : { attack: g.attack }),
      ...(g.attacker ? { attacker: true } : {}),
    };
  });

  let ledgerResult: SwarmResult['ledger'] = null;
  if (ledger) {
    const totals = await ledger.totals();
    ledgerResult = {
      deposits: formatBtt(totals.deposits),
      paid: formatBtt(peers.reduce((a, p) => a + paidBy(p), 0n)),
      earned: formatBtt(peers.reduce((a, p) => a + earnedBy(p), 0n)),
      redeemed: formatBtt(peers.reduce((a, p) => a + redeemedBy(p), 0n)),
      invariantHolds: totals.balances + totals.locked === totals.deposits - totals.withdrawals,
    };
  }
  const m = mean(durations);
  const med = median(durations);
  return {
    name: sc.name,
    seed,
    fileBytes: sc.fileSize,
    pieceLength: sc.pieceLength,
    bound: {
      seconds: r3(bound.seconds),
      terms: { seed: r3(bound.terms.seed), download: r3(bound.terms.download), swarm: r3(bound.terms.swarm) },
      binding: bound.binding,
    },
    completion: {
      leechers: leechers.length,
      completed,
      seconds,
      ratioToBound: seconds === null || bound.seconds === 0 ? null : r3(seconds / bound.seconds),
      meanDownloadSeconds: m === null ? null : r3(m),
      medianDownloadSeconds: med === null ? null : r3(med),
    },
    groups,
    peers: results,
    series: {
      seconds: times,
      downloaded: Object.fromEntries(peers.map((p) => [p.id, p.down])),
      uploaded: Object.fromEntries(peers.map((p) => [p.id, p.up])),
    },
    ledger: ledgerResult,
    simulatedSeconds: r3(endedAt),
    events: clock.fired,
  };
}

/** BTT a peer promised in vouchers, had accepted, and had credited at the ledger (its plug-in keeps the totals). */
const paidBy = (p: PeerState): bigint => paidFor(p.plugin);
const earnedBy = (p: PeerState): bigint => p.plugin?.earned ?? 0n;
const redeemedBy = (p: PeerState): bigint => p.plugin?.redeemed ?? 0n;

function tronKey(rng: SimRandom): TronKey {
  for (;;) {
    try {
      return TronKey.fromPrivateKey(rng.bytes(32));
    } catch {
      // not a valid secp256k1 scalar (probability ~2^-128): draw again
    }
  }
}

function isNormalized(s: ScenarioInput | Scenario): s is Scenario {
  return typeof (s as Scenario).fileSize === 'number' && Array.isArray(s.groups);
}
