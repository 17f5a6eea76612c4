import { createModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import { planOutputSlices } from '../../src/interpolate/plan.js';
import { sourceSlices } from './series.js';
const imgs = await sourceSlices(3, 512, 512, 5);
const v = { rows: 512, columns: 512, slices: imgs.map((s) => Float32Array.from(s)), distances: [0, 5, 10] };
const plan = planOutputSlices(v.distances, { factor: 5 });
for (const [threads, px] of [[0, 524288], [2, 524288], [1, 524288], [2, 262144], [2, 1048576]]) {
  const m = await createModelInterpolator('models/interslice-v1.onnx', undefined, { ...ENGINE_DEFAULTS, provider: 'cpu', threads, maxBatchPixels: px });
  await m.interpolate(v, planOutputSlices([0, 5], { factor: 2 }));
  const t0 = Date.now(); const out = await m.interpolate(v, plan); const s = (Date.now() - t0) / 1000;
  console.log(`threads ${threads} px ${px}: ${(out.length / s).toFixed(2)} slices/s`);
  await m.release();
}
