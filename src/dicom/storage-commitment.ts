// Storage Commitment Push Model (PS3.4 Annex J) as plain data: the N-ACTION-RQ's dataset we
// send, the N-EVENT-REPORT-RQ's dataset we receive, and what a report says about the instances
// of one transaction. No sockets here: send/commitment.ts runs the N-ACTION, receive/transport/scp.ts
// takes the report, the outbox matches it to its entry.
import { asArray, SopClass, str, uidFromKey, type NaturalDataset } from './dcmjs.js';

/** The well-known SOP Instance of the Storage Commitment Push Model SOP Class (PS3.4 J.3). */
export const STORAGE_COMMITMENT_SOP_INSTANCE = '1.2.840.10008.1.20.1.1';
export const STORAGE_COMMITMENT_SOP_CLASS = SopClass.StorageCommitmentPushModel;
/** N-ACTION Action Type ID "Request Storage Commitment" (PS3.4 J.3.2). */
export const COMMITMENT_ACTION_TYPE = 1;
/** N-EVENT-REPORT Event Type IDs (PS3.4 J.3.3). */
export const CommitmentEvent = { allCommitted: 1, someFailed: 2 } as const;

export interface SopRef {
  sopClassUid: string;
  sopInstanceUid: string;
}

export interface FailedRef extends SopRef {
  /** Failure Reason (0008,1197), e.g. 0x0110 processing failure, 0x0112 no such object instance. */
  failureReason?: number;
}

/** One N-EVENT-REPORT of a commitment transaction, as read from its dataset. */
export interface CommitmentReport {
  transactionUid: string;
  eventTypeId: number;
  committed: SopRef[];
  failed: FailedRef[];
}

/**
 * The Transaction UID of the n-th commitment request for an outbox entry: the same for the same
 * entry and request number (a crash between saving and sending repeats it), another for the next
 * request (a late report of an earlier one is not mistaken for the current one).
 */
export function commitmentTransactionUid(entryId: string, request: number): string {
  return uidFromKey(`storage-commitment\\${entryId}\\${request}`);
}

/** The N-ACTION-RQ dataset: Transaction UID and one Referenced SOP Sequence item per instance. */
export function commitmentRequestDataset(transactionUid: string, refs: readonly SopRef[]): NaturalDataset {
  if (refs.length === 0) throw new Error('a storage commitment request needs at least one instance');
  return {
    TransactionUID: transactionUid,
    ReferencedSOPSequence: refs.map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid })),
  };
}

function refOf(item: unknown): SopRef | undefined {
  if (!item || typeof item !== 'object') return undefined;
  const o = item as Record<string, unknown>;
  const sopClassUid = str(o.ReferencedSOPClassUID);
  const sopInstanceUid = str(o.ReferencedSOPInstanceUID);
  return sopClassUid && sopInstanceUid ? { sopClassUid, sopInstanceUid } : undefined;
}

/** Reads an N-EVENT-REPORT-RQ's dataset; throws when it is not a commitment result. */
export function parseCommitmentReport(eventTypeId: number, dataset: NaturalDataset | undefined): CommitmentReport {
  if (!dataset) throw new Error('no dataset');
  const transactionUid = str(dataset.TransactionUID);
  if (!transactionUid) throw new Error('no Transaction UID');
  const committedItems = asArray(dataset.ReferencedSOPSequence as unknown);
  const failedItems = asArray(dataset.FailedSOPSequence as unknown);
  const committed = committedItems.map(refOf);
  const failed = failedItems.map((item) => {
    const ref = refOf(item);
    if (!ref) return undefined;
    const reason = (item as Record<string, unknown>).FailureReason;
    const n = Array.isArray(reason) ? reason[0] : reason;
    return typeof n === 'number' ? { ...ref, failureReason: n } : ref;
  });
  if (committed.some((r) => !r) || failed.some((r) => !r)) throw new Error('a sequence item without Referenced SOP Class/Instance UID');
  return { transactionUid, eventTypeId, committed: committed as SopRef[], failed: failed as FailedRef[] };
}

export interface CommitmentMatch {
  /** Every requested instance is committed (with its SOP class) and none failed. */
  complete: boolean;
  /** Requested SOP Instance UIDs that the report does not commit (failed or not mentioned). */
  notCommitted: string[];
  /** Failure reasons the report gives, as hex strings, without repeats. */
  reasons: string[];
}

/** What a report means for the instances its transaction requested. */
export function matchCommitmentReport(requested: readonly SopRef[], report: CommitmentReport): CommitmentMatch {
  const committed = new Map(report.committed.map((r) => [r.sopInstanceUid, r.sopClassUid]));
  const failed = new Set(report.failed.map((r) => r.sopInstanceUid));
  const notCommitted = requested
    .filter((r) => failed.has(r.sopInstanceUid) || committed.get(r.sopInstanceUid) !== r.sopClassUid)
    .map((r) => r.sopInstanceUid);
  const reasons = [...new Set(report.failed.map((r) => (r.failureReason === undefined ? 'no reason' : `0x${r.failureReason.toString(16).padStart(4, '0')}`)))];
  return { complete: notCommitted.length === 0, notCommitted, reasons };
}
