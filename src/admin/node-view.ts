// What the admin endpoint needs of a running node, and nothing more, so it can be started over
// the real node (fromRunningNode) or over any object that has these few members (tests).
import type { JobQueue, Spool } from '../core/seams.js';
import type { JobRecord, SeriesJob } from '../pipeline/node.js';
import type { StudyRecord } from '../pipeline/derived-registry.js';
import type { AdaptationState } from '../pipeline/adapt-stack.js';
import { jobKey } from './pictures.js';

/** A series job as the node records it. */
export type AdminJob = JobRecord;

/** One outbox entry: a derived series for one destination. Only these fields are read. */
export interface OutboxEntryView {
  /** committing: sent, waiting for the destination's storage commitment report. */
  state: 'queued' | 'sending' | 'committing' | 'done' | 'dead';
  lastError?: string;
  /** The derived series' Series Instance UID (what the node enqueues it under). */
  seriesId?: string;
  destination?: string;
  attempts?: number;
}

export interface AdminNode {
  /** Recent jobs, any order. */
  jobs(): Iterable<AdminJob>;
  queueDepth(): Promise<Record<string, { queued: number; leased: number; dead: number }>>;
  outbox(): Promise<OutboxEntryView[]>;
  /** The DICOM listener is bound and accepting associations. */
  listenerUp(): boolean;
  /** The interpolator is ready (classical methods always are; the ONNX session once loaded). */
  modelLoaded(): boolean;
  /** Names of the configured destinations (checked by C-ECHO for readiness). */
  destinations(): string[];
  /** Clustered: the database answers (a receiver cannot accept instances without it). */
  databaseUp?(): Promise<boolean>;
  /** Per-series adaptation (pipeline.adapt): never makes the node unready, says whether it is available. */
  adaptation?(): AdaptationState;
  /** C-ECHO to a destination; rejects when it does not answer with success. */
  echo(destination: string): Promise<void>;
  /** The received files of a job's series (the source of its pictures); [] when gone. */
  sourceFiles(job: AdminJob): Promise<string[]>;
  /** Series jobs in the dead letter, with their reason. */
  deadLetters(): Promise<DeadLetterView[]>;
  /** Requeues the dead job with this key (jobKey); false when there is none. */
  retryDead(key: string): Promise<boolean>;
  /** Derived series that a later one replaced, and by which. */
  superseded(): Promise<SupersededView[]>;
}

export interface DeadLetterView {
  key: string;
  seriesInstanceUid: string;
  attempts: number;
  /** "transient (ENOSPC): ..." or "permanent (data): ...". */
  error?: string;
  deadAt?: string;
}

export interface SupersededView {
  studyInstanceUid: string;
  sourceSeriesInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber: number;
  supersededBy: string;
  supersededAt?: string;
  reason?: string;
}

export interface RunningNodeLike {
  jobs: Map<string, AdminJob>;
  queue: Pick<JobQueue, 'depth'> & Partial<Pick<JobQueue, 'list' | 'requeueDead'>>;
  registry?: { all(): Promise<StudyRecord[]> };
  spool: Pick<Spool, 'listSeries'>;
  outbox?: { list(): OutboxEntryView[] | Promise<OutboxEntryView[]> };
}

export interface NodeChecks {
  databaseUp?(): Promise<boolean>;
  adaptation?(): AdaptationState;
  listenerUp(): boolean;
  modelLoaded(): boolean;
  destinations: string[];
  echo(destination: string): Promise<void>;
}

/** Adapts the orchestrator's RunningNode (src/pipeline/node.ts) plus the readiness checks. */
export function fromRunningNode(node: RunningNodeLike, checks: NodeChecks): AdminNode {
  return {
    jobs: () => node.jobs.values(),
    queueDepth: () => node.queue.depth(),
    outbox: async () => (node.outbox ? await node.outbox.list() : []),
    listenerUp: checks.listenerUp,
    modelLoaded: checks.modelLoaded,
    ...(checks.databaseUp ? { databaseUp: checks.databaseUp } : {}),
    ...(checks.adaptation ? { adaptation: checks.adaptation } : {}),
    destinations: () => checks.destinations,
    echo: checks.echo,
    async deadLetters() {
      const dead = (await node.queue.list?.<SeriesJob>('series', true)) ?? [];
      return dead.map((j) => ({
        key: jobKey(j.id),
        seriesInstanceUid: j.payload.seriesInstanceUid,
        attempts: j.attempts,
        error: j.lastError,
        deadAt: j.deadAt ? new Date(j.deadAt).toISOString() : undefined,
      }));
    },
    async retryDead(key) {
      const dead = (await node.queue.list?.<SeriesJob>('series', true)) ?? [];
      const job = dead.find((j) => jobKey(j.id) === key);
      return job && node.queue.requeueDead ? node.queue.requeueDead('series', job.id) : false;
    },
    async superseded() {
      const out: SupersededView[] = [];
      for (const st of (await node.registry?.all()) ?? []) {
        for (const d of st.derived) {
          if (!d.supersededBy) continue;
          out.push({
            studyInstanceUid: st.studyInstanceUid,
            sourceSeriesInstanceUid: d.sourceSeriesInstanceUid,
            seriesInstanceUid: d.seriesInstanceUid,
            seriesNumber: d.seriesNumber,
            supersededBy: d.supersededBy,
            supersededAt: d.supersededAt ? new Date(d.supersededAt).toISOString() : undefined,
            reason: d.supersededReason,
          });
        }
      }
      return out.sort((a, b) => (b.supersededAt ?? '').localeCompare(a.supersededAt ?? ''));
    },
    async sourceFiles(job) {
      // Job ids are "<study uid>/<series uid>" (seriesJobId in node.ts).
      const slash = job.id.indexOf('/');
      if (slash < 0) return [];
      try {
        return await node.spool.listSeries(job.id.slice(0, slash), job.id.slice(slash + 1));
      } catch {
        return [];
      }
    },
  };
}
