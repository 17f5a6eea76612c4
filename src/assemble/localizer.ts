// Localizer (scout, survey) recognition. The real Siemens XA scouts in ../shared/data/mr do not
// say LOCALIZER in ImageType (DERIVED\PRIMARY\MPR\...): they are told by their names
// (SeriesDescription "AAHead_Scout_MPR_sag", ProtocolName "AAHead_Scout") and by their shape:
// a few slices far apart, each with its own orientation. Names alone are not trusted for a stack
// that looks like a real volume (a scout protocol's 3D base series is a volume).
import type { InstanceMeta } from '../core/types.js';

const SCOUT_NAME = /locali[sz]er|scout|survey|scanogram|tri-?pilot|3[- ]?plane[ _-]?loc|\bloc\b/i;
/** A named scout with at most this many slices per volume is a localizer... */
export const LOCALIZER_MAX_SLICES = 5;
/** ...and so is one whose slices are at least this far apart (mm). */
export const LOCALIZER_MIN_SPACING_MM = 10;
/** A series made only of orientation groups this small is a multi-plane scout whatever its name. */
export const NON_PARALLEL_MAX_GROUP = 3;

export function hasLocalizerImageType(instances: InstanceMeta[]): boolean {
  return instances.some((i) => i.imageType.includes('LOCALIZER'));
}

export function hasScoutName(instances: InstanceMeta[]): boolean {
  return instances.some((i) => SCOUT_NAME.test(i.seriesDescription ?? '') || SCOUT_NAME.test(i.protocolName ?? ''));
}

/** True when a series' slices fall into several orientation groups, none bigger than a few
 * positions: the tri-plane / rotated scout pattern, not a set of stacks. */
export function isNonParallelScout(groupSizes: number[]): boolean {
  return groupSizes.length > 1 && groupSizes.every((n) => n <= NON_PARALLEL_MAX_GROUP);
}

/** The localizer rule for one stack (see the module comment). */
export function isLocalizerStack(args: {
  instances: InstanceMeta[];
  nonParallel: boolean;
  slicesPerVolume: number;
  meanSpacing: number;
}): boolean {
  if (hasLocalizerImageType(args.instances) || args.nonParallel) return true;
  return (
    hasScoutName(args.instances) &&
    (args.slicesPerVolume <= LOCALIZER_MAX_SLICES || args.meanSpacing >= LOCALIZER_MIN_SPACING_MM)
  );
}
