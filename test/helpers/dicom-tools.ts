// The checks a PACS team would run on a derived series, as test helpers: dciodvfy (IOD
// conformance), dcm2niix (geometry, spacing) and a header/pixel reader for Part-10 files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { asArray, num, nums, readPart10, str } from '../../src/dicom/dcmjs.js';
import { readNiftiGeometry, type NiftiGeometry } from '../derive/nifti.js';

export const GEOMETRY_WARNINGS = /Interslice distance varies|slice orientation varies|Missing images|Unable to determine slice direction|tilt/i;

export function haveTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** dciodvfy's Error lines for one file ([] = conformant). */
export function dciodvfyErrors(file: string): string[] {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n').filter((l) => /^Error/.test(l));
}

/** dcm2niix on a folder: its log and the geometry of every NIfTI it wrote. */
export function dcm2niix(inDir: string, outDir: string): { log: string; niis: NiftiGeometry[] } {
  mkdirSync(outDir, { recursive: true });
  const r = spawnSync('dcm2niix', ['-z', 'n', '-b', 'n', '-f', 'vol_%s_%e_%z', '-o', outDir, inDir], { encoding: 'utf8' });
  const log = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, log);
  const files = readdirSync(outDir).filter((f) => f.endsWith('.nii')).sort();
  return { log, niis: files.map((f) => readNiftiGeometry(join(outDir, f))) };
}

export interface InstanceInfo {
  path: string;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  instanceNumber?: number;
  ipp?: number[];
  iop?: number[];
  /** Referenced source series (ReferencedSeriesSequence), for derived instances. */
  referencedSeries?: string;
  /** SOP classes of SourceImageSequence items. */
  sourceSopClasses: string[];
  imageType: string[];
  /** Pixel data bytes per frame. */
  frames: Buffer[];
}

export async function readInstance(path: string): Promise<InstanceInfo> {
  const { dataset: ds } = await readPart10(path);
  const rows = num(ds.Rows) ?? 0;
  const cols = num(ds.Columns) ?? 0;
  const bytesPerFrame = rows * cols * ((num(ds.BitsAllocated) ?? 16) / 8) * (num(ds.SamplesPerPixel) ?? 1);
  const nFrames = num(ds.NumberOfFrames) ?? 1;
  const pd = asArray(ds.PixelData)[0] as ArrayBuffer | undefined;
  const all = pd ? Buffer.from(pd) : Buffer.alloc(0);
  const frames = Array.from({ length: nFrames }, (_, i) => all.subarray(i * bytesPerFrame, (i + 1) * bytesPerFrame));
  return {
    path,
    sopClassUid: String(ds.SOPClassUID),
    sopInstanceUid: String(ds.SOPInstanceUID),
    seriesInstanceUid: String(ds.SeriesInstanceUID),
    instanceNumber: num(ds.InstanceNumber),
    ipp: nums(ds.ImagePositionPatient, 3),
    iop: nums(ds.ImageOrientationPatient, 6),
    referencedSeries: str(asArray(ds.ReferencedSeriesSequence)[0]?.SeriesInstanceUID),
    sourceSopClasses: [...new Set(asArray(ds.SourceImageSequence).map((x: Record<string, unknown>) => String(x.ReferencedSOPClassUID)))],
    imageType: asArray(ds.ImageType).map(String),
    frames,
  };
}

/** Per-frame positions of an Enhanced MR object (PlanePositionSequence), in frame order. */
export async function enhancedFramePositions(path: string): Promise<number[][]> {
  const { dataset: ds } = await readPart10(path, { headerOnly: true });
  return asArray(ds.PerFrameFunctionalGroupsSequence).map(
    (f: Record<string, unknown>) => nums((asArray(f.PlanePositionSequence as Record<string, unknown>[])[0] ?? {}).ImagePositionPatient, 3)!,
  );
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}
