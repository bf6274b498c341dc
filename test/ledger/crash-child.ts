/**
 * Crash-test child: `node --import tsx crash-child.ts <dir> <seed>`. Opens the file-store ledger
 * in <dir> once it reads a line on stdin, finds where the deterministic op sequence of <seed> stopped, and runs it onward in
 * windows of concurrent ops, printing `B <i>` before op i starts, `A <i>` once it is acknowledged
 * (durable), `R <i>` if refused. Runs until killed (the parent sends SIGKILL).
 */
import { writeSync } from 'node:fs';
import { FileStore, Ledger, LedgerError, LedgerState } from '../../src/ledger/index.js';
import { intentAt, LEDGER_ID, T0, World } from './world.js';

const [dir, seedText] = process.argv.slice(2);
if (!dir || !seedText) throw new Error('usage: crash-child <dir> <seed>');
const seed = Number(seedText);
const STEP = 400;
let now = T0;
// Synchronous writes: a line must be in the pipe before the op it announces starts. With
// `process.stdout.write`, a pipe the parent has not drained yet (a loaded machine) buffers the
// line in this process, and a SIGKILL then loses it ("present but never begun").
const out = (line: string): void => {
  const bytes = Buffer.from(`${line}\n`);
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(1, bytes, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
};

// Warm up the signature code (noble's first use builds tables) so ops run at speed once READY.
{
  const warm = new World();
  const probe = new LedgerState();
  probe.init(LEDGER_ID, T0);
  warm.now = T0;
  probe.execute(warm.command(probe, { kind: 0, a: 0, b: 1, amount: 10n, flag: 0, dt: 0 }, 0), T0);
  probe.execute(warm.command(probe, { kind: 1, a: 0, b: 1, amount: 5n, flag: 0, dt: 0 }, 1), T0);
  probe.execute(warm.command(probe, { kind: 2, a: 0, b: 1, amount: 1n, flag: 0, dt: 0 }, 2), T0);
}
// Loaded and warmed up, then wait for the parent's go-ahead (so start-up overlaps the previous run).
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const ledger = await Ledger.open({
  store: new FileStore(dir),
  ledgerId: LEDGER_ID,
  wallClock: { now: () => now },
  snapshotEvery: 40,
});
const world = new World();
world.adopt(ledger.state);
let next = 0;
for (const scope of ledger.state.data.idempotency.keys()) {
  const m = /\nop-(\d+)$/.exec(scope);
  if (m) next = Math.max(next, Number(m[1]) + 1);
}
out(`READY ${next}`);

for (;;) {
  const window: Promise<void>[] = [];
  const width = 1 + (next % 7);
  for (let k = 0; k < width; k++) {
    const i = next++;
    now = T0 + i * STEP;
    world.now = now;
    const command = world.command(ledger.state, intentAt(seed, i), i);
    out(`B ${i}`);
    window.push(
      ledger.execute(command).then(
        () => out(`A ${i}`),
        (err: unknown) => {
          if (!(err instanceof LedgerError) || err.code === 'LEDGER_JOURNAL_FAILED') throw err;
          out(`R ${i}`);
        },
      ),
    );
  }
  await Promise.all(window);
}
