// The cluster's database connection: a connection that dies while we hold it (PostgreSQL
// restarted, a backend terminated) fails that transaction or lock, never the process, and the
// pool goes on with fresh connections.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { lazyPostgres, noPostgres } from '../helpers/postgres.js';

describe('cluster database connection', { skip: noPostgres() }, () => {
  const pg = lazyPostgres();
  after(() => pg.close());

  /** Ends the connection `pid` from another one and waits for the holder to hear of it. */
  const terminate = async (db: ReturnType<typeof pg.pool>, pid: number) => {
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 300));
  };

  it('a transaction whose connection is terminated between two queries fails; the pool goes on', async () => {
    const db = pg.pool(await pg.database());
    await assert.rejects(
      db.tx(async (c) => {
        const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await terminate(db, rows[0].pid); // no query of ours in flight: the client sees an 'error' event
      }),
    );
    assert.equal((await db.query<{ x: number }>('SELECT 1 AS x')).rows[0].x, 1);
    await db.tx(async (c) => void (await c.query('SELECT 1')));
  });

  it('a lock whose connection is terminated while held ends with its function; the pool goes on', async () => {
    const db = pg.pool(await pg.database());
    let pid = 0;
    const held = db.withLock('test', async () => {
      const r = await db.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted");
      pid = r.rows[0].pid;
      await terminate(db, pid);
      return 'done';
    });
    assert.equal(await held, 'done');
    assert.ok(pid > 0);
    assert.equal(await db.withLock('test', async () => 'again'), 'again');
  });
});
