import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VolumeF32 } from '../../src/core/types.js';
import { CubicInterpolator, LinearInterpolator, createClassicalInterpolator } from '../../src/interpolate/classical.js';
import { planOutputSlices, planSpacing, stepsPerGap } from '../../src/core/plan.js';
import { storedRange, toStoredValues } from '../../src/derive/stored-values.js';

const close = (a: number, b: number, tol: number, msg?: string) => assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} ${a} vs ${b} (tol ${tol})`);

/** A volume whose pixel p at distance d holds f(p, d). */
function volumeOf(distances: number[], pixels: number, f: (p: number, d: number) => number): VolumeF32 {
  return {
    rows: 1,
    columns: pixels,
    distances,
    slices: distances.map((d) => Float32Array.from({ length: pixels }, (_, p) => f(p, d))),
  };
}

describe('planOutputSlices', () => {
  it('integer factor: every source slice kept, midpoints synthesised', () => {
    const plan = planOutputSlices([0, 4, 8], { factor: 2 });
    assert.deepEqual(plan, [
      { distance: 0, sourceIndex: 0 },
      { distance: 2, between: { lower: 0, upper: 1, t: 0.5 } },
      { distance: 4, sourceIndex: 1 },
      { distance: 6, between: { lower: 1, upper: 2, t: 0.5 } },
      { distance: 8, sourceIndex: 2 },
    ]);
  });

  it('integer spacing ratio 4 mm -> 1 mm: 4 steps per gap', () => {
    const plan = planOutputSlices([10, 14, 18], { spacingMm: 1 });
    assert.equal(plan.length, 9);
    assert.deepEqual(plan.map((p) => p.distance), [10, 11, 12, 13, 14, 15, 16, 17, 18]);
    assert.deepEqual(plan.map((p) => p.sourceIndex), [0, undefined, undefined, undefined, 1, undefined, undefined, undefined, 2]);
    assert.deepEqual(plan[3].between, { lower: 0, upper: 1, t: 0.75 });
  });

  it('non-integer ratio 7.5 mm -> 1 mm: 8 steps of 0.9375 mm, both ends and every source slice hit', () => {
    // 7.5/8 = 0.9375 (0.0625 off 1 mm) is nearer than 7.5/7 = 1.0714 (0.0714 off).
    assert.equal(stepsPerGap([0, 7.5, 15], { spacingMm: 1 }), 8);
    const plan = planOutputSlices([0, 7.5, 15], { spacingMm: 1 });
    assert.equal(plan.length, 17);
    close(planSpacing(plan), 0.9375, 1e-12);
    assert.deepEqual(plan[1], { distance: 0.9375, between: { lower: 0, upper: 1, t: 0.125 } });
    assert.deepEqual(plan[8], { distance: 7.5, sourceIndex: 1 });
    assert.deepEqual(plan[16], { distance: 15, sourceIndex: 2 });
    close(plan[9].distance, 8.4375, 1e-12);
    assert.equal(plan[9].between?.lower, 1);
    close(plan[9].between!.t, 0.125, 1e-12);
  });

  it('non-integer ratio 4 mm -> 1.5 mm: 3 steps of 1.333 mm; ties go to the thinner spacing', () => {
    assert.equal(stepsPerGap([0, 4, 8], { spacingMm: 1.5 }), 3); // 1.333 (0.167 off) beats 2.0 (0.5 off)
    assert.equal(stepsPerGap([0, 4, 8], { spacingMm: 3 }), 2); // 2 and 4 are both 1 mm off: thinner
    assert.equal(stepsPerGap([0, 4, 8], { spacingMm: 10 }), 1); // coarser than the source: unchanged
    const plan = planOutputSlices([0, 4, 8], { spacingMm: 1.5 });
    assert.equal(plan.length, 7);
    close(plan[2].distance, 8 / 3, 1e-12);
    close(plan[2].between!.t, 2 / 3, 1e-12);
  });

  it('irregular source spacing: uniform output, sources reproduced only where they fall on the grid', () => {
    const plan = planOutputSlices([0, 3, 7, 10], { spacingMm: 1 }); // mean 3.333 -> 3 steps of 1.111
    assert.equal(plan.length, 10);
    close(planSpacing(plan), 10 / 9, 1e-12);
    assert.deepEqual(plan.filter((p) => p.sourceIndex !== undefined).map((p) => p.sourceIndex), [0, 3]);
    const p3 = plan[3]; // 3.333 lies between 3 and 7
    assert.deepEqual([p3.between?.lower, p3.between?.upper], [1, 2]);
    close(p3.between!.t, (10 / 3 - 3) / 4, 1e-12);
  });

  it('a source slice within the tolerance of a grid position is reproduced there', () => {
    const plan = planOutputSlices([0, 4.0000004, 8], { factor: 2 });
    assert.equal(plan[2].sourceIndex, 1);
    assert.equal(plan[2].distance, 4.0000004);
  });

  it('rejects too few or unsorted slices and bad targets', () => {
    assert.throws(() => planOutputSlices([1], { factor: 2 }), /two source slices/);
    assert.throws(() => planOutputSlices([0, 2, 1], { factor: 2 }), /ascend/);
    assert.throws(() => planOutputSlices([0, 1], { factor: 1.5 }), /factor/);
    assert.throws(() => planOutputSlices([0, 1], { spacingMm: 0 }), /spacingMm/);
  });
});

describe('classical interpolators', () => {
  it('return only the synthesised slices, in plan order', async () => {
    const vol = volumeOf([0, 4, 8], 2, (p, d) => d + p);
    const plan = planOutputSlices(vol.distances, { factor: 4 });
    for (const m of ['linear', 'cubic'] as const) {
      const out = await createClassicalInterpolator(m).interpolate(vol, plan);
      assert.equal(out.length, plan.length - 3);
    }
  });

  it('linear and cubic are exact on linear ramps (per pixel, non-uniform positions)', async () => {
    const d = [-20, -16.5, -9, -5, 3];
    const vol = volumeOf(d, 4, (p, x) => 100 * p - 3.5 * x + p * x);
    const plan = planOutputSlices(d, { spacingMm: 0.7 });
    for (const interp of [new LinearInterpolator(), new CubicInterpolator()]) {
      const out = await interp.interpolate(vol, plan);
      const synth = plan.filter((s) => s.sourceIndex === undefined);
      synth.forEach((s, i) => {
        for (let p = 0; p < 4; p++) close(out[i][p], 100 * p - 3.5 * s.distance + p * s.distance, 1e-3, interp.method);
      });
    }
  });

  it('cubic matches a hand-computed natural spline (uniform and non-uniform knots)', async () => {
    // x = 0,1,2; y = 0,1,0: M1 = -12/4 = -3; S(0.5) = 0.5 + (0.125-0.5)(-3)/6 = 0.6875.
    const u = await new CubicInterpolator().interpolate(volumeOf([0, 1, 2], 1, (_, x) => (x === 1 ? 1 : 0)), planOutputSlices([0, 1, 2], { factor: 2 }));
    close(u[0][0], 0.6875, 1e-6);
    close(u[1][0], 0.6875, 1e-6);
    // x = 0,1,3; y = 0,1,0: 6 M1 = 6(-1/2 - 1) -> M1 = -1.5; S(2) = 0.5 + (0.125-0.5)(-1.5)(2^2)/6 = 0.875.
    const vol = volumeOf([0, 1, 3], 1, (_, x) => (x === 1 ? 1 : 0));
    const plan = [
      { distance: 0, sourceIndex: 0 },
      { distance: 1, sourceIndex: 1 },
      { distance: 2, between: { lower: 1, upper: 2, t: 0.5 } },
      { distance: 3, sourceIndex: 2 },
    ];
    const n = await new CubicInterpolator().interpolate(vol, plan);
    close(n[0][0], 0.875, 1e-6);
  });

  it('cubic reproduces a quadratic profile away from the natural ends, and beats linear on a smooth one', async () => {
    const d = Array.from({ length: 21 }, (_, i) => i * 4);
    const q = volumeOf(d, 1, (_, x) => 0.05 * (x - 40) ** 2);
    const plan = planOutputSlices(d, { factor: 4 });
    const synth = plan.filter((s) => s.sourceIndex === undefined);
    const cubic = await new CubicInterpolator().interpolate(q, plan);
    synth.forEach((s, i) => {
      if (s.distance > 16 && s.distance < 64) close(cubic[i][0], 0.05 * (s.distance - 40) ** 2, 0.01, `x=${s.distance}`);
    });
    const sine = volumeOf(d, 1, (_, x) => 1000 * Math.sin(x / 12));
    const lin = await new LinearInterpolator().interpolate(sine, plan);
    const cub = await new CubicInterpolator().interpolate(sine, plan);
    let eLin = 0;
    let eCub = 0;
    synth.forEach((s, i) => {
      if (s.distance < 12 || s.distance > 68) return;
      const truth = 1000 * Math.sin(s.distance / 12);
      eLin = Math.max(eLin, Math.abs(lin[i][0] - truth));
      eCub = Math.max(eCub, Math.abs(cub[i][0] - truth));
    });
    assert.ok(eCub < eLin / 10, `cubic ${eCub} vs linear ${eLin}`);
  });

  it('two source slices: cubic falls back to linear', async () => {
    const vol = volumeOf([0, 2], 1, (_, x) => x * 10);
    const out = await new CubicInterpolator().interpolate(vol, planOutputSlices([0, 2], { factor: 2 }));
    close(out[0][0], 10, 1e-6);
  });

  it('handles 512x512x40 at 4x quickly', async () => {
    const d = Array.from({ length: 40 }, (_, i) => i * 4);
    const px = 512 * 512;
    const vol: VolumeF32 = { rows: 512, columns: 512, distances: d, slices: d.map((x) => new Float32Array(px).fill(x)) };
    const plan = planOutputSlices(d, { factor: 4 });
    const t0 = performance.now();
    const out = await new CubicInterpolator().interpolate(vol, plan);
    const ms = performance.now() - t0;
    assert.equal(out.length, 39 * 3);
    close(out[0][12345], 1, 1e-4);
    assert.ok(ms < 10000, `took ${ms} ms`);
  });
});

describe('toStoredValues', () => {
  it('Philips: unsigned, BitsStored 12, slope 0.1: divide, round, clip to 0..4095', () => {
    const fmt = { bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 0, rescaleSlope: 0.1, rescaleIntercept: 0 };
    assert.deepEqual(storedRange(fmt), [0, 4095]);
    const out = toStoredValues(Float32Array.from([-5, 0.04, 0.16, 12.34, 409.46, 409.6, 1000, NaN]), fmt);
    assert.ok(out instanceof Uint16Array);
    assert.deepEqual([...out], [0, 0, 2, 123, 4095, 4095, 4095, 0]);
  });

  it('signed, BitsStored 12: -2048..2047, halves rounded away from zero', () => {
    const fmt = { bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 1, rescaleSlope: 1, rescaleIntercept: 0 };
    const out = toStoredValues(Float32Array.from([-3000, -2048.4, -1.5, -0.4, 0.5, 2047.4, 5000]), fmt);
    assert.ok(out instanceof Int16Array);
    assert.deepEqual([...out], [-2048, -2048, -2, 0, 1, 2047, 2047]);
  });

  it('signed 16 bit with intercept, unsigned with slope 2 and intercept -1000', () => {
    const s16 = toStoredValues(Float32Array.from([-1024, 0, 40000, -40000]), { bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 1, rescaleSlope: 1, rescaleIntercept: -1024 });
    assert.deepEqual([...s16], [0, 1024, 32767, -32768]);
    const u16 = toStoredValues(Float32Array.from([0, -1000, -1001, 130000, 140000]), { bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 0, rescaleSlope: 2, rescaleIntercept: -1000 });
    assert.ok(u16 instanceof Uint16Array);
    assert.deepEqual([...u16], [500, 0, 0, 65500, 65535]);
  });

  it('8-bit allocations give Uint8Array; slope 0 is read as 1', () => {
    const u8 = toStoredValues(Float32Array.from([-1, 3.6, 300]), { bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, rescaleSlope: 0, rescaleIntercept: 0 });
    assert.ok(u8 instanceof Uint8Array);
    assert.deepEqual([...u8], [0, 4, 255]);
  });
});
