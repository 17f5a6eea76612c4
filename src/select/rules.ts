// Select: which stacks get a thin-slice derived series. Pure: a stack and rules in, a Decision
// with a machine code and one sentence out.
//
// Checks run in this order; the first that applies decides:
//  1. not-mr-image       objects without slice geometry (e.g. Secondary Capture): always skipped
//  2. derived-by-us      the loop guard: our own output is never processed again (skipDerived)
//  3. modality           modality not in `modalities`
//  4. mosaic             Siemens MOSAIC: many slices tiled in one image (skipMosaic)
//  5. localizer          scouts / localizers / surveys (skipLocalizers)
//  6. time-series, multi-volume
//                        positions repeat: one stack holds several volumes (skipTimeSeries for
//                        time series; other multi-volume stacks always, as volumes are not
//                        interpolated one by one yet)
//  7. too-few-slices     fewer than `minSlices` per volume
//  8. irregular-spacing  steps more than 10% off the mean or a missing slice (allowIrregular)
//  9. thick-slice (process) when the slice spacing is at least `minSpacingRatio` times the
//     coarser in-plane pixel spacing OR at least `minSpacingMm`; otherwise already-isotropic.
//
// Why two thresholds: the ratio catches thick slices over fine pixels (4 mm over 2.5 mm); the
// absolute one catches thick slices in low-resolution series whose pixels are as coarse as the
// slices (3 mm over 3 mm: Canon DTI b0, Philips field map), which a 1 mm target still refines.
// A 2 mm isotropic 3D T1 passes neither and is left alone.
import type { Decision, Stack } from '../core/types.js';
import { SopClass } from '../dicom/dcmjs.js';

export interface SelectRules {
  /** Modalities processed (Stack.modality). */
  modalities: string[];
  /** Fewest slices per volume worth interpolating. */
  minSlices: number;
  /** Process when slice spacing >= this x the coarser in-plane pixel spacing... */
  minSpacingRatio: number;
  /** ...or when slice spacing >= this many mm, whatever the pixel spacing. */
  minSpacingMm: number;
  skipLocalizers: boolean;
  skipMosaic: boolean;
  skipTimeSeries: boolean;
  /** The loop guard: skip what this node derived. */
  skipDerived: boolean;
  /** Process stacks with irregular spacing or missing slices (off by default: a gap would be
   * filled with invented anatomy). */
  allowIrregular: boolean;
}

export const defaultSelectRules: SelectRules = Object.freeze({
  modalities: ['MR'],
  minSlices: 8,
  minSpacingRatio: 1.5,
  minSpacingMm: 3.0,
  skipLocalizers: true,
  skipMosaic: true,
  skipTimeSeries: true,
  skipDerived: true,
  allowIrregular: false,
}) as SelectRules;

/** DS values are rounded in the headers; spacing thresholds allow this much (mm) below. */
export const SPACING_EPSILON_MM = 0.01;

const mm = (x: number): string => `${Number(x.toFixed(2))} mm`;

function slicesPerVolume(stack: Stack): number {
  return Math.floor(stack.slices.length / Math.max(1, stack.volumes));
}

export function selectStack(stack: Stack, rules: SelectRules = defaultSelectRules): Decision {
  const skip = (code: string, reason: string): Decision => ({ stack, action: 'skip', code, reason });
  const f = stack.flags;
  if (f.notImage) {
    const uid = stack.slices[0]?.instance.sopClassUid ?? '';
    const cls = uid === SopClass.SecondaryCaptureImageStorage ? 'Secondary Capture' : `SOP class ${uid}`;
    return skip('not-mr-image', `${stack.slices.length} ${cls} object(s) are not MR images with slice geometry, so there is nothing to interpolate.`);
  }
  if (rules.skipDerived && f.derivedByUs) {
    return skip('derived-by-us', 'This series was derived by Interslice itself and is not processed again (loop guard).');
  }
  const modality = (stack.modality ?? '').toUpperCase();
  if (!rules.modalities.map((m) => m.toUpperCase()).includes(modality)) {
    return skip('modality', `Modality ${modality || '(none)'} is not one of ${rules.modalities.join(', ')}.`);
  }
  if (rules.skipMosaic && f.mosaic) {
    return skip('mosaic', 'Siemens MOSAIC images tile many slices into one image and are not unpacked.');
  }
  if (rules.skipLocalizers && f.localizer) {
    return skip('localizer', `A localizer (scout) of ${stack.slices.length} slice(s) is for planning, not reading.`);
  }
  if (stack.volumes > 1) {
    const per = slicesPerVolume(stack);
    if (f.timeSeries && rules.skipTimeSeries) {
      return skip('time-series', `A time series of ${stack.volumes} volumes of ${per} slices is not interpolated.`);
    }
    return skip('multi-volume', `The stack holds ${stack.volumes} volumes of ${per} slices; volumes are not interpolated one by one yet.`);
  }
  const n = slicesPerVolume(stack);
  if (n < rules.minSlices) {
    return skip('too-few-slices', `${n} slice(s) is fewer than the ${rules.minSlices} needed.`);
  }
  if (!rules.allowIrregular && (stack.spacing.irregular || stack.spacing.gaps.length > 0)) {
    return skip(
      'irregular-spacing',
      `Slice spacing varies from ${mm(stack.spacing.min)} to ${mm(stack.spacing.max)}${stack.spacing.gaps.length ? ` with ${stack.spacing.gaps.length} possible missing slice(s)` : ''}.`,
    );
  }
  const spacing = stack.spacing.mean;
  const pixel = Math.max(stack.pixelSpacing[0], stack.pixelSpacing[1]);
  const ratio = pixel > 0 ? spacing / pixel : Infinity;
  const byRatio = spacing + SPACING_EPSILON_MM >= rules.minSpacingRatio * pixel;
  const byAbsolute = spacing + SPACING_EPSILON_MM >= rules.minSpacingMm;
  const facts = `slice spacing ${mm(spacing)} is ${ratio.toFixed(2)}x the in-plane pixel spacing ${mm(pixel)}`;
  if (byRatio || byAbsolute) {
    const why = byRatio ? `at least ${rules.minSpacingRatio}x` : `at least ${mm(rules.minSpacingMm)}`;
    return { stack, action: 'process', code: 'thick-slice', reason: `Thick slices: ${facts} (${why}).` };
  }
  return skip(
    'already-isotropic',
    `Already near isotropic: ${facts}, below ${rules.minSpacingRatio}x and below ${mm(rules.minSpacingMm)}.`,
  );
}
