// Embedded durable job queue: one JSON file per job under <dir>/<kind>/, written crash-
// consistently (temp file, fsync, rename: src/core/durable-fs.ts). Leases live in memory: after a restart every job
// that was not acknowledged runs again, which the stages make safe (they are idempotent).
// When each job may start lives in memory too (read from disk once per kind): the node polls
// every 250 ms, and reading every job file on every poll cost four file reads a second per
// series waiting out its quiet period. The queue is its folder's only writer.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { writeFileDurable } from '../core/durable-fs.js';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Job, JobQueue } from '../core/seams.js';

interface StoredJob<T = unknown> extends Job<T> {
  /** Bumped on every enqueue, so an ack for an older revision does not drop a newer one. */
  rev: number;
  lastError?: string;
  /** Epoch ms the job went to the dead letter. */
  deadAt?: number;
}

/** Job ids may contain anything (UIDs); file names are a hash of the id. */
function fileName(id: string): string {
  return `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`;
}

export class FsJobQueue implements JobQueue {
  private readonly leased = new Map<string, number>(); // kind/file -> rev leased
  /** kind -> job file -> notBefore, for the jobs on disk (see above). */
  private readonly schedules = new Map<string, Promise<Map<string, number>>>();

  constructor(private readonly dir: string) {}

  private kindDir(kind: string, dead = false): string {
    return dead ? join(this.dir, kind, 'dead') : join(this.dir, kind);
  }

  /** The schedule of a kind, read from its folder on first use. */
  private schedule(kind: string): Promise<Map<string, number>> {
    let s = this.schedules.get(kind);
    if (!s) {
      s = (async () => {
        const out = new Map<string, number>();
        const dir = this.kindDir(kind);
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const n of names.filter((x) => x.endsWith('.json'))) {
          const job = await this.readJob(join(dir, n));
          if (job) out.set(n, job.notBefore);
        }
        return out;
      })();
      this.schedules.set(kind, s);
    }
    return s;
  }

  private async readJob<T>(path: string): Promise<StoredJob<T> | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as StoredJob<T>;
    } catch {
      return undefined; // vanished or half-written temp: not a job
    }
  }

  async enqueue<T>(kind: string, id: string, payload: T, opts: { notBefore?: number } = {}): Promise<void> {
    const schedule = await this.schedule(kind);
    const dir = this.kindDir(kind);
    await mkdir(dir, { recursive: true });
    const path = join(dir, fileName(id));
    const prev = await this.readJob<T>(path);
    const job: StoredJob<T> = {
      id,
      kind,
      payload,
      attempts: 0,
      notBefore: opts.notBefore ?? Date.now(),
      createdAt: prev?.createdAt ?? Date.now(),
      rev: (prev?.rev ?? 0) + 1,
    };
    await writeFileDurable(path, JSON.stringify(job));
    schedule.set(fileName(id), job.notBefore);
  }

  /** Leases run one at a time: between reading a due job and marking it leased there are awaits. */
  private leasing: Promise<unknown> = Promise.resolve();

  lease<T>(kind: string, now = Date.now()): Promise<Job<T> | undefined> {
    const next = this.leasing.then(() => this.leaseNow<T>(kind, now));
    this.leasing = next.catch(() => undefined);
    return next;
  }

  private async leaseNow<T>(kind: string, now: number): Promise<Job<T> | undefined> {
    const schedule = await this.schedule(kind);
    const due = [...schedule].filter(([n, at]) => at <= now && !this.leased.has(`${kind}/${n}`)).sort((a, b) => a[1] - b[1]);
    // Only due jobs are read; the file is the truth (an enqueue racing another may have left the
    // schedule a step behind), so a job that is not due after all is re-scheduled and skipped.
    for (const [n] of due) {
      const job = await this.readJob<T>(join(this.kindDir(kind), n));
      if (!job) {
        schedule.delete(n);
        continue;
      }
      if (job.notBefore > now) {
        schedule.set(n, job.notBefore);
        continue;
      }
      this.leased.set(`${kind}/${n}`, job.rev);
      return job;
    }
    return undefined;
  }

  /** Removes the job unless it was enqueued again while leased (then it stays, to run again). */
  async ack(job: Job): Promise<void> {
    const key = `${job.kind}/${fileName(job.id)}`;
    const rev = this.leased.get(key);
    this.leased.delete(key);
    const path = join(this.kindDir(job.kind), fileName(job.id));
    const current = await this.readJob(path);
    if (current && current.rev === rev) {
      await rm(path, { force: true });
      (await this.schedule(job.kind)).delete(fileName(job.id));
    }
  }

  async retry(job: Job, notBefore: number, error: string): Promise<void> {
    const key = `${job.kind}/${fileName(job.id)}`;
    const rev = this.leased.get(key);
    this.leased.delete(key);
    const path = join(this.kindDir(job.kind), fileName(job.id));
    const current = await this.readJob(path);
    if (!current || current.rev !== rev) return; // re-enqueued meanwhile: the newer job stands
    await writeFileDurable(path, JSON.stringify({ ...current, attempts: current.attempts + 1, notBefore, lastError: error }));
    (await this.schedule(job.kind)).set(fileName(job.id), notBefore);
  }

  async deadLetter(job: Job, error: string): Promise<void> {
    const key = `${job.kind}/${fileName(job.id)}`;
    this.leased.delete(key);
    const path = join(this.kindDir(job.kind), fileName(job.id));
    const current = await this.readJob(path);
    if (!current) return;
    await mkdir(this.kindDir(job.kind, true), { recursive: true });
    await writeFileDurable(join(this.kindDir(job.kind, true), fileName(job.id)), JSON.stringify({ ...current, attempts: current.attempts + 1, lastError: error, deadAt: Date.now() }));
    await rm(path, { force: true });
    (await this.schedule(job.kind)).delete(fileName(job.id));
  }

  async requeueDead(kind: string, id: string): Promise<boolean> {
    const deadPath = join(this.kindDir(kind, true), fileName(id));
    const job = await this.readJob(deadPath);
    if (!job) return false;
    const schedule = await this.schedule(kind);
    const now = Date.now();
    const path = join(this.kindDir(kind), fileName(id));
    const current = await this.readJob(path);
    // Queued again first, then taken off the dead list: a crash in between leaves it in both, never in neither.
    await writeFileDurable(path, JSON.stringify({ ...job, attempts: 0, notBefore: now, rev: Math.max(job.rev, current?.rev ?? 0) + 1, lastError: undefined, requeuedFrom: job.lastError }));
    schedule.set(fileName(id), now);
    await rm(deadPath, { force: true });
    return true;
  }

  /** Whether a job with this id is waiting (queued or leased). */
  async has(kind: string, id: string): Promise<boolean> {
    return (await this.readJob(join(this.kindDir(kind), fileName(id)))) !== undefined;
  }

  async list<T>(kind: string, dead = false): Promise<(Job<T> & { lastError?: string; deadAt?: number })[]> {
    const dir = this.kindDir(kind, dead);
    let names: string[] = [];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: StoredJob<T>[] = [];
    for (const n of names) {
      const j = await this.readJob<T>(join(dir, n));
      if (j) out.push(j);
    }
    return out;
  }

  async depth(): Promise<Record<string, { queued: number; leased: number; dead: number }>> {
    const out: Record<string, { queued: number; leased: number; dead: number }> = {};
    let kinds: string[] = [];
    try {
      kinds = await readdir(this.dir);
    } catch {
      return out;
    }
    for (const kind of kinds) {
      // From the schedule and the dead-letter folder's names: no job file is read.
      const queued = (await this.schedule(kind)).size;
      const dead = (await readdir(this.kindDir(kind, true)).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).length;
      const leased = [...this.leased.keys()].filter((k) => k.startsWith(`${kind}/`)).length;
      out[kind] = { queued: queued - leased, leased, dead };
    }
    return out;
  }
}
