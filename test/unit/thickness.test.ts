// The stack's slice thickness over its spacing (src/assemble/thickness.ts), and the model the
// node chooses by it (src/pipeline/interpolator.ts interpolatorFor): the thick-slice model only
// above pipeline.thickModelAbove, the standard model at or below it, for unknown thickness and
// when no thick model is configured.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Interpolator, Stack } from '../../src/core/types.js';
import { thicknessRatio } from '../../src/assemble/thickness.js';
import { interpolatorFor, type Interpolators } from '../../src/pipeline/interpolator.js';

const withSlices = (thick: (number | undefined)[], perFrame: (number | undefined)[] = [], mean = 7.5) =>
  ({
    slices: thick.map((t, i) => ({ instance: { sliceThickness: t, frames: [{ frame: 0, sliceThickness: perFrame[i] }] }, frame: 0 })),
    spacing: { mean },
  }) as unknown as Stack;

describe('thicknessRatio: the stack\'s slice thickness over its spacing (what pipeline.thickModelAbove and adaptMaxThickness are compared with)', () => {
  it('the median of the slices\' SliceThickness over the mean spacing', () => {
    assert.equal(thicknessRatio(withSlices([6, 6, 6])), 0.8);
    assert.equal(thicknessRatio(withSlices([5, 6, 9, 6])), 0.8, 'an even count: the mean of the middle two');
    assert.equal(thicknessRatio(withSlices([1, 1, 1], [], 4)), 0.25);
  });
  it('a frame\'s own thickness (enhanced objects) before the instance\'s; missing or non-positive ones are ignored', () => {
    assert.equal(thicknessRatio(withSlices([undefined, undefined, 9], [3, 3, undefined], 6)), 0.5);
    assert.equal(thicknessRatio(withSlices([0, 6, undefined])), 0.8);
  });
  it('unknown when no slice states a thickness or the spacing is not positive', () => {
    assert.equal(thicknessRatio(withSlices([undefined, undefined])), undefined);
    assert.equal(thicknessRatio(withSlices([6, 6], [], 0)), undefined);
  });
});

describe('interpolatorFor: the thick-slice model above pipeline.thickModelAbove, else the standard one', () => {
  const named = (description: string): Interpolator => ({ method: 'model', description, interpolate: async () => [] });
  const standard = named('standard');
  const thick = named('thick');
  const set: Interpolators = { standard, thick: { interpolator: thick, above: 0.75 } };
  it('6 mm slices every 7.5 mm (0.8, the shared ASL series) and touching slices (1.0): thick', () => {
    assert.deepEqual(interpolatorFor(set, withSlices([6, 6, 6])), { interpolator: thick, thickness: 0.8, thick: true });
    assert.equal(interpolatorFor(set, withSlices([5, 5], [], 5)).interpolator, thick);
  });
  it('at the limit, below it, or of unknown thickness: standard', () => {
    assert.equal(interpolatorFor(set, withSlices([3, 3], [], 4)).interpolator, standard, '0.75 is not above 0.75');
    assert.deepEqual(interpolatorFor(set, withSlices([1, 1, 1], [], 4)), { interpolator: standard, thickness: 0.25, thick: false });
    assert.deepEqual(interpolatorFor(set, withSlices([undefined, undefined])), { interpolator: standard, thickness: undefined, thick: false });
  });
  it('no thick model configured (pipeline.thickModelPath: null): standard for every stack', () => {
    assert.equal(interpolatorFor({ standard }, withSlices([6, 6, 6])).interpolator, standard);
  });
});
