// The series job runner: leases due series jobs from the queue one at a time, runs them through
// assemble/select/interpolate/derive (run-stacks.ts), hands the derived series to the outbox
// and records the outcome. A stack that fails fails the job: a transient failure (disk, I/O,
// inference runtime, memory) is retried with the configured backoff, durably, so it survives a
// restart; a permanent one (data the node cannot use), or a transient one that used up its
// attempts, goes to the dead letter with its reason, from where `interslice jobs retry` or the
// admin API requeues it. Only a finished job is acknowledged and marked processed.
import { cp, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Interpolator, SpacingTarget } from '../core/types.js';
import type { Job, JobQueue, Spool } from '../core/seams.js';
import { classifyError, JobFailure, type FailureClass } from '../core/job-errors.js';
import { stageMetrics } from '../core/metrics.js';
import { failpoint } from '../core/failpoints.js';
import { backoffDelay } from '../send/outbox.js';
import type { SelectRules } from '../select/rules.js';
import { readInstanceMeta } from '../assemble/instance-meta.js';
import { runStacks, type RunResult } from './run-stacks.js';
import type { DerivedRegistry } from './derived-registry.js';
import type { ForStack } from './derive-stack.js';
import type { ProcessedMarkers } from './processed.js';
import { writeRejectionNotes } from './rejection-notes.js';
import { noAudit, type AuditSink, type AuditStudy } from '../core/audit.js';

export interface SeriesJob {
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

export interface JobRecord {
  id: string;
  seriesInstanceUid: string;
  state: 'waiting' | 'running' | 'done' | 'failed' | 'retrying' | 'dead';
  instances: number;
  startedAt?: number;
  finishedAt?: number;
  result?: RunResult;
  error?: string;
  /** transient or permanent, when the job failed. */
  failure?: FailureClass;
  /** Attempts made so far (1 = the first run). */
  attempts?: number;
  /** When a retrying job runs next (epoch ms). */
  nextAttemptAt?: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  initialSeconds: number;
  maxSeconds: number;
}

export interface JobRunnerOptions {
  queue: JobQueue;
  spool: Spool;
  markers: ProcessedMarkers;
  registry: DerivedRegistry;
  /** Runs a series job holding its study's lock (clustered: the study's registry and SeriesNumbers are shared). */
  withStudyLock?<T>(studyUid: string, fn: () => Promise<T>): Promise<T>;
  interpolator: Interpolator;
  /** The interpolator per stack (model by slice thickness, adaptation). */
  forStack?: ForStack;
  rules: SelectRules;
  target: SpacingTarget;
  uidRoot: string | null;
  retry: RetryPolicy;
  /** <storage.dir>/derived: one folder per derived series. */
  derivedRoot: string;
  /** With no destinations, derived series are copied here (one folder each). */
  localOutDir: string;
  destinations: string[];
  /** Destinations that are sent an IOCM rejection note for each derived series superseded. */
  rejectDestinations?: string[];
  outbox: { enqueue(seriesId: string, files: string[], destinations: string[], subject?: AuditStudy): Promise<unknown> };
  /** Audit trail: each derived series created (DICOM Instances Accessed). */
  audit?: AuditSink;
  /** Recent jobs for the admin API, newest last. */
  jobs: Map<string, JobRecord>;
  /** Told when a job finished (true) or will run again (false). */
  onSettled?(id: string, finished: boolean): void;
  log: Logger;
}

/** Job records kept in memory for the admin API; older ones are in the logs. */
export const MAX_JOB_RECORDS = 200;

/** Drops the oldest records (the Map's first keys) beyond MAX_JOB_RECORDS. */
export function trimJobRecords(jobs: Map<string, JobRecord>): void {
  while (jobs.size > MAX_JOB_RECORDS) jobs.delete(jobs.keys().next().value as string);
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

export class JobRunner {
  private running = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: JobRunnerOptions) {}

  get busy(): boolean {
    return this.running;
  }

  start(pollMs = 250): void {
    this.timer = setInterval(() => void this.tick(), pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 50));
  }

  private record(id: string, seriesUid: string): JobRecord {
    const rec = this.o.jobs.get(id) ?? { id, seriesInstanceUid: seriesUid, state: 'waiting', instances: 0 };
    this.o.jobs.delete(id);
    this.o.jobs.set(id, rec); // re-inserted: the Map's order stays oldest -> newest
    trimJobRecords(this.o.jobs);
    return rec;
  }

  async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      for (;;) {
        if (this.stopped) break;
        const job = await this.o.queue.lease<SeriesJob>('series');
        if (!job) break;
        try {
          const lock = this.o.withStudyLock ?? ((_: string, fn: () => Promise<void>) => fn());
          await lock(job.payload.studyInstanceUid, () => this.runJob(job));
          await this.o.queue.ack(job);
          this.o.onSettled?.(job.id, true);
        } catch (e) {
          await this.failed(job, e);
        }
      }
    } catch (e) {
      this.o.log.error('job runner error', { error: (e as Error).message });
    } finally {
      this.running = false;
    }
  }

  private async failed(job: Job<SeriesJob>, e: unknown): Promise<void> {
    const { failure, reason } = e instanceof JobFailure ? e : classifyError(e);
    const error = (e as Error).message;
    const attempt = job.attempts + 1;
    const recorded = `${failure} (${reason}): ${error}`; // what the queue keeps and lists show
    const rec = this.record(job.id, job.payload.seriesInstanceUid);
    Object.assign(rec, { error, failure, attempts: attempt, finishedAt: Date.now() });
    if (failure === 'transient' && attempt < this.o.retry.maxAttempts) {
      const delay = backoffDelay(attempt, { baseMs: this.o.retry.initialSeconds * 1000, maxMs: this.o.retry.maxSeconds * 1000 });
      rec.state = 'retrying';
      rec.nextAttemptAt = Date.now() + delay;
      await this.o.queue.retry(job, rec.nextAttemptAt, recorded);
      this.o.log.warn('series job failed; retrying', { event: 'job-retry', jobId: job.id, failure, reason, attempt, maxAttempts: this.o.retry.maxAttempts, retryInSeconds: delay / 1000, error });
      stageMetrics().jobFailed('retry', reason);
      this.o.onSettled?.(job.id, false);
      return;
    }
    rec.state = 'dead';
    const why = failure === 'transient' ? `transient failure, ${attempt} attempts used` : 'permanent failure';
    // Logged (and counted) once the queue holds it, as a retry above: whoever reads the log line
    // finds the job there.
    await this.o.queue.deadLetter(job, recorded);
    this.o.log.error('series job failed; moved to the dead letter', { event: 'job-dead', jobId: job.id, failure, reason, attempts: attempt, why, error });
    stageMetrics().jobFailed('dead', reason);
    const { studyInstanceUid: st, seriesInstanceUid: se } = job.payload;
    const instances = (await this.o.spool.listSeries(st, se)).length;
    await this.o.markers.write({ jobId: job.id, studyInstanceUid: st, seriesInstanceUid: se, spoolKey: this.o.spool.seriesKey(st, se), instances, derivedSeries: [], failed: true, finishedAt: Date.now() });
    this.o.onSettled?.(job.id, true);
  }

  /**
   * After the series that superseded them: a rejection note for each series it superseded
   * (found in the registry, so a re-run after a crash sends the same notes again, not none).
   */
  private async sendRejectionNotes(studyUid: string, supersededBy: string, studyHeaderFile: string): Promise<string[]> {
    const to = this.o.rejectDestinations ?? [];
    if (to.length === 0) return [];
    const study = await this.o.registry.get(studyUid);
    const notes = await writeRejectionNotes(study, supersededBy, studyHeaderFile, this.o.derivedRoot);
    for (const note of notes) {
      await this.o.outbox.enqueue(note.seriesInstanceUid, [note.file], to);
      this.o.log.info('rejection note queued for the superseded series', { event: 'rejection-note', rejectedSeriesInstanceUid: note.rejects, noteSeriesInstanceUid: note.seriesInstanceUid, destinations: to });
    }
    return notes.map((n) => n.seriesInstanceUid);
  }

  private async runJob(job: Job<SeriesJob>): Promise<void> {
    const { studyInstanceUid, seriesInstanceUid } = job.payload;
    const log = this.o.log;
    const rec = this.record(job.id, seriesInstanceUid);
    Object.assign(rec, { state: 'running', startedAt: Date.now(), attempts: job.attempts + 1, nextAttemptAt: undefined });
    const files = await this.o.spool.listSeries(studyInstanceUid, seriesInstanceUid);
    const metas = [];
    for (const f of files) {
      try {
        metas.push(await readInstanceMeta(f));
      } catch (e) {
        log.warn('stored instance unreadable', { file: f, error: (e as Error).message });
      }
    }
    rec.instances = metas.length;
    const spoolKey = this.o.spool.seriesKey(studyInstanceUid, seriesInstanceUid);
    const before = await this.o.markers.get(spoolKey);
    log.info('series job started', { jobId: job.id, seriesInstanceUid, instances: metas.length, attempt: job.attempts + 1 });
    // SeriesNumbers other series of the study use (as far as this node has seen them).
    const usedSeriesNumbers: number[] = [];
    for (const f of await this.o.spool.studySeriesSamples(studyInstanceUid)) {
      const m = await readInstanceMeta(f).catch(() => undefined);
      if (m?.seriesNumber !== undefined && !m.derivedByUs) usedSeriesNumbers.push(m.seriesNumber);
    }
    const result = await runStacks(metas, {
      target: this.o.target,
      interpolator: this.o.interpolator,
      forStack: this.o.forStack,
      rules: this.o.rules,
      outDir: this.o.derivedRoot,
      log,
      usedSeriesNumbers,
      registry: this.o.registry,
      uidRoot: this.o.uidRoot,
      supersedeReason: before && !before.failed && before.instances < files.length ? 'late instances' : 'changed content (model, settings or source)',
    });
    rec.result = result;
    // What was derived goes out even when another stack of the series failed.
    const notes: string[] = [];
    for (const s of result.stacks) {
      if (!s.derived) continue;
      const first = await readInstanceMeta(s.derived.files[0]);
      const subject: AuditStudy = {
        studyInstanceUid: s.derived.studyInstanceUid,
        patientId: first.patientId,
        accessionNumber: first.accessionNumber,
        sopClasses: { [first.sopClassUid]: s.derived.files.length },
      };
      if (!s.reused) (this.o.audit ?? noAudit).record({ kind: 'derived', study: subject });
      if (this.o.destinations.length === 0) {
        const dest = join(this.o.localOutDir, shortHash(s.derived.seriesInstanceUid));
        await rm(dest, { recursive: true, force: true });
        await cp(dirname(s.derived.files[0]), dest, { recursive: true });
        log.info('derived series kept locally (no destinations)', { derivedSeriesInstanceUid: s.derived.seriesInstanceUid, dir: dest });
      } else {
        await this.o.outbox.enqueue(s.derived.seriesInstanceUid, s.derived.files, this.o.destinations, subject);
        failpoint('after-outbox-enqueue');
        notes.push(...(await this.sendRejectionNotes(studyInstanceUid, s.derived.seriesInstanceUid, s.derived.files[0])));
      }
    }
    const failedStacks = result.stacks.filter((s) => s.error);
    if (failedStacks.length) {
      const transient = failedStacks.find((s) => s.failure === 'transient');
      const worst = transient ?? failedStacks[0];
      throw new JobFailure(`${failedStacks.length} of ${result.stacks.length} stacks failed: ${worst.error}`, transient ? 'transient' : 'permanent', worst.failureReason ?? 'data');
    }
    // Rejection notes are listed too: retention removes their folders and outbox entries with the rest.
    const derivedSeries = [...result.stacks.flatMap((x) => (x.derived ? [x.derived.seriesInstanceUid] : [])), ...notes];
    await this.o.markers.write({
      jobId: job.id,
      studyInstanceUid,
      seriesInstanceUid,
      spoolKey,
      instances: files.length,
      // Earlier runs' series stay listed, so retention also removes the ones superseded since.
      derivedSeries: [...new Set([...(before?.derivedSeries ?? []), ...derivedSeries])],
      finishedAt: Date.now(),
    });
    Object.assign(rec, { state: 'done', finishedAt: Date.now(), error: undefined, failure: undefined });
    log.info('series job finished', {
      jobId: job.id,
      seriesInstanceUid,
      stacks: result.stacks.length,
      processed: result.stacks.filter((s) => s.derived).length,
      seconds: (rec.finishedAt! - rec.startedAt!) / 1000,
    });
  }
}

