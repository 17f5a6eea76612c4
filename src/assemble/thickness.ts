// How thick a stack's slices are for their spacing. Pure: the node chooses its model by it
// (pipeline.thickModelAbove) and the per-series adaptation refuses thick stacks by it
// (pipeline.adaptMaxThickness).
import type { Stack } from '../core/types.js';

/**
 * The stack's nominal slice thickness (the median over its slices of SliceThickness, per frame
 * where the object has one) over its mean slice spacing; undefined when no slice states a
 * thickness or the spacing is not positive.
 */
export function thicknessRatio(stack: Stack): number | undefined {
  const t = stack.slices
    .map((s) => s.instance.frames[s.frame]?.sliceThickness ?? s.instance.sliceThickness)
    .filter((x): x is number => x !== undefined && Number.isFinite(x) && x > 0)
    .sort((a, b) => a - b);
  if (!t.length || !(stack.spacing.mean > 0)) return undefined;
  const median = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  return median / stack.spacing.mean;
}

/**
 * The rule by which a stack gets the thick-slice model (pipeline.thickModelAbove): its slices are
 * known to be thicker than `above` of their spacing. The node and `interslice eval` both use it.
 */
export const usesThickModel = (ratio: number | undefined, above: number): boolean => ratio !== undefined && ratio > above;
