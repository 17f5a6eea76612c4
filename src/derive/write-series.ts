// Writes one derived series as classic MR Part-10 files (Explicit VR Little Endian), one per
// output slice: source slices from their own stored pixels with their own rescale (bit-exact),
// synthesised slices converted from float back to the stored type in a format that holds all
// their values (chooseStoredFormat: the series' own when it can, else wider BitsStored, else a
// rescale of their own, each such change logged). Each file is written to a temporary name,
// fsynced and renamed, so a reader never sees a half-written instance.
import { failpoint } from '../core/failpoints.js';
import { mkdir } from 'node:fs/promises';
import { fsyncDir, writeFileDurable } from '../core/durable-fs.js';
import { join } from 'node:path';
import { REFINED_ACROSS, REFINED_BY, type DerivedSeries, type Method, type OutputSlice, type SpacingTarget, type Stack } from '../core/types.js';
import { logger, type Logger } from '../core/log.js';
import type { NaturalDataset } from '../dicom/dcmjs.js';
import { newUid, uidFromKey, writePart10 } from '../dicom/dcmjs.js';
import { planSpacing, stepsPerGap } from '../core/plan.js';
import { inputSlices } from '../interpolate/engine/synthesise.js';
import { chooseStoredFormat, seriesStoredFormat, toStoredValues, valueRange } from './stored-values.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { sliceRescale } from '../core/rescale.js';
import {
  buildDerivedDataset, DERIVED_SOP_CLASS, derivedSeriesDescription, derivedSeriesNumber, sourcePixelModule,
  type PixelModule, type SourceImageRef, type StackGeometry,
} from './tags.js';

export interface WriteDerivedInput {
  stack: Stack;
  /** Naturalized header of the stack's first source instance (the enhanced object itself). */
  referenceHeader: NaturalDataset;
  plan: OutputSlice[];
  /** What the interpolator gave: one array per plan slice without sourceIndex, in plan order. */
  synthesised: Float32Array[];
  /** Stored pixel values of source slice i (stack order), as in its Pixel Data. */
  loadRawSlice: (sourceIndex: number) => Promise<ArrayBufferView>;
  outDir: string;
  method: Method;
  /** Interpolator.description (name and version). */
  interpolatorDescription: string;
  /** Interpolator.adaptation: what per-series adaptation did (absent: not tried). */
  adaptation?: string;
  target: SpacingTarget;
  /** Which volume of a multi-volume stack the plan indexes (default 0; volumes are consecutive). */
  volume?: number;
  /** Defaults to source SeriesNumber + 1000. */
  seriesNumber?: number;
  seriesInstanceUid?: string;
  /**
   * Makes the UIDs repeatable: series = uidFromKey(`${uidKey}/series`), instance N =
   * uidFromKey(`${uidKey}/instance/N`), so a re-run of the same job rebuilds the same series
   * rather than a second one. Without it (and without seriesInstanceUid) UIDs are random.
   */
  uidKey?: string;
  /** Instance UIDs from the caller's scheme: uidFor(`instance/N`); wins over uidKey. */
  uidFor?: (suffix: string) => string;
  createdAt?: Date;
  /**
   * Source slices a synthesised slice cites in SourceImageSequence: 2 (the two neighbours) or
   * 4 (also the next one out on each side). Default: 2 for linear, 4 for cubic and model
   * (see sourceSupport).
   */
  sourceSupport?: 2 | 4;
  /** Where rescale changes are reported (default the process logger, stage "derive"). */
  log?: Logger;
}

type SliceRef = Stack['slices'][number];

/** The slices of one volume of a stack, in stack order: what the plan's source indices mean. */
function volumeOf(stack: Stack, volume = 0): SliceRef[] {
  const per = stack.slices.length / Math.max(1, stack.volumes);
  if (!Number.isInteger(per) || volume < 0 || volume >= Math.max(1, stack.volumes)) throw new Error(`stack ${stack.id} has no volume ${volume}`);
  return stack.slices.slice(volume * per, (volume + 1) * per);
}

/** True when the source numbers its instances (or frames) against the stack normal. */
export function sourceRunsDescending(stack: Stack, volume = 0): boolean {
  const slices = volumeOf(stack, volume);
  const first = slices[0];
  const last = slices[slices.length - 1];
  const order = (s: SliceRef) => (s.instance.numberOfFrames > 1 ? s.frame : s.instance.instanceNumber ?? 0);
  return order(first) > order(last);
}

export function derivationText(input: Pick<WriteDerivedInput, 'stack' | 'volume' | 'plan' | 'method' | 'interpolatorDescription' | 'adaptation' | 'target'>): string {
  const d = volumeOf(input.stack, input.volume).map((s) => s.distance);
  const mean = (d[d.length - 1] - d[0]) / (d.length - 1);
  const sub = stepsPerGap(d, input.target);
  const asked = 'factor' in input.target ? `factor ${input.target.factor}` : `target ${fmt(input.target.spacingMm)} mm`;
  return (
    `Interslice ${PACKAGE_VERSION}: ${input.method} interpolation along the slice normal (${input.interpolatorDescription}${input.adaptation ? `; ${input.adaptation}` : ''}); ` +
    `${asked}: ${sub} steps per source gap of ${fmt(mean)} mm, uniform spacing ${fmt(planSpacing(input.plan))} mm; ` +
    `source slices reproduced unchanged at their own positions; SliceThickness is the source's nominal thickness.`
  );
}

/**
 * SoftwareVersions of a learned derivation: ours, then each learned part the description names
 * (the model, and the refiner after it), one value each, 64 characters at most (LO).
 */
export function softwareVersions(description: string): string[] {
  const parts = description.split(REFINED_BY).map((p) => (p.endsWith(REFINED_ACROSS) ? p.slice(0, -REFINED_ACROSS.length) : p));
  return [PACKAGE_VERSION, ...parts.map((p) => p.slice(0, 64))];
}

const fmt = (x: number) => String(Number(x.toFixed(4)));

/**
 * SpacingBetweenSlices as planned: the target spacing when the plan's spacing is that target
 * (every gap divided evenly, to 0.05 um), else the plan's spacing to 0.1 um (1e-4 mm), which is
 * what a measured span divided into whole steps means (0.99999998 mm -> 1, 7.5/8 -> 0.9375).
 */
export function statedSpacingMm(plannedMm: number, target: SpacingTarget): number {
  if ('spacingMm' in target && Math.abs(plannedMm - target.spacingMm) < 5e-5) return target.spacingMm;
  return Number(plannedMm.toFixed(4));
}

/**
 * The source slices (stack indices, ascending) a synthesised slice between `lower` and
 * `lower + 1` is computed from, as cited in its SourceImageSequence. Linear reads the two
 * neighbours. The learned model reads what engine/synthesise.ts feeds it: the two neighbours
 * and, for a 4-input model, the next slice out on each side (clamped at the ends). The natural
 * cubic spline formally depends on every source slice, but the weight of a slice falls by about
 * 2 - sqrt(3) = 0.27 per slice further away, so the same 4 nearest are cited: they dominate.
 */
export function sourceSupport(lower: number, count: number, support: 2 | 4): number[] {
  return [...new Set(inputSlices(lower, count, support))].sort((a, b) => a - b);
}

export async function writeDerivedSeries(input: WriteDerivedInput): Promise<DerivedSeries> {
  const { stack, plan } = input;
  const ref = input.referenceHeader;
  const synthCount = plan.filter((p) => p.sourceIndex === undefined).length;
  if (input.synthesised.length !== synthCount) throw new Error(`expected ${synthCount} synthesised slices, got ${input.synthesised.length}`);
  const slices = volumeOf(stack, input.volume);
  if (plan.some((p) => p.sourceIndex !== undefined && p.sourceIndex >= slices.length)) throw new Error('plan refers to a source slice the stack does not have');
  const frame0 = slices[0].frame;
  const sourcePixel = sourcePixelModule(ref, frame0);
  const log = input.log ?? logger('derive');
  const ranges = input.synthesised.map(valueRange);
  const finite = ranges.filter((r) => !Number.isNaN(r.min));
  const all = finite.length ? { min: Math.min(...finite.map((r) => r.min)), max: Math.max(...finite.map((r) => r.max)) } : { min: NaN, max: NaN };
  const pixel: PixelModule = { ...sourcePixel, ...seriesStoredFormat(all.min, all.max, sourcePixel) };
  const spacingMm = planSpacing(plan);
  const statedMm = statedSpacingMm(spacingMm, input.target);
  const support = input.sourceSupport ?? (input.method === 'linear' ? 2 : 4);
  const geometry: StackGeometry = {
    orientation: stack.orientation,
    normal: stack.normal,
    origin: slices[0].position,
    originDistance: slices[0].distance,
    pixelSpacing: stack.pixelSpacing,
  };
  const refs: SourceImageRef[] = slices.map((s) => ({
    sopClassUid: s.instance.sopClassUid,
    sopInstanceUid: s.instance.sopInstanceUid,
    frameNumber: s.instance.numberOfFrames > 1 ? s.frame + 1 : undefined,
  }));
  const key = input.uidKey;
  const seriesInstanceUid = input.seriesInstanceUid ?? (key ? uidFromKey(`${key}/series`) : newUid());
  const seriesNumber = input.seriesNumber ?? derivedSeriesNumber(ref);
  const seriesDescription = derivedSeriesDescription(ref, statedMm, input.method);
  const derivationDescription = derivationText(input);
  const createdAt = input.createdAt ?? new Date();
  const descending = sourceRunsDescending(stack, input.volume);
  if (pixel.pixelRepresentation !== sourcePixel.pixelRepresentation) {
    log.info('derived series stored signed so that no synthesised value below the unsigned range is clipped', {
      seriesInstanceUid,
      bitsStored: pixel.bitsStored,
      pixelRepresentation: pixel.pixelRepresentation,
      sourceBitsStored: sourcePixel.bitsStored,
      sourcePixelRepresentation: sourcePixel.pixelRepresentation,
    });
  }
  await mkdir(input.outDir, { recursive: true });

  const files: string[] = [];
  let synthIndex = 0;
  for (let k = 0; k < plan.length; k++) {
    const out = plan[k];
    let pixels: ArrayBufferView;
    let sources: SourceImageRef[];
    let slicePixel: PixelModule;
    const instanceNumber = descending ? plan.length - k : k + 1;
    if (out.sourceIndex !== undefined) {
      // A source slice keeps its own stored pixels and its own rescale: bit-exact.
      slicePixel = { ...pixel, ...sliceRescale(slices[out.sourceIndex]) };
      pixels = await sourcePixels(input, out.sourceIndex, slicePixel, sourcePixel.bitsStored);
      sources = [refs[out.sourceIndex]];
    } else {
      if (!out.between) throw new Error(`plan slice at ${out.distance} mm has neither sourceIndex nor between`);
      const values = input.synthesised[synthIndex];
      const { min, max } = ranges[synthIndex++];
      const neighbours = [slices[out.between.lower], slices[out.between.upper]].map(sliceRescale);
      const choice = chooseStoredFormat(min, max, pixel, neighbours);
      slicePixel = { ...pixel, ...choice.format };
      if (choice.kind !== 'kept') {
        log.info('synthesised slice stored in its own format so that no value is clipped', {
          seriesInstanceUid,
          instanceNumber,
          choice: choice.kind,
          rescaleSlope: slicePixel.rescaleSlope,
          rescaleIntercept: slicePixel.rescaleIntercept,
          bitsStored: slicePixel.bitsStored,
          seriesRescaleSlope: pixel.rescaleSlope,
          seriesRescaleIntercept: pixel.rescaleIntercept,
          seriesBitsStored: pixel.bitsStored,
        });
      }
      pixels = toStoredValues(values, slicePixel);
      sources = sourceSupport(out.between.lower, slices.length, support).map((i) => refs[i]);
    }
    const sopInstanceUid = input.uidFor ? input.uidFor(`instance/${instanceNumber}`) : key ? uidFromKey(`${key}/instance/${instanceNumber}`) : newUid();
    const dataset = buildDerivedDataset({
      source: ref,
      sourceFrameIndex: frame0,
      geometry,
      distance: out.distance,
      instanceNumber,
      sources,
      seriesInstanceUid,
      sopInstanceUid,
      seriesNumber,
      seriesDescription,
      spacingMm: statedMm,
      derivationDescription,
      softwareVersion: input.method === 'model' ? softwareVersions(input.interpolatorDescription) : PACKAGE_VERSION,
      pixel: slicePixel,
      pixelData: toArrayBuffer(pixels),
      createdAt,
    });
    const bytes = writePart10(dataset, { sopClassUid: DERIVED_SOP_CLASS, sopInstanceUid });
    const path = join(input.outDir, `${String(instanceNumber).padStart(4, '0')}.dcm`);
    await writeFileDurable(path, bytes, { syncDir: false }); // the folder is synced once below
    failpoint('mid-derive-write');
    files[instanceNumber - 1] = path;
  }
  await fsyncDir(input.outDir);
  return {
    sourceStackId: stack.id,
    studyInstanceUid: stack.studyInstanceUid,
    seriesInstanceUid,
    sourceSeriesInstanceUid: stack.seriesInstanceUid,
    files,
    sliceCount: plan.length,
    spacingMm,
  };
}

/**
 * A source slice's stored pixels, as they are (the caller writes them with its own rescale).
 * When the series' BitsStored grew past the source's, bits above the source's BitsStored (which
 * a reader ignored before) are cleared so the stored values stay the same numbers; real scanner
 * data has none, and then the bytes are the source's own.
 */
async function sourcePixels(input: WriteDerivedInput, index: number, pixel: PixelModule, sourceBitsStored: number): Promise<ArrayBufferView> {
  const raw = await input.loadRawSlice(index);
  const expected = (pixel.rows * pixel.columns * pixel.bitsAllocated) / 8;
  if (raw.byteLength < expected) throw new Error(`source slice ${index} has ${raw.byteLength} pixel bytes, expected ${expected}`);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, expected);
  if (pixel.bitsStored <= sourceBitsStored) return bytes;
  const words = pixel.bitsAllocated === 16 ? new Uint16Array(bytes.slice().buffer) : bytes.slice();
  const mask = 2 ** sourceBitsStored - 1;
  let stray = false;
  for (let i = 0; i < words.length; i++) {
    if (words[i] & ~mask) {
      stray = true;
      words[i] &= mask;
    }
  }
  return stray ? words : bytes;
}

function toArrayBuffer(v: ArrayBufferView): ArrayBuffer {
  return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer;
}

