// The flat-header reader (src/dicom/flat-header.ts) against dcmjs on the same bytes: what it
// reads must naturalize exactly as dcmjs does, and what it cannot read exactly it must decline.
// (test/receive/header-subset.test.ts runs it over every real file through the receive path.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePart10, SopClass, TransferSyntax, writePart10, type NaturalDataset } from '../../src/dicom/dcmjs.js';
import { parseFlatHeader } from '../../src/dicom/flat-header.js';

const base: NaturalDataset = {
  SpecificCharacterSet: 'ISO_IR 100',
  ImageType: ['ORIGINAL', 'PRIMARY', 'M', 'ND'],
  SOPClassUID: SopClass.MRImageStorage,
  SOPInstanceUID: '1.2.3.4.5',
  Modality: 'MR',
  SeriesDescription: 't1_se_sag',
  SliceThickness: 5,
  ImagePositionPatient: [-120.5, 33, 1e-3],
  InstanceNumber: 7,
  Rows: 256,
  Columns: 192,
  BitsAllocated: 16,
};

const file = (ds: NaturalDataset, ts: string = TransferSyntax.ExplicitVRLittleEndian) =>
  writePart10(ds, { sopClassUid: SopClass.MRImageStorage, sopInstanceUid: '1.2.3.4.5', transferSyntaxUid: ts });

function dcmjsView(buf: Buffer) {
  const p = parsePart10(buf, { headerOnly: true });
  const { _vrMap: _, ...dataset } = p.dataset;
  return { dataset, transferSyntaxUid: p.transferSyntaxUid };
}

for (const ts of [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian]) {
  test(`flat header equals dcmjs's naturalized dataset (${ts})`, () => {
    const buf = file(base, ts);
    const flat = parseFlatHeader(buf);
    assert.ok(flat, 'declined a plain header');
    assert.deepEqual({ dataset: flat.dataset, transferSyntaxUid: flat.transferSyntaxUid }, dcmjsView(buf));
  });
}

test('flat header stops at Pixel Data', () => {
  const buf = file({ ...base, PixelData: new Uint16Array(256 * 192).buffer });
  assert.deepEqual(parseFlatHeader(buf)?.dataset, dcmjsView(buf).dataset);
});

test('flat header declines what only dcmjs reads exactly', () => {
  const cases: [string, NaturalDataset][] = [
    ['a non-ASCII string (the character set decides)', { ...base, SeriesDescription: 'Schädel' }],
    ['a sequence', { ...base, ReferencedImageSequence: [{ ReferencedSOPInstanceUID: '1.2' }] }],
    ['a person name', { ...base, PatientName: 'Doe^Jane' }],
    ['a non-numeric DS', { ...base, SliceThickness: 'thin' }],
    ['several character sets (dcmjs refuses them)', { ...base, SpecificCharacterSet: ['', 'ISO 2022 IR 87'] }],
    ['an ISO 2022 escape', { ...base, SpecificCharacterSet: 'ISO 2022 IR 87', SeriesDescription: '\x1b$B' }],
  ];
  for (const [what, ds] of cases) {
    assert.equal(parseFlatHeader(file(ds)), undefined, what);
  }
  // A private creator element (0029,0010) LO "SIEMENS " after the last (group 0028) element.
  const creator = Buffer.concat([Buffer.from([0x29, 0x00, 0x10, 0x00]), Buffer.from('LO'), Buffer.from([8, 0]), Buffer.from('SIEMENS ')]);
  const withPrivate = Buffer.concat([file(base), creator]);
  assert.ok(parsePart10(withPrivate, { headerOnly: true }).dataset['00290010'] !== undefined, 'the private element is there');
  assert.equal(parseFlatHeader(withPrivate), undefined, 'a private tag');
  assert.equal(parseFlatHeader(file(base, TransferSyntax.DeflatedExplicitVRLittleEndian).subarray(0, 200)), undefined, 'deflated');
  assert.equal(parseFlatHeader(Buffer.from('not dicom')), undefined);
});
