// The pipeline section's inference keys: schema defaults equal the engine's, and a bad tiling
// configuration stops model loading with the keys named.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { ENGINE_DEFAULTS, engineOptionsFromPipeline } from '../../src/interpolate/engine/options.js';
import { createModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { LOCAL_MODEL } from './helpers.js';

describe('inference configuration', () => {
  it('schema defaults are the engine defaults; method defaults to model', () => {
    const cfg = configSchema.parse({});
    assert.deepEqual(engineOptionsFromPipeline(cfg.pipeline), ENGINE_DEFAULTS);
    assert.equal(cfg.pipeline.method, 'model');
    assert.equal(cfg.pipeline.executionProvider, 'auto');
  });

  it('rejects an unknown execution provider', () => {
    assert.throws(() => configSchema.parse({ pipeline: { executionProvider: 'tpu' } }), /executionProvider/);
  });

  it('an overlap not smaller than the tile stops model loading, naming both keys', async () => {
    await assert.rejects(
      createModelInterpolator(LOCAL_MODEL, undefined, { ...ENGINE_DEFAULTS, tileSize: 64, tileOverlap: 64 }),
      /pipeline\.tileOverlap \(64\) must be smaller than pipeline\.tileSize \(64\)/,
    );
  });
});
