// The IOCM rejection note from a real MR header: dciodvfy finds no error in it, it is a Key
// Object Selection Document titled (113001, DCM) in the study of the header, in a KO series of
// its own, and it lists exactly the rejected instances, in its evidence and in its content.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MR_DIR } from '../helpers/peers.js';
import { dciodvfyErrors, haveTool } from '../helpers/dicom-tools.js';
import { asArray, parsePart10, readPart10, str, writePart10, type NaturalDataset } from '../../src/dicom/dcmjs.js';
import { buildRejectionNote } from '../../src/derive/rejection-note.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const MR_CLASS = '1.2.840.10008.5.1.4.1.1.4';
const KOS_CLASS = '1.2.840.10008.5.1.4.1.1.88.59';
const dir = mkdtempSync(join(tmpdir(), 'rejection-note-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const items = (v: unknown) => asArray(v as NaturalDataset | NaturalDataset[]);

describe('rejection note', async () => {
  const header = (await readPart10(join(ASL, readdirSync(ASL).sort()[0]), { headerOnly: true })).dataset;
  const rejected = { seriesInstanceUid: '2.25.111', seriesNumber: 19001, sopClassUid: MR_CLASS, sopInstanceUids: Array.from({ length: 81 }, (_, i) => `2.25.5000${i + 1}`) };
  const note = buildRejectionNote({ study: header, rejected, seriesInstanceUid: '2.25.222', sopInstanceUid: '2.25.333', rejectedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
  const file = join(dir, 'note.dcm');
  writeFileSync(file, writePart10(note, { sopClassUid: note.SOPClassUID as string, sopInstanceUid: '2.25.333' }));
  const back = parsePart10(writePart10(note, { sopClassUid: note.SOPClassUID as string, sopInstanceUid: '2.25.333' })).dataset;

  it('is a KOS titled Rejected for Quality Reasons, in a KO series of the header study', () => {
    assert.equal(back.SOPClassUID, KOS_CLASS);
    assert.equal(back.Modality, 'KO');
    assert.equal(back.SeriesInstanceUID, '2.25.222');
    assert.equal(back.SOPInstanceUID, '2.25.333');
    assert.equal(back.StudyInstanceUID, header.StudyInstanceUID);
    assert.equal(str(back.PatientID), str(header.PatientID));
    const title = items(back.ConceptNameCodeSequence)[0];
    assert.deepEqual([title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning], ['113001', 'DCM', 'Rejected for Quality Reasons']);
    assert.equal(back.ValueType, 'CONTAINER');
    const tpl = items(back.ContentTemplateSequence)[0];
    assert.deepEqual([tpl.MappingResource, tpl.TemplateIdentifier], ['DCMR', '2010']);
  });

  it('lists exactly the rejected instances in its evidence and its content', () => {
    const ev = items(back.CurrentRequestedProcedureEvidenceSequence);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].StudyInstanceUID, header.StudyInstanceUID);
    const series = items(ev[0].ReferencedSeriesSequence);
    assert.deepEqual(series.map((s) => s.SeriesInstanceUID), ['2.25.111']);
    const evRefs = items(series[0].ReferencedSOPSequence);
    assert.deepEqual(evRefs.map((r) => r.ReferencedSOPInstanceUID), rejected.sopInstanceUids);
    assert.ok(evRefs.every((r) => r.ReferencedSOPClassUID === MR_CLASS));
    const content = items(back.ContentSequence);
    assert.ok(content.every((c) => c.RelationshipType === 'CONTAINS' && c.ValueType === 'IMAGE'));
    assert.deepEqual(content.map((c) => items(c.ReferencedSOPSequence)[0].ReferencedSOPInstanceUID), rejected.sopInstanceUids);
  });

  it('is the same note for the same input', () => {
    const again = buildRejectionNote({ study: header, rejected, seriesInstanceUid: '2.25.222', sopInstanceUid: '2.25.333', rejectedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
    assert.ok(writePart10(again, { sopClassUid: KOS_CLASS, sopInstanceUid: '2.25.333' }).equals(writePart10(note, { sopClassUid: KOS_CLASS, sopInstanceUid: '2.25.333' })));
  });

  it('refuses a series without instances', () => {
    assert.throws(() => buildRejectionNote({ study: header, rejected: { ...rejected, sopInstanceUids: [] }, seriesInstanceUid: '2.25.2', sopInstanceUid: '2.25.3', rejectedAt: new Date() }), /no instances/);
  });

  it('dciodvfy reports no error', { skip: !haveTool('dciodvfy') && 'dciodvfy not installed' }, () => {
    assert.deepEqual(dciodvfyErrors(file), []);
  });
});
