import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, eta, formatDuration, progressLine } from '../../src/core/progress.js';

describe('progress lines', () => {
  it('extrapolates the remaining time from the rate so far', () => {
    assert.equal(eta(1, 4, 10_000), 30_000);
    assert.ok(Number.isNaN(eta(0, 4, 10_000)));
  });
  it('formats durations for people', () => {
    assert.equal(formatDuration(5_400), '5s');
    assert.equal(formatDuration(125_000), '2m05s');
    assert.equal(formatDuration(3_725_000), '1h02m');
    assert.equal(formatDuration(NaN), '?');
  });
  it('draws a bar with counts, percentage and ETA', () => {
    assert.equal(progressLine('process', 5, 20, 10_000), 'process [#####...............] 5/20 25% elapsed 10s eta 30s');
  });
  it('writes at most one line per interval, and always the last', () => {
    const lines: string[] = [];
    let t = 0;
    const p = createProgress('x', 10, { everyMs: 1000, write: (l) => lines.push(l), now: () => t });
    for (let i = 1; i <= 9; i++) {
      t += 300;
      p.tick(i);
    }
    p.finish();
    // ticks at t=300 (first), 1500, 2700 print; the rest are within the interval; finish prints.
    assert.equal(lines.length, 4);
    assert.match(lines[3], /10\/10 100%/);
  });
});
