/**
 * The two database engines behind one small interface. SQL is written once with `?` placeholders
 * and always with bound parameters; the PostgreSQL driver rewrites `?` to `$1, $2, ...`. Every
 * dialect difference of the feedback layer lives in this file and in migrations.ts.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { FeedbackError } from './errors.js';

export type Dialect = 'sqlite' | 'postgres';
export type Param = string | number | null;

export interface Queryable {
  all<T>(sql: string, params?: readonly Param[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly Param[]): Promise<T | undefined>;
  /** Runs a statement and returns the number of rows it changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
}

export interface Driver {
  readonly dialect: Dialect;
  /**
   * Row-lock clauses appended to a SELECT inside a transaction: PostgreSQL locks the rows it
   * returns (`FOR UPDATE`, or skipping rows other transactions hold with `SKIP LOCKED`); SQLite
   * has no row locks and needs none, since its transactions already run one at a time.
   */
  readonly lock: { forUpdate: string; skipLocked: string };
  /** Where the data lives, without any password. */
  readonly describe: string;
  /** Reads outside a transaction (each statement sees committed data). */
  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in one transaction and commits before resolving, so a resolved promise means the
   * data is durable. `exclusive` serializes it with every other exclusive transaction on the same
   * database (and schema), across processes: SQLite takes its write lock (BEGIN IMMEDIATE; one
   * writer at a time anyway), PostgreSQL takes a transaction-scoped advisory lock. Migrations and
   * labeler creation use it; the labeling queue locks single rows instead (see `lock`).
   */
  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: { exclusive?: boolean }): Promise<T>;
  close(): Promise<void>;
}

/** Parses a database URL: `sqlite:PATH`, `sqlite::memory:`, a path ending in .db, or `postgres://...`. */
export function parseDbUrl(
  url: string,
): { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string; schema: string | null } {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new FeedbackError('invalid', `cannot parse PostgreSQL URL "${redact(url)}"`);
    }
    const schema = u.searchParams.get('schema');
    if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new FeedbackError(
        'invalid',
        `schema "${schema}" in the database URL must be lower-case letters, digits and _ (at most 63)`,
      );
    }
    u.searchParams.delete('schema');
    return { engine: 'postgres', url: u.toString(), schema };
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '')
      throw new FeedbackError('invalid', 'sqlite: URL needs a path, e.g. sqlite:runs/x/feedback.db');
    return { engine: 'sqlite', path };
  }
  if (url.endsWith('.db') || url.endsWith('.sqlite')) return { engine: 'sqlite', path: url };
  throw new FeedbackError(
    'invalid',
    `unknown database URL "${redact(url)}": use sqlite:PATH or postgres://user:pass@host:port/db`,
  );
}

/** Hides the password of a URL for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}

export async function openDriver(url: string): Promise<Driver> {
  const parsed = parseDbUrl(url);
  if (parsed.engine === 'sqlite') return new SqliteDriver(parsed.path);
  return PgDriver.open(parsed.url, parsed.schema);
}

// ---------------------------------------------------------------------------------------------
// SQLite (better-sqlite3): synchronous calls on one connection. Transactions written as async
// functions would interleave on that connection, so every call goes through a FIFO chain.

class SqliteDriver implements Driver {
  readonly dialect = 'sqlite' as const;
  readonly lock = { forUpdate: '', skipLocked: '' };
  readonly describe: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private tail: Promise<unknown> = Promise.resolve();
  private readonly q: Queryable;

  constructor(path: string) {
    const memory = path === ':memory:';
    if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
    this.db = new Database(path);
    this.describe = memory ? 'sqlite::memory:' : `sqlite:${path}`;
    if (!memory) this.db.pragma('journal_mode = WAL');
    // FULL: a commit is fsynced before it returns, so an acknowledged label survives even a power
    // cut (NORMAL in WAL mode survives a killed process, not an OS crash).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('cache_size = -32000'); // 32 MB of pages: a paper-sized run stays in memory
    const stmt = (sql: string): Database.Statement => {
      let s = this.statements.get(sql);
      if (!s) {
        s = this.db.prepare(sql);
        this.statements.set(sql, s);
      }
      return s;
    };
    this.q = {
      all: async <T>(sql: string, params: readonly Param[] = []) => {
        const s = stmt(sql);
        if (s.reader) return s.all(...params) as T[];
        s.run(...params);
        return [];
      },
      get: async <T>(sql: string, params: readonly Param[] = []) => {
        const s = stmt(sql);
        if (!s.reader) {
          s.run(...params);
          return undefined;
        }
        return s.get(...params) as T | undefined;
      },
      run: async (sql: string, params: readonly Param[] = []) => {
        const s = stmt(sql);
        if (s.reader) {
          s.all(...params);
          return 0;
        }
        return s.run(...params).changes;
      },
    };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.serial(() => fn(this.q));
  }

  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.q);
        this.db.exec('COMMIT');
        return out;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      if (this.db.open) this.db.close();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (node-postgres): a pool; BIGINT and NUMERIC come back as numbers (counts, seeds and
// lease deadlines all fit in a double).

const toPgCache = new Map<string, string>();
function toPg(sql: string): string {
  let out = toPgCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    toPgCache.set(sql, out);
  }
  return out;
}

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    // 20 = int8, 1700 = numeric
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

function pgQueryable(c: pg.Pool | pg.PoolClient): Queryable {
  return {
    all: async <T>(sql: string, params: readonly Param[] = []) =>
      (await c.query(toPg(sql), params as Param[])).rows as T[],
    get: async <T>(sql: string, params: readonly Param[] = []) =>
      (await c.query(toPg(sql), params as Param[])).rows[0] as T | undefined,
    run: async (sql: string, params: readonly Param[] = []) =>
      (await c.query(toPg(sql), params as Param[])).rowCount ?? 0,
  };
}

class PgDriver implements Driver {
  readonly dialect = 'postgres' as const;
  readonly lock = { forUpdate: ' FOR UPDATE', skipLocked: ' FOR UPDATE SKIP LOCKED' };
  readonly describe: string;
  private readonly pool: pg.Pool;
  private readonly q: Queryable;

  private constructor(pool: pg.Pool, describe: string) {
    this.pool = pool;
    this.describe = describe;
    this.q = pgQueryable(pool);
  }

  static async open(url: string, schema: string | null): Promise<PgDriver> {
    const base = { connectionString: url, types: pgTypes, connectionTimeoutMillis: 10_000 };
    if (schema) {
      // The schema name passed parseDbUrl's pattern, so quoting it as an identifier is safe.
      const c = new pg.Client(base);
      await c.connect();
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      } catch (e) {
        // Two processes creating the same schema at once: the loser sees a unique violation.
        if ((e as { code?: string }).code !== '23505') throw e;
      } finally {
        await c.end();
      }
    }
    const pool = new pg.Pool({
      ...base,
      max: 10,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    pool.on('error', (e) =>
      process.stderr.write(`feedback db: idle PostgreSQL connection failed: ${e.message}\n`),
    );
    const d = new PgDriver(pool, redact(url) + (schema ? ` (schema ${schema})` : ''));
    await pool.query('SELECT 1');
    return d;
  }

  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return fn(this.q);
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>, opts: { exclusive?: boolean } = {}): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      // 7215: this project's advisory-lock namespace; the second key separates schemas.
      if (opts.exclusive) await c.query('SELECT pg_advisory_xact_lock(7215, hashtext(current_schema()))');
      const out = await fn(pgQueryable(c));
      await c.query('COMMIT');
      return out;
    } catch (e) {
      try {
        await c.query('ROLLBACK');
      } catch (e2) {
        broken = e2 as Error;
      }
      throw e;
    } finally {
      c.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
