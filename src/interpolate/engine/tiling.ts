// Tiling with overlap for matrices too large to run in one piece. Tiles along an axis all have
// the same length (so tiles of one image can share a batch) and overlap by at least `overlap`.
// Blending: inside an overlap the weight of a tile ramps linearly from 0 to 1, after a margin of
// overlap/4 pixels at the tile's inner edge where it is 0; the margin drops the pixels nearest a
// tile border, which a model with a receptive-field halo up to that margin gets wrong.

export interface AxisTiles {
  /** Start of each tile. */
  starts: number[];
  /** Length of every tile. */
  length: number;
}

/** Tiles covering `size` with tiles of at most `tileSize`, overlapping by at least `overlap`. */
export function axisTiles(size: number, tileSize: number, overlap: number): AxisTiles {
  if (tileSize <= 0 || size <= tileSize) return { starts: [0], length: size };
  if (overlap >= tileSize) throw new Error(`tile overlap ${overlap} must be smaller than the tile size ${tileSize}`);
  const count = Math.ceil((size - overlap) / (tileSize - overlap));
  const length = Math.min(size, Math.ceil((size + (count - 1) * overlap) / count));
  const starts = Array.from({ length: count }, (_, i) => Math.round((i * (size - length)) / (count - 1)));
  return { starts, length };
}

/** Blend weight of each position of a tile along one axis (1 on sides at the image border). */
export function axisWeights(start: number, length: number, size: number, overlap: number): Float32Array {
  const w = new Float32Array(length).fill(1);
  if (length === size) return w;
  const margin = Math.floor(overlap / 4);
  const ramp = Math.max(1, overlap - 2 * margin);
  const at = (d: number) => Math.min(1, Math.max(0, (d + 0.5 - margin) / ramp));
  for (let i = 0; i < length; i++) {
    let v = 1;
    if (start > 0) v = Math.min(v, at(i));
    if (start + length < size) v = Math.min(v, at(length - 1 - i));
    // Never exactly 0: a pixel always has some weight, so the normalisation cannot divide by 0.
    w[i] = Math.max(v, 1e-6);
  }
  return w;
}

export interface Tile {
  y: number;
  x: number;
  h: number;
  w: number;
  /** h*w blend weights. */
  weight: Float32Array;
}

export function tileGrid(rows: number, cols: number, tileSize: number, overlap: number): Tile[] {
  const ty = axisTiles(rows, tileSize, overlap);
  const tx = axisTiles(cols, tileSize, overlap);
  const tiles: Tile[] = [];
  for (const y of ty.starts) {
    const wy = axisWeights(y, ty.length, rows, overlap);
    for (const x of tx.starts) {
      const wx = axisWeights(x, tx.length, cols, overlap);
      const weight = new Float32Array(ty.length * tx.length);
      for (let i = 0; i < ty.length; i++) for (let j = 0; j < tx.length; j++) weight[i * tx.length + j] = wy[i] * wx[j];
      tiles.push({ y, x, h: ty.length, w: tx.length, weight });
    }
  }
  return tiles;
}

/** Copies tile `t` of the rows x cols image `src` into `dst` at `offset`. */
export function copyTile(src: Float32Array, cols: number, t: Tile, dst: Float32Array, offset: number): void {
  for (let i = 0; i < t.h; i++) dst.set(src.subarray((t.y + i) * cols + t.x, (t.y + i) * cols + t.x + t.w), offset + i * t.w);
}

/** Adds weight * tile values (from `src` at `offset`) into the image `acc`. */
export function addTile(acc: Float32Array, cols: number, t: Tile, src: Float32Array, offset: number): void {
  for (let i = 0; i < t.h; i++) {
    const row = (t.y + i) * cols + t.x;
    for (let j = 0; j < t.w; j++) acc[row + j] += t.weight[i * t.w + j] * src[offset + i * t.w + j];
  }
}

/** Sum of the weights of all tiles at each pixel (what the accumulated image is divided by). */
export function weightSum(rows: number, cols: number, tiles: Tile[]): Float32Array {
  const sum = new Float32Array(rows * cols);
  const ones = new Float32Array(tiles[0].h * tiles[0].w).fill(1);
  for (const t of tiles) addTile(sum, cols, t, ones, 0);
  return sum;
}
