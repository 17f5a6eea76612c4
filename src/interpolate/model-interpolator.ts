// The learned model as an Interpolator. One onnxruntime session per model file, opened once on
// the execution provider the configuration asks for (engine/providers.ts) and reused; each stack
// is normalised by the percentile the model's metadata names, all its synthesised slices go
// through batched (and, for large matrices, tiled) runs, and the result is scaled back.
// Conversion to the stored type with clipping, and exact source slices, happen in src/derive.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Interpolator, OutputSlice, VolumeF32 } from '../core/types.js';
import type { ModelMetadata } from './model/metadata.js';
import { ENGINE_DEFAULTS, type EngineOptions } from './engine/options.js';
import { denormalise, normalisationPercentile, normalise, stackScale } from './engine/normalise.js';
import { checkModel } from './engine/sanity.js';
import { ModelSession } from './engine/session.js';
import { inputSlices, synthesisePairs, type PairRequest } from './engine/synthesise.js';

export class ModelInterpolator implements Interpolator {
  readonly method = 'model' as const;
  constructor(
    readonly session: ModelSession,
    /** "model NAME VERSION sha256:HASH16": DerivationDescription and SoftwareVersions. */
    readonly description: string,
    readonly sha256: string,
    readonly path: string,
    /** The engine options it was opened with (an adapted copy is opened with the same). */
    readonly options: EngineOptions,
  ) {}

  get metadata(): ModelMetadata {
    return this.session.metadata;
  }

  get provider() {
    return this.session.provider;
  }

  /** What changes the output pixels: the model's bytes, where it runs and how it is tiled. */
  get contentId(): string {
    return `model sha256:${this.sha256} provider:${this.session.provider} tile:${this.options.tileSize}/${this.options.tileOverlap}`;
  }

  async interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]> {
    const wanted = plan.filter((p) => p.sourceIndex === undefined);
    if (!wanted.length) return [];
    const requests: PairRequest[] = wanted.map((p) => {
      if (!p.between) throw new Error('model interpolation needs the neighbouring source slices of every output slice');
      return { lower: p.between.lower, t: p.between.t };
    });
    const scale = stackScale(volume, normalisationPercentile(this.metadata));
    // Normalise only the source slices some request uses.
    const used = new Set(requests.flatMap((r) => inputSlices(r.lower, volume.slices.length, this.session.context)));
    const slices = volume.slices.map((s, i) => (used.has(i) ? normalise(s, scale) : s));
    const out = await synthesisePairs(this.session, slices, volume.rows, volume.columns, requests, this.options);
    return out.map((s) => denormalise(s, scale));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * Loads the model once and checks it on a synthetic pair (engine/sanity.ts); a missing,
 * corrupt or insane model stops start-up with a message saying which and why.
 */
export async function createModelInterpolator(path: string, log?: Logger, options: EngineOptions = ENGINE_DEFAULTS, configKey = 'pipeline.modelPath'): Promise<ModelInterpolator> {
  if (options.tileSize > 0 && options.tileOverlap >= options.tileSize) {
    throw new Error(`pipeline.tileOverlap (${options.tileOverlap}) must be smaller than pipeline.tileSize (${options.tileSize})`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`model file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); configure ${configKey} or a classical pipeline.method`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let session: ModelSession;
  try {
    session = await ModelSession.open(bytes, options);
  } catch (e) {
    throw new Error(`model file ${path} is not a usable ONNX model: ${(e as Error).message.split('\n')[0]}; configure a valid ${configKey} or a classical pipeline.method`);
  }
  const problems = await checkModel(session);
  if (problems.length) {
    await session.release();
    throw new Error(`model file ${path} fails the sanity check: ${problems.join('; ')}`);
  }
  const name = session.metadata.name ?? basename(path, '.onnx');
  const version = session.metadata.version ?? 'unversioned';
  const description = `model ${name} ${version} sha256:${sha256.slice(0, 16)}`;
  const notUsed = Object.fromEntries(session.attempts.filter((a) => !a.ok).map((a) => [a.provider, a.reason]));
  log?.info('interpolation model loaded', { configKey, path, modelName: name, modelVersion: version, sha256, executionProvider: session.provider, requested: options.provider, notUsed });
  return new ModelInterpolator(session, description, sha256, path, options);
}
