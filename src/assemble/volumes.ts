// Repeated positions inside one stack: a multi-volume acquisition (fMRI, ASL label/control, ...).
// When every position repeats N times the stack holds N volumes; the k-th occurrence of each
// position (in acquisition order) belongs to volume k. Some series say so only this way: the
// GE fMRI in ../shared/data/mr has one AcquisitionTime and no TemporalPositionIdentifier.
import type { InstanceMeta } from '../core/types.js';

/** Positions closer than this along the normal (mm) are the same slice position. */
export const SAME_POSITION_MM = 0.05;

export interface Placed {
  instance: InstanceMeta;
  frame: number;
  distance: number;
  temporal?: number;
}

export interface VolumeSplit<T extends Placed> {
  /** Volumes in acquisition order, each sorted by ascending distance. */
  volumes: T[][];
  /** True when volumes differ in time (temporal index, acquisition time or number, trigger). */
  timeSeries: boolean;
  issues: string[];
}

/** Acquisition order: temporal index, AcquisitionNumber, AcquisitionTime, InstanceNumber, frame. */
export function acquisitionOrder(a: Placed, b: Placed): number {
  const keys = (p: Placed): (number | string)[] => [
    p.temporal ?? 0,
    p.instance.acquisitionNumber ?? 0,
    p.instance.acquisitionTime ?? '',
    p.instance.instanceNumber ?? 0,
    p.frame,
  ];
  const ka = keys(a);
  const kb = keys(b);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] < kb[i]) return -1;
    if (ka[i] > kb[i]) return 1;
  }
  return a.instance.sopInstanceUid < b.instance.sopInstanceUid ? -1 : a.instance.sopInstanceUid > b.instance.sopInstanceUid ? 1 : 0;
}

function distinct<T>(values: (T | undefined)[]): number {
  return new Set(values.filter((v) => v !== undefined)).size;
}

export function splitVolumes<T extends Placed>(slices: T[]): VolumeSplit<T> {
  const sorted = [...slices].sort((a, b) => a.distance - b.distance || acquisitionOrder(a, b));
  const positions: T[][] = [];
  for (const s of sorted) {
    const last = positions[positions.length - 1];
    if (last && Math.abs(s.distance - last[0].distance) <= SAME_POSITION_MM) last.push(s);
    else positions.push([s]);
  }
  const counts = positions.map((p) => p.length);
  const n = Math.max(0, ...counts);
  const issues: string[] = [];
  if (n > 1 && counts.some((c) => c !== n)) {
    issues.push(
      `positions repeat unevenly (${Math.min(...counts)} to ${n} times over ${positions.length} positions): incomplete or mixed volumes`,
    );
  }
  const volumes: T[][] = Array.from({ length: n }, () => []);
  for (const p of positions) {
    p.sort(acquisitionOrder);
    p.forEach((s, k) => volumes[k].push(s));
  }
  const inst = slices.map((s) => s.instance);
  const timeSeries =
    n > 1 &&
    (distinct(slices.map((s) => s.temporal)) > 1 ||
      inst.some((i) => (i.numberOfTemporalPositions ?? 1) > 1) ||
      distinct(inst.map((i) => i.acquisitionTime)) > 1 ||
      distinct(inst.map((i) => i.acquisitionNumber)) > 1 ||
      distinct(inst.map((i) => i.triggerTime)) > 1);
  return { volumes, timeSeries, issues };
}
