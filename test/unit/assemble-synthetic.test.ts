// Assemble on synthetic headers: the edge cases the real data does not cover. Expected values
// are worked out by hand from the inputs written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceMeta, Orientation, Vec3 } from '../../src/core/types.js';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instanceMetaFromDataset, readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { assembleStacks } from '../../src/assemble/stacks.js';
import { spacingReport } from '../../src/assemble/spacing.js';

const MR = '1.2.840.10008.5.1.4.1.1.4';
const ENH = '1.2.840.10008.5.1.4.1.1.4.1';
const AX: Orientation = [1, 0, 0, 0, 1, 0];
let uid = 0;

function inst(z: number, over: Partial<InstanceMeta> = {}, pos?: Vec3, ori: Orientation = AX): InstanceMeta {
  uid += 1;
  return {
    path: `/tmp/x${uid}.dcm`,
    sopClassUid: MR,
    sopInstanceUid: `1.2.3.${uid}`,
    studyInstanceUid: '1.2.3',
    seriesInstanceUid: '1.2.3.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    modality: 'MR',
    seriesNumber: 7,
    instanceNumber: uid,
    imageType: ['ORIGINAL', 'PRIMARY', 'M', 'NONE'],
    rows: 4,
    columns: 4,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    bitsStored: 16,
    highBit: 15,
    pixelRepresentation: 0,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    numberOfFrames: 1,
    frames: [{ frame: 0, position: pos ?? [0, 0, z], orientation: ori, pixelSpacing: [1, 1] }],
    mosaic: false,
    derivedByUs: false,
    ...over,
  };
}

const series = (zs: number[], over: Partial<InstanceMeta> = {}) => zs.map((z) => inst(z, over));

test('spacing report: regular, a missing slice, irregular without a gap', () => {
  assert.deepEqual(spacingReport([0, 3, 6, 9]), { mean: 3, min: 3, max: 3, irregular: false, gaps: [] });
  // steps 3,3,6,3: mean 3.75, the 6 mm step is 2x the median 3 -> gap after slice 2
  assert.deepEqual(spacingReport([0, 3, 6, 12, 15]), { mean: 3.75, min: 3, max: 6, irregular: true, gaps: [2] });
  // steps 3, 3.5, 3: mean 3.1667; 3.5 is 0.333 off (> 10%) but not a missing slice
  const r = spacingReport([0, 3, 6.5, 9.5]);
  assert.equal(r.irregular, true);
  assert.deepEqual(r.gaps, []);
  assert.deepEqual(spacingReport([5]), { mean: 0, min: 0, max: 0, irregular: false, gaps: [] });
});

test('slices are sorted along the normal whatever the arrival order', () => {
  const r = assembleStacks(series([12, 0, 8, 4]));
  assert.equal(r.stacks.length, 1);
  assert.deepEqual(r.stacks[0].slices.map((s) => s.distance), [0, 4, 8, 12]);
  assert.equal(r.stacks[0].spacing.mean, 4);
});

test('orientation splits beyond the tolerance, not within it', () => {
  const tilted: Orientation = [1, 0, 0, 0, 0.99995, 0.01]; // column cosine z differs by 0.01
  const within = [...series([0, 2, 4]), inst(6, {}, undefined, [1, 0, 0, 0, 1, 0.005])];
  assert.equal(assembleStacks(within).stacks.length, 1);
  const cor: Orientation = [1, 0, 0, 0, 0, -1];
  const two = [...series([0, 2, 4, 6]), ...[0, 2, 4, 6].map((y) => inst(0, {}, [0, y, 0], cor))];
  const r = assembleStacks(two);
  assert.equal(r.stacks.length, 2);
  assert.deepEqual(r.stacks.map((s) => s.slices.length), [4, 4]);
  const mixed = [...series([0, 2, 4, 6]), inst(8, {}, undefined, tilted), inst(10, {}, undefined, tilted)];
  assert.equal(assembleStacks(mixed).stacks.length, 1);
  assert.equal(assembleStacks(mixed, { orientationTolerance: 0.001 }).stacks.length, 2);
});

test('a series of a few non-parallel slices is one localizer stack, not many stacks of one', () => {
  const sag: Orientation = [0, 1, 0, 0, 0, -1];
  const cor: Orientation = [1, 0, 0, 0, 0, -1];
  const r = assembleStacks([inst(0), inst(0, {}, [0, 0, 0], sag), inst(0, {}, [0, 0, 0], cor)]);
  assert.equal(r.stacks.length, 1);
  assert.equal(r.stacks[0].flags.localizer, true);
  assert.ok(r.stacks[0].issues.some((i) => /not parallel \(normals up to 90\.0 deg apart\)/.test(i)), r.stacks[0].issues.join());
});

test('splits by Rows/Columns, pixel spacing, echo and ImageType', () => {
  const base = series([0, 2, 4]);
  const big = series([0, 2, 4], { rows: 8 });
  const echo2 = series([0, 2, 4], { echoNumbers: 2 });
  const phase = series([0, 2, 4], { imageType: ['ORIGINAL', 'PRIMARY', 'P', 'NONE'] });
  const fine = series([0, 2, 4]).map((m) => ({ ...m, frames: [{ ...m.frames[0], pixelSpacing: [0.5, 0.5] as [number, number] }] }));
  const r = assembleStacks([...base, ...big, ...echo2, ...phase, ...fine]);
  assert.equal(r.stacks.length, 5);
  assert.ok(r.stacks.every((s) => s.slices.length === 3 && s.volumes === 1));
});

test('repeated positions: equal counts make volumes, ordered by temporal position', () => {
  // two volumes told apart by TemporalPositionIdentifier; volume 2 arrives first
  const v2 = series([0, 3, 6], { temporalPositionIdentifier: 2 });
  const v1 = series([0, 3, 6], { temporalPositionIdentifier: 1 });
  const v2ref = v2.map((m) => ({ ...m, frames: [{ ...m.frames[0], temporalPosition: 2 }] }));
  const v1ref = v1.map((m) => ({ ...m, frames: [{ ...m.frames[0], temporalPosition: 1 }] }));
  const r = assembleStacks([...v2ref, ...v1ref]);
  assert.equal(r.stacks.length, 1);
  const s = r.stacks[0];
  assert.equal(s.volumes, 2);
  assert.equal(s.flags.timeSeries, true);
  assert.deepEqual(s.slices.map((x) => x.instance.temporalPositionIdentifier), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(s.slices.map((x) => x.distance), [0, 3, 6, 0, 3, 6]);
  assert.equal(s.spacing.mean, 3);
});

test('repeated positions with no time evidence are multi-volume, not a time series', () => {
  const r = assembleStacks([...series([0, 3, 6]), ...series([0, 3, 6])]);
  assert.equal(r.stacks[0].volumes, 2);
  assert.equal(r.stacks[0].flags.timeSeries, false);
});

test('uneven repeats are reported', () => {
  const r = assembleStacks([...series([0, 3, 6]), ...series([0, 3])]);
  const s = r.stacks[0];
  assert.equal(s.volumes, 2);
  assert.ok(s.issues.some((i) => /repeat unevenly/.test(i)), s.issues.join('; '));
});

test('a missing slice and a sheared stack are issues', () => {
  const gap = assembleStacks(series([0, 5, 10, 20, 25])).stacks[0];
  assert.deepEqual(gap.spacing.gaps, [2]);
  assert.ok(gap.issues.some((i) => /missing slice between slices 2 and 3/.test(i)), gap.issues.join('; '));
  // positions step 1 mm in x per 3 mm in z: atan(1/3) = 18.4 deg off the normal
  const sheared = [0, 1, 2, 3].map((k) => inst(0, {}, [k, 0, 3 * k]));
  const s = assembleStacks(sheared).stacks[0];
  assert.ok(s.issues.some((i) => /18\.4 deg off the slice normal/.test(i)), s.issues.join('; '));
});

test('a resent SOP instance counts once; an instance without position is unplaced', () => {
  const a = series([0, 2, 4]);
  const noPos = inst(6);
  noPos.frames = [{ frame: 0, orientation: AX, pixelSpacing: [1, 1] }];
  const r = assembleStacks([...a, { ...a[1] }, noPos]);
  assert.equal(r.stacks.length, 1);
  assert.equal(r.stacks[0].slices.length, 3);
  assert.equal(r.unplaced.length, 1);
  assert.match(r.unplaced[0].reason, /ImagePositionPatient/);
});

test('flags: LOCALIZER image type, scout name with few slices, derived by us, mosaic', () => {
  const loc = assembleStacks(series([0, 10, 20, 30, 40, 50, 60, 70, 80], { imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] }));
  assert.equal(loc.stacks[0].flags.localizer, true);
  const named = assembleStacks(series([0, 30, 60], { seriesDescription: 'Survey' })).stacks[0];
  assert.equal(named.flags.localizer, true);
  // a scout-named protocol's full thin volume is not a localizer
  const volume = assembleStacks(series([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], { protocolName: 'AAHead_Scout' })).stacks[0];
  assert.equal(volume.flags.localizer, false);
  assert.equal(assembleStacks(series([0, 3, 6], { derivedByUs: true })).stacks[0].flags.derivedByUs, true);
  assert.equal(assembleStacks(series([0], { mosaic: true })).stacks[0].flags.mosaic, true);
});

test('non-MR-image SOP classes become one not-image stack per class', () => {
  const sc = series([0, 0, 0], { sopClassUid: '1.2.840.10008.5.1.4.1.1.7' });
  for (const m of sc) m.frames = [{ frame: 0 }];
  const r = assembleStacks(sc);
  assert.equal(r.stacks.length, 1);
  assert.equal(r.stacks[0].flags.notImage, true);
  assert.equal(r.stacks[0].slices.length, 3);
  assert.equal(r.unplaced.length, 0);
});

test('instanceMetaFromDataset: required attributes are named when missing', () => {
  const ds = {
    SOPClassUID: MR,
    SOPInstanceUID: '1.2',
    StudyInstanceUID: '1.3',
    SeriesInstanceUID: '1.4',
    Rows: 2,
    Columns: 2,
    BitsAllocated: 16,
    ImageType: ['ORIGINAL', 'PRIMARY', 'M', 'ND', 'MOSAIC'],
    ImagePositionPatient: ['1', '2', '3'],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    PixelSpacing: '0.5\\0.5',
    ContributingEquipmentSequence: [{ Manufacturer: 'Interslice', DerivationDescription: 'Interslice cubic' }],
  };
  const m = instanceMetaFromDataset(ds, 'a.dcm', '1.2.840.10008.1.2');
  assert.equal(m.mosaic, true);
  assert.equal(m.derivedByUs, true);
  assert.deepEqual(m.frames[0].position, [1, 2, 3]);
  assert.deepEqual(m.frames[0].pixelSpacing, [0.5, 0.5]);
  assert.deepEqual([m.bitsStored, m.highBit, m.pixelRepresentation, m.samplesPerPixel], [16, 15, 0, 1]);
  assert.deepEqual([m.rescaleSlope, m.rescaleIntercept], [1, 0]);
  const { SOPClassUID: _c, ...noClass } = ds;
  assert.throws(() => instanceMetaFromDataset(noClass, 'a.dcm', ''), /a\.dcm: missing SOPClassUID/);
  const { Rows: _r, ...noRows } = ds;
  assert.throws(() => instanceMetaFromDataset(noRows, 'a.dcm', ''), /Rows/);
  const other = instanceMetaFromDataset({ ...ds, ContributingEquipmentSequence: [{ Manufacturer: 'ACME' }] }, 'a', '');
  assert.equal(other.derivedByUs, false);
});

test('instanceMetaFromDataset: Enhanced MR shared and per-frame groups', () => {
  const ds = {
    SOPClassUID: ENH,
    SOPInstanceUID: '1.2',
    StudyInstanceUID: '1.3',
    SeriesInstanceUID: '1.4',
    Rows: 2,
    Columns: 2,
    BitsAllocated: 16,
    BitsStored: 12,
    NumberOfFrames: '2',
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
        PixelMeasuresSequence: [{ PixelSpacing: [0.8, 0.9], SliceThickness: 5 }],
        PixelValueTransformationSequence: [{ RescaleSlope: 2, RescaleIntercept: -10 }],
      },
    ],
    PerFrameFunctionalGroupsSequence: [
      { PlanePositionSequence: [{ ImagePositionPatient: [0, 0, 0] }], FrameContentSequence: [{ StackID: '1', InStackPositionNumber: 1, TemporalPositionIndex: 1 }] },
      {
        PlanePositionSequence: [{ ImagePositionPatient: [0, 0, 5] }],
        FrameContentSequence: [{ StackID: '1', InStackPositionNumber: 2, TemporalPositionIndex: 1 }],
        PixelValueTransformationSequence: [{ RescaleSlope: 3, RescaleIntercept: 0 }],
      },
    ],
  };
  const m = instanceMetaFromDataset(ds, 'e.dcm', '1.2.840.10008.1.2.1');
  assert.equal(m.numberOfFrames, 2);
  assert.deepEqual(m.frames[1].position, [0, 0, 5]);
  assert.deepEqual(m.frames[1].orientation, [1, 0, 0, 0, 1, 0]);
  assert.deepEqual(m.frames[0].pixelSpacing, [0.8, 0.9]);
  assert.deepEqual([m.frames[0].rescaleSlope, m.frames[0].rescaleIntercept], [2, -10]);
  assert.deepEqual([m.frames[1].rescaleSlope, m.frames[1].rescaleIntercept], [3, 0]); // per-frame wins
  assert.equal(m.frames[1].inStackPosition, 2);
  const r = assembleStacks([m]);
  assert.equal(r.stacks.length, 1);
  assert.deepEqual(r.stacks[0].slices.map((s) => [s.frame, s.distance]), [
    [0, 0],
    [1, 5],
  ]);
  assert.throws(() => instanceMetaFromDataset({ ...ds, NumberOfFrames: 3 }, 'e.dcm', ''), /PerFrameFunctionalGroupsSequence has 2 items for NumberOfFrames 3/);
});

test('readInstanceMeta: a file that is not DICOM gives an Error naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'interslice-meta-'));
  try {
    const path = join(dir, 'not-dicom.dcm');
    await writeFile(path, 'hello');
    await assert.rejects(readInstanceMeta(path), /not-dicom\.dcm: not a readable DICOM Part-10 file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('different frames of reference never share a stack', () => {
  const a = series([0, 2, 4], { frameOfReferenceUid: '1.9.1' });
  const b = series([6, 8, 10], { frameOfReferenceUid: '1.9.2' });
  assert.equal(assembleStacks([...a, ...b]).stacks.length, 2);
});
