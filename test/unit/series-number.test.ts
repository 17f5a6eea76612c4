import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickSeriesNumber } from '../../src/pipeline/series-number.js';

describe('derived SeriesNumber', () => {
  it('is the source number + 1000 when that is free', () => {
    assert.equal(pickSeriesNumber(5, new Set([5])), 1005);
  });
  it('skips numbers the study already uses (Siemens 18001 next to 19001)', () => {
    assert.equal(pickSeriesNumber(18001, new Set([18001, 19001])), 19002);
  });
  it('gives each stack of one series its own number', () => {
    const used = new Set([2001]);
    assert.deepEqual([1, 2, 3, 4].map(() => pickSeriesNumber(2001, used)), [3001, 3002, 3003, 3004]);
  });
  it('works without a source number', () => {
    assert.equal(pickSeriesNumber(undefined, new Set()), 1000);
  });
});
