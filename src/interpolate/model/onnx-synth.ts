// ONNX inference for the learned inter-slice model (models/interslice-v2.onnx, built by
// training/), one source gap at a time (the evaluation protocol and the training parity test). Inputs are already intensity-normalised as metadata.normalisation says (divide
// by the 99.9th percentile of the received stack); the output is in the same normalised units.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as OrtTypes from 'onnxruntime-node';
import { checkIo, runRaw } from '../engine/session.js';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as typeof OrtTypes;

export interface ModelMetadata {
  name?: string;
  version?: string;
  architecture?: string;
  parameters?: string;
  stages?: string;
  normalisation?: string;
  normalisation_percentile?: string;
  inputs?: string;
  outputs?: string;
  output_kind?: string;
  opset?: string;
  [key: string]: string | undefined;
}

/** Reads ModelProto.metadata_props (field 14) from an ONNX protobuf without a protobuf library. */
export function readOnnxMetadata(buf: Uint8Array): Record<string, string> {
  let p = 0;
  const varint = (): number => {
    let r = 0;
    let mul = 1;
    for (;;) {
      const b = buf[p++];
      r += (b & 0x7f) * mul;
      if (b < 0x80) return r;
      mul *= 128;
    }
  };
  const dec = new TextDecoder();
  const out: Record<string, string> = {};
  while (p < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = varint();
      const end = p + len;
      if (field === 14) {
        let key = '';
        let value = '';
        while (p < end) {
          const t2 = varint();
          const l2 = varint();
          const s = dec.decode(buf.subarray(p, p + l2));
          p += l2;
          if (t2 >> 3 === 1) key = s;
          else if (t2 >> 3 === 2) value = s;
        }
        out[key] = value;
      }
      p = end;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

export class OnnxSynth {
  private constructor(
    private readonly session: OrtTypes.InferenceSession,
    readonly metadata: ModelMetadata,
    readonly path: string,
    /** 4 when the model takes the context slices p and q, else 2. */
    readonly context: 2 | 4,
  ) {}

  static async load(path: string, opts: { intraOpNumThreads?: number; executionProviders?: string[] } = {}): Promise<OnnxSynth> {
    const buf = await readFile(path);
    const metadata = readOnnxMetadata(buf) as ModelMetadata;
    const session = await ort.InferenceSession.create(buf, {
      executionProviders: (opts.executionProviders ?? ['cpu']) as OrtTypes.InferenceSession.ExecutionProviderConfig[],
      intraOpNumThreads: opts.intraOpNumThreads ?? 0,
      graphOptimizationLevel: 'all',
    });
    return new OnnxSynth(session, metadata, path, checkIo(session));
  }

  /** Percentile used for the per-stack intensity normalisation (99.9). */
  get normalisationPercentile(): number {
    return Number(this.metadata.normalisation_percentile ?? '99.9');
  }

  /**
   * Synthesises the slices at fractional positions ts (each in (0,1)) between slice a (t=0)
   * and slice b (t=1); a and b are rows*cols, row-major, normalised. p and q are the slices
   * one gap further out (4-slice models; default a and b). One batched run.
   */
  async synthesize(a: Float32Array, b: Float32Array, rows: number, cols: number, ts: number[], p = a, q = b): Promise<Float32Array[]> {
    const n = rows * cols;
    if ([a, b, p, q].some((x) => x.length !== n)) throw new Error(`synthesize: expected ${n} values per slice`);
    if (!ts.length) return [];
    const N = ts.length;
    const repeat = (x: Float32Array) => {
      const r = new Float32Array(N * n);
      for (let i = 0; i < N; i++) r.set(x, i * n);
      return r;
    };
    const out = await runRaw(this.session, this.context, { a: repeat(a), b: repeat(b), t: Float32Array.from(ts), p: repeat(p), q: repeat(q) }, N, rows, cols);
    const slices: Float32Array[] = [];
    for (let i = 0; i < N; i++) slices.push(out.slice(i * n, (i + 1) * n));
    return slices;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
