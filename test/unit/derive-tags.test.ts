// Every row of ../shared/docs/dicom-node-reference.md section 4, asserted on datasets built
// from real source headers in ../shared/data/mr.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { OutputSlice, Vec3 } from '../../src/core/types.js';
import { asArray, num, nums, str, type NaturalDataset } from '../../src/dicom/dcmjs.js';
import {
  MANUFACTURER, buildDerivedDataset, derivedSeriesDescription, derivedSeriesNumber, sourcePixelModule,
  type StackGeometry,
} from '../../src/derive/tags.js';
import { ds, isEmpty } from '../../src/derive/values.js';
import { planOutputSlices, planSpacing } from '../../src/core/plan.js';
import { PACKAGE_VERSION } from '../../src/core/version.js';
import { cross, dot, loadFixture, type Fixture } from '../derive/fixtures.js';

const MR = '1.2.840.10008.5.1.4.1.1.4';

function build(fx: Fixture, plan: OutputSlice[], k: number, header: NaturalDataset = fx.referenceHeader): NaturalDataset {
  const geometry: StackGeometry = {
    orientation: fx.stack.orientation,
    normal: fx.stack.normal,
    origin: fx.stack.slices[0].position,
    originDistance: fx.stack.slices[0].distance,
    pixelSpacing: fx.stack.pixelSpacing,
  };
  const refs = fx.stack.slices.map((s) => ({
    sopClassUid: s.instance.sopClassUid,
    sopInstanceUid: s.instance.sopInstanceUid,
    frameNumber: s.instance.numberOfFrames > 1 ? s.frame + 1 : undefined,
  }));
  const out = plan[k];
  const pixel = sourcePixelModule(header, fx.stack.slices[0].frame);
  return buildDerivedDataset({
    source: header,
    sourceFrameIndex: fx.stack.slices[0].frame,
    geometry,
    distance: out.distance,
    instanceNumber: k + 1,
    sources: out.sourceIndex !== undefined ? [refs[out.sourceIndex]] : [refs[out.between!.lower], refs[out.between!.upper]],
    seriesInstanceUid: '2.25.1',
    sopInstanceUid: `2.25.1${k}`,
    seriesNumber: derivedSeriesNumber(header),
    seriesDescription: derivedSeriesDescription(header, planSpacing(plan), 'cubic'),
    spacingMm: planSpacing(plan),
    derivationDescription: 'Interslice test: cubic interpolation, factor 3',
    softwareVersion: PACKAGE_VERSION,
    pixel,
    pixelData: new ArrayBuffer(pixel.rows * pixel.columns * 2),
    createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
  });
}

const code = (seq: unknown) => {
  const c = asArray(seq as NaturalDataset[])[0];
  return [c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning];
};

describe('buildDerivedDataset: section 4 on the 36 degree oblique Canon series', () => {
  let fx: Fixture;
  let plan: OutputSlice[];
  let all: NaturalDataset[];
  before(async () => {
    fx = await loadFixture('canon-axial-oblique-36deg');
    plan = planOutputSlices(fx.volume.distances, { factor: 3 });
    all = plan.map((_, k) => build(fx, plan, k));
  });

  it('new SOP Instance and Series UIDs; classic MR Image Storage', () => {
    const src = fx.referenceHeader;
    for (const d of all) {
      assert.equal(d.SOPClassUID, MR);
      assert.notEqual(d.SeriesInstanceUID, src.SeriesInstanceUID);
      assert.ok(!fx.stack.slices.some((s) => s.instance.sopInstanceUid === d.SOPInstanceUID));
    }
    assert.equal(new Set(all.map((d) => d.SOPInstanceUID)).size, all.length);
  });

  it('patient and study modules and FrameOfReferenceUID kept', () => {
    const src = fx.referenceHeader;
    for (const k of ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyInstanceUID', 'StudyDate', 'StudyTime', 'StudyID', 'AccessionNumber', 'ReferringPhysicianName', 'FrameOfReferenceUID']) {
      if (isEmpty(src[k])) assert.ok(isEmpty(all[1][k]) && k in all[1], `${k} present, empty`);
      else assert.deepEqual(all[1][k], src[k], k);
    }
    assert.ok(str(all[1].FrameOfReferenceUID));
  });

  it('ImageOrientationPatient is the source stack\'s on every slice', () => {
    const iop = nums(fx.referenceHeader.ImageOrientationPatient, 6)!;
    for (const d of all) nums(d.ImageOrientationPatient, 6)!.forEach((v, i) => assert.ok(Math.abs(v - iop[i]) < 1e-7));
  });

  it('ImagePositionPatient: on the source line between its neighbours, tilted 36 degrees, source positions kept', () => {
    const iop = nums(fx.referenceHeader.ImageOrientationPatient, 6)!;
    const n = cross(iop.slice(0, 3), iop.slice(3, 6));
    const tilt = (Math.acos(Math.abs(n[2]) / Math.hypot(...n)) * 180) / Math.PI;
    assert.ok(Math.abs(tilt - 36) < 1, `tilt ${tilt}`);
    plan.forEach((p, k) => {
      const ipp = nums(all[k].ImagePositionPatient, 3)!;
      let expected: Vec3;
      if (p.sourceIndex !== undefined) expected = fx.positions[p.sourceIndex];
      else {
        // Independently: linear interpolation of the stored source IPPs, no normal involved.
        const { lower, upper, t } = p.between!;
        const a = fx.positions[lower];
        const b = fx.positions[upper];
        expected = [0, 1, 2].map((i) => a[i] + t * (b[i] - a[i])) as Vec3;
      }
      ipp.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 0.01, `slice ${k} axis ${i}: ${v} vs ${expected[i]}`));
    });
    // Consecutive positions step by exactly the new spacing along the normal, the way the source runs.
    const first = nums(all[0].ImagePositionPatient, 3)!;
    const second = nums(all[1].ImagePositionPatient, 3)!;
    const step = [0, 1, 2].map((i) => second[i] - first[i]);
    assert.ok(Math.abs(dot(step, n) - planSpacing(plan)) < 1e-4);
    assert.ok(Math.abs(Math.hypot(...step) - 1) < 1e-3);
    const srcRun = [0, 1, 2].map((i) => fx.positions[fx.positions.length - 1][i] - fx.positions[0][i]);
    assert.ok(dot(step, srcRun) > 0);
  });

  it('SpacingBetweenSlices is the new spacing; SliceThickness keeps the source nominal value', () => {
    for (const d of all) {
      assert.ok(Math.abs(num(d.SpacingBetweenSlices)! - 1) < 1e-4);
      assert.equal(num(d.SliceThickness), num(fx.referenceHeader.SliceThickness));
    }
  });

  it('SliceLocation is IPP . normal, consistent across the series', () => {
    const n = fx.stack.normal;
    const locs = all.map((d) => num(d.SliceLocation)!);
    all.forEach((d, k) => assert.ok(Math.abs(locs[k] - dot(nums(d.ImagePositionPatient, 3)!, n)) < 1e-3));
    for (let k = 1; k < locs.length; k++) assert.ok(Math.abs(locs[k] - locs[k - 1] - 1) < 1e-3);
  });

  it('InstanceNumber as given (1..N)', () => {
    assert.deepEqual(all.map((d) => num(d.InstanceNumber)), plan.map((_, k) => k + 1));
  });

  it('ImageType DERIVED\\SECONDARY then the source values from 3 on', () => {
    assert.deepEqual(asArray(all[0].ImageType), ['DERIVED', 'SECONDARY', ...asArray(fx.referenceHeader.ImageType).slice(2)]);
  });

  it('DerivationDescription and DerivationCodeSequence (113085, DCM, Spatial resampling)', () => {
    assert.match(all[0].DerivationDescription, /^Interslice/);
    assert.deepEqual(code(all[0].DerivationCodeSequence), ['113085', 'DCM', 'Spatial resampling']);
  });

  it('SourceImageSequence: the source images of each slice, purpose 121322', () => {
    const src = all[0].SourceImageSequence;
    assert.equal(src.length, 1);
    assert.equal(src[0].ReferencedSOPInstanceUID, fx.stack.slices[0].instance.sopInstanceUid);
    assert.equal(src[0].ReferencedSOPClassUID, MR);
    assert.equal(src[0].ReferencedFrameNumber, undefined);
    assert.deepEqual(code(src[0].PurposeOfReferenceCodeSequence), ['121322', 'DCM', 'Source image for image processing operation']);
    const mid = all[1].SourceImageSequence.map((s: NaturalDataset) => s.ReferencedSOPInstanceUID);
    assert.deepEqual(mid, [fx.stack.slices[0].instance.sopInstanceUid, fx.stack.slices[1].instance.sopInstanceUid]);
  });

  it('ReferencedSeriesSequence names the source series and the cited instances', () => {
    const r = all[1].ReferencedSeriesSequence;
    assert.equal(r.length, 1);
    assert.equal(r[0].SeriesInstanceUID, fx.referenceHeader.SeriesInstanceUID);
    assert.equal(r[0].ReferencedInstanceSequence.length, 2);
    assert.equal(all[1].StudyInstanceUID, fx.referenceHeader.StudyInstanceUID);
  });

  it('ContributingEquipmentSequence: 109102 Processing Equipment, Interslice, version, date-time', () => {
    const c = all[0].ContributingEquipmentSequence[0];
    assert.deepEqual(code(c.PurposeOfReferenceCodeSequence), ['109102', 'DCM', 'Processing Equipment']);
    assert.equal(c.Manufacturer, MANUFACTURER);
    assert.ok(str(c.ManufacturerModelName));
    assert.equal(c.SoftwareVersions, PACKAGE_VERSION);
    assert.equal(c.ContributionDateTime, '20260102030405.006+0000');
  });

  it('new SeriesNumber (source + 1000) and a SeriesDescription that says it is interpolated', () => {
    assert.equal(num(all[0].SeriesNumber), num(fx.referenceHeader.SeriesNumber)! + 1000);
    assert.equal(all[0].SeriesDescription, 'DTI_PA-ALL_20d [Interslice interpolated 1.0mm cubic]');
    assert.ok(all[0].SeriesDescription.length <= 64);
    assert.equal(derivedSeriesDescription({ SeriesDescription: 'asl' }, 0.9375, 'linear'), 'asl [Interslice interpolated 0.94mm linear]');
    assert.equal(derivedSeriesDescription({ SeriesDescription: 'x'.repeat(80) }, 2, 'cubic').length, 64);
  });

  it('pixel module of the source kept; no private attributes carried', () => {
    const s = fx.referenceHeader;
    for (const k of ['Rows', 'Columns', 'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'PhotometricInterpretation']) assert.equal(all[0][k], s[k], k);
    assert.equal(all[0].SamplesPerPixel, 1);
    // The source states the identity (1, 0): the classic MR IOD has no rescale, none is written.
    assert.equal(num(s.RescaleSlope), 1);
    assert.equal(num(s.RescaleIntercept), 0);
    for (const k of ['RescaleSlope', 'RescaleIntercept', 'RescaleType']) assert.ok(!(k in all[0]), k);
    assert.ok(Object.keys(s).some((k) => /^[0-9A-F]{8}$/.test(k)), 'source has private tags');
    assert.ok(!Object.keys(all[0]).some((k) => /^[0-9A-F]{8}$/i.test(k)));
  });

  it('LossyImageCompression 01 is carried forward from a lossy source', () => {
    assert.equal(all[0].LossyImageCompression, fx.referenceHeader.LossyImageCompression);
    const lossy = build(fx, plan, 1, { ...fx.referenceHeader, LossyImageCompression: '01', LossyImageCompressionRatio: 8, LossyImageCompressionMethod: 'ISO_10918_1' });
    assert.equal(lossy.LossyImageCompression, '01');
    assert.equal(lossy.LossyImageCompressionRatio, 8);
    assert.equal(lossy.LossyImageCompressionMethod, 'ISO_10918_1');
  });
});

describe('buildDerivedDataset: Philips rescale and Enhanced MR to classic', () => {
  it('Philips classic: RescaleSlope 0.1, BitsStored 12 and the window kept', async () => {
    const fx = await loadFixture('philips-pcasl-oblique-4mm');
    const plan = planOutputSlices(fx.volume.distances, { spacingMm: 1 });
    const d = build(fx, plan, 1);
    assert.equal(num(d.RescaleSlope), 0.1);
    assert.equal(d.BitsStored, 12);
    assert.equal(num(d.WindowCenter), num(fx.referenceHeader.WindowCenter));
    assert.equal(num(d.WindowWidth), num(fx.referenceHeader.WindowWidth));
    assert.equal(d.SpecificCharacterSet, fx.referenceHeader.SpecificCharacterSet);
    // The acquisition event is not claimed: no performed procedure step, acquisition number or time.
    assert.ok(fx.referenceHeader.ReferencedPerformedProcedureStepSequence, 'the source has a PPS reference');
    for (const k of ['ReferencedPerformedProcedureStepSequence', 'AcquisitionNumber', 'AcquisitionTime', 'AcquisitionDate']) assert.ok(!(k in d), k);
  });

  it('Enhanced MR: classic output with top-level geometry, pixel and MR Image attributes from the functional groups', async () => {
    const fx = await loadFixture('enhanced/philips-pcasl-enhanced-40frames.dcm');
    const plan = planOutputSlices(fx.volume.distances, { spacingMm: 1 });
    const d = build(fx, plan, 1);
    assert.equal(d.SOPClassUID, MR);
    assert.equal(d.PerFrameFunctionalGroupsSequence, undefined);
    assert.equal(d.SharedFunctionalGroupsSequence, undefined);
    assert.equal(d.NumberOfFrames, undefined);
    assert.equal(num(d.RescaleSlope), 0.1);
    assert.equal(num(d.SliceThickness), 4);
    assert.deepEqual(nums(d.PixelSpacing, 2), [2.5, 2.5]);
    assert.equal(nums(d.ImageOrientationPatient, 6)!.length, 6);
    for (const k of ['ScanningSequence', 'SequenceVariant']) assert.ok(asArray(d[k]).length > 0, k);
    for (const k of ['ScanOptions', 'MRAcquisitionType', 'EchoTime', 'EchoTrainLength', 'RepetitionTime']) assert.ok(k in d, k);
    assert.equal(num(d.EchoTime), 9);
    assert.equal(num(d.RepetitionTime), 4250);
    const src = d.SourceImageSequence;
    assert.equal(src[0].ReferencedSOPClassUID, '1.2.840.10008.5.1.4.1.1.4.1');
    assert.equal(src[0].ReferencedFrameNumber, String(fx.stack.slices[0].frame + 1));
  });

  it('our dates and times follow the source TimezoneOffsetFromUTC; ContributionDateTime is UTC', async () => {
    const fx = await loadFixture('siemens-asl-6mm-thick-7.5mm-spacing');
    const plan = planOutputSlices(fx.volume.distances, { factor: 2 });
    const d = build(fx, plan, 0, { ...fx.referenceHeader, TimezoneOffsetFromUTC: '-0500' });
    assert.equal(d.TimezoneOffsetFromUTC, '-0500');
    assert.equal(d.ContentDate, '20260101');
    assert.equal(d.ContentTime, '220405.006');
    assert.equal(d.ContributingEquipmentSequence[0].ContributionDateTime, '20260102030405.006+0000');
  });

  it('DS values fit 16 characters', () => {
    for (const x of [-109.70600437577123, 0.99999978033669, 1e-12, 123456789.123456, -0.000012345678901]) assert.ok(ds(x).length <= 16, ds(x));
    assert.ok(Math.abs(Number(ds(-109.70600437577123)) + 109.70600437577123) < 1e-9);
  });
});
