import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickSeriesNumber } from '../../src/pipeline/series-number.js';

describe('derived SeriesNumber', () => {
  it('is the source number x 100 + 1 when that is free', () => {
    assert.equal(pickSeriesNumber(5, new Set([5])), 501);
  });
  it('does not meet an acquisition that arrives later (Siemens 18001, then 19001)', () => {
    const used = new Set([18001]);
    const derived = pickSeriesNumber(18001, used);
    assert.equal(derived, 1800101);
    assert.notEqual(derived, 19001);
  });
  it('skips numbers the study already uses, our own earlier outputs included', () => {
    assert.equal(pickSeriesNumber(7, new Set([7, 701, 702])), 703);
  });
  it('gives each stack of one series its own number', () => {
    const used = new Set([2001]);
    assert.deepEqual([1, 2, 3, 4].map(() => pickSeriesNumber(2001, used)), [200101, 200102, 200103, 200104]);
  });
  it('stays within IS (2^31 - 1): a huge source number gets + 1000', () => {
    assert.equal(pickSeriesNumber(30_000_000, new Set()), 30_001_000);
  });
  it('works without a source number', () => {
    assert.equal(pickSeriesNumber(undefined, new Set()), 1);
  });
});
