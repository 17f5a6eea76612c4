// One onnxruntime session for the interpolation model, opened once on the chosen execution
// provider and reused for every stack. It runs batches whose items may come from different
// slice pairs (a, b, t per item, plus the context slices p and q for 4-slice models); inputs and
// output are in the model's normalised units.
import { readOnnxMetadata, type ModelMetadata } from '../model/metadata.js';
import { openOnProvider, ort, type Provider, type ProviderAttempt, type ProviderChoice, type SessionSettings } from './providers.js';
import type * as OrtTypes from 'onnxruntime-node';

export interface ModelSessionOptions extends SessionSettings {
  provider: ProviderChoice;
}

/** One batch of N items of h x w: a, b (and p, q) hold N*h*w values, t holds N positions in (0,1). */
export interface ModelInputs {
  a: Float32Array;
  b: Float32Array;
  t: Float32Array;
  /** The source slice before a (a itself at the start of a stack); 4-slice models only, default a. */
  p?: Float32Array;
  /** The source slice after b (b itself at the end of a stack); 4-slice models only, default b. */
  q?: Float32Array;
}

/** What a batch runner needs: the run itself and whether the model takes p and q. */
export type BatchRunner = Pick<ModelSession, 'run' | 'context'>;

export class ModelSession {
  private constructor(
    private readonly session: OrtTypes.InferenceSession,
    readonly provider: Provider,
    readonly attempts: ProviderAttempt[],
    readonly metadata: ModelMetadata,
    /** 4 when the model takes the context slices p and q as well as a and b, else 2. */
    readonly context: 2 | 4,
  ) {}

  /** Opens `bytes` (an ONNX file's contents); throws with a one-line reason if it cannot. */
  static async open(bytes: Uint8Array, opts: ModelSessionOptions): Promise<ModelSession> {
    let metadata: ModelMetadata;
    try {
      metadata = readOnnxMetadata(bytes) as ModelMetadata;
    } catch (e) {
      throw new Error(`not an ONNX model (${(e as Error).message})`);
    }
    const { session, provider, attempts } = await openOnProvider(bytes, opts.provider, opts, async (s) => {
      const n = 16 * 16;
      await runRaw(s, checkIo(s), { a: new Float32Array(n), b: new Float32Array(n), t: new Float32Array([0.5]) }, 1, 16, 16);
    });
    return new ModelSession(session, provider, attempts, metadata, checkIo(session));
  }

  /** Runs N items of h x w (see ModelInputs). */
  run(inputs: ModelInputs, n: number, h: number, w: number): Promise<Float32Array> {
    return runRaw(this.session, this.context, inputs, n, h, w);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The node's model contract: inputs a, b, t (and optionally p, q) and output out; returns the context. */
function checkIo(s: Pick<OrtTypes.InferenceSession, 'inputNames' | 'outputNames'>): 2 | 4 {
  const missing = ['a', 'b', 't'].filter((n) => !s.inputNames.includes(n));
  const extra = s.inputNames.filter((n) => !['a', 'b', 't', 'p', 'q'].includes(n));
  const context = s.inputNames.includes('p') || s.inputNames.includes('q') ? 4 : 2;
  const half = context === 4 && !(s.inputNames.includes('p') && s.inputNames.includes('q'));
  if (missing.length || extra.length || half || !s.outputNames.includes('out')) {
    throw new Error(`model inputs [${s.inputNames.join(', ')}] / outputs [${s.outputNames.join(', ')}] are not the expected a, b, t (, p, q) -> out`);
  }
  return context;
}

async function runRaw(s: OrtTypes.InferenceSession, context: 2 | 4, inp: ModelInputs, n: number, h: number, w: number): Promise<Float32Array> {
  const img = (x: Float32Array) => new ort.Tensor('float32', x, [n, 1, h, w]);
  const feeds: Record<string, OrtTypes.Tensor> = { a: img(inp.a), b: img(inp.b), t: new ort.Tensor('float32', inp.t, [n]) };
  if (context === 4) {
    feeds.p = img(inp.p ?? inp.a);
    feeds.q = img(inp.q ?? inp.b);
  }
  const res = await s.run(feeds);
  const out = res.out;
  if (out.type !== 'float32' || out.data.length !== n * h * w) {
    throw new Error(`model output has ${out.data.length} ${out.type} values, expected ${n * h * w} float32 ([${n},1,${h},${w}])`);
  }
  return out.data as Float32Array;
}
