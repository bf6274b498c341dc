import type { Pool, PoolClient } from 'pg';
import { decodeEvent, decodeState, encodeEvent, encodeState } from './codec.js';
import type { LedgerEvent, LedgerStateData } from './core.js';
import { LedgerError } from './errors.js';
import type { LedgerStore, StoreContents, StoreTransaction } from './store.js';

/** Options of {@link PgStore}. */
export interface PgStoreOptions {
  /** `postgres://user@host:port/database` (node-postgres' connection string). */
  connectionString: string;
  /** Table name prefix (letters, digits, `_`). Default `bttkit_ledger`. */
  prefix?: string;
  /** Connections in the pool. Default 4. */
  poolSize?: number;
}

/**
 * The schema, one migration per version, applied in order under an advisory lock in one
 * transaction each; the version reached is kept in `<prefix>_schema`. Never edit a shipped
 * migration: add the next one.
 */
export const PG_MIGRATIONS: readonly ((p: string) => string)[] = [
  (p) => `
    CREATE TABLE ${p}_events (seq bigint PRIMARY KEY, payload bytea NOT NULL);
    CREATE TABLE ${p}_snapshots (seq bigint PRIMARY KEY, payload bytea NOT NULL);`,
];

type PgModule = { Pool: typeof Pool };
let pgModule: Promise<PgModule> | undefined;
function loadPg(): Promise<PgModule> {
  pgModule ??= import('pg').then((m) => {
    const mod = m as unknown as PgModule & { default?: PgModule };
    return mod.default ?? mod;
  });
  return pgModule;
}

function ignore(): void {}

function failed(message: string, cause: unknown): LedgerError {
  return cause instanceof LedgerError ? cause : new LedgerError('LEDGER_JOURNAL_FAILED', message, { cause });
}

/**
 * A {@link LedgerStore} in PostgreSQL (through `pg`, node-postgres — an optional peer dependency,
 * loaded only here), which several ledger processes — `bttkit ledger serve --pg URL` instances
 * behind a load balancer — share.
 *
 * Concurrency control: **one advisory lock held by each write transaction**
 * (`pg_advisory_xact_lock`). A writer takes it, reads the events others appended since its own
 * last one, replays them, decides on that latest state, inserts its event and commits; the
 * lock goes with the commit. So every decision sees every earlier one, as with one process, and
 * a crash anywhere before `COMMIT` leaves nothing (PostgreSQL rolls the transaction back). Why
 * not serializable transactions: the ledger's checks run in the application on a state replayed
 * from events, not in SQL, so PostgreSQL could not see the read set; a retry loop would re-run
 * the command anyway. The cost is one writer at a time across instances — a few round trips per
 * mutation (see bench/README.md); reads take no lock. The event's `seq` is the primary key: two
 * writers can never both append the same position.
 *
 * Snapshots (`compact`) are rows too; events are kept (an instance far behind catches up from
 * them); a new instance loads the newest snapshot and the events after it.
 */
export class PgStore implements LedgerStore {
  readonly #opts: PgStoreOptions;
  readonly #p: string;
  #pool: Pool | undefined;
  #sinceSnapshot = 0;
  #closed = false;

  constructor(options: PgStoreOptions) {
    const prefix = options.prefix ?? 'bttkit_ledger';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix))
      throw new LedgerError('LEDGER_BAD_REQUEST', 'prefix: lower-case letters, digits and _ only');
    this.#opts = options;
    this.#p = prefix;
  }

  async #connect(): Promise<Pool> {
    if (this.#closed) throw new LedgerError('LEDGER_CLOSED', 'store is closed');
    if (this.#pool) return this.#pool;
    const pg = await loadPg();
    const pool = new pg.Pool({
      connectionString: this.#opts.connectionString,
      max: this.#opts.poolSize ?? 4,
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its server must not crash the process: the next query fails instead.
    pool.on('error', ignore);
    this.#pool = pool;
    return pool;
  }

  async #migrate(pool: Pool): Promise<void> {
    const c = await pool.connect();
    c.on('error', ignore);
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.#p}:schema`]);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.#p}_schema (version integer NOT NULL)`);
      const r = await c.query<{ version: number }>(`SELECT version FROM ${this.#p}_schema`);
      let version = r.rows[0]?.version ?? 0;
      if (r.rows.length === 0) await c.query(`INSERT INTO ${this.#p}_schema (version) VALUES (0)`);
      if (version > PG_MIGRATIONS.length)
        throw new LedgerError(
          'LEDGER_JOURNAL_CORRUPT',
          `database schema ${version} is newer than this bttkit`,
        );
      for (; version < PG_MIGRATIONS.length; version++) {
        await c.query((PG_MIGRATIONS[version] as (p: string) => string)(this.#p));
        await c.query(`UPDATE ${this.#p}_schema SET version = $1`, [version + 1]);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw failed('schema migration failed', err);
    } finally {
      c.off('error', ignore);
      c.release();
    }
  }

  async load(): Promise<StoreContents> {
    try {
      const pool = await this.#connect();
      await this.#migrate(pool);
      const snap = await pool.query<{ seq: string; payload: Buffer }>(
        `SELECT seq, payload FROM ${this.#p}_snapshots ORDER BY seq DESC LIMIT 1`,
      );
      const row = snap.rows[0];
      const state = row ? decodeState(new Uint8Array(row.payload)) : undefined;
      const events = await this.#events(pool, state?.seq ?? 0);
      this.#sinceSnapshot = events.length;
      return { state, events };
    } catch (err) {
      throw failed('cannot load the ledger from PostgreSQL', err);
    }
  }

  async #events(q: Pool | PoolClient, after: number): Promise<LedgerEvent[]> {
    const r = await q.query<{ seq: string; payload: Buffer }>(
      `SELECT seq, payload FROM ${this.#p}_events WHERE seq > $1 ORDER BY seq`,
      [after],
    );
    const out: LedgerEvent[] = [];
    let expect = after + 1;
    for (const row of r.rows) {
      const e = decodeEvent(new Uint8Array(row.payload));
      if (e.seq !== Number(row.seq) || e.seq !== expect)
        throw new LedgerError('LEDGER_JOURNAL_CORRUPT', `event ${row.seq} is out of place`);
      expect++;
      out.push(e);
    }
    return out;
  }

  /** Appends outside a transaction (one writer only); shared use goes through {@link begin}. */
  async append(event: LedgerEvent): Promise<void> {
    const tx = await this.begin(event.seq - 1);
    if (tx.events.length > 0) {
      await tx.rollback();
      throw new LedgerError('LEDGER_JOURNAL_FAILED', 'another writer appended first');
    }
    await tx.append(event);
    await tx.commit();
  }

  async begin(seq: number): Promise<StoreTransaction> {
    const pool = await this.#connect();
    const c = await pool.connect();
    // A checked-out client whose server goes away emits 'error': its next query fails instead.
    c.on('error', ignore);
    let open = true;
    const end = (err?: Error) => {
      if (!open) return;
      open = false;
      c.off('error', ignore);
      c.release(err);
    };
    try {
      await c.query('BEGIN');
      // The one lock of this ledger's writers (per database and prefix).
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.#p}:write`]);
      const events = await this.#events(c, seq);
      let appended = 0;
      return {
        events,
        append: async (event) => {
          await c.query(`INSERT INTO ${this.#p}_events (seq, payload) VALUES ($1, $2)`, [
            event.seq,
            Buffer.from(encodeEvent(event)),
          ]);
          appended++;
        },
        commit: async () => {
          try {
            await c.query('COMMIT');
            this.#sinceSnapshot += events.length + appended;
            end();
          } catch (err) {
            end(err as Error); // the connection's state is unknown: do not reuse it
            throw failed('commit failed', err);
          }
        },
        rollback: async () => {
          if (!open) return;
          try {
            await c.query('ROLLBACK');
            this.#sinceSnapshot += events.length;
            end();
          } catch (err) {
            end(err as Error);
          }
        },
      };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      end(err as Error);
      throw failed('cannot begin a ledger transaction', err);
    }
  }

  async since(seq: number): Promise<LedgerEvent[]> {
    try {
      return await this.#events(await this.#connect(), seq);
    } catch (err) {
      throw failed('cannot read the ledger from PostgreSQL', err);
    }
  }

  /** Everything acknowledged is committed already. */
  async flush(): Promise<void> {}

  async compact(state: LedgerStateData): Promise<void> {
    const payload = Buffer.from(encodeState(state));
    const pool = await this.#connect();
    await pool.query(
      `INSERT INTO ${this.#p}_snapshots (seq, payload) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING`,
      [state.seq, payload],
    );
    this.#sinceSnapshot = 0;
  }

  get eventsSinceSnapshot(): number {
    return this.#sinceSnapshot;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end().catch(() => undefined);
  }
}
