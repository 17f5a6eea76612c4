// Where the output slices of a derived series go along the stack normal.
//
// Policy (also written into DerivationDescription by src/derive):
//   Every source gap is divided into the same whole number of steps `sub`:
//     sub = factor                                  for a factor target
//     sub = the whole number >= 1 for which meanSourceSpacing / sub is nearest the target
//   The output spacing is uniform, span / ((n-1) * sub): the uniform spacing nearest the
//   requested one at which every (regularly spaced) source slice lands on an output position.
//   Why: the node must give the original slices back exactly at their own positions, and
//   viewers need one uniform spacing for MPR. For 7.5 mm -> 1 mm this gives 8 steps of
//   0.9375 mm rather than 1.0 mm slices that would miss 10 of the 12 originals.
//   A source slice within SOURCE_TOLERANCE of an output position is reproduced there
//   (`sourceIndex`); every other output slice is synthesised between its neighbours.
import type { OutputSlice, SpacingTarget } from './types.js';

/** A source slice this close (mm, or 1% of the output spacing if larger) is "on" a position. */
export const SOURCE_TOLERANCE_MM = 1e-3;

/** Whole steps per source gap for a target (see the policy above). */
export function stepsPerGap(distances: number[], target: SpacingTarget): number {
  const n = distances.length;
  if ('factor' in target) {
    if (!Number.isInteger(target.factor) || target.factor < 1) throw new Error(`factor must be a whole number >= 1, got ${target.factor}`);
    return target.factor;
  }
  if (!(target.spacingMm > 0)) throw new Error(`spacingMm must be > 0, got ${target.spacingMm}`);
  const mean = (distances[n - 1] - distances[0]) / (n - 1);
  // Of the two whole numbers around mean/target, the one whose spacing is nearer the target
  // (7.5 mm -> 1 mm: 8 steps of 0.9375 mm beat 7 of 1.0714 mm); ties go to thinner slices.
  const lo = Math.max(1, Math.floor(mean / target.spacingMm));
  const hi = lo + 1;
  return Math.abs(mean / hi - target.spacingMm) <= Math.abs(mean / lo - target.spacingMm) ? hi : lo;
}

/** Plans the output slices from the first to the last source distance (ascending input). */
export function planOutputSlices(distances: number[], target: SpacingTarget): OutputSlice[] {
  const n = distances.length;
  if (n < 2) throw new Error('need at least two source slices to interpolate');
  for (let i = 1; i < n; i++) {
    if (!(distances[i] > distances[i - 1])) throw new Error(`source distances must ascend strictly (index ${i})`);
  }
  const sub = stepsPerGap(distances, target);
  const steps = (n - 1) * sub;
  const first = distances[0];
  const span = distances[n - 1] - first;
  const spacing = span / steps;
  const tol = Math.max(SOURCE_TOLERANCE_MM, 0.01 * spacing);
  const out: OutputSlice[] = [];
  let j = 0; // lower source index, advanced monotonically
  for (let k = 0; k <= steps; k++) {
    const d = k === steps ? distances[n - 1] : first + k * spacing;
    while (j < n - 2 && distances[j + 1] <= d) j++;
    if (Math.abs(d - distances[j]) <= tol) out.push({ distance: distances[j], sourceIndex: j });
    else if (Math.abs(d - distances[j + 1]) <= tol) out.push({ distance: distances[j + 1], sourceIndex: j + 1 });
    else {
      const t = (d - distances[j]) / (distances[j + 1] - distances[j]);
      out.push({ distance: d, between: { lower: j, upper: j + 1, t } });
    }
  }
  return out;
}

/** The uniform centre-to-centre spacing of a plan (mm). */
export function planSpacing(plan: OutputSlice[]): number {
  return (plan[plan.length - 1].distance - plan[0].distance) / (plan.length - 1);
}
