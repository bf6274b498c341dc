/**
 * The throwaway PostgreSQL cluster of test/helpers/postgres.ts, which the PgStore tests stand on:
 * an acknowledged commit survives crash() (an immediate-mode stop, replayed at restart()) while an
 * open transaction does not; the durability settings hold; newDatabase() isolates; destroy() and
 * the backstops (exit hook, watchdog after a SIGKILL) leave no postmaster and no files.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgCluster, PgHarnessError, startPostgres } from '../helpers/postgres.js';
import { waitForLine } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/** A client whose connection errors (the server crashing under it) become rejections, not crashes. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function one<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await connect(url);
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

function postmasterPid(dataDir: string): number {
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  expect(Number.isInteger(pid) && pid > 0).toBe(true);
  return pid;
}

/** Alive and not a zombie (the postmaster is reparented, and a container's init may not reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('startPostgres', () => {
  let pgc: PgCluster;
  beforeAll(async () => {
    pgc = await startPostgres();
  });
  afterAll(async () => {
    await pgc?.destroy();
  });

  it('runs on 127.0.0.1 with the durability settings on and 200 connections', async () => {
    expect(pgc.url).toBe(`postgres://postgres@127.0.0.1:${pgc.port}/postgres`);
    expect(pgc.running).toBe(true);
    const settings = await one<{ name: string; setting: string }>(
      pgc.url,
      `SELECT name, setting FROM pg_settings
       WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections', 'listen_addresses', 'port')
       ORDER BY name`,
    );
    expect(Object.fromEntries(settings.map((s) => [s.name, s.setting]))).toEqual({
      fsync: 'on',
      full_page_writes: 'on',
      listen_addresses: '127.0.0.1',
      max_connections: '200',
      port: String(pgc.port),
      synchronous_commit: 'on',
    });
    // Never Debian's system cluster "main".
    expect(pgc.port).not.toBe(5432);
    expect(pgc.dataDir).not.toContain('/var/lib/postgresql');
  });

  it('keeps a committed row across crash() and restart(), and drops an open transaction', async () => {
    await one(pgc.url, 'CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)');
    await one(pgc.url, "INSERT INTO t VALUES (1, 'committed')");
    const open = await connect(pgc.url);
    await open.query('BEGIN');
    await open.query("INSERT INTO t VALUES (2, 'open at the crash')");
    const pid = postmasterPid(pgc.dataDir);
    const logBefore = pgc.log().length;

    await pgc.crash();
    expect(pgc.running).toBe(false);
    expect(alive(pid)).toBe(false);
    await expect(open.query('COMMIT')).rejects.toThrow();
    await open.end().catch(() => {});

    await pgc.restart();
    // An immediate stop leaves no shutdown checkpoint: the start replays the WAL.
    expect(pgc.log().slice(logBefore)).toMatch(/not properly shut down; automatic recovery in progress/);
    expect(await one(pgc.url, 'SELECT id, v FROM t ORDER BY id')).toEqual([{ id: 1, v: 'committed' }]);
  });

  it('stop() is a clean shutdown; restart() serves the same data on the same port', async () => {
    const logBefore = pgc.log().length;
    await pgc.stop();
    await expect(pgc.stop()).rejects.toMatchObject({ code: 'PG_BAD_STATE' });
    await expect(connect(pgc.url)).rejects.toThrow();
    await pgc.restart();
    await expect(pgc.restart()).rejects.toMatchObject({ code: 'PG_BAD_STATE' });
    expect(pgc.log().slice(logBefore)).not.toMatch(/automatic recovery in progress/);
    expect(await one(pgc.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);
  });

  it('newDatabase() gives isolated databases in one cluster', async () => {
    const a = await pgc.newDatabase();
    const b = await pgc.newDatabase();
    const named = await pgc.newDatabase('ledger_named');
    expect(a).not.toBe(b);
    expect(named).toBe(`postgres://postgres@127.0.0.1:${pgc.port}/ledger_named`);
    for (const [url, v] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      await one(url, 'CREATE TABLE t (v text)');
      await one(url, 'INSERT INTO t VALUES ($1)', [v]);
    }
    expect(await one(a, 'SELECT v FROM t')).toEqual([{ v: 'a' }]);
    expect(await one(b, 'SELECT v FROM t')).toEqual([{ v: 'b' }]);
    await expect(one(named, 'SELECT v FROM t')).rejects.toThrow(/does not exist/);
    await expect(pgc.newDatabase('ledger_named')).rejects.toMatchObject({ code: 'PG_QUERY_FAILED' });
    await expect(pgc.newDatabase('x"; DROP DATABASE postgres; --')).rejects.toBeInstanceOf(PgHarnessError);
  });
});

describe('clean-up', () => {
  it('destroy() leaves no postmaster and no files, and is idempotent', async () => {
    const c = await startPostgres();
    const pid = postmasterPid(c.dataDir);
    expect(alive(pid)).toBe(true);
    await c.destroy();
    expect(alive(pid)).toBe(false);
    expect(existsSync(dirname(c.dataDir))).toBe(false);
    await c.destroy();
    await expect(c.restart()).rejects.toMatchObject({ code: 'PG_BAD_STATE' });
  });

  it('a fixed port is used as given, and a taken one fails naming the cause', async () => {
    const c = await startPostgres();
    try {
      await expect(startPostgres({ port: c.port })).rejects.toMatchObject({ code: 'PG_START_FAILED' });
    } finally {
      await c.destroy();
    }
  });

  // A test process that ends without destroy(): by exiting (the 'exit' hook) or by SIGKILL (the
  // watchdog, since no hook runs). Either way the postmaster and the folder must go.
  for (const how of ['exit', 'SIGKILL'] as const) {
    it(`a test process ended by ${how} leaves no postmaster`, async () => {
      const helper = new URL('../helpers/postgres.ts', import.meta.url).href;
      const code = `const { startPostgres } = await import(${JSON.stringify(helper)});
        const c = await startPostgres();
        console.log('DATA ' + c.dataDir);
        if (process.argv.includes('exit')) process.stdin.on('end', () => process.exit(0)).resume();
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, how], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let pid: number | undefined;
      let dataDir: string | undefined;
      try {
        const line = await waitForLine(child, (l) => l.startsWith('DATA '), 60_000, 'the child cluster');
        const dir = line.slice('DATA '.length);
        dataDir = dir;
        const postmaster = postmasterPid(dir);
        pid = postmaster;
        expect(alive(postmaster)).toBe(true);
        if (how === 'SIGKILL') child.kill('SIGKILL');
        else child.stdin?.end(); // the child exits with process.exit(0), without destroy()
        await waitFor(() => !alive(postmaster), 30_000, 'the orphaned postmaster to exit');
        await waitFor(() => !existsSync(dirname(dir)), 30_000, 'the cluster folder to be removed');
      } finally {
        child.kill('SIGKILL');
        // When the backstop under test failed, do its job so the run leaves nothing behind.
        const left = pid;
        if (left !== undefined && alive(left)) {
          process.kill(left, 'SIGQUIT');
          await waitFor(() => !alive(left), 30_000, 'the postmaster to exit').catch(() => {});
        }
        if (dataDir !== undefined) rmSync(dirname(dataDir), { recursive: true, force: true });
      }
    });
  }
});
