// Classical inter-slice interpolation along the stack normal, per pixel, in float on rescaled
// values. Source slices are never recomputed: `interpolate` returns only the synthesised
// slices of the plan (those without `sourceIndex`), in plan order, as the Interpolator
// contract in src/core/types.ts says; the writer takes source slices from their stored pixels.
import type { Interpolator, OutputSlice, VolumeF32 } from '../core/types.js';
import { PACKAGE_VERSION } from '../core/version.js';

function synthesised(plan: OutputSlice[]): Array<{ lower: number; upper: number; t: number }> {
  return plan.filter((p) => p.sourceIndex === undefined).map((p) => {
    if (!p.between) throw new Error(`plan slice at ${p.distance} mm has neither sourceIndex nor between`);
    return p.between;
  });
}

function checkVolume(volume: VolumeF32): void {
  const px = volume.rows * volume.columns;
  if (volume.slices.length !== volume.distances.length) throw new Error('volume slices and distances differ in length');
  for (const s of volume.slices) if (s.length !== px) throw new Error('volume slice size differs from rows*columns');
}

export class LinearInterpolator implements Interpolator {
  readonly method = 'linear' as const;
  readonly description = `Interslice linear ${PACKAGE_VERSION}`;

  async interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]> {
    checkVolume(volume);
    return synthesised(plan).map(({ lower, upper, t }) => {
      const a = volume.slices[lower];
      const b = volume.slices[upper];
      const out = new Float32Array(a.length);
      const wa = 1 - t;
      for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + t * b[i];
      return out;
    });
  }
}

/**
 * Natural cubic spline (second derivative 0 at both ends) through the source slices at their
 * own, possibly non-uniform, distances. The tridiagonal system for the second derivatives M is
 * the same for every pixel, so the Thomas-algorithm coefficients are scalars computed once and
 * each sweep step is one pass over whole planes (typed arrays): O(pixels * (slices + outputs)).
 */
export class CubicInterpolator implements Interpolator {
  readonly method = 'cubic' as const;
  readonly description = `Interslice cubic-spline ${PACKAGE_VERSION}`;

  async interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]> {
    checkVolume(volume);
    const wanted = synthesised(plan);
    const n = volume.slices.length;
    if (n < 3) return new LinearInterpolator().interpolate(volume, plan);
    const M = secondDerivatives(volume);
    const x = volume.distances;
    return wanted.map(({ lower: i, upper, t }) => {
      if (upper !== i + 1) throw new Error('cubic interpolation needs adjacent source slices');
      const h = x[i + 1] - x[i];
      const a = 1 - t;
      const b = t;
      const ca = ((a * a * a - a) * h * h) / 6;
      const cb = ((b * b * b - b) * h * h) / 6;
      const y0 = volume.slices[i];
      const y1 = volume.slices[i + 1];
      const m0 = M[i];
      const m1 = M[i + 1];
      const out = new Float32Array(y0.length);
      for (let p = 0; p < y0.length; p++) out[p] = a * y0[p] + b * y1[p] + ca * m0[p] + cb * m1[p];
      return out;
    });
  }
}

/** Second derivatives of the natural spline at each source slice, one plane per slice. */
function secondDerivatives(volume: VolumeF32): Float32Array[] {
  const y = volume.slices;
  const x = volume.distances;
  const n = y.length;
  const px = y[0].length;
  const h = Array.from({ length: n - 1 }, (_, i) => x[i + 1] - x[i]);
  // Interior unknowns i = 1..n-2: h[i-1] M[i-1] + 2(h[i-1]+h[i]) M[i] + h[i] M[i+1] = rhs[i].
  const cPrime = new Float64Array(n);
  const denom = new Float64Array(n);
  const M: Float32Array[] = Array.from({ length: n }, () => new Float32Array(px));
  // Forward sweep: M[i] temporarily holds d'[i].
  for (let i = 1; i <= n - 2; i++) {
    const sub = i > 1 ? h[i - 1] : 0;
    const diag = 2 * (h[i - 1] + h[i]);
    denom[i] = diag - sub * (i > 1 ? cPrime[i - 1] : 0);
    cPrime[i] = h[i] / denom[i];
    const inv = 1 / denom[i];
    const r1 = 6 / h[i];
    const r0 = 6 / h[i - 1];
    const yp = y[i + 1];
    const yc = y[i];
    const ym = y[i - 1];
    const prev = M[i - 1]; // zero plane when i == 1 (natural end)
    const cur = M[i];
    for (let p = 0; p < px; p++) {
      const rhs = r1 * (yp[p] - yc[p]) - r0 * (yc[p] - ym[p]);
      cur[p] = (rhs - sub * prev[p]) * inv;
    }
  }
  // Back substitution: M[i] = d'[i] - c'[i] M[i+1]; M[n-1] = 0 (natural end).
  for (let i = n - 3; i >= 1; i--) {
    const c = cPrime[i];
    const cur = M[i];
    const next = M[i + 1];
    for (let p = 0; p < px; p++) cur[p] -= c * next[p];
  }
  return M;
}

export type ClassicalMethod = 'linear' | 'cubic';

export function createClassicalInterpolator(method: ClassicalMethod): Interpolator {
  if (method === 'linear') return new LinearInterpolator();
  if (method === 'cubic') return new CubicInterpolator();
  throw new Error(`unknown classical interpolation method: ${String(method)}`);
}
