// Job records (what each series job did: state, attempts, error, result) in PostgreSQL, so the
// admin API and status page of any process show the cluster's jobs, and a worker's records
// outlive it. The job runner keeps updating its in-memory records as it does embedded; this
// pushes the ones that changed and pulls the other processes' changes, once a second.
import type { Db } from './db.js';
import { MAX_JOB_RECORDS, trimJobRecords, type JobRecord } from '../pipeline/job-runner.js';

const DDL = `
CREATE TABLE IF NOT EXISTS interslice_job_records (
  id text PRIMARY KEY,
  owner text NOT NULL,
  record jsonb NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS interslice_job_records_updated ON interslice_job_records (updated_at);`;

export class JobRecordSync {
  private readonly pushed = new Map<string, string>();
  /** Records last written by another process (pulled, unchanged here since). */
  private readonly theirs = new Set<string>();
  private pulledUpTo = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly jobs: Map<string, JobRecord>,
    private readonly owner: string,
    /** Only processes that run jobs push; every process pulls. */
    private readonly push: boolean,
  ) {}

  start(ms = 1000): void {
    this.timer = setInterval(() => void this.sync().catch(() => undefined), ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sync().catch(() => undefined);
  }

  async sync(): Promise<void> {
    await this.db.ensure('job-records', DDL);
    if (this.push) {
      for (const [id, rec] of this.jobs) {
        if (rec.state === 'waiting') continue; // a receiver's view; the worker's record is the truth
        const json = JSON.stringify(rec);
        if (this.pushed.get(id) === json) continue;
        this.theirs.delete(id); // changed here: this process runs the job now
        await this.db.query(
          `INSERT INTO interslice_job_records (id, owner, record, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, record = EXCLUDED.record, updated_at = EXCLUDED.updated_at`,
          [id, this.owner, json, Date.now()],
        );
        this.pushed.set(id, json);
      }
    }
    const r = await this.db.query<{ id: string; record: JobRecord; updated_at: string }>(
      'SELECT id, record, updated_at FROM interslice_job_records WHERE owner <> $1 AND updated_at > $2 ORDER BY updated_at LIMIT $3',
      [this.owner, this.pulledUpTo, MAX_JOB_RECORDS],
    );
    for (const row of r.rows) {
      this.pulledUpTo = Math.max(this.pulledUpTo, Number(row.updated_at));
      const local = this.jobs.get(row.id);
      if (local?.state === 'running' && !this.theirs.has(row.id)) continue; // this process runs it now
      this.theirs.add(row.id);
      this.jobs.delete(row.id);
      this.jobs.set(row.id, row.record);
      this.pushed.set(row.id, JSON.stringify(row.record)); // not pushed back as ours
    }
    trimJobRecords(this.jobs);
  }
}
