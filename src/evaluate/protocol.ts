// The measurement protocol of ../shared/docs/evaluation-protocol.md, kept identical to
// training/evaluate.py (the PyTorch path; both must agree within 0.05 dB):
//  drop-k: keep slices 0, k, 2k, ... (thick: each kept slice i is first replaced by the mean over
//  a slab k slices thick centred on i: offsets |d| < k/2 weight 1, |d| = k/2 weight 1/2, clipped
//  to the volume and renormalised); rebuild the dropped slices between the
//  first and last kept slice; clip truth and prediction to [0, R], R = 99.9th percentile of the
//  whole volume (numpy 'linear'); PSNR over all rebuilt voxels; SSIM = mean over rebuilt slices
//  of 2D SSIM with a 7x7 uniform window, K1 0.01, K2 0.03, sample covariance, data range R,
//  3-pixel border excluded (scikit-image structural_similarity defaults).
//  cubic = natural cubic spline through the kept slices (scipy CubicSpline bc_type='natural').
//  model with a refiner: the rebuilt slices then go through the through-plane refiner, over the
//  stack the node would have (kept + rebuilt slices, rows past the last kept one copying it), as
//  training/refiner.py refine_rebuilt does.
import { readFile } from 'node:fs/promises';
import { ModelSession } from '../interpolate/engine/session.js';
import { synthesisePairs, type PairRequest } from '../interpolate/engine/synthesise.js';
import { ENGINE_DEFAULTS } from '../interpolate/engine/options.js';
import { Refiner } from '../interpolate/refine/refiner.js';
import { loadVolume, type Volume } from './volume.js';

export type EvalMethod = 'model' | 'cubic' | 'linear';

export interface EvalOptions {
  volume: string;
  factor: number;
  method: EvalMethod;
  thick?: boolean;
  modelPath?: string;
  /** the through-plane refiner after the model (method model only) */
  refinerPath?: string;
  /** its thick input: the thick-slice model made the rebuilt slices (default: `thick`) */
  refinerThick?: boolean;
}

/** PSNR (dB) and SSIM of one method on one volume and factor. */
export interface Score {
  psnr: number;
  ssim: number;
}

export interface EvalResult {
  volume: string;
  factor: number;
  method: EvalMethod;
  thick: boolean;
  psnr: number;
  ssim: number;
  /** data range R (99.9th percentile of the whole volume) */
  R: number;
  slices: number;
  rebuilt: number;
  seconds: number;
  model?: string;
  refiner?: string;
}

/** numpy.percentile(x, q) with the default 'linear' method. */
export function percentile(values: Float32Array, q: number): number {
  const s = Float64Array.from(values).sort();
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  const f = pos - lo;
  return s[lo] + (s[hi] - s[lo]) * f;
}

export function normScale(values: Float32Array): number {
  const s = percentile(values, 99.9);
  if (s > 0) return s;
  let m = 0;
  for (const v of values) m = Math.max(m, v);
  return m || 1;
}

export function rebuiltIndices(n: number, k: number): number[] {
  const last = Math.floor((n - 1) / k) * k;
  const out: number[] = [];
  for (let i = 0; i <= last; i++) if (i % k !== 0) out.push(i);
  return out;
}

/**
 * The kept slices' thickness over their spacing: a thin kept slice is 1/k of the kept spacing
 * thick, a thick one averages k slices (keptSlices), as thick as it.
 */
export const keptThickness = (thick: boolean, k: number): number => (thick ? 1 : 1 / k);

/** The kept slices (optionally thick-averaged), as [m][rows*cols]. */
export function keptSlices(vol: Volume, k: number, thick: boolean): Float32Array[] {
  const n = vol.slices;
  const sz = vol.rows * vol.cols;
  const sl = (i: number) => vol.data.subarray(i * sz, (i + 1) * sz);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i += k) {
    if (!thick) {
      out.push(sl(i));
      continue;
    }
    const acc = new Float64Array(sz);
    let wsum = 0;
    const half = Math.floor(k / 2);
    for (let d = -half; d <= half; d++) {
      const j = i + d;
      if (j < 0 || j >= n) continue;
      const w = 2 * Math.abs(d) === k ? 0.5 : 1;
      const s = sl(j);
      for (let p = 0; p < sz; p++) acc[p] += w * s[p];
      wsum += w;
    }
    const m = new Float32Array(sz);
    for (let p = 0; p < sz; p++) m[p] = acc[p] / wsum;
    out.push(m);
  }
  return out;
}

export function rebuildLinear(kept: Float32Array[], k: number, n: number): Map<number, Float32Array> {
  const out = new Map<number, Float32Array>();
  for (const i of rebuiltIndices(n, k)) {
    const a = Math.floor(i / k);
    const t = (i - a * k) / k;
    const A = kept[a];
    const B = kept[a + 1];
    const r = new Float32Array(A.length);
    for (let p = 0; p < A.length; p++) r[p] = (1 - t) * A[p] + t * B[p];
    out.set(i, r);
  }
  return out;
}

/** Natural cubic spline through the kept slices at positions 0, k, 2k, ... */
export function rebuildCubic(kept: Float32Array[], k: number, n: number): Map<number, Float32Array> {
  const m = kept.length;
  const sz = kept[0].length;
  const h = k;
  // second derivatives M: M0 = M_{m-1} = 0; M[i-1] + 4 M[i] + M[i+1] = 6/h^2 (y[i+1] - 2y[i] + y[i-1])
  const M: Float64Array[] = Array.from({ length: m }, () => new Float64Array(sz));
  if (m > 2) {
    const inner = m - 2;
    const c = new Float64Array(inner); // Thomas algorithm, constant diagonals (4, 1)
    const denom = new Float64Array(inner);
    for (let i = 0; i < inner; i++) {
      denom[i] = 4 - (i > 0 ? c[i - 1] : 0);
      c[i] = 1 / denom[i];
    }
    const d: Float64Array[] = Array.from({ length: inner }, () => new Float64Array(sz));
    for (let i = 0; i < inner; i++) {
      const y0 = kept[i], y1 = kept[i + 1], y2 = kept[i + 2];
      const di = d[i];
      const prev = i > 0 ? d[i - 1] : undefined;
      for (let p = 0; p < sz; p++) {
        const rhs = (6 / (h * h)) * (y2[p] - 2 * y1[p] + y0[p]);
        di[p] = (rhs - (prev ? prev[p] : 0)) / denom[i];
      }
    }
    for (let i = inner - 1; i >= 0; i--) {
      const mi = M[i + 1];
      const next = i < inner - 1 ? M[i + 2] : undefined;
      for (let p = 0; p < sz; p++) mi[p] = d[i][p] - c[i] * (next ? next[p] : 0);
    }
  }
  const out = new Map<number, Float32Array>();
  for (const i of rebuiltIndices(n, k)) {
    const a = Math.floor(i / k);
    const x0 = a * k;
    const u = i - x0; // distance from the left knot
    const v = h - u;
    const y0 = kept[a], y1 = kept[a + 1], m0 = M[a], m1 = M[a + 1];
    const r = new Float32Array(sz);
    for (let p = 0; p < sz; p++) {
      r[p] =
        (m0[p] * v * v * v) / (6 * h) + (m1[p] * u * u * u) / (6 * h) +
        (y0[p] / h - (m0[p] * h) / 6) * v + (y1[p] / h - (m1[p] * h) / 6) * u;
    }
    out.set(i, r);
  }
  return out;
}

/** The kept stack's scale (normScale over all its values), as the model and the refiner use it. */
function keptScale(kept: Float32Array[]): number {
  const all = new Float32Array(kept.reduce((n, s) => n + s.length, 0));
  let o = 0;
  for (const s of kept) {
    all.set(s, o);
    o += s.length;
  }
  return normScale(all);
}

/**
 * Rebuilds the dropped slices with the model through the node's own engine (batching across
 * gaps; 4-slice models get the kept slices one further out, repeated at the ends). Untiled, so
 * the figures match the PyTorch path, which never tiles.
 */
export async function rebuildModel(kept: Float32Array[], k: number, n: number, rows: number, cols: number, session: ModelSession, scale = keptScale(kept)): Promise<Map<number, Float32Array>> {
  const norm = kept.map((s) => s.map((v) => v / scale));
  const idx = rebuiltIndices(n, k);
  const requests: PairRequest[] = idx.map((i) => ({ lower: Math.floor(i / k), t: (i % k) / k }));
  const res = await synthesisePairs(session, norm, rows, cols, requests, { ...ENGINE_DEFAULTS, tileSize: 0 });
  return new Map(idx.map((i, j) => [i, res[j].map((v) => v * scale)]));
}

/** The refiner over the stack the node would have made of `kept` and `rec` (see the header). */
export async function refineRebuilt(kept: Float32Array[], rec: Map<number, Float32Array>, k: number, n: number, rows: number, cols: number, refiner: Refiner, thick: boolean, scale = keptScale(kept)): Promise<Map<number, Float32Array>> {
  const last = Math.floor((n - 1) / k) * k;
  const slice = (i: number) => (i > last ? kept[last / k] : i % k === 0 ? kept[i / k] : rec.get(i)!);
  const slices = Array.from({ length: n }, (_, i) => slice(i).map((v) => v / scale));
  const dist = Float32Array.from({ length: n }, (_, i) => Math.min(i % k, k - (i % k)) / k);
  const out = await refiner.refine(slices, dist, thick, rows, cols);
  return new Map([...rec.keys()].map((i) => [i, out[i]!.map((v) => v * scale)]));
}

/** 2D SSIM as skimage.metrics.structural_similarity(x, y, data_range=R) (7x7 uniform window). */
export function ssim2d(x: Float64Array, y: Float64Array, rows: number, cols: number, R: number): number {
  const win = 7;
  const half = 3;
  const NP = win * win;
  const covNorm = NP / (NP - 1);
  const C1 = (0.01 * R) ** 2;
  const C2 = (0.03 * R) ** 2;
  // integral images over x, y, xx, yy, xy (float64)
  const W = cols + 1;
  const I = Array.from({ length: 5 }, () => new Float64Array((rows + 1) * W));
  for (let r = 0; r < rows; r++) {
    const rs = [0, 0, 0, 0, 0];
    for (let c = 0; c < cols; c++) {
      const a = x[r * cols + c];
      const b = y[r * cols + c];
      rs[0] += a; rs[1] += b; rs[2] += a * a; rs[3] += b * b; rs[4] += a * b;
      for (let q = 0; q < 5; q++) I[q][(r + 1) * W + c + 1] = I[q][r * W + c + 1] + rs[q];
    }
  }
  const box = (q: number, r0: number, c0: number) => {
    const A = I[q];
    const r1 = r0 + win, c1 = c0 + win;
    return (A[r1 * W + c1] - A[r0 * W + c1] - A[r1 * W + c0] + A[r0 * W + c0]) / NP;
  };
  let sum = 0;
  let cnt = 0;
  for (let r = half; r < rows - half; r++) {
    for (let c = half; c < cols - half; c++) {
      const ux = box(0, r - half, c - half), uy = box(1, r - half, c - half);
      const uxx = box(2, r - half, c - half), uyy = box(3, r - half, c - half), uxy = box(4, r - half, c - half);
      const vx = covNorm * (uxx - ux * ux);
      const vy = covNorm * (uyy - uy * uy);
      const vxy = covNorm * (uxy - ux * uy);
      sum += ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
      cnt++;
    }
  }
  return sum / cnt;
}

export async function runEvalOnVolume(vol: Volume, opts: EvalOptions, session?: ModelSession, refiner?: Refiner): Promise<EvalResult> {
  const t0 = Date.now();
  const k = Math.round(opts.factor);
  if (k < 2) throw new Error('factor must be >= 2');
  const n = vol.slices;
  const sz = vol.rows * vol.cols;
  const kept = keptSlices(vol, k, !!opts.thick);
  let rec: Map<number, Float32Array>;
  if (opts.method === 'linear') rec = rebuildLinear(kept, k, n);
  else if (opts.method === 'cubic') rec = rebuildCubic(kept, k, n);
  else if (opts.method === 'model') {
    let own: ModelSession | undefined;
    if (!session) {
      if (!opts.modelPath) throw new Error('method model needs modelPath');
      // CPU, like the PyTorch path it is compared with
      session = own = await ModelSession.open(await readFile(opts.modelPath), { provider: 'cpu', threads: 0 });
    }
    // One scale for the model and the refiner, as in the node (a percentile of the whole kept stack)
    const scale = keptScale(kept);
    rec = await rebuildModel(kept, k, n, vol.rows, vol.cols, session, scale);
    await own?.release();
    if (refiner || opts.refinerPath) {
      const ownRefiner = refiner ? undefined : await Refiner.open(opts.refinerPath!, { ...ENGINE_DEFAULTS, provider: 'cpu' });
      rec = await refineRebuilt(kept, rec, k, n, vol.rows, vol.cols, (refiner ?? ownRefiner)!, opts.refinerThick ?? !!opts.thick, scale);
      await ownRefiner?.release();
    }
  } else throw new Error(`unknown method ${String(opts.method)}`);
  const R = percentile(vol.data, 99.9);
  let se = 0;
  let count = 0;
  let ssum = 0;
  const idx = [...rec.keys()].sort((a, b) => a - b);
  const gt = new Float64Array(sz);
  const pr = new Float64Array(sz);
  for (const i of idx) {
    const p = rec.get(i)!;
    for (let q = 0; q < sz; q++) {
      const g = Math.min(Math.max(vol.data[i * sz + q], 0), R);
      const v = Math.min(Math.max(p[q], 0), R);
      gt[q] = g;
      pr[q] = v;
      se += (g - v) * (g - v);
    }
    count += sz;
    ssum += ssim2d(gt, pr, vol.rows, vol.cols, R);
  }
  const mse = se / count;
  return {
    volume: opts.volume,
    factor: k,
    method: opts.method,
    thick: !!opts.thick,
    psnr: mse > 0 ? 10 * Math.log10((R * R) / mse) : Infinity,
    ssim: ssum / idx.length,
    R,
    slices: n,
    rebuilt: idx.length,
    seconds: (Date.now() - t0) / 1000,
    ...(opts.method === 'model' ? { model: opts.modelPath, ...(opts.refinerPath ? { refiner: opts.refinerPath } : {}) } : {}),
  };
}

/** `interslice eval VOLUME --factor N [--method ...] [--thick]`: the protocol on one volume. */
export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const vol = loadVolume(opts.volume);
  return runEvalOnVolume(vol, opts);
}
