// The quiet-period rule: a series is due `stableMs` after its last instance, once; a late
// instance re-opens it for a re-run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuietPeriodTracker } from '../../src/assemble/quiet-period.js';

const STABLE = 30_000;

test('a series is due only after stableMs without a new instance', () => {
  const q = new QuietPeriodTracker();
  q.touch('A', 0);
  q.touch('A', 10_000);
  assert.deepEqual(q.due(39_999, STABLE), []); // 29.999 s after the last instance
  assert.deepEqual(q.due(40_000, STABLE), ['A']);
  assert.equal(q.handOffs('A'), 1);
  assert.equal(q.isRerun('A'), false);
});

test('a due series is handed off once', () => {
  const q = new QuietPeriodTracker();
  q.touch('A', 0);
  assert.deepEqual(q.due(STABLE, STABLE), ['A']);
  assert.deepEqual(q.due(STABLE * 5, STABLE), []);
  assert.deepEqual(q.pending(), []);
});

test('a late instance re-opens a handed-off series; it is due again after its own quiet period', () => {
  const q = new QuietPeriodTracker();
  q.touch('A', 0);
  assert.deepEqual(q.due(30_000, STABLE), ['A']);
  q.touch('A', 45_000); // late instance
  assert.deepEqual(q.pending(), ['A']);
  assert.deepEqual(q.due(74_999, STABLE), []);
  assert.deepEqual(q.due(75_000, STABLE), ['A']);
  assert.equal(q.handOffs('A'), 2);
  assert.equal(q.isRerun('A'), true);
});

test('series are independent and come out in first-touched order', () => {
  const q = new QuietPeriodTracker();
  q.touch('B', 0);
  q.touch('A', 1_000);
  q.touch('C', 20_000);
  assert.deepEqual(q.due(31_000, STABLE), ['B', 'A']);
  assert.deepEqual(q.due(50_000, STABLE), ['C']);
});

test('an out-of-order (older) timestamp does not pull the deadline back', () => {
  const q = new QuietPeriodTracker();
  q.touch('A', 10_000);
  q.touch('A', 5_000);
  assert.deepEqual(q.due(35_000, STABLE), []);
  assert.deepEqual(q.due(40_000, STABLE), ['A']);
});

test('forget drops a series; a new instance starts it afresh', () => {
  const q = new QuietPeriodTracker();
  q.touch('A', 0);
  q.due(STABLE, STABLE);
  q.forget('A');
  assert.equal(q.handOffs('A'), 0);
  q.touch('A', 100_000);
  assert.deepEqual(q.due(130_000, STABLE), ['A']);
  assert.equal(q.isRerun('A'), false);
});
