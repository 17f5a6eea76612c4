// Geometry: expected values are worked out by hand (simple cases) or taken from the DICOM
// headers with dcmdump and computed with numpy (the 36 degree oblique Canon series), never from
// running the code under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Orientation, Vec3 } from '../../src/core/types.js';
import {
  angleBetweenNormalsDeg,
  angleDeg,
  columnCosine,
  cross,
  distanceAlong,
  dot,
  nearestPlane,
  normalFromOrientation,
  normalize,
  positionsAlong,
  rowCosine,
  sameOrientation,
} from '../../src/assemble/geometry.js';

const close = (a: number, b: number, tol = 1e-6, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} not within ${tol} of ${b}`);
const closeVec = (a: Vec3, b: Vec3, tol = 1e-6) => a.forEach((x, i) => close(x, b[i], tol, `[${i}]`));

test('cross and dot of the axes', () => {
  assert.deepEqual(cross([1, 0, 0], [0, 1, 0]), [0, 0, 1]);
  assert.deepEqual(cross([0, 1, 0], [1, 0, 0]), [0, 0, -1]);
  // (1,2,3) x (4,5,6) = (2*6-3*5, 3*4-1*6, 1*5-2*4) = (-3, 6, -3)
  assert.deepEqual(cross([1, 2, 3], [4, 5, 6]), [-3, 6, -3]);
  assert.equal(dot([1, 2, 3], [4, 5, 6]), 32);
});

test('normalize gives unit length and refuses a zero vector', () => {
  closeVec(normalize([3, 0, 4]), [0.6, 0, 0.8]);
  assert.throws(() => normalize([0, 0, 0]), /zero-length/);
});

test('normal of axial, coronal and sagittal orientations (n = row x column)', () => {
  assert.deepEqual(normalFromOrientation([1, 0, 0, 0, 1, 0]), [0, 0, 1]);
  // coronal: row +x, column -z: (1,0,0) x (0,0,-1) = (0*-1-0*0, 0*0-1*-1, 0) = (0, 1, 0)
  closeVec(normalFromOrientation([1, 0, 0, 0, 0, -1]), [0, 1, 0]);
  // Siemens sagittal T1 in ../shared (IOP 0\1\0\0\0\-1): (0,1,0) x (0,0,-1) = (-1, 0, 0)
  closeVec(normalFromOrientation([0, 1, 0, 0, 0, -1]), [-1, 0, 0]);
});

test('a plane tilted 36 degrees about x has its normal 36 degrees from z', () => {
  const a = (36 * Math.PI) / 180;
  const o: Orientation = [1, 0, 0, 0, Math.cos(a), Math.sin(a)];
  // (1,0,0) x (0,c,s) = (0, -s, c)
  closeVec(normalFromOrientation(o), [0, -Math.sin(a), Math.cos(a)]);
  close(angleBetweenNormalsDeg(normalFromOrientation(o), [0, 0, 1]), 36, 1e-9);
  assert.deepEqual(nearestPlane(normalFromOrientation(o)).plane, 'ax');
});

test('distance along the normal and new slice positions IPP_0 + d*n', () => {
  assert.equal(distanceAlong([10, 20, 30], [0, 0, 1]), 30);
  assert.deepEqual(positionsAlong([1, 2, 3], [0, 0, 1], [0, 0.5, 1.5]), [
    [1, 2, 3],
    [1, 2, 3.5],
    [1, 2, 4.5],
  ]);
  const n = normalize([1, 1, 0]);
  const [p] = positionsAlong([0, 0, 0], n, [Math.SQRT2]);
  closeVec(p, [1, 1, 0], 1e-12);
});

test('orientation equality uses a per-cosine tolerance', () => {
  const a: Orientation = [1, 0, 0, 0, 1, 0];
  assert.equal(sameOrientation(a, [0.991, 0, 0, 0, 1, 0.009], 0.01), true);
  assert.equal(sameOrientation(a, [1, 0, 0, 0, 1, 0.011], 0.01), false);
});

test('angles: between normals ignores direction', () => {
  close(angleDeg([1, 0, 0], [0, 1, 0]), 90, 1e-12);
  close(angleDeg([1, 0, 0], [-1, 0, 0]), 180, 1e-12);
  close(angleBetweenNormalsDeg([1, 0, 0], [-1, 0, 0]), 0, 1e-12);
  close(angleBetweenNormalsDeg([0, 0, 1], normalize([0, 1, 1])), 45, 1e-9);
});

test('nearest plane names', () => {
  assert.deepEqual(nearestPlane([0, 0, -1]), { plane: 'ax', tiltDeg: 0 });
  assert.equal(nearestPlane([0, 1, 0]).plane, 'cor');
  assert.equal(nearestPlane([-1, 0, 0]).plane, 'sag');
});

// canon-axial-oblique-36deg: values read with `dcmdump +L` (files 8000_001, _002, _003, _040).
const CANON_IOP: Orientation = [0.88721985, 0.29733557, -0.35274997, -0.10480398, 0.87451583, 0.47353792];
const CANON_IPP: Vec3[] = [
  [-116.61820221, -133.9434967, -42.37743759],
  [-115.2703476, -135.09298706, -39.95628738],
  [-113.92249298, -136.24246216, -37.53513718],
  [-64.05184937, -178.77345276, 52.04741669],
];

test('Canon 36 degree oblique: normal is a unit vector perpendicular to both cosines', () => {
  const n = normalFromOrientation(CANON_IOP);
  close(Math.hypot(...n), 1, 1e-12, 'length');
  close(dot(n, rowCosine(CANON_IOP)), 0, 1e-6, 'n.row');
  close(dot(n, columnCosine(CANON_IOP)), 0, 1e-6, 'n.col');
  // numpy: cross(row, col) / |.| = [0.449285, -0.383163, 0.80705]
  closeVec(n, [0.449285, -0.383163, 0.80705], 2e-6);
  // arccos(0.80705) = 36.19 degrees from the z (axial) axis
  close(angleBetweenNormalsDeg(n, [0, 0, 1]), 36.19, 0.01, 'tilt');
  assert.deepEqual(nearestPlane(n).plane, 'ax');
});

test('Canon 36 degree oblique: distances increase by 3 mm along the normal', () => {
  const n = normalFromOrientation(CANON_IOP);
  const d = CANON_IPP.map((p) => distanceAlong(p, n));
  close(d[1] - d[0], 3, 1e-4, 'step 1');
  close(d[2] - d[1], 3, 1e-4, 'step 2');
  close(d[3] - d[0], 39 * 3, 1e-3, 'slice 40 - slice 1'); // numpy: 81.7266 - (-35.2734)
  close(d[0], -35.2734, 1e-3, 'first distance');
  // Positions of two new slices at 1 mm and 2 mm past slice 1 lie one third / two thirds of
  // the way to slice 2.
  const [p1, p2] = positionsAlong(CANON_IPP[0], n, [1, 2]);
  const third = (i: number, k: number) => CANON_IPP[0][i] + ((CANON_IPP[1][i] - CANON_IPP[0][i]) * k) / 3;
  closeVec(p1, [third(0, 1), third(1, 1), third(2, 1)], 1e-4);
  closeVec(p2, [third(0, 2), third(1, 2), third(2, 2)], 1e-4);
});
