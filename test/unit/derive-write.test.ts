// writeDerivedSeries without external tools: numbering, file names, bit-exact sources, the
// rescale fallback, and the checks on its input.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { OutputSlice } from '../../src/core/types.js';
import { asArray, num, nums, readPart10 } from '../../src/dicom/dcmjs.js';
import { derivationText, sourceRunsDescending, writeDerivedSeries, type WriteDerivedInput } from '../../src/derive/write-series.js';
import { LinearInterpolator } from '../../src/interpolate/classical.js';
import { planOutputSlices } from '../../src/interpolate/plan.js';
import { loadFixture, type Fixture } from '../derive/fixtures.js';

describe('writeDerivedSeries', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-write-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  let fx: Fixture;
  let plan: OutputSlice[];
  let input: WriteDerivedInput;

  before(async () => {
    fx = await loadFixture('siemens-asl-6mm-thick-7.5mm-spacing');
    plan = planOutputSlices(fx.volume.distances, { factor: 2 });
    const interp = new LinearInterpolator();
    input = {
      stack: fx.stack,
      referenceHeader: fx.referenceHeader,
      plan,
      synthesised: await interp.interpolate(fx.volume, plan),
      loadRawSlice: async (i) => fx.raw[i],
      outDir: join(work, 'a'),
      method: 'linear',
      interpolatorDescription: interp.description,
      target: { factor: 2 },
      createdAt: new Date(Date.UTC(2026, 0, 1)),
    };
  });

  it('states the spacing policy in DerivationDescription', () => {
    const text = derivationText(input);
    assert.match(text, /^Interslice \S+: linear interpolation along the slice normal/);
    assert.match(text, /factor 2: 2 steps per source gap of 7\.5 mm, uniform spacing 3\.75 mm/);
    assert.match(text, /SliceThickness is the source's nominal thickness/);
  });

  it('writes 0001.dcm..N.dcm with no temporary files left; instance 1 at the first source slice', async () => {
    const res = await writeDerivedSeries(input);
    assert.equal(res.sliceCount, 23);
    assert.equal(res.spacingMm.toFixed(4), '3.7500');
    assert.deepEqual(readdirSync(input.outDir).sort(), Array.from({ length: 23 }, (_, i) => `${String(i + 1).padStart(4, '0')}.dcm`));
    const first = (await readPart10(res.files[0])).dataset;
    assert.ok(nums(first.ImagePositionPatient, 3)!.every((v, i) => Math.abs(v - fx.positions[0][i]) < 0.01));
    assert.ok(Buffer.from(asArray(first.PixelData)[0] as ArrayBuffer).equals(Buffer.from(fx.raw[0])));
    assert.equal(first.SeriesDescription, 'asl_2d_tra [Interslice 3.75mm linear]');
    const mid = (await readPart10(res.files[1])).dataset;
    assert.equal(mid.SourceImageSequence.length, 2);
    assert.equal(mid.SeriesInstanceUID, res.seriesInstanceUid);
  });

  it('numbers instances the way the source runs (against the normal here)', async () => {
    const reversed = {
      ...fx.stack,
      slices: fx.stack.slices.map((s, i, all) => ({ ...s, instance: { ...s.instance, instanceNumber: all.length - i } })),
    };
    assert.equal(sourceRunsDescending(reversed), true);
    assert.equal(sourceRunsDescending(fx.stack), false);
    const res = await writeDerivedSeries({ ...input, stack: reversed, outDir: join(work, 'b') });
    const one = (await readPart10(res.files[0])).dataset;
    const last = fx.positions[fx.positions.length - 1];
    assert.equal(num(one.InstanceNumber), 1);
    assert.ok(nums(one.ImagePositionPatient, 3)!.every((v, i) => Math.abs(v - last[i]) < 0.01));
  });

  it('re-expresses a source frame whose rescale differs from the series', async () => {
    const slices = fx.stack.slices.map((s, i) => (i === 1 ? { ...s, instance: { ...s.instance, rescaleSlope: 2, frames: [{ frame: 0, rescaleSlope: 2, rescaleIntercept: 0 }] } } : s));
    const res = await writeDerivedSeries({ ...input, stack: { ...fx.stack, slices }, outDir: join(work, 'c') });
    const ds = (await readPart10(res.files[2])).dataset; // plan index 2 = source slice 1
    const got = new Uint16Array((asArray(ds.PixelData)[0] as ArrayBuffer).slice(0));
    const raw = new Uint16Array(fx.raw[1].slice().buffer);
    const maxStored = 2 ** num(ds.BitsStored)! - 1;
    for (let p = 0; p < raw.length; p += 97) assert.equal(got[p], Math.min(maxStored, raw[p] * 2));
  });

  it('uidKey makes series and instance UIDs repeatable; without it they are new each time', async () => {
    const a = await writeDerivedSeries({ ...input, uidKey: 'job-1', outDir: join(work, 'e1') });
    const b = await writeDerivedSeries({ ...input, uidKey: 'job-1', outDir: join(work, 'e2') });
    const c = await writeDerivedSeries({ ...input, outDir: join(work, 'e3') });
    assert.equal(a.seriesInstanceUid, b.seriesInstanceUid);
    assert.notEqual(a.seriesInstanceUid, c.seriesInstanceUid);
    const uid = async (f: string) => (await readPart10(f)).dataset.SOPInstanceUID;
    assert.equal(await uid(a.files[5]), await uid(b.files[5]));
    assert.notEqual(await uid(a.files[5]), await uid(a.files[6]));
    assert.notEqual(await uid(a.files[5]), await uid(c.files[5]));
  });

  it('refuses a synthesised list that does not match the plan', async () => {
    await assert.rejects(writeDerivedSeries({ ...input, synthesised: input.synthesised.slice(1), outDir: join(work, 'd') }), /expected 11 synthesised/);
  });
});
