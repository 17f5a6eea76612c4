// Inference settings (pipeline.executionProvider, maxBatch, ...) and their defaults, which are
// the schema's; kept here so the engine can be used without a configuration (tests, tools).
import type { ProviderChoice } from './providers.js';
import type { BatchLimits } from './synthesise.js';

export interface EngineOptions extends BatchLimits {
  provider: ProviderChoice;
  /** Intra-op threads; 0 = onnxruntime's default. */
  threads: number;
}

export const ENGINE_DEFAULTS: EngineOptions = {
  provider: 'auto',
  threads: 0,
  maxBatch: 8,
  maxBatchPixels: 524_288,
  tileSize: 512,
  tileOverlap: 32,
};

/** The engine's settings from the configuration's pipeline section (missing keys: defaults). */
export function engineOptionsFromPipeline(p: {
  executionProvider?: ProviderChoice;
  inferenceThreads?: number;
  maxBatch?: number;
  maxBatchPixels?: number;
  tileSize?: number;
  tileOverlap?: number;
}): EngineOptions {
  const d = ENGINE_DEFAULTS;
  return {
    provider: p.executionProvider ?? d.provider,
    threads: p.inferenceThreads ?? d.threads,
    maxBatch: p.maxBatch ?? d.maxBatch,
    maxBatchPixels: p.maxBatchPixels ?? d.maxBatchPixels,
    tileSize: p.tileSize ?? d.tileSize,
    tileOverlap: p.tileOverlap ?? d.tileOverlap,
  };
}
