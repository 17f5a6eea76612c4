// One onnxruntime session for the interpolation model, opened once on the chosen execution
// provider and reused for every stack. It runs batches whose items may come from different
// slice pairs (a, b, t per item); inputs and output are in the model's normalised units.
import { readOnnxMetadata, type ModelMetadata } from '../model/onnx-synth.js';
import { openOnProvider, ort, type Provider, type ProviderAttempt, type ProviderChoice, type SessionSettings } from './providers.js';
import type * as OrtTypes from 'onnxruntime-node';

export interface ModelSessionOptions extends SessionSettings {
  provider: ProviderChoice;
}

export class ModelSession {
  private constructor(
    private readonly session: OrtTypes.InferenceSession,
    readonly provider: Provider,
    readonly attempts: ProviderAttempt[],
    readonly metadata: ModelMetadata,
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
      checkIo(s);
      const n = 16 * 16;
      await runRaw(s, new Float32Array(n), new Float32Array(n), new Float32Array([0.5]), 1, 16, 16);
    });
    return new ModelSession(session, provider, attempts, metadata);
  }

  /** Runs N items of h x w: a and b hold N*h*w values, t holds N positions in (0,1). */
  run(a: Float32Array, b: Float32Array, t: Float32Array, n: number, h: number, w: number): Promise<Float32Array> {
    return runRaw(this.session, a, b, t, n, h, w);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The node's model contract: inputs a, b, t and output out. */
function checkIo(s: OrtTypes.InferenceSession): void {
  const missing = ['a', 'b', 't'].filter((n) => !s.inputNames.includes(n));
  if (missing.length || !s.outputNames.includes('out')) {
    throw new Error(`model inputs [${s.inputNames.join(', ')}] / outputs [${s.outputNames.join(', ')}] are not the expected a, b, t -> out`);
  }
}

async function runRaw(s: OrtTypes.InferenceSession, a: Float32Array, b: Float32Array, t: Float32Array, n: number, h: number, w: number): Promise<Float32Array> {
  const res = await s.run({
    a: new ort.Tensor('float32', a, [n, 1, h, w]),
    b: new ort.Tensor('float32', b, [n, 1, h, w]),
    t: new ort.Tensor('float32', t, [n]),
  });
  const out = res.out;
  if (out.type !== 'float32' || out.data.length !== n * h * w) {
    throw new Error(`model output has ${out.data.length} ${out.type} values, expected ${n * h * w} float32 ([${n},1,${h},${w}])`);
  }
  return out.data as Float32Array;
}
