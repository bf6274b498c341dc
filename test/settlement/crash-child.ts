/**
 * Crash-test child: `node --import tsx crash-child.ts <dir> <nodeUrl> <hotKeyHex> <withdrawalId> <crashAt>`.
 * Opens the file ledger and the settlement journal in <dir>, prints `READY`, pays the withdrawal,
 * and SIGKILLs itself when the Settler passes phase <crashAt> (`none`: never). Prints `DONE <json>`.
 */
import { join } from 'node:path';
import { FileStore, Ledger, TronKey } from '../../src/ledger/index.js';
import { BTT, SettlementJournal, Settler, TronSettlement } from '../../src/settlement/index.js';

const [dir, url, keyHex, withdrawalId, crashAt] = process.argv.slice(2);
if (!dir || !url || !keyHex || !withdrawalId || !crashAt)
  throw new Error('usage: crash-child <dir> <url> <key> <id> <crashAt>');
const ledger = await Ledger.open({ store: new FileStore(join(dir, 'ledger')), ledgerId: 'crash-ledger' });
const journal = await SettlementJournal.open(join(dir, 'settlement'));
const adapter = await TronSettlement.connect({
  key: TronKey.fromPrivateKey(keyHex),
  token: BTT,
  fullNode: url,
  pollMs: 20,
});
const settler = new Settler({
  ledger,
  adapter,
  journal,
  pollMs: 20,
  onPhase: (phase, id, txid) => {
    process.stdout.write(`PHASE ${phase} ${id} ${txid}\n`);
    if (phase === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
// The real clock's timers are unref'd: hold the process open while the Settler polls.
const keepAlive = setInterval(() => undefined, 1000);
process.stdout.write('READY\n');
const out = await settler.payWithdrawal(withdrawalId, { timeoutMs: 60_000 });
process.stdout.write(`DONE ${JSON.stringify(out)}\n`);
await journal.close();
await ledger.close();
clearInterval(keepAlive);
