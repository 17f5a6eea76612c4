// The clustered JobQueue: jobs in PostgreSQL, shared by every process of the cluster.
// The same contract as the embedded FsJobQueue (test/cluster/job-queue-contract.test.ts):
//  - one job per (kind, id); an enqueue replaces payload and start time and bumps a revision,
//    so the quiet period is the job's start time, pushed out by every receiver;
//  - lease: the next due job, taken with FOR UPDATE SKIP LOCKED so two workers never get the
//    same one; the lease has an end time on the database's clock, renewed by a heartbeat while
//    the holder lives; a process killed mid-job stops renewing and another worker takes the
//    job when the lease ends (FsJobQueue's equivalent is the restart);
//  - ack/retry apply to the revision that was leased: a job enqueued again while it ran (late
//    instances) stays queued and runs again.
// Why not pg-boss: its jobs cannot have their start time moved once queued (the quiet period
// needs exactly that), and it has no lease heartbeat (timgit/pg-boss#436): an active job is
// failed when expireInSeconds passes, however alive its worker, so a long interpolation on a
// CPU would be run twice or a SIGKILLed worker's job would wait the full expiry.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, JobQueue } from '../core/seams.js';
import type { Db } from './db.js';

const DDL = `
CREATE TABLE IF NOT EXISTS interslice_jobs (
  kind text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  not_before bigint NOT NULL,
  created_at bigint NOT NULL,
  rev integer NOT NULL DEFAULT 1,
  last_error text,
  lease_owner text,
  lease_rev integer,
  lease_until bigint,
  PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS interslice_jobs_due ON interslice_jobs (kind, not_before);
CREATE TABLE IF NOT EXISTS interslice_dead_jobs (
  kind text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  attempts integer NOT NULL,
  created_at bigint NOT NULL,
  rev integer NOT NULL,
  last_error text,
  dead_at bigint NOT NULL,
  PRIMARY KEY (kind, id)
);`;

/** The database's clock in epoch ms: leases are judged by one clock for the whole cluster. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

interface Row {
  kind: string;
  id: string;
  payload: unknown;
  attempts: number;
  not_before: string;
  created_at: string;
  rev: number;
  last_error: string | null;
  dead_at?: string;
}

function toJob<T>(r: Row): Job<T> & { lastError?: string; deadAt?: number } {
  return {
    id: r.id,
    kind: r.kind,
    payload: r.payload as T,
    attempts: r.attempts,
    notBefore: Number(r.not_before ?? 0),
    createdAt: Number(r.created_at),
    ...(r.last_error ? { lastError: r.last_error } : {}),
    ...(r.dead_at ? { deadAt: Number(r.dead_at) } : {}),
  };
}

export interface PgJobQueueOptions {
  /** A lease not renewed for this long is taken over by another process. */
  leaseMs: number;
  /** This process's name in lease_owner (host:pid:random). */
  owner?: string;
}

export class PgJobQueue implements JobQueue {
  readonly owner: string;
  private readonly leaseMs: number;
  /** kind/id -> the revision this process leased. */
  private readonly leased = new Map<string, number>();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    o: PgJobQueueOptions,
  ) {
    this.leaseMs = o.leaseMs;
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  private ready(): Promise<void> {
    return this.db.ensure('jobs', DDL);
  }

  /** Renews this process's leases every leaseMs/3 until close(). */
  startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => void this.renew().catch(() => undefined), Math.max(200, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Extends every lease this process holds; returns how many. */
  async renew(): Promise<number> {
    if (this.leased.size === 0) return 0;
    // Only the jobs this process knows it runs: a lease it lost track of must run out.
    const ids = [...this.leased.keys()];
    const r = await this.db.query(
      `UPDATE interslice_jobs SET lease_until = ${DB_NOW} + $2 WHERE lease_owner = $1 AND kind || '/' || id = ANY($3::text[])`,
      [this.owner, this.leaseMs, ids],
    );
    return r.rowCount ?? 0;
  }

  async enqueue<T>(kind: string, id: string, payload: T, opts: { notBefore?: number } = {}): Promise<void> {
    await this.ready();
    const now = Date.now();
    // A job that has not failed yet keeps the later start time: receivers on several machines
    // push the quiet period out and the last word must not pull it back in.
    await this.db.query(
      `INSERT INTO interslice_jobs (kind, id, payload, not_before, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (kind, id) DO UPDATE SET payload = EXCLUDED.payload, attempts = 0, last_error = NULL, rev = interslice_jobs.rev + 1,
         not_before = CASE WHEN interslice_jobs.attempts = 0 THEN GREATEST(interslice_jobs.not_before, EXCLUDED.not_before) ELSE EXCLUDED.not_before END`,
      [kind, id, JSON.stringify(payload), opts.notBefore ?? now, now],
    );
  }

  async lease<T>(kind: string, now = Date.now()): Promise<Job<T> | undefined> {
    await this.ready();
    // The due job is picked in a CTE, which PostgreSQL evaluates once. (A subquery joined in
    // the UPDATE's FROM may be re-run per row by the planner, each run with SKIP LOCKED finding
    // another job: this process then held several leases and ran one, and the others waited
    // for their lease to end. The cluster benchmark showed it as one job every leaseSeconds.)
    const r = await this.db.query<Row>(
      `WITH due AS (SELECT kind, id FROM interslice_jobs WHERE kind = $1 AND not_before <= $2 AND (lease_until IS NULL OR lease_until < ${DB_NOW})
                    ORDER BY not_before LIMIT 1 FOR UPDATE SKIP LOCKED)
       UPDATE interslice_jobs j SET lease_owner = $3, lease_rev = j.rev, lease_until = ${DB_NOW} + $4
       FROM due WHERE j.kind = due.kind AND j.id = due.id
       RETURNING j.*`,
      [kind, now, this.owner, this.leaseMs],
    );
    const [row, ...extra] = r.rows;
    // Never expected with the CTE; if a plan ever leases more than one, the others go back at once.
    for (const x of extra) await this.release(x);
    if (!row) return undefined;
    this.leased.set(`${kind}/${row.id}`, row.rev);
    this.startHeartbeat();
    return toJob<T>(row);
  }

  private takeLease(job: Job): number | undefined {
    const key = `${job.kind}/${job.id}`;
    const rev = this.leased.get(key);
    this.leased.delete(key);
    return rev;
  }

  /** Removes the job unless it was enqueued again while leased (then it runs again). */
  async ack(job: Job): Promise<void> {
    const rev = this.takeLease(job);
    const del = await this.db.query('DELETE FROM interslice_jobs WHERE kind = $1 AND id = $2 AND rev = $3', [job.kind, job.id, rev ?? -1]);
    if (!del.rowCount) await this.release(job);
  }

  private async release(job: Pick<Job, 'kind' | 'id'>): Promise<void> {
    await this.db.query('UPDATE interslice_jobs SET lease_owner = NULL, lease_rev = NULL, lease_until = NULL WHERE kind = $1 AND id = $2 AND lease_owner = $3', [job.kind, job.id, this.owner]);
  }

  async retry(job: Job, notBefore: number, error: string): Promise<void> {
    const rev = this.takeLease(job);
    const r = await this.db.query(
      `UPDATE interslice_jobs SET attempts = attempts + 1, not_before = $4, last_error = $5, lease_owner = NULL, lease_rev = NULL, lease_until = NULL
       WHERE kind = $1 AND id = $2 AND rev = $3`,
      [job.kind, job.id, rev ?? -1, notBefore, error],
    );
    if (!r.rowCount) await this.release(job); // re-enqueued meanwhile: the newer job stands
  }

  async deadLetter(job: Job, error: string): Promise<void> {
    this.takeLease(job);
    await this.db.tx(async (c) => {
      const r = await c.query<Row>('DELETE FROM interslice_jobs WHERE kind = $1 AND id = $2 RETURNING *', [job.kind, job.id]);
      const cur = r.rows[0];
      if (!cur) return;
      await c.query(
        `INSERT INTO interslice_dead_jobs (kind, id, payload, attempts, created_at, rev, last_error, dead_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (kind, id) DO UPDATE SET payload = EXCLUDED.payload, attempts = EXCLUDED.attempts, rev = EXCLUDED.rev, last_error = EXCLUDED.last_error, dead_at = EXCLUDED.dead_at`,
        [cur.kind, cur.id, JSON.stringify(cur.payload), cur.attempts + 1, cur.created_at, cur.rev, error, Date.now()],
      );
    });
  }

  async requeueDead(kind: string, id: string): Promise<boolean> {
    await this.ready();
    return this.db.tx(async (c) => {
      const r = await c.query<Row>('DELETE FROM interslice_dead_jobs WHERE kind = $1 AND id = $2 RETURNING *', [kind, id]);
      const dead = r.rows[0];
      if (!dead) return false;
      await c.query(
        `INSERT INTO interslice_jobs (kind, id, payload, not_before, created_at, rev) VALUES ($1, $2, $3, $4, $5, $6 + 1)
         ON CONFLICT (kind, id) DO UPDATE SET payload = EXCLUDED.payload, attempts = 0, last_error = NULL, not_before = EXCLUDED.not_before,
           rev = GREATEST(interslice_jobs.rev, EXCLUDED.rev) + 1`,
        [kind, id, JSON.stringify(dead.payload), Date.now(), dead.created_at, dead.rev],
      );
      return true;
    });
  }

  async has(kind: string, id: string): Promise<boolean> {
    await this.ready();
    const r = await this.db.query('SELECT 1 FROM interslice_jobs WHERE kind = $1 AND id = $2', [kind, id]);
    return (r.rowCount ?? 0) > 0;
  }

  async list<T>(kind: string, dead = false): Promise<(Job<T> & { lastError?: string; deadAt?: number })[]> {
    await this.ready();
    const r = await this.db.query<Row>(`SELECT * FROM ${dead ? 'interslice_dead_jobs' : 'interslice_jobs'} WHERE kind = $1 ORDER BY created_at`, [kind]);
    return r.rows.map((row) => toJob<T>(row));
  }

  async depth(): Promise<Record<string, { queued: number; leased: number; dead: number }>> {
    await this.ready();
    const out: Record<string, { queued: number; leased: number; dead: number }> = {};
    const live = await this.db.query<{ kind: string; leased: boolean; n: string }>(
      `SELECT kind, (lease_until IS NOT NULL AND lease_until >= ${DB_NOW}) AS leased, count(*) AS n FROM interslice_jobs GROUP BY 1, 2`,
    );
    const dead = await this.db.query<{ kind: string; n: string }>('SELECT kind, count(*) AS n FROM interslice_dead_jobs GROUP BY 1');
    const slot = (k: string) => (out[k] ??= { queued: 0, leased: 0, dead: 0 });
    for (const r of live.rows) slot(r.kind)[r.leased ? 'leased' : 'queued'] += Number(r.n);
    for (const r of dead.rows) slot(r.kind).dead += Number(r.n);
    return out;
  }
}
