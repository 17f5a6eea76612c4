// The model as `interslice serve` uses it: a ReloadableModel built from the pipeline section,
// and the SIGHUP handler that reloads it. The model path is re-read from the configuration file
// on each signal (so pointing pipeline.modelPath at a finetuned file and sending SIGHUP works);
// every other key still needs a restart.
import { existsSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../core/log.js';
import { engineOptionsFromPipeline } from './options.js';
import { ReloadableModel, type ReloadOutcome } from './reloadable.js';

/** The reloadable model when the method is model; undefined for the classical methods. */
export async function createServeModel(cfg: Config, log: Logger): Promise<ReloadableModel | undefined> {
  if (cfg.pipeline.method !== 'model') return undefined;
  return ReloadableModel.create(cfg.pipeline.modelPath, engineOptionsFromPipeline(cfg.pipeline), log);
}

/** SIGHUP: reload the model named by the configuration file now. */
export async function reloadOnSignal(model: ReloadableModel | undefined, configOption: string, log: Logger): Promise<ReloadOutcome | undefined> {
  if (!model) {
    log.info('SIGHUP: the configured method is classical, there is no model to reload');
    return undefined;
  }
  let path = model.model.path;
  try {
    const file = configOption === 'config/default.yaml' && !existsSync(configOption) ? undefined : configOption;
    path = loadConfig(file).config.pipeline.modelPath;
  } catch (e) {
    log.warn('SIGHUP: configuration unreadable, reloading the current model path', { error: (e as Error).message.split('\n')[0] });
  }
  log.info('SIGHUP: reloading the model', { path });
  return model.reload(path);
}
