import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeState } from '../../src/ledger/codec.js';
import { FileStore, Ledger, LedgerError, LedgerState } from '../../src/ledger/index.js';
import { toHex } from '../../src/util/bytes.js';
import { expectSound } from './helpers.js';
import { intentAt, LEDGER_ID, prng, T0, World } from './world.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'crash-child.ts');
const KILLS = Number(process.env.LEDGER_CRASH_KILLS ?? 105);

interface RunLog {
  begun: Set<number>;
  acked: Set<number>;
  ready: boolean;
}

/** A readable form of a state, to show where two states differ. */
function describeState(s: LedgerState): unknown {
  const plain = (v: unknown): unknown =>
    JSON.parse(
      JSON.stringify(v, (_k, x) =>
        typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? toHex(x) : x,
      ),
    );
  const d = s.data;
  return plain({
    seq: d.seq,
    deposited: d.totalDeposits,
    withdrawn: d.totalWithdrawals,
    accounts: Object.fromEntries([...d.accounts].sort()),
    channels: Object.fromEntries([...d.channels].sort()),
    withdrawals: Object.fromEntries([...d.withdrawals].sort()),
    deposits: [...d.deposits.keys()].sort(),
    idempotency: Object.fromEntries([...d.idempotency].sort()),
  });
}

interface Child {
  /** Lets the preloaded child open the store and start; resolves with its log once it is killed. */
  run(): Promise<RunLog>;
}

/** Spawns a child that loads and warms up, then waits (for the store) until `run()` is called. */
function spawnChild(command: string[], dir: string, seed: number, rnd: () => number): Child {
  const child = spawn(process.execPath, [...command, dir, String(seed)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log: RunLog = { begun: new Set(), acked: new Set(), ready: false };
  let buf = '';
  let err = '';
  let timer: NodeJS.Timeout | undefined;
  const kill = () => child.kill('SIGKILL');
  const exit = new Promise<RunLog>((resolve, reject) => {
    child.on('error', reject);
    // 'close', not 'exit': only then has every line the child wrote been read.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${err.slice(0, 2000)}`));
      else resolve(log);
    });
  });
  exit.catch(() => undefined);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      const [tag, n] = line.split(' ');
      if (tag === 'READY' && !log.ready) {
        log.ready = true;
        if (!timer) timer = setTimeout(kill, 10 + Math.floor(rnd() * 190));
      } else if (tag === 'B') log.begun.add(Number(n));
      else if (tag === 'A') log.acked.add(Number(n));
    }
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return {
    run() {
      // Mostly kill while ops run; sometimes while the store opens and replays.
      if (rnd() < 0.15) timer = setTimeout(kill, Math.floor(rnd() * 40));
      child.stdin.write('go\n');
      return exit;
    },
  };
}

/**
 * The child runs as `node --import tsx crash-child.ts`. When esbuild (which tsx itself runs on) is
 * importable, the child is bundled once into plain JavaScript first: the same code, but each of the
 * 200+ restarts then skips tsx's start-up and transpiling, which is most of a restart's cost.
 */
async function childCommand(work: string): Promise<string[]> {
  try {
    const esbuild = await import('esbuild');
    const outfile = join(work, 'crash-child.mjs');
    await esbuild.build({
      entryPoints: [CHILD],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', CHILD];
  }
}

describe('crash safety: SIGKILL at random moments', () => {
  it(`every acknowledged op survives, no unbegun op appears, state equals the model (${KILLS} kills per seed)`, async () => {
    const seeds = [1, 2];
    const work = await mkdtemp(join(tmpdir(), 'bttkit-crash-bin-'));
    const command = await childCommand(work);
    let totalAcked = 0;
    let totalKills = 0;
    let tornRepairs = 0;
    let topups = 0;
    await Promise.all(
      seeds.map(async (seed) => {
        const dir = await mkdtemp(join(tmpdir(), `bttkit-crash-${seed}-`));
        const rnd = prng(seed * 7919);
        // The reference model: the same op sequence on a pure state machine.
        const model = new LedgerState();
        model.init(LEDGER_ID, T0);
        const modelWorld = new World();
        const modelApplied = new Set<number>();
        let modelNext = 0;
        const everBegun = new Set<number>();
        try {
          let next: Child = spawnChild(command, dir, seed, rnd);
          for (let k = 0; k < KILLS; k++) {
            const logPromise = next.run();
            // Preload the next child while this one runs and is checked.
            if (k + 1 < KILLS) next = spawnChild(command, dir, seed, rnd);
            const log = await logPromise;
            totalKills++;
            for (const i of log.begun) everBegun.add(i);
            totalAcked += log.acked.size;

            const store = new FileStore(dir);
            const ledger = await Ledger.open({ store, ledgerId: LEDGER_ID, wallClock: { now: () => T0 } });
            if ((store.recovery?.truncatedBytes ?? 0) > 0) tornRepairs++;
            const state = ledger.state;
            expectSound(state);
            const present = new Set<number>();
            for (const scope of state.data.idempotency.keys()) {
              const m = /\nop-(\d+)$/.exec(scope);
              if (m) present.add(Number(m[1]));
            }
            for (const i of log.acked) expect(present.has(i), `acknowledged op ${i} lost`).toBe(true);
            for (const i of present) expect(everBegun.has(i), `op ${i} present but never begun`).toBe(true);
            const last = Math.max(-1, ...present);
            // Advance the model to the last present op; its applied set must be exactly `present`.
            while (modelNext <= last) {
              const i = modelNext++;
              modelWorld.now = T0 + i * 400;
              try {
                model.execute(modelWorld.command(model, intentAt(seed, i), i), modelWorld.now);
                modelApplied.add(i);
              } catch (err) {
                if (!(err instanceof LedgerError)) throw err;
              }
            }
            expect([...present].sort((a, b) => a - b)).toEqual([...modelApplied].sort((a, b) => a - b));
            if (toHex(encodeState(state.data)) !== toHex(encodeState(model.data))) {
              expect(describeState(state), `recovered state differs from the model after kill ${k}`).toEqual(
                describeState(model),
              );
            }
            await ledger.close();
          }
          // The op mix must include applied top-ups, or the kills say nothing about them.
          const seedTopups = [...model.data.idempotency.values()].filter(
            (r) => r.result.type === 'topup',
          ).length;
          expect(seedTopups, `seed ${seed}: no top-up applied`).toBeGreaterThan(0);
          topups += seedTopups;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
    );
    await rm(work, { recursive: true, force: true });
    console.log(
      `crash (${command.length === 1 ? 'bundled child' : 'tsx child'}): ${totalKills} kills, ${totalAcked} acknowledged ops checked (${topups} top-ups applied), ${tornRepairs} torn tails repaired`,
    );
    expect(totalKills).toBeGreaterThanOrEqual(200);
    expect(totalAcked).toBeGreaterThan(totalKills);
  }, 170_000);
});
