// Assemble over the real headers in ../shared/data/mr: every MANIFEST row. Expected counts come
// from MANIFEST.md; geometry numbers were read with `dcmdump +L` and computed with numpy
// (normal = row x column, distance = IPP . normal), not by running this code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AssembleResult, InstanceMeta, Stack } from '../../src/core/types.js';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { assembleStacks } from '../../src/assemble/stacks.js';
import { angleBetweenNormalsDeg } from '../../src/assemble/geometry.js';

/** ../shared relative to the repository root. */
const MR = fileURLToPath(new URL('../../../shared/data/mr/', import.meta.url));
const MR_CLASS = '1.2.840.10008.5.1.4.1.1.4';
const ENHANCED_CLASS = '1.2.840.10008.5.1.4.1.1.4.1';
const SC_CLASS = '1.2.840.10008.5.1.4.1.1.7';

const cache = new Map<string, InstanceMeta[]>();
async function metas(folder: string): Promise<InstanceMeta[]> {
  let m = cache.get(folder);
  if (!m) {
    const dir = join(MR, folder);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.dcm')).sort();
    m = [];
    for (const f of files) m.push(await readInstanceMeta(join(dir, f)));
    cache.set(folder, m);
  }
  return m;
}

async function assemble(folder: string): Promise<AssembleResult> {
  return assembleStacks(await metas(folder));
}

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} not within ${tol} of ${b}`);

function assertSortedAscending(s: Stack): void {
  const d = s.slices.map((x) => x.distance);
  for (let i = 1; i < d.length; i++) assert.ok(d[i] > d[i - 1], `distances not increasing at ${i}`);
}

function noFlags(s: Stack): void {
  assert.deepEqual(
    Object.entries(s.flags).filter(([k, v]) => v && k !== 'enhanced'),
    [],
    `unexpected flags on ${s.label}`,
  );
}

const file = (s: Stack, i: number) => basename(s.slices[i].instance.path);

test('readInstanceMeta: Siemens ASL header as dcmdump shows it', async () => {
  const [m] = await metas('siemens-asl-6mm-thick-7.5mm-spacing');
  assert.equal(m.sopClassUid, MR_CLASS);
  assert.equal(m.transferSyntaxUid, '1.2.840.10008.1.2.1');
  // the top-level UID, not the one nested in RelatedSeriesSequence
  assert.equal(m.seriesInstanceUid, '1.3.12.2.1107.5.2.43.67093.30000023011319484937100005797');
  assert.equal(m.modality, 'MR');
  assert.equal(m.seriesNumber, 18001);
  assert.equal(m.seriesDescription, 'asl_2d_tra');
  assert.equal(m.instanceNumber, 1);
  assert.deepEqual(m.imageType, ['ORIGINAL', 'PRIMARY', 'ASL', 'NONE', 'NORM', 'DIS2D', 'MFSPLIT']);
  assert.deepEqual([m.rows, m.columns, m.bitsAllocated, m.bitsStored, m.highBit, m.pixelRepresentation], [64, 64, 16, 12, 11, 0]);
  assert.deepEqual([m.rescaleSlope, m.rescaleIntercept, m.sliceThickness, m.spacingBetweenSlices], [1, 0, 6, 7.5]);
  assert.equal(m.acquisitionTime, '194503.870000');
  assert.equal(m.numberOfTemporalPositions, 7);
  assert.equal(m.numberOfFrames, 1);
  assert.deepEqual(m.frames[0].position, [-127.377, -132.24, -27.5169]);
  assert.deepEqual(m.frames[0].pixelSpacing, [4, 4]);
  assert.equal(m.mosaic, false);
  assert.equal(m.derivedByUs, false);
  assert.ok((m.fileSize ?? 0) > 0);
});

test('readInstanceMeta: Enhanced MR frames from the functional groups', async () => {
  const [m] = await metas('enhanced');
  assert.equal(m.sopClassUid, ENHANCED_CLASS);
  assert.equal(m.numberOfFrames, 40);
  assert.equal(m.frames.length, 40);
  const f0 = m.frames[0];
  const f39 = m.frames[39];
  // PlanePositionSequence, not the Philips private per-frame copy (-110.84...\-127.38...)
  assert.deepEqual(f0.position, [-109.64514384604, -126.07947557232, -53.042417139804]);
  assert.deepEqual(f39.position, [-119.13939318992, -126.07947557232, 102.668367772304]);
  assert.deepEqual(f0.orientation, [0.99739927053451, 0.03868175297975, 0.06081499531865, -0.038610048592, 0.9992516040802, -0.0023541927803]);
  assert.deepEqual(f0.pixelSpacing, [2.5, 2.5]);
  assert.equal(f0.sliceThickness, 4);
  assert.equal(f0.rescaleSlope, 0.1);
  assert.equal(f0.rescaleIntercept, 0);
  assert.equal(f0.stackId, '1');
  assert.deepEqual(m.frames.map((f) => f.inStackPosition), Array.from({ length: 40 }, (_, i) => i + 1));
  assert.equal(f0.temporalPosition, 1);
  assert.equal(f0.effectiveEchoTime, 9);
  assert.deepEqual(f0.frameType, ['ORIGINAL', 'PRIMARY', 'PERFUSION', 'NONE']);
  assert.equal(m.rescaleSlope, 0.1); // taken from the frames: the top level has none
  assert.equal(m.spacingBetweenSlices, 4); // per-frame PixelMeasuresSequence
  assert.equal(m.acquisitionTime, '132954.44000'); // time part of AcquisitionDateTime
});

test('MANIFEST siemens-asl-6mm-thick-7.5mm-spacing: one stack of 12, 7.5 mm, tilted 6.9 deg', async () => {
  const r = await assemble('siemens-asl-6mm-thick-7.5mm-spacing');
  assert.equal(r.unplaced.length, 0);
  assert.equal(r.stacks.length, 1);
  const [s] = r.stacks;
  assert.equal(s.slices.length, 12);
  assert.equal(s.volumes, 1);
  assert.deepEqual(s.pixelSpacing, [4, 4]);
  close(s.spacing.mean, 7.5, 1e-3, 'mean');
  close(s.spacing.min, 7.4998, 1e-3, 'min');
  close(s.spacing.max, 7.5001, 1e-3, 'max');
  assert.equal(s.spacing.irregular, false);
  assert.deepEqual(s.spacing.gaps, []);
  close(angleBetweenNormalsDeg(s.normal, [0, 0, 1]), 6.921, 0.01, 'tilt');
  close(s.slices[0].distance, -41.25, 1e-3, 'first distance (= SliceLocation)');
  assert.match(file(s, 0), /^18001001_/);
  assert.match(file(s, 11), /^18001012_/);
  assertSortedAscending(s);
  noFlags(s);
  assert.deepEqual(s.issues, []);
});

test('MANIFEST philips-pcasl-oblique-4mm: one stack of 40, 4 mm, slope 0.1 kept', async () => {
  const r = await assemble('philips-pcasl-oblique-4mm');
  assert.equal(r.stacks.length, 1);
  const [s] = r.stacks;
  assert.equal(s.slices.length, 40);
  close(s.spacing.mean, 4, 1e-4, 'mean');
  close(angleBetweenNormalsDeg(s.normal, [0, 0, 1]), 3.489, 0.01, 'tilt');
  close(s.slices[0].distance, -46.271, 1e-3, 'first');
  close(s.slices[39].distance, 109.7289, 1e-3, 'last');
  assert.ok(s.slices.every((x) => x.instance.rescaleSlope === 0.1 && x.instance.bitsStored === 12));
  assertSortedAscending(s);
  noFlags(s);
});

test('MANIFEST canon-axial-oblique-36deg: one stack of 40, 3 mm, normal 36 deg from z', async () => {
  const r = await assemble('canon-axial-oblique-36deg');
  assert.equal(r.stacks.length, 1);
  const [s] = r.stacks;
  assert.equal(s.slices.length, 40);
  assert.deepEqual(s.pixelSpacing, [3, 3]);
  [0.449285, -0.383163, 0.80705].forEach((v, i) => close(s.normal[i], v, 2e-6, `normal[${i}]`));
  close(angleBetweenNormalsDeg(s.normal, [0, 0, 1]), 36.19, 0.01, 'tilt');
  close(s.spacing.mean, 3, 1e-4, 'mean');
  close(s.spacing.min, 3, 2e-4, 'min');
  close(s.spacing.max, 3, 2e-4, 'max');
  close(s.slices[0].distance, -35.2734, 1e-3, 'first');
  assert.equal(file(s, 0), '8000_001.dcm');
  assert.equal(file(s, 39), '8000_040.dcm');
  assertSortedAscending(s);
  noFlags(s);
  assert.deepEqual(s.issues, []); // positions run along the normal (no shear)
});

test('MANIFEST canon-sagittal-oblique-28deg: one stack of 40, normal 28 deg from x', async () => {
  const r = await assemble('canon-sagittal-oblique-28deg');
  assert.equal(r.stacks.length, 1);
  const [s] = r.stacks;
  assert.equal(s.slices.length, 40);
  [-0.882829, 0.419234, -0.211793].forEach((v, i) => close(s.normal[i], v, 2e-6, `normal[${i}]`));
  close(angleBetweenNormalsDeg(s.normal, [1, 0, 0]), 28.015, 0.01, 'tilt');
  close(s.spacing.mean, 3, 1e-4, 'mean');
  // distance grows along n = row x column, which runs from file 040 to file 001 here
  assert.equal(file(s, 0), '11000_040.dcm');
  assert.equal(file(s, 39), '11000_001.dcm');
  assertSortedAscending(s);
  noFlags(s);
});

test('MANIFEST philips-fieldmap-2echo-magphase: four stacks of 53 by echo and M/P', async () => {
  const r = await assemble('philips-fieldmap-2echo-magphase');
  assert.equal(r.unplaced.length, 0);
  assert.equal(r.stacks.length, 4);
  const seen = new Set<string>();
  for (const s of r.stacks) {
    assert.equal(s.slices.length, 53);
    assert.equal(s.volumes, 1);
    close(s.spacing.mean, 3, 1e-3, 'mean');
    const echoes = new Set(s.slices.map((x) => x.instance.echoNumbers));
    const types = new Set(s.slices.map((x) => x.instance.imageType[3]));
    assert.equal(echoes.size, 1);
    assert.equal(types.size, 1);
    seen.add(`${[...echoes][0]}/${[...types][0]}`);
    assertSortedAscending(s);
    noFlags(s);
  }
  assert.deepEqual([...seen].sort(), ['1/M', '1/P', '2/M', '2/P']);
  const all = new Set(r.stacks.flatMap((s) => s.slices.map((x) => x.instance.sopInstanceUid)));
  assert.equal(all.size, 212);
});

test('MANIFEST ge-epi-axial-5mm-gap-10vol: 10 volumes of 15, a time series', async () => {
  const r = await assemble('ge-epi-axial-5mm-gap-10vol');
  assert.equal(r.stacks.length, 1);
  const [s] = r.stacks;
  assert.equal(s.slices.length, 150);
  assert.equal(s.volumes, 10);
  assert.equal(s.flags.timeSeries, true);
  close(s.spacing.mean, 5, 1e-3, 'mean'); // 3 mm slices every 5 mm: a 2 mm gap is not a missing slice
  assert.deepEqual(s.spacing.gaps, []);
  assert.equal(s.spacing.irregular, false);
  for (let v = 0; v < 10; v++) {
    const vol = s.slices.slice(v * 15, v * 15 + 15);
    // dcmdump: instances 1-15 are z = -17.6875 ... 52.3125 in 5 mm steps, 16-30 repeat them, ...
    assert.deepEqual(
      vol.map((x) => x.instance.instanceNumber),
      Array.from({ length: 15 }, (_, k) => v * 15 + k + 1),
    );
    vol.forEach((x, k) => close(x.distance, -17.6875 + 5 * k, 1e-3, `vol ${v} slice ${k}`));
  }
});

test('MANIFEST siemens-t1-sagittal-2mm-isotropic: one stack of 96 at 2 mm', async () => {
  const r = await assemble('siemens-t1-sagittal-2mm-isotropic');
  assert.equal(r.stacks.length, 1);
  const [s] = r.stacks;
  assert.equal(s.slices.length, 96);
  assert.deepEqual(s.pixelSpacing, [2, 2]);
  [-1, 0, 0].forEach((v, i) => close(s.normal[i], v, 1e-9, `normal[${i}]`));
  close(s.spacing.mean, 2, 1e-3, 'mean');
  assert.match(file(s, 0), /^5001096_/); // largest x first: n = -x
  assertSortedAscending(s);
  noFlags(s);
});

test('MANIFEST siemens-mixed-mr-and-secondary-capture: MR stack of 12 and a non-image stack', async () => {
  const r = await assemble('siemens-mixed-mr-and-secondary-capture');
  assert.equal(r.unplaced.length, 0);
  assert.equal(r.stacks.length, 2);
  const mr = r.stacks.find((s) => !s.flags.notImage)!;
  const sc = r.stacks.find((s) => s.flags.notImage)!;
  assert.equal(mr.slices.length, 12);
  assert.ok(mr.slices.every((x) => x.instance.sopClassUid === MR_CLASS));
  close(mr.spacing.mean, 7.5, 1e-3, 'mean');
  noFlags(mr);
  assert.equal(sc.slices.length, 12);
  assert.ok(sc.slices.every((x) => x.instance.sopClassUid === SC_CLASS));
  assert.notEqual(mr.seriesInstanceUid, sc.seriesInstanceUid);
  assert.equal(mr.slices[0].instance.seriesNumber, sc.slices[0].instance.seriesNumber);
});

test('MANIFEST siemens-localizers: three scout series of 5, 3 and 3 slices, all localizers', async () => {
  const r = await assemble('siemens-localizers');
  assert.equal(r.stacks.length, 3);
  const bySeries: Record<string, Stack> = Object.fromEntries(r.stacks.map((s) => [String(s.slices[0].instance.seriesNumber), s]));
  assert.deepEqual(
    Object.entries(bySeries).map(([k, s]) => [Number(k), s.slices.length]),
    [
      [2001, 5],
      [3001, 3],
      [4001, 3],
    ],
  );
  for (const s of r.stacks) {
    assert.equal(s.flags.localizer, true, s.label);
    assert.match(s.label, /localizer/);
  }
});

test('MANIFEST siemens-mosaic-epi: flagged mosaic', async () => {
  const r = await assemble('siemens-mosaic-epi');
  assert.equal(r.stacks.length, 1);
  assert.equal(r.stacks[0].flags.mosaic, true);
  assert.equal(r.stacks[0].slices.length, 2);
});

test('MANIFEST enhanced: one stack of 40 with the geometry of its classic twin', async () => {
  const r = await assemble('enhanced');
  assert.equal(r.stacks.length, 1);
  const [e] = r.stacks;
  assert.equal(e.flags.enhanced, true);
  assert.equal(e.slices.length, 40);
  assert.equal(new Set(e.slices.map((x) => x.instance)).size, 1);
  const [c] = (await assemble('philips-pcasl-oblique-4mm')).stacks;
  assert.deepEqual(e.orientation, c.orientation);
  assert.deepEqual(e.normal, c.normal);
  assert.deepEqual([e.rows, e.columns, ...e.pixelSpacing], [c.rows, c.columns, ...c.pixelSpacing]);
  e.slices.forEach((x, i) => {
    x.position.forEach((v, k) => close(v, c.slices[i].position[k], 1e-6, `slice ${i} IPP[${k}]`));
    close(x.distance, c.slices[i].distance, 1e-6, `slice ${i} distance`);
  });
  assert.deepEqual(e.slices.map((x) => x.frame), Array.from({ length: 40 }, (_, i) => i));
  close(e.spacing.mean, c.spacing.mean, 1e-9, 'mean spacing'); // last IPP differs in its 15th digit
  assert.deepEqual([e.spacing.irregular, e.spacing.gaps], [c.spacing.irregular, c.spacing.gaps]);
});

test('classic and Enhanced twins share a SeriesInstanceUID: pushed together they stay apart by SOP class', async () => {
  const both = [...(await metas('philips-pcasl-oblique-4mm')), ...(await metas('enhanced'))];
  const r = assembleStacks(both);
  assert.equal(new Set(both.map((m) => m.seriesInstanceUid)).size, 1);
  assert.equal(r.stacks.length, 2);
  assert.deepEqual(r.stacks.map((s) => s.slices.length), [40, 40]);
});

test('stack ids are stable across arrival order and late instances', async () => {
  const ge = await metas('ge-epi-axial-5mm-gap-10vol');
  const early = assembleStacks(ge.slice(0, 140)).stacks[0];
  const reversed = assembleStacks([...ge].reverse()).stacks[0];
  const full = assembleStacks(ge).stacks[0];
  assert.equal(early.id, full.id);
  assert.equal(reversed.id, full.id);
  const fm = await metas('philips-fieldmap-2echo-magphase');
  const ids = (list: InstanceMeta[]) => assembleStacks(list).stacks.map((s) => s.id).sort();
  const shuffled = [...fm].sort((a, b) => (a.sopInstanceUid < b.sopInstanceUid ? 1 : -1));
  assert.deepEqual(ids(shuffled), ids(fm));
  assert.equal(new Set(ids(fm)).size, 4);
});

test('labels carry no patient data', async () => {
  for (const folder of ['siemens-asl-6mm-thick-7.5mm-spacing', 'ge-epi-axial-5mm-gap-10vol']) {
    for (const s of (await assemble(folder)).stacks) {
      assert.match(s.label, /^MR series \d+/);
      assert.doesNotMatch(s.label, /Development|Regression|DEV|999/);
    }
  }
});
