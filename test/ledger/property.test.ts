import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeState } from '../../src/ledger/codec.js';
import { Ledger, LedgerError, type LedgerResult, LedgerState, MemoryStore } from '../../src/ledger/index.js';
import { toHex } from '../../src/util/bytes.js';
import { expectSound } from './helpers.js';
import { type Intent, LEDGER_ID, T0, World } from './world.js';

const intentArb: fc.Arbitrary<Intent> = fc.record({
  kind: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.constant(1) },
    { weight: 4, arbitrary: fc.constant(2) },
    { weight: 1, arbitrary: fc.constant(3) },
    { weight: 1, arbitrary: fc.constant(4) },
    { weight: 1, arbitrary: fc.constant(5) },
    { weight: 3, arbitrary: fc.constant(6) },
  ),
  a: fc.nat(4),
  b: fc.nat(4),
  amount: fc.oneof(fc.bigInt({ min: 1n, max: 2000n }), fc.bigInt({ min: 1n, max: 2n ** 200n })),
  flag: fc.nat(63),
  dt: fc.nat(1500),
});

// A repeat step re-runs an earlier successful command (chosen by index).
const stepArb = fc.oneof(
  { weight: 5, arbitrary: intentArb.map((i) => ({ intent: i, repeat: -1 })) },
  { weight: 1, arbitrary: fc.nat(10_000).map((n) => ({ intent: undefined, repeat: n })) },
);

const fingerprint = (s: LedgerState) => toHex(encodeState(s.data));

describe('ledger state machine: properties over random operation sequences', () => {
  it('keeps every invariant after every step; repeats are no-ops returning the first result', () => {
    let applied = 0;
    let refused = 0;
    let repeats = 0;
    // Top-ups by outcome (applied, or the refusal's code): the generator must reach each rule.
    const topups = new Map<string, number>();
    const tally = (k: string) => topups.set(k, (topups.get(k) ?? 0) + 1);
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80, size: 'max' }), (steps) => {
        const state = new LedgerState();
        state.init(LEDGER_ID, T0);
        const world = new World();
        const done: { command: ReturnType<World['command']>; result: LedgerResult }[] = [];
        steps.forEach((step, i) => {
          if (step.intent === undefined) {
            const prior = done[step.repeat % Math.max(1, done.length)];
            if (!prior) return;
            const before = fingerprint(state);
            const ex = state.execute(prior.command, world.now);
            expect(ex.kind).toBe('repeat');
            expect(ex.result).toEqual(prior.result);
            expect(fingerprint(state)).toBe(before);
            repeats++;
          } else {
            world.now += step.intent.dt;
            const command = world.command(state, step.intent, i);
            const before = fingerprint(state);
            try {
              const ex = state.execute(command, world.now);
              expect(ex.kind).toBe('applied');
              done.push({ command, result: ex.result });
              applied++;
              if (command.type === 'topup') tally('applied');
            } catch (err) {
              expect(err).toBeInstanceOf(LedgerError);
              if (command.type === 'topup') tally((err as LedgerError).code);
              // a refused command leaves no trace
              expect(fingerprint(state)).toBe(before);
              refused++;
            }
          }
          expectSound(state);
        });
      }),
      { numRuns: 100 },
    );
    console.log(
      `property: ${applied} applied, ${refused} refused, ${repeats} repeats; top-ups ${JSON.stringify(Object.fromEntries(topups))}`,
    );
    // The generator must exercise both paths, or this property proves little.
    expect(applied).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(200);
    expect(repeats).toBeGreaterThan(100);
    expect(topups.get('applied') ?? 0).toBeGreaterThan(15);
    for (const code of [
      'LEDGER_NOT_YOURS',
      'LEDGER_CHANNEL_CLOSED',
      'LEDGER_CHANNEL_EXPIRED',
      'LEDGER_INSUFFICIENT_FUNDS',
    ])
      expect(topups.get(code) ?? 0, code).toBeGreaterThan(0);
  });

  it('replaying the journal (with and without a snapshot) rebuilds the identical state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(intentArb, { minLength: 1, maxLength: 50 }),
        fc.nat(50),
        async (intents, cut) => {
          let now = T0;
          const store = new MemoryStore();
          const ledger = await Ledger.open({
            store,
            ledgerId: LEDGER_ID,
            wallClock: { now: () => now },
            snapshotEvery: 0,
          });
          const world = new World();
          for (const [i, intent] of intents.entries()) {
            now += intent.dt;
            world.now = now;
            if (i === cut) await ledger.compact();
            await ledger.execute(world.command(ledger.state, intent, i)).catch((e: unknown) => {
              if (!(e instanceof LedgerError)) throw e;
            });
          }
          const live = fingerprint(ledger.state);
          await ledger.close();
          const reopened = await Ledger.open({ store, ledgerId: LEDGER_ID, wallClock: { now: () => now } });
          expect(fingerprint(reopened.state)).toBe(live);
          expectSound(reopened.state);
          await reopened.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
