// The models as `interslice serve` uses them: a ReloadableModel for pipeline.modelPath and one
// for pipeline.thickModelPath (when set), built from the pipeline section, and the SIGHUP handler
// that reloads them. The model paths are re-read from the configuration file on each signal (so
// pointing pipeline.modelPath at a finetuned file and sending SIGHUP works); every other key,
// thickModelPath set or unset included, still needs a restart.
import { existsSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../core/log.js';
import { loadModels, type Interpolators } from '../../pipeline/interpolator.js';
import { engineOptionsFromPipeline } from './options.js';
import { ReloadableModel, type ReloadOutcome } from './reloadable.js';

/** The node's models (pipeline/interpolator.ts Interpolators), each behind a reload signal. */
export type ServeModels = Interpolators<ReloadableModel>;

/** The reloadable models when the method is model; undefined for the classical methods. */
export async function createServeModels(cfg: Config, log: Logger): Promise<ServeModels | undefined> {
  if (cfg.pipeline.method !== 'model') return undefined;
  const options = engineOptionsFromPipeline(cfg.pipeline);
  return loadModels(cfg, (path, key) => ReloadableModel.create(path, options, log, undefined, key), log);
}

/** One reload's outcome, with the configuration key it was for. */
export type KeyedReload = ReloadOutcome & { key: 'modelPath' | 'thickModelPath'; path: string };

/** SIGHUP: reload the models named by the configuration file now. */
export async function reloadOnSignal(models: ServeModels | undefined, configOption: string, log: Logger): Promise<KeyedReload[]> {
  if (!models) {
    log.info('SIGHUP: the configured method is classical, there is no model to reload');
    return [];
  }
  let path = models.standard.model.path;
  let thickPath: string | null = models.thick?.interpolator.model.path ?? null;
  try {
    const file = configOption === 'config/default.yaml' && !existsSync(configOption) ? undefined : configOption;
    const pipeline = loadConfig(file).config.pipeline;
    path = pipeline.modelPath;
    thickPath = pipeline.thickModelPath;
  } catch (e) {
    log.warn('SIGHUP: configuration unreadable, reloading the current model paths', { error: (e as Error).message.split('\n')[0] });
  }
  log.info('SIGHUP: reloading the model', { path });
  const out: KeyedReload[] = [{ key: 'modelPath', path, ...(await models.standard.reload(path)) }];
  if (models.thick && thickPath !== null) {
    log.info('SIGHUP: reloading the thick-slice model', { path: thickPath });
    out.push({ key: 'thickModelPath', path: thickPath, ...(await models.thick.interpolator.reload(thickPath)) });
  } else if (!!models.thick !== (thickPath !== null)) {
    log.warn('SIGHUP: pipeline.thickModelPath was set or unset: that takes a restart', { thickModelPath: thickPath });
  }
  return out;
}
