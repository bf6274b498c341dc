import { Ledger, MemoryStore } from '../../src/ledger/index.js';
import { ledgerApiSuite } from './api-suite.js';
import { LEDGER_ID, T0 } from './world.js';

ledgerApiSuite('embedded Ledger (memory store)', async () => {
  let now = T0;
  const ledger = await Ledger.open({
    store: new MemoryStore(),
    ledgerId: LEDGER_ID,
    clock: { now: () => now },
  });
  return {
    ledgerId: ledger.ledgerId,
    as: () => ledger,
    operator: ledger,
    state: () => ledger.state,
    advance: (ms) => {
      now += ms;
    },
    now: () => now,
    close: () => ledger.close(),
  };
});
