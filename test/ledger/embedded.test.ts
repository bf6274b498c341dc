import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, Ledger, type LedgerStore, MemoryStore } from '../../src/ledger/index.js';
import { ledgerApiSuite } from './api-suite.js';
import { LEDGER_ID, T0 } from './world.js';

async function embedded(store: LedgerStore, cleanup: () => Promise<void> = async () => {}) {
  let now = T0;
  const ledger = await Ledger.open({ store, ledgerId: LEDGER_ID, wallClock: { now: () => now } });
  return {
    ledgerId: ledger.ledgerId,
    as: () => ledger,
    operator: ledger,
    state: () => ledger.state,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    close: async () => {
      await ledger.close();
      await cleanup();
    },
  };
}

ledgerApiSuite('embedded Ledger (memory store)', () => embedded(new MemoryStore()));

ledgerApiSuite('embedded Ledger (file store)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bttkit-embedded-'));
  return embedded(new FileStore(dir), () => rm(dir, { recursive: true, force: true }));
});
