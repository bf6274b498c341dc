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

function runAndKill(dir: string, seed: number, rnd: () => number): Promise<RunLog> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: RunLog = { begun: new Set(), acked: new Set(), ready: false };
    let buf = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => child.kill('SIGKILL');
    // Mostly kill while ops are running; sometimes during start-up and replay.
    if (rnd() < 0.15) timer = setTimeout(kill, Math.floor(rnd() * 250));
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
          if (!timer) timer = setTimeout(kill, 10 + Math.floor(rnd() * 150));
        } else if (tag === 'B') log.begun.add(Number(n));
        else if (tag === 'A') log.acked.add(Number(n));
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${err.slice(0, 2000)}`));
      else resolve(log);
    });
  });
}

describe('crash safety: SIGKILL at random moments', () => {
  it(`every acknowledged op survives, no unbegun op appears, state equals the model (${KILLS} kills per seed)`, async () => {
    const seeds = [1, 2];
    let totalAcked = 0;
    let totalKills = 0;
    let tornRepairs = 0;
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
          for (let k = 0; k < KILLS; k++) {
            const log = await runAndKill(dir, seed, rnd);
            totalKills++;
            for (const i of log.begun) everBegun.add(i);
            totalAcked += log.acked.size;

            const store = new FileStore(dir);
            const ledger = await Ledger.open({ store, ledgerId: LEDGER_ID, clock: { now: () => T0 } });
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
            expect(toHex(encodeState(state.data))).toBe(toHex(encodeState(model.data)));
            await ledger.close();
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
    );
    console.log(
      `crash: ${totalKills} kills, ${totalAcked} acknowledged ops checked, ${tornRepairs} torn tails repaired`,
    );
    expect(totalKills).toBeGreaterThanOrEqual(200);
    expect(totalAcked).toBeGreaterThan(totalKills);
  }, 170_000);
});
