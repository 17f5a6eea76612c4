// Just enough of a NIfTI-1 header reader to check dcm2niix's geometry of a derived series.
import { readFileSync } from 'node:fs';

export interface NiftiGeometry {
  dim: number[];
  pixdim: number[];
  /** srow_x, srow_y, srow_z: 3x4 affine (RAS+ world from voxel). */
  srow: number[][];
  sformCode: number;
  qformCode: number;
}

export function readNiftiGeometry(path: string): NiftiGeometry {
  const b = readFileSync(path);
  if (b.readInt32LE(0) !== 348) throw new Error(`${path}: not a little-endian NIfTI-1 header`);
  const f32 = (off: number, n: number) => Array.from({ length: n }, (_, i) => b.readFloatLE(off + 4 * i));
  return {
    dim: Array.from({ length: 8 }, (_, i) => b.readInt16LE(40 + 2 * i)),
    pixdim: f32(76, 8),
    srow: [f32(280, 4), f32(296, 4), f32(312, 4)],
    qformCode: b.readInt16LE(252),
    sformCode: b.readInt16LE(254),
  };
}

/** Column j of the 3x3 part of the affine. */
export function column(g: NiftiGeometry, j: number): number[] {
  return g.srow.map((r) => r[j]);
}

/**
 * The same voxel grid with each in-plane/slice axis turned to point along `ref`'s: dcm2niix may
 * store an equivalent volume with an axis reversed (it decides, e.g., from whether it thinks
 * the series is EPI), so two conversions are compared after putting them in one voxel order.
 */
export function alignedTo(g: NiftiGeometry, ref: NiftiGeometry): NiftiGeometry {
  const srow = g.srow.map((r) => r.slice());
  for (let j = 0; j < 3; j++) {
    const c = column(g, j);
    const r = column(ref, j);
    if (c[0] * r[0] + c[1] * r[1] + c[2] * r[2] >= 0) continue;
    for (let i = 0; i < 3; i++) {
      srow[i][3] += (g.dim[j + 1] - 1) * c[i];
      srow[i][j] = -c[i];
    }
  }
  return { ...g, srow };
}
