// Assemble: instances -> stacks. Group by study and series, then split a series into
// geometrically consistent stacks by SOP class, FrameOfReferenceUID, Enhanced StackID,
// orientation (within a tolerance), Rows/Columns, PixelSpacing, echo and ImageType. Positions that repeat inside a
// split make a multi-volume stack (volumes > 1), never separate stacks. Each stack is sorted
// along its normal n = row x column (ascending distance) and its spacing measured.
import { createHash } from 'node:crypto';
import type {
  AssembleResult,
  InstanceMeta,
  Orientation,
  SliceRef,
  Stack,
  StackFlags,
  Vec3,
} from '../core/types.js';
import { SopClass } from '../dicom/dcmjs.js';
import { angleBetweenNormalsDeg, distanceAlong, nearestPlane, normalFromOrientation, sameOrientation, sub } from './geometry.js';
import { isLocalizerStack, isNonParallelScout } from './localizer.js';
import { spacingIssues, spacingReport } from './spacing.js';
import { splitVolumes } from './volumes.js';

export interface AssembleOptions {
  /** Largest difference of any direction cosine for slices to share a stack (OHIF uses 0.01). */
  orientationTolerance?: number;
}

/** Slice positions this far (degrees) off the normal mean a sheared stack (gantry tilt). */
export const SHEAR_WARN_DEG = 1;

const GEOMETRIC_SOP_CLASSES = new Set<string>([SopClass.MRImageStorage, SopClass.EnhancedMRImageStorage]);

const SOP_CLASS_NAMES: Record<string, string> = {
  [SopClass.MRImageStorage]: 'MR Image Storage',
  [SopClass.EnhancedMRImageStorage]: 'Enhanced MR Image Storage',
  [SopClass.SecondaryCaptureImageStorage]: 'Secondary Capture Image Storage',
};

export function sopClassName(uid: string): string {
  return SOP_CLASS_NAMES[uid] ?? `SOP class ${uid}`;
}

/** One frame that can be placed in space. */
interface Frame {
  instance: InstanceMeta;
  frame: number;
  position: Vec3;
  orientation: Orientation;
  pixelSpacing: [number, number];
  /** EchoNumbers; for Enhanced MR, which has none per frame, the split uses `te`. */
  echo?: number;
  te?: number;
  temporal?: number;
  stackId?: string;
  imageType: string[];
  distance: number;
}

function stableId(parts: string[]): string {
  return 'stk-' + createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20);
}

/** Deterministic order (InstanceNumber, then UID) so the first member of every group, and so
 * each stack's key, does not depend on the order instances arrived in. */
function byInstance(a: InstanceMeta, b: InstanceMeta): number {
  const d = (a.instanceNumber ?? Number.MAX_SAFE_INTEGER) - (b.instanceNumber ?? Number.MAX_SAFE_INTEGER);
  if (d !== 0) return d;
  return a.sopInstanceUid < b.sopInstanceUid ? -1 : a.sopInstanceUid > b.sopInstanceUid ? 1 : 0;
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

const r3 = (x: number): string => (Math.round(x * 1000) / 1000).toFixed(3);

/** Frames of one instance, or the reason it cannot be placed. */
function framesOf(inst: InstanceMeta): Frame[] | string {
  const out: Frame[] = [];
  for (const g of inst.frames) {
    const missing = !g.position
      ? 'ImagePositionPatient'
      : !g.orientation
        ? 'ImageOrientationPatient'
        : !g.pixelSpacing
          ? 'PixelSpacing'
          : undefined;
    if (missing) {
      const where = inst.numberOfFrames > 1 ? `frame ${g.frame + 1} has` : 'has';
      return `${sopClassName(inst.sopClassUid)} instance ${where} no ${missing}: it cannot be placed along a slice normal`;
    }
    out.push({
      instance: inst,
      frame: g.frame,
      position: g.position!,
      orientation: g.orientation!,
      pixelSpacing: g.pixelSpacing!,
      echo: g.echoNumber ?? inst.echoNumbers,
      te: g.effectiveEchoTime,
      temporal: g.temporalPosition ?? inst.temporalPositionIdentifier,
      stackId: g.stackId,
      imageType: g.frameType ?? inst.imageType,
      distance: 0,
    });
  }
  return out;
}

/** Groups frames by orientation: each frame joins the first group whose (first) orientation it
 * matches within the tolerance. */
function orientationGroups(frames: Frame[], tol: number): Frame[][] {
  const groups: Frame[][] = [];
  for (const f of frames) {
    const g = groups.find((gr) => sameOrientation(gr[0].orientation, f.orientation, tol));
    if (g) g.push(f);
    else groups.push([f]);
  }
  return groups;
}

function distinctPositions(frames: Frame[]): number {
  return new Set(frames.map((f) => f.position.map(r3).join(','))).size;
}

function label(inst: InstanceMeta, f: Frame | undefined, normal: Vec3 | undefined, extra: string[] = []): string {
  const parts = [`${inst.modality ?? 'MR'} series ${inst.seriesNumber ?? '?'}`];
  if (f?.echo !== undefined) parts.push(`echo ${f.echo}`);
  const kind = f?.imageType[2] ?? inst.imageType[2];
  if (kind) parts.push(kind);
  if (normal) {
    const { plane, tiltDeg } = nearestPlane(normal);
    parts.push(tiltDeg >= 5 ? `${plane} obl` : plane);
  }
  return [...parts, ...extra].join(' ');
}

function flagsOf(instances: InstanceMeta[], over: Partial<StackFlags> = {}): StackFlags {
  return {
    localizer: false,
    mosaic: instances.some((i) => i.mosaic),
    derivedByUs: instances.some((i) => i.derivedByUs),
    timeSeries: false,
    notImage: false,
    enhanced: instances.some((i) => i.sopClassUid === SopClass.EnhancedMRImageStorage),
    ...over,
  };
}

function uniqueInstances(frames: { instance: InstanceMeta }[]): InstanceMeta[] {
  return [...new Set(frames.map((f) => f.instance))];
}

/** A stack of objects with no slice geometry (e.g. Secondary Capture): kept so the select stage
 * can state why it is ignored. Its geometry fields are zero. */
function notImageStack(instances: InstanceMeta[]): Stack {
  const first = instances[0];
  const slices: SliceRef[] = instances.map((instance) => ({ instance, frame: 0, position: [0, 0, 0], distance: 0 }));
  return {
    id: stableId([first.studyInstanceUid, first.seriesInstanceUid, 'not-image', first.sopClassUid]),
    studyInstanceUid: first.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    label: `${first.modality ?? '?'} series ${first.seriesNumber ?? '?'} ${sopClassName(first.sopClassUid)}`,
    modality: first.modality,
    orientation: [0, 0, 0, 0, 0, 0],
    normal: [0, 0, 0],
    rows: first.rows,
    columns: first.columns,
    pixelSpacing: [0, 0],
    slices,
    spacing: { mean: 0, min: 0, max: 0, irregular: false, gaps: [] },
    volumes: 1,
    flags: flagsOf(instances, { notImage: true }),
    issues: [`${instances.length} ${sopClassName(first.sopClassUid)} object(s) with no slice geometry`],
  };
}

function buildStack(frames: Frame[], key: string[], nonParallel: boolean): Stack {
  const first = frames[0];
  const inst = first.instance;
  const normal = normalFromOrientation(first.orientation);
  for (const f of frames) f.distance = distanceAlong(f.position, normal);
  const issues: string[] = [];
  let volumes: Frame[][];
  let timeSeries = false;
  if (nonParallel) {
    // A multi-plane scout: one non-geometric stack in distance order, never split into volumes.
    volumes = [[...frames].sort((a, b) => a.distance - b.distance)];
    const maxTilt = Math.max(...frames.map((f) => angleBetweenNormalsDeg(normal, normalFromOrientation(f.orientation))));
    issues.push(`slices are not parallel (normals up to ${maxTilt.toFixed(1)} deg apart): not a volume`);
  } else {
    const split = splitVolumes(frames);
    volumes = split.volumes;
    timeSeries = split.timeSeries;
    issues.push(...split.issues);
  }
  const v0 = volumes[0];
  const distances = v0.map((f) => f.distance);
  const spacing = spacingReport(distances);
  if (!nonParallel) issues.push(...spacingIssues(spacing, distances));
  if (!nonParallel && v0.length >= 2) {
    const run = sub(v0[v0.length - 1].position, v0[0].position);
    const shear = angleBetweenNormalsDeg(run, normal);
    if (shear > SHEAR_WARN_DEG) {
      issues.push(`slice positions run ${shear.toFixed(1)} deg off the slice normal (gantry tilt or sheared stack)`);
    }
  }
  const instances = uniqueInstances(frames);
  const localizer = isLocalizerStack({ instances, nonParallel, slicesPerVolume: v0.length, meanSpacing: spacing.mean });
  const slices: SliceRef[] = volumes.flat().map((f) => ({
    instance: f.instance,
    frame: f.frame,
    position: f.position,
    distance: f.distance,
  }));
  return {
    id: stableId(key),
    studyInstanceUid: inst.studyInstanceUid,
    seriesInstanceUid: inst.seriesInstanceUid,
    label: label(inst, first, normal, localizer ? ['localizer'] : []),
    modality: inst.modality,
    orientation: first.orientation,
    normal,
    rows: inst.rows,
    columns: inst.columns,
    pixelSpacing: first.pixelSpacing,
    slices,
    spacing,
    volumes: volumes.length,
    flags: flagsOf(instances, { localizer, timeSeries }),
    issues,
  };
}

/** Assembles one series' instances into stacks. */
function assembleSeries(instances: InstanceMeta[], tol: number, out: AssembleResult): void {
  for (const [, group] of groupBy(
    instances.filter((i) => !GEOMETRIC_SOP_CLASSES.has(i.sopClassUid)),
    (i) => i.sopClassUid,
  )) {
    out.stacks.push(notImageStack(group));
  }
  const frames: Frame[] = [];
  for (const inst of instances) {
    if (!GEOMETRIC_SOP_CLASSES.has(inst.sopClassUid)) continue;
    const f = framesOf(inst);
    if (typeof f === 'string') out.unplaced.push({ instance: inst, reason: f });
    else frames.push(...f);
  }
  if (frames.length === 0) return;
  const first = frames[0].instance;
  const series = [first.studyInstanceUid, first.seriesInstanceUid];
  const groups = orientationGroups(frames, tol);
  if (isNonParallelScout(groups.map(distinctPositions))) {
    out.stacks.push(buildStack(frames, [...series, 'non-parallel'], true));
    return;
  }
  for (const g of groups) {
    const o = g[0].orientation.map((x) => x.toFixed(2)).join(',');
    const splits = groupBy(g, (f) =>
      [
        f.instance.sopClassUid,
        f.instance.frameOfReferenceUid ?? '', // positions in different frames of reference do not mix
        f.stackId ?? '',
        o,
        `${f.instance.rows}x${f.instance.columns}`,
        f.pixelSpacing.map(r3).join('x'),
        `echo=${f.echo ?? ''}`,
        `te=${f.te ?? ''}`,
        f.imageType.join('\\'),
      ].join('|'),
    );
    for (const [key, members] of splits) out.stacks.push(buildStack(members, [...series, key], false));
  }
}

/** Groups instances into stacks (pure). A SOPInstanceUID seen twice counts once (first kept). */
export function assembleStacks(instances: InstanceMeta[], opts: AssembleOptions = {}): AssembleResult {
  const tol = opts.orientationTolerance ?? 0.01;
  const seen = new Set<string>();
  const unique = [...instances].sort(byInstance).filter((i) => {
    if (seen.has(i.sopInstanceUid)) return false;
    seen.add(i.sopInstanceUid);
    return true;
  });
  const out: AssembleResult = { stacks: [], unplaced: [] };
  const series = groupBy(unique, (i) => `${i.studyInstanceUid}|${i.seriesInstanceUid}`);
  for (const [, members] of series) assembleSeries(members, tol, out);
  out.stacks.sort(
    (a, b) =>
      (a.slices[0]?.instance.seriesNumber ?? 0) - (b.slices[0]?.instance.seriesNumber ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return out;
}
