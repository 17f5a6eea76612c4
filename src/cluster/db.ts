// The PostgreSQL connection of a clustered node (cluster.database): one pool per process, and
// each store's tables created on first use under an advisory lock, so processes starting
// together do not race on CREATE TABLE. Without cluster.database nothing here is loaded.
import pg from 'pg';
import type { Logger } from '../core/log.js';

export type Sql = Pick<pg.PoolClient, 'query'>;

export interface Db {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs fn in one transaction (BEGIN/COMMIT, ROLLBACK on a throw). */
  tx<T>(fn: (c: Sql) => Promise<T>): Promise<T>;
  /** Creates a store's tables once per process (idempotent DDL, serialised across processes). */
  ensure(name: string, ddl: string): Promise<void>;
  /**
   * Runs fn holding a cluster-wide lock named `key` (a session advisory lock on a connection of
   * its own: released when fn ends, or by PostgreSQL when this process dies).
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** The database answers a query within 2 s (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Errors that mean "the database cannot be reached now" rather than "this request is wrong". */
export function isDbUnavailable(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (!err) return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(err.code ?? '')) return true;
  // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 08xxx connection exceptions
  if (err.code && (/^08/.test(err.code) || /^57P0[123]$/.test(err.code))) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(err.message ?? '');
}

export function openDb(url: string, log: Logger, o: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: o.max ?? 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // An idle client losing its server (PostgreSQL restarted) must not crash the process.
  pool.on('error', (e) => log.warn('database connection lost', { event: 'db-error', error: e.message }));
  const ensured = new Map<string, Promise<void>>();
  /**
   * A client of our own for fn. A checked-out client between two queries has no listener of
   * the pool's: if its server goes away then, its 'error' event would be uncaught and end the
   * process. So it gets one for as long as we hold it, and a client that failed is destroyed
   * on release rather than pooled again.
   */
  const withClient = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    let lost: Error | undefined;
    const onError = (e: Error) => {
      lost = e;
      log.warn('database connection lost', { event: 'db-error', error: e.message });
    };
    c.on('error', onError);
    try {
      return await fn(c);
    } finally {
      c.off('error', onError);
      c.release(lost);
    }
  };
  const db: Db = {
    query: (text, values) => pool.query(text, values as unknown[]),
    tx: (fn) =>
      withClient(async (c) => {
        try {
          await c.query('BEGIN');
          const out = await fn(c);
          await c.query('COMMIT');
          return out;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      }),
    ensure(name, ddl) {
      let p = ensured.get(name);
      if (!p) {
        p = db.tx(async (c) => {
          await c.query("SELECT pg_advisory_xact_lock(hashtext('interslice-schema'))");
          await c.query(ddl);
        });
        p.catch(() => ensured.delete(name)); // try again on the next use
        ensured.set(name, p);
      }
      return p;
    },
    withLock: (key, fn) =>
      withClient(async (c) => {
        await c.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
        try {
          return await fn();
        } finally {
          await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
        }
      }),
    async ping() {
      try {
        await Promise.race([pool.query('SELECT 1'), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
        return true;
      } catch {
        return false;
      }
    },
    close: () => pool.end(),
  };
  return db;
}
