// The seams between stages. The embedded implementations (local disk, one process) live
// beside the stages that use them; the clustered ones (src/cluster: PostgreSQL and a shared
// storage.dir) implement the same interfaces, so receivers and GPU workers can run on several
// machines. The pipeline reaches the spool, the queue and the outbox only through these.
import type { InstanceMeta } from './types.js';

/** Durable store of received instances, exactly as received. */
export interface Spool {
  /**
   * Streams one instance to durable storage. Resolves only after the bytes are on disk
   * (written, fsynced, renamed into place). `duplicate` is true when this SOP Instance UID
   * was already stored for the series (the new copy replaces nothing and counts once).
   */
  store(input: SpoolInput): Promise<SpoolStored>;
  /** All stored instance files of one series. */
  listSeries(studyUid: string, seriesUid: string): Promise<string[]>;
  /** Removes a series once it is processed and retention allows. */
  removeSeries(studyUid: string, seriesUid: string): Promise<void>;
  /** A series' stable key in the spool (its processed marker is kept under it). */
  seriesKey(studyUid: string, seriesUid: string): string;
  /** One stored file of every series of a study (the SeriesNumbers the study uses). */
  studySeriesSamples(studyUid: string): Promise<string[]>;
  /** Every stored series with its files, sorted (start-up recovery). */
  storedSeries(): Promise<{ key: string; files: string[] }[]>;
  close(): void;
}

export interface SpoolInput {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  /**
   * Dataset bytes as received on the wire (no preamble, no file meta): whole, or streamed as
   * chunks or batches of chunks (a Readable qualifies).
   */
  dataset: AsyncIterable<Buffer | Buffer[]> | Buffer;
  callingAeTitle?: string;
}

export interface SpoolStored {
  path: string;
  bytes: number;
  duplicate: boolean;
}

/** A unit of work handed between stages. */
export interface Job<T = unknown> {
  id: string;
  kind: string;
  payload: T;
  attempts: number;
  /** Epoch ms before which the job must not run (backoff). */
  notBefore: number;
  createdAt: number;
}

/** Durable job queue: a job survives a restart until it is acknowledged. */
export interface JobQueue {
  /** Adds a job; a job with the same id already queued is replaced (idempotent enqueue). */
  enqueue<T>(kind: string, id: string, payload: T, opts?: { notBefore?: number }): Promise<void>;
  /** Next runnable job of a kind, leased to the caller, or undefined. */
  lease<T>(kind: string, now?: number): Promise<Job<T> | undefined>;
  /** Done: removes the job. */
  ack(job: Job): Promise<void>;
  /** Failed: re-queues with a later notBefore and attempts+1. */
  retry(job: Job, notBefore: number, error: string): Promise<void>;
  /** Gives up: moves the job to the dead-letter list, kept visible. */
  deadLetter(job: Job, error: string): Promise<void>;
  /** Whether a job with this id is waiting (queued or leased). */
  has(kind: string, id: string): Promise<boolean>;
  /** Waiting jobs, or (dead) the dead-letter list, each with its last error (and when it died). */
  list<T>(kind: string, dead?: boolean): Promise<(Job<T> & { lastError?: string; deadAt?: number })[]>;
  /** Moves a dead job back to the queue (attempts reset, due now); false when there is none. */
  requeueDead(kind: string, id: string): Promise<boolean>;
  /** Counts per kind and state, for logs and metrics. */
  depth(): Promise<Record<string, { queued: number; leased: number; dead: number }>>;
}

export type InstanceListener = (meta: InstanceMeta, info: { duplicate: boolean; callingAeTitle?: string }) => void;
