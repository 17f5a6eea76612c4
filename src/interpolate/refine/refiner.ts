// The through-plane refiner (training/refiner.py) on onnxruntime-node: one session, opened once
// on the configured execution provider like the model's, run over the planes that cross a
// finished stack (planes.ts). Its inputs are normalised as the model's are.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type * as OrtTypes from 'onnxruntime-node';
import type { Logger } from '../../core/log.js';
import { readOnnxMetadata, type ModelMetadata } from '../model/metadata.js';
import { openOnProvider, ort, type Provider } from '../engine/providers.js';
import type { EngineOptions } from '../engine/options.js';
import { batchSize } from '../engine/synthesise.js';
import { gatherPlanes, scatterPlanes } from './planes.js';
import { trainingFactors, type FactorScoped } from './choose.js';

export class Refiner implements FactorScoped {
  /** The output steps per acquired gap it was trained on (choose.ts); undefined: not recorded. */
  readonly factors?: readonly number[];

  private constructor(
    private readonly session: OrtTypes.InferenceSession,
    readonly provider: Provider,
    readonly metadata: ModelMetadata,
    /** "refiner NAME VERSION sha256:HASH16", for DerivationDescription. */
    readonly description: string,
    readonly sha256: string,
    readonly path: string,
    private readonly options: EngineOptions,
  ) {
    this.factors = trainingFactors(metadata.training);
  }

  /** What changes its output pixels, for the content key of derived UIDs. */
  get contentId(): string {
    return `refiner sha256:${this.sha256} provider:${this.provider}`;
  }

  /**
   * Loads and checks the refiner; a missing, corrupt or failing file stops start-up with a
   * message naming `configKey`.
   */
  static async open(path: string, options: EngineOptions, log?: Logger, configKey = 'pipeline.refinerPath'): Promise<Refiner> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new Error(`refiner file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); configure ${configKey}, or null to synthesise without it`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    let metadata: ModelMetadata;
    let opened: Awaited<ReturnType<typeof openOnProvider>>;
    try {
      metadata = readOnnxMetadata(bytes) as ModelMetadata;
      opened = await openOnProvider(bytes, options.provider, options, async (s) => {
        checkIo(s);
        await runRaw(s, new Float32Array(4 * 8), new Float32Array(4), new Float32Array(1), 1, 4, 8);
      });
    } catch (e) {
      throw new Error(`refiner file ${path} is not a usable refiner: ${(e as Error).message.split('\n')[0]}; configure a valid ${configKey}, or null`);
    }
    const name = metadata.name ?? basename(path, '.onnx');
    const version = metadata.version ?? 'unversioned';
    const r = new Refiner(opened.session, opened.provider, metadata, `refiner ${name} ${version} sha256:${sha256.slice(0, 16)}`, sha256, path, options);
    const problems = await r.check();
    if (problems.length) {
      await r.release();
      throw new Error(`refiner file ${path} fails the sanity check: ${problems.join('; ')}`);
    }
    log?.info('through-plane refiner loaded', { configKey, path, refinerName: name, refinerVersion: version, sha256, factors: r.factors ?? null, executionProvider: opened.provider });
    return r;
  }

  /**
   * Refines the synthesised slices of a stack. `slices` are all its output slices in order,
   * normalised; `dist` says which are synthesised (> 0). Returns the refined slices at those
   * indices (undefined at the acquired ones, which it leaves as they are).
   */
  async refine(slices: readonly Float32Array[], dist: Float32Array, thick: boolean, rows: number, cols: number): Promise<(Float32Array | undefined)[]> {
    const z = slices.length;
    const out = slices.map((s, i) => (dist[i] > 0 ? new Float32Array(s.length) : undefined));
    const per = batchSize(this.options, z * cols);
    for (let r0 = 0; r0 < rows; r0 += per) {
      const n = Math.min(per, rows - r0);
      const d = new Float32Array(n * z);
      for (let i = 0; i < n; i++) d.set(dist, i * z);
      const res = await runRaw(this.session, gatherPlanes(slices, cols, r0, n), d, new Float32Array(n).fill(thick ? 1 : 0), n, z, cols);
      scatterPlanes(res, out, cols, r0, n);
    }
    return out;
  }

  /**
   * On a smooth synthetic stack (9 slices, acquired at 0, 4 and 8), thin and thick: finite
   * output, and the synthesised slices within 0.05 (normalised) of their input on average (the
   * shipped refiner changes them by about 0.00x; a broken file or a swapped input does not).
   */
  async check(): Promise<string[]> {
    const z = 9, rows = 16, cols = 24;
    const dist = Float32Array.from({ length: z }, (_, i) => Math.min(i % 4, 4 - (i % 4)) / 4);
    const slices = Array.from({ length: z }, (_, s) => Float32Array.from({ length: rows * cols }, (_, p) => 0.2 + 0.5 * Math.exp(-(((p % cols) - 12) ** 2 + (Math.floor(p / cols) - 8) ** 2 + (s - 4) ** 2) / 50)));
    const problems: string[] = [];
    for (const thick of [false, true]) {
      const out = await this.refine(slices, dist, thick, rows, cols);
      let mae = 0, count = 0;
      out.forEach((o, s) => {
        if (!o) return;
        for (let p = 0; p < o.length; p++) {
          if (!Number.isFinite(o[p])) problems.push(`non-finite output (thick ${thick})`);
          mae += Math.abs(o[p] - slices[s][p]);
          count++;
        }
      });
      if (mae / count > 0.05) problems.push(`changes a smooth stack by ${(mae / count).toFixed(4)} on average (thick ${thick}; limit 0.05)`);
    }
    return [...new Set(problems)];
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function checkIo(s: Pick<OrtTypes.InferenceSession, 'inputNames' | 'outputNames'>): void {
  const want = ['plane', 'dist', 'thick'];
  if (want.some((n) => !s.inputNames.includes(n)) || s.inputNames.length !== want.length || !s.outputNames.includes('out')) {
    throw new Error(`inputs [${s.inputNames.join(', ')}] / outputs [${s.outputNames.join(', ')}] are not the expected plane, dist, thick -> out`);
  }
}

async function runRaw(s: OrtTypes.InferenceSession, planes: Float32Array, dist: Float32Array, thick: Float32Array, n: number, z: number, w: number): Promise<Float32Array> {
  const res = await s.run({
    plane: new ort.Tensor('float32', planes, [n, 1, z, w]),
    dist: new ort.Tensor('float32', dist, [n, 1, z, 1]),
    thick: new ort.Tensor('float32', thick, [n]),
  });
  const out = res.out;
  if (out.type !== 'float32' || out.data.length !== n * z * w) {
    throw new Error(`refiner output has ${out.data.length} ${out.type} values, expected ${n * z * w} float32 ([${n},1,${z},${w}])`);
  }
  return out.data as Float32Array;
}
