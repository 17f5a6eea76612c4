// The pure choices behind a derived slice's header: stored format and rescale (no silent
// clipping), SpacingBetweenSlices, the source images cited, the SeriesDescription. Expected
// values are worked out by hand in the comments, not taken from the code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { derivedSeriesDescription, isIdentityRescale } from '../../src/derive/tags.js';
import { sourceSupport, statedSpacingMm } from '../../src/derive/write-series.js';
import { chooseStoredFormat, holdsRange, seriesStoredFormat, toStoredValues, valueRange } from '../../src/derive/stored-values.js';

const u12 = { bitsAllocated: 16, bitsStored: 12, highBit: 11, pixelRepresentation: 0, rescaleSlope: 1, rescaleIntercept: 0 };
const u16 = { ...u12, bitsStored: 16, highBit: 15 };
const s16 = { ...u16, pixelRepresentation: 1 };

describe('holdsRange / valueRange', () => {
  it('u12 identity holds 0..4095 (4095.49 rounds to 4095), not -0.5 or 4095.5', () => {
    assert.equal(holdsRange(u12, 0, 4095.49), true);
    assert.equal(holdsRange(u12, -0.49, 10), true);
    assert.equal(holdsRange(u12, -0.5, 10), false); // rounds half away from zero to -1
    assert.equal(holdsRange(u12, 0, 4095.5), false);
  });
  it('slope 0.1 u12 holds 0..409.5', () => {
    assert.equal(holdsRange({ ...u12, rescaleSlope: 0.1 }, 0, 409.5), true);
    assert.equal(holdsRange({ ...u12, rescaleSlope: 0.1 }, 0, 409.56), false);
  });
  it('valueRange ignores NaN and infinities', () => {
    assert.deepEqual(valueRange(Float32Array.from([3, NaN, -2, Infinity, 7])), { min: -2, max: 7 });
    const none = valueRange(Float32Array.from([NaN]));
    assert.ok(Number.isNaN(none.min) && Number.isNaN(none.max));
  });
});

describe('chooseStoredFormat', () => {
  it('keeps the series format when it holds the values', () => {
    assert.deepEqual(chooseStoredFormat(0, 4095, u12), { format: u12, kind: 'kept' });
  });

  it('widens BitsStored to 16 (HighBit 15) before touching the rescale: 5000 in u12 identity', () => {
    assert.deepEqual(chooseStoredFormat(10, 5000, u12), { format: u16, kind: 'widened' });
  });

  it('takes a neighbour\'s rescale when the series\' cannot hold the values even at 16 bits', () => {
    // 0..100000 with slope 1 needs more than 65535; a neighbour with slope 4 holds 0..262140.
    const c = chooseStoredFormat(0, 100000, u12, [{ rescaleSlope: 1, rescaleIntercept: 0 }, { rescaleSlope: 4, rescaleIntercept: 0 }]);
    assert.equal(c.kind, 'alternative');
    assert.equal(c.format.rescaleSlope, 4);
    assert.equal(c.format.bitsStored, 12 + 4); // 100000 / 4 = 25000 > 4095: widened too
  });

  it('makes a new rescale: span 0..200000 in u16 needs slope 4 (200000 / 65534 = 3.05 -> 4)', () => {
    const c = chooseStoredFormat(0, 200000, u12);
    assert.equal(c.kind, 'new');
    assert.deepEqual([c.format.rescaleSlope, c.format.rescaleIntercept, c.format.bitsStored, c.format.pixelRepresentation], [4, 0, 16, 0]);
  });

  it('new rescale for negatives in an unsigned 16-bit series: slope kept, intercept a whole number of slopes below', () => {
    // -3.7 .. 6000 with slope 0.1: span 6003.7 / 0.1 = 60037 steps fit 65535, so k = 1 and
    // the intercept is the first multiple of 0.1 at or below -3.7: -3.7.
    const c = chooseStoredFormat(-3.7, 6000, { ...u16, rescaleSlope: 0.1 });
    assert.equal(c.kind, 'new');
    assert.equal(c.format.rescaleSlope, 0.1);
    assert.equal(c.format.rescaleIntercept, -3.7);
    const stored = toStoredValues(Float32Array.from([-3.7, 0, 6000]), c.format);
    assert.deepEqual([...stored], [0, 37, 60037]);
  });

  it('never changes PixelRepresentation, and what it picks always holds', () => {
    for (const [min, max] of [[-1e6, 1e6], [-5, 5], [0.25, 1e9], [-70000, -60000]]) {
      for (const base of [u12, s16, { ...u12, rescaleSlope: 0.1 }, { ...s16, rescaleSlope: 2.5, rescaleIntercept: -1024 }]) {
        const c = chooseStoredFormat(min, max, base);
        assert.equal(c.format.pixelRepresentation, base.pixelRepresentation);
        assert.ok(holdsRange(c.format, min, max), `${min}..${max} in ${JSON.stringify(c.format)}`);
      }
    }
  });
});

describe('seriesStoredFormat', () => {
  it('unsigned 12-bit with a negative synthesised value becomes signed 16-bit, same rescale', () => {
    assert.deepEqual(seriesStoredFormat(-1, 3000, u12), s16);
    assert.deepEqual(seriesStoredFormat(-1, 3000, { ...u12, rescaleSlope: 0.1 }), { ...s16, rescaleSlope: 0.1 });
  });
  it('kept when the values fit, when they only go above, or when the source already uses 16 bits', () => {
    assert.deepEqual(seriesStoredFormat(0, 4095, u12), u12);
    assert.deepEqual(seriesStoredFormat(0, 5000, u12), u12);
    assert.deepEqual(seriesStoredFormat(-1, 3000, u16), u16);
  });
});

describe('header values', () => {
  it('statedSpacingMm: the target when the plan meets it, else the plan to 1e-4 mm', () => {
    assert.equal(statedSpacingMm(0.99999998235933, { spacingMm: 1 }), 1);
    assert.equal(statedSpacingMm(0.9375, { spacingMm: 1 }), 0.9375);
    assert.equal(statedSpacingMm(0.99999998235933, { factor: 3 }), 1);
    assert.equal(statedSpacingMm(4.0000001 / 3, { factor: 3 }), 1.3333);
  });

  it('sourceSupport: two neighbours, or four clamped at the ends', () => {
    assert.deepEqual(sourceSupport(3, 10, 2), [3, 4]);
    assert.deepEqual(sourceSupport(3, 10, 4), [2, 3, 4, 5]);
    assert.deepEqual(sourceSupport(0, 10, 4), [0, 1, 2]);
    assert.deepEqual(sourceSupport(8, 10, 4), [7, 8, 9]);
    assert.deepEqual(sourceSupport(0, 2, 4), [0, 1]);
  });

  it('derivedSeriesDescription says interpolated and shortens only the source part', () => {
    assert.equal(derivedSeriesDescription({ SeriesDescription: 'DTI_PA-ALL_20d' }, 1, 'model'), 'DTI_PA-ALL_20d [Interslice interpolated 1.0mm model]');
    const long = derivedSeriesDescription({ SeriesDescription: 'a very long series description that goes on' }, 0.9375, 'linear');
    // The suffix is 40 characters, so 24 of the source remain.
    assert.equal(long, 'a very long series descr [Interslice interpolated 0.94mm linear]');
    assert.equal(long.length, 64);
    // The cubic suffix is 38 characters: 26 of the source remain, and the space that ends them is dropped.
    assert.equal(derivedSeriesDescription({ SeriesDescription: `${'x'.repeat(25)} yyyy` }, 1, 'cubic'), `${'x'.repeat(25)} [Interslice interpolated 1.0mm cubic]`);
  });

  it('isIdentityRescale', () => {
    assert.equal(isIdentityRescale({ rescaleSlope: 1, rescaleIntercept: 0 }), true);
    assert.equal(isIdentityRescale({ rescaleSlope: 0.1, rescaleIntercept: 0 }), false);
    assert.equal(isIdentityRescale({ rescaleSlope: 1, rescaleIntercept: -1 }), false);
  });
});
