// The check a model must pass before the node uses it in place of another (reload, finetune):
// on a fixed synthetic pair (two smooth blobs 4 pixels apart, values in [0,1], 64x64) its output
// must be finite and inside the normalised range, reproduce a near t=0 and b near t=1, stay close
// to the linear blend at t=0.5, and (parity) stay close to the model it replaces. Thresholds are
// mean absolute errors in normalised units (1 = the stack's 99.9th percentile).
import type { BatchRunner } from './session.js';

export const SANITY = {
  size: 64,
  /** Every output value must lie in [min, max]. */
  range: [-0.25, 1.25] as const,
  // Trained models measure about 0.001-0.003 on each; MAE(a, b) is 0.031 and MAE(a, mid) 0.015,
  // so swapped inputs or an output that ignores t fail.
  /** MAE to a at t=0.02 and to b at t=0.98. */
  endpointMae: 0.01,
  /** MAE to (a + b) / 2 at t=0.5. */
  midpointMae: 0.008,
  /** MAE to the current model's output at t = 0.25, 0.5, 0.75. */
  parityMae: 0.02,
};

const TS = [0.02, 0.25, 0.5, 0.75, 0.98];

export function sanityPair(size = SANITY.size): { a: Float32Array; b: Float32Array } {
  const blob = (cy: number, cx: number) => {
    const s = new Float32Array(size * size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) s[y * size + x] = 0.1 + 0.8 * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * 8 ** 2));
    return s;
  };
  return { a: blob(30, 32), b: blob(34, 32) };
}

/** Outputs of the model at TS on the sanity pair (normalised units). */
export async function sanityOutputs(session: BatchRunner): Promise<Float32Array[]> {
  const { a, b } = sanityPair();
  const n = a.length;
  const A = new Float32Array(TS.length * n);
  const B = new Float32Array(TS.length * n);
  TS.forEach((_, i) => {
    A.set(a, i * n);
    B.set(b, i * n);
  });
  const out = await session.run({ a: A, b: B, t: Float32Array.from(TS) }, TS.length, SANITY.size, SANITY.size);
  return TS.map((_, i) => out.slice(i * n, (i + 1) * n));
}

const mae = (x: Float32Array, y: Float32Array) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i] - y[i]);
  return s / x.length;
};

/** Problems found (empty = passes). `current` = the replaced model's sanityOutputs, if any. */
export async function checkModel(session: BatchRunner, current?: Float32Array[]): Promise<string[]> {
  const problems: string[] = [];
  let outs: Float32Array[];
  try {
    outs = await sanityOutputs(session);
  } catch (e) {
    return [`cannot run on the sanity pair: ${(e as Error).message.split('\n')[0]}`];
  }
  const { a, b } = sanityPair();
  const [lo, hi] = SANITY.range;
  for (let k = 0; k < outs.length; k++) {
    const o = outs[k];
    let bad = 0;
    let out = 0;
    for (let i = 0; i < o.length; i++) {
      if (!Number.isFinite(o[i])) bad++;
      else if (o[i] < lo || o[i] > hi) out++;
    }
    if (bad) problems.push(`${bad} non-finite values at t=${TS[k]}`);
    if (out) problems.push(`${out} values outside [${lo}, ${hi}] at t=${TS[k]}`);
  }
  if (problems.length) return problems;
  const mid = a.map((v, i) => (v + b[i]) / 2);
  const e0 = mae(outs[0], a);
  const e1 = mae(outs[4], b);
  const em = mae(outs[2], mid);
  if (e0 > SANITY.endpointMae) problems.push(`t=0.02 is ${e0.toFixed(4)} from slice a (limit ${SANITY.endpointMae})`);
  if (e1 > SANITY.endpointMae) problems.push(`t=0.98 is ${e1.toFixed(4)} from slice b (limit ${SANITY.endpointMae})`);
  if (em > SANITY.midpointMae) problems.push(`t=0.5 is ${em.toFixed(4)} from the linear blend (limit ${SANITY.midpointMae})`);
  if (current) {
    const ep = Math.max(...[1, 2, 3].map((k) => mae(outs[k], current[k])));
    if (ep > SANITY.parityMae) problems.push(`differs from the current model by ${ep.toFixed(4)} (limit ${SANITY.parityMae})`);
  }
  return problems;
}
