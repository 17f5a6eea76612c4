// Pure logic of the through-plane refiner (training/refiner.py): which output slices it may
// change, and the planes it runs on. A plane crosses every output slice of the stack along one
// image row: plane r holds, for each output slice z, that slice's row r (Z x columns). The
// refiner's runs and their I/O are refiner.ts.
import type { OutputSlice } from '../../core/types.js';

/**
 * Per output slice, its distance to the nearest acquired slice in units of the acquired spacing:
 * 0 for an acquired slice, min(t, 1 - t) for one synthesised at t between two. The refiner
 * leaves the slices at 0 as they are.
 */
export function rowDistances(plan: readonly OutputSlice[]): Float32Array {
  return Float32Array.from(plan, (p) => {
    if (p.sourceIndex !== undefined) return 0;
    if (!p.between) throw new Error('the refiner needs the neighbouring source slices of every synthesised slice');
    return Math.min(p.between.t, 1 - p.between.t);
  });
}

/** Planes for image rows r0 .. r0+n-1 of `slices` (Z slices of rows x cols), as [n][Z][cols]. */
export function gatherPlanes(slices: readonly Float32Array[], cols: number, r0: number, n: number): Float32Array {
  const z = slices.length;
  const out = new Float32Array(n * z * cols);
  for (let i = 0; i < n; i++) {
    const start = (r0 + i) * cols;
    for (let s = 0; s < z; s++) out.set(slices[s].subarray(start, start + cols), (i * z + s) * cols);
  }
  return out;
}

/** Writes planes [n][Z][cols] back into image rows r0 .. r0+n-1 of the slices `into` lists. */
export function scatterPlanes(planes: Float32Array, into: readonly (Float32Array | undefined)[], cols: number, r0: number, n: number): void {
  const z = into.length;
  for (let i = 0; i < n; i++) {
    const start = (r0 + i) * cols;
    for (let s = 0; s < z; s++) {
      const dst = into[s];
      if (dst) dst.set(planes.subarray((i * z + s) * cols, (i * z + s + 1) * cols), start);
    }
  }
}
