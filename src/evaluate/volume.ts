// Volume loading for the evaluation protocol (../shared/docs/evaluation-protocol.md), kept
// identical to training/volumes.py: slices sorted along the slice normal, Rescale Slope/Intercept
// applied; NIfTI slices along the third voxel axis, slice plane rows = j, cols = i.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Volume {
  /** voxel values, [slice][row][col] row-major */
  data: Float32Array;
  slices: number;
  rows: number;
  cols: number;
  /** spacing in mm: [between slices, between rows, between columns] */
  spacing: [number, number, number];
}

export function isNifti(path: string): boolean {
  return path.endsWith('.nii') || path.endsWith('.nii.gz');
}

export function readNifti(path: string): Volume {
  let buf = readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let le = true;
  if (dv.getInt32(0, true) !== 348) {
    if (dv.getInt32(0, false) === 348) le = false;
    else throw new Error(`${path}: not a NIfTI-1 file`);
  }
  const dim = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, le));
  const datatype = dv.getInt16(70, le);
  const pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat32(76 + 4 * i, le));
  const voxOffset = Math.round(dv.getFloat32(108, le));
  let slope = dv.getFloat32(112, le);
  let inter = dv.getFloat32(116, le);
  if (!Number.isFinite(slope) || slope === 0) {
    slope = 1;
    inter = 0;
  }
  if (!Number.isFinite(inter)) inter = 0;
  const [nx, ny, nz] = [dim[1], dim[2], Math.max(1, dim[3])];
  const n = nx * ny * nz; // only the first volume of a 4D file
  const out = new Float32Array(n);
  const readers: Record<number, [number, (o: number) => number]> = {
    2: [1, (o) => dv.getUint8(o)],
    4: [2, (o) => dv.getInt16(o, le)],
    8: [4, (o) => dv.getInt32(o, le)],
    16: [4, (o) => dv.getFloat32(o, le)],
    64: [8, (o) => dv.getFloat64(o, le)],
    256: [1, (o) => dv.getInt8(o)],
    512: [2, (o) => dv.getUint16(o, le)],
    768: [4, (o) => dv.getUint32(o, le)],
  };
  const r = readers[datatype];
  if (!r) throw new Error(`${path}: unsupported NIfTI datatype ${datatype}`);
  const [size, get] = r;
  for (let i = 0; i < n; i++) out[i] = get(voxOffset + i * size) * slope + inter;
  return { data: out, slices: nz, rows: ny, cols: nx, spacing: [pixdim[3], pixdim[2], pixdim[1]] };
}

const require = createRequire(import.meta.url);
// dcmjs ships no type declarations; only a few calls are used here.
const dcmjs = require('dcmjs') as {
  data: {
    DicomMessage: { readFile(buf: ArrayBuffer): { dict: Record<string, unknown> } };
    DicomMetaDictionary: { naturalizeDataset(d: Record<string, unknown>): Record<string, any> };
  };
  log?: { disableAll?: () => void };
};
try {
  dcmjs.log?.disableAll?.();
} catch {
  /* ignore */
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listFiles(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

const num = (v: unknown, d: number): number => {
  const x = Array.isArray(v) ? Number(v[0]) : Number(v);
  return v === undefined || v === null || v === '' || !Number.isFinite(x) ? d : x;
};
const arr = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : String(v ?? '').split('\\').map(Number));

interface Slice {
  pos: number;
  inst: number;
  ds: Record<string, any>;
}

/** Reads the largest single-frame grayscale stack of a DICOM folder (grouped like training/volumes.py). */
export function readDicomFolder(dir: string): Volume {
  const groups = new Map<string, { iop: number[]; items: Slice[] }>();
  for (const f of listFiles(dir)) {
    let ds: Record<string, any>;
    try {
      const b = readFileSync(f);
      const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab).dict);
    } catch {
      continue;
    }
    if (!ds.PixelData || !ds.ImagePositionPatient || !ds.ImageOrientationPatient) continue;
    if (num(ds.SamplesPerPixel, 1) !== 1 || num(ds.NumberOfFrames, 1) !== 1) continue;
    const iop = arr(ds.ImageOrientationPatient);
    const imageType = Array.isArray(ds.ImageType) ? ds.ImageType.join('\\') : String(ds.ImageType ?? '');
    const key = [ds.SeriesInstanceUID ?? '', iop.map((v) => v.toFixed(3)).join(','), String(ds.EchoNumbers ?? ''), imageType, ds.Rows, ds.Columns].join('|');
    const normal = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
    const ipp = arr(ds.ImagePositionPatient);
    const pos = ipp[0] * normal[0] + ipp[1] * normal[1] + ipp[2] * normal[2];
    const g = groups.get(key) ?? { iop, items: [] };
    g.items.push({ pos, inst: num(ds.InstanceNumber, 0), ds });
    groups.set(key, g);
  }
  let best: Slice[] | undefined;
  for (const g of groups.values()) {
    g.items.sort((x, y) => x.pos - y.pos || x.inst - y.inst);
    const uniq: Slice[] = [];
    for (const it of g.items) if (!uniq.length || Math.abs(it.pos - uniq[uniq.length - 1].pos) >= 1e-3) uniq.push(it);
    if (uniq.length >= 3 && (!best || uniq.length > best.length)) best = uniq;
  }
  if (!best) throw new Error(`${dir}: no usable DICOM stack`);
  const rows = Number(best[0].ds.Rows);
  const cols = Number(best[0].ds.Columns);
  const data = new Float32Array(best.length * rows * cols);
  best.forEach((s, z) => {
    const ds = s.ds;
    const pd = Array.isArray(ds.PixelData) ? ds.PixelData[0] : ds.PixelData;
    const ab: ArrayBuffer = pd instanceof ArrayBuffer ? pd : (pd.buffer as ArrayBuffer).slice(pd.byteOffset, pd.byteOffset + pd.byteLength);
    const bits = num(ds.BitsAllocated, 16);
    const signed = num(ds.PixelRepresentation, 0) === 1;
    const n = rows * cols;
    const px =
      bits === 8 ? (signed ? new Int8Array(ab, 0, n) : new Uint8Array(ab, 0, n))
      : bits === 32 ? (signed ? new Int32Array(ab, 0, n) : new Uint32Array(ab, 0, n))
      : signed ? new Int16Array(ab, 0, n) : new Uint16Array(ab, 0, n);
    const slope = num(ds.RescaleSlope, 1) || 1;
    const inter = num(ds.RescaleIntercept, 0);
    const off = z * n;
    for (let i = 0; i < n; i++) data[off + i] = Math.fround(Math.fround(px[i]) * Math.fround(slope) + Math.fround(inter));
  });
  const ps = arr(best[0].ds.PixelSpacing);
  const diffs = best.slice(1).map((s, i) => s.pos - best![i].pos).sort((a, b) => a - b);
  const m = diffs.length;
  const dz = m % 2 ? diffs[(m - 1) / 2] : (diffs[m / 2 - 1] + diffs[m / 2]) / 2;
  return { data, slices: best.length, rows, cols, spacing: [dz, ps[0], ps[1]] };
}

export function loadVolume(path: string): Volume {
  return isNifti(path) ? readNifti(path) : readDicomFolder(path);
}
