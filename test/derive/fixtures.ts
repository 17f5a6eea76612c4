// Test-only stand-ins for src/assemble: read a real series from ../shared/data/mr, place its
// slices along the normal and give rescaled and stored pixels. Deliberately independent of the
// node's own assemble code so the derive tests check it against a second implementation.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstanceMeta, Orientation, Stack, Vec3, VolumeF32 } from '../../src/core/types.js';
import { asArray, num, nums, readPart10, str, type NaturalDataset } from '../../src/dicom/dcmjs.js';

export const MR_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/mr');

export interface Fixture {
  stack: Stack;
  referenceHeader: NaturalDataset;
  volume: VolumeF32;
  raw: Uint8Array[];
  /** Source IPP of each slice (stack order), as stored. */
  positions: Vec3[];
}

export function cross(a: number[], b: number[]): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
export const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
function unit(v: Vec3): Vec3 {
  const l = Math.hypot(...v);
  return [v[0] / l, v[1] / l, v[2] / l];
}

interface RawFrame {
  ds: NaturalDataset;
  path: string;
  frame: number;
  ipp: Vec3;
  iop: Orientation;
  spacing: [number, number];
  slope: number;
  intercept: number;
  pixels: Uint8Array;
}

function frameBytes(ds: NaturalDataset): number {
  return (num(ds.Rows)! * num(ds.Columns)! * num(ds.BitsAllocated)!) / 8;
}

function pixelBuffer(ds: NaturalDataset): Uint8Array {
  const pd = asArray(ds.PixelData)[0] as ArrayBuffer;
  return new Uint8Array(pd);
}

async function framesOf(path: string): Promise<RawFrame[]> {
  const { dataset: ds } = await readPart10(path);
  const all = pixelBuffer(ds);
  const nf = num(ds.NumberOfFrames) ?? 1;
  const fb = frameBytes(ds);
  if (nf === 1 && !ds.PerFrameFunctionalGroupsSequence) {
    return [{
      ds, path, frame: 0,
      ipp: nums(ds.ImagePositionPatient, 3) as Vec3,
      iop: nums(ds.ImageOrientationPatient, 6) as Orientation,
      spacing: nums(ds.PixelSpacing, 2) as [number, number],
      slope: num(ds.RescaleSlope) ?? 1,
      intercept: num(ds.RescaleIntercept) ?? 0,
      pixels: all.slice(0, fb),
    }];
  }
  const shared = asArray(ds.SharedFunctionalGroupsSequence)[0] ?? {};
  return asArray(ds.PerFrameFunctionalGroupsSequence).map((pf: NaturalDataset, f: number) => {
    const get = (seq: string, key: string) => asArray(pf[seq])[0]?.[key] ?? asArray(shared[seq])[0]?.[key];
    return {
      ds, path, frame: f,
      ipp: nums(get('PlanePositionSequence', 'ImagePositionPatient'), 3) as Vec3,
      iop: nums(get('PlaneOrientationSequence', 'ImageOrientationPatient'), 6) as Orientation,
      spacing: nums(get('PixelMeasuresSequence', 'PixelSpacing'), 2) as [number, number],
      slope: num(get('PixelValueTransformationSequence', 'RescaleSlope')) ?? 1,
      intercept: num(get('PixelValueTransformationSequence', 'RescaleIntercept')) ?? 0,
      pixels: all.slice(f * fb, (f + 1) * fb),
    };
  });
}

function meta(ds: NaturalDataset, path: string, frames: RawFrame[]): InstanceMeta {
  return {
    path,
    sopClassUid: str(ds.SOPClassUID)!,
    sopInstanceUid: str(ds.SOPInstanceUID)!,
    studyInstanceUid: str(ds.StudyInstanceUID)!,
    seriesInstanceUid: str(ds.SeriesInstanceUID)!,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    instanceNumber: num(ds.InstanceNumber),
    imageType: asArray(ds.ImageType).map(String),
    rows: num(ds.Rows)!,
    columns: num(ds.Columns)!,
    samplesPerPixel: 1,
    bitsAllocated: num(ds.BitsAllocated)!,
    bitsStored: num(ds.BitsStored)!,
    highBit: num(ds.HighBit)!,
    pixelRepresentation: num(ds.PixelRepresentation)!,
    rescaleSlope: frames[0].slope,
    rescaleIntercept: frames[0].intercept,
    numberOfFrames: frames.length,
    frames: frames.map((f) => ({ frame: f.frame, position: f.ipp, orientation: f.iop, rescaleSlope: f.slope, rescaleIntercept: f.intercept })),
    mosaic: false,
    derivedByUs: false,
  };
}

/** A whole folder (every file one stack) or a single enhanced file, sorted along the normal. */
export async function loadFixture(rel: string): Promise<Fixture> {
  const p = join(MR_DATA, rel);
  const paths = rel.endsWith('.dcm') ? [p] : readdirSync(p).filter((f) => f.endsWith('.dcm')).map((f) => join(p, f));
  const frames: Array<RawFrame & { meta: InstanceMeta }> = [];
  for (const path of paths) {
    const fr = await framesOf(path);
    const m = meta(fr[0].ds, path, fr);
    for (const f of fr) frames.push({ ...f, meta: m });
  }
  const iop = frames[0].iop;
  const normal = unit(cross(iop.slice(0, 3), iop.slice(3, 6)));
  const placed = frames.map((f) => ({ f, d: dot(f.ipp, normal) })).sort((a, b) => a.d - b.d);
  const first = placed[0].f;
  const rows = num(first.ds.Rows)!;
  const columns = num(first.ds.Columns)!;
  const distances = placed.map((x) => x.d);
  const steps = distances.slice(1).map((d, i) => d - distances[i]);
  const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
  const stack: Stack = {
    id: `fixture-${rel}`,
    studyInstanceUid: str(first.ds.StudyInstanceUID)!,
    seriesInstanceUid: str(first.ds.SeriesInstanceUID)!,
    label: rel,
    modality: 'MR',
    orientation: iop,
    normal,
    rows,
    columns,
    pixelSpacing: first.spacing,
    slices: placed.map(({ f, d }) => ({ instance: f.meta, frame: f.frame, position: f.ipp, distance: d })),
    spacing: { mean, min: Math.min(...steps), max: Math.max(...steps), irregular: false, gaps: [] },
    volumes: 1,
    flags: { localizer: false, mosaic: false, derivedByUs: false, timeSeries: false, notImage: false, enhanced: frames.length > paths.length },
    issues: [],
  };
  const signed = num(first.ds.PixelRepresentation) === 1;
  const slices = placed.map(({ f }) => {
    const copy = f.pixels.slice();
    const stored = signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
    const out = new Float32Array(stored.length);
    for (let i = 0; i < stored.length; i++) out[i] = stored[i] * f.slope + f.intercept;
    return out;
  });
  // The reference header is the first source instance in acquisition order, without pixels.
  const refDs = { ...frames[0].ds };
  delete refDs.PixelData;
  return {
    stack,
    referenceHeader: refDs,
    volume: { rows, columns, slices, distances },
    raw: placed.map(({ f }) => f.pixels),
    positions: placed.map(({ f }) => f.ipp),
  };
}
