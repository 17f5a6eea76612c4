// Writes one derived series as classic MR Part-10 files (Explicit VR Little Endian), one per
// output slice: source slices from their own stored pixels (bit-exact), synthesised slices
// converted from float back to the stored type. Each file is written to a temporary name,
// fsynced and renamed, so a reader never sees a half-written instance.
import { failpoint } from '../core/failpoints.js';
import { mkdir } from 'node:fs/promises';
import { fsyncDir, writeFileDurable } from '../core/durable-fs.js';
import { join } from 'node:path';
import type { DerivedSeries, Method, OutputSlice, SpacingTarget, Stack } from '../core/types.js';
import type { NaturalDataset } from '../dicom/dcmjs.js';
import { newUid, uidFromKey, writePart10, SopClass } from '../dicom/dcmjs.js';
import { planSpacing, stepsPerGap } from '../interpolate/plan.js';
import { toStoredValues, type StoredPixelFormat } from '../interpolate/stored-values.js';
import { PACKAGE_VERSION } from '../interpolate/version.js';
import {
  buildDerivedDataset, derivedSeriesDescription, derivedSeriesNumber, sourcePixelModule,
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
  createdAt?: Date;
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

export function derivationText(input: Pick<WriteDerivedInput, 'stack' | 'volume' | 'plan' | 'method' | 'interpolatorDescription' | 'target'>): string {
  const d = volumeOf(input.stack, input.volume).map((s) => s.distance);
  const mean = (d[d.length - 1] - d[0]) / (d.length - 1);
  const sub = stepsPerGap(d, input.target);
  const asked = 'factor' in input.target ? `factor ${input.target.factor}` : `target ${fmt(input.target.spacingMm)} mm`;
  return (
    `Interslice ${PACKAGE_VERSION}: ${input.method} interpolation along the slice normal (${input.interpolatorDescription}); ` +
    `${asked}: ${sub} steps per source gap of ${fmt(mean)} mm, uniform spacing ${fmt(planSpacing(input.plan))} mm; ` +
    `source slices reproduced unchanged at their own positions; SliceThickness is the source's nominal thickness.`
  );
}

const fmt = (x: number) => String(Number(x.toFixed(4)));

export async function writeDerivedSeries(input: WriteDerivedInput): Promise<DerivedSeries> {
  const { stack, plan } = input;
  const ref = input.referenceHeader;
  const synthCount = plan.filter((p) => p.sourceIndex === undefined).length;
  if (input.synthesised.length !== synthCount) throw new Error(`expected ${synthCount} synthesised slices, got ${input.synthesised.length}`);
  const slices = volumeOf(stack, input.volume);
  if (plan.some((p) => p.sourceIndex !== undefined && p.sourceIndex >= slices.length)) throw new Error('plan refers to a source slice the stack does not have');
  const frame0 = slices[0].frame;
  const pixel = sourcePixelModule(ref, frame0);
  const spacingMm = planSpacing(plan);
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
  const seriesDescription = derivedSeriesDescription(ref, spacingMm, input.method);
  const derivationDescription = derivationText(input);
  const createdAt = input.createdAt ?? new Date();
  const descending = sourceRunsDescending(stack, input.volume);
  await mkdir(input.outDir, { recursive: true });

  const files: string[] = [];
  let synthIndex = 0;
  for (let k = 0; k < plan.length; k++) {
    const out = plan[k];
    let pixels: ArrayBufferView;
    let sources: SourceImageRef[];
    if (out.sourceIndex !== undefined) {
      pixels = await sourcePixels(input, slices[out.sourceIndex], out.sourceIndex, pixel);
      sources = [refs[out.sourceIndex]];
    } else {
      pixels = toStoredValues(input.synthesised[synthIndex++], pixel);
      // Linear uses the two neighbours; a natural spline (and the model) depends on all of them.
      sources = input.method === 'linear' && out.between ? [refs[out.between.lower], refs[out.between.upper]] : refs;
    }
    const instanceNumber = descending ? plan.length - k : k + 1;
    const sopInstanceUid = key ? uidFromKey(`${key}/instance/${instanceNumber}`) : newUid();
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
      spacingMm,
      derivationDescription,
      softwareVersion: input.method === 'model' ? [PACKAGE_VERSION, input.interpolatorDescription.slice(0, 64)] : PACKAGE_VERSION,
      pixel,
      pixelData: toArrayBuffer(pixels),
      createdAt,
    });
    const bytes = writePart10(dataset, { sopClassUid: SopClass.MRImageStorage, sopInstanceUid });
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
 * A source slice's stored pixels. Bit-exact when its rescale matches the series' (the usual
 * case); a frame with its own rescale is re-expressed in the series' rescale (rounded).
 */
async function sourcePixels(input: WriteDerivedInput, slice: SliceRef, index: number, pixel: PixelModule): Promise<ArrayBufferView> {
  const raw = await input.loadRawSlice(index);
  const expected = (pixel.rows * pixel.columns * pixel.bitsAllocated) / 8;
  if (raw.byteLength < expected) throw new Error(`source slice ${index} has ${raw.byteLength} pixel bytes, expected ${expected}`);
  const view = new Uint8Array(raw.buffer, raw.byteOffset, expected);
  const fr = slice.instance.frames[slice.frame];
  const slope = fr?.rescaleSlope ?? slice.instance.rescaleSlope;
  const intercept = fr?.rescaleIntercept ?? slice.instance.rescaleIntercept;
  if (slope === pixel.rescaleSlope && intercept === pixel.rescaleIntercept) return view;
  const stored = decodeStored(view, pixel);
  const values = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) values[i] = stored[i] * slope + intercept;
  return toStoredValues(values, pixel as StoredPixelFormat);
}

/** Stored values: the BitsStored bits, sign-extended when signed (stray high bits ignored). */
function decodeStored(bytes: Uint8Array, p: PixelModule): Int32Array {
  const copy = bytes.slice(); // own, aligned buffer
  const words = p.bitsAllocated === 16 ? new Uint16Array(copy.buffer) : copy;
  const mask = 2 ** p.bitsStored - 1;
  const sign = 2 ** (p.bitsStored - 1);
  const out = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & mask;
    out[i] = p.pixelRepresentation === 1 && m >= sign ? m - 2 * sign : m;
  }
  return out;
}

function toArrayBuffer(v: ArrayBufferView): ArrayBuffer {
  return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer;
}

