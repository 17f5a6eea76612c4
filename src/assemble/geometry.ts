// Small pure vector functions for slice geometry (patient coordinates, mm). Everything the
// assemble, interpolate and derive stages need to place slices: the normal n = row x column,
// a slice's distance along n, and the positions of new slices IPP_0 + d * n.
import type { Orientation, Vec3 } from '../core/types.js';

export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function norm(a: Vec3): number {
  return Math.sqrt(dot(a, a));
}

/** Unit vector in the direction of `a`; throws on a zero vector (no direction to keep). */
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  if (!(n > 1e-12)) throw new Error('cannot normalize a zero-length vector');
  return scale(a, 1 / n);
}

export function rowCosine(o: Orientation): Vec3 {
  return [o[0], o[1], o[2]];
}

export function columnCosine(o: Orientation): Vec3 {
  return [o[3], o[4], o[5]];
}

/** Slice normal n = row cosine x column cosine (PS3.3 C.7.6.2.1.1), unit length. */
export function normalFromOrientation(o: Orientation): Vec3 {
  return normalize(cross(rowCosine(o), columnCosine(o)));
}

/** Signed distance of a position along a unit normal (mm). */
export function distanceAlong(position: Vec3, normal: Vec3): number {
  return dot(position, normal);
}

/** Two orientations agree when every one of the six cosines differs by at most `tolerance`
 * (OHIF's MPR check uses 0.01). */
export function sameOrientation(a: Orientation, b: Orientation, tolerance = 0.01): boolean {
  for (let i = 0; i < 6; i++) if (Math.abs(a[i] - b[i]) > tolerance) return false;
  return true;
}

/** Angle between two vectors in degrees (0..180). */
export function angleDeg(a: Vec3, b: Vec3): number {
  const c = dot(a, b) / (norm(a) * norm(b));
  return (Math.acos(Math.max(-1, Math.min(1, c))) * 180) / Math.PI;
}

/** Angle between two slice normals in degrees, ignoring direction (0..90): parallel planes
 * give 0 whichever way their normals point. */
export function angleBetweenNormalsDeg(a: Vec3, b: Vec3): number {
  const d = angleDeg(a, b);
  return d > 90 ? 180 - d : d;
}

/** Position of a slice at distance `d` (mm) from `origin` along the unit `normal`. */
export function positionAt(origin: Vec3, normal: Vec3, d: number): Vec3 {
  return add(origin, scale(normal, d));
}

/** Positions of new slices: IPP_0 + d_k * n for each offset d_k (mm) from the first slice. */
export function positionsAlong(origin: Vec3, normal: Vec3, offsets: number[]): Vec3[] {
  return offsets.map((d) => positionAt(origin, normal, d));
}

export type PlaneName = 'ax' | 'cor' | 'sag';

/** Nearest anatomical plane of a slice normal (patient LPS axes: x sag, y cor, z ax), with the
 * tilt from that plane's axis in degrees. */
export function nearestPlane(normal: Vec3): { plane: PlaneName; tiltDeg: number } {
  const ax = Math.abs(normal[2]);
  const cor = Math.abs(normal[1]);
  const sag = Math.abs(normal[0]);
  const axis: Vec3 = ax >= cor && ax >= sag ? [0, 0, 1] : cor >= sag ? [0, 1, 0] : [1, 0, 0];
  const plane: PlaneName = axis[2] === 1 ? 'ax' : axis[1] === 1 ? 'cor' : 'sag';
  return { plane, tiltDeg: angleBetweenNormalsDeg(normal, axis) };
}
