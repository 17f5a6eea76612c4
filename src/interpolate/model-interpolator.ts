// The learned model as an Interpolator: normalise the stack as the model's metadata says
// (divide by the stack's 99.9th percentile), run one batched call per source gap, scale back.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Interpolator, OutputSlice, VolumeF32 } from '../core/types.js';
import { OnnxSynth } from './model/onnx-synth.js';

/** The p-th percentile of all values of a volume (exact, by sorting a sample of at most 2M values). */
export function volumePercentile(volume: VolumeF32, p: number): number {
  const total = volume.slices.reduce((s, x) => s + x.length, 0);
  const stride = Math.max(1, Math.floor(total / 2_000_000));
  const sample = new Float32Array(Math.ceil(total / stride));
  let k = 0;
  let i = 0;
  for (const s of volume.slices) {
    for (let j = 0; j < s.length; j++, i++) if (i % stride === 0) sample[k++] = s[j];
  }
  const sorted = sample.subarray(0, k).sort();
  const idx = Math.min(k - 1, Math.max(0, Math.round((p / 100) * (k - 1))));
  return sorted[idx];
}

export class ModelInterpolator implements Interpolator {
  readonly method = 'model' as const;
  constructor(
    private readonly synth: OnnxSynth,
    readonly description: string,
    readonly sha256: string,
  ) {}

  get metadata() {
    return this.synth.metadata;
  }

  async interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]> {
    const scaleRaw = volumePercentile(volume, this.synth.normalisationPercentile);
    const scale = scaleRaw > 0 ? scaleRaw : 1;
    const n = volume.rows * volume.columns;
    const norm = (s: Float32Array) => {
      const o = new Float32Array(n);
      for (let i = 0; i < n; i++) o[i] = s[i] / scale;
      return o;
    };
    // Group the synthesised slices by the source gap they lie in: one batched run per gap.
    const wanted = plan.filter((p) => p.sourceIndex === undefined);
    const out: Float32Array[] = new Array(wanted.length);
    const byGap = new Map<number, { ts: number[]; at: number[] }>();
    wanted.forEach((p, idx) => {
      if (!p.between) throw new Error('model interpolation needs the neighbouring source slices of every output slice');
      const g = byGap.get(p.between.lower) ?? { ts: [], at: [] };
      g.ts.push(p.between.t);
      g.at.push(idx);
      byGap.set(p.between.lower, g);
    });
    for (const [lower, g] of byGap) {
      const a = norm(volume.slices[lower]);
      const b = norm(volume.slices[lower + 1]);
      const res = await this.synth.synthesize(a, b, volume.rows, volume.columns, g.ts);
      res.forEach((r, j) => {
        for (let i = 0; i < n; i++) r[i] *= scale;
        out[g.at[j]] = r;
      });
    }
    return out;
  }
}

/** Loads the model once; a missing or corrupt file stops start-up with a message saying so. */
export async function createModelInterpolator(path: string, log?: Logger): Promise<ModelInterpolator> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`model file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); configure pipeline.modelPath or a classical pipeline.method`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let synth: OnnxSynth;
  try {
    synth = await OnnxSynth.load(path);
  } catch (e) {
    throw new Error(`model file ${path} is not a usable ONNX model: ${(e as Error).message.split('\n')[0]}`);
  }
  const name = synth.metadata.name ?? basename(path, '.onnx');
  const version = synth.metadata.version ?? 'unversioned';
  const description = `model ${name} ${version} sha256:${sha256.slice(0, 12)}`;
  log?.info('interpolation model loaded', { path, name, version, sha256 });
  return new ModelInterpolator(synth, description, sha256);
}
