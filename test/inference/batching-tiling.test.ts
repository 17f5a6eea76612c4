// Batching across source gaps and tiling with overlap must not change the synthesised slices.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ModelSession, type ModelInputs } from '../../src/interpolate/engine/session.js';
import { batchSize, synthesisePairs, type BatchLimits, type PairRequest } from '../../src/interpolate/engine/synthesise.js';
import { axisTiles, tileGrid, weightSum } from '../../src/interpolate/engine/tiling.js';
import { CONTEXT_MODEL, LOCAL_MODEL, maxAbsDiff, syntheticVolume } from './helpers.js';

const NO_TILES: BatchLimits = { maxBatch: 1, maxBatchPixels: 1 << 30, tileSize: 0, tileOverlap: 0 };

describe('batching and tiling', () => {
  let session: ModelSession;
  let runs: number[] = [];
  const counting = () => ({
    context: session.context,
    run: (inputs: ModelInputs, n: number, h: number, w: number) => {
      runs.push(n);
      return session.run(inputs, n, h, w);
    },
  });
  before(async () => {
    session = await ModelSession.open(readFileSync(LOCAL_MODEL), { provider: 'cpu', threads: 1 });
  });
  after(async () => session.release());

  it('batched across gaps equals one pair at a time', async () => {
    const v = syntheticVolume(5, 48, 40, 1);
    const requests: PairRequest[] = [];
    for (let g = 0; g < 4; g++) for (const t of [0.2, 0.4, 0.6, 0.8]) requests.push({ lower: g, t });
    runs = [];
    const one = await synthesisePairs(counting(), v.slices, v.rows, v.columns, requests, NO_TILES);
    assert.equal(runs.length, 16);
    runs = [];
    const batched = await synthesisePairs(counting(), v.slices, v.rows, v.columns, requests, { ...NO_TILES, maxBatch: 6 });
    assert.deepEqual(runs, [6, 6, 4], 'batches of at most maxBatch, spanning gaps');
    for (let i = 0; i < requests.length; i++) assert.ok(maxAbsDiff(one[i], batched[i]) < 1e-5, `slice ${i}`);
  });

  it('the pixel cap bounds a batch', () => {
    assert.equal(batchSize({ ...NO_TILES, maxBatch: 8, maxBatchPixels: 524_288 }, 512 * 512), 2);
    assert.equal(batchSize({ ...NO_TILES, maxBatch: 8, maxBatchPixels: 524_288 }, 256 * 256), 8);
    assert.equal(batchSize({ ...NO_TILES, maxBatch: 8, maxBatchPixels: 1000 }, 512 * 512), 1);
  });

  it('tiles cover the matrix with equal lengths and at least the overlap', () => {
    for (const size of [300, 512, 513, 1000, 1024]) {
      const { starts, length } = axisTiles(size, 256, 32);
      assert.ok(length <= 256);
      assert.equal(starts[0], 0);
      assert.equal(starts[starts.length - 1] + length, size);
      for (let i = 1; i < starts.length; i++) assert.ok(starts[i - 1] + length - starts[i] >= 32, `overlap at ${size}`);
    }
    assert.deepEqual(axisTiles(200, 256, 32), { starts: [0], length: 200 });
    const sum = weightSum(512, 512, tileGrid(512, 512, 256, 32));
    assert.ok(sum.every((v) => v > 0.99 && v < 1.01), 'linear ramps add up to 1');
  });

  it('tiled 512x512 (256 tiles, 32 overlap) equals untiled for a model whose receptive field is below the overlap', async () => {
    const v = syntheticVolume(2, 512, 512, 1);
    const requests: PairRequest[] = [{ lower: 0, t: 0.3 }, { lower: 0, t: 0.7 }];
    const whole = await synthesisePairs(session, v.slices, 512, 512, requests, { ...NO_TILES, maxBatch: 2 });
    runs = [];
    const tiled = await synthesisePairs(counting(), v.slices, 512, 512, requests, { maxBatch: 4, maxBatchPixels: 1 << 30, tileSize: 256, tileOverlap: 32 });
    assert.deepEqual(runs, [4, 4, 4, 4, 2], '3x3 tiles x 2 slices in batches of 4');
    for (let i = 0; i < requests.length; i++) {
      const d = maxAbsDiff(whole[i], tiled[i]);
      assert.ok(d < 1e-4, `slice ${i}: max difference ${d}`);
    }
  });
});

describe('4-slice models (context slices p and q)', () => {
  let ctx: ModelSession;
  before(async () => {
    ctx = await ModelSession.open(readFileSync(CONTEXT_MODEL), { provider: 'cpu', threads: 1 });
  });
  after(async () => ctx.release());

  // Catmull-Rom through (p, a, b, q) at t, written out from its textbook form
  // 0.5 * (2a + (b - p) t + (2p - 5a + 4b - q) t^2 + (3a - p - 3b + q) t^3).
  const cr = (p: number, a: number, b: number, q: number, t: number) =>
    0.5 * (2 * a + (b - p) * t + (2 * p - 5 * a + 4 * b - q) * t * t + (3 * a - p - 3 * b + q) * t * t * t);

  it('the session reports 4 inputs, and each gap gets the slices one further out, repeated at the stack ends', async () => {
    assert.equal(ctx.context, 4);
    // 5 constant slices; values chosen so that any wrong neighbour changes the result
    const values = [1, 3, 4, 9, 10];
    const slices = values.map((v) => new Float32Array(6 * 7).fill(v));
    const requests: PairRequest[] = [{ lower: 0, t: 0.5 }, { lower: 1, t: 0.25 }, { lower: 3, t: 0.75 }];
    const out = await synthesisePairs(ctx, slices, 6, 7, requests, { ...NO_TILES, maxBatch: 8 });
    const want = [cr(1, 1, 3, 4, 0.5), cr(1, 3, 4, 9, 0.25), cr(4, 9, 10, 10, 0.75)];
    out.forEach((o, i) => assert.ok(Math.abs(o[0] - want[i]) < 1e-5 && Math.abs(o[41] - want[i]) < 1e-5, `request ${i}: ${o[0]} vs ${want[i]}`));
  });

  it('tiled equals untiled for a 4-slice model', async () => {
    const v = syntheticVolume(4, 300, 280, 1);
    const requests: PairRequest[] = [{ lower: 0, t: 0.3 }, { lower: 1, t: 0.6 }, { lower: 2, t: 0.9 }];
    const whole = await synthesisePairs(ctx, v.slices, 300, 280, requests, { ...NO_TILES, maxBatch: 3 });
    const tiled = await synthesisePairs(ctx, v.slices, 300, 280, requests, { maxBatch: 5, maxBatchPixels: 1 << 30, tileSize: 128, tileOverlap: 32 });
    for (let i = 0; i < requests.length; i++) assert.ok(maxAbsDiff(whole[i], tiled[i]) < 1e-5, `slice ${i}`);
  });
});
