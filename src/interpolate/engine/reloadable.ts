// The model behind a reload signal: an Interpolator that delegates to the current
// ModelInterpolator and swaps it for a new model file only when that model loads and passes the
// sanity and parity check against the current one (sanity.ts); otherwise the current model
// stays and the reason is logged. A stack already running finishes on the model it started
// with; the replaced session is released once no stack uses it.
import type { Logger } from '../../core/log.js';
import type { Interpolator, OutputSlice, VolumeF32 } from '../../core/types.js';
import { createModelInterpolator, type ModelInterpolator } from '../model-interpolator.js';
import type { EngineOptions } from './options.js';
import { checkModel, sanityOutputs } from './sanity.js';

export type ReloadOutcome = { ok: true; description: string } | { ok: false; reason: string };

export class ReloadableModel implements Interpolator {
  readonly method = 'model' as const;
  private inUse = new Map<ModelInterpolator, number>();
  private retired = new Set<ModelInterpolator>();
  private reloading = false;

  private constructor(
    private current: ModelInterpolator,
    private readonly options: EngineOptions,
    private readonly log?: Logger,
    private readonly load: typeof createModelInterpolator = createModelInterpolator,
    private readonly configKey = 'pipeline.modelPath',
  ) {}

  /** Loads the start-up model (throws as createModelInterpolator does). */
  static async create(path: string, options: EngineOptions, log?: Logger, load = createModelInterpolator, configKey = 'pipeline.modelPath'): Promise<ReloadableModel> {
    return new ReloadableModel(await load(path, log, options, configKey), options, log, load, configKey);
  }

  get description(): string {
    return this.current.description;
  }

  get contentId(): string {
    return this.current.contentId;
  }

  get model(): ModelInterpolator {
    return this.current;
  }

  async interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]> {
    const m = this.current;
    this.inUse.set(m, (this.inUse.get(m) ?? 0) + 1);
    try {
      return await m.interpolate(volume, plan);
    } finally {
      const left = (this.inUse.get(m) ?? 1) - 1;
      if (left > 0) this.inUse.set(m, left);
      else {
        this.inUse.delete(m);
        if (this.retired.delete(m)) await m.release().catch(() => undefined);
      }
    }
  }

  /** Loads `path` (default: the current model's path) and switches to it if it passes. */
  async reload(path: string = this.current.path): Promise<ReloadOutcome> {
    if (this.reloading) return this.refuse(path, 'a reload is already running');
    this.reloading = true;
    try {
      let candidate: ModelInterpolator;
      try {
        candidate = await this.load(path, undefined, this.options, this.configKey);
      } catch (e) {
        return this.refuse(path, (e as Error).message);
      }
      if (candidate.sha256 === this.current.sha256 && candidate.path === this.current.path) {
        await candidate.release();
        this.log?.info('model reload: file unchanged, keeping the current session', { configKey: this.configKey, path, model: this.current.description });
        return { ok: true, description: this.current.description };
      }
      const problems = await checkModel(candidate.session, await sanityOutputs(this.current.session));
      if (problems.length) {
        await candidate.release();
        return this.refuse(path, `fails the parity/sanity check: ${problems.join('; ')}`);
      }
      const old = this.current;
      this.current = candidate;
      if (this.inUse.has(old)) this.retired.add(old);
      else await old.release().catch(() => undefined);
      this.log?.info('model reloaded', { configKey: this.configKey, path, model: candidate.description, previous: old.description, executionProvider: candidate.provider });
      return { ok: true, description: candidate.description };
    } finally {
      this.reloading = false;
    }
  }

  private refuse(path: string, reason: string): ReloadOutcome {
    this.log?.warn('model reload refused: keeping the current model', { configKey: this.configKey, path, reason, model: this.current.description });
    return { ok: false, reason };
  }
}
