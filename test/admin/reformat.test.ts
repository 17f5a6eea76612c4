// Reformat maths: sizes at true physical aspect ratio, radiological layout for axial and sagittal
// stacks, nearest vs linear sampling along the slice axis, and the percentile window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Orientation } from '../../src/core/types.js';
import { layout, percentileWindow, reformat, stackExtent, toGrey8, type ReformatVolume } from '../../src/admin/reformat.js';

const AXIAL: Orientation = [1, 0, 0, 0, 1, 0]; // rows run +x (to patient left), columns +y (posterior)
const SAGITTAL: Orientation = [0, 1, 0, 0, 0, -1]; // rows run posterior, columns run to the feet

/** A stack whose voxel value is chosen by (slice, row, column). */
function volume(o: Orientation, n: number, step: number, rows: number, cols: number, ps: number, value: (s: number, r: number, c: number) => number): ReformatVolume {
  const slices = Array.from({ length: n }, (_, s) => {
    const a = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) a[r * cols + c] = value(s, r, c);
    return a;
  });
  return { rows, columns: cols, slices, distances: slices.map((_, s) => 10 + s * step), pixelSpacing: [ps, ps], orientation: o };
}

const column = (im: { width: number; height: number; data: Float32Array }, x: number) => Array.from({ length: im.height }, (_, y) => im.data[y * im.width + x]);

describe('reformat', () => {
  // 12 slices every 7.5 mm cover 90 mm; at 4 mm per pixel that is 90 / 4 = 22.5 -> 23 px.
  const asl = volume(AXIAL, 12, 7.5, 64, 64, 4, (s) => s);

  it('gives an axial stack of 12 x 7.5 mm, 64 rows at 4 mm a sagittal picture of 64 x 23 px', () => {
    const sag = reformat(asl, 'column', { sampling: 'nearest' });
    assert.equal(sag.plane, 'sagittal');
    assert.equal(sag.sliceAxisVertical, true);
    assert.equal(sag.width, 64);
    assert.equal(sag.height, Math.round((12 * 7.5) / 4));
    assert.equal(sag.height, 23);
    // Physical size: 256 mm wide, 90 mm tall, each to within half a pixel.
    assert.ok(Math.abs(sag.height * 4 - 90) <= 2);
    const cor = reformat(asl, 'row', { sampling: 'nearest' });
    assert.equal(cor.plane, 'coronal');
    assert.deepEqual([cor.width, cor.height], [64, 23]);
  });

  it('keeps mm square at a finer pixel size', () => {
    const sag = reformat(asl, 'column', { sampling: 'nearest', pixelMm: 1 });
    assert.deepEqual([sag.width, sag.height], [256, 90]);
    const half = reformat(asl, 'column', { sampling: 'nearest', pixelMm: 2 });
    assert.deepEqual([half.width, half.height], [128, 45]);
  });

  it('puts the head at the top and shows the staircase with nearest sampling', () => {
    const sag = reformat(asl, 'column', { sampling: 'nearest', pixelMm: 1 });
    const profile = column(sag, 100);
    assert.equal(profile[0], 11, 'top row is the most superior slice');
    assert.equal(profile[profile.length - 1], 0, 'bottom row is the most inferior slice');
    // Nearest: only source values, each held for about 7.5 rows.
    assert.ok(profile.every((v) => Number.isInteger(v)));
    assert.equal(new Set(profile).size, 12);
    const runs = profile.filter((v, i) => i === 0 || v !== profile[i - 1]).length;
    assert.equal(runs, 12);
  });

  it('interpolates between slices with linear sampling', () => {
    const sag = reformat(asl, 'column', { sampling: 'linear', pixelMm: 1 });
    const profile = column(sag, 100);
    assert.ok(profile.some((v) => !Number.isInteger(v)));
    for (let i = 1; i < profile.length; i++) assert.ok(profile[i] <= profile[i - 1] + 1e-6, 'monotonic from head to feet');
  });

  it('puts anterior on the left of a sagittal and patient left on the right of a coronal', () => {
    const byRow = volume(AXIAL, 12, 7.5, 64, 64, 4, (_s, r) => r); // row index grows posterior
    const sag = reformat(byRow, 'column', { sampling: 'nearest' });
    assert.equal(sag.data[0], 0);
    assert.equal(sag.data[sag.width - 1], 63);
    const byCol = volume(AXIAL, 12, 7.5, 64, 64, 4, (_s, _r, c) => c); // column index grows to patient left
    const cor = reformat(byCol, 'row', { sampling: 'nearest' });
    assert.equal(cor.data[0], 0);
    assert.equal(cor.data[cor.width - 1], 63);
  });

  it('lays out a sagittal stack: slice axis across, head up in the coronal cut, anterior up in the axial cut', () => {
    // Normal = row x column = (0,1,0) x (0,0,-1) = (-1,0,0): distances grow to patient right.
    const sag = volume(SAGITTAL, 20, 3, 48, 32, 2, (s, r) => s * 1000 + r);
    const cor = reformat(sag, 'column', { sampling: 'nearest' });
    assert.equal(cor.plane, 'coronal');
    assert.equal(cor.sliceAxisVertical, false);
    assert.deepEqual([cor.width, cor.height], [30, 48]); // 20 x 3 mm = 60 mm / 2 mm; 48 rows
    assert.equal(cor.data[0] % 1000, 0, 'row 0 (head) at the top');
    assert.equal(Math.floor(cor.data[cor.width - 1] / 1000), 0, 'slice 0 (patient left) on the right');
    const ax = reformat(sag, 'row', { sampling: 'nearest' });
    assert.equal(ax.plane, 'axial');
    assert.equal(ax.sliceAxisVertical, false);
    assert.deepEqual([ax.width, ax.height], [30, 32]);
  });

  it('places an oblique stack by its dominant axes', () => {
    const t = (36 * Math.PI) / 180; // Canon's 36 degree tilt about x
    const l = layout([0, Math.cos(t), -Math.sin(t)], [0, Math.sin(t), Math.cos(t)]);
    assert.deepEqual(l, { sliceAxisVertical: true, flipSlice: true, flipInPlane: false });
  });

  it('covers a given extent, so before and after line up', () => {
    const src = stackExtent(asl);
    assert.deepEqual(src, { start: 10 - 3.75, end: 10 + 82.5 + 3.75 });
    const thin = volume(AXIAL, 83, 1, 64, 64, 4, (s) => s / 7.5);
    const a = reformat(asl, 'column', { sampling: 'nearest', extent: src, pixelMm: 1 });
    const b = reformat(thin, 'column', { sampling: 'linear', extent: src, pixelMm: 1 });
    assert.deepEqual([a.width, a.height], [b.width, b.height]);
  });

  it('windows to the 1st-99th percentile', () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => i);
    data[999] = 1e6; // one hot pixel must not set the window
    const im = { width: 1000, height: 1, data, plane: 'axial' as const, sliceAxisVertical: false };
    const w = percentileWindow([im]);
    assert.equal(w.low, 10);
    assert.equal(w.high, 989);
    const g = toGrey8(im, w);
    assert.equal(g[0], 0);
    assert.equal(g[999], 255);
    assert.equal(g[500], Math.round((490 * 255) / 979));
  });
});
