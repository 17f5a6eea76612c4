// DICOM audit messages (PS3.15 A.5, the DICOM audit message schema) from the node's audit
// events: pure functions, XML written by hand with one escape helper. Codes are DCM (PS3.16)
// unless named otherwise; the participant layout follows PS3.15 A.5.3 for each event.
import type { AuditEvent, AuditOutcome, AuditPeer, AuditStudy } from '../core/audit.js';

/** Who writes the messages: this node. */
export interface AuditSource {
  /** AuditSourceID (and our UserID): e.g. INTERSLICE@host. */
  sourceId: string;
  aeTitle: string;
  /** Our machine name (NetworkAccessPointID, type 1). */
  hostName: string;
  processId: number;
}

interface Code {
  code: string;
  system: string;
  text: string;
}

const dcm = (code: string, text: string): Code => ({ code, system: 'DCM', text });

export const EVENT_ID = {
  applicationActivity: dcm('110100', 'Application Activity'),
  instancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  instancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  securityAlert: dcm('110113', 'Security Alert'),
};
const TYPE = {
  start: dcm('110120', 'Application Start'),
  stop: dcm('110121', 'Application Stop'),
  nodeAuthentication: dcm('110126', 'Node Authentication'),
  softwareConfiguration: dcm('110131', 'Software Configuration'),
};
const ROLE = {
  application: dcm('110150', 'Application'),
  destination: dcm('110152', 'Destination Role ID'),
  source: dcm('110153', 'Source Role ID'),
};
const STUDY_ID_TYPE = dcm('110180', 'Study Instance UID');
const PATIENT_ID_TYPE: Code = { code: '2', system: 'RFC-3881', text: 'Patient Number' };
const NODE_ID_TYPE = dcm('110182', 'Node ID');

/** XML text and attribute escaping (and no control characters: one message, one line). */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

function el(name: string, attrs: Record<string, string | number | boolean | undefined>, children: string[] = []): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
  return children.length ? `<${name}${a}>${children.join('')}</${name}>` : `<${name}${a}/>`;
}

const coded = (name: string, c: Code) => el(name, { 'csd-code': c.code, codeSystemName: c.system, displayName: c.text, originalText: c.text });

function eventIdentification(id: Code, action: 'C' | 'R' | 'U' | 'D' | 'E', outcome: AuditOutcome, when: Date, type?: Code): string {
  return el('EventIdentification', { EventActionCode: action, EventDateTime: when.toISOString(), EventOutcomeIndicator: outcome }, [
    coded('EventID', id),
    ...(type ? [coded('EventTypeCode', type)] : []),
  ]);
}

function us(src: AuditSource, requestor: boolean, role?: Code): string {
  return el(
    'ActiveParticipant',
    { UserID: src.sourceId, AlternativeUserID: `AETITLES=${src.aeTitle}`, UserIsRequestor: requestor, NetworkAccessPointID: src.hostName, NetworkAccessPointTypeCode: 1 },
    role ? [coded('RoleIDCode', role)] : [],
  );
}

function peer(p: AuditPeer, requestor: boolean, role?: Code): string {
  const ip = p.host !== undefined && /^[0-9.]+$|:/.test(p.host);
  return el(
    'ActiveParticipant',
    {
      UserID: p.aeTitle || p.host || 'unknown',
      AlternativeUserID: p.aeTitle ? `AETITLES=${p.aeTitle}` : undefined,
      UserIsRequestor: requestor,
      NetworkAccessPointID: p.host,
      NetworkAccessPointTypeCode: p.host === undefined ? undefined : ip ? 2 : 1,
    },
    role ? [coded('RoleIDCode', role)] : [],
  );
}

function auditSource(src: AuditSource): string {
  return el('AuditSourceIdentification', { AuditSourceID: src.sourceId }, [
    el('AuditSourceTypeCode', { 'csd-code': '4', codeSystemName: 'DCM', originalText: 'Application Server process tier in a multi-tier system' }),
  ]);
}

/** The study (type 2 system object, role 3 report) and its patient (type 1 person, role 1 patient). */
function studyAndPatient(s: AuditStudy): string[] {
  const sopClasses = Object.entries(s.sopClasses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([uid, n]) => el('SOPClass', { UID: uid, NumberOfInstances: n }));
  const study = el('ParticipantObjectIdentification', { ParticipantObjectID: s.studyInstanceUid, ParticipantObjectTypeCode: 2, ParticipantObjectTypeCodeRole: 3 }, [
    coded('ParticipantObjectIDTypeCode', STUDY_ID_TYPE),
    ...sopClasses,
    ...(s.accessionNumber ? [el('Accession', { Number: s.accessionNumber })] : []),
  ]);
  const patient = el('ParticipantObjectIdentification', { ParticipantObjectID: s.patientId ?? '', ParticipantObjectTypeCode: 1, ParticipantObjectTypeCodeRole: 1 }, [
    coded('ParticipantObjectIDTypeCode', PATIENT_ID_TYPE),
  ]);
  return [study, patient];
}

/** The DICOM audit message (XML, one line, no declaration) for one event. */
export function auditMessage(e: AuditEvent, src: AuditSource, when = new Date()): string {
  let parts: string[];
  switch (e.kind) {
    case 'application':
      parts = [eventIdentification(EVENT_ID.applicationActivity, 'E', 0, when, e.action === 'start' ? TYPE.start : TYPE.stop), us(src, false, ROLE.application)];
      break;
    case 'received':
      // PS3.15 A.5.3.10: the sender (requestor) is the source, we are the destination.
      parts = [
        eventIdentification(EVENT_ID.instancesTransferred, 'C', e.outcome, when),
        peer(e.from, true, ROLE.source),
        us(src, false, ROLE.destination),
        ...studyAndPatient(e.study),
      ];
      break;
    case 'sent':
      parts = [
        eventIdentification(EVENT_ID.instancesTransferred, 'R', e.outcome, when),
        us(src, true, ROLE.source),
        peer(e.to, false, ROLE.destination),
        ...studyAndPatient(e.study),
      ];
      break;
    case 'derived':
      // PS3.15 A.5.3.9: the process that created the instances.
      parts = [eventIdentification(EVENT_ID.instancesAccessed, 'C', 0, when), us(src, true, ROLE.application), ...studyAndPatient(e.study)];
      break;
    case 'security': {
      // PS3.15 A.5.3.11: we report; a peer that tried to connect performed it; the alert subject.
      const subject = el('ParticipantObjectIdentification', { ParticipantObjectID: e.subject, ParticipantObjectTypeCode: 2 }, [
        coded('ParticipantObjectIDTypeCode', NODE_ID_TYPE),
        el('ParticipantObjectDetail', { type: 'Alert Description', value: Buffer.from(e.description, 'utf8').toString('base64') }),
      ]);
      parts = [
        eventIdentification(EVENT_ID.securityAlert, 'E', e.outcome, when, e.alert === 'node-authentication' ? TYPE.nodeAuthentication : TYPE.softwareConfiguration),
        us(src, !e.peer),
        ...(e.peer ? [peer(e.peer, true)] : []),
        subject,
      ];
      break;
    }
  }
  // Schema order: EventIdentification, ActiveParticipant+, AuditSourceIdentification, ParticipantObjectIdentification*.
  const objects = parts.filter((p) => p.startsWith('<ParticipantObjectIdentification'));
  const rest = parts.filter((p) => !p.startsWith('<ParticipantObjectIdentification'));
  return `<?xml version="1.0" encoding="UTF-8"?><AuditMessage>${rest.join('')}${auditSource(src)}${objects.join('')}</AuditMessage>`;
}

/** RFC 5424 syslog message: facility 10 (security/authorization), severity 5 (notice). */
export function syslogMessage(xml: string, src: AuditSource, when = new Date(), appName = 'interslice'): string {
  const host = src.hostName.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';
  return `<85>1 ${when.toISOString()} ${host} ${appName} ${src.processId} DICOM+RFC3881 - \uFEFF${xml}`;
}

/** RFC 5425 octet-counting frame: the message's length in bytes, a space, the message. */
export function octetFrame(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
