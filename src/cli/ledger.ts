import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileStore, Ledger, LedgerService, PgStore, TronKey } from '../ledger/index.js';
import { writeFileDurably } from '../util/journal.js';

const USAGE = `Usage:
  bttkit ledger serve [--port N] [--data DIR] [--pg URL] [--host H] [--ledger-id ID] [--operator ADDRESS]...

Runs the off-chain ledger as an HTTP service (default 127.0.0.1:7070, data in ./bttkit-ledger)
until SIGINT or SIGTERM. With --pg postgres://user@host:port/db the journal is in PostgreSQL,
which several instances may share (DIR then holds only the operator key). Operators may credit deposits and settle withdrawals; without
--operator, a key is created in DIR/operator.key and its address is the operator.
`;

/**
 * The operator key in `dir/operator.key`, made on the first start. It is written atomically
 * (temporary file, fsync, rename, directory fsync), so a start killed while writing it leaves no
 * key or the whole key. An empty file — what the first start of older versions left when killed
 * between creating and writing it, before the key was ever used — is replaced by a new key.
 */
export async function operatorKey(dir: string): Promise<TronKey> {
  const path = join(dir, 'operator.key');
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  if (text !== undefined && text.trim() !== '') return TronKey.fromPrivateKey(text.trim());
  if (text !== undefined)
    process.stderr.write(
      `bttkit ledger: ${path} was empty (a first start killed while writing it): a new key is made\n`,
    );
  const key = TronKey.generate();
  await writeFileDurably(path, `${key.exportPrivateKey()}\n`, 0o600);
  await chmod(path, 0o600);
  return key;
}

/**
 * `bttkit ledger serve`: the ledger service on a file journal. Returns the exit code: 0 after a
 * clean shutdown on SIGINT/SIGTERM, 2 on a usage error.
 */
export async function ledgerCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'serve') {
    process.stderr.write(`bttkit ledger: unknown subcommand ${sub}\n${USAGE}`);
    return 2;
  }
  let values: {
    port?: string;
    data?: string;
    pg?: string;
    host?: string;
    'ledger-id'?: string;
    operator?: string[];
  };
  try {
    ({ values } = parseArgs({
      args: rest,
      allowPositionals: false,
      options: {
        port: { type: 'string', short: 'p' },
        data: { type: 'string', short: 'd' },
        pg: { type: 'string' },
        host: { type: 'string' },
        'ledger-id': { type: 'string' },
        operator: { type: 'string', multiple: true },
      },
    }));
  } catch (err) {
    process.stderr.write(`bttkit ledger: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const port = Number(values.port ?? '7070');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`bttkit ledger: bad port ${values.port}\n${USAGE}`);
    return 2;
  }
  const dir = values.data ?? 'bttkit-ledger';
  const host = values.host ?? '127.0.0.1';
  await mkdir(dir, { recursive: true });
  const operators = values.operator ?? [(await operatorKey(dir)).address];
  const ledger = await Ledger.open({
    store: values.pg !== undefined ? new PgStore({ connectionString: values.pg }) : new FileStore(dir),
    ...(values['ledger-id'] !== undefined ? { ledgerId: values['ledger-id'] } : {}),
  });
  let service: LedgerService;
  let url: string;
  try {
    service = new LedgerService(ledger, { operators });
    url = await service.listen(port, host);
  } catch (err) {
    await ledger.close();
    throw err;
  }
  process.stdout.write(
    `ledger ${ledger.ledgerId} listening on ${url} (${values.pg !== undefined ? 'PostgreSQL' : `data ${dir}`}, operators ${operators.join(', ')})\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await service.close();
  await ledger.close();
  process.stdout.write('ledger stopped\n');
  return 0;
}
