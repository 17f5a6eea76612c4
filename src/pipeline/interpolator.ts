// Chooses the interpolators the configuration asks for. Classical methods need nothing; the
// learned models are loaded (and checked) once at start-up: modelPath for every stack, and
// thickModelPath for stacks whose slices are thick for their spacing; refinerPath after either.
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Interpolator, Method, Stack } from '../core/types.js';
import { thicknessRatio, usesThickModel } from '../assemble/thickness.js';
import { createClassicalInterpolator } from '../interpolate/classical.js';
import type { Refiner } from '../interpolate/refine/refiner.js';

/**
 * What a node interpolates with: `standard`, and `thick` for stacks thicker than `thick.above`;
 * one of `refiners` after either (the learned models only).
 */
export interface Interpolators<T extends Interpolator = Interpolator> {
  standard: T;
  thick?: { interpolator: T; above: number };
  /** in order of preference (refine/choose.ts picks one per stack) */
  refiners?: Refiner[];
}

export async function createInterpolators(cfg: Config, log: Logger, method: Method = cfg.pipeline.method): Promise<Interpolators> {
  if (method === 'linear' || method === 'cubic') return { standard: createClassicalInterpolator(method) };
  const { createModelInterpolator } = await import('../interpolate/model-interpolator.js');
  const { engineOptionsFromPipeline } = await import('../interpolate/engine/options.js');
  const options = engineOptionsFromPipeline(cfg.pipeline);
  return loadModels(cfg, (path, key) => createModelInterpolator(path, log, options, key), log);
}

/**
 * modelPath, and thickModelPath unless it is null, each loaded (and checked) by `load`; then
 * refinerPath unless it is null.
 */
export async function loadModels<T extends Interpolator>(cfg: Config, load: (path: string, configKey: string) => Promise<T>, log: Logger): Promise<Interpolators<T>> {
  const standard = await load(cfg.pipeline.modelPath, 'pipeline.modelPath');
  const { thickModelPath, thickModelAbove, refinerPath } = cfg.pipeline;
  const thick = thickModelPath === null ? undefined : { interpolator: await load(thickModelPath, 'pipeline.thickModelPath'), above: thickModelAbove };
  const refiners: Refiner[] = [];
  if (refinerPath !== null) {
    const { Refiner } = await import('../interpolate/refine/refiner.js');
    const { engineOptionsFromPipeline } = await import('../interpolate/engine/options.js');
    const paths = typeof refinerPath === 'string' ? [refinerPath] : refinerPath;
    for (const [i, path] of paths.entries()) {
      refiners.push(await Refiner.open(path, engineOptionsFromPipeline(cfg.pipeline), log, typeof refinerPath === 'string' ? 'pipeline.refinerPath' : `pipeline.refinerPath[${i}]`));
    }
  }
  return { standard, ...(thick ? { thick } : {}), ...(refiners.length ? { refiners } : {}) };
}

/** The interpolator one stack is synthesised with, and the thickness ratio it was chosen by. */
export function interpolatorFor(set: Interpolators, stack: Stack): { interpolator: Interpolator; thickness?: number; thick: boolean } {
  const thickness = thicknessRatio(stack);
  const thick = !!set.thick && usesThickModel(thickness, set.thick.above);
  return { interpolator: thick ? set.thick!.interpolator : set.standard, thickness, thick };
}
