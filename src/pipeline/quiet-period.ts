// When is a series complete? DICOM has no "end of series" message, so a series is complete after
// pipeline.stableSeconds without a new instance. Every instance pushes its series job's start
// time out to now + stableSeconds in the durable queue; the job is rewritten at most once a
// second per series, and the extra second keeps "no instance for stableSeconds" true for the
// instances in between. An instance for a series whose job already finished is a late instance:
// pipeline.lateInstances says whether it runs the job again or is only kept.
import type { JobQueue } from '../core/seams.js';
import type { Logger } from '../core/log.js';
import type { SeriesJob } from './job-runner.js';

export type LatePolicy = 'rederive' | 'ignore';

export interface QuietPeriodOptions {
  queue: Pick<JobQueue, 'enqueue'>;
  stableMs: number;
  late: LatePolicy;
  /** The series' job finished (and did not end in the dead letter): read once per series. */
  finished(studyUid: string, seriesUid: string): Promise<boolean>;
  /** A series job is (re)queued: for the job records the admin API shows. */
  onQueued?(id: string, seriesUid: string): void;
  /** An instance counted for a series job. */
  onInstance?(id: string): void;
  log: Logger;
  now?: () => number;
  /**
   * How long a series' "finished" answer is trusted (default: for good, since this process's
   * own runner tells it). Clustered, other processes finish jobs: re-read after this long.
   */
  finishedTtlMs?: number;
}

export function seriesJobId(studyUid: string, seriesUid: string): string {
  return `${studyUid}/${seriesUid}`;
}

export class QuietPeriod {
  private readonly lastEnqueued = new Map<string, number>();
  private readonly done = new Map<string, { p: Promise<boolean>; at: number }>();
  private readonly ignoredLogged = new Set<string>();

  constructor(private readonly o: QuietPeriodOptions) {}

  /** The job runner finished (true) or requeued (false) a series job. */
  markFinished(id: string, finished: boolean): void {
    this.done.set(id, { p: Promise.resolve(finished), at: this.now() });
    if (!finished) this.lastEnqueued.delete(id);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private isFinished(study: string, series: string, id: string): Promise<boolean> {
    const hit = this.done.get(id);
    if (hit && this.now() - hit.at <= (this.o.finishedTtlMs ?? Infinity)) return hit.p;
    const p = this.o.finished(study, series).catch(() => false);
    this.done.set(id, { p, at: this.now() });
    return p;
  }

  /** One instance of the series arrived (not a duplicate). */
  async touch(study: string, series: string): Promise<void> {
    const id = seriesJobId(study, series);
    const now = this.now();
    this.o.onInstance?.(id);
    if (await this.isFinished(study, series, id)) {
      if (this.o.late === 'ignore') {
        if (!this.ignoredLogged.has(id)) {
          this.ignoredLogged.add(id);
          this.o.log.info('late instance kept; the derived series is not made again (pipeline.lateInstances: ignore)', { event: 'late-ignored', seriesInstanceUid: series });
        }
        return;
      }
      this.o.log.info('late instance: the series job runs again (pipeline.lateInstances: rederive)', { event: 'late-rederive', seriesInstanceUid: series });
      this.done.set(id, { p: Promise.resolve(false), at: now });
      this.lastEnqueued.delete(id);
    }
    if ((this.lastEnqueued.get(id) ?? 0) > now - 1000) return;
    this.lastEnqueued.set(id, now);
    this.o.onQueued?.(id, series);
    await this.o.queue.enqueue<SeriesJob>('series', id, { studyInstanceUid: study, seriesInstanceUid: series }, { notBefore: now + this.o.stableMs + 1000 });
  }
}
