/**
 * A throwaway PostgreSQL cluster for the tests that need a real database (the ledger's PgStore,
 * issue #21): `initdb` into a temporary folder, a postmaster on 127.0.0.1 and a free port (plus a
 * Unix socket in that folder), stopped, crashed (`pg_ctl stop -m immediate`), restarted on the same
 * data and port, and removed. Never the system cluster "main" that Debian's package creates.
 *
 * Durability is what the tests check, so the server keeps `fsync`, `synchronous_commit` and
 * `full_page_writes` on (set explicitly, whatever a postgresql.conf default says).
 *
 * PostgreSQL refuses to run as root: as root (CI) the binaries run as the `postgres` user that the
 * Debian package creates (`runuser -u postgres --`); as anyone else, directly.
 *
 * Clean-up: call `destroy()` in afterAll. Backstops for a test process that dies first: a process
 * 'exit' hook (a normal exit, vitest ending a worker) and a small watchdog shell per cluster that
 * outlives a SIGKILLed test process, sends the postmaster SIGQUIT (PostgreSQL's immediate
 * shutdown) and removes the folder.
 */
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from './procs.js';

/** Bound on one `pg_ctl` start or stop (its `-t`, in seconds); the child is killed a bit later. */
const PG_CTL_TIMEOUT_S = 60;
/** Bound on `initdb`. */
const INITDB_TIMEOUT_MS = 120_000;
/** Bound on connecting to the cluster and running one statement (newDatabase). */
const QUERY_TIMEOUT_MS = 30_000;
/** How many fresh ports a first start tries when another process took the free port meanwhile. */
const PORT_ATTEMPTS = 3;
/** The OS user that Debian's `postgresql` package creates; the binaries run as it under root. */
const PG_USER = 'postgres';
/** Server settings on the command line (the cluster is started only by this file). */
const SERVER_SETTINGS = [
  'max_connections=200',
  // What the durability tests depend on: explicit, so no configuration can turn them off.
  'fsync=on',
  'synchronous_commit=on',
  'full_page_writes=on',
];

/** Why the harness could not do what a test asked; `code` says which step failed. */
export class PgHarnessError extends Error {
  constructor(
    readonly code:
      | 'PG_NOT_INSTALLED'
      | 'PG_NO_USER'
      | 'PG_INITDB_FAILED'
      | 'PG_START_FAILED'
      | 'PG_STOP_FAILED'
      | 'PG_BAD_STATE'
      | 'PG_BAD_NAME'
      | 'PG_QUERY_FAILED',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'PgHarnessError';
  }
}

/** One throwaway cluster; see {@link startPostgres}. */
export interface PgCluster {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication, no password). */
  readonly url: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The cluster's data directory (PGDATA); its parent folder holds the log and the socket. */
  readonly dataDir: string;
  /** Whether a postmaster of this cluster runs (as far as this harness started or stopped it). */
  readonly running: boolean;
  /** `pg_ctl stop -m fast`: a clean shutdown (checkpoint, sessions ended). */
  stop(): Promise<void>;
  /** `pg_ctl stop -m immediate`: a crash; the next start replays the WAL. */
  crash(): Promise<void>;
  /** Starts again on the same data directory and port, after stop() or crash(). */
  restart(): Promise<void>;
  /** Stops the postmaster if it runs (immediately) and removes every file. Idempotent. */
  destroy(): Promise<void>;
  /**
   * `CREATE DATABASE` (name: letters, digits, `_`; default a fresh unique name) and its URL, so
   * the tests of one file get isolated databases in one cluster.
   */
  newDatabase(name?: string): Promise<string>;
  /** The server log (startup failures, crash recovery), for a failing test's message. */
  log(): string;
}

interface Binaries {
  initdb: string;
  pgCtl: string;
}

/** Clusters whose postmaster may run, for the 'exit' hook. */
const live = new Set<{ dataDir: string; root: string }>();
let exitHookInstalled = false;
let dbCounter = 0;

/**
 * Starts a throwaway cluster (initdb in a temp folder, then `pg_ctl start -w`). `port`: a fixed
 * port; by default a free one (retried with another when it is taken before the server binds).
 */
export async function startPostgres(options: { port?: number } = {}): Promise<PgCluster> {
  const bins = findBinaries();
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) checkPgUser();
  installExitHook();

  const root = mkdtempSync(join(tmpdir(), 'bttkit-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'log');
  const entry = { dataDir, root };
  live.add(entry);
  const watchdog = startWatchdog(dataDir, root);
  let running = false;
  let destroyed = false;
  let port = options.port ?? 0;

  const pgRun = (cmd: string, args: string[], timeoutMs: number) => exec(cmd, args, timeoutMs, asRoot);
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const logTail = () => readLog().split('\n').slice(-30).join('\n');

  const start = async () => {
    const args = [
      'start',
      '-w',
      '-t',
      String(PG_CTL_TIMEOUT_S),
      '-D',
      dataDir,
      '-l',
      logFile,
      '-o',
      [`-k ${root}`, `-h 127.0.0.1`, `-p ${port}`, ...SERVER_SETTINGS.map((s) => `-c ${s}`)].join(' '),
    ];
    const r = await pgRun(bins.pgCtl, args, (PG_CTL_TIMEOUT_S + 10) * 1000);
    if (r.code !== 0) {
      throw new PgHarnessError(
        'PG_START_FAILED',
        `pg_ctl start on port ${port} exited ${r.code}: ${r.output.trim()}\n--- server log ---\n${logTail()}`,
      );
    }
    running = true;
  };
  const pgStop = async (mode: 'fast' | 'immediate') => {
    const args = ['stop', '-w', '-t', String(PG_CTL_TIMEOUT_S), '-m', mode, '-D', dataDir];
    const r = await pgRun(bins.pgCtl, args, (PG_CTL_TIMEOUT_S + 10) * 1000);
    if (r.code !== 0) {
      throw new PgHarnessError(
        'PG_STOP_FAILED',
        `pg_ctl stop -m ${mode} exited ${r.code}: ${r.output.trim()}\n--- server log ---\n${logTail()}`,
      );
    }
    running = false;
  };

  try {
    if (asRoot) chownSync(root, userUid(PG_USER), userGid(PG_USER));
    const init = await pgRun(
      bins.initdb,
      ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--locale=C', '-E', 'UTF8'],
      INITDB_TIMEOUT_MS,
    );
    if (init.code !== 0) {
      throw new PgHarnessError('PG_INITDB_FAILED', `initdb exited ${init.code}: ${init.output.trim()}`);
    }
    for (let attempt = 1; ; attempt++) {
      if (options.port === undefined) port = await freePort();
      const logBefore = readLog().length;
      try {
        await start();
        break;
      } catch (err) {
        const taken = /could not (bind|create listen socket)|Address already in use/i.test(
          readLog().slice(logBefore),
        );
        if (options.port !== undefined || !taken || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    await destroyFiles();
    throw err;
  }

  async function destroyFiles(): Promise<void> {
    if (running || existsSync(join(dataDir, 'postmaster.pid'))) {
      await pgStop('immediate').catch(() => killPostmaster(dataDir));
    }
    running = false;
    rmSync(root, { recursive: true, force: true });
    live.delete(entry);
    if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
  }

  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    dataDir,
    get running() {
      return running;
    },
    async stop() {
      if (!running) throw new PgHarnessError('PG_BAD_STATE', 'stop(): the cluster is not running');
      await pgStop('fast');
    },
    async crash() {
      if (!running) throw new PgHarnessError('PG_BAD_STATE', 'crash(): the cluster is not running');
      await pgStop('immediate');
    },
    async restart() {
      if (destroyed) throw new PgHarnessError('PG_BAD_STATE', 'restart(): the cluster was destroyed');
      if (running)
        throw new PgHarnessError(
          'PG_BAD_STATE',
          'restart(): the cluster is running; stop() or crash() first',
        );
      await start();
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await destroyFiles();
    },
    async newDatabase(name?: string) {
      if (!running) throw new PgHarnessError('PG_BAD_STATE', 'newDatabase(): the cluster is not running');
      const db = name ?? `t_${process.pid}_${++dbCounter}`;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(db)) {
        throw new PgHarnessError(
          'PG_BAD_NAME',
          `database name ${JSON.stringify(db)}: use [a-z_][a-z0-9_]{0,62}`,
        );
      }
      await query(port, `CREATE DATABASE "${db}"`);
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    log: readLog,
  };
  return cluster;
}

/** `{ code, output }` of a command (as the postgres user under root); bounded by `timeoutMs`. */
function exec(
  cmd: string,
  args: string[],
  timeoutMs: number,
  asRoot: boolean,
): Promise<{ code: number; output: string }> {
  const [file, argv] = asRoot ? ['runuser', ['-u', PG_USER, '--', cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (!err) return resolve({ code: 0, output });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
        if (e.code === 'ENOENT') return resolve({ code: -1, output: `${file} not found` });
        if (e.killed) return resolve({ code: -1, output: `${output}\n(killed after ${timeoutMs} ms)` });
        resolve({ code: typeof e.code === 'number' ? e.code : -1, output: output || e.message });
      },
    );
  });
}

async function query(port: number, sql: string): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: QUERY_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
  });
  try {
    await client.connect();
    await client.query(sql);
  } catch (err) {
    throw new PgHarnessError('PG_QUERY_FAILED', `${sql}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Debian's binaries of the newest installed major (/usr/lib/postgresql/<major>/bin), else initdb
 * and pg_ctl on PATH (another system's packages).
 */
function findBinaries(): Binaries {
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((d) => /^\d+$/.test(d))
        .map(Number)
        .sort((a, b) => b - a)
    : [];
  for (const major of majors) {
    const bin = join(base, String(major), 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) {
      return { initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl') };
    }
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const dir = dirs.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (dir !== undefined) return { initdb: join(dir, 'initdb'), pgCtl: join(dir, 'pg_ctl') };
  throw new PgHarnessError(
    'PG_NOT_INSTALLED',
    'no PostgreSQL server binaries (/usr/lib/postgresql/<major>/bin/initdb, pg_ctl): run `npm run test:deps` (Debian package postgresql)',
  );
}

function passwdEntry(user: string): string[] | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  return line?.split(':');
}

function userUid(user: string): number {
  return Number(passwdEntry(user)?.[2]);
}

function userGid(user: string): number {
  return Number(passwdEntry(user)?.[3]);
}

function checkPgUser(): void {
  const uid = existsSync('/etc/passwd') ? userUid(PG_USER) : Number.NaN;
  if (!Number.isInteger(uid)) {
    throw new PgHarnessError(
      'PG_NO_USER',
      `running as root (${userInfo().username}) and there is no \`${PG_USER}\` user to run PostgreSQL as (it refuses root); the Debian package postgresql creates it: run \`npm run test:deps\``,
    );
  }
}

/** The postmaster's pid from its pid file, if the file exists. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGQUIT (PostgreSQL's immediate shutdown: the postmaster ends its backends, then exits). */
function killPostmaster(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      killPostmaster(c.dataDir);
      rmSync(c.root, { recursive: true, force: true });
    }
  });
}

/**
 * A detached shell that waits for this process to end (also by SIGKILL, where no hook runs),
 * then sends the postmaster SIGQUIT, waits up to 10 s for it to exit and removes the folder.
 * destroy() kills it. A zombie test process (not yet reaped) counts as ended.
 */
function startWatchdog(dataDir: string, root: string) {
  const script = `
alive() {
  if [ ! -d /proc/$$ ]; then kill -0 "$1" 2>/dev/null; return; fi
  s=$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -c1); [ -n "$s" ] && [ "$s" != Z ]
}
while alive "$1"; do sleep 1; done
if [ -f "$2/postmaster.pid" ]; then
  pid=$(head -n 1 "$2/postmaster.pid")
  if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null
    i=0; while alive "$pid" && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done
  fi
fi
rm -rf "$3"`;
  const child = spawn('sh', ['-c', script, 'bttkit-pg-watchdog', String(process.pid), dataDir, root], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', () => {}); // no sh: the exit hook and destroy() remain
  child.unref();
  return child;
}
