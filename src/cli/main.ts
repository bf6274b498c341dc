import { parseArgs } from 'node:util';
import { parsePeerAddress } from '../metainfo/magnet.js';
import { BttkitError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { createCommand } from './create.js';
import { CliError } from './errors.js';
import { infoCommand } from './info.js';
import { downloadCommand, seedCommand, type TransferIo } from './transfer.js';

const USAGE = `bttkit ${VERSION} — BitTorrent with BTT incentives

Usage:
  bttkit info <file.torrent | magnet> [--json]
  bttkit create <path> [-o out.torrent] [--tracker URL]... [--piece-length N] [--private]
                [--comment TEXT] [--web-seed URL]... [--json]
  bttkit download <magnet | file.torrent> -o <dir> [--peer host:port]... [--port N] [--json]
                [--tracker URL]... [--dht | --no-dht] [--dht-bootstrap host:port]...
  bttkit seed <file.torrent> <path> [--peer host:port]... [--port N] [--json] [--tracker URL]...
                [--no-dht] [--dht-bootstrap host:port]...
  bttkit serve <magnet | file.torrent> -o <dir> [--http-port N] [--http-host H] [--peer host:port]...
                [--port N] [--tracker URL]... [--no-dht] [--dht-bootstrap host:port]...
                                   download and serve the files over HTTP meanwhile (players, <video>)
  bttkit ledger serve [--port N] [--data DIR] [--host H] [--ledger-id ID] [--operator ADDRESS]...
  bttkit demo                      a local swarm with BTT payments, ledger and local chain, in-process
  bttkit swarm <scenario.json> [--out DIR] [--seed N] [--json]
                                   the swarm lab: simulate a scenario on virtual time (docs/sim.md)
  bttkit --version | --help
`;

/** A bad command line: printed with the usage text, exit status 2. */
function usage(message: string): CliError {
  return new CliError('CLI_USAGE', message);
}

function parseSize(text: string): number {
  const m = /^(\d+)\s*([kKmM](?:i?[bB])?)?$/.exec(text.trim());
  if (!m) throw usage(`bad size: ${text}`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

async function run(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    out(VERSION);
    return 0;
  }
  if (command === 'info') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw usage('info takes one <file.torrent | magnet>');
    await infoCommand(positionals[0] as string, values.json ?? false, out);
    return 0;
  }
  if (command === 'download' || command === 'seed') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        peer: { type: 'string', multiple: true },
        port: { type: 'string' },
        json: { type: 'boolean' },
        dht: { type: 'boolean' },
        'no-dht': { type: 'boolean' },
        'dht-bootstrap': { type: 'string', multiple: true },
        tracker: { type: 'string', multiple: true },
      },
    });
    for (const b of values['dht-bootstrap'] ?? []) parsePeerAddress(b);
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
      throw usage(`bad port: ${values.port}`);
    }
    const tty = process.stderr.isTTY === true && !values.json;
    const io: TransferIo = {
      out,
      status: (text) => {
        if (tty) process.stderr.write(text === undefined ? '\r\x1b[K' : `\r${text}\x1b[K`);
      },
      stopSignal: new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      }),
    };
    const common = {
      peers: values.peer ?? [],
      json: values.json ?? false,
      dht: !(values['no-dht'] ?? false),
      dhtBootstrap: values['dht-bootstrap'] ?? [],
      trackers: values.tracker ?? [],
      ...(port !== undefined ? { port } : {}),
    };
    if (command === 'download') {
      if (positionals.length !== 1) throw usage('download takes one <magnet | file.torrent>');
      if (values.output === undefined) throw usage('download needs -o <dir>');
      return downloadCommand(positionals[0] as string, { ...common, output: values.output }, io);
    }
    if (positionals.length !== 2) throw usage('seed takes <file.torrent> <path>');
    return seedCommand(positionals[0] as string, positionals[1] as string, common, io);
  }
  if (command === 'serve') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        peer: { type: 'string', multiple: true },
        port: { type: 'string' },
        'http-port': { type: 'string' },
        'http-host': { type: 'string' },
        dht: { type: 'boolean' },
        'no-dht': { type: 'boolean' },
        'dht-bootstrap': { type: 'string', multiple: true },
        tracker: { type: 'string', multiple: true },
      },
    });
    if (positionals.length !== 1) throw usage('serve takes one <magnet | file.torrent>');
    if (values.output === undefined) throw usage('serve needs -o <dir>');
    for (const b of values['dht-bootstrap'] ?? []) parsePeerAddress(b);
    const portOf = (text: string | undefined): number | undefined => {
      if (text === undefined) return undefined;
      const n = Number(text);
      if (!(text.trim() !== '' && Number.isInteger(n) && n >= 0 && n < 65536))
        throw usage(`bad port: ${text}`);
      return n;
    };
    const port = portOf(values.port);
    const httpPort = portOf(values['http-port']);
    const tty = process.stderr.isTTY === true;
    const { serveCommand } = await import('./serve.js');
    return serveCommand(
      positionals[0] as string,
      {
        output: values.output,
        peers: values.peer ?? [],
        trackers: values.tracker ?? [],
        dht: !(values['no-dht'] ?? false),
        dhtBootstrap: values['dht-bootstrap'] ?? [],
        ...(port !== undefined ? { port } : {}),
        ...(httpPort !== undefined ? { httpPort } : {}),
        ...(values['http-host'] !== undefined ? { httpHost: values['http-host'] } : {}),
      },
      {
        out,
        status: (text) => {
          if (tty) process.stderr.write(text === undefined ? '\r\x1b[K' : `\r${text}\x1b[K`);
        },
        stopSignal: new Promise<string>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        }),
      },
    );
  }
  if (command === 'swarm') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { out: { type: 'string', short: 'o' }, seed: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw usage('swarm takes one <scenario.json>');
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32))
      throw usage(`bad seed: ${values.seed}`);
    const tty = process.stderr.isTTY === true && !values.json;
    const { swarmCommand } = await import('./swarm.js');
    const code = await swarmCommand(
      positionals[0] as string,
      {
        ...(values.out !== undefined ? { out: values.out } : {}),
        ...(seed !== undefined ? { seed } : {}),
        json: values.json ?? false,
      },
      out,
      (text) => {
        if (tty) process.stderr.write(`\r${text}\x1b[K`);
      },
    );
    if (tty) process.stderr.write('\r\x1b[K');
    return code;
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo.js');
    const ok = await runDemo({ tty: process.stdout.isTTY === true });
    return ok ? 0 : 1;
  }
  if (command === 'create') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        tracker: { type: 'string', short: 't', multiple: true },
        'piece-length': { type: 'string', short: 'l' },
        private: { type: 'boolean', short: 'p' },
        comment: { type: 'string', short: 'c' },
        'web-seed': { type: 'string', short: 'w', multiple: true },
        json: { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) throw usage('create takes one <path>');
    const tty = process.stderr.isTTY && !values.json;
    await createCommand(
      positionals[0] as string,
      {
        trackers: values.tracker ?? [],
        webSeeds: values['web-seed'] ?? [],
        private: values.private ?? false,
        json: values.json ?? false,
        ...(values.output !== undefined ? { output: values.output } : {}),
        ...(values.comment !== undefined ? { comment: values.comment } : {}),
        ...(values['piece-length'] !== undefined ? { pieceLength: parseSize(values['piece-length']) } : {}),
      },
      out,
      (text) => {
        if (tty) process.stderr.write(text === undefined ? '\r\x1b[K' : `\r${text}\x1b[K`);
      },
    );
    return 0;
  }
  if (command === 'ledger') return (await import('./ledger.js')).ledgerCommand(rest);
  throw usage(`unknown command: ${command}`);
}

function oneLine(err: unknown): string {
  if (err instanceof BttkitError) return `bttkit: ${err.message} [${err.code}]`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `bttkit: ${err.message}${typeof code === 'string' ? ` [${code}]` : ''}`;
  }
  return `bttkit: ${String(err)}`;
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (
      (err instanceof CliError && err.code === 'CLI_USAGE') ||
      (err instanceof Error && (err as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    ) {
      process.stderr.write(`bttkit: ${err.message}\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${oneLine(err).replace(/\n/g, ' ')}\n`);
    process.exitCode = 1;
  },
);
