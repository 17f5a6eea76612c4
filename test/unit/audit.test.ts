// The audit trail's pure parts and its spool: escaping (hostile patient IDs and AE titles stay
// well-formed XML and come back unchanged), RFC 5424 header and RFC 5425 framing, and the
// spool's order, bound and survival of a restart. rsyslog end to end: test/hardening/audit.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditMessage, octetFrame, syslogMessage, type AuditSource } from '../../src/audit/messages.js';
import { AuditSpool } from '../../src/audit/spool.js';
import type { SyslogTransport } from '../../src/audit/transport.js';
import { createLogger } from '../../src/core/log.js';
import { kids, parseXml } from '../helpers/xml.js';

const src: AuditSource = { sourceId: 'INTERSLICE@host', aeTitle: 'INTERSLICE', hostName: 'host', processId: 42 };
const log = createLogger({ silent: true });

describe('audit messages', () => {
  it('hostile values stay well-formed and come back unchanged', () => {
    const patientId = `A<&"'>B\n\tC]]>`;
    const xml = auditMessage(
      { kind: 'received', from: { aeTitle: 'EVIL"<AE>', host: '10.0.0.1' }, study: { studyInstanceUid: '1.2.3', patientId, accessionNumber: 'ACC&1', sopClasses: { '1.2.840.10008.5.1.4.1.1.4': 3 } }, outcome: 0 },
      src,
    );
    const doc = parseXml(xml);
    const objs = kids(doc, 'ParticipantObjectIdentification');
    assert.equal(objs.find((o) => o.attrs.ParticipantObjectTypeCode === '1')!.attrs.ParticipantObjectID, patientId);
    const study = objs.find((o) => o.attrs.ParticipantObjectTypeCode === '2')!;
    assert.equal(kids(study, 'Accession')[0].attrs.Number, 'ACC&1');
    assert.equal(kids(study, 'SOPClass')[0].attrs.NumberOfInstances, '3');
    assert.ok(kids(doc, 'ActiveParticipant').some((p) => p.attrs.UserID === 'EVIL"<AE>'));
    assert.ok(!xml.includes('\n'), 'one line');
  });

  it('schema order: EventIdentification, ActiveParticipant, AuditSourceIdentification, ParticipantObjectIdentification', () => {
    const doc = parseXml(auditMessage({ kind: 'derived', study: { studyInstanceUid: '1.2', patientId: 'P', sopClasses: { '1.2.3': 1 } } }, src));
    const order = doc.children.map((c) => c.name);
    assert.deepEqual(order, ['EventIdentification', 'ActiveParticipant', 'AuditSourceIdentification', 'ParticipantObjectIdentification', 'ParticipantObjectIdentification']);
  });

  it('RFC 5424 header (authpriv.notice = 85) and RFC 5425 octet counting in bytes', () => {
    const when = new Date('2024-05-06T07:08:09.123Z');
    const msg = syslogMessage('<AuditMessage>é</AuditMessage>', src, when);
    assert.match(msg, /^<85>1 2024-05-06T07:08:09\.123Z host interslice 42 DICOM\+RFC3881 - \uFEFF<AuditMessage>/);
    const frame = octetFrame(msg);
    const sp = frame.indexOf(0x20);
    assert.equal(Number(frame.subarray(0, sp).toString()), frame.length - sp - 1);
    assert.notEqual(frame.length - sp - 1, msg.length, 'counted in bytes, not characters');
  });
});

describe('audit spool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'interslice-audit-spool-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps messages while the collector is down (bounded, drops counted) and sends them in order after a restart', async () => {
    const down: SyslogTransport = { send: () => Promise.reject(new Error('ECONNREFUSED')), close: () => undefined };
    const first = new AuditSpool({ dir, name: 'test', transport: down, maxMessages: 3, log, retryMinMs: 10_000 });
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) first.add(m);
    await first.close(50);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.msg')).length, 3);
    assert.equal(first.droppedCount, 2);
    const got: string[] = [];
    const up: SyslogTransport = { send: async (m) => void got.push(m), close: () => undefined };
    const second = new AuditSpool({ dir, name: 'test', transport: up, maxMessages: 4, log });
    second.add('m6');
    await second.close(2000);
    assert.deepEqual(got, ['m1', 'm2', 'm3', 'm6']);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.msg')).length, 0);
  });
});
