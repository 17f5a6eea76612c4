// One slice's rescale (Modality LUT), read the same way wherever pixels become values: by
// assemble when it loads a volume, by derive when it writes a slice back, by the content key.
import type { SliceRef } from './types.js';

/** A slice's own rescale: its frame's (Enhanced MR functional groups), else its instance's. */
export function sliceRescale(slice: SliceRef): { rescaleSlope: number; rescaleIntercept: number } {
  const g = slice.instance.frames[slice.frame];
  return {
    rescaleSlope: g?.rescaleSlope ?? slice.instance.rescaleSlope,
    rescaleIntercept: g?.rescaleIntercept ?? slice.instance.rescaleIntercept,
  };
}
