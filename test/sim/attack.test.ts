import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { swarmCommand } from '../../src/cli/swarm.js';
import { type AttackResult, honestVariant, runAttack, withDefense } from '../../src/sim/attack.js';
import type { GroupResult } from '../../src/sim/run.js';
import { formatBtt, normalizeScenario, parseBtt, type ScenarioInput } from '../../src/sim/scenario.js';

// Small attack scenarios (2–4 MiB, 64 KiB blocks): each run takes about a second of wall time.
const paying = (
  attack: 'non-payment' | 'unfunded-bids' | 'non-delivery' | 'forged-vouchers',
): ScenarioInput => ({
  name: `t-${attack}`,
  seed: 3,
  file: { size: '2 MiB' },
  settings: { blockSize: 65536 },
  defense: { setting: 'creditBytes', off: { groups: { seed: { creditBytes: 64 * 1024 * 1024 } } } },
  groups: [
    {
      name: 'seed',
      count: 1,
      seed: true,
      upload: '512 KiB/s',
      download: '4 MiB/s',
      strategy: 'auction',
      // A price above 0 for every grant of the seed: an honest payer in the cheats' place pays.
      reservePrice: '0.5',
      creditBytes: 262144,
    },
    { name: 'payers', count: 4, upload: '128 KiB/s', download: '4 MiB/s', strategy: 'auction', budget: '20' },
    {
      name: 'cheats',
      count: 2,
      upload: '128 KiB/s',
      download: '4 MiB/s',
      strategy: 'auction',
      budget: '20',
      attack,
    },
  ],
});

const sybils: ScenarioInput = {
  name: 't-sybils',
  seed: 5,
  file: { size: '2 MiB' },
  settings: { blockSize: 65536 },
  groups: [
    { name: 'seed', count: 1, seed: true, upload: '512 KiB/s', download: '4 MiB/s' },
    { name: 'sharers', count: 6, upload: '128 KiB/s', download: '4 MiB/s' },
    {
      name: 'sybils',
      count: 3,
      upload: '128 KiB/s',
      download: '4 MiB/s',
      strategy: 'free-rider',
      attacker: true,
    },
  ],
};

const group = (r: { groups: GroupResult[] }, name: string): GroupResult => {
  const g = r.groups.find((x) => x.name === name);
  if (!g) throw new Error(`no group ${name}`);
  return g;
};
const net = (g: GroupResult): bigint => (parseBtt(g.bttPaid) - parseBtt(g.bttEarned)) / BigInt(g.count);
const signed = (s: string): bigint => (s.startsWith('-') ? -parseBtt(s.slice(1)) : parseBtt(s));

/** The gain must be exactly what the two runs' group results say. */
function checkGain(a: AttackResult, name: string): void {
  const gain = a.gains.find((g) => g.group === name);
  expect(gain).toBeDefined();
  if (!gain) return;
  const ref = a.honest[a.gains.indexOf(gain)];
  expect(ref).toBeDefined();
  if (!ref) return;
  const att = group(a.result, name);
  const hon = group(ref, name);
  expect(gain.attacker.meanSeconds).toBe(att.meanDownloadSeconds);
  expect(gain.honest.meanSeconds).toBe(hon.meanDownloadSeconds);
  expect(gain.attacker.count).toBe(att.count);
  const h = hon.meanDownloadSeconds as number;
  const m = att.meanDownloadSeconds as number;
  expect(gain.gainSeconds).toBeCloseTo(h - m, 3);
  expect(gain.gainShare).toBeCloseTo((h - m) / h, 3);
  expect(signed(gain.gainBtt)).toBe(net(hon) - net(att));
  expect(gain.attacker.netPaidPerPeer).toBe(formatBtt(net(att)));
  for (const [other, d] of Object.entries(gain.othersSlowerSeconds)) {
    const x = group(a.result, other).meanDownloadSeconds as number;
    const y = group(ref, other).meanDownloadSeconds as number;
    expect(d).toBeCloseTo(x - y, 3);
  }
}

describe('attack scenarios', () => {
  it('validates attack fields', () => {
    const bad = (patch: object) => {
      const s = paying('non-payment');
      return () =>
        normalizeScenario({
          ...s,
          groups: s.groups.map((g) => (g.name === 'cheats' ? { ...g, ...patch } : g)),
        });
    };
    expect(bad({ attack: 'teleport' })).toThrow(/attack/);
    expect(bad({ strategy: 'tit-for-tat', budget: undefined })).toThrow(/auction or propshare/);
    expect(bad({ attack: 'shill', bid: '1' })).toThrow(/shillFor/);
    expect(bad({ attack: 'shill', bid: '1', shillFor: 'nobody' })).toThrow(/no group/);
    expect(bad({ fundedBids: 'yes' })).toThrow(/fundedBids/);
    expect(bad({ grantTimeoutMs: -1 })).toThrow(/grantTimeoutMs/);
    const tuned = (patch: object) =>
      normalizeScenario({
        ...paying('non-payment'),
        groups: paying('non-payment').groups.map((g) => (g.name === 'cheats' ? { ...g, ...patch } : g)),
      }).groups[2];
    expect(tuned({ fundedBids: false, grantTimeoutMs: 0 })).toMatchObject({
      fundedBids: false,
      grantTimeoutMs: 0,
    });
    const ok = normalizeScenario(paying('non-payment')).groups[2];
    expect(ok?.attack).toBe('non-payment');
    expect(ok?.attacker).toBe(true);
    expect(normalizeScenario(paying('non-payment')).groups[1]?.attacker).toBe(false);
  });

  it('makes a group honest and switches a defense off', () => {
    const h = honestVariant(sybils, 'sybils');
    expect(h.groups[2]).toMatchObject({ name: 'sybils', strategy: 'tit-for-tat' });
    expect(h.groups[2]).not.toHaveProperty('attacker');
    const hp = honestVariant(paying('non-payment'), 'cheats');
    expect(hp.groups[2]).not.toHaveProperty('attack');
    expect(hp.groups[2]).toMatchObject({ strategy: 'auction', budget: '20' });
    expect(() => honestVariant(sybils, 'nobody')).toThrow(/no group/);
    const off = withDefense(paying('non-payment'), 'off');
    expect(off.groups[0]).toMatchObject({ creditBytes: 64 * 1024 * 1024 });
    expect(off.groups[1]).toEqual(paying('non-payment').groups[1]);
    expect(withDefense(sybils, 'default')).toBe(sybils);
    expect(() => withDefense(paying('non-payment'), 'on')).toThrow(/defense.on/);
    expect(() => withDefense(sybils, 'off')).toThrow(/defense.off/);
  });

  it('non-payment: the cheats pay nothing, the honest payers in their place do, and the gain is the difference', async () => {
    const a = await runAttack(paying('non-payment'));
    expect(a.gains).toHaveLength(1);
    expect(a.honest).toHaveLength(1);
    const cheats = group(a.result, 'cheats');
    expect(cheats).toMatchObject({ attack: 'non-payment', attacker: true, completed: 2, bttPaid: '0' });
    expect(cheats.downloaded).toBeGreaterThanOrEqual(2 * 2 * 1024 * 1024);
    const honest = group(a.honest[0] as NonNullable<(typeof a.honest)[0]>, 'cheats');
    expect(parseBtt(honest.bttPaid)).toBeGreaterThan(0n);
    expect(a.result.ledger?.invariantHolds).toBe(true);
    checkGain(a, 'cheats');
    expect(a.gains[0]?.attack).toBe('non-payment');
  });

  it('unfunded bids: vouchers stop at one base unit per channel', async () => {
    const a = await runAttack(paying('unfunded-bids'));
    const cheats = group(a.result, 'cheats');
    // At most one base unit per provider it opened a channel to (the seed and 5 leechers).
    expect(parseBtt(cheats.bttPaid)).toBeLessThanOrEqual(2n * 6n);
    checkGain(a, 'cheats');
  });

  it('forged vouchers: refused by the payee, so nothing is paid (not counted as paid) and nothing earned from them', async () => {
    const a = await runAttack(paying('forged-vouchers'));
    const cheats = group(a.result, 'cheats');
    expect(cheats).toMatchObject({ attack: 'forged-vouchers', completed: 2, bttPaid: '0' });
    const ref = a.honest[0] as NonNullable<(typeof a.honest)[0]>;
    expect(parseBtt(group(ref, 'cheats').bttPaid)).toBeGreaterThan(0n);
    expect(a.result.ledger?.invariantHolds).toBe(true);
    checkGain(a, 'cheats');
    // Alone with the seed, the forgers make it earn nothing at all; honest, they pay it.
    const alone = paying('forged-vouchers');
    const only = await runAttack({ ...alone, groups: alone.groups.filter((g) => g.name !== 'payers') });
    expect(group(only.result, 'seed').bttEarned).toBe('0');
    const honestSeed = group(only.honest[0] as NonNullable<(typeof only.honest)[0]>, 'seed');
    expect(parseBtt(honestSeed.bttEarned)).toBeGreaterThan(0n);
  });

  it('non-delivery: the fake providers upload nothing and earn nothing', async () => {
    const a = await runAttack(paying('non-delivery'));
    const cheats = group(a.result, 'cheats');
    expect(cheats.uploaded).toBe(0);
    expect(cheats.bttEarned).toBe('0');
    const honest = group(a.honest[0] as NonNullable<(typeof a.honest)[0]>, 'cheats');
    expect(honest.uploaded).toBeGreaterThan(0);
    checkGain(a, 'cheats');
  });

  it('sybil free-riders: measured against tit-for-tat peers in their place', async () => {
    const a = await runAttack(sybils);
    const s = group(a.result, 'sybils');
    expect(s).toMatchObject({ strategy: 'free-rider', attacker: true, uploaded: 0 });
    expect(a.gains[0]?.attack).toBe('free-rider');
    const ref = a.honest[0] as NonNullable<(typeof a.honest)[0]>;
    expect(group(ref, 'sybils')).toMatchObject({ strategy: 'tit-for-tat' });
    expect(group(ref, 'sybils').uploaded).toBeGreaterThan(0);
    checkGain(a, 'sybils');
    expect(Object.keys(a.gains[0]?.othersSlowerSeconds ?? {})).toEqual(['sharers']);
  });

  it('under-report: a peer that hides its pieces uploads nothing', async () => {
    const a = await runAttack({
      ...sybils,
      groups: sybils.groups.map((g) =>
        g.name === 'sybils' ? { ...g, strategy: 'tit-for-tat' as const, attack: 'under-report' as const } : g,
      ),
    });
    expect(group(a.result, 'sybils').uploaded).toBe(0);
    expect(group(a.honest[0] as NonNullable<(typeof a.honest)[0]>, 'sybils').uploaded).toBeGreaterThan(0);
    checkGain(a, 'sybils');
  });

  it('shill: the provider earns from a losing shill bid, and the coalition gain adds both sides', async () => {
    const a = await runAttack({
      name: 't-shill',
      seed: 3,
      file: { size: '2 MiB' },
      settings: { blockSize: 65536 },
      groups: [
        { name: 'seed', count: 1, seed: true, upload: '512 KiB/s', download: '4 MiB/s', strategy: 'auction' },
        {
          name: 'payers',
          count: 2,
          upload: '128 KiB/s',
          download: '4 MiB/s',
          strategy: 'auction',
          budget: '20',
        },
        { name: 'others', count: 4, upload: '128 KiB/s', download: '4 MiB/s' },
        {
          name: 'shills',
          count: 1,
          upload: '128 KiB/s',
          download: '4 MiB/s',
          strategy: 'auction',
          budget: '20',
          bid: '2',
          attack: 'shill',
          shillFor: 'seed',
          honest: { budget: '0' },
        },
      ],
    });
    const ref = a.honest[0] as NonNullable<(typeof a.honest)[0]>;
    const earned = parseBtt(group(a.result, 'seed').bttEarned);
    const earnedHonest = parseBtt(group(ref, 'seed').bttEarned);
    expect(earned).toBeGreaterThan(earnedHonest);
    const gain = a.gains[0];
    expect(gain?.beneficiary?.group).toBe('seed');
    expect(signed(gain?.beneficiary?.gainBttPerPeer ?? '')).toBe(earned - earnedHonest);
    expect(signed(gain?.beneficiary?.coalitionGainBtt ?? '')).toBe(
      earned - earnedHonest + signed(gain?.gainBtt ?? ''),
    );
    checkGain(a, 'shills');
  });

  it('bttkit swarm prints the gain, takes --defense and writes gains.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bttkit-attack-'));
    try {
      const file = join(dir, 'sybils.json');
      await writeFile(file, JSON.stringify(sybils));
      const lines: string[] = [];
      await swarmCommand(
        file,
        { out: join(dir, 'out') },
        (l) => lines.push(l),
        () => {},
      );
      expect(lines.some((l) => /^attacker sybils \(free-rider\): .* gain .* s/.test(l))).toBe(true);
      const gains = JSON.parse(await readFile(join(dir, 'out', 'gains.json'), 'utf8')) as {
        group: string;
        gainSeconds: number;
      }[];
      expect(gains.map((g) => g.group)).toEqual(['sybils']);
      const json: string[] = [];
      await swarmCommand(
        file,
        { json: true },
        (l) => json.push(l),
        () => {},
      );
      const parsed = JSON.parse(json[0] ?? '{}') as { gains?: { gainSeconds: number }[] };
      // The same seed gives the same gain.
      expect(parsed.gains?.[0]?.gainSeconds).toBe(gains[0]?.gainSeconds);
      await expect(
        swarmCommand(
          file,
          { defense: 'off' },
          () => {},
          () => {},
        ),
      ).rejects.toMatchObject({
        code: 'SIM_BAD_SCENARIO',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
