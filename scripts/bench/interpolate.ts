// (b) Interpolate: synthesised slices per second, in-process, on a 6-slice stack of real MR
// content (resampled to 256^2 / 512^2) at 5 mm, factor 5 (4 new slices per gap, 20 in all).
// The model runs on every execution provider that opens here (auto = the one auto picks);
// providers that cannot run are listed with the reason.
import type { OutputSlice, VolumeF32 } from '../../src/core/types.js';
import { createClassicalInterpolator } from '../../src/interpolate/classical.js';
import { createModelInterpolator, type ModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import { AUTO_ORDER } from '../../src/interpolate/engine/providers.js';
import { planOutputSlices } from '../../src/core/plan.js';
import { sourceSlices } from './series.js';

export interface InterpolateRow {
  method: string;
  provider: string;
  size: number;
  slices: number;
  /** Slices per second, one entry per run. */
  rates: number[];
}

export interface InterpolateResult {
  rows: InterpolateRow[];
  unavailable: { provider: string; reason: string }[];
}

async function volume(size: number): Promise<{ v: VolumeF32; plan: OutputSlice[] }> {
  const imgs = await sourceSlices(6, size, size, 5);
  const v: VolumeF32 = { rows: size, columns: size, slices: imgs.map((s) => Float32Array.from(s)), distances: imgs.map((_, k) => k * 5) };
  return { v, plan: planOutputSlices(v.distances, { factor: 5 }) };
}

async function rate(interp: { interpolate: (v: VolumeF32, p: OutputSlice[]) => Promise<Float32Array[]> }, v: VolumeF32, plan: OutputSlice[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const out = await interp.interpolate(v, plan);
  return out.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function benchInterpolate(modelPath: string, runs: { model: number; classical: number }, say: (s: string) => void): Promise<InterpolateResult> {
  const res: InterpolateResult = { rows: [], unavailable: [] };
  const models: { provider: string; m: ModelInterpolator }[] = [];
  for (const provider of AUTO_ORDER) {
    try {
      const m = await createModelInterpolator(modelPath, undefined, { ...ENGINE_DEFAULTS, provider });
      models.push({ provider, m });
    } catch (e) {
      const msg = (e as Error).message;
      res.unavailable.push({ provider, reason: msg.match(/\((?:cuda|webgpu|cpu): (.*)\); configure/)?.[1] ?? msg });
    }
  }
  for (const size of [256, 512]) {
    const { v, plan } = await volume(size);
    const synth = plan.filter((p) => p.sourceIndex === undefined).length;
    for (const method of ['cubic', 'linear'] as const) {
      const interp = createClassicalInterpolator(method);
      await rate(interp, v, plan);
      const rates = [];
      for (let r = 0; r < runs.classical; r++) rates.push(await rate(interp, v, plan));
      res.rows.push({ method, provider: 'js', size, slices: synth, rates });
    }
    for (const { provider, m } of models) {
      await rate(m, v, planOutputSlices(v.distances.slice(0, 2), { factor: 5 })); // warm-up: first runs allocate
      const rates = [];
      for (let r = 0; r < runs.model; r++) {
        rates.push(await rate(m, v, plan));
        say(`interpolate model/${provider} ${size}^2 run ${r + 1}/${runs.model}: ${rates[r].toFixed(2)} slices/s`);
      }
      res.rows.push({ method: 'model', provider, size, slices: synth, rates });
    }
  }
  for (const { m } of models) await m.release();
  return res;
}
