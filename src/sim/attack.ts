import { SimError } from './errors.js';
import { type GroupResult, runSwarm, type SwarmOptions, type SwarmResult } from './run.js';
import {
  formatBtt,
  normalizeScenario,
  type PeerGroupInput,
  parseBtt,
  type ScenarioInput,
} from './scenario.js';

/**
 * Attacks in the swarm lab: an attacker group's gain over an honest peer in its place (the same
 * scenario and seed re-run with the group honest), and the scenarios' `defense` switch.
 * @module
 */

/** One side of a gain: a group's outcome per peer. */
export interface GroupOutcome {
  /** Mean and median download time, s (null unless a peer completed). */
  meanSeconds: number | null;
  medianSeconds: number | null;
  completed: number;
  count: number;
  /** BTT paid minus BTT earned, per peer (decimal string; negative: it earned more). */
  netPaidPerPeer: string;
}

/** What an attacker group won (positive) or lost (negative) against an honest peer in its place. */
export interface AttackGain {
  group: string;
  /** The group's `attack` (`free-rider` for a free-riding attacker group without one). */
  attack: string;
  attacker: GroupOutcome;
  honest: GroupOutcome;
  /** Honest mean download time − the attacker's (s): positive, the attacker finished sooner. Null if either did not complete. */
  gainSeconds: number | null;
  /** `gainSeconds` as a share of the honest mean time (0.1 = 10 % faster). */
  gainShare: number | null;
  /** Honest net paid − the attacker's, per peer (BTT): positive, the attacker kept more money. */
  gainBtt: string;
  /**
   * With `free` (runAttack's option): the group honest and not bidding at all (a plain
   * tit-for-tat peer) — what a peer gets for nothing — and the attacker's gain over it in s
   * (positive: the cheat finished sooner than a peer that never pays) and as a share of its time.
   */
  free?: GroupOutcome;
  gainOverFreeSeconds?: number | null;
  gainOverFreeShare?: number | null;
  /**
   * A shill's coalition: the group it bids for (`shillFor`), that group's gain in BTT earned per
   * peer of it, and the coalition's gain (the provider's extra earnings + the shills' `gainBtt` × their count), BTT.
   */
  beneficiary?: { group: string; gainBttPerPeer: string; coalitionGainBtt: string };
  /**
   * What the attack cost the other leecher groups: their mean download time in this run minus
   * in the honest run (s; positive: they were slower), by group name.
   */
  othersSlowerSeconds: Record<string, number | null>;
}

/** A run of an attack scenario with the gain of each attacker group. */
export interface AttackResult {
  result: SwarmResult;
  /** The honest reference runs, one per attacker group (same order as `gains`). */
  honest: SwarmResult[];
  gains: AttackGain[];
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function outcome(g: GroupResult): GroupOutcome {
  const net = parseBtt(g.bttPaid, 'bttPaid') - parseBtt(g.bttEarned, 'bttEarned');
  return {
    meanSeconds: g.meanDownloadSeconds,
    medianSeconds: g.medianDownloadSeconds,
    completed: g.completed,
    count: g.count,
    netPaidPerPeer: formatBtt(net / BigInt(Math.max(1, g.count))),
  };
}

function groupOf(r: SwarmResult, name: string): GroupResult {
  const g = r.groups.find((x) => x.name === name);
  if (!g) throw new SimError('SIM_FAILED', `no group ${name} in the result`);
  return g;
}

/** Base units per peer of a group's earnings. */
const earnedPerPeer = (g: GroupResult): bigint =>
  parseBtt(g.bttEarned, 'bttEarned') / BigInt(Math.max(1, g.count));

/**
 * The scenario with group `name` honest: its `honest` fields applied (default: `attack`,
 * `attacker`, `shillFor` removed, a `free-rider` strategy made `tit-for-tat`).
 * @throws {SimError} `SIM_BAD_SCENARIO` if there is no such group.
 */
export function honestVariant(input: ScenarioInput, name: string): ScenarioInput {
  const i = input.groups.findIndex((g) => g.name === name);
  if (i < 0) throw new SimError('SIM_BAD_SCENARIO', `no group "${name}"`, { details: { path: 'groups' } });
  const g = input.groups[i] as PeerGroupInput;
  const { attack: _a, attacker: _b, shillFor: _c, honest, ...rest } = g;
  const fair: PeerGroupInput = {
    ...rest,
    ...(rest.strategy === 'free-rider' ? { strategy: 'tit-for-tat' as const } : {}),
    ...honest,
  };
  if (fair.strategy !== 'auction' && fair.strategy !== 'propshare') delete fair.budget;
  return { ...input, groups: input.groups.map((x, k) => (k === i ? fair : x)) };
}

/**
 * The scenario with group `name` honest and not paying: its `attack`, `attacker`, `shillFor`
 * and `budget` removed and its strategy `tit-for-tat` (a plain peer in the attacker's place).
 * @throws {SimError} `SIM_BAD_SCENARIO` if there is no such group.
 */
export function freeVariant(input: ScenarioInput, name: string): ScenarioInput {
  const i = input.groups.findIndex((g) => g.name === name);
  if (i < 0) throw new SimError('SIM_BAD_SCENARIO', `no group "${name}"`, { details: { path: 'groups' } });
  const g = input.groups[i] as PeerGroupInput;
  const { attack: _a, attacker: _b, shillFor: _c, honest: _d, budget: _e, ...rest } = g;
  const plain: PeerGroupInput = { ...rest, strategy: 'tit-for-tat' };
  return { ...input, groups: input.groups.map((x, k) => (k === i ? plain : x)) };
}

/** Options of {@link runAttack}: the run's, and whether to run the not-paying reference too. */
export interface AttackOptions extends SwarmOptions {
  /** Also run each attacker group as a plain peer that never pays ({@link freeVariant}). Default false. */
  free?: boolean;
}

/** Which variant of an attack scenario to run: as written (the defaults), or its `defense.on` / `defense.off` patch. */
export type DefenseMode = 'default' | 'on' | 'off';

/**
 * The scenario as written (`default`), or with its `defense.on` or `defense.off` patch applied —
 * `settings` and `choker` merged, `groups` by name (the fields merged into the group).
 * @throws {SimError} `SIM_BAD_SCENARIO` for `on`/`off` when the scenario has no such patch.
 */
export function withDefense(input: ScenarioInput, mode: DefenseMode): ScenarioInput {
  if (mode === 'default') return input;
  const d = input.defense as Partial<Record<'on' | 'off', DefensePatch>> | undefined;
  const patch = d?.[mode];
  if (patch === undefined || typeof patch !== 'object' || patch === null)
    throw new SimError('SIM_BAD_SCENARIO', `the scenario has no defense.${mode} patch`, {
      details: { path: `defense.${mode}` },
    });
  return {
    ...input,
    ...(patch.settings ? { settings: { ...input.settings, ...patch.settings } } : {}),
    ...(patch.choker ? { choker: { ...input.choker, ...patch.choker } } : {}),
    groups: input.groups.map((g) => ({ ...g, ...(patch.groups?.[g.name] ?? {}) })),
  };
}

/**
 * What a scenario's `defense` says: the setting it names (documentation) and the patches that
 * switch it on (tighter than the default) and off (looser), either or both.
 */
export interface DefenseSpec {
  /** The setting and its values, e.g. `"creditBytes of every provider: 256 KiB on, 64 MiB off"`. */
  setting: string;
  on?: DefensePatch;
  off?: DefensePatch;
}

/** Fields `withDefense` merges into the scenario. */
export interface DefensePatch {
  settings?: ScenarioInput['settings'];
  choker?: ScenarioInput['choker'];
  groups?: Record<string, Partial<PeerGroupInput>>;
}

/**
 * Runs an attack scenario and, for each attacker group (`attacker: true`, or any group with an
 * `attack`), the same scenario and seed with that group honest; returns the run, the reference
 * runs and each attacker's gain in seconds and BTT (and, with `free`, over a plain peer that never pays).
 * @throws {SimError} `SIM_BAD_SCENARIO` for an invalid scenario.
 */
export async function runAttack(input: ScenarioInput, options: AttackOptions = {}): Promise<AttackResult> {
  const { free, ...swarmOptions } = options;
  const sc = normalizeScenario(input);
  const result = await runSwarm(sc, swarmOptions);
  const honest: SwarmResult[] = [];
  const gains: AttackGain[] = [];
  for (const g of sc.groups) {
    if (!g.attacker) continue;
    const ref = await runSwarm(normalizeScenario(honestVariant(input, g.name)), {
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    honest.push(ref);
    const a = outcome(groupOf(result, g.name));
    const h = outcome(groupOf(ref, g.name));
    const gainSeconds =
      a.meanSeconds === null || h.meanSeconds === null ? null : r3(h.meanSeconds - a.meanSeconds);
    const gainBtt = parseBtt0(h.netPaidPerPeer) - parseBtt0(a.netPaidPerPeer);
    const gain: AttackGain = {
      group: g.name,
      attack: g.attack ?? (g.strategy === 'free-rider' ? 'free-rider' : g.strategy),
      attacker: a,
      honest: h,
      gainSeconds,
      gainShare:
        gainSeconds === null || h.meanSeconds === null || h.meanSeconds === 0
          ? null
          : r3(gainSeconds / h.meanSeconds),
      gainBtt: formatBtt(gainBtt),
      othersSlowerSeconds: Object.fromEntries(
        sc.groups
          .filter((o) => !o.seed && o.name !== g.name)
          .map((o) => {
            const x = groupOf(result, o.name).meanDownloadSeconds;
            const y = groupOf(ref, o.name).meanDownloadSeconds;
            return [o.name, x === null || y === null ? null : r3(x - y)];
          }),
      ),
    };
    if (free === true) {
      const plain = await runSwarm(normalizeScenario(freeVariant(input, g.name)), {
        ...(options.seed === undefined ? {} : { seed: options.seed }),
      });
      const f = outcome(groupOf(plain, g.name));
      const over =
        a.meanSeconds === null || f.meanSeconds === null ? null : r3(f.meanSeconds - a.meanSeconds);
      gain.free = f;
      gain.gainOverFreeSeconds = over;
      gain.gainOverFreeShare =
        over === null || f.meanSeconds === null || f.meanSeconds === 0 ? null : r3(over / f.meanSeconds);
    }
    if (g.shillFor !== undefined) {
      const per = earnedPerPeer(groupOf(result, g.shillFor)) - earnedPerPeer(groupOf(ref, g.shillFor));
      const count = BigInt(groupOf(result, g.shillFor).count);
      gain.beneficiary = {
        group: g.shillFor,
        gainBttPerPeer: formatBtt(per),
        coalitionGainBtt: formatBtt(per * count + gainBtt * BigInt(g.count)),
      };
    }
    gains.push(gain);
  }
  return { result, honest, gains };
}

/** A signed decimal BTT string to base units. */
function parseBtt0(s: string): bigint {
  return s.startsWith('-') ? -parseBtt(s.slice(1), 'amount') : parseBtt(s, 'amount');
}

/** The gains as summary lines (what `bttkit swarm` prints after the groups). */
export function gainSummary(gains: readonly AttackGain[]): string {
  const lines: string[] = [];
  for (const x of gains) {
    const t = (o: GroupOutcome) => (o.meanSeconds === null ? '—' : `${o.meanSeconds.toFixed(1)} s`);
    const share = x.gainShare === null ? '' : ` (${(x.gainShare * 100).toFixed(1)} %)`;
    lines.push(
      `attacker ${x.group} (${x.attack}): ${t(x.attacker)} mean against ${t(x.honest)} honest in its place → gain ${x.gainSeconds === null ? '—' : `${x.gainSeconds.toFixed(1)} s`}${share}; net paid per peer ${x.attacker.netPaidPerPeer} BTT against ${x.honest.netPaidPerPeer} → gain ${x.gainBtt} BTT`,
    );
    if (x.free)
      lines.push(
        `  a plain peer in its place (never pays): ${t(x.free)} → the cheat's gain over it ${x.gainOverFreeSeconds == null ? '—' : `${x.gainOverFreeSeconds.toFixed(1)} s`}${x.gainOverFreeShare == null ? '' : ` (${(x.gainOverFreeShare * 100).toFixed(1)} %)`}`,
      );
    const others = Object.entries(x.othersSlowerSeconds)
      .map(([n, d]) => `${n} ${d === null ? '—' : `${d >= 0 ? '+' : ''}${d.toFixed(1)} s`}`)
      .join(', ');
    if (others !== '') lines.push(`  the others' mean download time against the honest run: ${others}`);
    if (x.beneficiary)
      lines.push(
        `  coalition with ${x.beneficiary.group}: it earned ${x.beneficiary.gainBttPerPeer} BTT more per peer; coalition gain ${x.beneficiary.coalitionGainBtt} BTT`,
      );
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
