// The outbox's entries in PostgreSQL, shared by every process of a cluster (see OutboxStore in
// src/send/outbox-store.ts). The entry itself is a jsonb document; the columns beside it are
// what the queries select on. A claim runs under a transaction-level advisory lock on the
// destination, so counting its live leases and taking an entry cannot interleave with another
// process's claim: the association limit holds cluster-wide. Lease times are the database's
// clock (one clock for every process); nextAttemptAt is the enqueuing process's, as before.
import type { Db } from './db.js';
import { entryData, type OutboxEntry, type OutboxState, type OutboxStore } from '../send/outbox-store.js';

const DDL = `
CREATE TABLE IF NOT EXISTS outbox (
  id text PRIMARY KEY,
  destination text NOT NULL,
  state text NOT NULL,
  next_attempt_at bigint NOT NULL,
  created_at bigint NOT NULL,
  transaction_uid text,
  revision bigint NOT NULL,
  lease_owner text,
  lease_until timestamptz,
  entry jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (destination, state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_transaction ON outbox (transaction_uid) WHERE transaction_uid IS NOT NULL;
`;

const COLS = 'state, revision, lease_owner, lease_until, entry';
/** 'sending' under no lease or an expired one: its sender is gone. */
const LEASE_EXPIRED = "(state = 'sending' AND (lease_until IS NULL OR lease_until <= clock_timestamp()))";
/** A lease's end, leaseMs (the parameter named) from now. */
const leaseFrom = (param: string) => `clock_timestamp() + ${param}::float8 * interval '1 millisecond'`;

interface Row {
  state: OutboxState;
  revision: string;
  lease_owner: string | null;
  lease_until: Date | null;
  entry: OutboxEntry;
}

function toEntry(r: Row): OutboxEntry {
  return {
    ...r.entry,
    state: r.state,
    revision: Number(r.revision),
    ...(r.lease_owner && r.lease_until ? { lease: { owner: r.lease_owner, until: r.lease_until.getTime() } } : {}),
  };
}

/** The indexed columns of an entry, after id: $2.. in the statements below. */
const columns = (e: OutboxEntry) => [e.destination, e.state, e.nextAttemptAt, e.createdAt, e.commitment?.transactionUid ?? null, JSON.stringify(entryData(e))];

export class PgOutboxStore implements OutboxStore {
  constructor(private readonly db: Db) {}

  async list(): Promise<OutboxEntry[]> {
    return this.select('ORDER BY created_at, id');
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    return (await this.select('WHERE id = $1', [id]))[0];
  }

  async save(e: OutboxEntry): Promise<OutboxEntry | undefined> {
    await this.ready();
    const r = e.revision === undefined
      ? await this.db.query<{ revision: string }>(
        `INSERT INTO outbox (id, destination, state, next_attempt_at, created_at, transaction_uid, entry, revision)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (id) DO NOTHING RETURNING revision`,
        [e.id, ...columns(e)],
      )
      : await this.db.query<{ revision: string }>(
        `UPDATE outbox SET destination = $2, state = $3, next_attempt_at = $4, created_at = $5, transaction_uid = $6, entry = $7,
           revision = revision + 1, lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND revision = $8 RETURNING revision`,
        [e.id, ...columns(e), e.revision],
      );
    return r.rows[0] ? { ...entryData(e), revision: Number(r.rows[0].revision) } : undefined;
  }

  async pending(now: number): Promise<OutboxEntry[]> {
    return this.select(`WHERE (state = 'queued' AND next_attempt_at <= $1) OR ${LEASE_EXPIRED} OR state = 'committing'`, [now]);
  }

  async claim(destination: string, owner: string, leaseMs: number, limit: number, now: number): Promise<OutboxEntry | undefined> {
    await this.ready();
    return this.db.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('interslice-outbox'), hashtext($1))", [destination]);
      const live = await c.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outbox WHERE destination = $1 AND state = 'sending' AND lease_until > clock_timestamp()",
        [destination],
      );
      if (live.rows[0].n >= limit) return undefined;
      const r = await c.query<Row>(
        `SELECT ${COLS} FROM outbox WHERE destination = $1 AND ((state = 'queued' AND next_attempt_at <= $2) OR ${LEASE_EXPIRED})
         ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [destination, now],
      );
      if (!r.rows[0]) return undefined;
      const claimed: OutboxEntry = { ...entryData(toEntry(r.rows[0])), state: 'sending', updatedAt: now };
      const u = await c.query<{ revision: string; lease_until: Date }>(
        `UPDATE outbox SET state = 'sending', entry = $2, revision = revision + 1, lease_owner = $3, lease_until = ${leaseFrom('$4')}
         WHERE id = $1 RETURNING revision, lease_until`,
        [claimed.id, JSON.stringify(claimed), owner, leaseMs],
      );
      return { ...claimed, revision: Number(u.rows[0].revision), lease: { owner, until: u.rows[0].lease_until.getTime() } };
    });
  }

  async renew(claimed: OutboxEntry, leaseMs: number): Promise<boolean> {
    await this.ready();
    const r = await this.db.query(
      `UPDATE outbox SET lease_until = ${leaseFrom('$4')}
       WHERE id = $1 AND revision = $2 AND lease_owner = $3 AND state = 'sending'`,
      [claimed.id, claimed.revision, claimed.lease?.owner ?? null, leaseMs],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async committing(transactionUid: string): Promise<OutboxEntry | undefined> {
    return (await this.select("WHERE state = 'committing' AND transaction_uid = $1", [transactionUid]))[0];
  }

  async remove(id: string): Promise<boolean> {
    await this.ready();
    const r = await this.db.query("DELETE FROM outbox WHERE id = $1 AND state IN ('done', 'dead')", [id]);
    return (r.rowCount ?? 0) > 0;
  }

  private async select(where: string, values: unknown[] = []): Promise<OutboxEntry[]> {
    await this.ready();
    return (await this.db.query<Row>(`SELECT ${COLS} FROM outbox ${where}`, values)).rows.map(toEntry);
  }

  private ready(): Promise<void> {
    return this.db.ensure('outbox', DDL);
  }
}
