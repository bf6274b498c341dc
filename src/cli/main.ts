import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { parsePeerAddress } from '../metainfo/magnet.js';
import { BttkitError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { createCommand } from './create.js';
import { CliError } from './errors.js';
import { infoCommand } from './info.js';
import { PLAYERS, type Player } from './serve.js';
import { SPEED_PEER_HELP } from './speed-peer-help.js';
import { downloadCommand, type LinkOptions, seedCommand, type TransferIo } from './transfer.js';

const USAGE = `bttkit ${VERSION} — BitTorrent with BTT incentives

Usage:
  bttkit info <file.torrent | magnet> [--json]
  bttkit create <path> [-o out.torrent] [--tracker URL]... [--piece-length N] [--private]
                [--comment TEXT] [--web-seed URL]... [--v2 | --hybrid] [--json]
  bttkit download <magnet | file.torrent> -o <dir> [--peer host:port]... [--port N] [--json]
                [--tracker URL]... [--dht | --no-dht] [--dht-bootstrap host:port]...
                [--select FILES]... [--keep-seeding] [--timeout SECONDS] [--play mpv|vlc]
                [--download-limit RATE] [--upload-limit RATE] [--web-seed URL]...
  bttkit seed [file.torrent] <path> [--peer host:port]... [--port N] [--json] [--tracker URL]...
                [--no-dht] [--dht-bootstrap host:port]... [-o out.torrent]
  bttkit serve <magnet | file.torrent> -o <dir> [--http-port N] [--http-host H] [--peer host:port]...
                [--port N] [--tracker URL]... [--no-dht] [--dht-bootstrap host:port]...
                                   download and serve the files over HTTP meanwhile (players, <video>)
  bttkit ledger serve [--port N] [--data DIR] [--host H] [--ledger-id ID] [--operator ADDRESS]...
  bttkit demo [--chain local | bttc] [--size-mib N]
                                   a local swarm with BTT payments, ledger and local chain, in-process;
                                   --chain bttc: payment channels on a local EVM node (needs hardhat)
  bttkit swarm <scenario.json> [--out DIR] [--seed N] [--defense on|off] [--json]
                                   the swarm lab: simulate a scenario on virtual time (docs/sim.md)
  bttkit speed-peer --role payer|payee [--peer host:port | --port N] [--scenario NAME|all]
                                   the btt_speed reference peer and conformance scenarios
  bttkit --version | --help | <command> --help
`;

const DISCOVERY_HELP = `  --peer host:port       connect to this peer (repeatable; IPv6 as [2001:db8::1]:6881)
  --port N               listen for peers on N (default: any free port)
  --tracker URL          another tracker, its own tier (repeatable)
  --dht | --no-dht       use the mainline DHT (default) or not
  --dht-bootstrap H:P    DHT bootstrap node instead of the public routers (repeatable)
  --encryption MODE      forced (RC4 only), enabled (default: MSE first, plaintext
                         accepted) or disabled (plaintext only)
  --no-utp | --no-tcp    do not use uTP / TCP (default: both, uTP tried first)
  --no-port-mapping      do not ask the router (NAT-PMP, UPnP) to forward the port (default: ask;
                         never on loopback or with BTTKIT_LOCAL_NETWORK=off)
  --port-mapping-lease S lease asked of the router, seconds (default 3600)
  --no-lsd               no local service discovery (BEP 14: LAN multicast announces;
                         also off with BTTKIT_LOCAL_NETWORK=off, and on loopback)
  --no-holepunch         no hole punching (BEP 55): neither relay nor ask for introductions
  --resume-dir DIR       keep fast-resume data in DIR: a restart trusts the pieces of unchanged
                         files (same size and mtime) instead of hashing them again
  --json                 JSON lines on stdout: progress every second, then a summary
  --progress-interval S  seconds between progress lines (JSON, or plain text when stderr
                         is not a terminal; default 1 for JSON, 5 for text)`;

/** `bttkit <command> --help`. */
const HELP: Record<string, string> = {
  serve: `Usage: bttkit serve <magnet | file.torrent> -o <dir> [--http-port N] [--http-host H]
                [--peer host:port]... [--port N] [--tracker URL]... [--no-dht] [--dht-bootstrap host:port]...
                [--encryption forced|enabled|disabled] [--no-utp | --no-tcp] [--no-port-mapping] [--no-lsd]

Downloads into <dir> and serves the files over HTTP meanwhile: prints http://127.0.0.1:N/ (an
index), each file at /<file index> and /<url-encoded path>, with Range requests for players
and <video>. Runs until Ctrl-C.
  --http-port N    HTTP port (default: any free one)
  --http-host H    HTTP address (default 127.0.0.1)
  --port N         BitTorrent listening port
  --encryption M   forced, enabled (default) or disabled
  --no-utp | --no-tcp  do not use uTP / TCP
  --no-port-mapping    do not ask the router to forward the port (NAT-PMP, UPnP)
  --no-lsd         no local service discovery on the LAN (BEP 14)
`,
  info: `Usage: bttkit info <file.torrent | magnet> [--json]

Prints what a .torrent or magnet holds: name, info-hash, size, pieces, trackers, files (with
their indexes, for download --select; padding files left out) and a magnet link. For BitTorrent
v2 and hybrid torrents (BEP 52) and urn:btmh: magnets, the version and the v2 info-hash too.
  --json   one JSON object (version, infoHash, infoHashV2, files with their piecesRoot, …)
`,
  create: `Usage: bttkit create <path> [-o out.torrent] [--tracker URL]... [--piece-length N] [--private]
                [--comment TEXT] [--web-seed URL]... [--v2 | --hybrid] [--json]

Makes a .torrent from a file or a folder.
  -o, --output FILE        where to write it (default <name>.torrent)
  -t, --tracker URL        a tracker, its own tier (repeatable)
  -l, --piece-length N     bytes per piece, a power of two ≥ 16k (e.g. 256k, 1m); default ~2,048 pieces
  -p, --private            BEP 27 private torrent (no DHT, no peer exchange)
  -c, --comment TEXT       a comment
  -w, --web-seed URL       a BEP 19 web seed (repeatable)
  --v2                     a BitTorrent v2-only torrent (BEP 52; v1-only clients cannot read it)
  --hybrid                 a hybrid torrent: v1 and v2 clients share one swarm (BEP 52 + 47)
  --json                   one JSON object (infoHash, infoHashV2, version, …)
`,
  download: `Usage: bttkit download <magnet | file.torrent> -o <dir> [options]

Downloads into <dir>, resuming what is already there, and exits 0 when every selected file is
verified (130 when interrupted, 1 on an error).
  -o, --output DIR       download folder (required)
  --select FILES         only these files: indexes (0, 2-4, as "bttkit info" lists them) and/or
                         globs on the path in the torrent ("*.mkv", "season1/**"); comma-separated
                         or repeated
  --keep-seeding         after the download, seed until interrupted (Ctrl-C)
  --download-limit RATE  cap the download at RATE bytes/s of payload (e.g. 4M, 500k)
  --upload-limit RATE    cap the upload at RATE bytes/s of payload
  --web-seed URL         an HTTP(S) web seed (BEP 19) besides the torrent's url-list (repeatable)
  --play mpv|vlc         serve the files over HTTP and open the largest playable one in the player
  --timeout SECONDS      give up (exit 1, CLI_TIMEOUT) after SECONDS without receiving data; a
                         warning is printed when no peer answers for 15 s (or half the timeout)
${DISCOVERY_HELP}
`,
  seed: `Usage: bttkit seed <file.torrent> <path> [options]
       bttkit seed <path> [-o out.torrent] [--tracker URL]... [--v2 | --hybrid] [options]

Seeds until interrupted. With a .torrent, <path> holds its content (the file or folder named like
the torrent, or the folder holding it). Without, a torrent is made from <path> (the --tracker
URLs written into it), its magnet link printed and, with -o, the .torrent written.
  -o, --output FILE      (without a .torrent) write the .torrent made
  --piece-length N       (without a .torrent) bytes per piece
  --private              (without a .torrent) a private torrent
  --comment TEXT         (without a .torrent) a comment
  --v2 | --hybrid        (without a .torrent) a v2-only or hybrid torrent (BEP 52)
${DISCOVERY_HELP}
`,
  swarm: `Usage: bttkit swarm <scenario.json> [--out DIR] [--seed N] [--defense on|off] [--json]

The swarm lab: simulates a scenario on virtual time (docs/sim.md). A scenario with an attacker
group is run again with that group honest (same seed) and the attacker's gain is reported.
  -o, --out DIR     write the run's results here
  --seed N          random seed (the same seed repeats the run exactly)
  --defense on|off  apply the scenario's defense.on / defense.off patch (attack scenarios)
  --json            a JSON summary
`,
  demo: `Usage: bttkit demo [--chain local | bttc] [--size-mib N]

Runs a local swarm with BTT payments and prints what happens: a seeder selling 2 of its 4
upload slots, two leechers paying in BTT, two not paying. Exit status 0 when every BTT paid was
collected, 1 otherwise.
  --chain local    (default) payments through the embedded ledger, funded on an in-process chain
  --chain bttc     payment channels of the BttkitChannel contract on a real local EVM node (a
                   hardhat 2.x node on 127.0.0.1, chain id 199 — not BTTC itself; needs the npm
                   package hardhat): the seeder closes each channel on chain with the best
                   voucher, and the summary reads the chain back (channels, balances, gas)
  --size-mib N     size of the file shared, MiB (default 16)
`,
  'speed-peer': SPEED_PEER_HELP,
  ledger: `Usage: bttkit ledger serve [--port N] [--data DIR] [--host H] [--ledger-id ID] [--operator ADDRESS]...

Runs a BTT ledger service (docs/ledger.md).
`,
};

/** `--progress-interval`: seconds (a decimal) → ms. */
function parseSeconds(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0 && n <= 86_400 * 365)) throw usage(`bad ${what}: ${text}`);
  return Math.round(n * 1000);
}

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

/** BEP 52: a v2 piece length is a power of two of at least 16 KiB. */
function isV2PieceLength(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 16 * 1024 && Number.isInteger(Math.log2(n));
}

/** Options that download, seed and serve share. */
const TRANSFER_OPTIONS = {
  output: { type: 'string', short: 'o' },
  peer: { type: 'string', multiple: true },
  port: { type: 'string' },
  dht: { type: 'boolean' },
  'no-dht': { type: 'boolean' },
  'dht-bootstrap': { type: 'string', multiple: true },
  tracker: { type: 'string', multiple: true },
  encryption: { type: 'string' },
  'no-utp': { type: 'boolean' },
  'no-tcp': { type: 'boolean' },
  'no-port-mapping': { type: 'boolean' },
  'port-mapping-lease': { type: 'string' },
  'no-lsd': { type: 'boolean' },
  'no-holepunch': { type: 'boolean' },
} as const;

/** `--encryption`, `--no-utp`, `--no-tcp`, `--no-port-mapping`, `--port-mapping-lease`, `--no-lsd`, `--no-holepunch` as client settings. */
function parseLinks(values: {
  encryption?: string;
  'no-utp'?: boolean;
  'no-tcp'?: boolean;
  'no-port-mapping'?: boolean;
  'port-mapping-lease'?: string;
  'no-lsd'?: boolean;
  'no-holepunch'?: boolean;
}): LinkOptions {
  const lease = values['port-mapping-lease'];
  const leaseSeconds = lease === undefined ? undefined : Number(lease);
  if (
    leaseSeconds !== undefined &&
    !(Number.isInteger(leaseSeconds) && leaseSeconds >= 10 && leaseSeconds <= 604800)
  )
    throw usage('--port-mapping-lease takes whole seconds, 10–604800');
  const e = values.encryption;
  if (e !== undefined && e !== 'forced' && e !== 'enabled' && e !== 'disabled')
    throw usage('--encryption takes forced, enabled or disabled');
  if (values['no-utp'] && values['no-tcp']) throw usage('--no-utp and --no-tcp leave no transport');
  return {
    ...(e !== undefined ? { encryption: e } : {}),
    ...(values['no-utp'] ? { enableUtp: false } : {}),
    ...(values['no-tcp'] ? { enableTcp: false } : {}),
    ...(values['no-port-mapping'] ? { portMapping: false } : {}),
    ...(leaseSeconds !== undefined ? { portMappingLease: leaseSeconds } : {}),
    ...(values['no-lsd'] ? { lsd: false } : {}),
    ...(values['no-holepunch'] ? { holepunch: false } : {}),
  };
}

/** A port number 0–65535 from the command line (`undefined` when absent). */
function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(text.trim() !== '' && Number.isInteger(n) && n >= 0 && n < 65536)) throw usage(`bad port: ${text}`);
  return n;
}

/** Resolves with the signal's name when the process is asked to stop. */
function stopSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

async function run(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const [command, ...rest] = argv;
  const topic = command === 'help' && rest[0] !== undefined ? HELP[rest[0]] : undefined;
  if (topic !== undefined) {
    process.stdout.write(topic);
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    out(VERSION);
    return 0;
  }
  const help = HELP[command];
  if (help !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(help);
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
        ...TRANSFER_OPTIONS,
        json: { type: 'boolean' },
        select: { type: 'string', multiple: true },
        'keep-seeding': { type: 'boolean' },
        timeout: { type: 'string' },
        'progress-interval': { type: 'string' },
        'download-limit': { type: 'string' },
        'upload-limit': { type: 'string' },
        'web-seed': { type: 'string', multiple: true },
        'resume-dir': { type: 'string' },
        play: { type: 'string' },
        'piece-length': { type: 'string' },
        private: { type: 'boolean' },
        comment: { type: 'string' },
        v2: { type: 'boolean' },
        hybrid: { type: 'boolean' },
      },
    });
    const downloadOnly = ['select', 'keep-seeding', 'timeout', 'play', 'download-limit', 'web-seed'] as const;
    const seedOnly = ['piece-length', 'private', 'comment', 'v2', 'hybrid'] as const;
    for (const k of command === 'download' ? seedOnly : downloadOnly)
      if (values[k] !== undefined) throw usage(`--${k} is not an option of ${command}`);
    const timeoutMs = parseSeconds(values.timeout, '--timeout');
    const progressIntervalMs = parseSeconds(values['progress-interval'], '--progress-interval');
    for (const b of values['dht-bootstrap'] ?? []) parsePeerAddress(b);
    const port = parsePort(values.port);
    const tty = process.stderr.isTTY === true && !values.json;
    const io: TransferIo = {
      out,
      warn: (line) => process.stderr.write(`${tty ? '\r\x1b[K' : ''}${line}\n`),
      progress: values.json ? 'json' : tty ? 'tty' : 'plain',
      ...(progressIntervalMs !== undefined ? { progressIntervalMs } : {}),
      status: (text) => {
        if (tty) process.stderr.write(text === undefined ? '\r\x1b[K' : `\r${text}\x1b[K`);
      },
      stopSignal: stopSignal(),
    };
    const common = {
      peers: values.peer ?? [],
      json: values.json ?? false,
      dht: !(values['no-dht'] ?? false),
      dhtBootstrap: values['dht-bootstrap'] ?? [],
      trackers: values.tracker ?? [],
      links: parseLinks(values),
      ...(port !== undefined ? { port } : {}),
      ...(values['resume-dir'] !== undefined ? { resumeDir: resolvePath(values['resume-dir']) } : {}),
      ...(values['download-limit'] !== undefined
        ? { downloadLimit: parseSize(values['download-limit']) }
        : {}),
      ...(values['upload-limit'] !== undefined ? { uploadLimit: parseSize(values['upload-limit']) } : {}),
    };
    const play = values.play;
    if (play !== undefined && !(PLAYERS as readonly string[]).includes(play))
      throw usage('--play takes mpv or vlc');
    if (command === 'download') {
      if (positionals.length !== 1) throw usage('download takes one <magnet | file.torrent>');
      if (values.output === undefined) throw usage('download needs -o <dir>');
      return downloadCommand(
        positionals[0] as string,
        {
          ...common,
          output: values.output,
          select: values.select ?? [],
          keepSeeding: values['keep-seeding'] ?? false,
          webSeeds: values['web-seed'] ?? [],
          ...(play !== undefined ? { play: play as Player } : {}),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        },
        io,
      );
    }
    if (values.v2 && values.hybrid)
      throw usage('--v2 and --hybrid exclude each other (--hybrid serves v1 and v2 clients)');
    const version = values.v2 ? 2 : values.hybrid ? 'hybrid' : undefined;
    if (
      version !== undefined &&
      values['piece-length'] !== undefined &&
      !isV2PieceLength(parseSize(values['piece-length']))
    )
      throw usage(
        'a v2 or hybrid torrent needs a piece length that is a power of two of at least 16k (BEP 52)',
      );
    if (positionals.length === 1)
      return seedCommand(
        undefined,
        positionals[0] as string,
        {
          ...common,
          private: values.private ?? false,
          ...(values.output !== undefined ? { output: values.output } : {}),
          ...(values.comment !== undefined ? { comment: values.comment } : {}),
          ...(values['piece-length'] !== undefined ? { pieceLength: parseSize(values['piece-length']) } : {}),
          ...(version !== undefined ? { version } : {}),
        },
        io,
      );
    if (positionals.length !== 2) throw usage('seed takes [file.torrent] <path>');
    for (const k of seedOnly)
      if (values[k] !== undefined || values.output !== undefined)
        throw usage(`--${values.output !== undefined ? 'output' : k} is for seed <path> without a .torrent`);
    return seedCommand(positionals[0] as string, positionals[1] as string, common, io);
  }
  if (command === 'serve') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...TRANSFER_OPTIONS,
        'http-port': { type: 'string' },
        'http-host': { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw usage('serve takes one <magnet | file.torrent>');
    if (values.output === undefined) throw usage('serve needs -o <dir>');
    for (const b of values['dht-bootstrap'] ?? []) parsePeerAddress(b);
    const port = parsePort(values.port);
    const httpPort = parsePort(values['http-port']);
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
        links: parseLinks(values),
        ...(port !== undefined ? { port } : {}),
        ...(httpPort !== undefined ? { httpPort } : {}),
        ...(values['http-host'] !== undefined ? { httpHost: values['http-host'] } : {}),
      },
      {
        out,
        status: (text) => {
          if (tty) process.stderr.write(text === undefined ? '\r\x1b[K' : `\r${text}\x1b[K`);
        },
        warn: (line) => process.stderr.write(`${line}\n`),
        stopSignal: stopSignal(),
        progress: tty ? 'tty' : 'plain',
      },
    );
  }
  if (command === 'swarm') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        seed: { type: 'string' },
        defense: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) throw usage('swarm takes one <scenario.json>');
    const defense = values.defense;
    if (defense !== undefined && defense !== 'on' && defense !== 'off')
      throw usage(`--defense takes on or off, not ${defense}`);
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
        ...(defense !== undefined ? { defense } : {}),
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
    const { values } = parseArgs({
      args: rest,
      allowPositionals: false,
      options: { chain: { type: 'string' }, 'size-mib': { type: 'string' } },
    });
    const chain = values.chain ?? 'local';
    if (chain !== 'local' && chain !== 'bttc') throw usage(`--chain takes local or bttc, not ${chain}`);
    const size = values['size-mib'];
    const sizeMiB = size === undefined ? undefined : Number(size);
    if (sizeMiB !== undefined && !(/^\d+$/.test(size ?? '') && sizeMiB >= 1 && sizeMiB <= 1024))
      throw usage(`--size-mib takes a whole number of MiB, 1–1024: ${size}`);
    const options = { tty: process.stdout.isTTY === true, ...(sizeMiB !== undefined ? { sizeMiB } : {}) };
    const ok =
      chain === 'bttc'
        ? await (await import('./demo-bttc.js')).runBttcDemo(options)
        : await (await import('./demo.js')).runDemo(options);
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
        v2: { type: 'boolean' },
        hybrid: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) throw usage('create takes one <path>');
    if (values.v2 && values.hybrid)
      throw usage('--v2 and --hybrid exclude each other (--hybrid serves v1 and v2 clients)');
    const version = values.v2 ? 2 : values.hybrid ? 'hybrid' : 1;
    const pieceLength = values['piece-length'] !== undefined ? parseSize(values['piece-length']) : undefined;
    if (version !== 1 && pieceLength !== undefined && !isV2PieceLength(pieceLength))
      throw usage(
        `--piece-length ${values['piece-length']}: a v2 or hybrid torrent needs a power of two of at least 16k (BEP 52), e.g. 16k, 256k, 1m`,
      );
    const tty = process.stderr.isTTY && !values.json;
    await createCommand(
      positionals[0] as string,
      {
        trackers: values.tracker ?? [],
        webSeeds: values['web-seed'] ?? [],
        private: values.private ?? false,
        json: values.json ?? false,
        version,
        ...(values.output !== undefined ? { output: values.output } : {}),
        ...(values.comment !== undefined ? { comment: values.comment } : {}),
        ...(pieceLength !== undefined ? { pieceLength } : {}),
      },
      out,
      (text) => {
        if (tty) process.stderr.write(text === undefined ? '\r\x1b[K' : `\r${text}\x1b[K`);
      },
    );
    return 0;
  }
  if (command === 'ledger') return (await import('./ledger.js')).ledgerCommand(rest);
  if (command === 'speed-peer') return (await import('./speed-peer.js')).speedPeerCommand(rest, stopSignal());
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
