// Reformats for the status page's before/after pictures (pure, no I/O). A stack's two reformat
// planes are the two planes that contain the slice normal: the one through the middle column
// (it runs along the column direction: sagittal for an axial stack) and the one through the
// middle row (along the row direction: coronal for an axial stack). Pixels are square in mm, so
// the picture has the true physical aspect ratio; along the slice axis the source is sampled
// nearest-neighbour (the staircase of thick slices stays visible), the derived series linearly.
import { cross, nearestPlane, normalFromOrientation } from '../assemble/geometry.js';
import type { Orientation, Vec3 } from '../core/types.js';

export interface ReformatVolume {
  rows: number;
  columns: number;
  /** rows*columns rescaled values per slice, in the order of `distances`. */
  slices: Float32Array[];
  /** Distance of each slice along `normal` (mm), ascending. */
  distances: number[];
  /** [row spacing, column spacing] in mm (PixelSpacing order). */
  pixelSpacing: [number, number];
  orientation: Orientation;
  /** Unit normal the distances are measured along; row x column when absent. */
  normal?: Vec3;
}

/** 'column': the plane through the middle column; 'row': the plane through the middle row. */
export type ReformatCut = 'column' | 'row';

export interface ReformatOptions {
  /** Along the slice axis: nearest (source) or linear (derived). */
  sampling: 'nearest' | 'linear';
  /** Size of a picture pixel in mm (square); default: the in-plane spacing of the cut. */
  pixelMm?: number;
  /** Range along the normal to cover (mm); default the stack's own: first - step/2 .. last + step/2. */
  extent?: { start: number; end: number };
}

export interface ReformatImage {
  width: number;
  height: number;
  /** width*height values, row-major, top row first. */
  data: Float32Array;
  /** Anatomical plane nearest to the reformat plane (LPS): sagittal, coronal or axial. */
  plane: 'sagittal' | 'coronal' | 'axial';
  /** True when the slice axis runs vertically in the picture. */
  sliceAxisVertical: boolean;
}

/** Mean slice step, or the in-plane spacing for a single slice (no better guess). */
export function meanStep(distances: number[], fallback: number): number {
  if (distances.length < 2) return fallback;
  return (distances[distances.length - 1] - distances[0]) / (distances.length - 1);
}

/** The range a stack covers along its normal: each slice owns one step centred on it. */
export function stackExtent(v: Pick<ReformatVolume, 'distances' | 'pixelSpacing'>): { start: number; end: number } {
  const d = v.distances;
  const step = meanStep(d, Math.min(...v.pixelSpacing));
  return { start: d[0] - step / 2, end: d[d.length - 1] + step / 2 };
}

/** In-plane direction (unit, patient LPS) and spacing the cut runs along. */
function inPlaneAxis(v: ReformatVolume, cut: ReformatCut): { dir: Vec3; spacing: number; count: number } {
  const o = v.orientation;
  // Through the middle column we move down the rows: column cosine, row spacing.
  if (cut === 'column') return { dir: [o[3], o[4], o[5]], spacing: v.pixelSpacing[0], count: v.rows };
  return { dir: [o[0], o[1], o[2]], spacing: v.pixelSpacing[1], count: v.columns };
}

/**
 * How the two axes of a reformat are laid out on screen, radiological style: the axis closer to
 * head-feet runs vertically with the head up; in a plane with no head-feet axis (the axial cut of
 * a sagittal or coronal stack) anterior is up. Horizontally, +x (patient left) and +y (posterior)
 * go to the right, so patient right is on the viewer's left and anterior is on the left.
 */
export function layout(inPlane: Vec3, normal: Vec3): { sliceAxisVertical: boolean; flipSlice: boolean; flipInPlane: boolean } {
  const abs = (v: Vec3) => v.map(Math.abs) as Vec3;
  const [a, n] = [abs(inPlane), abs(normal)];
  const byZ = Math.max(a[2], n[2]) >= 0.5;
  const sliceAxisVertical = byZ ? n[2] >= a[2] : n[1] >= a[1];
  const vertical = sliceAxisVertical ? normal : inPlane;
  const horizontal = sliceAxisVertical ? inPlane : normal;
  // Picture rows go top to bottom; "up" is +z (head) or -y (anterior).
  const upIsIncreasing = byZ ? vertical[2] > 0 : vertical[1] < 0;
  const h = abs(horizontal);
  const major = h[0] >= h[1] && h[0] >= h[2] ? 0 : h[1] >= h[2] ? 1 : 2;
  const rightIsDecreasing = horizontal[major] < 0;
  return {
    sliceAxisVertical,
    flipSlice: sliceAxisVertical ? upIsIncreasing : rightIsDecreasing,
    flipInPlane: sliceAxisVertical ? rightIsDecreasing : upIsIncreasing,
  };
}

function planeName(inPlane: Vec3, normal: Vec3): ReformatImage['plane'] {
  const p = nearestPlane(cross(inPlane, normal)).plane;
  return p === 'sag' ? 'sagittal' : p === 'cor' ? 'coronal' : 'axial';
}

/** Index of the last distance <= t (binary search), -1 when t is before the first. */
function lowerIndex(d: number[], t: number): number {
  let lo = 0;
  let hi = d.length - 1;
  if (t < d[0]) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (d[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Which slices, with which weights, make the value at distance t. */
function sliceWeights(d: number[], t: number, sampling: ReformatOptions['sampling']): [number, number, number] {
  const n = d.length;
  const i = lowerIndex(d, t);
  if (i < 0) return [0, 0, 0];
  if (i >= n - 1) return [n - 1, n - 1, 0];
  const w = (t - d[i]) / (d[i + 1] - d[i] || 1);
  if (sampling === 'nearest') return w < 0.5 ? [i, i, 0] : [i + 1, i + 1, 0];
  return [i, i + 1, w];
}

export function reformat(v: ReformatVolume, cut: ReformatCut, opts: ReformatOptions): ReformatImage {
  if (v.slices.length === 0) throw new Error('cannot reformat an empty stack');
  const normal = v.normal ?? normalFromOrientation(v.orientation);
  const axis = inPlaneAxis(v, cut);
  const pixelMm = opts.pixelMm ?? axis.spacing;
  const extent = opts.extent ?? stackExtent(v);
  // Both axes are sampled every pixelMm; counts are rounded, so the aspect ratio is true to
  // within half a pixel on each axis.
  const nSlice = Math.max(1, Math.round((extent.end - extent.start) / pixelMm));
  const nPlane = Math.max(1, Math.round((axis.count * axis.spacing) / pixelMm));
  const sliceStep = (extent.end - extent.start) / nSlice;
  const planeStep = (axis.count * axis.spacing) / nPlane / axis.spacing; // in source pixels
  const fixed = cut === 'column' ? Math.floor(v.columns / 2) : Math.floor(v.rows / 2);
  const at = (slice: Float32Array, k: number) =>
    cut === 'column' ? slice[k * v.columns + fixed] : slice[fixed * v.columns + k];

  // One line of the in-plane profile per slice of the volume: only those are ever read.
  const profiles = v.slices.map((s) => {
    const line = new Float32Array(nPlane);
    for (let j = 0; j < nPlane; j++) {
      const u = Math.min(axis.count - 1, Math.max(0, (j + 0.5) * planeStep - 0.5));
      const k0 = Math.floor(u);
      const k1 = Math.min(axis.count - 1, k0 + 1);
      line[j] = at(s, k0) * (1 - (u - k0)) + at(s, k1) * (u - k0);
    }
    return line;
  });

  const { sliceAxisVertical, flipSlice, flipInPlane } = layout(axis.dir, normal);
  const width = sliceAxisVertical ? nPlane : nSlice;
  const height = sliceAxisVertical ? nSlice : nPlane;
  const data = new Float32Array(width * height);
  for (let i = 0; i < nSlice; i++) {
    const t = extent.start + (i + 0.5) * sliceStep;
    const [a, b, w] = sliceWeights(v.distances, t, opts.sampling);
    const pa = profiles[a];
    const pb = profiles[b];
    const si = flipSlice ? nSlice - 1 - i : i;
    for (let j = 0; j < nPlane; j++) {
      const value = w === 0 ? pa[j] : pa[j] * (1 - w) + pb[j] * w;
      const pj = flipInPlane ? nPlane - 1 - j : j;
      const [x, y] = sliceAxisVertical ? [pj, si] : [si, pj];
      data[y * width + x] = value;
    }
  }
  return { width, height, data, plane: planeName(axis.dir, normal), sliceAxisVertical };
}

/** The pth percentile (0..100) of values, by sorting a copy (pictures are small). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float32Array.from(values).sort();
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[idx];
}

export interface Window {
  low: number;
  high: number;
}

/** The 1st-99th percentile window of some pictures' values (computed once, applied to all). */
export function percentileWindow(images: ReformatImage[], lowP = 1, highP = 99): Window {
  const all = new Float32Array(images.reduce((n, im) => n + im.data.length, 0));
  let o = 0;
  for (const im of images) {
    all.set(im.data, o);
    o += im.data.length;
  }
  const low = percentile(all, lowP);
  let high = percentile(all, highP);
  if (!(high > low)) high = low + 1;
  return { low, high };
}

/** 8-bit grey values for a picture under a window (values outside it are clipped). */
export function toGrey8(im: ReformatImage, w: Window): Uint8Array {
  const out = new Uint8Array(im.data.length);
  const scale = 255 / (w.high - w.low);
  for (let i = 0; i < im.data.length; i++) {
    const g = Math.round((im.data[i] - w.low) * scale);
    out[i] = g < 0 ? 0 : g > 255 ? 255 : g;
  }
  return out;
}
