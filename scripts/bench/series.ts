// Benchmark data: series built from a real MR instance set (../shared/data/mr, the Siemens T1
// 2 mm isotropic volume) with new UIDs, its slices resampled (bilinear) to the wanted matrix and
// placed along the slice normal at the wanted spacing; 16-bit, Explicit VR Little Endian,
// written with src/dicom/dcmjs.ts writePart10. Several stacks per series are told apart by
// EchoNumbers (each one a volume the node processes on its own).
import { mkdirSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newUid, readPart10, SopClass, writePart10, type NaturalDataset } from '../../src/dicom/dcmjs.js';

export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const SOURCE_DIR = join(SHARED, 'data/mr/siemens-t1-sagittal-2mm-isotropic');

interface Source {
  header: NaturalDataset;
  images: Uint16Array[];
  rows: number;
  cols: number;
  spacingMm: number;
}

let source: Source | undefined;

async function loadSource(): Promise<Source> {
  if (source) return source;
  const files = readdirSync(SOURCE_DIR).filter((f) => f.endsWith('.dcm')).sort();
  const parsed = await Promise.all(files.map((f) => readPart10(join(SOURCE_DIR, f))));
  parsed.sort((a, b) => Number(a.dataset.InstanceNumber) - Number(b.dataset.InstanceNumber));
  const header = { ...parsed[0].dataset };
  delete header.PixelData;
  const images = parsed.map((p) => {
    const px = p.dataset.PixelData;
    const buf = Array.isArray(px) ? px[0] : px;
    return new Uint16Array(buf as ArrayBuffer);
  });
  source = { header, images, rows: Number(header.Rows), cols: Number(header.Columns), spacingMm: 2 };
  return source;
}

const cache = new Map<string, Uint16Array>();

/** Source image `index`, resampled bilinearly to rows x cols (cached). */
function resampled(src: Source, index: number, rows: number, cols: number): Uint16Array {
  const key = `${index}/${rows}/${cols}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const img = src.images[index];
  const out = new Uint16Array(rows * cols);
  for (let y = 0; y < rows; y++) {
    const sy = Math.min(src.rows - 1, Math.max(0, ((y + 0.5) * src.rows) / rows - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(src.rows - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < cols; x++) {
      const sx = Math.min(src.cols - 1, Math.max(0, ((x + 0.5) * src.cols) / cols - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(src.cols - 1, x0 + 1);
      const fx = sx - x0;
      const v =
        (1 - fy) * ((1 - fx) * img[y0 * src.cols + x0] + fx * img[y0 * src.cols + x1]) +
        fy * ((1 - fx) * img[y1 * src.cols + x0] + fx * img[y1 * src.cols + x1]);
      out[y * cols + x] = Math.round(v);
    }
  }
  cache.set(key, out);
  return out;
}

export interface SeriesSpec {
  dir: string;
  /** Instances in the series. */
  count: number;
  rows: number;
  cols: number;
  spacingMm: number;
  /** Slices per stack (echo); default: one stack of `count` slices. */
  stackSize?: number;
}

export interface WrittenSeries {
  files: string[];
  bytes: number;
  pixelBytes: number;
  seriesInstanceUid: string;
  stacks: number;
}

const cross = (a: number[], b: number[]) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** Source slice images at `spacingMm` along the source volume (wrapping round), for a stack. */
export async function sourceSlices(count: number, rows: number, cols: number, spacingMm: number): Promise<Uint16Array[]> {
  const src = await loadSource();
  const usable = src.images.length - 8;
  return Array.from({ length: count }, (_, k) => resampled(src, 4 + (Math.round((k * spacingMm) / src.spacingMm) % usable), rows, cols));
}

export async function writeSeries(spec: SeriesSpec): Promise<WrittenSeries> {
  const src = await loadSource();
  mkdirSync(spec.dir, { recursive: true });
  const stackSize = spec.stackSize ?? spec.count;
  const studyUid = newUid();
  const seriesUid = newUid();
  const forUid = newUid();
  const iop = (src.header.ImageOrientationPatient as number[]).map(Number);
  const normal = cross(iop.slice(0, 3), iop.slice(3, 6));
  const origin = (src.header.ImagePositionPatient as number[]).map(Number);
  const pixelSpacing = (src.spacingMm * src.cols) / spec.cols;
  const images = await sourceSlices(stackSize, spec.rows, spec.cols, spec.spacingMm);
  const files: string[] = [];
  let bytes = 0;
  for (let i = 0; i < spec.count; i++) {
    const stack = Math.floor(i / stackSize);
    const k = i % stackSize;
    const sopUid = newUid();
    const pos = origin.map((o, d) => o + k * spec.spacingMm * normal[d]);
    const ds: NaturalDataset = {
      ...src.header,
      StudyInstanceUID: studyUid,
      SeriesInstanceUID: seriesUid,
      SOPInstanceUID: sopUid,
      FrameOfReferenceUID: forUid,
      SeriesNumber: 901,
      SeriesDescription: 'BENCH T1 thick',
      InstanceNumber: i + 1,
      EchoNumbers: stack + 1,
      EchoTime: Number(src.header.EchoTime ?? 3) + stack * 0.1,
      Rows: spec.rows,
      Columns: spec.cols,
      PixelSpacing: [pixelSpacing, pixelSpacing],
      SliceThickness: spec.spacingMm,
      SpacingBetweenSlices: spec.spacingMm,
      ImagePositionPatient: pos,
      SliceLocation: k * spec.spacingMm,
      PixelData: images[k].buffer.slice(0),
      _vrMap: { PixelData: 'OW' },
    };
    // Values that no longer hold for the resampled pixels (and whose xs VR dcmjs warns about).
    for (const k of ['ImagesInAcquisition', 'SmallestImagePixelValue', 'LargestImagePixelValue', 'PixelPaddingValue']) delete ds[k];
    const buf = writePart10(ds, { sopClassUid: SopClass.MRImageStorage, sopInstanceUid: sopUid });
    const file = join(spec.dir, `${String(i + 1).padStart(5, '0')}.dcm`);
    await writeFile(file, buf);
    files.push(file);
    bytes += buf.length;
  }
  return { files, bytes, pixelBytes: spec.count * spec.rows * spec.cols * 2, seriesInstanceUid: seriesUid, stacks: Math.ceil(spec.count / stackSize) };
}
