// What the stages tell the audit trail (IHE ATNA, PS3.15 A.5): a small event vocabulary and the
// sink they hand it to. The stages only know this file; src/audit/ turns the events into DICOM
// audit messages and sends them (syslog), and node.ts / serve.ts wire the two together. With
// auditing off the sink is `noAudit`. Events carry the patient identifier for the audit
// message only: nothing here is ever logged.

/** One study as an audit participant object: what was transferred or created of it. */
export interface AuditStudy {
  studyInstanceUid: string;
  /** PatientID: the audit message's patient participant object, nowhere else. */
  patientId?: string;
  accessionNumber?: string;
  /** SOP Class UID -> number of instances. */
  sopClasses: Record<string, number>;
}

/** The other end of a DICOM association. */
export interface AuditPeer {
  /** Unknown before an A-ASSOCIATE-RQ (a failed TLS handshake). */
  aeTitle?: string;
  /** IP address or host name. */
  host?: string;
}

/** 0 success, 4 minor failure, 8 serious failure, 12 major failure (PS3.15 A.5.3). */
export type AuditOutcome = 0 | 4 | 8 | 12;

export type AuditEvent =
  /** Application Activity: the node started or is stopping. */
  | { kind: 'application'; action: 'start' | 'stop' }
  /** DICOM Instances Transferred: one association's instances of one study, received. */
  | { kind: 'received'; from: AuditPeer; study: AuditStudy; outcome: AuditOutcome }
  /** DICOM Instances Transferred: one derived series sent to one destination. */
  | { kind: 'sent'; to: AuditPeer; study: AuditStudy; outcome: AuditOutcome }
  /** DICOM Instances Accessed: a derived series was created. */
  | { kind: 'derived'; study: AuditStudy }
  /**
   * Security Alert. node-authentication: an association rejected or a TLS handshake failed
   * (peer = who tried); software-configuration: the configuration loaded, a model reloaded.
   */
  | { kind: 'security'; alert: 'node-authentication' | 'software-configuration'; subject: string; description: string; outcome: AuditOutcome; peer?: AuditPeer };

export interface AuditSink {
  /** Never throws and never waits: the message is spooled and sent in the background. */
  record(event: AuditEvent): void;
}

export const noAudit: AuditSink = { record: () => undefined };

/** Adds one instance of a SOP class to a study's audit record (creating it). */
export function countInstance(studies: Map<string, AuditStudy>, m: { studyInstanceUid: string; sopClassUid: string; patientId?: string; accessionNumber?: string }): void {
  let s = studies.get(m.studyInstanceUid);
  if (!s) {
    s = { studyInstanceUid: m.studyInstanceUid, patientId: m.patientId, accessionNumber: m.accessionNumber, sopClasses: {} };
    studies.set(m.studyInstanceUid, s);
  }
  s.sopClasses[m.sopClassUid] = (s.sopClasses[m.sopClassUid] ?? 0) + 1;
}
