// Storage Commitment Push Model SCU (PS3.4 J.3): one N-ACTION-RQ per request on an association
// of its own, after the instances were stored. The result comes later as an N-EVENT-REPORT-RQ,
// usually on an association the destination opens to our listener (receive/transport/scp.ts), possibly
// on this one while it lingers: then it is answered here and handed to the same callback.
import { readFileMeta } from '../send/file-dataset.js';
import dimse from '../dicom/dimse.js';
import { DimseEvent } from '../dicom/dimse-adapter.js';
import {
  COMMITMENT_ACTION_TYPE, commitmentRequestDataset, parseCommitmentReport, STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE,
  type CommitmentReport, type SopRef,
} from '../dicom/storage-commitment.js';
import { eventReportStatus, EventReportStatus } from '../receive/transport/policy.js';
import { runAssociation, type ScuTimeouts, type StoreDestination } from './scu.js';

export interface CommitmentRequestResult {
  ok: boolean;
  /** N-ACTION-RSP status; undefined when none came. */
  status?: number;
  error?: string;
}

/** Takes a commitment result (from whichever association it came); resolves when it is recorded. */
export type ReportSink = (report: CommitmentReport) => Promise<unknown>;

/** The SOP class and instance of each file, as the storage commitment request lists them. */
export function sopRefsOf(files: readonly string[]): SopRef[] {
  return files.map((f) => {
    const m = readFileMeta(f);
    return { sopClassUid: m.sopClassUid, sopInstanceUid: m.sopInstanceUid };
  });
}

/** Time the association stays open after the N-ACTION-RSP for a report on the same association. */
const LINGER_MS = 2000;

export async function requestCommitment(
  dest: StoreDestination, transactionUid: string, refs: readonly SopRef[], onReport: ReportSink, t: ScuTimeouts = {},
): Promise<CommitmentRequestResult> {
  const client = new dimse.Client();
  const request = new dimse.requests.NActionRequest(STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, COMMITMENT_ACTION_TYPE);
  request.setDataset(new dimse.Dataset(commitmentRequestDataset(transactionUid, refs)));
  let status: number | undefined;
  let comment: string | undefined;
  request.on('response', (r: InstanceType<typeof dimse.responses.NActionResponse>) => {
    status = r.getStatus();
    comment = r.getErrorComment() ?? undefined;
  });
  client.addRequest(request);
  const recorded: Promise<unknown>[] = [];
  client.on(DimseEvent.clientEventReport, (rq: InstanceType<typeof dimse.requests.NEventReportRequest>, reply: (r: InstanceType<typeof dimse.responses.NEventReportResponse>) => void) => {
    const response = dimse.responses.NEventReportResponse.fromRequest(rq);
    let report: CommitmentReport | undefined;
    let parseError: string | undefined;
    try {
      report = parseCommitmentReport(rq.getEventTypeId(), rq.getDataset()?.getElements());
    } catch (e) {
      parseError = e instanceof Error ? e.message : String(e);
    }
    const answer = eventReportStatus({
      affectedSopClassUid: String(rq.getAffectedSopClassUid() ?? ''), affectedSopInstanceUid: String(rq.getAffectedSopInstanceUid() ?? ''), eventTypeId: rq.getEventTypeId(), parseError,
    });
    const done = answer.status === EventReportStatus.success && report ? onReport(report).catch(() => undefined) : Promise.resolve();
    recorded.push(done);
    void done.then(() => {
      response.setStatus(answer.status);
      if (answer.comment) response.setErrorComment(answer.comment);
      reply(response);
    });
  });
  const failure = await runAssociation(client, dest, { ...t, lingerMs: LINGER_MS });
  await Promise.all(recorded);
  if (status === 0) return { ok: true, status };
  const error = status === undefined ? (failure ?? 'no N-ACTION response') : `N-ACTION status 0x${status.toString(16).padStart(4, '0')} ${comment ?? ''}`.trim();
  return { ok: false, status, error };
}
