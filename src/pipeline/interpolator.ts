// Chooses the interpolator the configuration asks for. Classical methods need nothing; the
// learned model is loaded (and checked) once at start-up.
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Interpolator, Method } from '../core/types.js';
import { createClassicalInterpolator } from '../interpolate/classical.js';

export async function createInterpolator(cfg: Config, log: Logger, method: Method = cfg.pipeline.method): Promise<Interpolator> {
  if (method === 'linear' || method === 'cubic') return createClassicalInterpolator(method);
  const { createModelInterpolator } = await import('../interpolate/model-interpolator.js');
  const { engineOptionsFromPipeline } = await import('../interpolate/engine/options.js');
  return createModelInterpolator(cfg.pipeline.modelPath, log, engineOptionsFromPipeline(cfg.pipeline));
}
