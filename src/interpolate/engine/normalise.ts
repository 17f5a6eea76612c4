// Intensity normalisation as the model's metadata says: divide every value of the stack by the
// stack's p-th percentile (p = normalisation_percentile, 99.9; numpy's 'linear' percentile),
// run the model, multiply back. Stacks over 4M values are sampled with a regular stride.
import type { VolumeF32 } from '../../core/types.js';
import type { ModelMetadata } from '../model/metadata.js';

const MAX_SAMPLE = 4_000_000;

/** The p-th percentile (0-100) of all values of the volume, linear between order statistics. */
export function percentile(volume: VolumeF32, p: number): number {
  const total = volume.slices.reduce((s, x) => s + x.length, 0);
  if (total === 0) return 0;
  const stride = Math.max(1, Math.ceil(total / MAX_SAMPLE));
  const sample = new Float32Array(Math.ceil(total / stride));
  let k = 0;
  let i = 0;
  for (const s of volume.slices) {
    // Keep one value in `stride` across slice boundaries.
    let j = (stride - (i % stride)) % stride;
    for (; j < s.length; j += stride) sample[k++] = s[j];
    i += s.length;
  }
  const sorted = sample.subarray(0, k).sort();
  const pos = (Math.min(100, Math.max(0, p)) / 100) * (k - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(k - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function normalisationPercentile(meta: ModelMetadata): number {
  const p = Number(meta.normalisation_percentile ?? '99.9');
  if (!Number.isFinite(p) || p <= 0 || p > 100) throw new Error(`model metadata normalisation_percentile "${meta.normalisation_percentile}" is not a percentile`);
  return p;
}

// A stack's scale is read by the model and again by the refiner after it (about 0.4 s for a
// 24-slice 512² stack): kept per volume and percentile. Volumes are not changed once loaded.
const scales = new WeakMap<VolumeF32, Map<number, number>>();

/** The stack's scale: its percentile, or its maximum (or 1) when that is not positive. */
export function stackScale(volume: VolumeF32, p: number): number {
  let byPercentile = scales.get(volume);
  if (!byPercentile) scales.set(volume, (byPercentile = new Map()));
  let s = byPercentile.get(p);
  if (s === undefined) byPercentile.set(p, (s = scaleOf(volume, p)));
  return s;
}

function scaleOf(volume: VolumeF32, p: number): number {
  const s = percentile(volume, p);
  if (s > 0) return s;
  let max = 0;
  for (const sl of volume.slices) for (let i = 0; i < sl.length; i++) if (sl[i] > max) max = sl[i];
  return max > 0 ? max : 1;
}

export function normalise(slice: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(slice.length);
  const inv = 1 / scale;
  for (let i = 0; i < slice.length; i++) out[i] = slice[i] * inv;
  return out;
}

/** In place: back to the stack's units. */
export function denormalise(slice: Float32Array, scale: number): Float32Array {
  for (let i = 0; i < slice.length; i++) slice[i] *= scale;
  return slice;
}
