// One selected stack through interpolate and derive: load the rescaled volume, plan the output
// positions, synthesise, write the DERIVED series. UIDs are keyed on the content (content-key.ts)
// and the SeriesNumber, and the creation time of a content is kept in the study's registry, so
// the same input gives byte-identical instances under the same UIDs, and any change gives a new
// series (new UIDs, new SeriesNumber) that supersedes the earlier one.
import { createReadStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DerivedSeries, Interpolator, SpacingTarget, Stack, VolumeF32 } from '../core/types.js';
import { readPart10 } from '../dicom/dcmjs.js';
import { loadRawSlice, loadStackVolume } from '../assemble/pixels.js';
import { sliceRescale } from '../core/rescale.js';
import { planOutputSlices } from '../core/plan.js';
import { PACKAGE_VERSION } from '../core/version.js';
import { writeDerivedSeries } from '../derive/write-series.js';
import { stageMetrics } from '../core/metrics.js';
import { fault } from '../core/failpoints.js';
import { InferenceError } from '../core/job-errors.js';
import { contentKey, uidKey, uidUnder, type ContentSource } from './content-key.js';
import { liveRecordOf, supersede, usedSeriesNumbers, type DerivedRecord, type StudyRecord } from './derived-registry.js';
import { pickSeriesNumber } from './series-number.js';

/** The interpolator one stack is synthesised with, and what to do when the stack is done. */
export interface SeriesInterpolator {
  interpolator: Interpolator;
  release(): Promise<void>;
}

/**
 * The interpolator for one stack (stack-interpolator.ts: the model chosen by slice thickness,
 * adapted per series by pipeline.adapt), given the stack, its content and its volume (loaded
 * once, on demand). Called before the content key is computed, since the model is part of the
 * content.
 */
export type ForStack = (stack: Stack, sources: ContentSource[], volume: () => Promise<VolumeF32>) => Promise<SeriesInterpolator>;

export interface DeriveStackOptions {
  target: SpacingTarget;
  interpolator: Interpolator;
  /** Derived series live in <derivedRoot>/<derivedFolder(series UID)>. */
  derivedRoot: string;
  /** The study's registry record: read and updated here, persisted through `saveStudy`. */
  study: StudyRecord;
  saveStudy: () => Promise<void>;
  /** SeriesNumbers in use beyond the registry's (other series in the spool, this series'). */
  usedSeriesNumbers?: Iterable<number>;
  /** dicom.uidRoot; null = 2.25. */
  uidRoot?: string | null;
  /** Why an earlier series of this stack is superseded when this one differs. */
  supersedeReason?: string;
  /** The interpolator per stack; absent: `interpolator` for every stack. */
  forStack?: ForStack;
  now?: () => number;
}

export interface StackDerivation {
  derived: DerivedSeries;
  /** Derived series UIDs this one superseded. */
  superseded: string[];
  /** The same content was already written: nothing was interpolated. */
  reused: boolean;
  seriesNumber: number;
}

/** The folder of one derived series (short, free of patient data). */
export function derivedFolder(seriesInstanceUid: string): string {
  return createHash('sha256').update(seriesInstanceUid).digest('hex').slice(0, 16);
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** What the stack's content depends on, from its stored instances (each file read once). */
export async function stackSources(stack: Stack): Promise<ContentSource[]> {
  const digests = new Map<string, Promise<string>>();
  const digest = (p: string) => {
    if (!digests.has(p)) digests.set(p, sha256File(p));
    return digests.get(p)!;
  };
  return Promise.all(
    stack.slices.map(async (s) => ({
      sopInstanceUid: s.instance.sopInstanceUid,
      frame: s.frame,
      ...sliceRescale(s),
      instanceSha256: await digest(s.instance.path),
    })),
  );
}

export function interpolatorContentId(i: Interpolator): string {
  return i.contentId ?? `${i.method} ${i.description}`;
}

/** The files of a complete earlier write of this series, or undefined. */
async function existingFiles(dir: string, rec: DerivedRecord): Promise<string[] | undefined> {
  if (!rec.complete || rec.sliceCount === undefined) return undefined;
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^\d{4,}\.dcm$/.test(n)).sort();
  return names.length === rec.sliceCount ? names.map((n) => join(dir, n)) : undefined;
}

export async function deriveStack(stack: Stack, opts: DeriveStackOptions): Promise<StackDerivation> {
  const sources = await stackSources(stack);
  let loaded: Promise<VolumeF32> | undefined;
  const volume = () => (loaded ??= loadStackVolume(stack));
  const series = opts.forStack ? await opts.forStack(stack, sources, volume) : undefined;
  try {
    return await deriveWith(stack, sources, volume, series?.interpolator ?? opts.interpolator, opts);
  } finally {
    await series?.release();
  }
}

async function deriveWith(
  stack: Stack,
  sources: ContentSource[],
  volume: () => Promise<VolumeF32>,
  interpolator: Interpolator,
  opts: DeriveStackOptions,
): Promise<StackDerivation> {
  const now = opts.now ?? Date.now;
  const study = opts.study;
  const key = contentKey({
    stackId: stack.id,
    sources,
    method: interpolator.method,
    interpolator: interpolatorContentId(interpolator),
    target: opts.target,
    softwareVersion: PACKAGE_VERSION,
  });
  const acquired = new Set<number>([...Object.values(study.received).filter((n): n is number => n !== null), ...(opts.usedSeriesNumbers ?? [])]);
  let rec = liveRecordOf(study, key);
  let reason = opts.supersedeReason ?? 'new content';
  if (rec && acquired.has(rec.seriesNumber)) {
    // An acquired series arrived later with our number: the content goes out again under a free one.
    reason = `series number ${rec.seriesNumber} is used by an acquired series`;
    rec = undefined;
  }
  if (!rec) {
    const seriesNumber = pickSeriesNumber(stack.slices[0]?.instance.seriesNumber, usedSeriesNumbers(study, acquired));
    rec = {
      contentKey: key,
      stackId: stack.id,
      sourceSeriesInstanceUid: stack.seriesInstanceUid,
      seriesInstanceUid: uidUnder(opts.uidRoot, `${uidKey(key, seriesNumber)}/series`),
      seriesNumber,
      createdAt: now(),
    };
    study.derived.push(rec);
    // Recorded before any file is written: a re-run after a crash reuses this creation time.
    await opts.saveStudy();
  }
  const outDir = join(opts.derivedRoot, derivedFolder(rec.seriesInstanceUid));
  const existing = await existingFiles(outDir, rec);
  let derived: DerivedSeries;
  if (existing) {
    derived = {
      sourceStackId: stack.id,
      studyInstanceUid: stack.studyInstanceUid,
      seriesInstanceUid: rec.seriesInstanceUid,
      sourceSeriesInstanceUid: stack.seriesInstanceUid,
      files: existing,
      sliceCount: existing.length,
      spacingMm: rec.spacingMm ?? 0,
    };
  } else {
    await rm(outDir, { recursive: true, force: true });
    const vol = await volume();
    const plan = planOutputSlices(vol.distances, opts.target);
    const started = process.hrtime.bigint();
    let synthesised: Float32Array[];
    try {
      fault('inference-error');
      synthesised = await interpolator.interpolate(vol, plan);
    } catch (e) {
      // Errors of the machine (memory, files) keep their code; the rest are the runtime's.
      if ((e as { code?: unknown }).code !== undefined || e instanceof RangeError) throw e;
      throw new InferenceError(`interpolation failed: ${(e as Error).message}`, { cause: e });
    }
    stageMetrics().inferenceSeconds(interpolator.method, Number(process.hrtime.bigint() - started) / 1e9);
    const referenceHeader = (await readPart10(stack.slices[0].instance.path, { headerOnly: true })).dataset;
    fault('derive-disk-full');
    const uids = uidKey(key, rec.seriesNumber);
    derived = await writeDerivedSeries({
      stack,
      referenceHeader,
      plan,
      synthesised,
      loadRawSlice: (i) => loadRawSlice(stack.slices[i]),
      outDir,
      seriesNumber: rec.seriesNumber,
      method: interpolator.method,
      interpolatorDescription: interpolator.description,
      adaptation: interpolator.adaptation,
      target: opts.target,
      seriesInstanceUid: rec.seriesInstanceUid,
      uidFor: (suffix) => uidUnder(opts.uidRoot, `${uids}/${suffix}`),
      createdAt: new Date(rec.createdAt),
    });
    stageMetrics().slicesSynthesised(synthesised.length);
    rec.complete = true;
    rec.sliceCount = derived.sliceCount;
    rec.spacingMm = derived.spacingMm;
  }
  const superseded = supersede(study, rec, reason, now());
  await opts.saveStudy();
  return { derived, superseded, reused: !!existing, seriesNumber: rec.seriesNumber };
}
