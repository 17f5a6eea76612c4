// The through-plane refiner's pure logic (src/interpolate/refine/planes.ts): which output slices
// it may change (their distance to the nearest acquired slice) and the planes that cross a stack.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutputSlice } from '../../src/core/types.js';
import { gatherPlanes, rowDistances, scatterPlanes } from '../../src/interpolate/refine/planes.js';

describe('rowDistances', () => {
  it('0 at acquired slices, min(t, 1 - t) of the acquired spacing between them', () => {
    const plan: OutputSlice[] = [
      { distance: 0, sourceIndex: 0 },
      { distance: 2, between: { lower: 0, upper: 1, t: 0.25 } },
      { distance: 4, between: { lower: 0, upper: 1, t: 0.5 } },
      { distance: 6, between: { lower: 0, upper: 1, t: 0.75 } },
      { distance: 8, sourceIndex: 1 },
    ];
    assert.deepEqual([...rowDistances(plan)], [0, 0.25, 0.5, 0.25, 0]);
  });
  it('refuses a synthesised slice without its neighbours', () => {
    assert.throws(() => rowDistances([{ distance: 1 }]), /neighbouring source slices/);
  });
});

describe('gatherPlanes / scatterPlanes', () => {
  // value of slice z, image row r, column c
  const v = (z: number, r: number, c: number) => 100 * z + 10 * r + c;
  const Z = 3, rows = 4, cols = 5;
  const slices = Array.from({ length: Z }, (_, z) => Float32Array.from({ length: rows * cols }, (_, p) => v(z, Math.floor(p / cols), p % cols)));

  it('plane i of a run starting at image row r0 holds row r0 + i of every slice, slice by slice', () => {
    const planes = gatherPlanes(slices, cols, 1, 2);
    assert.equal(planes.length, 2 * Z * cols);
    for (let i = 0; i < 2; i++)
      for (let z = 0; z < Z; z++)
        for (let c = 0; c < cols; c++) assert.equal(planes[(i * Z + z) * cols + c], v(z, 1 + i, c));
  });

  it('scatter writes the planes back to those rows of the slices it is given, and only those', () => {
    const into = [undefined, new Float32Array(rows * cols).fill(-1), new Float32Array(rows * cols).fill(-1)];
    scatterPlanes(gatherPlanes(slices, cols, 1, 2), into, cols, 1, 2);
    for (const z of [1, 2])
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) assert.equal(into[z]![r * cols + c], r === 1 || r === 2 ? v(z, r, c) : -1);
  });
});
