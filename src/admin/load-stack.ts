// Loads one stack of a set of Part-10 files as rescaled float slices for the status-page
// pictures, with the assemble stage's own grouping, ordering and pixel reading.
import { readInstanceMeta } from '../assemble/instance-meta.js';
import { loadStackVolume } from '../assemble/pixels.js';
import { assembleStacks } from '../assemble/stacks.js';
import type { ReformatVolume } from './reformat.js';

/** Files of a series -> the stack with this id (or, without an id, the stack with most slices). */
export type StackLoader = (files: string[], stackId?: string) => Promise<ReformatVolume>;

export const loadStack: StackLoader = async (files, stackId) => {
  const metas = await Promise.all(files.map((f) => readInstanceMeta(f)));
  const { stacks } = assembleStacks(metas);
  const stack = stackId ? stacks.find((s) => s.id === stackId) : [...stacks].sort((a, b) => b.slices.length - a.slices.length)[0];
  if (!stack) throw new Error(stackId ? `stack ${stackId} is not among the series' stacks` : 'no stack in these files');
  // The first volume of a multi-volume stack: one picture shows one moment.
  const volume = await loadStackVolume(stack);
  return {
    rows: volume.rows,
    columns: volume.columns,
    slices: volume.slices,
    distances: volume.distances,
    pixelSpacing: stack.pixelSpacing,
    orientation: stack.orientation,
    normal: stack.normal,
  };
};
