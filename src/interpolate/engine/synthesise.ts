// Runs the model for many (slice pair, t) requests of one stack: items from different source
// gaps share a batch, large matrices are cut into overlapping tiles (blended back), and each
// batch is capped by item count and by pixels so memory stays bounded whatever the matrix.
// 4-slice models also get the slices one gap further out (p, q), repeated at the stack's ends.
import type { BatchRunner } from './session.js';
import { addTile, copyTile, tileGrid, weightSum } from './tiling.js';

export interface BatchLimits {
  /** Most items (slice pairs x tiles) per model run. */
  maxBatch: number;
  /** Most pixels (items x tile area) per model run; at least one item always runs. */
  maxBatchPixels: number;
  /** Tile side in pixels; matrices larger than this are tiled. 0 = never tile. */
  tileSize: number;
  /** Minimum overlap between neighbouring tiles, in pixels. */
  tileOverlap: number;
}

export interface PairRequest {
  /** Index of the lower source slice (the pair is lower, lower + 1). */
  lower: number;
  /** Fractional position between them, (0,1). */
  t: number;
}

/** Items per run for tiles of `area` pixels. */
export function batchSize(limits: BatchLimits, area: number): number {
  return Math.max(1, Math.min(limits.maxBatch, Math.floor(limits.maxBatchPixels / area)));
}

/** Source slice indices fed for the gap (lower, lower + 1): a, b and, for 4 inputs, p, q. */
export function inputSlices(lower: number, count: number, inputs: 2 | 4): number[] {
  const ab = [lower, lower + 1];
  return inputs === 2 ? ab : [...ab, Math.max(lower - 1, 0), Math.min(lower + 2, count - 1)];
}

/**
 * Synthesises one slice per request from the normalised source slices `slices` (rows*cols each).
 * Results are in normalised units, in request order.
 */
export async function synthesisePairs(
  session: BatchRunner,
  slices: Float32Array[],
  rows: number,
  cols: number,
  requests: PairRequest[],
  limits: BatchLimits,
): Promise<Float32Array[]> {
  const tiles = tileGrid(rows, cols, limits.tileSize, limits.tileOverlap);
  const { h, w } = tiles[0];
  const area = h * w;
  const single = tiles.length === 1;
  const out = requests.map(() => new Float32Array(rows * cols));
  const per = batchSize(limits, area);
  const total = requests.length * tiles.length;
  const inputs = session.context;
  const bufs = Array.from({ length: inputs }, () => new Float32Array(Math.min(per, total) * area));
  for (let start = 0; start < total; start += per) {
    const n = Math.min(per, total - start);
    const T = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const item = start + k;
      const r = requests[Math.floor(item / tiles.length)];
      const tile = tiles[item % tiles.length];
      T[k] = r.t;
      const src = inputSlices(r.lower, slices.length, inputs);
      src.forEach((s, j) => {
        if (single) bufs[j].set(slices[s], k * area);
        else copyTile(slices[s], cols, tile, bufs[j], k * area);
      });
    }
    // A short last batch gets its own arrays (a subarray view would hand ort the whole buffer).
    const full = n * area === bufs[0].length;
    const [a, b, p, q] = bufs.map((x) => (full ? x : x.slice(0, n * area)));
    const res = await session.run({ a, b, t: T, p, q }, n, h, w);
    for (let k = 0; k < n; k++) {
      const item = start + k;
      const target = out[Math.floor(item / tiles.length)];
      if (single) target.set(res.subarray(k * area, (k + 1) * area));
      else addTile(target, cols, tiles[item % tiles.length], res, k * area);
    }
  }
  if (!single) {
    const sum = weightSum(rows, cols, tiles);
    for (const o of out) for (let i = 0; i < o.length; i++) o[i] /= sum[i];
  }
  return out;
}
