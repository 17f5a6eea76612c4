// writeDerivedSeries without external tools: numbering, file names, bit-exact sources, per-slice
// rescale (no silent clipping, logged), and the checks on its input.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { OutputSlice } from '../../src/core/types.js';
import { asArray, num, nums, readPart10, str } from '../../src/dicom/dcmjs.js';
import { derivationText, softwareVersions, sourceRunsDescending, writeDerivedSeries, type WriteDerivedInput } from '../../src/derive/write-series.js';
import { PACKAGE_VERSION } from '../../src/core/version.js';
import { CubicInterpolator, LinearInterpolator } from '../../src/interpolate/classical.js';
import { planOutputSlices } from '../../src/core/plan.js';
import { realWorldValues, rescaleOf, storedValues } from '../derive/decode.js';
import { loadFixture, type Fixture } from '../derive/fixtures.js';
import { containsToken } from '../helpers/phi.js';

/** A real winston logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Array<Record<string, unknown>>): winston.Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
}

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
    assert.equal(first.SeriesDescription, 'asl_2d_tra [Interslice interpolated 3.75mm linear]');
    const mid = (await readPart10(res.files[1])).dataset;
    assert.equal(mid.SourceImageSequence.length, 2);
    // Source and linear slices within 0..4095 (12 bits, identity): nothing to widen, no rescale.
    assert.equal(first.RescaleSlope, undefined);
    assert.equal(mid.RescaleIntercept, undefined);
    assert.equal(first.BitsStored, 12);
    assert.equal(num(first.SpacingBetweenSlices), 3.75);
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

  it('a source slice whose rescale differs from the series keeps its own, bit-exact', async () => {
    const slices = fx.stack.slices.map((s, i) => (i === 1 ? { ...s, instance: { ...s.instance, rescaleSlope: 2, frames: [{ frame: 0, rescaleSlope: 2, rescaleIntercept: 0 }] } } : s));
    const res = await writeDerivedSeries({ ...input, stack: { ...fx.stack, slices }, outDir: join(work, 'c') });
    const ds = (await readPart10(res.files[2])).dataset; // plan index 2 = source slice 1
    assert.ok(Buffer.from(asArray(ds.PixelData)[0] as ArrayBuffer).equals(Buffer.from(fx.raw[1])));
    assert.equal(num(ds.RescaleSlope), 2);
    assert.equal(num(ds.RescaleIntercept), 0);
  });

  describe('a stack whose slices have different RescaleSlope and RescaleIntercept', () => {
    // Slice i of the 12: slope 1, 2.5 (intercept -100), 0.5, 40, repeating. Slice 0 (the
    // series' reference) has the identity. Real-world values reach 2318 * 40 = 92720, beyond
    // what 16 bits at slope 1 hold, and -100, below what an unsigned series holds.
    const slopes = [1, 2.5, 0.5, 40];
    const intercepts = [0, -100, 0, 0];
    const lines: Array<Record<string, unknown>> = [];
    let vfx: Fixture;
    let vplan: OutputSlice[];
    let synthesised: Float32Array[];
    let files: string[];
    before(async () => {
      const rs = (i: number) => ({ rescaleSlope: slopes[i % 4], rescaleIntercept: intercepts[i % 4] });
      const slices = fx.stack.slices.map((s, i) => ({ ...s, instance: { ...s.instance, ...rs(i), frames: [{ frame: 0, ...rs(i) }] } }));
      const volumeSlices = fx.raw.map((raw, i) => {
        const stored = new Uint16Array(raw.slice().buffer);
        return Float32Array.from(stored, (v) => v * rs(i).rescaleSlope + rs(i).rescaleIntercept);
      });
      vfx = { ...fx, stack: { ...fx.stack, slices }, volume: { ...fx.volume, slices: volumeSlices } };
      vplan = planOutputSlices(vfx.volume.distances, { factor: 4 });
      synthesised = await new CubicInterpolator().interpolate(vfx.volume, vplan);
      const res = await writeDerivedSeries({
        ...input,
        stack: vfx.stack,
        plan: vplan,
        synthesised,
        method: 'cubic',
        target: { factor: 4 },
        outDir: join(work, 'varying'),
        log: capturingLogger(lines),
      });
      files = res.files;
    });

    it('no synthesised value is clipped: each slice decodes to the float values within half its own rescale step', async () => {
      let k = 0;
      let checked = 0;
      for (let j = 0; j < vplan.length; j++) {
        if (vplan[j].sourceIndex !== undefined) continue;
        const ds = (await readPart10(files[j])).dataset;
        const got = realWorldValues(ds);
        const want = synthesised[k++];
        const half = rescaleOf(ds).slope / 2;
        for (let p = 0; p < want.length; p++) {
          const err = Math.abs(got[p] - want[p]);
          assert.ok(err <= half + 1e-6 * Math.abs(want[p]), `slice ${j} pixel ${p}: ${got[p]} vs ${want[p]} (step ${2 * half})`);
        }
        checked++;
      }
      assert.equal(checked, 33);
      // The case is real: the floats go beyond 16 bits at slope 1 and below zero.
      const all = synthesised.flatMap((s) => [Math.min(...s), Math.max(...s)]);
      assert.ok(Math.max(...all) > 65535 && Math.min(...all) < 0, `${Math.min(...all)}..${Math.max(...all)}`);
    });

    it('source slices keep their bytes and their own rescale: the same real-world values', async () => {
      for (let j = 0; j < vplan.length; j++) {
        const i = vplan[j].sourceIndex;
        if (i === undefined) continue;
        const ds = (await readPart10(files[j])).dataset;
        assert.ok(Buffer.from(asArray(ds.PixelData)[0] as ArrayBuffer).equals(Buffer.from(fx.raw[i])), `source ${i} bytes`);
        const got = realWorldValues(ds);
        const want = vfx.volume.slices[i];
        for (let p = 0; p < want.length; p++) assert.equal(got[p], want[p], `source ${i} pixel ${p}`);
        if (slopes[i % 4] === 1 && intercepts[i % 4] === 0) assert.equal(ds.RescaleSlope, undefined, 'identity: no rescale attributes');
      }
    });

    it('the series is signed 16-bit (one PixelRepresentation), and every changed slice is logged with its instance number and rescale', async () => {
      const logged = new Map(lines.filter((l) => l.instanceNumber !== undefined).map((l) => [l.instanceNumber as number, l]));
      assert.ok(lines.some((l) => l.pixelRepresentation === 1 && l.instanceNumber === undefined), 'the series-wide change is logged');
      let changed = 0;
      for (const f of files) {
        const ds = (await readPart10(f)).dataset;
        assert.equal(num(ds.PixelRepresentation), 1);
        assert.equal(num(ds.BitsStored), 16);
        const n = num(ds.InstanceNumber)!;
        const { slope, intercept } = rescaleOf(ds);
        const isSource = vplan[n - 1].sourceIndex !== undefined;
        if (isSource || (slope === 1 && intercept === 0)) {
          assert.equal(logged.has(n), false, `instance ${n} not changed, not logged`);
          continue;
        }
        changed++;
        const line = logged.get(n);
        assert.ok(line, `instance ${n} (slope ${slope}, intercept ${intercept}) is logged`);
        assert.equal(line.rescaleSlope, slope);
        assert.equal(line.rescaleIntercept, intercept);
      }
      assert.ok(changed > 0);
      assert.ok(lines.some((l) => l.choice === 'alternative' && l.rescaleSlope === 40), 'a neighbour\'s slope 40 is taken');
      const text = JSON.stringify(lines);
      for (const k of ['PatientName', 'PatientID', 'PatientBirthDate']) {
        const v = str(fx.referenceHeader[k]);
        if (v) assert.ok(!containsToken(text, v), `${k} not in the log`);
      }
      // Stored values really use the wider range somewhere (not only the old 12 bits).
      const some = await Promise.all(files.map(async (f) => storedValues((await readPart10(f)).dataset)));
      assert.ok(some.some((v) => v.some((x) => x < 0 || x > 4095)));
    });
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

describe('softwareVersions', () => {
  it('ours, then the model and the refiner as separate values, each within 64 characters', () => {
    const model = 'model interslice-thick 3.0.0 sha256:0123456789abcdef';
    const refiner = 'refiner interslice-refiner 1.0.0 sha256:fedcba9876543210';
    assert.deepEqual(softwareVersions(`${model}, then ${refiner} across the slices`), [PACKAGE_VERSION, model, refiner]);
    assert.deepEqual(softwareVersions(model), [PACKAGE_VERSION, model]);
    const long = `model ${'x'.repeat(80)}`;
    assert.deepEqual(softwareVersions(long), [PACKAGE_VERSION, long.slice(0, 64)]);
  });
});
