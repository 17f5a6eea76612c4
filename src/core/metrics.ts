// How the stages report what they did, without knowing who counts it: they call stageMetrics(),
// and the admin endpoint (src/admin/metrics.ts) installs its Prometheus recorder with
// setStageMetrics. Until one is installed (the `process` command, unit tests) nothing is counted.

export type SendAttemptResult = 'success' | 'failure';
export type SendFinalResult = 'done' | 'dead';

export interface StageMetrics {
  /** An association request was answered: accepted, or rejected (reason = our reject reason). */
  associationAccepted(): void;
  associationRejected(reason: string): void;
  /** An instance was stored in the spool (duplicate: its SOP Instance UID was already there). */
  instanceReceived(opts?: { duplicate?: boolean }): void;
  /** A C-STORE was answered with a failure status (reason: short code, e.g. "sop-class", "disk-full"). */
  instanceRefused(reason: string): void;
  /** The select stage decided about one stack. */
  stackDecision(action: string, code: string): void;
  /** Wall time of one interpolation call (seconds) for a method: linear, cubic, model. */
  inferenceSeconds(method: string, seconds: number): void;
  /**
   * One per-series adaptation of the model and its wall time (seconds): kept (the adapted model
   * is used), not-kept (the held-out check refused it), failed (no usable result: the shipped
   * model is used), reused (an earlier result of the same stack, from the cache).
   */
  adaptation(outcome: 'kept' | 'not-kept' | 'failed' | 'reused', seconds: number): void;
  /** Slices written into derived series that were synthesised (not copies of source slices). */
  slicesSynthesised(count: number): void;
  /** A series job failed: retried (transient) or dead-lettered; reason is a bounded code. */
  jobFailed(outcome: 'retry' | 'dead', reason: string): void;
  /** One C-STORE association attempt towards a destination, and how it went. */
  sendAttempt(destination: string, result: SendAttemptResult): void;
  /** A failed attempt was scheduled again (backoff). */
  sendRetry(destination: string): void;
  /** A derived series reached its final state for a destination. */
  sendResult(destination: string, result: SendFinalResult): void;
}

const noop = (): void => undefined;
const NONE: StageMetrics = {
  associationAccepted: noop,
  associationRejected: noop,
  instanceReceived: noop,
  instanceRefused: noop,
  stackDecision: noop,
  inferenceSeconds: noop,
  adaptation: noop,
  slicesSynthesised: noop,
  jobFailed: noop,
  sendAttempt: noop,
  sendRetry: noop,
  sendResult: noop,
};

let current: StageMetrics = NONE;

export function setStageMetrics(m: StageMetrics | undefined): void {
  current = m ?? NONE;
}

export function stageMetrics(): StageMetrics {
  return current;
}

/** A bounded label for a C-STORE failure status (PS3.4 B.2.3), never free text. */
export function refusalReason(status: number): string {
  switch (status) {
    case 0x0122:
      return 'sop-class-not-supported';
    case 0xa700:
      return 'out-of-resources';
    case 0xa900:
      return 'dataset-does-not-match';
    case 0xc000:
      return 'cannot-understand';
    default:
      return `status-0x${status.toString(16).padStart(4, '0')}`;
  }
}

/** A bounded label for an A-ASSOCIATE-RJ source and reason (PS3.8 9.3.4). */
export function rejectReason(source: number, reason: number): string {
  if (source === 1 && reason === 7) return 'called-ae-not-recognized';
  if (source === 1 && reason === 3) return 'calling-ae-not-recognized';
  if (source === 3 && reason === 2) return 'local-limit-exceeded';
  if (source === 3 && reason === 1) return 'temporary-congestion';
  return `source-${source}-reason-${reason}`;
}
