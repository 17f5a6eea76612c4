// What the admin endpoint needs of a running node, and nothing more, so it can be started over
// the real node (fromRunningNode) or over any object that has these few members (tests).
import type { JobQueue, Spool } from '../core/seams.js';
import type { JobRecord } from '../pipeline/node.js';

/** A series job as the node records it. */
export type AdminJob = JobRecord;

/** One outbox entry: a derived series for one destination. Only these fields are read. */
export interface OutboxEntryView {
  state: 'queued' | 'sending' | 'done' | 'dead';
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
  /** C-ECHO to a destination; rejects when it does not answer with success. */
  echo(destination: string): Promise<void>;
  /** The received files of a job's series (the source of its pictures); [] when gone. */
  sourceFiles(job: AdminJob): Promise<string[]>;
}

export interface RunningNodeLike {
  jobs: Map<string, AdminJob>;
  queue: Pick<JobQueue, 'depth'>;
  spool: Pick<Spool, 'listSeries'>;
  outbox?: { list(): OutboxEntryView[] | Promise<OutboxEntryView[]> };
}

export interface NodeChecks {
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
    destinations: () => checks.destinations,
    echo: checks.echo,
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
