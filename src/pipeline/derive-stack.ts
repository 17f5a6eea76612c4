// One selected stack through interpolate and derive: load the rescaled volume, plan the output
// positions, synthesise, write the DERIVED series. UIDs are keyed on the stack, method and
// target, so a re-run (late instances, restart) rebuilds the same series, never a second one.
import type { DerivedSeries, Interpolator, SpacingTarget, Stack } from '../core/types.js';
import { readPart10 } from '../dicom/dcmjs.js';
import { loadRawSlice, loadStackVolume } from '../assemble/pixels.js';
import { planOutputSlices } from '../interpolate/plan.js';
import { writeDerivedSeries } from '../derive/write-series.js';
import { metrics } from '../admin/metrics.js';

export interface DeriveStackOptions {
  target: SpacingTarget;
  interpolator: Interpolator;
  outDir: string;
  /** SeriesNumber of the derived series (default: the source's + 1000). */
  seriesNumber?: number;
}

export function targetKey(target: SpacingTarget): string {
  return 'factor' in target ? `factor-${target.factor}` : `spacing-${target.spacingMm}`;
}

export async function deriveStack(stack: Stack, opts: DeriveStackOptions): Promise<DerivedSeries> {
  const volume = await loadStackVolume(stack);
  const plan = planOutputSlices(volume.distances, opts.target);
  const started = process.hrtime.bigint();
  const synthesised = await opts.interpolator.interpolate(volume, plan);
  metrics.inferenceSeconds(opts.interpolator.method, Number(process.hrtime.bigint() - started) / 1e9);
  const referenceHeader = (await readPart10(stack.slices[0].instance.path, { headerOnly: true })).dataset;
  const derived = await writeDerivedSeries({
    stack,
    referenceHeader,
    plan,
    synthesised,
    loadRawSlice: (i) => loadRawSlice(stack.slices[i]),
    outDir: opts.outDir,
    seriesNumber: opts.seriesNumber,
    method: opts.interpolator.method,
    interpolatorDescription: opts.interpolator.description,
    target: opts.target,
    uidKey: `interslice/${stack.id}/${opts.interpolator.method}/${targetKey(opts.target)}`,
  });
  metrics.slicesSynthesised(synthesised.length);
  return derived;
}
