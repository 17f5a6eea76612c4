// IHE ATNA audit trail end to end: Debian's rsyslog (gtls imtcp, RFC 5425; imudp, RFC 5426) as
// the collector, a real `interslice serve` that receives the ASL series from DCMTK storescu,
// derives (linear) and sends to a DCMTK storescp, then stops. Every message rsyslog wrote must
// parse as XML and carry the PS3.15 A.5.3 elements of its event; the expected codes below are
// the standard's (PS3.15 A.5.3, PS3.16 DCM), written out here, not taken from src/audit.
// A second node starts with rsyslog down: its messages wait in the spool and arrive, in order,
// once rsyslog starts. The node's ordinary log holds no patient name or ID.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { listFiles } from '../helpers/dicom-tools.js';
import { testNodeConfig } from '../helpers/node-config.js';
import { echoscu, freePort, MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { makeCerts, startRsyslog, type Rsyslog } from '../helpers/rsyslog.js';
import { serve, until, type Served } from '../helpers/serve.js';
import { kids, parseXml, type XmlElement } from '../helpers/xml.js';

const ASL = `${MR_DIR}siemens-asl-6mm-thick-7.5mm-spacing`;
// The ASL data's patient (PS3.3 PatientName / PatientID as the files carry them).
const PATIENT_NAME = 'Development';
const PATIENT_ID = '999';
const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

const have = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

interface Audit {
  input: string;
  xml: XmlElement;
  eventId: string;
  typeCode?: string;
  action: string;
  outcome: string;
}

function code(el: XmlElement | undefined, name: string): string | undefined {
  return el ? kids(el, name)[0]?.attrs['csd-code'] : undefined;
}

/** Every message rsyslog wrote, parsed; each must be ours and a whole AuditMessage. */
function audits(rs: Rsyslog): Audit[] {
  return rs.messages().map((m) => {
    assert.equal(m.app, 'interslice');
    assert.equal(m.msgid, 'DICOM+RFC3881');
    const xml = parseXml(m.msg.replace(/^\uFEFF/, ''));
    assert.equal(xml.name, 'AuditMessage');
    const ev = kids(xml, 'EventIdentification');
    assert.equal(ev.length, 1, m.msg);
    const e = ev[0];
    // EventDateTime: an xsd:dateTime with a time zone.
    assert.match(e.attrs.EventDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    const id = kids(e, 'EventID')[0];
    assert.equal(id.attrs.codeSystemName, 'DCM');
    assert.ok(id.attrs.originalText, 'EventID originalText');
    // Required of every message: one or more ActiveParticipant with a UserID and UserIsRequestor,
    // one AuditSourceIdentification with an AuditSourceID.
    const aps = kids(xml, 'ActiveParticipant');
    assert.ok(aps.length >= 1, m.msg);
    for (const ap of aps) {
      assert.ok(ap.attrs.UserID, m.msg);
      assert.match(ap.attrs.UserIsRequestor, /^(true|false)$/);
    }
    const src = kids(xml, 'AuditSourceIdentification');
    assert.equal(src.length, 1);
    assert.ok(src[0].attrs.AuditSourceID);
    return {
      input: m.input,
      xml,
      eventId: id.attrs['csd-code'],
      typeCode: code(e, 'EventTypeCode'),
      action: e.attrs.EventActionCode,
      outcome: e.attrs.EventOutcomeIndicator,
    };
  });
}

const participant = (a: Audit, role: string) => kids(a.xml, 'ActiveParticipant').filter((p) => code(p, 'RoleIDCode') === role);
const objects = (a: Audit, typeCode: string, role: string) =>
  kids(a.xml, 'ParticipantObjectIdentification').filter((o) => o.attrs.ParticipantObjectTypeCode === typeCode && o.attrs.ParticipantObjectTypeCodeRole === role);

/** The study (type 2, role 3, ID type 110180) and patient (type 1, role 1, ID type 2) objects. */
function studyAndPatient(a: Audit): { study: XmlElement; patient: XmlElement; sopClasses: Record<string, number> } {
  const [study, ...moreStudies] = objects(a, '2', '3');
  const [patient, ...morePatients] = objects(a, '1', '1');
  assert.ok(study && moreStudies.length === 0, 'one study object');
  assert.ok(patient && morePatients.length === 0, 'one patient object');
  assert.equal(code(study, 'ParticipantObjectIDTypeCode'), '110180');
  assert.equal(code(patient, 'ParticipantObjectIDTypeCode'), '2');
  const sopClasses: Record<string, number> = {};
  for (const s of kids(study, 'SOPClass')) sopClasses[s.attrs.UID] = Number(s.attrs.NumberOfInstances);
  return { study, patient, sopClasses };
}

describe('IHE ATNA audit trail to rsyslog', { skip: have('rsyslogd') && have('openssl') && have('storescu') ? false : 'rsyslogd, openssl or DCMTK missing' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-audit-'));
  let certs: ReturnType<typeof makeCerts>;
  let pacs: Storescp;
  let studyUid: string;

  before(async () => {
    certs = makeCerts(join(work, 'certs'));
    mkdirSync(join(work, 'pacs'), { recursive: true });
    pacs = await startStorescp(join(work, 'pacs'), { args: ['-su', ''] });
    studyUid = String((await readPart10(listFiles(ASL)[0], { headerOnly: true })).dataset.StudyInstanceUID);
  });

  after(async () => {
    await pacs?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const nodeConfig = (dir: string, syslog: string[]) =>
    testNodeConfig({ work: dir, pipeline: 'method: linear', destinations: [{ name: 'pacs', aeTitle: 'PACS', port: pacs.port }] })
      .map((l) => l.replace('stableSeconds: 2', 'stableSeconds: 1'))
      .map((l) => (l.startsWith('dicom:') ? `dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0, tls: { port: 0, cert: ${certs.cert}, key: ${certs.key} } }` : l))
      .concat([`audit: { syslog: [ ${syslog.join(', ')} ] }`]);

  it('a receive, derive and send cycle writes every message type with its required fields; the log holds no patient data', async () => {
    const dir = join(work, 'cycle');
    mkdirSync(dir);
    const [tlsPort, udpPort] = [await freePort(), await freePort()];
    const rs = await startRsyslog(join(dir, 'rsyslog'), { tlsPort, udpPort, certs });
    let node: Served | undefined;
    try {
      node = await serve({
        work: dir,
        config: nodeConfig(dir, [`{ transport: tls, host: 127.0.0.1, port: ${tlsPort}, ca: ${certs.ca} }`, `{ transport: udp, host: 127.0.0.1, port: ${udpPort} }`]),
      });
      const served = node;
      const tlsDicomPort = Number(served.logs.find((l) => l.message === 'node started')!.tlsPort);
      // A rejected association (wrong called AE) and a failed TLS handshake (plain bytes on the TLS port).
      const rej = await echoscu('127.0.0.1', served.port, { callingAe: 'INTRUDER', calledAe: 'NOT_US' });
      assert.notEqual(rej.code, 0);
      await new Promise<void>((resolve) => {
        const s = net.connect(tlsDicomPort, '127.0.0.1', () => s.end(Buffer.from('not a TLS client hello, just bytes\r\n')));
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      });
      const push = await storescu('127.0.0.1', served.port, [ASL], { callingAe: 'MODALITY' });
      assert.equal(push.code, 0, push.stderr);
      await served.waitFor((l) => l.event === 'send-done', 120_000, 'a derived series delivered');
      await until(() => served.logs.filter((l) => l.message === 'series job finished').length >= 1, 60_000, 'series job finished');
      await new Promise((r) => setTimeout(r, 2000)); // the remaining sends of the job
      await served.stop();
      const stopped = await served.exited;
      assert.equal(stopped.code, 0);

      // What the destination holds: one folder per derived series (storescp -su '').
      const derivedFiles = listFiles(join(work, 'pacs'));
      const derivedSeries = new Map<string, number>();
      for (const f of derivedFiles) {
        const uid = String((await readPart10(f, { headerOnly: true })).dataset.SeriesInstanceUID);
        derivedSeries.set(uid, (derivedSeries.get(uid) ?? 0) + 1);
      }
      assert.ok(derivedSeries.size >= 1, 'derived series at the destination');
      const sentFiles = served.logs.filter((l) => l.event === 'send-done').reduce((n, l) => n + Number(l.files), 0);
      assert.equal(sentFiles, derivedFiles.length);

      await until(() => rs.messages().some((m) => m.input === 'imtcp' && m.msg.includes('110121')), 20_000, 'Application Stop over TLS');
      await new Promise((r) => setTimeout(r, 500));
      const all = audits(rs);
      for (const input of ['imtcp', 'imudp']) {
        const got = all.filter((a) => a.input === input);
        const of = (id: string, type?: string) => got.filter((a) => a.eventId === id && (type === undefined || a.typeCode === type));

        // Application Activity: start first, stop last; the application participant (110150).
        const [start] = of('110100', '110120');
        const [stop] = of('110100', '110121');
        assert.ok(start && stop, `${input}: application start and stop`);
        assert.equal(got[0], start);
        assert.equal(got[got.length - 1], stop);
        for (const a of [start, stop]) {
          assert.equal(a.action, 'E');
          assert.equal(participant(a, '110150').length, 1);
          assert.match(participant(a, '110150')[0].attrs.AlternativeUserID, /AETITLES=INTERSLICE/);
        }

        // Security Alerts: the configuration loaded (software configuration), the association
        // rejected and the TLS handshake (node authentication), each with an alert subject.
        const config = of('110113', '110131');
        const auth = of('110113', '110126');
        assert.equal(config.length, 1, `${input}: configuration alert`);
        assert.equal(auth.length, 2, `${input}: association rejected + TLS failure`);
        for (const a of [...config, ...auth]) {
          assert.equal(a.action, 'E');
          const subject = kids(a.xml, 'ParticipantObjectIdentification');
          assert.equal(subject.length, 1);
          assert.ok(subject[0].attrs.ParticipantObjectID);
          assert.ok(kids(a.xml, 'ActiveParticipant').some((p) => p.attrs.UserID === `INTERSLICE@${p.attrs.NetworkAccessPointID}`), 'the reporting node');
        }
        const intruder = auth.flatMap((a) => kids(a.xml, 'ActiveParticipant')).find((p) => p.attrs.UserID === 'INTRUDER');
        assert.ok(intruder, 'the rejected caller is named');
        assert.equal(intruder.attrs.NetworkAccessPointID, '127.0.0.1');
        assert.equal(intruder.attrs.UserIsRequestor, 'true');
        const why = auth.map((a) => Buffer.from(kids(kids(a.xml, 'ParticipantObjectIdentification')[0], 'ParticipantObjectDetail')[0].attrs.value, 'base64').toString('utf8'));
        assert.ok(why.some((w) => /TLS/.test(w)) && why.some((w) => /reject/i.test(w)), why.join(' | '));

        // DICOM Instances Transferred, received: one association, one study, all its instances.
        const received = of('110104').filter((a) => a.action === 'C');
        assert.equal(received.length, 1, `${input}: one received transfer`);
        const r = received[0];
        assert.equal(r.outcome, '0');
        const [source] = participant(r, '110153');
        const [dest] = participant(r, '110152');
        assert.equal(source.attrs.UserID, 'MODALITY');
        assert.equal(source.attrs.UserIsRequestor, 'true');
        assert.equal(source.attrs.NetworkAccessPointID, '127.0.0.1');
        assert.match(dest.attrs.AlternativeUserID, /AETITLES=INTERSLICE/);
        const rx = studyAndPatient(r);
        assert.equal(rx.study.attrs.ParticipantObjectID, studyUid);
        assert.deepEqual(rx.sopClasses, { [MR_IMAGE_STORAGE]: listFiles(ASL).length });
        assert.equal(rx.patient.attrs.ParticipantObjectID, PATIENT_ID);

        // DICOM Instances Accessed: one per derived series created, its SOP class and count.
        const accessed = of('110103');
        assert.equal(accessed.length, derivedSeries.size, `${input}: one per derived series`);
        const accessedCounts = accessed.map((a) => {
          assert.equal(a.action, 'C');
          const x = studyAndPatient(a);
          assert.equal(x.study.attrs.ParticipantObjectID, studyUid);
          assert.equal(x.patient.attrs.ParticipantObjectID, PATIENT_ID);
          return Object.values(x.sopClasses).reduce((s, n) => s + n, 0);
        });
        assert.deepEqual(accessedCounts.sort(), [...derivedSeries.values()].sort());

        // DICOM Instances Transferred, sent: one per derived series and destination.
        const sent = of('110104').filter((a) => a.action === 'R');
        assert.equal(sent.length, derivedSeries.size, `${input}: one per derived series sent`);
        for (const a of sent) {
          assert.equal(a.outcome, '0');
          assert.equal(participant(a, '110153')[0].attrs.UserIsRequestor, 'true');
          assert.match(participant(a, '110153')[0].attrs.AlternativeUserID, /AETITLES=INTERSLICE/);
          assert.equal(participant(a, '110152')[0].attrs.UserID, 'PACS');
          assert.equal(participant(a, '110152')[0].attrs.NetworkAccessPointID, '127.0.0.1');
          assert.equal(studyAndPatient(a).patient.attrs.ParticipantObjectID, PATIENT_ID);
        }
        assert.deepEqual(
          sent.map((a) => Object.values(studyAndPatient(a).sopClasses)[0]).sort(),
          [...derivedSeries.values()].sort(),
        );
        // Nothing else.
        assert.equal(got.length, 2 + 3 + 1 + 2 * derivedSeries.size, `${input}: ${got.map((a) => `${a.eventId}/${a.typeCode ?? a.action}`).join(' ')}`);
      }

      // The patient is in the audit messages only: not in the node's log (name nor ID).
      const raw = served.raw();
      assert.ok(!raw.includes(PATIENT_NAME), 'PatientName in the log');
      const values: string[] = [];
      const walk = (v: unknown): void => {
        if (v && typeof v === 'object') Object.values(v).forEach(walk);
        else values.push(String(v));
      };
      served.logs.forEach(walk);
      assert.ok(!values.some((v) => v === PATIENT_ID || v.includes(`=${PATIENT_ID}`) || v.includes(`"${PATIENT_ID}"`)), 'PatientID in the log');
      assert.ok(served.logs.some((l) => l.event === 'instance-stored'), 'the log was read');
    } finally {
      await node?.stop();
      await rs.stop();
    }
  });

  it('while the collector is down messages are spooled; they arrive in order once it starts', async () => {
    const dir = join(work, 'down');
    mkdirSync(dir);
    const [tlsPort, udpPort] = [await freePort(), await freePort()];
    const node = await serve({ work: dir, config: nodeConfig(dir, [`{ transport: tls, host: 127.0.0.1, port: ${tlsPort}, ca: ${certs.ca} }`]) });
    let rs: Rsyslog | undefined;
    try {
      await node.waitFor((l) => l.event === 'audit-collector-down', 20_000, 'collector down');
      const rej = await echoscu('127.0.0.1', node.port, { callingAe: 'INTRUDER', calledAe: 'NOT_US' });
      assert.notEqual(rej.code, 0);
      const spoolDir = join(dir, 'var', 'audit');
      const spooled = await until(() => {
        const files = listFiles(spoolDir).filter((f) => f.endsWith('.msg'));
        return files.length >= 3 ? files : undefined;
      }, 10_000, 'three spooled messages');
      assert.equal(spooled!.length, 3);
      rs = await startRsyslog(join(dir, 'rsyslog'), { tlsPort, udpPort, certs });
      const collector = rs;
      await until(() => collector.messages().length >= 3, 60_000, 'spooled messages delivered');
      await node.waitFor((l) => l.event === 'audit-collector-up', 10_000, 'collector up');
      const got = audits(collector);
      assert.deepEqual(got.map((a) => `${a.eventId}/${a.typeCode}`), ['110100/110120', '110113/110131', '110113/110126']);
      assert.equal(readdirSync(readdirSync(spoolDir).map((d) => join(spoolDir, d))[0]).filter((f) => f.endsWith('.msg')).length, 0);
      await node.stop();
      await until(() => collector.messages().length >= 4, 20_000, 'Application Stop');
      assert.equal(audits(collector)[3].typeCode, '110121');
    } finally {
      await node.stop();
      await rs?.stop();
    }
  });
});
