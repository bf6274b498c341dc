/**
 * BTTC crash-test child:
 * `node --import tsx crash-child.ts <dir> <rpcUrl> <hotKeyHex> <withdrawalIds,…|-> <crashAt> <token: native|0x…>`.
 * Opens the file ledger and the settlement journal in <dir>, connects a BttcSettlement (2
 * confirmations), prints `READY`, pays the withdrawals (all at once: their transactions take nonces
 * back to back) after resuming every unsettled one (`recover`), and SIGKILLs itself when the Settler passes phase <crashAt> (`none`: never).
 * Prints `DONE <json>`.
 */
import { join } from 'node:path';
import { FileStore, Ledger } from '../../../src/ledger/index.js';
import {
  BTT_NATIVE,
  BTTC_LEDGER_ADDRESSES,
  BTTC_MAINNET,
  BttcSettlement,
  erc20Token,
  SettlementJournal,
  Settler,
} from '../../../src/settlement/index.js';

const [dir, url, keyHex, ids, crashAt, tokenArg] = process.argv.slice(2);
if (!dir || !url || !keyHex || !ids || !crashAt || !tokenArg)
  throw new Error('usage: crash-child <dir> <url> <key> <ids> <crashAt> <token>');
const ledger = await Ledger.open({ store: new FileStore(join(dir, 'ledger')), ledgerId: 'crash-ledger' });
const journal = await SettlementJournal.open(join(dir, 'settlement'));
const adapter = await BttcSettlement.connect({
  privateKey: keyHex,
  rpcUrl: url,
  chain: BTTC_MAINNET,
  token: tokenArg === 'native' ? BTT_NATIVE : erc20Token({ address: tokenArg, decimals: 18, symbol: 'TTK' }),
  confirmations: 2,
  pollMs: 20,
  depositStartBlock: 0,
});
const settler = new Settler({
  ledger,
  adapter,
  journal,
  addresses: BTTC_LEDGER_ADDRESSES,
  pollMs: 20,
  onPhase: (phase, id, txid) => {
    process.stdout.write(`PHASE ${phase} ${id} ${txid}\n`);
    if (phase === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
// The real clock's timers are unref'd: hold the process open while the Settler polls.
const keepAlive = setInterval(() => undefined, 1000);
process.stdout.write('READY\n');
const recovered = await settler.recover({ timeoutMs: 60_000 });
const paid = await Promise.all(
  (ids === '-' ? [] : ids.split(',')).map((id) => settler.payWithdrawal(id, { timeoutMs: 60_000 })),
);
process.stdout.write(`DONE ${JSON.stringify({ recovered, paid })}\n`);
await journal.close();
await ledger.close();
clearInterval(keepAlive);
