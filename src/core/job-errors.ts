// Why a series job failed, and whether trying again can help. Transient: the machine (disk
// full, I/O error, too many open files, inference runtime, memory); the job is retried with
// backoff. Permanent: the data (what the node cannot use however often it tries); the job goes
// to the dead letter at once. Both stay visible and can be requeued by hand.

export type FailureClass = 'transient' | 'permanent';

/** Error codes of the machine, not the data: another attempt may succeed. */
const TRANSIENT_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'EROFS']);

/** The interpolator failed at run time (onnxruntime, a worker): the input may well be fine. */
export class InferenceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceError';
  }
}

export interface Classified {
  failure: FailureClass;
  /** Short, bounded reason for metrics and lists: the error code, "inference", "memory" or "data". */
  reason: string;
}

function codeOf(e: unknown): string | undefined {
  for (let x: unknown = e, depth = 0; x && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function classifyError(e: unknown): Classified {
  const code = codeOf(e);
  if (code && TRANSIENT_CODES.has(code)) return { failure: 'transient', reason: code };
  const msg = e instanceof Error ? e.message : String(e);
  // V8's and onnxruntime's words for memory that could not be had.
  if (e instanceof RangeError && /alloc|memory|buffer/i.test(msg)) return { failure: 'transient', reason: 'memory' };
  if (/out of memory|bad_alloc|failed to allocate/i.test(msg)) return { failure: 'transient', reason: 'memory' };
  if (e instanceof InferenceError) return { failure: 'transient', reason: 'inference' };
  return { failure: 'permanent', reason: code ?? 'data' };
}

/** A series job's failure: the class of its worst stack error (transient wins: retrying helps). */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly failure: FailureClass,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'JobFailure';
  }
}
