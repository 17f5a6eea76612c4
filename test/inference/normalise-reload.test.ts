// Intensity normalisation round trip, and the reload holder keeping the old model when the new
// one is missing, corrupt, or fails the sanity check.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { denormalise, normalise, percentile, stackScale } from '../../src/interpolate/engine/normalise.js';
import { ReloadableModel } from '../../src/interpolate/engine/reloadable.js';
import { createModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import type { OutputSlice } from '../../src/core/types.js';
import { captureLogger, LOCAL_MODEL, maxAbsDiff, syntheticVolume, WILD_MODEL } from './helpers.js';

const CPU = { ...ENGINE_DEFAULTS, provider: 'cpu' as const, threads: 1 };
const plan: OutputSlice[] = [
  { distance: 0, sourceIndex: 0 },
  { distance: 2.5, between: { lower: 0, upper: 1, t: 0.5 } },
  { distance: 5, sourceIndex: 1 },
  { distance: 6, between: { lower: 1, upper: 2, t: 0.2 } },
  { distance: 10, sourceIndex: 2 },
];

describe('normalisation', () => {
  it('percentile is numpy linear', () => {
    const v = { rows: 1, columns: 1000, slices: [Float32Array.from({ length: 1000 }, (_, i) => i)], distances: [0] };
    assert.ok(Math.abs(percentile(v, 99.9) - 998.001) < 1e-3);
    assert.equal(percentile(v, 50), 499.5);
  });

  it('normalise then denormalise gives the values back', () => {
    const v = syntheticVolume(3, 32, 32, 1234);
    const s = stackScale(v, 99.9);
    for (const slice of v.slices) assert.ok(maxAbsDiff(denormalise(normalise(slice, s), s), slice) < 1e-3);
    assert.equal(stackScale({ rows: 1, columns: 2, slices: [new Float32Array(2)], distances: [0] }, 99.9), 1, 'all-zero stack: scale 1');
  });

  it('the model sees the same normalised stack whatever the stored scale', async () => {
    const m = await createModelInterpolator(LOCAL_MODEL, undefined, CPU);
    try {
      const small = syntheticVolume(3, 40, 40, 1);
      const big = { ...small, slices: small.slices.map((s) => s.map((x) => x * 3000)) };
      const a = await m.interpolate(small, plan);
      const b = await m.interpolate(big, plan);
      assert.equal(a.length, 2);
      for (let i = 0; i < a.length; i++) assert.ok(maxAbsDiff(a[i].map((x) => x * 3000), b[i]) < 0.05, `slice ${i}`);
    } finally {
      await m.release();
    }
  });
});

describe('model reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'interslice-reload-'));
  const path = join(dir, 'model.onnx');
  let model: ReloadableModel;
  const { log, lines } = captureLogger();
  before(async () => {
    copyFileSync(LOCAL_MODEL, path);
    model = await ReloadableModel.create(path, CPU, log);
  });
  after(async () => {
    await model.model.release();
    rmSync(dir, { recursive: true, force: true });
  });

  const stillWorks = async (description: string) => {
    assert.equal(model.description, description);
    const out = await model.interpolate(syntheticVolume(3, 16, 16), plan);
    assert.equal(out.length, 2);
  };

  it('keeps the old model when the new file is corrupt', async () => {
    const before = model.description;
    writeFileSync(path, Buffer.from('this is not an onnx model at all'));
    const r = await model.reload();
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /not a usable ONNX model/);
    assert.ok(lines.some((l) => l.level === 'warn' && l.message.startsWith('model reload refused')));
    await stillWorks(before);
  });

  it('keeps the old model when the new one is missing', async () => {
    const before = model.description;
    const r = await model.reload(join(dir, 'absent.onnx'));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /cannot be read \(ENOENT\)/);
    await stillWorks(before);
  });

  it('keeps the old model when the new one fails the sanity check', async () => {
    const before = model.description;
    const r = await model.reload(WILD_MODEL);
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /sanity check: .*outside \[-0\.25, 1\.25\]/);
    await stillWorks(before);
  });

  it('switches to a new model that passes, and records it in the description', async () => {
    const other = join(dir, 'v2.onnx');
    copyFileSync(LOCAL_MODEL, other);
    const r = await model.reload(other);
    assert.equal(r.ok, true);
    assert.equal(model.model.path, other);
    assert.match(model.description, /^model fixture-local 0\.0\.1 sha256:[0-9a-f]{16}$/);
    await stillWorks(model.description);
  });
});
