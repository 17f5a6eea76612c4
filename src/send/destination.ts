// A configured destination as the outbox sends to it, and the one place that dispatches on its
// kind: DIMSE C-STORE (scu.ts) or STOW-RS (stow.ts). Both give one StoreResult per file.
import type { Config, Destination } from '../config/schema.js';
import { loadTlsFiles } from '../core/tls-profile.js';
import type { SopRef } from '../dicom/storage-commitment.js';
import { requestCommitment, type CommitmentRequestResult, type ReportSink } from './commitment.js';
import { echo, storeFiles, type StoreDestination, type StoreResult } from './scu.js';
import { authorizationHeader, probeStow, stowFiles, type StowDestination } from './stow.js';

export type OutboxDestination = { name: string } & ((StoreDestination & { kind?: 'dimse'; storageCommitment?: boolean }) | (StowDestination & { kind: 'stowrs' }));

/** Sends files to a destination of either kind (timeoutMs: association/PDU or HTTP response). */
export function sendFiles(dest: OutboxDestination, files: string[], timeoutMs?: number): Promise<StoreResult[]> {
  if (dest.kind === 'stowrs') return stowFiles(dest, files, { timeoutMs });
  return storeFiles(dest, files, timeoutMs === undefined ? {} : { associationMs: timeoutMs, pduMs: timeoutMs });
}

/** Requests storage commitment (N-ACTION) of a DIMSE destination; STOW-RS has none. */
export function commitDelivery(dest: OutboxDestination, transactionUid: string, refs: SopRef[], onReport: ReportSink, timeoutMs?: number): Promise<CommitmentRequestResult> {
  if (dest.kind === 'stowrs') return Promise.resolve({ ok: false, error: 'no storage commitment over STOW-RS' });
  return requestCommitment(dest, transactionUid, refs, onReport, timeoutMs === undefined ? {} : { associationMs: timeoutMs, pduMs: timeoutMs });
}

/** The outbox's view of a configured destination: PEM files read, secrets checked (not kept). */
export function outboxDestination(d: Destination, cfg: Config): OutboxDestination {
  const tls = d.tls ? loadTlsFiles(d.tls, `destinations.${d.name}.tls`) : undefined;
  if (d.kind === 'stowrs') {
    // A missing secret file or variable stops start-up here, not at the first send.
    authorizationHeader(d.auth, `destinations.${d.name}.auth`);
    return { kind: 'stowrs', name: d.name, url: d.url, auth: d.auth, tls, batchSize: d.batchSize };
  }
  return { kind: 'dimse', name: d.name, aeTitle: d.aeTitle, host: d.host, port: d.port, callingAeTitle: cfg.send.callingAeTitle ?? cfg.dicom.aeTitle, tls, storageCommitment: d.storageCommitment };
}

/** Readiness of a destination: C-ECHO for DIMSE, an authenticated OPTIONS for STOW-RS. */
export async function checkDestination(dest: OutboxDestination): Promise<{ ok: boolean; error?: string }> {
  if (dest.kind === 'stowrs') return probeStow(dest);
  const r = await echo(dest.host, dest.port, { callingAeTitle: dest.callingAeTitle, calledAeTitle: dest.aeTitle });
  return r.ok ? r : { ok: false, error: r.error ?? `status 0x${(r.status ?? 0).toString(16)}` };
}
